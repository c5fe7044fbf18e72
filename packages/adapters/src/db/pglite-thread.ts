import { Worker } from 'node:worker_threads';

/**
 * How PGlite is started, on this thread or its own: its default start-up parameters, plus
 * `wal_init_zero = off`. PGlite writes about 4 MB of WAL a second under 10,000 trading sessions, so a
 * new 16 MB WAL segment is created every few seconds; zero-filling it held the statement that crossed
 * into it (and the engine's thread) for 40-120 ms. Without the zero fill PostgreSQL writes the
 * segment's last byte only. The cost: on a full disk a WAL write fails when it happens rather than when
 * the segment is created. PGlite already runs without fsync (`-F`), so this weakens nothing against a
 * killed process, whose writes the operating system still holds.
 */
export const pgliteStartParams = (defaults: readonly string[]): string[] => [...defaults, '-c', 'wal_init_zero=off'];

/** What the PGlite dialect needs of a database: PGlite itself, or PGliteThread. */
export interface PGliteLike {
  readonly waitReady: Promise<void>;
  /** `blob`: the data of a `COPY ... FROM '/dev/blob'` */
  query<R>(sql: string, params?: unknown[], opts?: { blob?: Blob }): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(sql: string): Promise<{ rows: unknown[] }[]>;
  close(): Promise<void>;
}

/** A request to the database thread, and its answer. */
type Request =
  { op: 'query'; sql: string; params: unknown[]; blob?: Uint8Array } | { op: 'exec'; sql: string } | { op: 'close' };
export type PGliteRequest = Request & { id: number };
type Answer = { id: number; rows: unknown[]; affectedRows?: number; sets?: { rows: unknown[] }[] };
export type PGliteReply = Answer | { id: number; error: Record<string, unknown> & { message: string } };

/**
 * PGlite (Postgres compiled to WASM) in a worker thread of its own. PGlite executes SQL on the thread
 * that calls it; on the main thread every statement (a group commit of a thousand fills, a thousand
 * equity points) held the event loop for as long as it ran, so nothing else moved meanwhile. Here the
 * main thread only posts the statement and its parameters and keeps going: statements run beside it,
 * on another core. Statements run one at a time in the order posted (one connection, as before).
 * Errors come back with PostgreSQL's fields (`code`, `detail`, `constraint`, ...).
 */
export class PGliteThread implements PGliteLike {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: PGliteReply) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failed?: Error;
  readonly waitReady: Promise<void>;

  constructor(dataDir: string) {
    this.worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir } });
    this.waitReady = new Promise<void>((resolve, reject) => {
      this.worker.once('message', (m: { ready?: boolean; error?: { message: string } }) =>
        m.ready ? resolve() : reject(new Error(`the database thread could not open ${dataDir}: ${m.error?.message}`)),
      );
      this.worker.once('error', reject);
    }).then(() => {
      this.worker.on('message', (r: PGliteReply) => {
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        w?.resolve(r);
      });
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`the database thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the database thread exited (${code})`)));
  }

  private call(req: Request): Promise<Answer> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    return new Promise<PGliteReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    }).then((r) => {
      if ('error' in r) throw Object.assign(new Error(r.error.message), r.error);
      return r;
    });
  }

  async query<R>(
    sql: string,
    params: unknown[] = [],
    opts: { blob?: Blob } = {},
  ): Promise<{ rows: R[]; affectedRows?: number }> {
    const blob = opts.blob ? new Uint8Array(await opts.blob.arrayBuffer()) : undefined;
    const r = await this.call({ op: 'query', sql, params, ...(blob ? { blob } : {}) });
    return { rows: r.rows as R[], affectedRows: r.affectedRows };
  }

  async exec(sql: string): Promise<{ rows: unknown[] }[]> {
    return (await this.call({ op: 'exec', sql })).sets ?? [];
  }

  async close(): Promise<void> {
    if (!this.failed) await this.call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}
