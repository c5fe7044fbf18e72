import {
  adaptiveSearch,
  comboKey,
  comboVariants,
  expandGrid,
  gridCombos,
  inlineRunner,
  walkForward,
  proposalRandom,
  proposeTpe,
  runBacktest,
  sampleGrid,
  scoreOf,
  templateById,
  type Graph,
  type ParamGrid,
} from '@algotrade/strategy';
import { backtestingPyBars } from '../test/helpers/goog.ts';
import { median, report, type GridCase } from './harness.ts';

// An adaptive search (TPE) against a random search of the same size, on real data: every point of
// each grid is backtested once (its Sharpe looked up by both searches, so the comparison is of the
// points each picks, not of timing), then 20 seeds of each search at 50 and 150 backtests. Figures:
// the median of the best Sharpe found (random search the baseline), the median share of the grid's
// points that best beats, and the seeds on which TPE found the better point. Last, what a proposal
// costs beside the backtest it saves.
const cases: GridCase[] = [
  {
    name: 'sma_crossover_eurusd_1h',
    data: 'EURUSD.csv',
    template: 'sma-crossover',
    grid: { 'fast.period': { from: 2, to: 60, step: 1 }, 'slow.period': { from: 20, to: 300, step: 4 } },
  },
  {
    name: 'rsi_mean_reversion_goog_1d',
    data: 'GOOG.csv',
    template: 'rsi-mean-reversion',
    grid: {
      'rsi.period': { from: 2, to: 30, step: 1 },
      'low.value': { from: 10, to: 45, step: 5 },
      'high.value': { from: 55, to: 90, step: 5 },
      'stop.percent': { from: 2, to: 14, step: 2 },
    },
  },
];
const SEEDS = 20;
let backtestMs = 0;
for (const c of cases) {
  const bars = backtestingPyBars(c.data);
  const grid: ParamGrid = expandGrid(c.grid);
  const graph = templateById(c.template)!.graph as Graph;
  const score = new Map<string, number>();
  const t0 = performance.now();
  for (const { combo, plan } of comboVariants(graph, gridCombos(grid)))
    score.set(
      comboKey(grid, combo),
      scoreOf(runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001 }).stats, 'sharpe'),
    );
  backtestMs = (performance.now() - t0) / score.size;
  const sorted = [...score.values()].sort((a, b) => a - b);
  const percentile = (x: number) => (sorted.filter((v) => v < x).length / sorted.length) * 100;
  const lookup = (combo: Record<string, number | string>) => score.get(comboKey(grid, combo))!;
  for (const budget of [50, 150]) {
    const tpe: number[] = [];
    const random: number[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      tpe.push(Math.max(...(await adaptiveSearch(grid, budget, seed, lookup)).map((t) => t.score)));
      random.push(Math.max(...sampleGrid(grid, budget, seed).map(lookup)));
    }
    const wins = tpe.filter((x, i) => x > random[i]!).length;
    const ties = tpe.filter((x, i) => x === random[i]!).length;
    report({
      bench: 'adaptive-search',
      metric: `tpe_best_sharpe_${c.name}_${budget}_backtests`,
      value: median(tpe),
      unit: 'Sharpe',
      baseline: median(random),
      gridBest: sorted.at(-1)!,
      gridPoints: sorted.length,
      tpePercentile: Number(median(tpe.map(percentile)).toFixed(2)),
      randomPercentile: Number(median(random.map(percentile)).toFixed(2)),
      tpeBetterSeeds: wins,
      tiedSeeds: ties,
      seeds: SEEDS,
    });
  }
}
// a walk-forward (EURUSD hourly, 5 rolling folds) searching each window with 40 backtests, adaptively
// or at random, over the SMA grid: the picks' in-sample Sharpe (what the search is for) and the chained
// out-of-sample Sharpe (what it is worth), medians over 10 seeds
{
  const c = cases[0]!;
  const bars = backtestingPyBars(c.data);
  const grid = expandGrid(c.grid);
  const graph = templateById(c.template)!.graph as Graph;
  const spec = { folds: 5, outOfSamplePct: 20, anchored: false, rankBy: 'sharpe' as const };
  const o = { cash: 10_000, feeRate: 0.001 };
  const isMean = (r: Awaited<ReturnType<typeof walkForward>>) =>
    r.folds.reduce((s, f) => s + scoreOf(f.inSampleStats, 'sharpe'), 0) / r.folds.length;
  const [tpeIs, rndIs, tpeOos, rndOos, tpeMs, rndMs]: number[][] = [[], [], [], [], [], []];
  for (let seed = 1; seed <= 10; seed++) {
    let t0 = performance.now();
    const t = await walkForward({ graph, grid, search: { count: 40, seed } }, bars, o, spec, inlineRunner());
    tpeMs.push(performance.now() - t0);
    t0 = performance.now();
    const r = await walkForward(comboVariants(graph, sampleGrid(grid, 40, seed)), bars, o, spec, inlineRunner());
    rndMs.push(performance.now() - t0);
    tpeIs.push(isMean(t));
    rndIs.push(isMean(r));
    tpeOos.push(t.stats.sharpe);
    rndOos.push(r.stats.sharpe);
  }
  report({
    bench: 'adaptive-search',
    metric: 'walk_forward_tpe_in_sample_pick_sharpe_eurusd_1h_40_per_window',
    value: median(tpeIs),
    unit: 'Sharpe',
    baseline: median(rndIs),
    outOfSampleSharpe: Number(median(tpeOos).toFixed(3)),
    randomOutOfSampleSharpe: Number(median(rndOos).toFixed(3)),
    ms: Math.round(median(tpeMs)),
    randomMs: Math.round(median(rndMs)),
    seeds: 10,
  });
}

// a proposal from 150 finished backtests, beside one backtest of the last grid
const grid = expandGrid(cases[1]!.grid);
const trials = await adaptiveSearch(grid, 150, 1, (c) => Number(c['rsi.period']) - Number(c['stop.percent']));
const taken = new Set(trials.map((t) => comboKey(grid, t.combo)));
const times: number[] = [];
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  proposeTpe(grid, trials, taken, proposalRandom(1, 150 + i));
  times.push(performance.now() - t0);
}
report({
  bench: 'adaptive-search',
  metric: 'tpe_proposal_ms_150_trials',
  value: median(times),
  unit: 'ms',
  baseline: backtestMs,
  baselineIs: 'one backtest of GOOG daily (2,148 bars)',
});
