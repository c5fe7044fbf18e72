import {
  compileGraph,
  EnginePool,
  generateCandles,
  gridVariants,
  runBacktest,
  templateById,
  toColumns,
  walkForward,
  walkForwardWindows,
  inlineRunner,
  poolRunner,
  portfolioWindows,
} from '@algotrade/strategy';
import { median, report } from './harness.ts';

// A walk-forward over 1,000,000 one-minute bars: 16 SMA-crossover combinations, 5 rolling folds,
// 25% out of sample (96 backtests: 16 per fold in sample and 16 over every bar, then 5 out of
// sample). Baseline, in the same process: the plain sweep of the same 16 combinations over every
// bar, inline. Bars simulated per second say what the window machinery (slicing, warm-up lookback,
// chaining) costs over plain backtests; the pool figure is the service's embedded path (2 threads).
const n = 1_000_000;
const cols = toColumns(generateCandles(n, 42));
const variants = gridVariants(
  templateById('sma-crossover')!.graph,
  { 'fast.period': [5, 8, 10, 12], 'slow.period': [20, 30, 40, 50] },
  100,
);
const spec = { folds: 5, outOfSamplePct: 25, anchored: false, rankBy: 'sharpe' as const };
const options = { cash: 100_000, feeRate: 0.001 };
const plans = variants.map((v) => compileGraph(v.graph).plan!);

// bars each walk-forward simulates (with the lookback bars before each window)
const { windows } = walkForwardWindows(n, spec);
const lookback = 3 * 49 + 1;
const span = (from: number, to: number) => to - Math.max(0, from - lookback);
const wfBars =
  variants.length * (windows.reduce((s, w) => s + span(w.isFrom, w.isTo), 0) + n) +
  windows.reduce((s, w) => s + span(w.oosFrom, w.oosTo), 0);

// a portfolio of two legs on the same minutes (another seed): each window a portfolio backtest of both
const second = toColumns(generateCandles(n, 43));
const legs = [
  { symbol: 'A', weight: 0.5, bars: cols },
  { symbol: 'B', weight: 0.5, bars: second },
];

const sweepMs: number[] = [];
const wfMs: number[] = [];
const poolMs: number[] = [];
const portfolioMs: number[] = [];
const pool = new EnginePool(2);
// the pool's threads do not hold the process open (a server's must not): this timer does, meanwhile
const keepAlive = setInterval(() => {}, 1000);
const viaPool = poolRunner(pool);
await walkForward(variants, cols, options, spec, viaPool, undefined, 2); // threads started and warmed
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  for (const p of plans) runBacktest(p, cols, options);
  sweepMs.push(performance.now() - t0);
  t0 = performance.now();
  await walkForward(variants, cols, options, spec, inlineRunner());
  wfMs.push(performance.now() - t0);
  t0 = performance.now();
  await walkForward(variants, cols, options, spec, viaPool, undefined, 2);
  poolMs.push(performance.now() - t0);
  t0 = performance.now();
  const pw = portfolioWindows(legs, inlineRunner());
  await walkForward(variants, pw.bars, options, spec, pw.run);
  portfolioMs.push(performance.now() - t0);
}
await pool.close();
clearInterval(keepAlive);
const sweepRate = (variants.length * n) / (median(sweepMs) / 1000);
const wfRate = wfBars / (median(wfMs) / 1000);
report({
  bench: 'walk-forward',
  metric: 'walk_forward_ms_inline',
  value: median(wfMs),
  unit: 'ms',
  baseline: median(sweepMs),
  baselineIs: 'the same 16 combinations swept over every bar, inline',
  bars: n,
  backtests: variants.length * (spec.folds + 1) + spec.folds,
  barsSimulated: wfBars,
});
report({
  bench: 'walk-forward',
  metric: 'walk_forward_bars_per_s_inline',
  value: wfRate,
  unit: 'bars/s',
  baseline: sweepRate,
  ratio: wfRate / sweepRate,
});
report({
  bench: 'walk-forward',
  metric: 'walk_forward_ms_pool_2_threads',
  value: median(poolMs),
  unit: 'ms',
  baseline: median(wfMs),
  speedup: median(wfMs) / median(poolMs),
});
report({
  bench: 'walk-forward',
  metric: 'walk_forward_ms_portfolio_2_legs_inline',
  value: median(portfolioMs),
  unit: 'ms',
  baseline: 2 * median(wfMs),
  baselineIs: 'twice the one-symbol walk-forward, inline (each leg alone)',
  ratio: median(portfolioMs) / (2 * median(wfMs)),
});
