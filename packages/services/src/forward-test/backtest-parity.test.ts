import { TOPICS, type PortfolioLimits, type RiskLimits } from '@algotrade/core';
import {
  compileGraph,
  runBacktest,
  runPortfolio,
  templateById,
  toColumns,
  viewBars,
  type BacktestResult,
} from '@algotrade/strategy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { googBars } from '../../../../test/helpers/goog.ts';
import { until } from '../../../../test/helpers/wait.ts';
import type { ForwardTestEngine } from './engine.ts';
import type { LiveSession } from './live-session.ts';

// The same strategy, money and risk limits as a backtest and as a paper session on each closed daily
// candle, the session fed GOOG's real daily bars as ticks through the bus (the open, the low, the
// close: a long's equity is never at a peak at its low, so both mark their peaks at the same prices).
// The backtest is run on the bars those ticks make.
const HOUR = 3_600_000;
const goog = googBars();
// the bars the ticks make: the open, the low and the close (the high is the higher of open and close)
const bars = toColumns(
  Array.from({ length: goog.length }, (_, i) => ({
    ts: goog.ts[i]!,
    open: goog.open[i]!,
    high: Math.max(goog.open[i]!, goog.close[i]!),
    low: Math.min(goog.low[i]!, goog.open[i]!, goog.close[i]!),
    close: goog.close[i]!,
    volume: goog.volume[i]!,
  })),
);
const graph = templateById('sma-crossover')!.graph;
const plan = compileGraph(graph).plan!;
const money = { startingBalance: 10_000, feeRate: 0.001 };
type Fill = { side: string; quantity: number; price: number; ts: string };

/** the backtest's trades as the fills a session records: a buy at the entry, a sell at the exit */
const fillsOf = (trades: BacktestResult['trades']) =>
  trades.flatMap((t) => [
    { side: 'buy', quantity: t.size, price: t.entryPrice, ts: new Date(t.entryTime).toISOString() },
    ...(t.exitReason === 'end'
      ? []
      : [
          {
            side: 'sell',
            quantity: t.size,
            price: t.exitPrice,
            ts: new Date(t.exitTime).toISOString(),
            reason: t.exitReason,
          },
        ]),
  ]);

/**
 * GOOG's daily closes, each as a bar's open, high, low and close: fed as ticks, a backtest's stop or
 * target at a bar that opens beyond it fills at that open, a session's at that tick, one price
 */
const flatCloses = () =>
  toColumns(
    Array.from({ length: goog.length }, (_, i) => {
      const p = goog.close[i]!;
      return { ts: goog.ts[i]!, open: p, high: p, low: p, close: p, volume: goog.volume[i]! };
    }),
  );

describe('a paper session on candles trades as the backtest of the same settings', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let strategyId: string;
  const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: a.auth, ...(payload ? { payload } : {}) });
  beforeAll(async () => {
    // polled often while the ticks are worked through; a paper portfolio's limits checked only when the
    // test says (checkPortfolios), after each day's ticks
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '1000000', FT_PORTFOLIO_CHECK_MS: '3600000' });
    a = await t.user();
    strategyId = (await call('POST', '/api/strategies', { name: 'crossover', graph })).json().id;
  });
  afterAll(() => t.stop());

  /** a session expects what its ledger holds: its side, and its entries (an addition in flight: not yet) */
  const expected = (x: LiveSession) =>
    x.intent === Math.sign(x.ledger.qty) && x.entriesIntent === (x.ledger.qty ? Math.max(1, x.ledger.entries) : 0);

  /** a session on `symbol` with these limits, fed bars `from` to `until_` (and one tick more, to close the last candle) */
  async function session(
    symbol: string,
    risk: RiskLimits,
    until_?: number,
    from = 0,
    strategy = strategyId,
    src: typeof bars = bars,
    more: object = {},
  ) {
    const resumes = !!risk.resumeNextDay;
    const r = await call('POST', '/api/forward-tests', {
      strategyId: strategy,
      symbol,
      ...money,
      ...more,
      wholeUnits: true,
      evaluation: { mode: 'candle', interval: '1d' },
      risk,
    });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id;
    // a live feed gives the engine time between ticks: each tick goes once the session's last signal
    // has executed (its ledger holds what it sent), so no order fills at a later tick's price
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    const live = () => (engine as unknown as { sessions: Map<string, LiveSession> }).sessions.get(id);
    await until(() => live() !== undefined);
    let seq = 0;
    const n = until_ ?? src.length;
    for (let i = from; i <= n; i++) {
      const ticks =
        i < n
          ? ([
              [0, src.open[i]!],
              [HOUR, src.low[i]!],
              [2 * HOUR, src.close[i]!],
            ] as const)
          : ([[86_400_000, src.close[n - 1]!]] as const); // the next day's first tick closes the last candle
      const day = src.ts[Math.min(i, n - 1)]!;
      for (const [dt, price] of ticks) {
        const tick = { ts: day + dt, price, size: 1, seq: ++seq };
        await t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', { symbol, ticks: [tick] });
        for (let k = 0; ; k++) {
          const s = live();
          // settled: its signal executed (an addition too: the entries it expects are the ledger's), and
          // a new day's resume (resumeNextDay) done
          const resuming = !!s && resumes && s.status === 'paused' && Math.floor(tick.ts / 86_400_000) > s.ledger.day;
          if (engine.quote(symbol)?.ts === tick.ts && (!s || (expected(s) && !resuming))) break;
          if (k > 20_000) throw new Error(`bar ${i}: the session did not settle`);
          await new Promise((r) => setImmediate(r));
        }
      }
    }
    return id as string;
  }
  /** every fill the same: the day, side, quantity and price */
  const sameFills = (got: Fill[], want: Fill[]) => {
    expect(got.map((f) => [f.side, f.quantity, f.ts])).toEqual(want.map((f) => [f.side, Math.abs(f.quantity), f.ts]));
    got.forEach((f, k) => expect(f.price).toBeCloseTo(want[k]!.price, 9));
  };
  const fills = async (id: string): Promise<Fill[]> =>
    ((await call('GET', `/api/forward-tests/${id}/trades`)).json() as Fill[]).map((f) => ({
      side: f.side,
      quantity: f.quantity,
      price: f.price,
      ts: f.ts,
    }));

  it('warmed on the stored daily candles before it: its first live days trade as the backtest, with no warm-up to wait out', async () => {
    // a start five days before an entry, with the trade before it closed well before (flat in both)
    const all = runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001, wholeUnits: true }).trades;
    const k = all.findIndex((x, j) => j > 3 && x.entryBar - all[j - 1]!.exitBar > 10);
    expect(k).toBeGreaterThan(0);
    const start = all[k]!.entryBar - 5;
    const end = start + 60;
    // the history before it is stored; the feed was running: the window holds the last stored day's close
    const symbol = 'PARITYE';
    const csv = ['ts,open,high,low,close,volume']
      .concat(
        Array.from({ length: start }, (_, i) =>
          [bars.ts[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]].join(','),
        ),
      )
      .join('\n');
    const imported = await t.app.inject({
      method: 'POST',
      url: `/api/market/history/import?symbol=${symbol}&interval=1d`,
      headers: { ...a.auth, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(imported.json()).toMatchObject({ imported: start });
    const before = { ts: bars.ts[start - 1]! + 2 * HOUR, price: bars.close[start - 1]!, size: 1, seq: 0 };
    await t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', { symbol, ticks: [before] });
    await until(async () => (await t.rt.windows.latest(symbol, 1)).length === 1);
    const id = await session(symbol, {}, end, start);
    // the backtest over the same bars, from the first of them: its fills from the session's first day
    const bt = runBacktest(plan, viewBars(bars, 0, end), { cash: 10_000, feeRate: 0.001, wholeUnits: true });
    const want = fillsOf(bt.trades).filter((f) => Date.parse(f.ts) >= bars.ts[start]!);
    expect(want.length).toBeGreaterThanOrEqual(2);
    // the first entry within the SMA(30)'s warm-up of the start: a session warmed on live candles alone
    // could not have made it
    expect(Date.parse(want[0]!.ts) - bars.ts[start]!).toBeLessThan(30 * 86_400_000);
    const got = await fills(id);
    expect(got.map((f) => [f.side, f.ts])).toEqual(want.map((f) => [f.side, f.ts]));
    got.forEach((f, j) => expect(f.price).toBeCloseTo(want[j]!.price, 9));
    // it says what it warmed on: 10 × the SMA(30)'s 30 bars and one, of the stored days before the window's
    // day, and the window's tick
    const view = (await call('GET', `/api/forward-tests/${id}`)).json();
    expect(view.warmedOn).toEqual({ storedCandles: Math.min(301, start - 1), windowTicks: 1 });
  }, 90_000);

  it('position caps: every fill the same, at the same open, price and quantity', async () => {
    const risk = { maxPositionPct: 50 };
    const want = fillsOf(runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001, wholeUnits: true, risk }).trades);
    expect(want.length).toBeGreaterThan(40);
    const id = await session('PARITYA', risk);
    const got = await fills(id);
    sameFills(got, want);
  }, 90_000);

  it.each([
    ['drawdown', { maxDrawdownPct: 20 }, 'max_drawdown', 'stopped'],
    ['daily loss', { maxDailyLossPct: 6 }, 'max_daily_loss', 'paused'],
  ] as const)(
    'a %s limit (%o): the same fills until it (%s), reached on the same day, the session then %s',
    async (name, risk, limit, status) => {
      const bt = runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001, wholeUnits: true, risk });
      const halt = bt.risk!.halts[0]!;
      expect(halt.limit).toBe(limit);
      // the backtest's fills until the limit closed the position (a daily loss's resumes the next day)
      const k = bt.trades.findIndex((x) => x.exitReason === limit);
      expect(k).toBeGreaterThan(3);
      const want = fillsOf(bt.trades.slice(0, k + 1));
      const id = await session(`PARITY${name === 'drawdown' ? 'B' : 'C'}`, risk, halt.bar + 5);
      await until(async () => (await call('GET', `/api/forward-tests/${id}`)).json().status === status, 60_000);
      const s = (await call('GET', `/api/forward-tests/${id}`)).json();
      // and stays so: five more days of ticks did not resume it
      expect(s).toMatchObject({ status, failureReason: `risk limit: ${limit}` });
      const got = await fills(id);
      expect(got).toHaveLength(want.length);
      expect(got.slice(0, -1).map((f) => [f.side, f.quantity, f.ts])).toEqual(
        want.slice(0, -1).map((f) => [f.side, Math.abs(f.quantity), f.ts]),
      );
      got.slice(0, -1).forEach((f, j) => expect(f.price).toBeCloseTo(want[j]!.price, 9));
      // the last: on the halt's day; the session's at the tick that crossed the floor (the day's low, or
      // its open after a gap), the backtest's at the floor's price or that open: never better than it
      const last = got.at(-1)!;
      expect(last.side).toBe('sell');
      expect(Date.parse(last.ts) - halt.time).toBeGreaterThanOrEqual(0);
      expect(Date.parse(last.ts) - halt.time).toBeLessThan(86_400_000);
      expect(last.price).toBeLessThanOrEqual(want.at(-1)!.price + 1e-9);
      expect(last.price).toBeGreaterThanOrEqual(bars.low[halt.bar]! - 1e-9);
    },
    90_000,
  );

  it('a daily loss limit with resumeNextDay: paused on the same days, resumed by the next day’s first tick, trading on as the backtest', async () => {
    const risk = { maxDailyLossPct: 6, resumeNextDay: true };
    const bt = runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001, wholeUnits: true, risk });
    const halts = bt.risk!.halts;
    expect(halts.length).toBeGreaterThan(1);
    const want = fillsOf(bt.trades);
    const id = await session('PARITYD', risk);
    const s = (await call('GET', `/api/forward-tests/${id}`)).json();
    expect(s.status).toBe('running');
    const got = await fills(id);
    // every fill on the same day and side; entries and signal exits at the same price, a daily loss's
    // exit never better than the backtest's; the same quantities until the first such exit, then never
    // more (all in, with the cash those exits left: never more than the backtest's)
    expect(got.map((f) => [f.side, f.ts.slice(0, 10)])).toEqual(want.map((f) => [f.side, f.ts.slice(0, 10)]));
    got.forEach((f, j) => {
      const w = want[j]!;
      // the limit's: at the tick that crossed the floor (the day's low), the rest at the day's open
      if ('reason' in w && w.reason === 'max_daily_loss') expect(f.price).toBeLessThanOrEqual(w.price + 1e-9);
      else expect([f.ts, f.price]).toEqual([w.ts, expect.closeTo(w.price, 9)]);
      if (Date.parse(f.ts) <= halts[0]!.time) expect(f.quantity).toBe(Math.abs(w.quantity));
      else expect(f.quantity).toBeLessThanOrEqual(Math.abs(w.quantity));
    });
    // each pause's close in the session's order log, on the backtest's halts' days
    const orders = (await call('GET', `/api/forward-tests/${id}/orders?limit=10000`)).json() as {
      source: string;
      ts: string;
    }[];
    const paused = orders
      .filter((o) => o.source === 'max_daily_loss')
      .map((o) => o.ts.slice(0, 10))
      .sort();
    expect(paused).toEqual(halts.map((h) => new Date(h.time).toISOString().slice(0, 10)));
  }, 90_000);

  it('a cooldown after two losing trades in a row: the same entries held back, every fill the same', async () => {
    // the crossover, with no new position for 30 days after a second losing trade in a row
    const cooled = structuredClone(graph);
    const data = { minutes: 30 * 1440, after: 'loss', count: 2 };
    cooled.nodes.push({ id: 'guard', type: 'risk.cooldown', data, position: { x: 0, y: 0 } });
    const guarded = compileGraph(cooled).plan!;
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: true };
    const bt = runBacktest(guarded, bars, opts);
    // it held entries back: fewer trades than without it, and more than a cooldown after every loss
    const plain = runBacktest(plan, bars, opts).trades.length;
    const single = runBacktest(
      compileGraph({
        ...cooled,
        nodes: cooled.nodes.map((n) => (n.id === 'guard' ? { ...n, data: { ...data, count: 1 } } : n)),
      }).plan!,
      bars,
      opts,
    ).trades.length;
    expect(bt.trades.length).toBeLessThan(plain);
    expect(bt.trades.length).toBeGreaterThan(single);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, cooled', graph: cooled })).json().id;
    const sid = await session('PARITYF', {}, undefined, 0, id);
    const got = await fills(sid);
    const want = fillsOf(bt.trades);
    sameFills(got, want);
    // the view: the run of losses the closed trades end with (a cooldown started restarts it), and the
    // cooldown the last one started, if it lasts beyond the last tick
    let run = 0;
    let until = 0;
    for (const x of bt.trades.filter((x) => x.exitReason !== 'end')) {
      run = x.pnl < 0 ? run + 1 : 0;
      if (run === 2) [run, until] = [0, x.exitTime + data.minutes * 60_000];
    }
    const view = (await call('GET', `/api/forward-tests/${sid}`)).json();
    const lastTick = bars.ts[bars.length - 1]! + 86_400_000;
    expect(view).toMatchObject({
      cooldownRun: run,
      cooldownUntil: until > lastTick ? new Date(until).toISOString() : null,
    });
  }, 90_000);

  it('a cooldown after two losing trades within 60 days, wins between them or not: the same entries held back, every fill the same', async () => {
    const cooled = structuredClone(graph);
    const data = { minutes: 30 * 1440, after: 'loss', count: 2, withinMinutes: 60 * 1440 };
    cooled.nodes.push({ id: 'guard', type: 'risk.cooldown', data, position: { x: 0, y: 0 } });
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: true };
    const bt = runBacktest(compileGraph(cooled).plan!, bars, opts);
    // the window matters: the same two losses in a row hold back other entries
    const inRow = structuredClone(cooled);
    inRow.nodes.find((n) => n.id === 'guard')!.data = { ...data, withinMinutes: 0 };
    expect(runBacktest(compileGraph(inRow).plan!, bars, opts).trades).not.toEqual(bt.trades);
    expect(bt.trades.length).toBeLessThan(runBacktest(plan, bars, opts).trades.length);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, cooled within', graph: cooled })).json().id;
    const sid = await session('PARITYW', {}, undefined, 0, id);
    const got = await fills(sid);
    const want = fillsOf(bt.trades);
    sameFills(got, want);
    // the view: the losses within the window at the last tick, as the trades give them
    const win = data.withinMinutes * 60_000;
    let kept: number[] = [];
    for (const x of bt.trades.filter((x) => x.exitReason !== 'end' && x.pnl < 0)) {
      kept = [...kept.filter((t) => t > x.exitTime - win), x.exitTime];
      if (kept.length === 2) kept = [];
    }
    const lastTick = bars.ts[bars.length - 1]! + 86_400_000;
    const view = (await call('GET', `/api/forward-tests/${sid}`)).json();
    expect(view.cooldownRun).toBe(kept.filter((t) => t > lastTick - win).length);
  }, 90_000);

  it('a take-profit ladder: a day beyond several steps takes each of them that day, every fill the same', async () => {
    // one price a day (the close, as the open, the low and the close): a backtest's step at a bar that
    // opens beyond it fills at that open, a session's at that tick, so each fill's price is the same
    const flat = flatCloses();
    const laddered = structuredClone(graph);
    const data = { pct1: 2, share1: 50, pct2: 4, share2: 25, pct3: 6, share3: 25 };
    laddered.nodes.push({ id: 'ladder', type: 'risk.take_profit_ladder', data, position: { x: 0, y: 0 } });
    const bt = runBacktest(compileGraph(laddered).plan!, flat, { cash: 10_000, feeRate: 0.001, wholeUnits: true });
    // days that took two steps or more, in the backtest
    const steps = new Map<number, number>();
    for (const x of bt.trades)
      if (x.exitReason === 'take_profit') steps.set(x.exitTime, (steps.get(x.exitTime) ?? 0) + 1);
    expect([...steps.values()].filter((k) => k > 1).length).toBeGreaterThan(5);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, laddered', graph: laddered })).json().id;
    const sid = await session('PARITYL', {}, undefined, 0, id, flat);
    const got = await fills(sid);
    // a position's fills: one buy (the backtest's trades of one entry, a trade a step), then each step's
    // sell and the rest's
    const want: Fill[] = [];
    bt.trades.forEach((x, k) => {
      if (k === 0 || bt.trades[k - 1]!.entryTime !== x.entryTime) {
        const size = bt.trades.filter((y) => y.entryTime === x.entryTime).reduce((a, y) => a + y.size, 0);
        want.push({ side: 'buy', quantity: size, price: x.entryPrice, ts: new Date(x.entryTime).toISOString() });
      }
      if (x.exitReason !== 'end')
        want.push({ side: 'sell', quantity: x.size, price: x.exitPrice, ts: new Date(x.exitTime).toISOString() });
    });
    sameFills(got, want);
  }, 90_000);

  it('adding to a position, each addition 1.5 times the one before, 1.5 times further: the same entries, sizes and exits', async () => {
    // the RSI dip-buyer (up to four entries, 10 % of the equity and 1.5 times more each time, 3 % under the
    // average, then 4.5 %, then 6.75 %)
    const scaled = structuredClone(templateById('rsi-scale-in')!.graph);
    for (const n of scaled.nodes)
      if (n.id === 'buy') n.data = { ...n.data, amount: 10, addScale: 1.5, addStepScale: 1.5 };
    const flat = flatCloses();
    const bt = runBacktest(compileGraph(scaled).plan!, flat, { cash: 10_000, feeRate: 0.001, wholeUnits: true });
    expect(bt.trades.filter((x) => x.entries === 4).length).toBeGreaterThan(5);
    const id = (await call('POST', '/api/strategies', { name: 'scale-in, scaled', graph: scaled })).json().id;
    const got = await fills(await session('PARITYN', {}, undefined, 0, id, flat));
    // the session's positions: their entries (each a buy) and exits (each a sell)
    const positions: { buys: Fill[]; sells: Fill[] }[] = [];
    let open = 0;
    for (const f of got) {
      if (open === 0) positions.push({ buys: [], sells: [] });
      positions.at(-1)![f.side === 'buy' ? 'buys' : 'sells'].push(f);
      open += f.side === 'buy' ? f.quantity : -f.quantity;
    }
    // the backtest's: a trade per exit, those of one position sharing its entry time
    const byEntry = new Map<number, typeof bt.trades>();
    for (const x of bt.trades) byEntry.set(x.entryTime, [...(byEntry.get(x.entryTime) ?? []), x]);
    expect(positions.length).toBe(byEntry.size);
    [...byEntry.values()].forEach((trades, k) => {
      const { buys, sells } = positions[k]!;
      const units = buys.reduce((a, f) => a + f.quantity, 0);
      // as many entries, summing to the backtest's size, at its average entry price
      expect(buys.length).toBe(trades[0]!.entries ?? 1);
      expect(units).toBe(trades.reduce((a, x) => a + x.size, 0));
      expect(buys.reduce((a, f) => a + f.quantity * f.price, 0) / units).toBeCloseTo(trades[0]!.entryPrice, 9);
      // each addition 1.5 times the one before, give or take its whole units and the equity it is a share of
      for (let j = 1; j < buys.length; j++) expect(buys[j]!.quantity).toBeGreaterThan(buys[j - 1]!.quantity);
      // the exits the same, but the backtest's closing at its last bar
      const exits = trades.filter((x) => x.exitReason !== 'end');
      expect(sells.map((f) => [f.quantity, f.ts])).toEqual(
        exits.map((x) => [x.size, new Date(x.exitTime).toISOString()]),
      );
      sells.forEach((f, j) => expect(f.price).toBeCloseTo(exits[j]!.exitPrice, 9));
    });
  }, 90_000);

  it("a limit entry resting three days: filled on the same day at the same price (its level, or an open past it) and fee (a maker's at its level)", async () => {
    const limit = structuredClone(graph);
    limit.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'all', orderType: 'limit', offsetPct: 1, validBars: 3 };
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: true };
    const bt = runBacktest(compileGraph(limit).plan!, bars, { ...opts, makerFeeRate: 0.0002 });
    // the crossover's buy signals (the days before its market entries); entries two or three days after
    // theirs, and at opens past the level, are among the limit's
    const signals = runBacktest(plan, bars, opts).trades.map((x) => x.entryBar - 1);
    const late = bt.trades.filter((x) => x.entryBar - signals.filter((b) => b < x.entryBar).at(-1)! > 1);
    expect(late.length).toBeGreaterThan(3);
    expect(bt.trades.some((x) => x.entryPrice === bars.open[x.entryBar])).toBe(true);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, limit entries', graph: limit })).json().id;
    // a fill at the level within a day: the backtest's at the day's time, the session's at its tick
    const day = (f: Fill) => ({ ...f, ts: f.ts.slice(0, 10) });
    const sid = await session('PARITYR', {}, undefined, 0, id, bars, { makerFeeRate: 0.0002 });
    sameFills((await fills(sid)).map(day), fillsOf(bt.trades).map(day));
    // each round trip's fees the backtest's: the entry at its level a maker's (sized with its rate), the
    // entry at an open past it and the crossover's market exit a taker's
    const paid = ((await call('GET', `/api/forward-tests/${sid}/trades`)).json() as { fee: number }[]).map(
      (f) => f.fee,
    );
    let makers = 0;
    bt.trades.forEach((x, k) => {
      if (x.exitReason === 'end') return;
      expect(paid[2 * k]! + paid[2 * k + 1]!).toBeCloseTo(x.fees, 6);
      if (paid[2 * k]! < x.size * x.entryPrice * 0.0005) makers++;
    });
    expect(makers).toBeGreaterThan(3);
  }, 90_000);

  it("an exchange's lot size and minimum order value: the same entries made and refused, in the same quarter shares", async () => {
    // ten and a bit shares a buy, in lots of a quarter (10.25), none worth under 4,000 (GOOG under 390.24)
    const lots = structuredClone(graph);
    lots.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 10.3 };
    const exchange = { qtyStep: 0.25, minNotional: 4000 };
    const bt = runBacktest(compileGraph(lots).plan!, bars, { cash: 10_000, feeRate: 0.001, ...exchange });
    expect(bt.trades.length).toBeGreaterThan(5);
    expect(bt.trades.every((x) => x.size === 10.25)).toBe(true);
    expect(bt.risk!.refused.MIN_NOTIONAL).toBeGreaterThan(3);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, in lots', graph: lots })).json().id;
    const sid = await session('PARITYQ', {}, undefined, 0, id, bars, exchange);
    sameFills(await fills(sid), fillsOf(bt.trades));
    // each entry the backtest did not make, refused by the session as under the minimum
    const refused = (await call('GET', `/api/forward-tests/${sid}/orders?status=refused&limit=10000`)).json() as {
      reason: string;
    }[];
    expect(refused.filter((o) => /under the minimum of 4000/.test(o.reason)).length).toBe(
      bt.risk!.refused.MIN_NOTIONAL,
    );
  }, 90_000);

  it("a short's borrow rate: the same fills, and the same borrow paid at the same funding times", async () => {
    // short on the crossover down, closed on the cross up: every position a short that borrows
    const shortOnly = structuredClone(graph);
    const up = shortOnly.nodes.find((n) => n.id === 'buy')!;
    up.type = 'action.close';
    up.data = {};
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: true, allowShort: true, borrowRatePct: 20 };
    const bt = runBacktest(compileGraph(shortOnly).plan!, bars, opts);
    // fed until the day the last short closed: the session is flat again, having paid what they paid
    const closed = bt.trades.filter((x) => x.exitReason !== 'end');
    expect(closed.length).toBeGreaterThan(10);
    expect(closed.every((x) => x.size < 0 && x.funding! > 0)).toBe(true);
    const last = closed.at(-1)!;
    const id = (await call('POST', '/api/strategies', { name: 'shorts, borrowing', graph: shortOnly })).json().id;
    const sid = await session('PARITYT', {}, last.exitBar + 1, 0, id, bars, { allowShort: true, borrowRatePct: 20 });
    const upTo = new Date(last.exitTime).toISOString();
    const want = fillsOf(closed).map((f) => ({ ...f, side: f.side === 'buy' ? 'sell' : 'buy' }));
    sameFills(
      (await fills(sid)).filter((f) => f.ts <= upTo),
      want,
    );
    const view = (await call('GET', `/api/forward-tests/${sid}`)).json();
    expect(view.funding).toBeCloseTo(
      closed.reduce((sum, x) => sum + x.funding!, 0),
      6,
    );
  }, 90_000);

  /**
   * A paper portfolio of the crossover on GOOG's daily closes and on the same closes backwards (a falling
   * market), each day one tick a symbol, its limits checked after each day as the timer would between
   * ticks; against the portfolio backtest of the same with the limits on its summed equity, checked at
   * each merged close. Fed until `days` after the backtest's last halt (Infinity: every day).
   */
  async function limitedPortfolio(name: string, limits: PortfolioLimits, days = 20, weights = [0.5, 0.5]) {
    const up = flatCloses();
    const n = up.length;
    const down = toColumns(
      Array.from({ length: n }, (_, i) => {
        const p = up.close[n - 1 - i]!;
        return { ts: up.ts[i]!, open: p, high: p, low: p, close: p, volume: 1 };
      }),
    );
    const symbols = [`${name}U`, `${name}D`];
    const legs = [
      { symbol: symbols[0]!, weight: weights[0]!, bars: up },
      { symbol: symbols[1]!, weight: weights[1]!, bars: down },
    ];
    const bt = await runPortfolio(
      legs,
      { cash: 10_000, feeRate: 0.001 },
      async (b, o, onProgress) => runBacktest(plan, b, { ...o, wholeUnits: true, onProgress }),
      { limits },
    );
    const r = await call('POST', '/api/forward-tests/portfolio', {
      strategyId,
      symbols,
      weights,
      ...money,
      wholeUnits: true,
      evaluation: { mode: 'candle', interval: '1d' },
      portfolioRisk: limits,
    });
    expect(r.statusCode, r.body).toBe(201);
    const ids: string[] = r.json().sessions.map((x: { id: string }) => x.id);
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    const live = (id: string) => (engine as unknown as { sessions: Map<string, LiveSession> }).sessions.get(id);
    await until(() => ids.every((id) => live(id) !== undefined));
    const check = t.ctx.shared.checkPortfolios as () => Promise<void>;
    const last = Math.max(...bt.halts!.map((h) => up.ts.indexOf(h.at)));
    const end = Math.min(n, last + days);
    let seq = 0;
    for (let i = 0; i < end; i++) {
      for (const [k, leg] of legs.entries()) {
        const tick = { ts: leg.bars.ts[i]!, price: leg.bars.close[i]!, size: 1, seq: ++seq };
        await t.rt.bus.publish(TOPICS.marketDataUpdates.name, leg.symbol, 'ticks', {
          symbol: leg.symbol,
          ticks: [tick],
        });
        for (let w = 0; ; w++) {
          const s = live(ids[k]!);
          // settled: the tick seen, its signal executed, a new day's resume (resumeNextDay) done
          const resuming =
            !!s && s.status === 'paused' && !!limits.resumeNextDay && Math.floor(tick.ts / 86_400_000) > s.ledger.day;
          if (engine.quote(leg.symbol)?.ts === tick.ts && (!s || (expected(s) && !resuming))) break;
          if (w > 20_000) throw new Error(`day ${i}: ${leg.symbol}'s session did not settle`);
          await new Promise((res) => setImmediate(res));
        }
      }
      // the limits on the summed equity, at the day's close
      await check();
    }
    return { bt, ids, symbols, end };
  }

  it("a paper portfolio's drawdown stop on its summed equity: stopped on the backtest's day, every fill of each symbol the same", async () => {
    const { bt, ids, symbols } = await limitedPortfolio('PPD', { maxDrawdownPct: 12 });
    expect(bt.halts).toHaveLength(1);
    const day = new Date(bt.halts![0]!.at).toISOString();
    let closed = 0;
    for (const [k, symbol] of symbols.entries()) {
      const s = (await call('GET', `/api/forward-tests/${ids[k]}`)).json();
      expect(s).toMatchObject({ status: 'stopped', position: null });
      expect(s.failureReason).toMatch(/^portfolio risk limit: max_drawdown/);
      const want = fillsOf(bt.trades.filter((x) => x.symbol === symbol));
      expect(want.length).toBeGreaterThan(2);
      // a position open then: closed by the stop on the halt's day, at its close
      const last = want.at(-1)!;
      if ('reason' in last && last.reason === 'portfolio_max_drawdown') {
        closed++;
        expect(last).toMatchObject({ side: 'sell', ts: day });
      } else expect(Date.parse(last.ts)).toBeLessThan(Date.parse(day));
      sameFills(await fills(ids[k]!), want);
    }
    expect(closed).toBeGreaterThan(0);
  }, 120_000);

  it("a paper portfolio's daily loss on its summed equity, resuming the next day: paused on the backtest's days, every fill the same", async () => {
    // a 2 % day of the sum: reached again and again, each time paused to the next day (fed to the end).
    // Mostly in the falling market, so the sum is at times under its start: the day a pause ends counts
    // from where the pause left it, not from older equity
    const { bt, ids, symbols } = await limitedPortfolio(
      'PPL',
      { maxDailyLossPct: 2, resumeNextDay: true },
      Infinity,
      [0.1, 0.9],
    );
    expect(bt.halts!.length).toBeGreaterThan(10);
    expect(bt.halts!.filter((h) => bt.equity[bt.ts.indexOf(h.at)]! < 9_800).length).toBeGreaterThan(2);
    const closes = new Set<string>();
    for (const [k, symbol] of symbols.entries()) {
      const s = (await call('GET', `/api/forward-tests/${ids[k]}`)).json();
      expect(s.status).toBe('running');
      const want = fillsOf(bt.trades.filter((x) => x.symbol === symbol));
      const got = await fills(ids[k]!);
      sameFills(got, want);
      // the pauses' closes on the same days
      const paused = (await call('GET', `/api/forward-tests/${ids[k]}/trades`))
        .json()
        .filter((f: { source: string }) => f.source === 'portfolio_max_daily_loss')
        .map((f: { ts: string }) => f.ts);
      expect(paused).toEqual(
        want.filter((f) => 'reason' in f && f.reason === 'portfolio_max_daily_loss').map((f) => f.ts),
      );
      for (const d of paused) closes.add(d);
    }
    // every close on a halt's day, and most halts closed a position (a leg flat then has none to close)
    const days = bt.halts!.map((h) => new Date(h.at).toISOString());
    for (const d of closes) expect(days).toContain(d);
    expect(closes.size).toBeGreaterThan(days.length / 2);
  }, 120_000);

  it("a stop on a strategy that turns round (shorts allowed): the candle's action first, as a backtest fills it at the open before its stops", async () => {
    const flat = flatCloses();
    const stopped = structuredClone(graph);
    stopped.nodes.push({ id: 'stop', type: 'risk.stop_loss', data: { percent: 3 }, position: { x: 0, y: 0 } });
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: true, allowShort: true };
    const bt = runBacktest(compileGraph(stopped).plan!, flat, opts);
    const id = (await call('POST', '/api/strategies', { name: 'crossover, stopped', graph: stopped })).json().id;
    const sid = await session('PARITYS', {}, undefined, 0, id, flat, { allowShort: true });
    const got = await fills(sid);
    // the backtest's entries and exits as fills, a short's entry a sell; a turn (an exit and an entry at
    // one open) is one fill of both
    const want: Fill[] = [];
    for (const x of bt.trades.flatMap((x) => [
      { side: x.size > 0 ? 'buy' : 'sell', quantity: Math.abs(x.size), price: x.entryPrice, ts: x.entryTime },
      ...(x.exitReason === 'end'
        ? []
        : [{ side: x.size > 0 ? 'sell' : 'buy', quantity: Math.abs(x.size), price: x.exitPrice, ts: x.exitTime }]),
    ])) {
      const ts = new Date(x.ts).toISOString();
      const last = want.at(-1);
      if (last && last.ts === ts && last.side === x.side) last.quantity += x.quantity;
      else want.push({ ...x, ts });
    }
    expect(bt.trades.filter((x) => x.exitReason === 'stop_loss').length).toBeGreaterThan(5);
    // days the strategy turned round at an open that was past the stop too: the turn, not the stop
    const past = bt.trades.filter(
      (x) =>
        x.exitReason !== 'stop_loss' &&
        x.exitReason !== 'end' &&
        (x.size > 0 ? x.exitPrice <= x.entryPrice * 0.97 : x.exitPrice >= x.entryPrice * 1.03),
    );
    expect(past.length).toBeGreaterThan(0);
    sameFills(got, want);
  }, 90_000);
});
