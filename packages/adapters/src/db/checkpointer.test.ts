import { readdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Checkpointer } from './checkpointer.ts';
import { openDatabase, type DbHandle } from './connect.ts';
import { tempDir } from '../../../../test/helpers/env.ts';

// where PostgreSQL's control file says the last checkpoint's redo starts
const redo = async (h: DbHandle) =>
  (await sql<{ r: string }>`select redo_lsn::text as r from pg_control_checkpoint()`.execute(h.db)).rows[0]!.r;
const segments = (dir: string) => readdirSync(path.join(dir, 'pg_wal')).filter((f) => /^[0-9A-F]{24}$/.test(f)).length;
// about 1.3 MB of WAL a call (rows and index entries)
const write = (h: DbHandle, n = 5000) =>
  sql`insert into bulk select g, md5(g::text) || md5((g + 1)::text) from generate_series(1, ${n}::int) g`.execute(h.db);

/** A PGlite database in a temporary directory, its own checkpointer stopped (tests drive theirs). */
async function withDatabase(fn: (h: DbHandle, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const h = await openDatabase({ backend: 'pglite', dir: dir.dir });
  try {
    await h.checkpointer!.stop();
    await fn(h, dir.dir);
  } finally {
    await h.close();
    dir.remove();
  }
}

describe('PGlite checkpoints', () => {
  it('does not checkpoint by itself: WAL piles up without the checkpointer', async () => {
    // PGlite alone, told to keep at most 32 MB of WAL: a PostgreSQL server would checkpoint long before
    const dir = tempDir();
    const { PGlite } = await import('@electric-sql/pglite');
    const lite = new PGlite(dir.dir, {
      startParams: [...PGlite.defaultStartParams, '-c', 'wal_init_zero=off', '-c', 'max_wal_size=32MB'],
    });
    try {
      await lite.exec(`create table bulk (id int, s text); create index on bulk (s)`);
      const redoLsn = async () =>
        (await lite.query<{ r: string }>(`select redo_lsn::text as r from pg_control_checkpoint()`)).rows[0]!.r;
      const before = await redoLsn();
      for (let i = 0; i < 60; i++)
        await lite.query(
          `insert into bulk select g, md5(g::text) || md5((g + 1)::text) from generate_series(1, 5000) g`,
        );
      expect(await redoLsn()).toBe(before);
      expect(segments(dir.dir)).toBeGreaterThanOrEqual(4); // ~75 MB kept
    } finally {
      await lite.close();
      dir.remove();
    }
  });

  it('checkpoints after the configured WAL volume, and the WAL on disk stays bounded', () =>
    withDatabase(async (h, dir) => {
      const taken: { walBytes: number; ms: number }[] = [];
      const c = new Checkpointer(h.db, { walMb: 16, seconds: 3600 }, { onCheckpoint: (s) => taken.push(s) });
      await sql`create table bulk (id int, s text); create index on bulk (s)`.execute(h.db);
      await c.start();
      await c.stop(); // no timer: checked by hand below
      expect(await c.check()).toBe(false); // nothing written yet
      let most = 0;
      for (let i = 0; i < 80; i++) {
        await write(h); // ~100 MB in all
        await c.check();
        most = Math.max(most, segments(dir));
      }
      expect(c.stats.count).toBeGreaterThanOrEqual(4);
      for (const t of taken) expect(t.walBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
      // each checkpoint lets PostgreSQL recycle the segments before it: far fewer than the ~7 written
      expect(most).toBeLessThanOrEqual(5);
      const n = await sql<{ n: number }>`select count(*)::int as n from bulk`.execute(h.db);
      expect(n.rows[0]!.n).toBe(400_000);
    }));

  it('checkpoints on time when anything was written, and not an idle database', () =>
    withDatabase(async (h) => {
      const c = new Checkpointer(h.db, { walMb: 1024, seconds: 0.2 }, { checkEveryMs: 50 });
      try {
        await c.start();
        await sql`create table bulk (id int, s text)`.execute(h.db);
        const before = await redo(h);
        await write(h, 10);
        await expect.poll(() => c.stats.count, { timeout: 5000 }).toBe(1);
        const after = await redo(h);
        expect(after).not.toBe(before);
        await new Promise((r) => setTimeout(r, 600)); // several periods with nothing written
        expect(c.stats.count).toBe(1);
        expect(await redo(h)).toBe(after);
      } finally {
        await c.stop();
      }
    }));

  it('runs under the runtime by default and stops with the database', async () => {
    const dir = tempDir();
    const h = await openDatabase({ backend: 'pglite', dir: dir.dir });
    expect(h.checkpointer).toBeInstanceOf(Checkpointer);
    await h.checkpointer!.checkpoint();
    expect(h.checkpointer!.stats.count).toBe(1);
    await h.close();
    dir.remove();
  });
});
