import { decodeLedger, forwardTestsRepo } from '@algotrade/adapters';
import { MemoryBus } from '@algotrade/adapters/bus-memory/memory-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { alwaysBuying, buysAbove } from '../../../../test/helpers/graphs.ts';
import { runningSession as storedSession } from '../../../../test/helpers/sessions.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { ForwardTestEngine } from './engine.ts';
import type { LiveSession, SignalMessage } from './live-session.ts';

describe('forward-test execution on the order log', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());
  const runningSession = (userId: string, symbol: string, startingBalance: number) =>
    storedSession(t.rt.db.db, userId, symbol, startingBalance);

  it('a resting limit order is saved as it is placed: after a restart it rests again, and once filled it is gone', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    // always wants to buy, by a limit order 20 % under the price
    const graph = alwaysBuying({ orderType: 'limit', offsetPct: 20 });
    const row = await storedSession(t.rt.db.db, u.id, 'RESTUSD', 1_000, graph);
    const T = Date.UTC(2026, 0, 6);
    const tick = (ms: number, price: number) => ({
      symbol: 'RESTUSD',
      ts: T + ms,
      price,
      size: 1,
      bid: price,
      ask: price,
    });
    const a = new ForwardTestEngine(t.rt);
    const s = await a.load((await repo.get(row.id))!);
    a.dispatch('RESTUSD', [tick(0, 100)]);
    expect(s.restingOrder()).toMatchObject({ nodeId: 'buy', action: 'buy', orderType: 'limit', level: 80 });
    await until(async () => (await repo.get(row.id))!.resting !== null);
    // a restart (the first engine dropped as a crash would leave it): the order rests again, as it was
    const b = new ForwardTestEngine(t.rt);
    const again = await b.load((await repo.get(row.id))!);
    expect(again.restingOrder()).toEqual(s.restingOrder());
    // a tick that reaches it fills it at its level; the saved copy goes
    b.dispatch('RESTUSD', [tick(1000, 79)]);
    await until(async () => (await repo.trades(row.id)).length === 1);
    expect((await repo.trades(row.id))[0]).toMatchObject({ side: 'buy', price: 80 });
    await until(async () => (await repo.get(row.id))!.resting === null);
    expect(again.restingOrder()).toBeNull();
    await b.close();
    await a.close();
  });

  it('a trailing stop by hand keeps where it got to: saved with the flush and when the engine lets the session go, so the next engine trails on from there', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const row = await storedSession(t.rt.db.db, u.id, 'TRAILHOUSD', 1_000, buysAbove(1e12));
    const tick = (ms: number, price: number) => ({
      symbol: 'TRAILHOUSD',
      ts: Date.UTC(2026, 0, 9) + ms,
      price,
      size: 1,
    });
    const saved = async () => ((await repo.get(row.id))!.openOrders as { extreme: number }[])[0]?.extreme;
    const a = new ForwardTestEngine(t.rt);
    const s = await a.load((await repo.get(row.id))!);
    a.dispatch('TRAILHOUSD', [tick(0, 100)]);
    await a.manualOrder((await repo.get(row.id))!, { action: 'buy', sizing: 'fixed_qty', amount: 1 });
    const placed = await a.placeOpen((await repo.get(row.id))!, {
      action: 'close',
      sizing: 'all',
      amount: 0,
      type: 'trailing_stop',
      trailPercent: 10,
    });
    expect('open' in placed && placed.open.extreme).toBe(100);
    // ticks move it at once in memory; the row follows with the session's flush
    a.dispatch('TRAILHOUSD', [tick(1000, 130), tick(2000, 125)]);
    expect(s.openOrders[0]).toMatchObject({ extreme: 130, price: 117 });
    expect(await saved()).toBe(100);
    await a.flush();
    expect(await saved()).toBe(130);
    // a later high, then the engine lets the session go (handed over, or stopping): saved as it goes
    a.dispatch('TRAILHOUSD', [tick(3000, 140)]);
    await a.close();
    expect(await saved()).toBe(140);
    // the next engine trails on from 140: 127 does not reach its 126, 125.9 does
    const b = new ForwardTestEngine(t.rt);
    const again = await b.load((await repo.get(row.id))!);
    expect(again.openOrders[0]).toMatchObject({ extreme: 140, price: 126 });
    b.dispatch('TRAILHOUSD', [tick(4000, 127)]);
    b.dispatch('TRAILHOUSD', [tick(5000, 125.9)]);
    await until(async () => (await repo.trades(row.id)).length === 2);
    expect((await repo.trades(row.id))[1]).toMatchObject({ side: 'sell', quantity: 1, price: 125.9 });
    await b.close();
  });

  it('an instance holding a session hears what another changed: its limits and its resting orders by hand (both kept when placed at once), then fills them', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const row = await storedSession(t.rt.db.db, u.id, 'HANDOVERUSD', 1_000, buysAbove(1e12)); // never enters by itself
    const tick = (ms: number, price: number) => ({
      symbol: 'HANDOVERUSD',
      ts: Date.UTC(2026, 0, 9) + ms,
      price,
      size: 1,
    });
    // B runs the symbol's ticks (failover on: it hears other instances' changes); A took the request
    const b = new ForwardTestEngine(t.rt, undefined, undefined, { handoverMs: 60_000, group: 'handover-b' });
    await b.start();
    const held = b.sessions.get(row.id)!;
    b.dispatch('HANDOVERUSD', [tick(0, 100)]);
    const a = new ForwardTestEngine(t.rt, undefined, undefined, { handoverMs: 60_000 });
    a.dispatch('HANDOVERUSD', [tick(0, 100)]);
    await a.updated((await repo.get(row.id))!, { risk: { maxDrawdownPct: 30 } });
    await until(async () => held.settings.risk.maxDrawdownPct === 30);
    const placed = await a.placeOpen((await repo.get(row.id))!, {
      action: 'buy',
      sizing: 'fixed_qty',
      amount: 2,
      type: 'limit',
      price: 95,
    });
    expect('open' in placed && placed.open.price).toBe(95);
    await until(async () => held.openOrders.length === 1);
    expect(held.openOrders[0]!.id).toBe('open' in placed ? placed.open.id : '');
    // B places one, and A another without having heard of B's: each writes only its change, so the row
    // keeps all three, and B has them all once it hears A
    const limit = (price: number) => ({ action: 'buy', sizing: 'fixed_qty', amount: 1, type: 'limit', price }) as const;
    await b.placeOpen((await repo.get(row.id))!, limit(90));
    await a.placeOpen((await repo.get(row.id))!, limit(85));
    const prices = (list: readonly { price: number }[]) => list.map((o) => o.price);
    expect(prices((await repo.get(row.id))!.openOrders as { price: number }[])).toEqual([95, 90, 85]);
    await until(async () => held.openOrders.length === 3);
    expect(prices(held.openOrders)).toEqual([95, 90, 85]);
    // B's tick reaches the first: filled once, at the tick's better price; the row keeps the other two, as B does
    b.dispatch('HANDOVERUSD', [tick(1000, 94)]);
    await until(async () => (await repo.trades(row.id)).length === 1);
    expect((await repo.trades(row.id))[0]).toMatchObject({ side: 'buy', quantity: 2, price: 94, source: 'manual' });
    await until(async () => (await repo.get(row.id))!.openOrders.length === 2);
    expect(prices(held.openOrders)).toEqual([90, 85]);
    // A amends B's 85 up to 93: B hears it, and its next tick at 92 fills it at its new price
    const at85 = held.openOrders[1]!.id;
    const amended = await a.amendOpen((await repo.get(row.id))!, at85, { price: 93 });
    expect(amended).toMatchObject({ id: at85, price: 93 });
    await until(async () => held.openOrders[1]?.price === 93);
    b.dispatch('HANDOVERUSD', [tick(2000, 92)]);
    await until(async () => (await repo.trades(row.id)).length === 2);
    expect((await repo.trades(row.id))[1]).toMatchObject({ side: 'buy', quantity: 1, price: 92 });
    // filled, it is gone: an amend through A finds nothing (A's copy too is dropped)
    await until(async () => (await repo.get(row.id))!.openOrders.length === 1);
    expect(await a.amendOpen((await repo.get(row.id))!, at85, { price: 80 })).toBeNull();
    expect(prices((await repo.get(row.id))!.openOrders as { price: number }[])).toEqual([90]);
    await a.close();
    await b.close();
  });

  it('a session its daily loss limit paused resumes on the next day’s first tick with resumeNextDay, also after a restart; without, it stays paused', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const T = Date.UTC(2026, 0, 7, 20);
    for (const resumeNextDay of [true, false]) {
      const symbol = resumeNextDay ? 'DAYUSD' : 'DAYXUSD';
      const tick = (ms: number, price: number) => ({ symbol, ts: T + ms, price, size: 1 });
      // buys all in on every tick it is flat; a 5 % loss in a UTC day pauses it
      const row = await storedSession(t.rt.db.db, u.id, symbol, 1_000, alwaysBuying(), {
        maxDailyLossPct: 5,
        resumeNextDay,
      });
      const a = new ForwardTestEngine(t.rt);
      await a.load((await repo.get(row.id))!);
      a.dispatch(symbol, [tick(0, 100)]);
      await until(async () => (await repo.trades(row.id)).length === 1);
      a.dispatch(symbol, [tick(60_000, 90)]); // 10 % down: closed, paused
      await until(async () => (await repo.get(row.id))!.status === 'paused');
      expect((await repo.get(row.id))!.failureReason).toBe('risk limit: max_daily_loss');
      expect(await repo.trades(row.id)).toHaveLength(2);
      await a.close();
      // a restart: the new engine finds the paused session; a tick the same day leaves it paused
      const b = new ForwardTestEngine(t.rt);
      await b.start();
      b.dispatch(symbol, [tick(3_600_000, 91)]);
      await new Promise((r) => setTimeout(r, 300));
      expect((await repo.get(row.id))!.status).toBe('paused');
      // the next UTC day's first tick (T is 20:00): resumed with resumeNextDay, and it buys again
      b.dispatch(symbol, [tick(5 * 3_600_000, 92)]);
      if (resumeNextDay) {
        await until(async () => (await repo.get(row.id))!.status === 'running');
        expect((await repo.get(row.id))!.failureReason).toBeNull();
        b.dispatch(symbol, [tick(5 * 3_600_000 + 1000, 93)]);
        await until(async () => (await repo.trades(row.id)).length === 3);
        expect((await repo.trades(row.id))[2]).toMatchObject({ side: 'buy', price: 93 });
      } else {
        await new Promise((r) => setTimeout(r, 300));
        expect((await repo.get(row.id))!).toMatchObject({
          status: 'paused',
          failureReason: 'risk limit: max_daily_loss',
        });
        expect(await repo.trades(row.id)).toHaveLength(2);
      }
      await b.close();
    }
  });

  it('an engine holding an outdated ledger re-plans from the order log: fill numbers stay consecutive', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const row = await runningSession(u.id, 'OLOGUSD', 10_000);
    // two engines (as two instances during a handover), neither subscribed to the bus
    const a = new ForwardTestEngine(t.rt);
    const b = new ForwardTestEngine(t.rt);
    let n = 0;
    const sig = (action: 'buy' | 'sell', price: number): SignalMessage => ({
      id: `${row.id}:test:${++n}`,
      sessionId: row.id,
      userId: u.id,
      symbol: 'OLOGUSD',
      action,
      sizing: 'fixed_qty',
      amount: 2,
      source: 'test',
      tickTs: Date.UTC(2026, 0, 1, 0, n),
      price,
      receivedAt: Date.now(),
    });
    const sa = await a.load((await repo.get(row.id))!);
    await a.submit(sa, sig('buy', 100));
    const sb = await b.load((await repo.get(row.id))!);
    expect(sb.ledger).toMatchObject({ fills: 1, qty: 2 });
    await a.submit(sa, sig('sell', 110)); // b still holds the long position: one fill behind
    // b plans its sell as fill 2, which a took: the batch rolls back, b reloads from the order log and
    // plans again (flat now: refused, no shorting), then buys as fill 3
    await b.submit(sb, sig('sell', 111));
    expect(b.stats.staleRetries).toBe(1);
    expect(sb.ledger).toMatchObject({ fills: 2, qty: 0 });
    await b.submit(sb, sig('buy', 105));
    const orders = await t.rt.db.db
      .selectFrom('session_orders')
      .select(['fill_seq', 'status'])
      .where('session_id', '=', row.id)
      .orderBy('ts')
      .execute();
    expect(orders).toEqual([
      { fill_seq: 1, status: 'filled' },
      { fill_seq: 2, status: 'filled' },
      { fill_seq: null, status: 'refused' }, // flat, shorting not allowed
      { fill_seq: 3, status: 'filled' },
    ]);
    // the ledger read back (from the newest logged fill) is the one b holds, and matches the trades
    const stored = (await repo.get(row.id))!.state;
    expect(stored).toEqual(JSON.parse(JSON.stringify(sb.ledger)));
    const totals = await repo.totals(row.id);
    expect(totals.trades).toBe(3);
    expect(totals.qty).toBeCloseTo(2, 12);
    expect(Math.abs(10_000 - 2 * 100 + 2 * 110 - 2 * 105 - totals.fees - stored.cash!)).toBeLessThan(0.005);
    expect(Math.abs(10_000 + totals.realizedPnl - totals.fees - (stored.cash! + 2 * stored.avgPrice!))).toBeLessThan(
      0.005,
    );
    await a.close();
    await b.close();
  });

  it('with two commit lanes a session keeps its orders in order, and every ledger reconciles', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const engine = new ForwardTestEngine(t.rt, undefined, undefined, { commitLanes: 2 });
    const sessions: LiveSession[] = [];
    for (let i = 0; i < 100; i++) {
      const row = await runningSession(u.id, 'LANEUSD', 1_000);
      sessions.push(await engine.load((await repo.get(row.id))!));
    }
    let n = 0;
    const sig = (s: LiveSession, action: 'buy' | 'sell', price: number): SignalMessage => ({
      id: `${s.id}:lane:${++n}`,
      sessionId: s.id,
      userId: u.id,
      symbol: 'LANEUSD',
      action,
      sizing: 'all',
      amount: 0,
      source: 'test',
      tickTs: Date.UTC(2026, 0, 1) + n,
      price,
      receivedAt: Date.now(),
    });
    // buy then sell for every session, queued together: one batch of 200 split over two lanes
    await Promise.all(
      sessions.flatMap((s) => [engine.submit(s, sig(s, 'buy', 100)), engine.submit(s, sig(s, 'sell', 105))]),
    );
    expect(new Set(sessions.map((s) => s.lane))).toEqual(new Set([0, 1]));
    for (const s of sessions) {
      const trades = await repo.trades(s.id);
      expect(trades.map((x) => x.side)).toEqual(['buy', 'sell']);
      const totals = await repo.totals(s.id);
      const l = (await repo.get(s.id))!.state;
      expect(l).toMatchObject({ fills: 2, qty: 0 });
      expect(Math.abs(1_000 + totals.realizedPnl - totals.fees - l.cash!)).toBeLessThan(0.005);
    }
    await engine.close();
  });

  it('stopping saves every ledger to its session row, also one whose last fill came after its mark was flushed', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const engine = new ForwardTestEngine(t.rt);
    const row = await runningSession(u.id, 'STOPUSD', 1_000);
    const s = await engine.load((await repo.get(row.id))!);
    const ts = Date.UTC(2026, 0, 3);
    engine.dispatch('STOPUSD', [{ symbol: 'STOPUSD', ts, price: 100, size: 1, bid: 100, ask: 100, seq: 1 }]);
    for (let k = 0; k < 10; k++) await engine.flushNextSlot(); // the tick's mark is written
    await engine.submit(s, {
      id: `${s.id}:stop:1`,
      sessionId: s.id,
      userId: u.id,
      symbol: 'STOPUSD',
      action: 'buy',
      sizing: 'fixed_qty',
      amount: 1,
      source: 'test',
      tickTs: ts,
      price: 100,
      receivedAt: Date.now(),
    });
    await engine.close();
    // the session row's own ledger (the periodic saves' binary column), not the order log's
    const stored = await t.rt.db.db
      .selectFrom('forward_test_sessions')
      .select(['marks', 'marks_fills'])
      .where('id', '=', s.id)
      .executeTakeFirstOrThrow();
    expect(stored.marks_fills).toBe(1);
    expect(decodeLedger(stored.marks!)).toMatchObject({ fills: 1, qty: 1 });
  });

  it('the equity timer writes a tenth of the sessions at a time; a round of slots writes each once, ledgers every sixth round', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const engine = new ForwardTestEngine(t.rt);
    const sessions: LiveSession[] = [];
    for (let i = 0; i < 20; i++) {
      const row = await runningSession(u.id, 'SLOTUSD', 1_000);
      sessions.push(await engine.load((await repo.get(row.id))!));
    }
    const ids = sessions.map((s) => s.id);
    const points = async () =>
      Number(
        (
          await t.rt.db.db
            .selectFrom('chart_data')
            .select((e) => e.fn.countAll().as('n'))
            .where('session_id', 'in', ids)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const snapshotMarks = async () =>
      (await t.rt.db.db.selectFrom('forward_test_sessions').select('marks').where('id', 'in', ids).execute()).filter(
        (r) => r.marks && decodeLedger(r.marks).lastPrice === 101,
      ).length;
    let ts = Date.UTC(2026, 0, 2);
    const tick = (price: number) =>
      engine.dispatch('SLOTUSD', [{ symbol: 'SLOTUSD', ts: ++ts, price, size: 1, bid: price, ask: price, seq: ts }]);
    tick(100);
    await engine.flushNextSlot();
    expect(await points()).toBe(2);
    for (let k = 1; k < 10; k++) await engine.flushNextSlot();
    expect(await points()).toBe(20); // one point per session per round
    await engine.flushNextSlot(); // nothing new since: no point
    expect(await points()).toBe(20);
    // rounds 2-5 write points; the ledgers' marks are saved in the sixth round only
    for (let round = 2; round <= 6; round++) {
      tick(round === 6 ? 101 : 100 + round / 100);
      for (let k = round === 2 ? 1 : 0; k < 10; k++) await engine.flushNextSlot();
      if (round < 6) expect(await snapshotMarks()).toBe(0);
    }
    expect(await snapshotMarks()).toBe(20);
    // six rounds of 20 points, less slot 0's two in round 2 (its turn came before that round's tick)
    expect(await points()).toBe(20 * 6 - 2);
    await engine.close();
  });
  it('equity pushes that fail (the bus gone) lose only those pushes: the flush resolves and later flushes still write', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const bus = new MemoryBus(0);
    const engine = new ForwardTestEngine({ ...t.rt, bus });
    const row = await runningSession(u.id, 'GONEUSD', 1_000);
    await engine.load((await repo.get(row.id))!);
    const points = async () =>
      (
        await t.rt.db.db
          .selectFrom('chart_data')
          .select('price')
          .where('session_id', '=', row.id)
          .orderBy('ts')
          .execute()
      ).map((r) => Number(r.price));
    let ts = Date.UTC(2026, 0, 3);
    const tick = (price: number) =>
      engine.dispatch('GONEUSD', [{ symbol: 'GONEUSD', ts: ++ts, price, size: 1, bid: price, ask: price, seq: ts }]);
    await bus.close(); // every publish now throws
    tick(100);
    await expect(engine.flush({})).resolves.toBeUndefined();
    tick(101);
    await expect(engine.flush({})).resolves.toBeUndefined();
    expect(await points()).toEqual([100, 101]);
    await engine.close();
  });
  it('a session that fails while the database is down stops trading, and the process goes on', async () => {
    const t2 = await startTestApp();
    try {
      const u = await t2.user();
      const repo = forwardTestsRepo(t2.rt.db.db);
      const row = await storedSession(t2.rt.db.db, u.id, 'DOWNUSD', 1_000);
      const engine = new ForwardTestEngine(t2.rt);
      const s = await engine.load((await repo.get(row.id))!);
      // a strategy that throws on its next tick, recorded as failed in a database now closed
      s.onTick = () => {
        throw new Error('boom');
      };
      await t2.rt.db.close();
      const tick = { symbol: 'DOWNUSD', ts: Date.UTC(2026, 0, 4), price: 100, size: 1, bid: 100, ask: 100, seq: 1 };
      engine.dispatch('DOWNUSD', [tick]);
      await new Promise((r) => setTimeout(r, 50)); // an unhandled rejection would fail this test here
      expect(s.status).toBe('failed');
      engine.dispatch('DOWNUSD', [{ ...tick, ts: tick.ts + 1, seq: 2 }]); // no longer sees ticks
      expect(engine.stats.signals).toBe(0);
    } finally {
      await t2.stop().catch(() => {}); // the database is closed already
    }
  });
  it("an equity point beyond what chart_data holds is skipped; the other sessions' points are written", async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const engine = new ForwardTestEngine(t.rt);
    const [wild, calm] = [await runningSession(u.id, 'WILDUSD', 1e12), await runningSession(u.id, 'CALMUSD', 1_000)];
    const sw = await engine.load((await repo.get(wild.id))!);
    await engine.load((await repo.get(calm.id))!);
    let ts = Date.UTC(2026, 0, 6);
    const tick = (symbol: string, price: number) =>
      engine.dispatch(symbol, [{ symbol, ts: ++ts, price, size: 1, bid: price, ask: price, seq: ts }]);
    // a whole balance of 10^12 at the least price a tick may carry, 10^-12: 10^24 units (less the fee)
    tick('WILDUSD', 1e-12);
    await engine.submit(sw, {
      id: `${wild.id}:all-in`,
      sessionId: wild.id,
      userId: u.id,
      symbol: 'WILDUSD',
      action: 'buy',
      sizing: 'all',
      amount: 0,
      source: 'test',
      tickTs: ts,
      price: 1e-12,
      receivedAt: Date.now(),
    });
    expect(sw.ledger.qty).toBeGreaterThan(9e23);
    // marked at 10^12 the position is worth 10^36: beyond numeric(38,8)
    tick('WILDUSD', 1e12);
    tick('CALMUSD', 100);
    await expect(engine.flush({})).resolves.toBeUndefined();
    const points = async (id: string) =>
      (await t.rt.db.db.selectFrom('chart_data').select('price').where('session_id', '=', id).execute()).length;
    expect(await points(calm.id)).toBe(1);
    expect(await points(wild.id)).toBe(0);
    await engine.close();
  });

  it('a flush writes in statements of flushChunk sessions, and a commit that arrives meanwhile goes in before the next one', async () => {
    const u = await t.user();
    const engine = new ForwardTestEngine(t.rt, undefined, undefined, { flushChunk: 5 });
    const repo = (engine as unknown as { repo: ReturnType<typeof forwardTestsRepo> }).repo;
    const sessions: LiveSession[] = [];
    for (let i = 0; i < 12; i++) {
      const row = await runningSession(u.id, 'CHUNKUSD', 1_000);
      sessions.push(await engine.load((await repo.get(row.id))!));
    }
    const log: string[] = [];
    const insertEquity = repo.insertEquity.bind(repo);
    const saveStates = repo.saveStates.bind(repo);
    const executeMany = repo.executeMany.bind(repo);
    let commit: Promise<void> | undefined;
    const s0 = sessions[0]!;
    repo.insertEquity = async (points) => {
      log.push(`equity ${points.length}`);
      await insertEquity(points);
      // a fill arrives while the first statement runs
      commit ??= engine.submit(s0, {
        id: `${s0.id}:chunk:1`,
        sessionId: s0.id,
        userId: u.id,
        symbol: 'CHUNKUSD',
        action: 'buy',
        sizing: 'fixed_qty',
        amount: 1,
        source: 'test',
        tickTs: Date.UTC(2026, 0, 3),
        price: 100,
        receivedAt: Date.now(),
      });
    };
    repo.saveStates = async (states) => {
      if (states.length) log.push(`ledgers ${states.length}`);
      return saveStates(states);
    };
    repo.executeMany = async (es) => {
      log.push(`orders ${es.length}`);
      return executeMany(es);
    };
    engine.dispatch('CHUNKUSD', [
      { symbol: 'CHUNKUSD', ts: Date.UTC(2026, 0, 3), price: 100, size: 1, bid: 100, ask: 100, seq: 1 },
    ]);
    // every session (no slot), ledgers of the ticked sessions: 12 points and 12 ledgers, five at a time
    await engine.flush({ ledgers: 'ticked' });
    await commit;
    expect(log).toEqual(['equity 5', 'orders 1', 'equity 5', 'equity 2', 'ledgers 5', 'ledgers 5', 'ledgers 2']);
    expect(await forwardTestsRepo(t.rt.db.db).trades(s0.id)).toHaveLength(1);
    const marks = await t.rt.db.db
      .selectFrom('forward_test_sessions')
      .select('marks')
      .where(
        'id',
        'in',
        sessions.map((s) => s.id),
      )
      .execute();
    expect(marks.filter((r) => r.marks && decodeLedger(r.marks).lastPrice === 100)).toHaveLength(12);
    await engine.close();
  });
  it('in-process sessions of one strategy share an evaluator; a paused session leaves it and is warmed afresh on resume', async () => {
    const u = await t.user();
    const repo = forwardTestsRepo(t.rt.db.db);
    const engine = new ForwardTestEngine(t.rt);
    const rows = [];
    for (let i = 0; i < 3; i++) rows.push(await runningSession(u.id, 'COHOUSD', 10_000));
    const ss: LiveSession[] = [];
    for (const row of rows) ss.push(await engine.load((await repo.get(row.id))!));
    // loaded together, warmed on the same (empty) window: one evaluator for the three
    expect(engine.cohorts.built).toBe(1);
    expect(ss[1]!.evaluator).toBe(ss[0]!.evaluator);
    expect(ss[2]!.evaluator).toBe(ss[0]!.evaluator);
    const T0 = Date.UTC(2026, 0, 6);
    const feed = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const p = 100 + 5 * Math.sin(i / 8);
        engine.dispatch('COHOUSD', [{ symbol: 'COHOUSD', ts: T0 + i * 1000, price: p, size: 1, seq: i }]);
      }
    };
    feed(0, 40);
    await engine.transition((await repo.get(rows[2]!.id))!, 'paused');
    expect(ss[2]!.evaluator).toBeUndefined();
    feed(40, 80);
    await engine.transition((await repo.get(rows[2]!.id))!, 'running');
    // resumed: an evaluator of its own, warmed on the window as it is now (the other two have seen live ticks)
    expect(engine.cohorts.built).toBe(2);
    expect(ss[2]!.evaluator).toBeDefined();
    expect(ss[2]!.evaluator).not.toBe(ss[0]!.evaluator);
    expect(ss[1]!.evaluator).toBe(ss[0]!.evaluator);
    feed(80, 200);
    // (the test app's own engine also hears these signals on the bus and may execute some first: this
    // engine then finds them done, as a second instance would)
    await until(() => engine.stats.fills + engine.stats.refused + engine.stats.duplicates >= engine.stats.signals);
    // the two that shared all along made the same decisions
    const sides = async (id: string) => (await repo.trades(id)).map((x) => [x.side, String(x.ts)]);
    expect((await sides(rows[0]!.id)).length).toBeGreaterThan(2);
    expect(await sides(rows[1]!.id)).toEqual(await sides(rows[0]!.id));
    await engine.close();
  });

  it('a timer flush waits for the commits in flight, but no longer than its bound', async () => {
    const u = await t.user();
    const row = await runningSession(u.id, 'QUIETUSD', 10_000);
    const engine = new ForwardTestEngine(t.rt);
    const s = await engine.load(row);
    // the engine's own repository on the test database, its group commit held up by `delayMs`
    const repo = (engine as unknown as { repo: ReturnType<typeof forwardTestsRepo> }).repo;
    const executeMany = repo.executeMany.bind(repo);
    const insertEquity = repo.insertEquity.bind(repo);
    let delayMs = 0;
    let commitStarted = false;
    let commitEnded = 0;
    let equityStarted = 0;
    repo.executeMany = async (es) => {
      commitStarted = true;
      await new Promise((r) => setTimeout(r, delayMs));
      const n = await executeMany(es);
      commitEnded = performance.now();
      return n;
    };
    repo.insertEquity = async (points) => {
      equityStarted = performance.now();
      return insertEquity(points);
    };
    let n = 0;
    const round = async (ms: number) => {
      delayMs = ms;
      commitStarted = false;
      n++;
      s.mark({ symbol: 'QUIETUSD', ts: Date.UTC(2026, 0, 1, 0, n), price: 100 + n, size: 1 }, Date.now());
      const commit = engine.submit(s, {
        id: `${row.id}:quiet:${n}`,
        sessionId: row.id,
        userId: u.id,
        symbol: 'QUIETUSD',
        action: n % 2 ? 'buy' : 'sell',
        sizing: 'fixed_qty',
        amount: 1,
        source: 'test',
        tickTs: Date.UTC(2026, 0, 1, 0, n),
        price: 100 + n,
        receivedAt: Date.now(),
      });
      await until(() => commitStarted);
      const asked = performance.now();
      await Promise.all([commit, engine.flush({})]);
      return { asked, equityStarted, commitEnded };
    };
    // a short commit: the equity points go in after it
    const short = await round(60);
    expect(short.equityStarted).toBeGreaterThanOrEqual(short.commitEnded);
    // a commit longer than the bound: the points do not wait for it
    const long = await round(1500);
    expect(long.equityStarted).toBeLessThan(long.commitEnded);
    expect(long.equityStarted - long.asked).toBeGreaterThanOrEqual(90);
    expect(await forwardTestsRepo(t.rt.db.db).equity(row.id)).toHaveLength(2);
    await engine.close();
  });
});
