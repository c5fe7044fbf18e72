import type { DbHandle } from '@algotrade/adapters';
import {
  backtestsRepo,
  forwardTestsRepo,
  migrate,
  migrations,
  encodeLedger,
  packLedger,
  StaleLedgerError,
  usersRepo,
  cursorText,
  parseCursor,
  type BacktestStatus,
  type Cursor,
  type Execution,
} from '@algotrade/adapters';
import { applyFill, newLedger, planOrder } from '@algotrade/core';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The database contract: the same repository suite for PGlite and PostgreSQL. */
export function dbContract(name: string, open: () => Promise<DbHandle>, cleanup?: () => Promise<void>) {
  describe(`database contract: ${name}`, () => {
    let h: DbHandle;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      await h?.close();
      await cleanup?.();
    });
    /** a sweep's backtest of number `seq`, on GOOG daily, with `parameters` (null: the number was taken) */
    const sweepPoint = (userId: string, sweepId: string, seq: number, parameters: Record<string, unknown>) =>
      backtestsRepo(h.db).createOnce({
        userId,
        strategyId: null,
        sweepId,
        sweepSeq: seq,
        snapshot: { nodes: [] },
        symbol: 'GOOG',
        interval: '1d',
        parameters,
      });

    it('has applied every migration once, and migrating again is a no-op', async () => {
      const rows = await h.db.selectFrom('schema_migrations').select('id').orderBy('id').execute();
      expect(rows.map((r) => r.id)).toEqual(migrations.map((m) => m.id));
      expect(await migrate(h.db)).toEqual([]);
      // session rows keep room on their pages for heap-only ledger saves (migration 5)
      const opts = await sql<{
        o: string[] | null;
      }>`select reloptions as o from pg_class where oid = 'forward_test_sessions'::regclass`.execute(h.db);
      expect(opts.rows[0]?.o).toContain('fillfactor=50');
    });

    it('creates users with case-insensitive unique e-mails', async () => {
      const users = usersRepo(h.db);
      const a = await users.create('Alice@Example.com', 'h1');
      expect(a?.email).toBe('Alice@Example.com');
      expect(await users.create('alice@example.COM', 'h2')).toBeNull();
      expect((await users.byEmail('ALICE@example.com'))?.id).toBe(a!.id);
    });

    it('cascades a user delete to strategies and sessions, and sets strategy_id null on strategy delete', async () => {
      const users = usersRepo(h.db);
      const u = (await users.create(`c${Date.now()}@x.io`, 'h'))!;
      const s = await h.db
        .insertInto('strategies')
        .values({ user_id: u.id, name: 's', graph: JSON.stringify({ nodes: [], edges: [] }), graph_hash: 'x' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const f = await h.db
        .insertInto('forward_test_sessions')
        .values({
          user_id: u.id,
          strategy_id: s.id,
          strategy_snapshot: JSON.stringify({}),
          symbol: 'BTCUSD',
          config: JSON.stringify({}),
          status: 'created',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await h.db.deleteFrom('strategies').where('id', '=', s.id).execute();
      const after = await h.db
        .selectFrom('forward_test_sessions')
        .select('strategy_id')
        .where('id', '=', f.id)
        .executeTakeFirst();
      expect(after).toEqual({ strategy_id: null });
      await users.delete(u.id);
      expect(
        await h.db.selectFrom('forward_test_sessions').select('id').where('id', '=', f.id).executeTakeFirst(),
      ).toBeUndefined();
    });

    it("reads a sweep's points lean: combination, status and the metrics asked for, without those held (and how many of them are left)", async () => {
      const u = (await usersRepo(h.db).create(`sp${Date.now()}@x.io`, 'h'))!;
      const repo = backtestsRepo(h.db);
      const sweepId = '5ee00000-0000-4000-8000-000000000001';
      const ids: string[] = [];
      for (let seq = 0; seq < 4; seq++) {
        const r = await sweepPoint(u.id, sweepId, seq, {
          combo: { 'a.period': seq + 2 },
          grid: { 'a.period': [2, 3, 4, 5] },
          rankBy: 'sharpe',
        });
        ids.push(r!.id);
      }
      // a second backtest of the same number is refused (two workers proposing it at once)
      expect(await sweepPoint(u.id, sweepId, 3, {})).toBeNull();
      await repo.update(ids[0]!, { status: 'done', metrics: { sharpe: 1.25, trades: 7, cagr: 0.1 } });
      await repo.update(ids[1]!, { status: 'failed', error: 'no' });
      const { points: all } = await repo.sweepPoints(u.id, sweepId, ['sharpe', 'trades']);
      const bySeq = Object.fromEntries(all.map((p) => [p.sweepSeq, p]));
      expect(all).toHaveLength(4);
      expect(bySeq[0]).toEqual({
        id: ids[0],
        status: 'done',
        sweepSeq: 0,
        parameters: { combo: { 'a.period': 2 } },
        metrics: { sharpe: 1.25, trades: 7 },
      });
      expect(bySeq[1]).toMatchObject({ status: 'failed', metrics: null });
      expect(bySeq[3]).toMatchObject({ status: 'queued', parameters: { combo: { 'a.period': 5 } }, metrics: null });
      // without those held already, and how many of those are still there
      const rest = await repo.sweepPoints(u.id, sweepId, ['sharpe'], [ids[0]!, ids[2]!]);
      expect(rest.points.map((p) => p.sweepSeq).sort()).toEqual([1, 3]);
      expect(rest.kept).toBe(2);
      expect(await repo.delete(ids[2]!, u.id)).toBe(true);
      const after = await repo.sweepPoints(u.id, sweepId, ['sharpe'], [ids[0]!, ids[2]!]);
      expect(after.kept).toBe(1);
      expect(after.points.map((p) => p.sweepSeq).sort()).toEqual([1, 3]);
      // another user reads none of them
      const other = (await usersRepo(h.db).create(`sq${Date.now()}@x.io`, 'h'))!;
      expect(await repo.sweepPoints(other.id, sweepId, ['sharpe'], [ids[0]!])).toEqual({ points: [], kept: 0 });
    });

    it("pages newest first by a cursor exact to the microsecond, and sums up sweeps with their best by each one's measure", async () => {
      const u = (await usersRepo(h.db).create(`pg${Date.now()}@x.io`, 'h'))!;
      const repo = backtestsRepo(h.db);
      const mk = (extra: object = {}) =>
        repo.create({
          userId: u.id,
          strategyId: null,
          snapshot: {},
          symbol: 'GOOG',
          interval: '1d',
          parameters: {},
          ...extra,
        });
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await mk()).id);
      // three in one microsecond, one a microsecond after them (a Date would hold neither apart)
      const ids = sql.val(`{${made.slice(0, 3).join(',')}}`);
      await sql`update backtest_results set created_at = '2026-12-01T10:00:00.000001Z' where id = any(${ids}::uuid[])`.execute(
        h.db,
      );
      await sql`update backtest_results set created_at = '2026-12-01T10:00:00.000002Z' where id = ${made[3]!}`.execute(
        h.db,
      );
      const order = [made[4]!, made[3]!, ...made.slice(0, 3).sort().reverse()];
      const seen: string[] = [];
      let before: Cursor | undefined;
      for (let n = 0; n < 5; n++) {
        const page = await repo.page(u.id, { limit: 2, before });
        seen.push(...page.rows.map((r) => r.id));
        if (!page.next) break;
        before = parseCursor(page.next)!;
        expect(cursorText(before)).toBe(page.next);
      }
      expect(seen).toEqual(order);
      // a cursor between the microseconds: only what is older
      expect(
        (
          await repo.page(u.id, {
            limit: 10,
            before: parseCursor(`1796119200000002.${'f'.repeat(8)}-0000-4000-8000-000000000000`)!,
          })
        ).rows.map((r) => r.id),
      ).toEqual(order.slice(1));

      // two sweeps: by Sharpe with at least 5 trades, and by return
      const s1 = '5ee00000-0000-4000-8000-0000000000a1';
      const s2 = '5ee00000-0000-4000-8000-0000000000a2';
      const p1 = { rankBy: 'sharpe', minTrades: 5 };
      const rows1 = [
        await sweepPoint(u.id, s1, 0, { ...p1, combo: { n: 0 } }),
        await sweepPoint(u.id, s1, 1, { ...p1, combo: { n: 1 } }),
        await sweepPoint(u.id, s1, 2, { ...p1, combo: { n: 2 } }),
      ];
      await repo.update(rows1[0]!.id, {
        status: 'done',
        metrics: { sharpe: 3, trades: 4 },
        finishedAt: new Date('2026-12-01T11:00:00Z'),
      });
      await repo.update(rows1[1]!.id, {
        status: 'done',
        metrics: { sharpe: 1.5, trades: 5 },
        finishedAt: new Date('2026-12-01T11:05:00Z'),
      });
      const r2 = await sweepPoint(u.id, s2, 0, { rankBy: 'returnPct', combo: { n: 9 } });
      await repo.update(r2!.id, { status: 'done', metrics: { returnPct: -2, trades: 0 } });
      const all = await repo.sweeps(u.id, { limit: 10 });
      expect(all.next).toBeNull();
      expect(all.rows.map((r) => r.sweepId)).toEqual([s2, s1]);
      expect(all.rows[1]).toMatchObject({
        counts: { queued: 1, running: 0, done: 2, failed: 0, cancelled: 0 },
        best: { id: rows1[1]!.id, combo: { n: 1 }, value: 1.5 },
        lastFinishedAt: '2026-12-01T11:05:00.000Z',
      });
      expect(all.rows[0]!.best).toMatchObject({ id: r2!.id, value: -2 });
      const first = await repo.sweeps(u.id, { limit: 1 });
      expect(first.rows.map((r) => r.sweepId)).toEqual([s2]);
      expect(
        (await repo.sweeps(u.id, { limit: 1, before: parseCursor(first.next!)! })).rows.map((r) => r.sweepId),
      ).toEqual([s1]);
      const other = (await usersRepo(h.db).create(`pq${Date.now()}@x.io`, 'h'))!;
      expect(await repo.sweeps(other.id, { limit: 10 })).toEqual({ rows: [], next: null });
      expect((await repo.page(other.id, { limit: 10 })).rows).toEqual([]);
    });

    it('finds the adaptive sweeps that stopped short: fewer backtests than their count, none unfinished or cancelled', async () => {
      const u = (await usersRepo(h.db).create(`ss${Date.now()}@x.io`, 'h'))!;
      const repo = backtestsRepo(h.db);
      const make = async (count: number, statuses: BacktestStatus[], method = 'tpe', endedAt = new Date()) => {
        const sweepId = randomUUID();
        for (const [seq, status] of statuses.entries()) {
          const r = await sweepPoint(u.id, sweepId, seq, {
            combo: { 'a.period': seq + 2 },
            sample: { method, count, seed: 1, startup: 2 },
          });
          if (status !== 'queued')
            await repo.update(r!.id, {
              status,
              metrics: status === 'done' ? { sharpe: seq } : null,
              ...(status === 'running' ? {} : { finishedAt: endedAt }),
            });
        }
        return sweepId;
      };
      const stalled = await make(4, ['done', 'failed', 'done']);
      const running = await make(4, ['done', 'done', 'running']);
      const queued = await make(4, ['done', 'queued']);
      const complete = await make(3, ['done', 'done', 'done']);
      const stopped = await make(4, ['done', 'cancelled']);
      const random = await make(4, ['done', 'done'], 'random');
      const old = await make(4, ['done', 'done'], 'tpe', new Date(Date.now() - 2 * 3_600_000));
      const mine = new Set<string>([stalled, running, queued, complete, stopped, random, old]);
      const stalledOf = async (endedSince?: Date) =>
        (await repo.stalledSearches(endedSince)).filter((r) => mine.has(r.sweepId!));
      // all of them; those whose last backtest ended in the last hour (the periodic check)
      expect((await stalledOf()).map((r) => r.sweepId).sort()).toEqual([stalled, old].sort());
      const found = await stalledOf(new Date(Date.now() - 3_600_000));
      // the stalled sweep alone, by its backtest of the highest number, whole (the search goes on from it)
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        sweepId: stalled,
        sweepSeq: 2,
        status: 'done',
        userId: u.id,
        metrics: { sharpe: 2 },
      });
      expect(found[0]!.parameters.sample).toMatchObject({ method: 'tpe', count: 4 });
    });

    it('round-trips numeric money exactly and jsonb documents', async () => {
      const r = await sql<{
        n: string;
        j: { a: number[] };
      }>`select ${'123456789.12345678'}::numeric(38,8) as n, ${JSON.stringify({ a: [1, 2] })}::jsonb as j`.execute(
        h.db,
      );
      expect(r.rows[0]).toEqual({ n: '123456789.12345678', j: { a: [1, 2] } });
    });

    it('rejects rows that break constraints', async () => {
      await expect(
        h.db
          .insertInto('symbols')
          .values({ symbol: 'X', provider: 'p', asset_class: 'bond' as never, base: 'X', quote: 'USD', active: true })
          .execute(),
      ).rejects.toThrow();
    });

    it('serialises transactions (rollback leaves nothing behind)', async () => {
      await expect(
        h.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('symbols')
            .values({ symbol: 'TXN', provider: 'p', asset_class: 'fx', base: 'T', quote: 'X', active: true })
            .execute();
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(
        await h.db.selectFrom('symbols').select('symbol').where('symbol', '=', 'TXN').executeTakeFirst(),
      ).toBeUndefined();
    });

    // a session of 1,000 without slippage, and whole-balance orders filled into its ledger
    const cfg = {
      startingBalance: 1000,
      feeRate: 0.001,
      feeFixed: 0,
      slippageBps: 0,
      allowShort: false,
      wholeUnits: false,
    };
    const newSession = (userId: string) =>
      forwardTestsRepo(h.db).create({
        userId,
        strategyId: null,
        snapshot: { graph: {} },
        symbol: 'BTCUSD',
        config: cfg,
        state: newLedger(cfg),
      });
    /** plans and applies the order on `l`; the execution that commits it, with the ledger after it */
    const filled = (
      userId: string,
      sessionId: string,
      signalId: string,
      action: 'buy' | 'sell',
      price: number,
      l: ReturnType<typeof newLedger>,
    ): Execution => {
      const out = planOrder(l, cfg, {}, { action, sizing: 'all', amount: 0, price, ts: Date.UTC(2026, 0, 1) + price });
      if (out.kind !== 'fill') throw new Error(out.kind);
      applyFill(l, out.fill, out.closedTrade);
      return {
        sessionId,
        userId,
        symbol: 'BTCUSD',
        signalId,
        action,
        source: 'test',
        status: 'filled',
        fill: out.fill,
        ts: out.fill.ts,
        state: { ...l },
        fillSeq: l.fills,
        ledgerAfter: encodeLedger(l),
      };
    };

    it('executes paper fills in group commits, once per signal id, with positions and ledgers', async () => {
      const u = (await usersRepo(h.db).create(`ft${Date.now()}@x.io`, 'h'))!;
      const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const [s1, s2] = [await newSession(u.id), await newSession(u.id)];
      const exec = (
        sessionId: string,
        signalId: string,
        action: 'buy' | 'sell',
        price: number,
        l: ReturnType<typeof newLedger>,
      ) => filled(u.id, sessionId, signalId, action, price, l);
      const l1 = newLedger(cfg);
      const l2 = newLedger(cfg);
      const batch = [
        exec(s1.id, 'a', 'buy', 100, l1),
        exec(s1.id, 'b', 'sell', 110, l1),
        exec(s2.id, 'a', 'buy', 50, l2),
      ];
      const applied = await repo.executeMany(batch);
      expect(applied).toBe(3);
      // trades list in fill order, each with an id of its own (the same signal id in another session is
      // another trade) that stays the same from read to read
      const tr1 = await repo.trades(s1.id);
      expect(tr1.map((t) => t.signalId)).toEqual(['a', 'b']);
      const tradeIds = [...tr1, ...(await repo.trades(s2.id))].map((t) => t.id);
      expect(new Set(tradeIds).size).toBe(3);
      for (const id of tradeIds) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect([...(await repo.trades(s1.id)), ...(await repo.trades(s2.id))].map((t) => t.id)).toEqual(tradeIds);
      // a filled order carries its ledger in binary (a format byte and a float64 per number), and reads
      // back as the ledger it was, bit for bit
      const kinds = await sql<{ n: number; state: unknown }>`select octet_length(ledger) as n, state
        from session_orders where session_id in (${s1.id}, ${s2.id}) and status = 'filled'`.execute(h.db);
      expect(kinds.rows).toHaveLength(3);
      // and the recent order times (without distances for rules at a distance, format 6: three fields fewer;
      // the two lists, the recent orders and a cooldown window's exit times, are not fields)
      const fields = Object.keys(l1).length - 2 - 3;
      for (const r of kinds.rows) {
        expect(r.state).toBeNull();
        expect((r.n - 1) % 8).toBe(0);
        expect(r.n).toBeGreaterThanOrEqual(1 + 8 * fields);
      }
      expect((await repo.get(s1.id))!.state).toEqual(l1);
      const both = await repo.getMany([s1.id, s2.id]);
      expect(Object.fromEntries(both.map((r) => [r.id, r.state]))).toEqual({ [s1.id]: l1, [s2.id]: l2 });
      // the same signals again change nothing: the batch is refused as a whole (its ledgers counted them)
      await expect(repo.executeMany(batch)).rejects.toBeInstanceOf(StaleLedgerError);
      expect((await repo.totals(s1.id)).trades).toBe(2);
      expect(
        (
          await repo.executedSignals([
            { sessionId: s1.id, signalId: 'b' },
            { sessionId: s1.id, signalId: 'zz' },
          ])
        ).size,
      ).toBe(1);
      const t1 = await repo.totals(s1.id);
      expect(t1.trades).toBe(2);
      expect(Math.abs(t1.qty)).toBeLessThan(1e-12);
      const row1 = (await repo.get(s1.id))!;
      // starting balance + realised PnL - fees = cash, to the cent, from the stored rows
      expect(Math.abs(1000 + t1.realizedPnl - t1.fees - row1.state.cash!)).toBeLessThan(0.005);
      expect((await repo.positions((await repo.get(s2.id))!))[0]).toMatchObject({ symbol: 'BTCUSD', quantity: l2.qty });
      expect((await repo.orders(s1.id)).map((o) => o.signalId).sort()).toEqual(['a', 'b']);
      // a batch planned from an outdated ledger (another writer moved it on: the fill number it would
      // take is taken) rolls back entirely
      const stale = exec(s2.id, 'c', 'buy', 55, newLedger(cfg));
      await expect(repo.executeMany([stale])).rejects.toBeInstanceOf(StaleLedgerError);
      expect((await repo.orders(s2.id)).map((o) => o.signalId)).toEqual(['a']);
      expect((await repo.totals(s2.id)).trades).toBe(1);
      // the ledger comes from the order log: the session row's own state is written behind
      const l3 = { ...(await repo.get(s2.id))!.state } as ReturnType<typeof newLedger>;
      expect(l3.fills).toBe(1);
      // the fill count of the row's own ledger: the last periodic save's (marks) or the row's state
      const rowState = async (id: string) => {
        const r = await h.db
          .selectFrom('forward_test_sessions')
          .select(['state', 'marks_fills'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        return r.marks_fills ?? (r.state as { fills?: number }).fills ?? 0;
      };
      expect(await rowState(s2.id)).toBe(0);
      const c = exec(s2.id, 'c', 'sell', 55, l3);
      expect(await repo.executeMany([c])).toBe(1);
      expect((await repo.totals(s2.id)).trades).toBe(2);
      // a new signal planned together with one executed before: nothing is written (the ledger would
      // count the old fill twice); planned again without it, it fills once and ledger = trades
      const l4 = { ...(await repo.get(s2.id))!.state } as ReturnType<typeof newLedger>;
      const fresh = exec(s2.id, 'd', l4.qty > 0 ? 'sell' : 'buy', 60, l4);
      await expect(repo.executeMany([c, fresh])).rejects.toBeInstanceOf(StaleLedgerError);
      expect((await repo.totals(s2.id)).trades).toBe(2);
      expect((await repo.get(s2.id))!.state.fills).toBe(2);
      expect(await repo.executeMany([fresh])).toBe(1);
      const t2 = await repo.totals(s2.id);
      const l5 = (await repo.get(s2.id))!.state;
      expect(l5.fills).toBe(t2.trades);
      expect(l5.cash).toBe(l4.cash);
      expect((await repo.positions((await repo.get(s2.id))!))[0]).toMatchObject({ quantity: l4.qty });
      // a position's time is its last fill's
      const lastTrade = (await repo.trades(s2.id)).at(-1)!;
      expect(lastTrade.signalId).toBe('d');
      expect((await repo.positions((await repo.get(s2.id))!))[0]!.updatedAt).toBe(lastTrade.ts);
      // the snapshot written behind catches up; the ledger read stays the same
      await repo.saveStates([{ id: s2.id, state: l4 }]);
      expect(await rowState(s2.id)).toBe(3);
      expect((await repo.get(s2.id))!.state).toEqual(l5);
      // a save of the newest ledger with newer marks is what a read then gives, every field exactly
      const full = l5 as ReturnType<typeof newLedger>;
      const marked = { ...full, lastPrice: 61.25, lastTs: full.lastTs + 1000, peakEquity: full.peakEquity + 1.5 };
      await repo.saveStates([{ id: s2.id, state: marked }]);
      expect(await rowState(s2.id)).toBe(3);
      expect((await repo.get(s2.id))!.state).toEqual(marked);
      // a lifecycle change writes the engine's ledger, newer than the last save: a read gives that one
      const paused = { ...marked, lastPrice: 62, lastTs: marked.lastTs + 1000 };
      await repo.setStatus(s2.id, 'paused', { state: paused });
      expect((await repo.get(s2.id))!.state).toEqual(paused);
      await repo.setStatus(s2.id, 'running', { state: marked });
      // a periodic save never overwrites a ledger with more fills
      await repo.saveStates([{ id: s1.id, state: newLedger(cfg) }]);
      expect((await repo.get(s1.id))!.state.fills).toBe(2);
      // several sessions in one read, each with the ledger a single read gives
      const many = await repo.getMany([s1.id, s2.id, 'not-a-session']);
      expect(new Map(many.map((r) => [r.id, r.state]))).toEqual(
        new Map([
          [s1.id, (await repo.get(s1.id))!.state],
          [s2.id, (await repo.get(s2.id))!.state],
        ]),
      );
      // another user's id is not found; deleting the session cascades to its trades
      expect(await repo.get(s1.id, '00000000-0000-0000-0000-000000000000')).toBeNull();
      await repo.insertEquity([{ sessionId: s1.id, ts: Date.now(), equity: 1, cash: 1, positionValue: 0, price: 1 }]);
      expect(await repo.delete(s1.id, u.id)).toBe(true);
      expect((await repo.totals(s1.id)).trades).toBe(0);
      expect(await repo.equity(s1.id)).toEqual([]);
      // and when the user goes, so do the sessions' orders and equity points
      await repo.insertEquity([{ sessionId: s2.id, ts: Date.now(), equity: 1, cash: 1, positionValue: 0, price: 1 }]);
      expect((await repo.equity(s2.id)).length).toBe(1);
      await usersRepo(h.db).delete(u.id);
      expect((await repo.totals(s2.id)).trades).toBe(0);
      expect(await repo.equity(s2.id)).toEqual([]);
      const orphans = await sql<{
        n: number;
      }>`select count(*)::int as n from session_orders where session_id = ${s2.id}`.execute(h.db);
      expect(orphans.rows[0]!.n).toBe(0);
    });

    it('stores the same order rows whichever way the batch travels (binary COPY or a JSON document)', async () => {
      const u = (await usersRepo(h.db).create(`copy-${Date.now()}@x.io`, 'h'))!;
      // the repository the engine uses (binary COPY) and the JSON document
      const copying = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const json = forwardTestsRepo(h.db);
      const money = fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e14, max: 1e14 }),
        fc.constantFrom(0, -0, 1e-7, 5e-9, 0.1 + 0.2, 123.456789012345, 1e13 + 0.5, 2.5e-13),
      );
      const order = fc.record({
        quantity: money,
        price: money,
        fee: money,
        slippage: money,
        realizedPnl: money,
        latency: fc.oneof(fc.double({ noNaN: true, min: 0, max: 1e6 }), fc.constant(undefined)),
        ts: fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2090, 0, 1) }),
        refused: fc.boolean(),
        reason: fc.string({ maxLength: 40, unit: 'grapheme' }).filter((r) => !r.includes('\0')), // text holds no NUL
        recent: fc.array(fc.integer({ min: 0, max: 2 ** 45 }), { maxLength: 5 }),
      });
      const orders = fc.sample(order, { numRuns: 60, seed: 42 });
      const executions = (sessionId: string): Execution[] =>
        orders.map((o, i) => {
          const l = { ...newLedger(cfg), fills: i + 1, cash: o.price, recentOrders: o.recent };
          const base = {
            sessionId,
            userId: u.id,
            symbol: 'BTCUSD',
            signalId: `sig-${i}`,
            action: 'buy' as const,
            source: 'strategy',
            ts: o.ts,
            state: l,
            ...(o.latency !== undefined ? { latencyMs: o.latency } : {}),
          };
          if (o.refused) return { ...base, status: 'refused' as const, reason: `refused: ${o.reason}` };
          const fill = {
            side: 'buy' as const,
            quantity: o.quantity,
            price: o.price,
            fee: o.fee,
            slippage: o.slippage,
            realizedPnl: o.realizedPnl,
            ts: o.ts,
          };
          return { ...base, status: 'filled' as const, fill, fillSeq: i + 1, ledgerAfter: encodeLedger(l) };
        });
      const [a, b] = [await newSession(u.id), await newSession(u.id)];
      await copying.executeMany(executions(a.id));
      await json.executeMany(executions(b.id));
      const rows = async (id: string) =>
        (
          await sql<Record<string, string | null>>`select signal_id, user_id::text, action, source, status, reason,
              quantity::text, price::text, latency_ms::text, ts::text, symbol, side, fee::text, slippage::text,
              realized_pnl::text, fill_seq::text, encode(ledger, 'hex') as ledger
            from session_orders where session_id = ${id} order by signal_id`.execute(h.db)
        ).rows;
      const [ra, rb] = [await rows(a.id), await rows(b.id)];
      expect(ra).toHaveLength(orders.length);
      expect(ra).toEqual(rb);
      // and both read back as the ledger of the newest fill
      expect((await copying.get(a.id))!.state).toEqual((await json.get(b.id))!.state);
    });

    it("stores equity points to their columns' scale, and skips a point already stored", async () => {
      const u = (await usersRepo(h.db).create(`points-${Date.now()}@x.io`, 'h'))!;
      const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const a = await newSession(u.id);
      const value = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 });
      const sample = fc.sample(fc.tuple(value, value, value, value), { numRuns: 50, seed: 7 });
      const t0 = Date.UTC(2026, 11, 1, 12);
      const points = sample.map(([equity, cash, positionValue, price], i) => ({
        sessionId: a.id,
        ts: t0 + i * 5000 + (i % 7),
        equity,
        cash,
        positionValue,
        price,
      }));
      await repo.insertEquity(points);
      const stored = await repo.equity(a.id);
      expect(stored.map((p) => p.ts)).toEqual(points.map((p) => p.ts));
      stored.forEach((p, i) => {
        const want = points[i]!;
        expect(Math.abs(p.equity - want.equity)).toBeLessThanOrEqual(5e-9 + Math.abs(want.equity) * 1e-15);
        expect(Math.abs(p.cash - want.cash)).toBeLessThanOrEqual(5e-9 + Math.abs(want.cash) * 1e-15);
        expect(Math.abs(p.price! - want.price)).toBeLessThanOrEqual(5e-13 + Math.abs(want.price) * 1e-15);
      });
      // without a raw connection (the JSON document) the same points are stored the same
      const b = await newSession(u.id);
      await forwardTestsRepo(h.db).insertEquity(points.map((p) => ({ ...p, sessionId: b.id })));
      expect(await repo.equity(b.id)).toEqual(stored);
      // written again with a new point (a restart's first flush): the old ones stay as they were
      await repo.insertEquity([
        { ...points[0]!, equity: 1 },
        { sessionId: a.id, ts: t0 - 5000, equity: 2, cash: 2, positionValue: 0, price: 2 },
      ]);
      const after = await repo.equity(a.id);
      expect(after).toHaveLength(points.length + 1);
      expect(after.slice(1)).toEqual(stored);
      expect(after[0]!.equity).toBe(2);
    });

    it('commits a lifecycle change a risk limit causes with the orders that caused it, or neither', async () => {
      const u = (await usersRepo(h.db).create(`halt-${Date.now()}@x.io`, 'h'))!;
      const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const s = await newSession(u.id);
      await repo.setStatus(s.id, 'running');
      const l = newLedger(cfg);
      const buy = filled(u.id, s.id, 'buy-1', 'buy', 100, l);
      expect(await repo.executeMany([buy])).toBe(1);
      // the closing fill that breaches the drawdown limit stops the session in the same transaction
      const close = {
        ...filled(u.id, s.id, 'stop-1', 'sell', 80, l),
        newStatus: 'stopped' as const,
        failureReason: 'risk limit: max_drawdown',
      };
      // planned together with an order already logged, the batch is refused whole: no order, no stop
      await expect(repo.executeMany([buy, close])).rejects.toBeInstanceOf(StaleLedgerError);
      let row = (await repo.get(s.id))!;
      expect(row.status).toBe('running');
      expect(row.state.fills).toBe(1);
      expect((await repo.orders(s.id)).map((o) => o.signalId)).toEqual(['buy-1']);
      // alone, it commits the order and the stop together
      expect(await repo.executeMany([close])).toBe(1);
      row = (await repo.get(s.id))!;
      expect(row.status).toBe('stopped');
      expect(row.failureReason).toBe('risk limit: max_drawdown');
      expect(row.stoppedAt).not.toBeNull();
      expect(row.state).toEqual(l);
      expect((await repo.totals(s.id)).trades).toBe(2);
      // the connection that ran the failed transaction serves the next statements as usual
      expect((await repo.orders(s.id)).length).toBe(2);
    });

    it("keeps each change of a session's status on its timeline: the user's, a risk limit's with its order's time, none for the same status", async () => {
      const u = (await usersRepo(h.db).create(`timeline-${Date.now()}@x.io`, 'h'))!;
      // the JSON path too: a halt's timeline row is written with its orders either way
      for (const repo of [forwardTestsRepo(h.db, { withConnection: h.withConnection }), forwardTestsRepo(h.db)]) {
        const s = await newSession(u.id);
        const t1 = Date.UTC(2026, 0, 1, 9);
        await repo.setStatus(s.id, 'running', { reason: null, marketTs: t1 });
        await repo.setStatus(s.id, 'running', { state: newLedger(cfg) }); // a newer ledger only: no change
        await repo.setStatus(s.id, 'paused', { marketTs: t1 + 60_000 });
        await repo.setStatus(s.id, 'running', { reason: null }); // no tick known
        const l = newLedger(cfg);
        expect(await repo.executeMany([filled(u.id, s.id, 'b', 'buy', 100, l)])).toBe(1);
        const close = {
          ...filled(u.id, s.id, 'halt', 'sell', 90, l),
          newStatus: 'paused' as const,
          failureReason: 'risk limit: max_daily_loss',
        };
        expect(await repo.executeMany([close])).toBe(1);
        await repo.setStatus(s.id, 'stopped', { marketTs: t1 + 120_000 });
        const events = await repo.events(s.id);
        expect(events.map(({ at: _at, ...e }) => e)).toEqual([
          { status: 'created', was: null, reason: null, ts: null },
          { status: 'running', was: 'created', reason: null, ts: new Date(t1).toISOString() },
          { status: 'paused', was: 'running', reason: null, ts: new Date(t1 + 60_000).toISOString() },
          { status: 'running', was: 'paused', reason: null, ts: null },
          // the limit's pause at the time of the close that it made
          {
            status: 'paused',
            was: 'running',
            reason: 'risk limit: max_daily_loss',
            ts: new Date(close.fill!.ts).toISOString(),
          },
          { status: 'stopped', was: 'paused', reason: null, ts: new Date(t1 + 120_000).toISOString() },
        ]);
        // the wall clock, in order
        const at = events.map((e) => Date.parse(e.at));
        expect([...at].sort((a, b) => a - b)).toEqual(at);
        expect(await repo.events(s.id, 2)).toEqual(events.slice(0, 2));
        // a deleted session takes its timeline with it
        await repo.delete(s.id, u.id);
        expect(await repo.events(s.id)).toEqual([]);
      }
    });

    it("reads the funding paid in all from each filled order's ledger, in fill order (0 before the funding field)", async () => {
      const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const u = (await usersRepo(h.db).create(`funding-fills-${Date.now()}@x.io`, 'h'))!;
      const s = await newSession(u.id);
      const l = newLedger(cfg);
      const first = filled(u.id, s.id, 'f1', 'buy', 100, l);
      // funding paid while the long was open, then the close
      l.funding = 1.25;
      const second = filled(u.id, s.id, 'f2', 'sell', 110, l);
      l.funding = 1.25 - 0.5;
      const third = filled(u.id, s.id, 'f3', 'buy', 90, l);
      // an order logged in an older format (3: no funding field) reads as 0
      third.ledgerAfter = Uint8Array.from([3, ...third.ledgerAfter!.subarray(1, 1 + 8 * 21)]);
      expect(await repo.executeMany([first, second, third])).toBe(3);
      expect(await repo.fundingAfterFills(s.id)).toEqual([0, 1.25, 0]);
      expect((await repo.trades(s.id)).map((t) => t.signalId)).toEqual(['f1', 'f2', 'f3']);
    });

    it('reads the ledgers of orders logged before the binary form (a jsonb array), and newer ones after them', async () => {
      const repo = forwardTestsRepo(h.db, { withConnection: h.withConnection });
      const u = (await usersRepo(h.db).create(`old-orders-${Date.now()}@x.io`, 'h'))!;
      const s = await newSession(u.id);
      const l = newLedger(cfg);
      const f1 = filled(u.id, s.id, 'old', 'buy', 100, l).fill!;
      // an order row as migrations 3-5 wrote it
      await sql`insert into session_orders (session_id, signal_id, user_id, action, source, status, quantity, price, ts,
          symbol, side, fee, slippage, realized_pnl, fill_seq, state)
        values (${s.id}, 'old', ${u.id}, 'buy', 'test', 'filled', ${f1.quantity}, ${f1.price}, now(), 'BTCUSD', 'buy',
          ${f1.fee}, ${f1.slippage}, ${f1.realizedPnl}, 1, ${JSON.stringify(packLedger(l))}::jsonb)`.execute(h.db);
      expect((await repo.get(s.id))!.state).toEqual(JSON.parse(JSON.stringify(l)));
      expect(await repo.executeMany([filled(u.id, s.id, 'new', 'sell', 110, l)])).toBe(1);
      expect((await repo.get(s.id))!.state).toEqual(l);
      expect((await repo.totals(s.id)).trades).toBe(2);
      // the binary form takes under 70 % of the room of the jsonb array, though it holds six fields more
      // (the cooldown's, funding's three, the entry count and the take profit flag: 26 against 20; a
      // position with rules at a distance has three more)
      const size = await sql<{ bin: number; json: number }>`select pg_column_size(ledger) as bin,
          pg_column_size(${JSON.stringify(packLedger(l))}::jsonb) as json
        from session_orders where session_id = ${s.id} and signal_id = 'new'`.execute(h.db);
      expect(size.rows[0]!.bin).toBeLessThan(size.rows[0]!.json * 0.7);
    });
  });
}
