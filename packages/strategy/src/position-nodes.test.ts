import type { TradeRecord } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest, type BacktestOptions } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { EnginePool } from './engine-pool.ts';
import { evaluateNode } from './evaluate-node.ts';
import { gridVariants } from './grid.ts';
import type { Graph } from './graph.ts';
import { alignBars, type BarColumns } from './plan.ts';
import { previewPlan } from './preview.ts';
import { templateById } from './templates.ts';
import { inlineRunner, poolRunner, walkForward } from './walk-forward.ts';
import { googBars } from '../../../test/helpers/goog.ts';
import { exitWhen, gatedBy, viaOtherSymbol, withAtrRules } from '../../../test/helpers/graphs.ts';

// Strategies that read their own position (the Position node), on real daily GOOG bars: each exit the
// graph took on its position is checked against the trade's own entry and the bars, computed apart.
const bars = googBars();
const DAY = 86_400_000;
const crossover = (): Graph => structuredClone(templateById('sma-crossover')!.graph);
const compiled = (g: Graph) => {
  const c = compileGraph(g);
  expect(c.report.errors).toEqual([]);
  return c.plan!;
};
const opts: BacktestOptions = { cash: 10_000, slippageBps: 5, feeRate: 0.001 };
/** the trade's profit (%) at bar i's close as the node reads it: on the average entry, before fees */
const profitAt = (t: TradeRecord, i: number) =>
  (Math.sign(t.size) * (bars.close[i]! - t.entryPrice) * 100) / t.entryPrice;
/** minutes from the entry (the entry bar's open) to bar i's close */
const minutesAt = (t: TradeRecord, i: number) => (bars.ts[i]! + DAY - t.entryTime) / 60_000;

describe('the Position node: strategies that read their own position', () => {
  it('evaluated one bar at a time, a strategy whose position reading changes nothing trades as in blocks, bit for bit', () => {
    // the crossovers buy on a cross up, which only ever comes while not long: "and not long" is moot. Also
    // with rules at a distance, another symbol's closes and a higher timeframe read around the position
    const withOther = { ...bars, others: alignBars(bars.ts, bars) };
    const cases: [Graph, BarColumns][] = [
      [crossover(), bars],
      [withAtrRules(crossover(), [['sl', 'risk.stop_distance', { multiplier: 2 }]]), bars],
      [viaOtherSymbol(crossover(), 'GOOG'), withOther],
      [structuredClone(templateById('daily-trend-filter')!.graph), bars],
    ];
    for (const [graph, data] of cases) {
      const plain = compiled(structuredClone(graph));
      const gated = compiled(gatedBy(structuredClone(graph), 'buy', 'long', false));
      expect(gated.positionSlots).toHaveLength(7);
      expect(plain.positionSlots).toHaveLength(0);
      // what the position's nodes read of the others: the cross up (into the gate) and the cross down (an action)
      expect(gated.frontierSlots.length).toBeGreaterThanOrEqual(2);
      for (const o of [opts, { ...opts, allowShort: true, tradeFrom: 300 }, { ...opts, fillOn: 'close' as const }]) {
        const a = runBacktest(plain, data, o);
        const b = runBacktest(gated, data, o);
        expect(b.trades.length).toBeGreaterThan(5);
        expect(b.trades).toEqual(a.trades);
        expect(Array.from(b.equity)).toEqual(Array.from(a.equity));
      }
    }
  });

  it('a gate on the position changes what it trades: no additions while long', () => {
    // buy on every bar the fast SMA is above the slow one, adding up to 3 entries; sell below it
    const level = (): Graph => {
      const g = crossover();
      for (const n of g.nodes) {
        if (n.id === 'up') n.type = 'logic.greater';
        if (n.id === 'down') n.type = 'logic.less';
        if (n.id === 'buy') n.data = { sizing: 'pct_equity', amount: 30, maxEntries: 3 };
      }
      return g;
    };
    const adding = runBacktest(compiled(level()), bars, opts);
    expect(adding.trades.filter((t) => t.entries === 3).length).toBeGreaterThan(10);
    // gated by "not long": entries only when flat, so every position has one, on the same bars
    const once = runBacktest(compiled(gatedBy(level(), 'buy', 'long', false)), bars, opts);
    expect(once.trades.every((t) => (t.entries ?? 1) === 1)).toBe(true);
    expect(once.trades.map((t) => [t.entryBar, t.exitBar])).toEqual(adding.trades.map((t) => [t.entryBar, t.exitBar]));
  });

  it('exits at a profit or a loss: each exit on the first bar whose close reached either, at the next open', () => {
    const g = compiled(
      exitWhen(crossover(), [
        ['profit_pct', '>', 6],
        ['profit_pct', '<', -4],
      ]),
    );
    const r = runBacktest(g, bars, opts);
    const byGraph = r.trades.filter((t) => t.exitReason === 'exit');
    expect(byGraph.length).toBeGreaterThan(10);
    expect(byGraph.some((t) => t.pnl > 0) && byGraph.some((t) => t.pnl < 0)).toBe(true);
    for (const t of r.trades) {
      const sb = t.exitBar - 1; // the signal's bar: orders fill at the next open
      const hit = (i: number) => profitAt(t, i) > 6 || profitAt(t, i) < -4;
      // no bar of the position before the signal's reached either level at its close (on the signal's bar
      // itself the crossover's sell may have fired too, and comes first)
      for (let i = t.entryBar; i < sb; i++) expect(hit(i)).toBe(false);
      if (t.exitReason !== 'exit') continue;
      expect(hit(sb)).toBe(true);
      expect(t.exitPrice).toBeCloseTo(bars.open[t.exitBar]! * (1 - 0.0005), 9);
    }
  });

  it('exits after a time held, read in minutes to the bar’s close, and only at a loss', () => {
    const g = compiled(
      exitWhen(
        crossover(),
        [
          ['minutes_held', '>', 20 * 1440],
          ['profit_pct', '<', 0],
        ],
        'and',
      ),
    );
    const r = runBacktest(g, bars, opts);
    const byGraph = r.trades.filter((t) => t.exitReason === 'exit');
    expect(byGraph.length).toBeGreaterThan(3);
    for (const t of r.trades) {
      const sb = t.exitBar - 1;
      const hit = (i: number) => minutesAt(t, i) > 20 * 1440 && profitAt(t, i) < 0;
      for (let i = t.entryBar; i < sb; i++) expect(hit(i)).toBe(false);
      if (t.exitReason === 'exit') {
        expect(hit(sb)).toBe(true);
        expect(t.exitTime - t.entryTime).toBeGreaterThan(20 * DAY - DAY);
      }
    }
  });

  it('gives back part of its best profit: once 8 % up at a close, exits when back under 3 %', () => {
    const g = compiled(
      exitWhen(
        crossover(),
        [
          ['max_profit_pct', '>', 8],
          ['profit_pct', '<', 3],
        ],
        'and',
      ),
    );
    const r = runBacktest(g, bars, opts);
    const byGraph = r.trades.filter((t) => t.exitReason === 'exit');
    expect(byGraph.length).toBeGreaterThan(3);
    for (const t of r.trades) {
      let best = -Infinity;
      const hits: boolean[] = [];
      for (let i = t.entryBar; i < t.exitBar; i++) {
        best = Math.max(best, profitAt(t, i));
        hits.push(best > 8 && profitAt(t, i) < 3);
      }
      const sb = t.exitBar - 1 - t.entryBar;
      expect(hits.slice(0, sb).some(Boolean)).toBe(false);
      if (t.exitReason === 'exit') expect(hits[sb]).toBe(true);
    }
  });

  it('reads the entries and the average entry price of a position added to', () => {
    // buy on the cross up, add while long and 3 % under the average entry (up to 3 entries); sell on the cross down
    const g = gatedBy(crossover(), 'buy', 'long', false);
    // a second buy node: adds while long and down 3 % (its entries count the first buy's)
    g.nodes.push(
      {
        id: 'add',
        type: 'action.buy',
        data: { sizing: 'pct_equity', amount: 20, maxEntries: 3 },
        position: { x: 0, y: 0 },
      },
      { id: 'down3', type: 'logic.less', data: {}, position: { x: 0, y: 0 } },
      { id: 'minus3', type: 'constant', data: { value: -3 }, position: { x: 0, y: 0 } },
      { id: 'few', type: 'logic.less', data: {}, position: { x: 0, y: 0 } },
      { id: 'three', type: 'constant', data: { value: 3 }, position: { x: 0, y: 0 } },
      { id: 'both', type: 'logic.and', data: {}, position: { x: 0, y: 0 } },
    );
    for (const b of g.nodes) if (b.id === 'buy') b.data = { sizing: 'pct_equity', amount: 40, maxEntries: 3 };
    const e = (s: string, sh: string, t: string, th: string) =>
      g.edges.push({ id: `${s}.${sh}->${t}.${th}`, source: s, sourceHandle: sh, target: t, targetHandle: th });
    e('pos', 'profit_pct', 'down3', 'a');
    e('minus3', 'value', 'down3', 'b');
    e('pos', 'entries', 'few', 'a');
    e('three', 'value', 'few', 'b');
    e('down3', 'value', 'both', 'a');
    e('few', 'value', 'both', 'b');
    e('both', 'value', 'add', 'trigger');
    const r = runBacktest(compiled(g), bars, opts);
    const added = r.trades.filter((t) => (t.entries ?? 1) > 1);
    expect(added.length).toBeGreaterThan(3);
    expect(r.trades.every((t) => (t.entries ?? 1) <= 3)).toBe(true);
    // the money reconciles
    const pnl = r.trades.reduce((s, t) => s + t.pnl, 0);
    expect(r.finalCash).toBeCloseTo(10_000 + pnl, 6);
  });

  it('the rsi-position-exits template: each exit on the first bar of RSI > 70 in profit, or 20 days held at a loss', () => {
    const rsi = evaluateNode('indicator.rsi', { period: 14 }, [bars.close])[0]!;
    const r = runBacktest(compiled(structuredClone(templateById('rsi-position-exits')!.graph)), bars, opts);
    const reasons = new Set(r.trades.map((t) => t.exitReason));
    expect([...reasons].sort()).toEqual(['exit', 'stop_loss']);
    let taken = 0;
    let gaveUp = 0;
    for (const t of r.trades) {
      const take = (i: number) => rsi[i]! > 70 && profitAt(t, i) > 1;
      const giveUp = (i: number) => minutesAt(t, i) > 20 * 1440 && profitAt(t, i) < 0;
      const sb = t.exitBar - 1;
      // a stop's trade: not on the bar before its exit either (the close would have come first, at the open)
      for (let i = t.entryBar; i < (t.exitReason === 'exit' ? sb : t.exitBar); i++)
        expect(take(i) || giveUp(i)).toBe(false);
      if (t.exitReason !== 'exit') continue;
      expect(take(sb) || giveUp(sb)).toBe(true);
      if (take(sb)) taken++;
      else gaveUp++;
    }
    expect(taken).toBeGreaterThan(3);
    expect(gaveUp).toBeGreaterThan(0);
  });

  it('previews as a default backtest trades: the position nodes as it held the position, its signals', () => {
    const plan = compiled(
      exitWhen(crossover(), [
        ['profit_pct', '>', 6],
        ['profit_pct', '<', -4],
      ]),
    );
    const candles = Array.from(bars.ts, (ts, i) => ({
      ts,
      open: bars.open[i]!,
      high: bars.high[i]!,
      low: bars.low[i]!,
      close: bars.close[i]!,
      volume: bars.volume[i]!,
    }));
    const p = previewPlan(plan, candles);
    const r = runBacktest(plan, bars, { cash: 10_000 });
    expect(r.trades.filter((t) => t.exitReason === 'exit').length).toBeGreaterThan(5);
    // in a trade (from its entry bar to the bar before its exit): its profit at each close; else flat
    const held = new Array<TradeRecord | undefined>(bars.length);
    for (const t of r.trades) for (let i = t.entryBar; i < t.exitBar; i++) held[i] = t;
    for (let i = 0; i < bars.length; i++) {
      const t = held[i];
      expect(p.series.pos!.long![i]).toBe(t ? 1 : 0);
      if (t) expect(p.series.pos!.profit_pct![i]).toBeCloseTo(profitAt(t, i), 9);
      else expect(p.series.pos!.profit_pct![i]).toBeNull();
    }
    // the close signals are the bars before the graph's exits
    const closes = p.signals.filter((x) => x.nodeId === 'exit').map((x) => x.index);
    expect(closes).toEqual(r.trades.filter((t) => t.exitReason === 'exit').map((t) => t.exitBar - 1));
    // the market's nodes as in blocks
    expect(p.series.fast!.value).toEqual(previewPlan(compiled(crossover()), candles).series.fast!.value);
  });

  it('walks forward over its thresholds, the same inline and on a worker-thread pool', async () => {
    const graph = structuredClone(templateById('rsi-position-exits')!.graph);
    const variants = gridVariants(graph, { 'one.value': [1, 3], 'days.value': [14_400, 28_800] }, 10);
    const spec = { folds: 3, outOfSamplePct: 25, anchored: true, rankBy: 'returnPct' as const };
    const a = await walkForward(variants, bars, opts, spec, inlineRunner());
    expect(a.trades.length).toBeGreaterThan(3);
    expect(a.trades.some((t) => t.exitReason === 'exit')).toBe(true);
    const pool = new EnginePool(2);
    try {
      const b = await walkForward(variants, bars, opts, spec, poolRunner(pool), undefined, 2);
      expect(JSON.stringify(b.folds)).toBe(JSON.stringify(a.folds));
      expect(b.equity).toEqual(a.equity);
    } finally {
      await pool.close();
    }
  });

  it('gives the position as set: long or short, profit on the average entry, minutes to the bar’s close, entries', () => {
    const plan = compiled(gatedBy(crossover(), 'buy', 'long', false));
    const inst = plan.instantiate(1, 3600);
    const [long, short, profit, best, held, entry, entries] = plan.positionSlots;
    const read = () => [long, short, profit, best, held, entry, entries].map((s) => inst.value(s!));
    const t0 = Date.UTC(2024, 0, 1);
    const hour = (h: number, close: number) => inst.step(close, close, close, close, 1, (t0 + h * 3_600_000) / 1000);
    hour(0, 100);
    expect(read()).toEqual([0, 0, NaN, NaN, NaN, NaN, 0]);
    inst.setPosition(2, 100, t0, 1);
    // an hourly bar two hours after the entry's closes three hours after it, at 110: +10 %
    hour(2, 110);
    expect(read()).toEqual([1, 0, 10, 10, 180, 100, 1]);
    // the best close so far stays: 5 % now, 10 % at best; an addition moves the entry, not the best close
    hour(3, 105);
    expect(read()).toEqual([1, 0, 5, 10, 240, 100, 1]);
    inst.setPosition(3, 102, t0, 2);
    hour(4, 102);
    expect(read()[3]).toBeCloseTo((100 * 8) / 102, 12);
    // a short from then: its own best (the lowest close), its profit positive as the price falls
    inst.setPosition(-3, 100, t0 + 5 * 3_600_000, 1);
    hour(5, 110);
    expect(read()).toEqual([0, 1, -10, -10, 60, 100, 1]);
    hour(6, 95);
    hour(7, 97);
    expect(read()).toEqual([0, 1, 3, 5, 180, 100, 1]);
    inst.setPosition(0, 100, t0, 2);
    hour(8, 97);
    expect(read()).toEqual([0, 0, NaN, NaN, NaN, NaN, 0]);
  });
});
