import { applyFill, copyLedger, newLedger, planOrder, type LedgerState } from '@algotrade/core';
import { compileGraph, evaluateNode, templateById } from '@algotrade/strategy';
import { describe, expect, it } from 'vitest';
import { tickSettings } from '../../../../test/helpers/sessions.ts';
import { alwaysBuying, exitWhen, gatedBy, withAtrRules } from '../../../../test/helpers/graphs.ts';
import { LiveSession, sessionEvaluator, type SessionSettings } from './live-session.ts';

const T0 = Date.UTC(2026, 0, 5, 12);
const settings: SessionSettings = tickSettings(10_000);

/** A running session of the SMA crossover with risk nodes added, long 10 units from 100 at T0 (no evaluator: the risk rules alone). */
function longSession(...risk: [type: string, data: Record<string, number | string>][]) {
  return sessionWith(settings, ...risk);
}
function sessionWith(settings: SessionSettings, ...risk: [type: string, data: Record<string, number | string>][]) {
  const g = structuredClone(templateById('sma-crossover')!.graph);
  risk.forEach(([type, data], k) => g.nodes.push({ id: `r${k}`, type, data, position: { x: 0, y: 0 } }));
  const plan = compileGraph(g).plan!;
  const ledger = newLedger(settings, T0);
  const buy = planOrder(ledger, settings, {}, { action: 'buy', sizing: 'fixed_qty', amount: 10, price: 100, ts: T0 });
  if (buy.kind !== 'fill') throw new Error(buy.kind);
  applyFill(ledger, buy.fill);
  return new LiveSession('s1', 'u1', 'EQUSD', settings, plan, undefined, ledger as LedgerState, 'running');
}
/** The rule that fires on each of these prices, a second apart from T0 + 1 s (null: none). */
const marks = (s: LiveSession, prices: number[], from = 1) =>
  prices.map((price, i) => s.mark({ symbol: 'EQUSD', ts: T0 + (from + i) * 1000, price, size: 1 }, 0)?.source ?? null);

describe('a live session’s risk rules on ticks', () => {
  it('sends an addition only while the position may have more entries, and once the price is addStepPct under', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    for (const n of g.nodes) if (n.type === 'action.buy') n.data = { ...n.data, maxEntries: 3, addStepPct: 5 };
    const plan = compileGraph(g).plan!;
    const s = new LiveSession('s1', 'u1', 'EQUSD', settings, plan, undefined, longSession().ledger, 'running');
    const buy = plan.actions.findIndex((a) => a.action === 'buy');
    const at = (secs: number, price: number) =>
      s.decide(buy, { symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 }, 0);
    // long 10 from 100: 97 is not 5 % under it; 95 is: sent, with its step for the ledger to check again
    expect(at(1, 97)).toBeNull();
    expect(at(2, 95)).toMatchObject({ action: 'buy', maxEntries: 3, addStepPct: 5 });
    // in flight, the ledger still says 100: 94 adds again (the third entry), then no more are sent
    expect(at(3, 94)).toMatchObject({ action: 'buy' });
    expect(at(4, 80)).toBeNull();
  });

  it('a partial take profit closes its share once a position, and not again while it is in flight', () => {
    const s = longSession(['risk.take_profit', { percent: 5, sharePct: 40 }]);
    const sig = s.mark({ symbol: 'EQUSD', ts: T0 + 1000, price: 105.1, size: 1 }, 0);
    expect(sig).toMatchObject({ action: 'close', source: 'take_profit', percent: 40 });
    // in flight: the ledger still shows all ten units, but the target is not sent again
    expect(marks(s, [105.5, 106], 2)).toEqual([null, null]);
    const out = planOrder(s.ledger, settings, {}, { ...sig!, ts: T0 + 3000, percent: 40 });
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s.ledger, out.fill, out.closedTrade);
    s.settled();
    expect(s.ledger.qty).toBe(6);
    // taken: the rest runs on
    expect(marks(s, [107, 110], 4)).toEqual([null, null]);
    // the whole position at the target by default
    expect(marks(longSession(['risk.take_profit', { percent: 5 }]), [105.1])).toEqual(['take_profit']);
  });

  it("a take-profit ladder's steps close their shares one after another; a restart goes on from the step reached", () => {
    const s = longSession([
      'risk.take_profit_ladder',
      { pct1: 2, share1: 50, pct2: 4, share2: 25, pct3: 6, share3: 25 },
    ]);
    /** executes the session's signal on the tick at `secs` */
    const execute = (sig: ReturnType<LiveSession['mark']>, secs: number) => {
      const out = planOrder(s.ledger, settings, {}, { ...sig!, ts: T0 + secs * 1000 });
      if (out.kind !== 'fill') throw new Error(out.kind);
      applyFill(s.ledger, out.fill, out.closedTrade);
      s.settled();
    };
    const at = (secs: number, price: number) => s.mark({ symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 }, 0);
    expect(s.targetLevel()).toBeCloseTo(102, 12);
    expect(at(1, 101.9)).toBeNull();
    const first = at(2, 102.1);
    expect(first).toMatchObject({ action: 'close', source: 'take_profit', percent: 50 });
    // in flight: not sent again, nor the next step ahead of it
    expect(at(3, 104.5)).toBeNull();
    execute(first, 3);
    expect([s.ledger.qty, s.ledger.targetTaken]).toEqual([5, 1]);
    expect(s.targetLevel()).toBeCloseTo(104, 12);
    // a restart from the stored ledger: the second step is next, not the first again
    const again = new LiveSession('s1', 'u1', 'EQUSD', settings, s.plan, undefined, copyLedger(s.ledger), 'running');
    expect(again.targetLevel()).toBeCloseTo(104, 12);
    expect(at(4, 103.9)).toBeNull();
    // 25 of the first 100 % is 50 % of the 5 open
    const second = at(5, 104.2);
    expect(second).toMatchObject({ source: 'take_profit', percent: 50 });
    execute(second, 5);
    expect([s.ledger.qty, s.ledger.targetTaken]).toEqual([2.5, 2]);
    // the last step closes what is left, as a take profit does
    const third = at(6, 106.3);
    expect(third).toMatchObject({ source: 'take_profit' });
    expect(third!.percent).toBeUndefined();
    execute(third, 6);
    expect([s.ledger.qty, s.ledger.targetTaken]).toEqual([0, 0]);
  });

  it("a tick beyond several of a ladder's steps takes each of them on that tick, in order, with ids of their own", () => {
    const ladder = [
      'risk.take_profit_ladder',
      { pct1: 2, share1: 50, pct2: 4, share2: 25, pct3: 6, share3: 25 },
    ] as const;
    const s = longSession([...ladder]);
    const tick = (secs: number, price: number) => ({ symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 });
    /** executes a signal as the engine does, at its tick */
    const execute = (sig: NonNullable<ReturnType<LiveSession['mark']>>) => {
      const out = planOrder(s.ledger, settings, {}, { ...sig, ts: sig.tickTs });
      if (out.kind !== 'fill') throw new Error(out.kind);
      applyFill(s.ledger, out.fill, out.closedTrade);
    };
    // 104.5 is past +2 % and +4 %, not +6 %: the first two steps, 50 % then 50 % of what is left
    const t1 = tick(1, 104.5);
    const first = s.mark(t1, 0)!;
    expect(first).toMatchObject({ source: 'take_profit', percent: 50 });
    expect(s.extra).toMatchObject([{ source: 'take_profit', percent: 50, price: 104.5 }]);
    const [second] = s.extra!;
    expect(new Set([first.id, second!.id]).size).toBe(2);
    s.extra = null;
    // both in flight: neither sent again, nor the third step ahead of them, whichever has executed
    expect(s.mark(tick(2, 104.6), 0)).toBeNull();
    execute(first);
    expect(s.mark(tick(3, 104.7), 0)).toBeNull();
    execute(second!);
    s.settled();
    expect([s.ledger.qty, s.ledger.targetTaken]).toEqual([2.5, 2]);
    // the third on its own tick closes what is left
    expect(s.mark(tick(4, 106.1), 0)).toMatchObject({ source: 'take_profit', percent: undefined });

    // a gap past all three: two partial steps, then the last closes what is left, and the strategy's
    // action on that tick is not taken (a risk rule's tick is the rule's)
    const all = longSession([...ladder]);
    const t2 = tick(1, 107);
    expect(all.afterMark(all.mark(t2, 0), 0, t2, 0)).toMatchObject({ percent: 50 });
    expect(all.extra!.map((x) => [x.source, x.percent])).toEqual([
      ['take_profit', 50],
      ['take_profit', undefined],
    ]);
    expect(all.intent).toBe(0);

    // one step: the strategy's action on the tick still has its turn, after it
    const some = longSession([...ladder]);
    const t3 = tick(1, 102.5);
    const sell = some.plan.actions.findIndex((a) => a.action === 'sell');
    expect(some.afterMark(some.mark(t3, 0), sell, t3, 0)).toMatchObject({ source: 'take_profit', percent: 50 });
    expect(some.extra).toMatchObject([{ action: 'sell', source: 'sell', price: 102.5 }]);
  });

  it("on candles, the action of the candle a tick closes goes before that tick's stop: a turn round, not a stop and nothing", () => {
    const candle: SessionSettings = {
      ...settings,
      allowShort: true,
      evaluation: { mode: 'candle', intervalMs: 60_000 },
    };
    const t = { symbol: 'EQUSD', ts: T0 + 60_000, price: 97, size: 1 };
    // long 10 from 100 with a 2 % stop: 97 is past it, and the candle's sell fires on the same tick
    const s = sessionWith(candle, ['risk.stop_loss', { percent: 2 }]);
    const sell = s.plan.actions.findIndex((a) => a.action === 'sell');
    expect(s.afterMark(s.mark(t, 0, sell), sell, t, 0)).toMatchObject({ action: 'sell', source: 'sell' });
    expect([s.intent, s.extra]).toEqual([-1, null]);
    // no action on the tick: the stop
    const alone = sessionWith(candle, ['risk.stop_loss', { percent: 2 }]);
    expect(alone.afterMark(alone.mark(t, 0, -1), -1, t, 0)).toMatchObject({ action: 'close', source: 'stop_loss' });
    // an action that does nothing while long (a buy, without adding): the stop still fires on the tick
    const held = sessionWith(candle, ['risk.stop_loss', { percent: 2 }]);
    const buy = held.plan.actions.findIndex((a) => a.action === 'buy');
    expect(held.afterMark(held.mark(t, 0, buy), buy, t, 0)).toMatchObject({ source: 'stop_loss' });
    // on ticks, the tick is the stop's, as before
    const ticks = sessionWith(settings, ['risk.stop_loss', { percent: 2 }]);
    expect(ticks.afterMark(ticks.mark(t, 0, sell), sell, t, 0)).toMatchObject({ source: 'stop_loss' });
  });

  it('a trailing stop with an activation trails only once the best price gained that much', () => {
    // 1 % trailing, active after a 2 % gain: the 1 % drop from 101 does not fire, the one from 102.5 does
    const s = longSession(['risk.trailing_stop', { percent: 1, activatePct: 2 }]);
    expect(marks(s, [101, 99.9, 101.5])).toEqual([null, null, null]);
    // not active yet: no level (the view shows none)
    expect(s.trailLevel()).toBeNaN();
    expect(marks(s, [102.5, 101.6, 101.4], 4)).toEqual([null, null, 'trailing_stop']);
    expect(s.trailLevel()).toBeCloseTo(102.5 * 0.99, 12);
    // without one, the first 1 % drop from the best price fires
    expect(marks(longSession(['risk.trailing_stop', { percent: 1 }]), [101, 99.9])).toEqual([null, 'trailing_stop']);
  });

  it('a stop moves to the entry once the best price gained breakEvenPct; its level is what the view shows', () => {
    // a 2 % stop (98), at the entry (100) once the price has been 1 % up
    const s = longSession(['risk.stop_loss', { percent: 2, breakEvenPct: 1 }]);
    expect(marks(s, [100.5, 99.9])).toEqual([null, null]);
    expect(s.stopLevel()).toBeCloseTo(98, 12);
    expect(marks(s, [101.2, 100.01, 99.99], 3)).toEqual([null, null, 'stop_loss']);
    expect(s.stopLevel()).toBe(100);
    // no take profit: none shown
    expect(s.targetLevel()).toBeNaN();
    expect(longSession(['risk.take_profit', { percent: 5 }]).targetLevel()).toBeCloseTo(105, 12);
  });

  it("an ROI table's target comes down with the time held: 5 %, 1 % after a minute, any gain after two", () => {
    const table = ['risk.roi_table', { roi0: 5, after1: 1, roi1: 1, after2: 2, roi2: 0, after3: 0 }] as const;
    // the entry at T0: 3 % at 30 s is short of 5 %; 1.5 % at 61 s is past 1 %
    const s = longSession([...table]);
    expect(marks(s, [103], 30)).toEqual([null]);
    expect(s.targetLevel(T0 + 30_000)).toBeCloseTo(105, 12);
    expect(marks(s, [100.9, 101.5], 61)).toEqual([null, 'roi']);
    // after two minutes any gain will do, the entry price itself included
    expect(marks(longSession([...table]), [99.99, 100], 120)).toEqual([null, 'roi']);
  });

  it('a time exit fires on the first tick its minutes after the entry fill', () => {
    const s = longSession(['risk.time_exit', { minutes: 0.5 }]);
    expect(marks(s, [100, 100, 100], 28)).toEqual([null, null, 'time_exit']); // at 28, 29 and 30 s
  });

  it('fires once while its close is in flight, and again for the next position once that has executed', () => {
    const s = longSession(['risk.stop_loss', { percent: 1 }]);
    expect(marks(s, [98.9])).toEqual(['stop_loss']);
    // the strategy enters again before the stop's close executed: the ledger still shows the old long
    const buy = s.plan.actions.findIndex((a) => a.action === 'buy');
    expect(s.decide(buy, { symbol: 'EQUSD', ts: T0 + 2000, price: 98.8, size: 1 }, 0)?.action).toBe('buy');
    expect(marks(s, [98.7, 98.6], 3)).toEqual([null, null]);
    // both executed: flat, then long again from 98.8; its own stop is checked from there
    for (const [action, price] of [
      ['close', 98.9],
      ['buy', 98.8],
    ] as const) {
      const out = planOrder(s.ledger, settings, {}, { action, sizing: 'fixed_qty', amount: 10, price, ts: T0 + 4000 });
      if (out.kind !== 'fill') throw new Error(out.kind);
      applyFill(s.ledger, out.fill, out.closedTrade);
    }
    s.settled();
    expect(marks(s, [98, 97.8], 5)).toEqual([null, 'stop_loss']);
  });

  it('liquidates a leveraged position on the first tick past its price, at that tick, no worse than bankruptcy', () => {
    // 20x: liquidation at 100 × 0.95 / 0.995 = 95.48, bankruptcy at 95
    const lev = { ...settings, leverage: 20 };
    const s = sessionWith(lev);
    const sig = (price: number, from: number) => s.mark({ symbol: 'EQUSD', ts: T0 + from * 1000, price, size: 1 }, 0);
    expect(sig(96, 1)).toBeNull();
    expect(sig(95.6, 2)).toBeNull();
    expect(sig(95.4, 3)).toMatchObject({ action: 'close', source: 'liquidation', price: 95.4 });
    // a tick that gapped past bankruptcy fills at the bankruptcy price: the margin, no more, is lost
    expect(sessionWith(lev).mark({ symbol: 'EQUSD', ts: T0 + 1000, price: 90, size: 1 }, 0)).toMatchObject({
      source: 'liquidation',
      price: 95,
    });
    // a stop nearer than the liquidation price fires first; a tick past both is a liquidation
    const stopped = sessionWith(lev, ['risk.stop_loss', { percent: 2 }]);
    expect(stopped.mark({ symbol: 'EQUSD', ts: T0 + 1000, price: 97.9, size: 1 }, 0)?.source).toBe('stop_loss');
    const gapped = sessionWith(lev, ['risk.stop_loss', { percent: 2 }]);
    expect(gapped.mark({ symbol: 'EQUSD', ts: T0 + 1000, price: 95.2, size: 1 }, 0)?.source).toBe('liquidation');
    // without leverage nothing is liquidated
    expect(marks(longSession(), [90, 50, 10])).toEqual([null, null, null]);
  });
});

describe('a live session’s limit and stop orders (an action node’s orderType)', () => {
  /** A flat session of the SMA crossover whose buy and sell are limit or stop orders `offsetPct` away. */
  function flat(
    orderType: 'limit' | 'stop',
    offsetPct: number,
    over: Partial<SessionSettings> = {},
    sellOffsetPct = offsetPct,
    validBars = 1,
  ) {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    for (const n of g.nodes)
      if (n.type === 'action.buy' || n.type === 'action.sell')
        n.data = { ...n.data, orderType, offsetPct: n.type === 'action.sell' ? sellOffsetPct : offsetPct, validBars };
    const plan = compileGraph(g).plan!;
    const cfg = { ...settings, ...over };
    const s = new LiveSession('s1', 'u1', 'EQUSD', cfg, plan, undefined, newLedger(cfg, T0) as LedgerState, 'running');
    const buy = plan.actions.findIndex((a) => a.action === 'buy');
    const sell = plan.actions.findIndex((a) => a.action === 'sell');
    return { s, buy, sell };
  }
  const tick = (secs: number, price: number) => ({ symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 });
  const prices = (s: LiveSession, list: [secs: number, price: number][]) =>
    list.map(([secs, price]) => {
      const sig = s.mark(tick(secs, price), 0);
      return sig ? { action: sig.action, price: sig.price, atPrice: sig.atPrice ?? false } : null;
    });

  it('a limit buy rests below the price and fills at its level on the first tick that reaches it', () => {
    const { s, buy } = flat('limit', 1);
    expect(s.decide(buy, tick(0, 100), 0)).toBeNull(); // rests at 99
    expect(
      prices(s, [
        [1, 99.5],
        [2, 99.1],
        [3, 98.7],
        [4, 98],
      ]),
    ).toEqual([
      null,
      null,
      { action: 'buy', price: 99, atPrice: true }, // at its level, not the tick's 98.7: it was resting
      null, // filled: gone
    ]);
    // at its level it is a maker's fill (the session's makerFeeRate)
    const again = flat('limit', 1);
    again.s.decide(again.buy, tick(0, 100), 0);
    expect(again.s.mark(tick(1, 98.7), 0)).toMatchObject({ price: 99, atPrice: true, maker: true });
  });

  it("a limit order that meets the market as it is placed fills at once, at the market, as a taker's", () => {
    const { s, buy } = flat('limit', 0);
    expect(s.decide(buy, tick(0, 100), 0)).toMatchObject({ action: 'buy', price: 100, atPrice: true, maker: false });
  });

  it('a stop buy rests above the price and, once reached, is a market order', () => {
    const { s, buy } = flat('stop', 1);
    expect(s.decide(buy, tick(0, 100), 0)).toBeNull(); // rests at 101
    expect(
      prices(s, [
        [1, 100.9],
        [2, 101.4],
      ]),
    ).toEqual([null, { action: 'buy', price: 101.4, atPrice: false }]);
  });

  it('lapses at the end of its bar: a minute on ticks, the candle on candles', () => {
    const ticks = flat('limit', 1);
    ticks.s.decide(ticks.buy, tick(0, 100), 0);
    expect(
      prices(ticks.s, [
        [59, 99.5],
        [60, 98],
      ]),
    ).toEqual([null, null]);
    const candles = flat('limit', 1, { evaluation: { mode: 'candle', intervalMs: 60_000 } });
    // placed 30 s into a one-minute candle: it rests 30 s
    candles.s.decide(candles.buy, tick(30, 100), 0);
    expect(
      prices(candles.s, [
        [59, 99.5],
        [60, 98],
      ]),
    ).toEqual([null, null]);
    const reached = flat('limit', 1, { evaluation: { mode: 'candle', intervalMs: 60_000 } });
    reached.s.decide(reached.buy, tick(30, 100), 0);
    expect(prices(reached.s, [[59, 98.9]])).toEqual([{ action: 'buy', price: 99, atPrice: true }]);
  });

  it('with validBars, rests that many candles; a later candle’s first tick past its level fills at that open', () => {
    const candle = { evaluation: { mode: 'candle' as const, intervalMs: 60_000 } };
    /** a limit buy at 99 resting three bars, placed 30 s into a one-minute candle (on ticks: at 0 s) */
    const resting = (over: Partial<SessionSettings> = candle) => {
      const x = flat('limit', 1, over, 1, 3);
      x.s.decide(x.buy, tick(over.evaluation?.mode === 'candle' ? 30 : 0, 100), 0);
      return x;
    };
    // to the end of the third candle
    const three = resting();
    expect(three.s.restingOrder()).toMatchObject({ level: 99 });
    expect(
      prices(three.s, [
        [59, 99.5], // the first candle
        [61, 99.2], // the second's first tick: above the level
        [100, 99.05],
        [150, 98.5], // the third's first tick, past the level: a gap, filled at this open
      ]),
    ).toEqual([null, null, null, { action: 'buy', price: 98.5, atPrice: true }]);
    // within a candle, a tick past it fills at the level, as before
    const within = resting();
    expect(
      prices(within.s, [
        [70, 99.5],
        [80, 98.5],
      ]),
    ).toEqual([null, { action: 'buy', price: 99, atPrice: true }]);
    // its candles over (the third ends at 180 s): lapsed
    const lapsed = resting();
    expect(
      prices(lapsed.s, [
        [90, 99.5],
        [179, 99.5],
        [180, 98],
      ]),
    ).toEqual([null, null, null]);
    expect(lapsed.s.restingOrder()).toBeNull();
    // saved after its second bar began, and taken back by a restarted session: one bar left, to 180 s
    const saved = resting();
    prices(saved.s, [[90, 99.5]]);
    const state = saved.s.restingState()!;
    expect(state).toMatchObject({ bars: 2, seen: T0 + 90_000, until: T0 + 180_000 });
    const again = flat('limit', 1, candle, 1, 3);
    again.s.restoreResting(JSON.parse(JSON.stringify(state)));
    expect(
      prices(again.s, [
        [150, 99.5],
        [180, 98],
      ]),
    ).toEqual([null, null]);
    expect(again.s.restingOrder()).toBeNull();
    // a candle without ticks is no bar (as a backtest's bars are those in its data): the second with
    // ticks is the one from 120 s, the third from 180 s, where a gap past the level fills at that open
    const gap = resting();
    expect(
      prices(gap.s, [
        [179, 99.5],
        [180, 98],
      ]),
    ).toEqual([null, { action: 'buy', price: 98, atPrice: true }]);
    // on ticks, a bar is a minute: three of them
    const ticks = resting({});
    expect(prices(ticks.s, [[179, 98.9]])).toEqual([{ action: 'buy', price: 99, atPrice: true }]);
    // the next candle's action replaces it before that candle's first tick is checked against it
    const replaced = resting({ ...candle, allowShort: true });
    const t = tick(60, 98);
    expect(replaced.s.afterMark(replaced.s.mark(t, 0, replaced.sell), replaced.sell, t, 0)).toBeNull();
    expect(replaced.s.restingOrder()).toMatchObject({ action: 'sell' });
  });

  it("the strategy's action on the tick that fills it has its turn after the fill; a risk rule's tick is the rule's", () => {
    // the sell a limit order at the price (it meets the market at once)
    const { s, buy, sell } = flat('limit', 1, {}, 0);
    s.decide(buy, tick(0, 100), 0); // rests at 99
    // 98.9 fills it, and the strategy sells on that very tick: the close comes after the buy
    const t1 = tick(1, 98.9);
    expect(s.afterMark(s.mark(t1, 0), sell, t1, 0)).toMatchObject({ action: 'buy', price: 99, atPrice: true });
    expect(s.extra).toMatchObject([{ action: 'sell', source: 'sell', price: 98.9 }]);
    // with a sell 1 % above, its turn places that order, resting
    const other = flat('limit', 1);
    other.s.decide(other.buy, tick(0, 100), 0);
    expect(other.s.afterMark(other.s.mark(t1, 0), other.sell, t1, 0)).toMatchObject({ action: 'buy' });
    expect(other.s.extra).toBeNull();
    expect(other.s.restingOrder()).toMatchObject({ action: 'sell', orderType: 'limit', level: 98.9 * 1.01 });
    // a stop loss's tick: the strategy's action on it is not taken
    const stopped = longSession(['risk.stop_loss', { percent: 1 }]);
    const t2 = tick(1, 98.9);
    expect(stopped.afterMark(stopped.mark(t2, 0), 0, t2, 0)).toMatchObject({ source: 'stop_loss' });
    expect(stopped.extra).toBeNull();
  });

  it('a new action replaces it; a limit sell of a long rests above and closes it there', () => {
    const { s, buy, sell } = flat('limit', 1);
    s.decide(buy, tick(0, 100), 0);
    // a sell with no long and shorts off is no order, but it replaces the resting buy
    expect(s.decide(sell, tick(1, 100), 0)).toBeNull();
    expect(prices(s, [[2, 98]])).toEqual([null]);
    const long = sessionWith(settings);
    const g = structuredClone(templateById('sma-crossover')!.graph);
    for (const n of g.nodes) if (n.type === 'action.sell') n.data = { ...n.data, orderType: 'limit', offsetPct: 1 };
    const plan = compileGraph(g).plan!;
    const held = new LiveSession('s2', 'u1', 'EQUSD', settings, plan, undefined, long.ledger, 'running');
    expect(
      held.decide(
        plan.actions.findIndex((a) => a.action === 'sell'),
        tick(1, 100),
        0,
      ),
    ).toBeNull();
    expect(
      prices(held, [
        [2, 100.8],
        [3, 101.3],
      ]),
    ).toEqual([null, { action: 'sell', price: 101, atPrice: true }]);
  });
});

describe('a live session’s rules at a distance (an ATR’s stop, target and trail)', () => {
  /** a flat session of the crossover with a 2 × ATR(5) stop, 3 × ATR target and 4 × ATR trail, warmed on `prices` */
  function atrSession(prices: number[], sizing?: Record<string, unknown>) {
    const g = withAtrRules(
      structuredClone(templateById('sma-crossover')!.graph),
      [
        ['sl', 'risk.stop_distance', { multiplier: 2 }],
        ['tp', 'risk.target_distance', { multiplier: 3 }],
        ['tr', 'risk.trailing_distance', { multiplier: 4 }],
      ],
      5,
    );
    if (sizing) for (const n of g.nodes) if (n.type === 'action.buy') n.data = sizing;
    const plan = compileGraph(g).plan!;
    const ev = sessionEvaluator(plan, settings.evaluation);
    const s = new LiveSession(
      's1',
      'u1',
      'EQUSD',
      settings,
      plan,
      ev,
      newLedger(settings, T0) as LedgerState,
      'running',
    );
    prices.forEach((price, i) => s.warm({ symbol: 'EQUSD', ts: T0 + i * 1000, price, size: 1 }));
    // the ATR of ticks: each tick a bar whose high, low and close are its price
    const atr = evaluateNode('indicator.atr', { period: 5 }, [prices, prices, prices])[0]!.at(-1)!;
    return { s, plan, atr, buy: plan.actions.findIndex((a) => a.action === 'buy') };
  }
  const tick = (secs: number, price: number) => ({ symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 });
  const warm = [100, 101, 99.5, 100.5, 102, 101, 100, 101.5, 100];
  /** the entry the signal asks for, filled at its price */
  const fill = (s: LiveSession, sig: ReturnType<LiveSession['decide']>) => {
    const out = planOrder(s.ledger, settings, {}, { ...sig!, ts: sig!.tickTs });
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s.ledger, out.fill, out.closedTrade, sig!);
    s.settled();
  };

  it('an entry carries its distances, read from the strategy as it fires; the ledger keeps them', () => {
    const { s, atr, buy } = atrSession(warm);
    expect(atr).toBeGreaterThan(0.5);
    const sig = s.decide(buy, tick(20, 100), 0)!;
    expect(sig.stopDist).toBeCloseTo(2 * atr, 12);
    expect(sig.targetDist).toBeCloseTo(3 * atr, 12);
    expect(sig.trailDist).toBeCloseTo(4 * atr, 12);
    fill(s, sig);
    expect(s.ledger).toMatchObject({ avgPrice: 100, stopDist: sig.stopDist, targetDist: sig.targetDist });
    // kept through a restart (the stored ledger), gone once the position is closed
    expect(copyLedger(s.ledger).trailDist).toBe(sig.trailDist);
    const d = 2 * atr;
    const at = (secs: number, price: number) => s.mark(tick(secs, price), 0)?.source ?? null;
    expect([at(21, 100 - d + 0.001), at(22, 100 - d - 0.001)]).toEqual([null, 'stop_loss']);
    const out = planOrder(
      s.ledger,
      settings,
      {},
      { action: 'close', sizing: 'all', amount: 0, price: 98, ts: T0 + 23_000 },
    );
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s.ledger, out.fill, out.closedTrade);
    expect([s.ledger.stopDist, s.ledger.targetDist, s.ledger.trailDist]).toEqual([0, 0, 0]);
  });

  it('the target at 3 × and the trail at 4 × the distance, from the entry and from the best price', () => {
    const { s, atr, buy } = atrSession(warm);
    fill(s, s.decide(buy, tick(20, 100), 0));
    const at = (secs: number, price: number) => s.mark(tick(secs, price), 0)?.source ?? null;
    // up to just under the target, back to just above the trail from there, then under it
    const best = 100 + 3 * atr - 0.01;
    expect([at(21, best), at(22, best - 4 * atr + 0.001), at(23, best - 4 * atr - 0.001)]).toEqual([
      null,
      null,
      'trailing_stop',
    ]);
    const again = atrSession(warm);
    fill(again.s, again.s.decide(again.buy, tick(20, 100), 0));
    expect(again.s.mark(tick(21, 100 + 3 * atr + 0.001), 0)?.source).toBe('take_profit');
  });

  it('on a runner thread the values come with the action; sizing by risk divides by the stop', () => {
    const { s, buy } = atrSession(warm, { sizing: 'risk_pct', amount: 1 });
    // the thread read 1.25: a 2.5 stop; 1 % at risk at 100 is a position worth 40 % of equity
    s.riskIn = Float64Array.of(1.25, 1.25, 1.25);
    const sig = s.decide(buy, tick(20, 100), 0)!;
    s.riskIn = null;
    expect(sig).toMatchObject({ sizing: 'pct_equity', stopDist: 2.5, targetDist: 3.75, trailDist: 5 });
    expect(sig.amount).toBeCloseTo(40, 12);
    fill(s, sig);
    expect(Math.abs(s.ledger.qty) * 2.5).toBeCloseTo(settings.startingBalance * 0.01, 4);
    // a distance that is not defined yet: no stop, and sized by risk, no order (none sent, none refused)
    const cold = atrSession([100, 101]);
    const none = cold.s.decide(cold.buy, tick(3, 100), 0)!;
    expect(none.stopDist).toBeUndefined();
    const coldRisk = atrSession([100, 101], { sizing: 'risk_pct', amount: 1 });
    expect(coldRisk.s.decide(coldRisk.buy, tick(3, 100), 0)).toBeNull();
    expect(coldRisk.s.intent).toBe(0);
  });
});

describe('a live session of a strategy reading its own position (the Position node)', () => {
  const tick = (secs: number, price: number) => ({ symbol: 'EQUSD', ts: T0 + secs * 1000, price, size: 1 });
  /** buys on every tick while not long; closes at 2 % profit or after 10 minutes held (or as given) */
  const session = (
    exits: Parameters<typeof exitWhen>[1] = [
      ['profit_pct', '>', 2],
      ['minutes_held', '>', 10],
    ],
    join: 'or' | 'and' = 'or',
  ) => {
    const g = exitWhen(gatedBy(alwaysBuying(), 'buy', 'long', false), exits, join);
    const c = compileGraph(g);
    expect(c.report.errors).toEqual([]);
    const ev = sessionEvaluator(c.plan!, settings.evaluation);
    return new LiveSession('s1', 'u1', 'EQUSD', settings, c.plan!, ev, newLedger(settings, T0), 'running');
  };
  const execute = (s: LiveSession, sig: ReturnType<LiveSession['onTick']>, price: number) => {
    const out = planOrder(s.ledger, settings, {}, { ...sig!, price, ts: sig!.tickTs + 500 });
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s.ledger, out.fill, out.closedTrade);
    s.settled();
  };
  const on = (s: LiveSession, secs: number, price: number) => {
    const sig = s.onTick(tick(secs, price), 0);
    return sig ? `${sig.action}:${sig.source}` : null;
  };

  it('is long as soon as its entry is sent, its profit undefined until the entry fills, then read on it', () => {
    const s = session();
    const sig = s.onTick(tick(1, 100), 0);
    expect(sig).toMatchObject({ action: 'buy', source: 'buy' });
    // in flight: long (no second buy), no profit yet (no exit at +3 % on the tick's price)
    expect([on(s, 2, 103), on(s, 3, 103)]).toEqual([null, null]);
    // filled at 101: +2 % is 103.02
    execute(s, sig, 101);
    expect([on(s, 4, 102), on(s, 5, 103)]).toEqual([null, null]);
    expect(on(s, 6, 103.1)).toBe('close:exit');
    // the close in flight: flat as far as the strategy knows, so it buys again at once
    expect(on(s, 7, 103.1)).toBe('buy:buy');
  });

  it('gives back its best profit: once 2 % up at a tick, closes when back under 1 %', () => {
    const s = session(
      [
        ['max_profit_pct', '>', 2],
        ['profit_pct', '<', 1],
      ],
      'and',
    );
    execute(s, s.onTick(tick(1, 100), 0), 100);
    // under 1 % before it was ever 2 % up: held; then 2.5 % up, and back to 1.5 %, 0.9 %
    expect([on(s, 2, 100.5), on(s, 3, 102.5), on(s, 4, 101.5)]).toEqual([null, null, null]);
    expect(on(s, 5, 100.9)).toBe('close:exit');
  });

  it('closes after the time held, counted from the fill', () => {
    const s = session();
    const sig = s.onTick(tick(0, 100), 0);
    execute(s, sig, 100);
    // filled at T0 + 0.5 s: ten minutes held at T0 + 600.5 s; the exit needs more than ten
    expect([on(s, 300, 100.5), on(s, 600, 99)]).toEqual([null, null]);
    expect(on(s, 601, 99)).toBe('close:exit');
  });
});
