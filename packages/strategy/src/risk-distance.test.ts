import type { TradeRecord } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { evaluateNode } from './evaluate-node.ts';
import { amountAt, distancesAt } from './plan.ts';
import { templateById } from './templates.ts';
import { googBars } from '../../../test/helpers/goog.ts';
import { withAtrRules } from '../../../test/helpers/graphs.ts';

// Rules at a distance (an ATR's stop, target and chandelier trail) on real daily GOOG bars, each exit
// checked against an ATR computed apart from the strategy (the node TA-Lib's values check).
const bars = googBars();
const atr14 = evaluateNode('indicator.atr', { period: 14 }, [bars.high, bars.low, bars.close])[0]!;
const crossover = () => structuredClone(templateById('sma-crossover')!.graph);
const plan = (rules: [string, string, Record<string, unknown>?][], sizing?: Record<string, unknown>, period = 14) => {
  const g = withAtrRules(crossover(), rules, period);
  if (sizing) for (const n of g.nodes) if (n.type === 'action.buy' || n.type === 'action.sell') n.data = sizing;
  const c = compileGraph(g);
  expect(c.report.errors).toEqual([]);
  return c.plan!;
};
const SLIP = 0.0005;
const opts = { cash: 10_000, allowShort: true, slippageBps: SLIP * 10_000 };
/** the bar whose signal opened a trade (orders fill at the next open) */
const signalBar = (t: TradeRecord) => t.entryBar - 1;
/** no bar from the entry bar to the one before the exit reached `level` on the trade's losing side */
const untouched = (t: TradeRecord, level: number, from = t.entryBar) => {
  for (let i = from; i < t.exitBar; i++) if (t.size > 0 ? bars.low[i]! <= level : bars.high[i]! >= level) return false;
  return true;
};

describe('stops and targets at a distance read from the graph', () => {
  it('compiles: the distance is an input, its warm-up counts, one rule of each kind', () => {
    const ok = compileGraph(withAtrRules(crossover(), [['sl', 'risk.stop_distance', { multiplier: 2 }]], 50));
    expect(ok.report.errors).toEqual([]);
    // the ATR feeds only the stop: not flagged as leading nowhere, and its 50 bars are the warm-up
    expect(ok.report.warnings.filter((w) => w.code === 'UNREACHABLE_NODE')).toEqual([]);
    expect(ok.report.warmup).toBe(50);
    expect(ok.plan!.risk.distances).toEqual([{ rule: 'stop', slot: expect.any(Number), multiplier: 2 }]);
    // a percent stop and a stop at a distance are one rule twice
    const g = withAtrRules(crossover(), [['sl', 'risk.stop_distance']]);
    g.nodes.push({ id: 'pct', type: 'risk.stop_loss', data: { percent: 2 }, position: { x: 0, y: 0 } });
    expect(compileGraph(g).report.errors.map((e) => [e.code, e.nodeId])).toEqual([['DUPLICATE_RISK_NODE', 'pct']]);
    // unwired: named on the node
    const bare = crossover();
    bare.nodes.push({ id: 'tp', type: 'risk.target_distance', data: {}, position: { x: 0, y: 0 } });
    expect(compileGraph(bare).report.errors.map((e) => [e.code, e.nodeId])).toEqual([['MISSING_INPUT', 'tp']]);
    // sizing by risk is satisfied by a stop at a distance
    const risky = withAtrRules(crossover(), [['sl', 'risk.stop_distance']]);
    for (const n of risky.nodes) if (n.type === 'action.buy') n.data = { sizing: 'risk_pct', amount: 1 };
    expect(compileGraph(risky).report.errors).toEqual([]);
  });

  it('a 2 × ATR stop and a 3 × ATR target: each exit at the entry ∓ the multiple of the signal bar’s ATR', () => {
    const r = runBacktest(
      plan([
        ['sl', 'risk.stop_distance', { multiplier: 2 }],
        ['tp', 'risk.target_distance', { multiplier: 3 }],
      ]),
      bars,
      opts,
    );
    const by = (reason: string) => r.trades.filter((t) => t.exitReason === reason);
    expect(by('stop_loss').length).toBeGreaterThan(5);
    expect(by('take_profit').length).toBeGreaterThan(3);
    for (const t of r.trades) {
      const d = atr14[signalBar(t)]!;
      const long = t.size > 0;
      const stop = long ? t.entryPrice - 2 * d : t.entryPrice + 2 * d;
      const target = long ? t.entryPrice + 3 * d : t.entryPrice - 3 * d;
      // neither level was reached before the exit bar (the stop's side checked from the entry bar on)
      expect(untouched(t, stop), `trade at ${t.entryBar}`).toBe(true);
      if (t.exitReason === 'stop_loss') {
        const o = bars.open[t.exitBar]!;
        const raw = long ? Math.min(o, stop) : Math.max(o, stop);
        expect(t.exitPrice).toBeCloseTo(raw * (long ? 1 - SLIP : 1 + SLIP), 9);
      }
      if (t.exitReason === 'take_profit') {
        const o = bars.open[t.exitBar]!;
        expect(t.exitPrice).toBeCloseTo(long ? Math.max(o, target) : Math.min(o, target), 9);
      }
    }
  });

  it('a chandelier exit: 3 × ATR from the best price since entry', () => {
    const r = runBacktest(plan([['trail', 'risk.trailing_distance', { multiplier: 3 }]]), bars, opts);
    const trails = r.trades.filter((t) => t.exitReason === 'trailing_stop');
    expect(trails.length).toBeGreaterThan(5);
    for (const t of trails) {
      const long = t.size > 0;
      const d = 3 * atr14[signalBar(t)]!;
      // the best price up to the bar before the exit, from the entry price on
      let best = t.entryPrice;
      for (let i = t.entryBar; i < t.exitBar; i++)
        best = long ? Math.max(best, bars.high[i]!) : Math.min(best, bars.low[i]!);
      const level = long ? best - d : best + d;
      const o = bars.open[t.exitBar]!;
      const raw = long ? Math.min(o, level) : Math.max(o, level);
      expect(t.exitPrice).toBeCloseTo(raw * (long ? 1 - SLIP : 1 + SLIP), 9);
    }
  });

  it('sizing by risk: a position loses the share of equity asked at its 2 × ATR stop', () => {
    const r = runBacktest(
      plan([['sl', 'risk.stop_distance', { multiplier: 2 }]], { sizing: 'risk_pct', amount: 1 }),
      bars,
      { cash: 10_000, allowShort: true },
    );
    expect(r.trades.length).toBeGreaterThan(20);
    let equity = 10_000;
    for (const t of r.trades) {
      const risk = Math.abs(t.size) * 2 * atr14[signalBar(t)]!;
      // 1 % of the equity at the entry, unless that would take more than all of it (then all of it)
      const whole = Math.abs(t.size) * t.entryPrice;
      if (whole < equity * 0.999) expect(risk / equity).toBeCloseTo(0.01, 6);
      else expect(whole).toBeCloseTo(equity, 2);
      // a stop filled at its level loses that share (a gap through it more)
      if (t.exitReason === 'stop_loss' && t.exitPrice === t.entryPrice - Math.sign(t.size) * 2 * atr14[signalBar(t)]!)
        expect(-t.pnl / equity).toBeCloseTo(0.01, 6);
      equity += t.pnl;
    }
    expect(r.finalCash).toBeCloseTo(equity, 6);
  });

  it('an entry whose distance is not defined yet has no stop, and sized by risk is not taken', () => {
    // an ATR of 500 bars: the crossover signals from bar 30 on, the distance from bar 500
    const free = runBacktest(plan([['sl', 'risk.stop_distance']], undefined, 500), bars, opts);
    const early = free.trades.filter((t) => signalBar(t) < 500);
    expect(early.length).toBeGreaterThan(3);
    expect(early.every((t) => t.exitReason !== 'stop_loss')).toBe(true);
    const sized = runBacktest(plan([['sl', 'risk.stop_distance']], { sizing: 'risk_pct', amount: 1 }, 500), bars, opts);
    expect(sized.trades.length).toBeGreaterThan(5);
    expect(sized.trades.every((t) => signalBar(t) >= 500)).toBe(true);
  });

  it('the helpers: distances are the multiple of a positive value, sizing by risk divides by the stop', () => {
    const risk = {
      distances: [
        { rule: 'stop' as const, slot: 7, multiplier: 2 },
        { rule: 'trail' as const, slot: 8, multiplier: 3 },
      ],
    };
    expect(distancesAt(risk, (s) => (s === 7 ? 1.5 : NaN))).toEqual({ stop: 3, target: 0, trail: 0 });
    expect(distancesAt(risk, (s) => (s === 7 ? -1 : 2))).toEqual({ stop: 0, target: 0, trail: 6 });
    // 1 % at risk, a stop 4 under a price of 100: a position worth 25 % of equity (its margin at 5×: 5 %)
    const a = { amount: 1, perLeverage: true, perStop: true };
    expect(amountAt(a, 1, 100, 4)).toBe(25);
    expect(amountAt(a, 5, 100, 4)).toBe(5);
    expect(amountAt(a, 1, 100, 0)).toBe(0);
  });
});

describe('a stop moved to break-even (breakEvenPct)', () => {
  const withStop = (data: Record<string, unknown>, type = 'risk.stop_loss') => {
    const g = crossover();
    g.nodes.push({ id: 'sl', type, data, position: { x: 0, y: 0 } });
    return compileGraph(type === 'risk.stop_loss' ? g : withAtrRules(crossover(), [['sl', type, data]])).plan!;
  };
  /** the best price the trade saw before its exit bar, from its entry price on */
  const best = (t: TradeRecord) => {
    let b = t.entryPrice;
    for (let i = t.entryBar; i < t.exitBar; i++)
      b = t.size > 0 ? Math.max(b, bars.high[i]!) : Math.min(b, bars.low[i]!);
    return b;
  };

  it('once the best price gained breakEvenPct on the entry, the stop is at the entry', () => {
    const r = runBacktest(withStop({ percent: 5, breakEvenPct: 3 }), bars, opts);
    const stops = r.trades.filter((t) => t.exitReason === 'stop_loss');
    let even = 0;
    for (const t of stops) {
      const long = t.size > 0;
      const reached = long ? best(t) >= t.entryPrice * 1.03 : best(t) <= t.entryPrice * 0.97;
      const level = reached ? t.entryPrice : t.entryPrice * (long ? 0.95 : 1.05);
      if (reached) even++;
      const o = bars.open[t.exitBar]!;
      const raw = long ? Math.min(o, level) : Math.max(o, level);
      expect(t.exitPrice, `trade at ${t.entryBar}`).toBeCloseTo(raw * (long ? 1 - SLIP : 1 + SLIP), 9);
    }
    expect(even).toBeGreaterThan(5);
    expect(stops.length - even).toBeGreaterThan(2);
    // without it, those trades ran on: the break-even changed the result
    const plain = runBacktest(withStop({ percent: 5 }), bars, opts);
    expect(plain.trades.filter((t) => t.exitReason === 'stop_loss').length).toBeLessThan(stops.length);
  });

  it('a stop at a distance moves likewise', () => {
    const r = runBacktest(withStop({ multiplier: 4, breakEvenPct: 2 }, 'risk.stop_distance'), bars, opts);
    const evens = r.trades.filter(
      (t) =>
        t.exitReason === 'stop_loss' &&
        Math.abs(t.exitPrice - Math.min(bars.open[t.exitBar]!, t.entryPrice) * (1 - SLIP)) < 1e-9 &&
        t.size > 0,
    );
    expect(evens.length).toBeGreaterThan(3);
    for (const t of evens) expect(best(t)).toBeGreaterThanOrEqual(t.entryPrice * 1.02);
  });
});

describe("an ROI table (freqtrade's minimal_roi): a take profit that comes down with time held", () => {
  const DAY_MIN = 1440;
  // 10 % at first, 5 % after 5 days, 2 % after 10, any gain after 20
  const table = {
    roi0: 10,
    after1: 5 * DAY_MIN,
    roi1: 5,
    after2: 10 * DAY_MIN,
    roi2: 2,
    after3: 20 * DAY_MIN,
    roi3: 0,
  };
  const plan = (data: Record<string, unknown>) => {
    const g = crossover();
    g.nodes.push({ id: 'roi', type: 'risk.roi_table', data, position: { x: 0, y: 0 } });
    return compileGraph(g);
  };
  /** the gain the table asks of a position held `ms`, written out */
  const asked = (ms: number) => {
    const days = ms / 86_400_000;
    return days >= 20 ? 0 : days >= 10 ? 2 : days >= 5 ? 5 : 10;
  };

  it('exits at the gain of the step the time held has reached, and never where an earlier bar reached its own', () => {
    const r = runBacktest(plan(table).plan!, bars, opts);
    const exits = r.trades.filter((t) => t.exitReason === 'roi');
    expect(exits.length).toBeGreaterThan(10);
    // exits at every step
    const held = (t: TradeRecord, i = t.exitBar) => bars.ts[i]! - bars.ts[t.entryBar]!;
    expect(new Set(exits.map((t) => asked(held(t)))).size).toBeGreaterThanOrEqual(3);
    for (const t of r.trades) {
      const long = t.size > 0;
      const level = (i: number) => t.entryPrice * (1 + ((long ? 1 : -1) * asked(held(t, i))) / 100);
      for (let i = t.entryBar; i < t.exitBar; i++)
        expect(long ? bars.high[i]! < level(i) : bars.low[i]! > level(i), `trade at ${t.entryBar}, bar ${i}`).toBe(
          true,
        );
      if (t.exitReason !== 'roi') continue;
      const o = bars.open[t.exitBar]!;
      const lv = level(t.exitBar);
      // a limit order: at its level, or at the open when the bar opened beyond it; no slippage
      expect(t.exitPrice).toBeCloseTo(long ? Math.max(o, lv) : Math.min(o, lv), 9);
    }
  });

  it("counts as the graph's take profit, and its steps' minutes must grow", () => {
    const g = crossover();
    g.nodes.push(
      { id: 'roi', type: 'risk.roi_table', data: {}, position: { x: 0, y: 0 } },
      { id: 'tp', type: 'risk.take_profit', data: { percent: 5 }, position: { x: 0, y: 0 } },
    );
    expect(compileGraph(g).report.errors.map((e) => e.code)).toEqual(['DUPLICATE_RISK_NODE']);
    const bad = plan({ after1: 60, after2: 30 }).report.errors;
    expect(bad.map((e) => [e.code, e.nodeId])).toEqual([['INVALID_PARAM', 'roi']]);
    expect(bad[0]!.message).toMatch(/must grow/);
    // a step at 0 minutes is unused
    expect(plan({ after1: 0, after2: 60, after3: 0 }).plan!.risk.roi).toEqual([
      { afterMs: 0, pct: 4 },
      { afterMs: 3_600_000, pct: 1 },
    ]);
  });
});

describe('a chandelier exit with an activation (activatePct on the trailing stop at a distance)', () => {
  it('trails only once the best price has gained that much on the entry', () => {
    const g = withAtrRules(crossover(), [['trail', 'risk.trailing_distance', { multiplier: 3, activatePct: 5 }]]);
    const r = runBacktest(compileGraph(g).plan!, bars, opts);
    const trails = r.trades.filter((t) => t.exitReason === 'trailing_stop');
    expect(trails.length).toBeGreaterThan(3);
    for (const t of trails) {
      const long = t.size > 0;
      let best = t.entryPrice;
      for (let i = t.entryBar; i < t.exitBar; i++)
        best = long ? Math.max(best, bars.high[i]!) : Math.min(best, bars.low[i]!);
      expect(long ? best >= t.entryPrice * 1.05 : best <= t.entryPrice * 0.95, `trade at ${t.entryBar}`).toBe(true);
    }
    // fewer trails than without the activation
    const free = runBacktest(plan([['trail', 'risk.trailing_distance', { multiplier: 3 }]]), bars, opts);
    expect(free.trades.filter((t) => t.exitReason === 'trailing_stop').length).toBeGreaterThan(trails.length);
  });
});

describe('a take-profit ladder: scaling out in steps', () => {
  const ladderPlan = (data: Record<string, unknown>) => {
    const g = crossover();
    g.nodes.push({ id: 'lad', type: 'risk.take_profit_ladder', data, position: { x: 0, y: 0 } });
    return compileGraph(g);
  };
  /** the trades of each position, by its entry bar, in the order they closed */
  const positions = (trades: TradeRecord[]) => {
    const by = new Map<number, TradeRecord[]>();
    for (const t of trades) by.set(t.entryBar, [...(by.get(t.entryBar) ?? []), t]);
    return [...by.values()];
  };
  /** the first bar from `from` on (to `to`) whose high (a short's low) reached `level`, -1 none */
  const reached = (long: boolean, level: number, from: number, to: number) => {
    for (let i = from; i <= to; i++) if (long ? bars.high[i]! >= level : bars.low[i]! <= level) return i;
    return -1;
  };

  for (const [name, steps] of [
    [
      'all of it out in three steps',
      [
        [4, 50],
        [8, 25],
        [12, 25],
      ],
    ],
    [
      'a quarter left to run',
      [
        [3, 40],
        [6, 35],
      ],
    ],
  ] as const)
    it(`${name}: each step at the first bar reaching its level, its share of the position, the rest to the strategy`, () => {
      const data: Record<string, number> = { share1: 0, share2: 0, share3: 0 };
      steps.forEach(([pct, share], k) => Object.assign(data, { [`pct${k + 1}`]: pct, [`share${k + 1}`]: share }));
      const r = runBacktest(ladderPlan(data).plan!, bars, opts);
      let taken = 0;
      let takenShort = 0;
      for (const trades of positions(r.trades)) {
        const first = trades[0]!;
        const long = first.size > 0;
        const whole = trades.reduce((a, t) => a + t.size, 0);
        const last = trades.at(-1)!;
        const tps = trades.filter((t) => t.exitReason === 'take_profit');
        // the steps in order, each where the price first reached its level and while the position was open
        let k = 0;
        for (const [pct, share] of steps) {
          const level = first.entryPrice * (1 + ((long ? 1 : -1) * pct) / 100);
          const at = reached(long, level, first.entryBar, last.exitBar);
          const t = tps[k];
          if (at < 0 || (at === last.exitBar && last.exitReason !== 'take_profit')) break;
          expect(t, `position at ${first.entryBar}, step ${k + 1}`).toBeDefined();
          expect(t!.exitBar).toBe(at);
          // a limit order: at its level, or at the open when the bar opened beyond it
          const o = bars.open[at]!;
          expect(t!.exitPrice).toBeCloseTo(long ? Math.max(o, level) : Math.min(o, level), 9);
          // its share of the position as it stood at entry (rounded down to 1e-8)
          expect(Math.abs(t!.size - (whole * share) / 100)).toBeLessThan(1e-7);
          k++;
        }
        expect(tps).toHaveLength(k);
        taken += k;
        if (!long) takenShort += k;
        // what the steps did not take leaves by the strategy (or the data's end)
        const rest = trades.filter((t) => t.exitReason !== 'take_profit');
        expect(rest.length).toBeLessThanOrEqual(1);
        if (k < steps.length || steps.reduce((a, [, s]) => a + s, 0) < 100) expect(rest).toHaveLength(1);
      }
      expect(taken).toBeGreaterThan(10);
      expect(takenShort).toBeGreaterThan(2);
      // the money: the trades' PnL is the equity's change, to the cent
      const pnl = r.trades.reduce((a, t) => a + t.pnl, 0);
      expect(Math.abs(r.equity[r.equity.length - 1]! - (opts.cash + pnl))).toBeLessThan(0.005);
    });

  it("counts as the graph's take profit; its steps go by their gains, and their shares fit the position", () => {
    const g = crossover();
    g.nodes.push(
      { id: 'lad', type: 'risk.take_profit_ladder', data: {}, position: { x: 0, y: 0 } },
      { id: 'tp', type: 'risk.take_profit', data: { percent: 5 }, position: { x: 0, y: 0 } },
    );
    expect(compileGraph(g).report.errors.map((e) => e.code)).toEqual(['DUPLICATE_RISK_NODE']);
    const errors = (data: Record<string, number>) =>
      ladderPlan(data).report.errors.map((e) => [e.code, e.nodeId, e.message.replace(/^.*\): /, '')]);
    // steps out of order go by their gains (a sweep over each step's gain gives every point a ladder);
    // steps at one gain are one step
    expect(ladderPlan({ pct1: 5, pct2: 4 }).plan!.risk.ladder).toEqual([
      { pct: 4, sharePct: 25 },
      { pct: 5, sharePct: (50 / 75) * 100 },
      { pct: 6, sharePct: 100 },
    ]);
    expect(ladderPlan({ pct1: 4, share1: 30, pct2: 4, share2: 30, pct3: 8, share3: 20 }).plan!.risk.ladder).toEqual([
      { pct: 4, sharePct: 60 },
      { pct: 8, sharePct: 50 },
    ]);
    expect(errors({ share1: 60, share2: 30, share3: 20 })).toEqual([
      ['INVALID_PARAM', 'lad', 'its shares add up to 110 %, more than the whole position (100)'],
    ]);
    expect(errors({ share1: 0, share2: 0, share3: 0 })[0]![2]).toMatch(/no step has a share/);
    // an unused step's gain does not count; the shares become shares of what is open at each step
    expect(ladderPlan({ pct1: 5, share1: 0, pct2: 3, share2: 30, pct3: 9, share3: 30 }).plan!.risk.ladder).toEqual([
      { pct: 3, sharePct: 30 },
      { pct: 9, sharePct: (30 / 70) * 100 },
    ]);
    // shares adding up to 100 (100 - 1.1 - 1.1 is 97.80000000000001 in floats): the last closes what is left
    expect(ladderPlan({ share1: 1.1, share2: 1.1, share3: 97.8 }).plan!.risk.ladder!.at(-1)!.sharePct).toBe(100);
    expect(ladderPlan({}).plan!.risk.ladder).toEqual([
      { pct: 2, sharePct: 50 },
      { pct: 4, sharePct: 50 },
      { pct: 6, sharePct: 100 },
    ]);
  });
});

describe('the ema-trend-ladder template on GOOG', () => {
  it('scales out of its trends in steps of half, a quarter and a quarter, the money reconciled', () => {
    const plan = compileGraph(templateById('ema-trend-ladder')!.graph).plan!;
    expect(plan.risk.ladder).toEqual([
      { pct: 5, sharePct: 50 },
      { pct: 10, sharePct: 50 },
      { pct: 20, sharePct: 100 },
    ]);
    expect(plan.risk.cooldown).toEqual({ ms: 10 * 86_400_000, after: 'loss', count: 3, withinMs: 0 });
    const r = runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001 });
    // positions by entry: each step's trade is its share of the position at its level or the open beyond
    const by = new Map<number, TradeRecord[]>();
    for (const t of r.trades) by.set(t.entryBar, [...(by.get(t.entryBar) ?? []), t]);
    let steps = 0;
    for (const trades of by.values()) {
      const whole = trades.reduce((a, t) => a + t.size, 0);
      trades
        .filter((t) => t.exitReason === 'take_profit')
        .forEach((t, k) => {
          const level = t.entryPrice * (1 + [5, 10, 20][k]! / 100);
          expect(t.exitPrice).toBeCloseTo(Math.max(bars.open[t.exitBar]!, level), 9);
          expect(Math.abs(t.size - (whole * [50, 25, 25][k]!) / 100)).toBeLessThan(1e-7);
          steps++;
        });
    }
    expect(steps).toBeGreaterThan(20);
    const pnl = r.trades.reduce((a, t) => a + t.pnl, 0);
    expect(Math.abs(r.equity[r.equity.length - 1]! - (10_000 + pnl))).toBeLessThan(0.005);
  });
});
