import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './connect.ts';
import { dbContract } from '../../../../test/contracts/db.contract.ts';
import { tempDir } from '../../../../test/helpers/env.ts';

const tmp = tempDir();
dbContract(
  'pglite',
  () => openDatabase({ backend: 'pglite', dir: tmp.dir }),
  async () => tmp.remove(),
);

// the same database in a worker thread of its own (PGLITE_THREAD=worker): rows, errors (with their
// PostgreSQL codes, which the stale-ledger check reads) and transactions come back the same
const tmpThread = tempDir();
dbContract(
  'pglite in a worker thread',
  () => openDatabase({ backend: 'pglite', dir: tmpThread.dir, thread: 'worker' }),
  async () => tmpThread.remove(),
);

describe('PGlite in a worker thread', () => {
  it('leaves the event loop free while a long statement runs', async () => {
    const dir = tempDir();
    const h = await openDatabase({ backend: 'pglite', dir: dir.dir, thread: 'worker' });
    try {
      await sql`create table bulk (id int, s text)`.execute(h.db);
      let turns = 0;
      const timer = setInterval(() => turns++, 5);
      const t0 = performance.now();
      await sql`insert into bulk select g, repeat('x', 500) from generate_series(1, 150000) g`.execute(h.db);
      const took = performance.now() - t0;
      clearInterval(timer);
      // on the main thread the loop would not turn once until the insert returned
      expect(took).toBeGreaterThan(50);
      expect(turns).toBeGreaterThanOrEqual(Math.floor(took / 5 / 4));
      const n = await sql<{ n: number }>`select count(*)::int as n from bulk`.execute(h.db);
      expect(n.rows[0]!.n).toBe(150_000);
    } finally {
      await h.close();
      dir.remove();
    }
  });
});

describe('PGlite start-up', () => {
  // zero-filling each new 16 MB WAL segment stalled a statement for 40-120 ms every few seconds under load
  it.each([
    ['this thread', undefined],
    ['a worker thread', 'worker' as const],
  ])('creates WAL segments without zero-filling them, on %s', async (_, thread) => {
    const dir = tempDir();
    const h = await openDatabase({ backend: 'pglite', dir: dir.dir, ...(thread ? { thread } : {}) });
    try {
      const r = await sql<{ v: string; f: string }>`select current_setting('wal_init_zero') as v,
          current_setting('fsync') as f`.execute(h.db);
      expect(r.rows[0]).toEqual({ v: 'off', f: 'off' }); // fsync was already off: PGlite's own default
    } finally {
      await h.close();
      dir.remove();
    }
  });
});
