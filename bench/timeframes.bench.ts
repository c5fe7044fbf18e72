import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { alternated, report } from './harness.ts';

// A higher timeframe's cost in a backtest: 1,000,000 one-minute bars (694 days) through the EMA
// crossover with a daily trend filter (a daily source, SMA(20) of days, a comparison), beside the
// plain EMA crossover (the baseline), alternated in the same process.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const plan = (id: string) => compileGraph(templateById(id)!.graph).plan!;
const filtered = plan('daily-trend-filter');
const plain = plan('ema-crossover');
const [ms, baseMs] = await alternated([
  () => runBacktest(filtered, bars, { cash: 10_000 }),
  () => runBacktest(plain, bars, { cash: 10_000 }),
]);
report({
  bench: 'timeframes',
  metric: 'backtest_1m_bars_daily_filter_ms',
  value: ms,
  unit: 'ms',
  baseline: baseMs,
  ratio: Number((ms / baseMs).toFixed(2)),
  barsPerSecond: Math.round((N / ms) * 1000),
});
