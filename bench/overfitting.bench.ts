import { pboCscv, returnsOf } from '@algotrade/core';
import { comboVariants, expandGrid, runBacktest, sampleGrid, templateById, type Graph } from '@algotrade/strategy';
import { backtestingPyBars } from '../test/helpers/goog.ts';
import { alternated, report } from './harness.ts';

// The overfitting figures of a 500-backtest sweep (GOOG daily, the RSI mean-reversion grid at random):
// the Probability of Backtest Overfitting over C(16, 8) = 12,870 splits of the 500 return series,
// beside running the 500 backtests that made them, in the same run.
const bars = backtestingPyBars('GOOG.csv');
const grid = expandGrid({
  'rsi.period': { from: 2, to: 30, step: 1 },
  'low.value': { from: 10, to: 45, step: 5 },
  'high.value': { from: 55, to: 90, step: 5 },
  'stop.percent': { from: 2, to: 14, step: 2 },
});
const variants = comboVariants(templateById('rsi-mean-reversion')!.graph as Graph, sampleGrid(grid, 500, 1));
let returns: Float64Array[] = [];
let pbo = 0;
// the backtests first: each round's PBO is of the returns the round before it made
const [sweepMs, pboMs] = await alternated(
  [
    () =>
      void (returns = variants.map((v) =>
        returnsOf(runBacktest(v.plan, bars, { cash: 10_000, feeRate: 0.001, excursions: false }).equity),
      )),
    () => void (pbo = pboCscv(returns, 16).pbo),
  ],
  3,
);
report({
  bench: 'overfitting',
  metric: 'pbo_500_trials_2148_bars_ms',
  value: pboMs,
  unit: 'ms',
  baseline: sweepMs,
  baselineIs: 'the 500 backtests',
  ratio: Number((pboMs / sweepMs).toFixed(2)),
  pbo,
});
