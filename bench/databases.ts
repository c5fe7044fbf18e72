import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type DbHandle } from '@algotrade/adapters';
import pg from 'pg';

/**
 * Runs `measure` on PGlite in a scratch directory, labelled `pglite`, then, with BENCH_PG_URL
 * (postgres://postgres@127.0.0.1:5432/test), on PostgreSQL in a scratch schema, labelled `postgres`;
 * each is removed after.
 */
export async function onEachDatabase(name: string, measure: (label: string, h: DbHandle) => Promise<void>) {
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-bench-`));
  const lite = await openDatabase({ backend: 'pglite', dir });
  try {
    await measure('pglite', lite);
  } finally {
    await lite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.BENCH_PG_URL;
  if (!url) return;
  const schema = `${name.replace(/\W/g, '_')}_bench_${process.pid}`;
  const h = await openDatabase({ backend: 'postgres', url }, { searchPath: schema });
  try {
    await measure('postgres', h);
  } finally {
    await h.close();
    const c = new pg.Client(url);
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`);
    await c.end();
  }
}
