import {
  expandGrid,
  gridVariants,
  inlineRunner,
  templateById,
  walkForward,
  type Graph,
  type WalkForwardSpec,
} from '@algotrade/strategy';
import { backtestingPyBars } from '../test/helpers/goog.ts';
import { median, report, type GridCase } from './harness.ts';

// Does a walk-forward do better out of sample when each fold takes the most robust combination in
// sample (the best with its neighbours in the grid) instead of the best? On real data: three cases on
// GOOG daily and EURUSD hourly, each walked forward in 16 ways (4, 5, 6 or 8 folds; rolling or
// anchored; 20 or 30 % out of sample), once picking the best and once the most robust. Figures: the
// median chained out-of-sample Sharpe ratio and return of each pick (the best's the baseline), and in
// how many of the walks the robust pick did better.
const cases: GridCase[] = [
  {
    name: 'sma_crossover_goog_1d',
    data: 'GOOG.csv',
    template: 'sma-crossover',
    grid: { 'fast.period': { from: 2, to: 30, step: 2 }, 'slow.period': { from: 30, to: 200, step: 10 } },
  },
  {
    name: 'rsi_mean_reversion_goog_1d',
    data: 'GOOG.csv',
    template: 'rsi-mean-reversion',
    grid: { 'rsi.period': { from: 2, to: 30, step: 2 }, 'low.value': { from: 10, to: 45, step: 5 } },
  },
  {
    name: 'sma_crossover_eurusd_1h',
    data: 'EURUSD.csv',
    template: 'sma-crossover',
    grid: { 'fast.period': { from: 2, to: 60, step: 4 }, 'slow.period': { from: 20, to: 300, step: 20 } },
  },
];
const walks: Omit<WalkForwardSpec, 'rankBy'>[] = [4, 5, 6, 8].flatMap((folds) =>
  [false, true].flatMap((anchored) => [20, 30].map((outOfSamplePct) => ({ folds, anchored, outOfSamplePct }))),
);
const run = inlineRunner();
for (const c of cases) {
  const bars = backtestingPyBars(c.data);
  const variants = gridVariants(templateById(c.template)!.graph as Graph, expandGrid(c.grid), 1_000);
  const options = { cash: 10_000, feeRate: 0.001 };
  const rows: { best: { sharpe: number; returnPct: number }; robust: { sharpe: number; returnPct: number } }[] = [];
  const t0 = performance.now();
  for (const w of walks) {
    const spec = { ...w, rankBy: 'sharpe' as const };
    const [best, robust] = [
      await walkForward(variants, bars, options, spec, run),
      await walkForward(variants, bars, options, { ...spec, pick: 'robust' }, run),
    ];
    rows.push({ best: best.stats, robust: robust.stats });
  }
  const ms = performance.now() - t0;
  const finite = (x: number) => (Number.isFinite(x) ? x : 0);
  for (const m of ['sharpe', 'returnPct'] as const)
    report({
      bench: 'robust-pick',
      metric: `${c.name}_oos_${m}_robust_pick`,
      value: median(rows.map((r) => finite(r.robust[m]))),
      unit: m === 'sharpe' ? 'ratio' : '%',
      baseline: median(rows.map((r) => finite(r.best[m]))),
      baselineIs: 'each fold picking the best in sample',
      robustBetter: rows.filter((r) => finite(r.robust[m]) > finite(r.best[m])).length,
      tied: rows.filter((r) => finite(r.robust[m]) === finite(r.best[m])).length,
      walks: rows.length,
      combinations: variants.length,
      bars: bars.length,
      ms: Math.round(ms),
    });
}
