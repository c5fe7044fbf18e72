import type { TradeRecord } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { toColumns } from './sample-data.ts';
import { aggregated, freqtradeMinutes } from '../../../test/helpers/freqtrade.ts';
import { tightCrossover } from '../../../test/helpers/graphs.ts';

// A detail timeframe: the strategy on 5-minute bars built from freqtrade's real one-minute candles, its
// stops and targets checked on those one-minute candles. Each exit is checked against the minutes.
const minutes = freqtradeMinutes();
const FIVE = 5 * 60_000;
const bars = toColumns(aggregated(minutes, FIVE));
const detail = toColumns(minutes);
const SLIP = 0.0002;
const opts = { cash: 10_000, allowShort: true, slippageBps: SLIP * 10_000 };
/** the fast crossover with a tight stop and target: a 5-minute bar often reaches both */
const plan = (stop: number, target: number) => compileGraph(tightCrossover(stop, target)).plan!;
/** the one-minute candles of bars [from, to] (their opens), in order */
const minutesOf = (from: number, to: number) => {
  const start = bars.ts[from]!;
  const end = to + 1 < bars.length ? bars.ts[to + 1]! : bars.ts[to]! + FIVE;
  const out: number[] = [];
  for (let k = 0; k < detail.length; k++) if (detail.ts[k]! >= start && detail.ts[k]! < end) out.push(k);
  return out;
};

/**
 * A trade of plan(0.3, 0.3) left by its stop (when `stopped`) or its target on a minute that opened at `o`:
 * at the level, or at that open when it was past it (a stop with slippage)
 */
const expectExit = (t: TradeRecord, stopped: boolean, o: number) => {
  const long = t.size > 0;
  if (stopped) {
    const stop = t.entryPrice * (long ? 0.997 : 1.003);
    expect(t.exitReason).toBe('stop_loss');
    const raw = long ? Math.min(o, stop) : Math.max(o, stop);
    expect(t.exitPrice).toBeCloseTo(raw * (long ? 1 - SLIP : 1 + SLIP), 9);
  } else {
    const target = t.entryPrice * (long ? 1.003 : 0.997);
    expect(t.exitReason).toBe('take_profit');
    expect(t.exitPrice).toBeCloseTo(long ? Math.max(o, target) : Math.min(o, target), 9);
  }
};

describe('a detail timeframe: stops and targets on the finer bars inside each bar', () => {
  it('exits at the first minute that reaches the stop or the target, at its level or that minute’s open', () => {
    const r = runBacktest(plan(0.3, 0.3), bars, { ...opts, detail });
    const exits = r.trades.filter((t) => t.exitReason === 'stop_loss' || t.exitReason === 'take_profit');
    expect(exits.length).toBeGreaterThan(20);
    expect(new Set(exits.map((t) => t.exitReason))).toEqual(new Set(['stop_loss', 'take_profit']));
    for (const t of exits) {
      const long = t.size > 0;
      const stop = t.entryPrice * (long ? 0.997 : 1.003);
      const target = t.entryPrice * (long ? 1.003 : 0.997);
      const hitStop = (k: number) => (long ? detail.low[k]! <= stop : detail.high[k]! >= stop);
      const hitTarget = (k: number) => (long ? detail.high[k]! >= target : detail.low[k]! <= target);
      // the first minute from the entry on that reaches either (the stop first within one minute)
      const first = minutesOf(t.entryBar, t.exitBar).find((k) => hitStop(k) || hitTarget(k))!;
      expect(first, `trade at ${t.entryBar}`).toBeDefined();
      expect(detail.ts[first]! - (detail.ts[first]! % FIVE)).toBe(bars.ts[t.exitBar]);
      expectExit(t, hitStop(first), detail.open[first]!);
    }
  });

  it('a limit entry within a bar: its stop and target from the minute that reached its level, not before', () => {
    // limit orders 0.1 % from the signal's close: a target the price passed before it came back to the
    // level is not the position's
    const g = tightCrossover(0.3, 0.3);
    for (const n of g.nodes)
      if (n.type === 'action.buy' || n.type === 'action.sell') n.data = { orderType: 'limit', offsetPct: 0.1 };
    const r = runBacktest(compileGraph(g).plan!, bars, { ...opts, detail });
    const sameBar = r.trades.filter(
      (t) => t.entryBar === t.exitBar && (t.exitReason === 'stop_loss' || t.exitReason === 'take_profit'),
    );
    expect(sameBar.length).toBeGreaterThan(5);
    let passedBefore = 0;
    for (const t of sameBar) {
      const long = t.size > 0;
      const mins = minutesOf(t.entryBar, t.entryBar);
      // a limit entry: its level, without slippage; the minute that filled it is the first to reach it
      const fill = mins.find((k) => (long ? detail.low[k]! <= t.entryPrice : detail.high[k]! >= t.entryPrice))!;
      expect(fill).toBeDefined();
      const stop = t.entryPrice * (long ? 0.997 : 1.003);
      const target = t.entryPrice * (long ? 1.003 : 0.997);
      const hitStop = (k: number) => (long ? detail.low[k]! <= stop : detail.high[k]! >= stop);
      const hitTarget = (k: number) => (long ? detail.high[k]! >= target : detail.low[k]! <= target);
      const first = mins.filter((k) => k >= fill).find((k) => hitStop(k) || hitTarget(k))!;
      expect(first, `trade at ${t.entryBar}`).toBeDefined();
      // on the minute that filled it, the position starts at the level: that is its open
      expectExit(t, hitStop(first), first === fill ? t.entryPrice : detail.open[first]!);
      if (mins.some((k) => k < fill && (hitStop(k) || hitTarget(k)))) passedBefore++;
    }
    // some entries came after the price had passed their target or stop within the bar: not taken then
    expect(passedBefore).toBeGreaterThan(0);
  });

  it('a bar that reached both: the bars alone assume the stop, the minutes know which came first', () => {
    const alone = runBacktest(plan(0.3, 0.3), bars, opts);
    const fine = runBacktest(plan(0.3, 0.3), bars, { ...opts, detail });
    const targets = (x: TradeRecord[]) => x.filter((t) => t.exitReason === 'take_profit').length;
    expect(targets(fine.trades)).toBeGreaterThan(targets(alone.trades));
    // the money reconciles either way
    for (const res of [alone, fine])
      expect(res.finalCash).toBeCloseTo(10_000 + res.trades.reduce((s, t) => s + t.pnl, 0), 6);
  });

  it('bars as their own detail change nothing, bit for bit', () => {
    const a = runBacktest(plan(0.3, 0.5), bars, opts);
    const b = runBacktest(plan(0.3, 0.5), bars, { ...opts, detail: bars });
    expect(b.trades).toEqual(a.trades);
    expect(Array.from(b.equity)).toEqual(Array.from(a.equity));
  });
});
