import type { TradeRecord } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest, type BacktestOptions, type BacktestResult } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import type { Graph } from './graph.ts';
import { templateById } from './templates.ts';
import { googBars } from '../../../test/helpers/goog.ts';

// A paper session's risk limits in backtests, on real daily GOOG bars. Where a limit is reached is worked
// out apart from the engine: from the same strategy's run without limits (its trades and closes give the
// position and cash at every open, low and close), or from the run's own trades.
const bars = googBars();
const DAY = 86_400_000;
const plan = (g: Graph) => {
  const c = compileGraph(g);
  expect(c.report.errors).toEqual([]);
  return c.plan!;
};
const template = (id: string) => structuredClone(templateById(id)!.graph);
const crossover = plan(template('sma-crossover'));
const feeRate = 0.001;
const slip = 0.0005;
const opts: BacktestOptions = { cash: 10_000, feeRate, slippageBps: 5 };

/** the position held through bar j's close (entered at or before it, left after it) in a run's trades */
const heldAt = (trades: readonly TradeRecord[], j: number) =>
  trades.filter((t) => t.entryBar <= j && t.exitBar > j).reduce((q, t) => q + t.size, 0);
/** the run's drawdown from its peak close, at its worst (%) */
const worstDrawdown = (r: BacktestResult) => {
  let peak = -Infinity;
  let worst = 0;
  for (const e of r.equity) {
    peak = Math.max(peak, e);
    worst = Math.max(worst, ((peak - e) / peak) * 100);
  }
  return worst;
};
/** the trades entered after time t */
const after = (r: BacktestResult, t: number) => r.trades.filter((x) => x.entryTime > t);

describe('risk limits in backtests (a paper session’s `risk`)', () => {
  it('a drawdown limit closes the position where the equity reaches it and ends trading: worked out from the run without it', () => {
    const free = runBacktest(crossover, bars, opts);
    expect(free.risk).toBeUndefined();
    const limit = Math.round(worstDrawdown(free) * 0.6);
    expect(limit).toBeGreaterThan(5);
    // walk the free run's marks (each open, the bar's low, its high, each close) with the session's peak, until the
    // first one at or below the floor: the equity at an open is the last close's cash plus the position
    // held through that close at the open; within the bar, cash plus the position held through it
    let peak = opts.cash;
    let want: { bar: number; price: number } | undefined;
    for (let j = 0; j < bars.length && !want; j++) {
      const before = j > 0 ? heldAt(free.trades, j - 1) : 0;
      const eqOpen = j > 0 ? free.equity[j - 1]! + before * (bars.open[j]! - bars.close[j - 1]!) : opts.cash;
      peak = Math.max(peak, eqOpen);
      const floor = peak * (1 - limit / 100);
      if (eqOpen <= floor) {
        want = { bar: j, price: before ? bars.open[j]! * (1 - slip) : NaN };
        break;
      }
      const q = heldAt(free.trades, j);
      const cash = free.equity[j]! - q * bars.close[j]!;
      if (q > 0 && cash + q * bars.low[j]! <= floor) {
        want = { bar: j, price: Math.min(bars.open[j]!, (floor - cash) / q) * (1 - slip) };
        break;
      }
      // after the bar's low: its high (a session's peak on a tick at it), then its close
      peak = Math.max(peak, cash + q * bars.high[j]!, free.equity[j]!);
    }
    expect(want).toBeDefined();
    const r = runBacktest(crossover, bars, { ...opts, risk: { maxDrawdownPct: limit } });
    expect(r.risk!.halts).toHaveLength(1);
    const h = r.risk!.halts[0]!;
    expect(h).toMatchObject({ bar: want!.bar, time: bars.ts[want!.bar], limit: 'max_drawdown' });
    expect(h.pct).toBeCloseTo(limit, 6);
    // the same trades until then; the one open is closed there, at the floor's price; none after
    const last = r.trades.at(-1)!;
    expect(last).toMatchObject({ exitBar: want!.bar, exitReason: 'max_drawdown' });
    expect(last.exitPrice).toBeCloseTo(want!.price, 9);
    expect(r.trades.slice(0, -1)).toEqual(free.trades.slice(0, r.trades.length - 1));
    expect(after(r, h.time)).toEqual([]);
    expect(new Set(Array.from(r.equity.subarray(want!.bar)))).toEqual(new Set([r.finalCash]));
    // the money reconciles: the start, the trades' profit (after their fees) and nothing else
    const pnl = r.trades.reduce((s, t) => s + t.pnl, 0);
    expect(r.finalCash).toBeCloseTo(opts.cash + pnl, 6);
    // the statistics' drawdown is measured on closes: the floor was crossed within the bar, so it stays near the limit
    expect(r.stats.maxDrawdownPct).toBeLessThan(limit + 2);
  });

  it('a daily loss limit closes at the day’s floor and, with resumeNextDay, pauses until the next UTC day: signals on that day are not taken', () => {
    const limit = 2;
    const g = plan(template('rsi-mean-reversion'));
    const r = runBacktest(g, bars, { ...opts, risk: { maxDailyLossPct: limit, resumeNextDay: true } });
    const halts = r.risk!.halts;
    expect(halts.length).toBeGreaterThan(2);
    for (const h of halts) {
      expect(h.limit).toBe('max_daily_loss');
      // each bar is a day: the day's equity is its open's; the position is closed there, at the floor
      const t = r.trades.find((x) => x.exitBar === h.bar)!;
      expect(t.exitReason).toBe('max_daily_loss');
      const i = h.bar;
      const q = t.size;
      // the cash while the position was held on this bar: the last close's (entered before the bar), or
      // the last close's equity less what the entry at this open cost (entered at it)
      const enteredHere = t.entryBar === i;
      const cash = enteredHere
        ? r.equity[i - 1]! - q * t.entryPrice - q * t.entryPrice * feeRate
        : r.equity[i - 1]! - q * bars.close[i - 1]!;
      const dayStart = enteredHere ? r.equity[i - 1]! : cash + q * bars.open[i]!;
      const floor = dayStart * (1 - limit / 100);
      expect(t.exitPrice).toBeCloseTo(Math.min(bars.open[i]!, (floor - cash) / q) * (1 - slip), 9);
      expect(h.pct).toBeCloseTo(
        ((dayStart - (cash + q * Math.min(bars.open[i]!, (floor - cash) / q))) / dayStart) * 100,
        9,
      );
      // the bar's own signal is not taken: nothing fills at the next open
      expect(r.trades.some((x) => x.entryBar === i + 1)).toBe(false);
    }
    // trading goes on after each pause, and the days without one never reached their floor
    expect(after(r, halts[0]!.time).length).toBeGreaterThan(halts.length - 1);
    const paused = new Set(halts.map((h) => h.bar));
    for (const t of r.trades)
      for (let i = t.entryBar + 1; i < t.exitBar; i++) {
        if (paused.has(i)) continue;
        const cash = r.equity[i]! - t.size * bars.close[i]!;
        const dayStart = cash + t.size * bars.open[i]!;
        expect(cash + t.size * bars.low[i]!).toBeGreaterThan(dayStart * (1 - limit / 100));
      }
    // with no limit the same strategy holds through the first of those days, on the same trades until then
    const free = runBacktest(g, bars, opts);
    expect(free.trades.filter((t) => t.exitReason === 'max_daily_loss')).toEqual([]);
    expect(heldAt(free.trades, halts[0]!.bar)).toBe(r.trades.find((t) => t.exitBar === halts[0]!.bar)!.size);
    const before = r.trades.filter((t) => t.exitBar < halts[0]!.bar);
    expect(free.trades.slice(0, before.length)).toEqual(before);
    // without resumeNextDay, as a paused session nobody resumes: the first of those days ends trading
    const ended = runBacktest(g, bars, { ...opts, risk: { maxDailyLossPct: limit } });
    expect(ended.risk!.halts).toEqual([halts[0]]);
    expect(ended.trades).toEqual(r.trades.filter((t) => t.exitBar <= halts[0]!.bar));
  });

  it('the limits alone, beside a stop that never fires, and on the bars as their own detail: the same trades', () => {
    // three paths through the engine: the limits' own check, the stops' check, the detail timeframe's
    const far = structuredClone(template('sma-crossover'));
    far.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 99 }, position: { x: 0, y: 0 } });
    for (const risk of [
      { maxDrawdownPct: 20 },
      { maxDailyLossPct: 2 },
      { maxDailyLossPct: 2, resumeNextDay: true },
      { maxDrawdownPct: 30, maxDailyLossPct: 3, resumeNextDay: true },
    ]) {
      const o = { ...opts, allowShort: true, risk };
      const alone = runBacktest(crossover, bars, o);
      expect(alone.risk!.halts.length).toBeGreaterThan(0);
      const beside = runBacktest(plan(far), bars, o);
      const detailed = runBacktest(crossover, bars, { ...o, detail: bars });
      for (const r of [beside, detailed]) {
        expect(r.trades).toEqual(alone.trades);
        expect(r.risk).toEqual(alone.risk);
        expect(Array.from(r.equity)).toEqual(Array.from(alone.equity));
      }
    }
  });

  it('caps entries as a session does: proportional sizes shrink to the cap, a fixed quantity above it is refused', () => {
    const r = runBacktest(crossover, bars, { ...opts, risk: { maxPositionPct: 40 } });
    expect(r.trades.length).toBeGreaterThan(5);
    for (const t of r.trades) {
      // all in, capped at 40 % of the equity before the entry (the last close's: flat, so its cash)
      const eq = t.entryBar > 0 ? r.equity[t.entryBar - 1]! : opts.cash;
      expect(t.size * t.entryPrice).toBeCloseTo(0.4 * eq, 4);
    }
    const value = runBacktest(crossover, bars, { ...opts, risk: { maxPositionValue: 2_500 } });
    for (const t of value.trades) expect(t.size * t.entryPrice).toBeCloseTo(2_500, 4);
    // a fixed 20 units, with a cap of 10 per order: every entry refused and counted
    const fixed = structuredClone(template('sma-crossover'));
    fixed.nodes.find((n) => n.type === 'action.buy')!.data = { sizing: 'fixed_qty', amount: 20 };
    const f = runBacktest(plan(fixed), bars, { ...opts, risk: { maxOrderQty: 10 } });
    const signalled = runBacktest(plan(fixed), bars, opts).trades.length;
    expect(signalled).toBeGreaterThan(5);
    expect(f.trades).toEqual([]);
    expect(f.risk!.refused).toEqual({ MAX_ORDER_QTY: signalled });
    expect(f.finalCash).toBe(opts.cash);
  });

  it('counts fills and refusals against the orders a minute: a flip with room for one order only closes', () => {
    const o = { ...opts, allowShort: true };
    const free = runBacktest(crossover, bars, o);
    // every crossover after the first is a flip: a close and an entry at the same open
    const flips = free.trades.filter((t, k) => k > 0 && t.entryTime === free.trades[k - 1]!.exitTime).length;
    expect(flips).toBeGreaterThan(5);
    const r = runBacktest(crossover, bars, { ...o, risk: { maxOrdersPerMinute: 1 } });
    // a flip's entry is refused, so the next crossover finds the strategy flat and opens (one order)
    expect(r.risk!.refused.RATE_LIMIT).toBeGreaterThan(0);
    for (let k = 1; k < r.trades.length; k++) expect(r.trades[k]!.entryTime).not.toBe(r.trades[k - 1]!.exitTime);
    expect(r.trades.length + r.risk!.refused.RATE_LIMIT!).toBe(free.trades.length);
    // room for two: the same as without the limit
    const two = runBacktest(crossover, bars, { ...o, risk: { maxOrdersPerMinute: 2 } });
    expect(two.trades).toEqual(free.trades);
    expect(two.risk).toEqual({ halts: [], refused: {} });
  });

  it('halts count from the first bar that may trade, as the trades do', () => {
    const limit = 10;
    const whole = runBacktest(crossover, bars, { ...opts, risk: { maxDrawdownPct: limit } });
    const from = 200;
    const r = runBacktest(crossover, bars, { ...opts, tradeFrom: from, risk: { maxDrawdownPct: limit } });
    const h = r.risk!.halts[0]!;
    expect(h.time).toBe(bars.ts[h.bar + from]);
    expect(r.trades.at(-1)!.exitBar).toBe(h.bar);
    expect(whole.risk!.halts[0]!.limit).toBe('max_drawdown');
    expect(h.time).toBeGreaterThan(bars.ts[from]! + DAY);
  });
});
