import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { googBars } from '../../../test/helpers/goog.ts';
import { runBacktest, type BacktestOptions } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { comboVariants, expandGrid, gridVariants, scoreOf, type Combo } from './grid.ts';
import { adaptiveSearch } from './tpe.ts';
import { EnginePool } from './engine-pool.ts';
import { foldsTable, limitsCell } from './report.ts';
import { templateById } from './templates.ts';
import {
  inlineRunner,
  poolRunner,
  viewBars,
  walkForward,
  WalkForwardCancelled,
  walkForwardWindows,
  type WindowRunner,
} from './walk-forward.ts';

const bars = googBars();
const graph = templateById('sma-crossover')!.graph;
const variants = gridVariants(graph, { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] }, 100);
const options = { cash: 10_000, wholeUnits: true, allowShort: true, feeRate: 0.001 };
const inline = inlineRunner();
const plainRun = (g: (typeof variants)[number]['graph'], to: number, o: Partial<BacktestOptions> = {}) =>
  runBacktest(compileGraph(g).plan!, viewBars(bars, 0, to), { ...options, ...o });

describe('walk-forward windows', () => {
  it('chain the out-of-sample windows to the last bar, each after its own in-sample window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 100_000 }),
        fc.integer({ min: 2, max: 20 }),
        fc.integer({ min: 5, max: 50 }),
        fc.boolean(),
        (n, folds, outOfSamplePct, anchored) => {
          const { windows, oosBars } = walkForwardWindows(n, { folds, outOfSamplePct, anchored });
          expect(windows).toHaveLength(folds);
          expect(windows[folds - 1]!.oosTo).toBe(n);
          windows.forEach((w, i) => {
            expect(w.isTo).toBe(w.oosFrom); // chosen on the bars just before, never on the tested ones
            expect(w.isFrom).toBeLessThanOrEqual(w.isTo);
            expect(w.isFrom).toBeGreaterThanOrEqual(0);
            if (anchored) expect(w.isFrom).toBe(0);
            else expect(w.isTo - w.isFrom).toBe(windows[0]!.isTo - windows[0]!.isFrom);
            if (i > 0) expect(w.oosFrom).toBe(windows[i - 1]!.oosTo);
            if (i < folds - 1) expect(w.oosTo - w.oosFrom).toBe(oosBars);
          });
          // the out-of-sample share is what was asked: the in-sample window takes what rounding leaves over
          const p = outOfSamplePct / 100;
          const d = folds + (1 - p) / p;
          const slack = windows[0]!.isTo - windows[0]!.isFrom - (oosBars * (1 - p)) / p;
          expect(slack).toBeGreaterThanOrEqual(-1e-9);
          expect(slack).toBeLessThan(d);
        },
      ),
      // found by a run of this property: 64 / (3 + 0.7 / 0.3) is 12, which the float form floored to 11
      { examples: [[64, 3, 30, false]] },
    );
  });
});

describe('tradeFrom: warm-up bars that do not trade', () => {
  const plan = compileGraph(graph).plan!;
  it('is the plain run when 0', () => {
    const a = runBacktest(plan, bars, options);
    const b = runBacktest(plan, bars, { ...options, tradeFrom: 0 });
    expect(b.trades).toEqual(a.trades);
    expect(Array.from(b.equity)).toEqual(Array.from(a.equity));
  });
  it('starts the result at that bar, flat, and trades only after it', () => {
    const k = 700;
    const r = runBacktest(plan, bars, { ...options, tradeFrom: k });
    expect(r.equity.length).toBe(bars.length - k);
    expect(r.equity[0]).toBe(options.cash);
    expect(r.stats.start).toBe(new Date(bars.ts[k]!).toISOString());
    expect(r.trades.length).toBeGreaterThan(10);
    for (const t of r.trades) {
      expect(t.entryBar).toBeGreaterThanOrEqual(1); // a signal on bar k fills on the next open
      expect(t.entryTime).toBe(bars.ts[k + t.entryBar]);
    }
    // cash reconciles over the window alone
    const pnl = r.trades.reduce((s, t) => s + t.pnl, 0);
    expect(r.finalCash).toBeCloseTo(options.cash + pnl, 6);
  });
  it('needs only the strategy’s warm-up before the window: a 30-bar lookback gives the same trades as all history', () => {
    const k = 700;
    const all = runBacktest(plan, bars, { ...options, tradeFrom: k });
    const short = runBacktest(plan, viewBars(bars, k - 30, bars.length), { ...options, tradeFrom: 30 });
    expect(short.trades).toEqual(all.trades);
    expect(Array.from(short.equity)).toEqual(Array.from(all.equity));
  });
});

describe('walk-forward on GOOG daily (2,148 bars), SMA crossover over a 3×2 grid', () => {
  const spec = { folds: 4, outOfSamplePct: 25, anchored: true, rankBy: 'sharpe' as const };

  it('picks, in each fold, the combination a plain backtest of the bars before ranks first', async () => {
    const res = await walkForward(variants, bars, options, spec, inline);
    const { windows } = walkForwardWindows(bars.length, spec);
    expect(res.folds).toHaveLength(4);
    res.folds.forEach((f, i) => {
      // anchored: the in-sample window is bars [0, oosFrom), a plain backtest with no warm-up machinery
      const plain = variants.map((v) => plainRun(v.graph, windows[i]!.isTo).stats);
      const scores = plain.map((s) => scoreOf(s, 'sharpe'));
      const at = scores.indexOf(Math.max(...scores));
      expect(f.chosen, `fold ${f.fold}`).toEqual(variants[at]!.combo);
      expect(f.inSampleStats.sharpe).toBeCloseTo(plain[at]!.sharpe, 12);
      expect(f.inSampleStats.returnPct).toBeCloseTo(plain[at]!.returnPct, 9);
    });
    // the full-period pick is the best of plain backtests over every bar
    const full = variants.map((v) => plainRun(v.graph, bars.length).stats);
    const fullScores = full.map((s) => scoreOf(s, 'sharpe'));
    expect(res.fullPeriod.combo).toEqual(variants[fullScores.indexOf(Math.max(...fullScores))]!.combo);
  });

  it('with minTrades, picks the best of the combinations that traded enough in sample, and says when none did', async () => {
    const { windows } = walkForwardWindows(bars.length, spec);
    const plain = windows.map((w) => variants.map((v) => plainRun(v.graph, w.isTo).stats));
    // a bar between the fewest and the most trades any combination made in the first fold
    const counts = plain[0]!.map((s) => s.trades);
    const minTrades = Math.floor((Math.min(...counts) + Math.max(...counts)) / 2) + 1;
    const res = await walkForward(variants, bars, options, { ...spec, minTrades }, inline);
    res.folds.forEach((f, i) => {
      const scores = plain[i]!.map((st) => (st.trades >= minTrades ? scoreOf(st, 'sharpe') : -Infinity));
      expect(f.chosen, `fold ${f.fold}`).toEqual(variants[scores.indexOf(Math.max(...scores))]!.combo);
      expect(f.inSampleStats.trades).toBeGreaterThanOrEqual(minTrades);
    });
    expect(scoreOf({ trades: minTrades - 1, sharpe: 9 }, 'sharpe', minTrades)).toBe(-Infinity);
    expect(scoreOf({ trades: minTrades, sharpe: 9 }, 'sharpe', minTrades)).toBe(9);
    const none = await walkForward(variants, bars, options, { ...spec, minTrades: 1_000_000 }, inline);
    for (const f of none.folds) {
      expect(f.chosen).toEqual(variants[0]!.combo);
      expect(f.note).toBe('no combination had a sharpe in sample with at least 1000000 trades; the first was taken');
    }
  });

  it('with pick "robust", takes in each fold the combination best with its neighbours in the grid', async () => {
    const { windows } = walkForwardWindows(bars.length, spec);
    const res = await walkForward(variants, bars, options, { ...spec, pick: 'robust' }, inline);
    const best = await walkForward(variants, bars, options, spec, inline);
    // the neighbours: one step in one parameter (fast 5-10-20, slow 30-50), every point has two or three
    const steps: Record<string, number[]> = { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] };
    const near = (a: Combo, b: Combo) => {
      const d = Object.keys(a).filter((k) => a[k] !== b[k]);
      return d.length === 1 && Math.abs(steps[d[0]!]!.indexOf(+a[d[0]!]!) - steps[d[0]!]!.indexOf(+b[d[0]!]!)) === 1;
    };
    let differ = 0;
    res.folds.forEach((f, i) => {
      const scores = variants.map((v) => scoreOf(plainRun(v.graph, windows[i]!.isTo).stats, 'sharpe'));
      const withNeighbours = variants.map((v, k) => {
        const around = variants.flatMap((w, j) => (near(v.combo, w.combo) ? [scores[j]!] : []));
        return (scores[k]! + around.reduce((x, y) => x + y, 0)) / (around.length + 1);
      });
      const at = withNeighbours.indexOf(Math.max(...withNeighbours));
      expect(f.chosen, `fold ${f.fold}`).toEqual(variants[at]!.combo);
      expect(f.inSampleStats.sharpe).toBeLessThanOrEqual(best.folds[i]!.inSampleStats.sharpe);
      if (JSON.stringify(f.chosen) !== JSON.stringify(best.folds[i]!.chosen)) differ++;
    });
    // on GOOG the plateau and the peak part in at least one fold
    expect(differ).toBeGreaterThan(0);
    // the full period is picked the same way
    const full = variants.map((v) => scoreOf(plainRun(v.graph, bars.length).stats, 'sharpe'));
    const fullWith = variants.map((v, k) => {
      const around = variants.flatMap((w, j) => (near(v.combo, w.combo) ? [full[j]!] : []));
      return (full[k]! + around.reduce((x, y) => x + y, 0)) / (around.length + 1);
    });
    expect(res.fullPeriod.combo).toEqual(variants[fullWith.indexOf(Math.max(...fullWith))]!.combo);
  });

  it('with pick "robust" over a sample of a grid, reads neighbours from the grid, not from the sample\'s values', async () => {
    // four of the six points: fast.period 10 not run. In the grid, 5 and 20 are not neighbours (10 is
    // between them), so every point has one neighbour run of two and none qualifies: each fold takes
    // the best and says so. Read from the sample's values alone, 5 and 20 would be neighbours.
    const sample = variants.filter((v) => v.combo['fast.period'] !== 10);
    const grid = { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] };
    const robust = await walkForward(sample, bars, options, { ...spec, pick: 'robust', grid }, inline);
    const best = await walkForward(sample, bars, options, spec, inline);
    robust.folds.forEach((f, i) => {
      expect(f.chosen).toEqual(best.folds[i]!.chosen);
      expect(f.note).toBe('no combination had two neighbours run in sample: the best was taken, not the most robust');
    });
    const bySample = await walkForward(sample, bars, options, { ...spec, pick: 'robust' }, inline);
    expect(bySample.folds.every((f) => f.note === undefined)).toBe(true);
  });

  it('tests each choice only on the unseen window that follows, carrying the equity from fold to fold', async () => {
    const res = await walkForward(variants, bars, options, { ...spec, anchored: false }, inline);
    const { windows } = walkForwardWindows(bars.length, spec);
    expect(res.lookback).toBe(10 * 49 + 1); // SMA(50)'s first value is on bar 49
    let cash = options.cash;
    res.folds.forEach((f, i) => {
      const w = windows[i]!;
      expect(f.startEquity).toBe(cash);
      expect(f.outOfSample.from).toBe(new Date(bars.ts[w.oosFrom]!).toISOString());
      // the same window run with all history before it as warm-up gives the same result
      const v = variants.find((x) => JSON.stringify(x.combo) === JSON.stringify(f.chosen))!;
      const ref = runBacktest(compileGraph(v.graph).plan!, viewBars(bars, 0, w.oosTo), {
        ...options,
        cash,
        tradeFrom: w.oosFrom,
      });
      expect(f.outOfSampleStats.returnPct).toBeCloseTo(ref.stats.returnPct, 9);
      expect(f.outOfSampleStats.trades).toBe(ref.trades.length);
      cash = f.endEquity;
    });
    // the chained run: its trades all fall in the out-of-sample windows, and the money reconciles
    const first = bars.ts[windows[0]!.oosFrom]!;
    expect(res.equity.ts[0]).toBe(first);
    expect(res.equity.ts.length).toBe(bars.length - windows[0]!.oosFrom);
    for (const t of res.trades) expect(t.entryTime).toBeGreaterThan(first);
    const pnl = res.trades.reduce((s, t) => s + t.pnl, 0);
    const final = res.equity.equity.at(-1)!;
    expect(Math.round((options.cash + pnl) * 100)).toBe(Math.round(final * 100));
    expect(res.stats.trades).toBe(res.trades.length);
    expect(res.stats.equityFinal).toBe(final);
    expect(res.folds.reduce((s, f) => s + f.outOfSampleStats.trades, 0)).toBe(res.trades.length);
    expect(res.chosen.reduce((s, c) => s + c.folds, 0)).toBe(4);
  });

  it("with a paper session's risk limits: each fold says what they did out of sample, as the window's own backtest, inline and on the pool", async () => {
    const risk = { maxDailyLossPct: 2, resumeNextDay: true, maxOrdersPerMinute: 1 };
    const res = await walkForward(variants, bars, { ...options, risk }, { ...spec, anchored: false }, inline);
    const { windows } = walkForwardWindows(bars.length, spec);
    let halts = 0;
    res.folds.forEach((f, i) => {
      const w = windows[i]!;
      const v = variants.find((x) => JSON.stringify(x.combo) === JSON.stringify(f.chosen))!;
      const start = Math.max(0, w.oosFrom - res.lookback);
      const ref = runBacktest(compileGraph(v.graph).plan!, viewBars(bars, start, w.oosTo), {
        ...options,
        risk,
        cash: f.startEquity,
        tradeFrom: w.oosFrom - start,
      });
      expect(f.limits, `fold ${f.fold}`).toEqual({
        halts: ref.risk!.halts.map((h) => ({ time: new Date(h.time).toISOString(), limit: h.limit, pct: h.pct })),
        refused: ref.risk!.refused,
      });
      // every halt lies in the window, and closed a trade of the chained run there
      for (const h of f.limits!.halts) {
        expect(Date.parse(h.time)).toBeGreaterThanOrEqual(bars.ts[w.oosFrom]!);
        expect(Date.parse(h.time)).toBeLessThan(w.oosTo < bars.length ? bars.ts[w.oosTo]! : Infinity);
        expect(res.trades.some((t) => t.exitReason === 'max_daily_loss' && t.exitTime === Date.parse(h.time))).toBe(
          true,
        );
      }
      halts += f.limits!.halts.length;
    });
    expect(halts).toBeGreaterThan(2);
    // the HTML report's and the CLI's folds table: a column of what they did
    const table = foldsTable(res.folds, 'sharpe');
    expect(table.head.at(-1)).toBe('Risk limits');
    table.rows.forEach((row, i) => expect(row.at(-1)).toBe(limitsCell(res.folds[i]!.limits!)));
    expect(foldsTable((await walkForward(variants, bars, options, spec, inline)).folds, 'sharpe').head).not.toContain(
      'Risk limits',
    );
    const pool = new EnginePool(2);
    try {
      const onPool = await walkForward(
        variants,
        bars,
        { ...options, risk },
        { ...spec, anchored: false },
        poolRunner(pool),
      );
      expect(JSON.stringify(onPool.folds)).toBe(JSON.stringify(res.folds));
    } finally {
      await pool.close();
    }
  });

  it('is deterministic, and the same on a worker-thread pool', async () => {
    const a = await walkForward(variants, bars, options, spec, inline);
    const b = await walkForward(variants, bars, options, spec, inline);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const pool = new EnginePool(2);
    try {
      const c = await walkForward(variants, bars, options, spec, poolRunner(pool), undefined, 2);
      expect(JSON.stringify(c.folds)).toBe(JSON.stringify(a.folds));
      expect(c.equity).toEqual(a.equity);
      // the threads let go of the series; a later walk-forward sends it again and gets the same
      pool.releaseSeries(bars);
      const d = await walkForward(variants, bars, options, spec, poolRunner(pool), undefined, 2);
      expect(JSON.stringify(d.folds)).toBe(JSON.stringify(a.folds));
    } finally {
      await pool.close();
    }
  });

  it('searches each window adaptively (TPE): the pick is the best of the search a plain backtest of the window runs', async () => {
    const grid = expandGrid({
      'fast.period': { from: 2, to: 30, step: 1 },
      'slow.period': { from: 35, to: 200, step: 5 },
    });
    const adaptive = { graph, grid, search: { count: 20, seed: 3, startup: 8 } };
    const seen: number[] = [];
    const res = await walkForward(adaptive, bars, options, spec, inline, (p) => void seen.push(p));
    // 20 backtests in each of 4 in-sample windows and over all bars, and one out of sample per fold
    expect(seen).toHaveLength(20 * 5 + 4);
    expect(seen.at(-1)).toBe(1);
    // the slowest point, SMA(200), has its first value on bar 199: the windows warm on 10 × 199 + 1 bars
    expect(res.lookback).toBe(10 * 199 + 1);
    const { windows } = walkForwardWindows(bars.length, spec);
    const graphOf = (c: Combo) => comboVariants(graph, [c])[0]!.graph;
    for (const [i, f] of res.folds.entries()) {
      // anchored: the in-sample window is bars [0, isTo), so the same search over plain backtests
      const trials = await adaptiveSearch(
        grid,
        20,
        3,
        (c) => scoreOf(plainRun(graphOf(c), windows[i]!.isTo).stats, 'sharpe'),
        8,
      );
      const best = trials.reduce((b, t) => (t.score > b.score ? t : b));
      expect(f.chosen, `fold ${f.fold}`).toEqual(best.combo);
      expect(f.inSampleStats.sharpe).toBeCloseTo(best.score, 12);
    }
    // the same on a pool, where the windows' searches run side by side
    const pool = new EnginePool(2);
    try {
      const c = await walkForward(adaptive, bars, options, spec, poolRunner(pool), undefined, 2);
      expect(JSON.stringify(c.folds)).toBe(JSON.stringify(res.folds));
      expect(c.fullPeriod).toEqual(res.fullPeriod);
    } finally {
      await pool.close();
    }
  });

  it('reports progress up to 1 and stops starting backtests once cancelled', async () => {
    const seen: number[] = [];
    await walkForward(variants, bars, options, spec, inline, (p) => void seen.push(p));
    expect(seen).toHaveLength(variants.length * 5 + 4);
    expect(seen.at(-1)).toBe(1);
    expect(seen.every((p, i) => i === 0 || p > seen[i - 1]!)).toBe(true);

    let calls = 0;
    const counting: WindowRunner = (g, b, w, o) => {
      calls++;
      return inline(g, b, w, o);
    };
    await expect(walkForward(variants, bars, options, spec, counting, () => calls >= 3)).rejects.toBeInstanceOf(
      WalkForwardCancelled,
    );
    expect(calls).toBe(3);
  });

  it('refuses windows too small to hold a trade, naming the sizes', async () => {
    await expect(
      walkForward(variants, viewBars(bars, 0, 30), options, { ...spec, folds: 20, outOfSamplePct: 5 }, inline),
    ).rejects.toThrow(/30 bars make out-of-sample windows of 0 bars/);
  });
});
