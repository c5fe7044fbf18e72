import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { median, report, timeRuns } from './harness.ts';

// A higher timeframe's cost in a backtest: 1,000,000 one-minute bars (694 days) through the EMA
// crossover with a daily trend filter (a daily source, SMA(20) of days, a comparison), beside the
// plain EMA crossover (the baseline), alternated in the same process.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const plan = (id: string) => compileGraph(templateById(id)!.graph).plan!;
const filtered = plan('daily-trend-filter');
const plain = plan('ema-crossover');
const own: number[] = [];
const base: number[] = [];
for (let r = 0; r < 5; r++) {
  own.push(...(await timeRuns(() => runBacktest(filtered, bars, { cash: 10_000 }), 1, r === 0 ? 1 : 0)));
  base.push(...(await timeRuns(() => runBacktest(plain, bars, { cash: 10_000 }), 1, r === 0 ? 1 : 0)));
}
const ms = median(own);
const baseMs = median(base);
report({
  bench: 'timeframes',
  metric: 'backtest_1m_bars_daily_filter_ms',
  value: ms,
  unit: 'ms',
  baseline: baseMs,
  ratio: Number((ms / baseMs).toFixed(2)),
  barsPerSecond: Math.round((N / ms) * 1000),
});
