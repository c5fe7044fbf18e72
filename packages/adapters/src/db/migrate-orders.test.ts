import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrate } from './connect.ts';
import { migrations } from './migrations.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { forwardTestsRepo } from './repos/forward-tests.repo.ts';
import { strategiesRepo } from './repos/strategies.repo.ts';
import type { Database } from './schema.ts';

/** a new embedded database as migrations up to `last` left it, with a user (its id) */
async function databaseAt(last: number) {
  const db = new Kysely<Database>({ dialect: new PGliteDialect(new PGlite()) });
  await sql`create table schema_migrations (id integer primary key, name text not null,
    applied_at timestamptz not null default now())`.execute(db);
  for (const m of migrations.filter((x) => x.id <= last)) {
    await sql.raw(m.sql).execute(db);
    await sql`insert into schema_migrations (id, name) values (${m.id}, ${m.name})`.execute(db);
  }
  const u = await sql<{
    id: string;
  }>`insert into users (email, password_hash) values ('m@x.io', 'h') returning id`.execute(db);
  return { db, uid: u.rows[0]!.id };
}

describe('migration 3 (order log)', () => {
  it('carries fills stored before it into the order log, numbered per session, with trades as a view', async () => {
    const { db, uid } = await databaseAt(2);
    const s = await sql<{
      id: string;
    }>`insert into forward_test_sessions (user_id, strategy_snapshot, symbol, config, status, state)
      values (${uid}, '{}', 'BTCUSD', '{}', 'running', '{"fills":3,"cash":1}') returning id`.execute(db);
    const sid = s.rows[0]!.id;
    const t = (sig: string, side: string, minute: number) =>
      sql<{
        id: string;
      }>`insert into trades (user_id, session_id, signal_id, symbol, side, quantity, price, fee, slippage, realized_pnl, ts)
        values (${uid}, ${sid}, ${sig}, 'BTCUSD', ${side}, 2, 100, 0.2, 0.01, ${side === 'sell' ? 5 : 0},
        ${new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString()}) returning id`.execute(db);
    // two fills with their order rows (migration 2 era) and one older fill without (migration 1 era)
    const ids = [await t('old', 'buy', 1), await t('b', 'sell', 2), await t('c', 'buy', 3)].map((r) => r.rows[0]!.id);
    for (const [sig, m] of [
      ['b', 2],
      ['c', 3],
    ] as const)
      await sql`insert into session_orders (session_id, signal_id, user_id, action, source, status, quantity, price, ts)
        values (${sid}, ${sig}, ${uid}, 'buy', 'strategy', 'filled', 2, 100,
        ${new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString()})`.execute(db);
    await sql`insert into session_orders (session_id, signal_id, user_id, action, source, status, reason, ts)
      values (${sid}, 'r', ${uid}, 'buy', 'strategy', 'refused', 'no cash', now())`.execute(db);

    expect(await migrate(db)).toEqual(migrations.filter((x) => x.id > 2).map((x) => x.id));
    const repo = forwardTestsRepo(db);
    const trades = await repo.trades(sid);
    expect(trades.map((x) => [x.signalId, x.side, x.fee, x.realizedPnl])).toEqual([
      ['old', 'buy', 0.2, 0],
      ['b', 'sell', 0.2, 5],
      ['c', 'buy', 0.2, 0],
    ]);
    // a trade keeps the id it had in the trades table, through migration 3's view and migration 7's
    expect(trades.map((x) => x.id)).toEqual(ids);
    const seqs = await sql<{ signal_id: string; fill_seq: number | null }>`select signal_id, fill_seq
      from session_orders where session_id = ${sid} order by signal_id`.execute(db);
    expect(seqs.rows).toEqual([
      { signal_id: 'b', fill_seq: 2 },
      { signal_id: 'c', fill_seq: 3 },
      { signal_id: 'old', fill_seq: 1 },
      { signal_id: 'r', fill_seq: null },
    ]);
    // the ledger read falls back on the session's own state (no logged fill carries a newer one)
    expect((await repo.get(sid))!.state).toEqual({ fills: 3, cash: 1 });
    expect((await repo.totals(sid)).trades).toBe(3);
    await db.destroy();
  });
});

describe('migration 12 (strategy versions)', () => {
  it('gives every strategy saved before it a version 1 with its graph, and numbers saves from there', async () => {
    const { db, uid } = await databaseAt(11);
    const s = await sql<{ id: string }>`insert into strategies (user_id, name, graph, graph_hash)
      values (${uid}, 'old one', '{"nodes":[],"edges":[]}', 'h1') returning id`.execute(db);
    const sid = s.rows[0]!.id;
    expect(await migrate(db)).toEqual(migrations.filter((x) => x.id > 11).map((x) => x.id));
    const repo = strategiesRepo(db);
    expect((await repo.get(uid, sid))!.version).toBe(1);
    expect(await repo.versions(uid, sid)).toEqual([
      { version: 1, name: 'old one', graphHash: 'h1', createdAt: expect.any(String) },
    ]);
    expect((await repo.version(uid, sid, 1))!.graph).toEqual({ nodes: [], edges: [] });
    const next = await repo.update(uid, sid, { graph: { nodes: [1], edges: [] }, graphHash: 'h2', report: {} });
    expect(next!.version).toBe(2);
    await db.destroy();
  });
});

describe('migration 19 (session timelines)', () => {
  it('gives every session from before it a timeline: its creation, its first start, and where it stands now', async () => {
    const { db, uid } = await databaseAt(18);
    const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h)).toISOString();
    const session = async (status: string, started: string | null, stopped: string | null, reason: string | null) =>
      (
        await sql<{ id: string }>`insert into forward_test_sessions (user_id, strategy_snapshot, symbol, config,
          status, failure_reason, created_at, updated_at, started_at, stopped_at)
          values (${uid}, '{}', 'BTCUSD', '{}', ${status}, ${reason}, ${at(1)}, ${at(5)}, ${started}, ${stopped})
          returning id`.execute(db)
      ).rows[0]!.id;
    const created = await session('created', null, null, null);
    const running = await session('running', at(2), null, null);
    const paused = await session('paused', at(2), null, 'risk limit: max_daily_loss');
    const stopped = await session('stopped', at(2), at(4), 'risk limit: max_drawdown');
    const stoppedUnstarted = await session('stopped', null, at(3), null);
    expect(await migrate(db)).toEqual(migrations.filter((x) => x.id > 18).map((x) => x.id));
    const repo = forwardTestsRepo(db);
    const timeline = async (id: string) => (await repo.events(id)).map((e) => [e.was, e.status, e.reason, e.ts, e.at]);
    expect(await timeline(created)).toEqual([[null, 'created', null, null, at(1)]]);
    expect(await timeline(running)).toEqual([
      [null, 'created', null, null, at(1)],
      ['created', 'running', null, null, at(2)],
    ]);
    // a paused session's pause at its last update, a stopped one's stop at its stop
    expect(await timeline(paused)).toEqual([
      [null, 'created', null, null, at(1)],
      ['created', 'running', null, null, at(2)],
      ['running', 'paused', 'risk limit: max_daily_loss', null, at(5)],
    ]);
    expect(await timeline(stopped)).toEqual([
      [null, 'created', null, null, at(1)],
      ['created', 'running', null, null, at(2)],
      ['running', 'stopped', 'risk limit: max_drawdown', null, at(4)],
    ]);
    expect(await timeline(stoppedUnstarted)).toEqual([
      [null, 'created', null, null, at(1)],
      ['created', 'stopped', null, null, at(3)],
    ]);
    await db.destroy();
  });
});
