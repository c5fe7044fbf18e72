import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { pgliteStartParams, type PGliteReply, type PGliteRequest } from './pglite-thread.ts';

// The database thread (see PGliteThread): opens PGlite on the data directory and runs what it is sent.
const port = parentPort!;
const { dataDir } = workerData as { dataDir: string };

/** A PostgreSQL error's fields, as plain data (an Error's own fields do not survive postMessage). */
const errorFields = (e: unknown): Record<string, unknown> & { message: string } => {
  const out: Record<string, unknown> & { message: string } = { message: String((e as Error)?.message ?? e) };
  if (e && typeof e === 'object')
    for (const [k, v] of Object.entries(e)) if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  return out;
};

let db: PGlite;
try {
  db = new PGlite(dataDir, { startParams: pgliteStartParams(PGlite.defaultStartParams) });
  await db.waitReady;
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: errorFields(e) });
  throw e;
}

port.on('message', (m: PGliteRequest) => {
  // PGlite runs one statement at a time, in the order called
  const run = async (): Promise<PGliteReply> => {
    if (m.op === 'query') {
      const r = await db.query(m.sql, m.params, m.blob ? { blob: new Blob([m.blob]) } : undefined);
      return { id: m.id, rows: r.rows, affectedRows: r.affectedRows };
    }
    if (m.op === 'exec') {
      const sets = await db.exec(m.sql);
      return { id: m.id, rows: [], sets: sets.map((s) => ({ rows: s.rows })) };
    }
    await db.close();
    return { id: m.id, rows: [] };
  };
  run().then(
    (r) => port.postMessage(r),
    (e: unknown) => port.postMessage({ id: m.id, error: errorFields(e) }),
  );
});
