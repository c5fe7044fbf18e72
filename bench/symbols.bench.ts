import { alignBars, compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { alternated, report } from './harness.ts';

// Another symbol's cost in a backtest: 1,000,000 one-minute bars through the EMA crossover that buys
// only while another symbol's close is above its 200-bar SMA (the daily-trend-filter template with its
// daily source turned into an Other symbol node), beside the plain EMA crossover (the baseline),
// alternated in the same process; and the alignment of the other symbol's 1,000,000 bars (every 7th
// missing) with the strategy's.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const other = toColumns(generateCandles(N, 43).filter((_c, i) => i % 7 !== 3));
const filter = templateById('daily-trend-filter')!.graph;
const graph = {
  ...filter,
  nodes: filter.nodes.map((n) =>
    n.id === 'daily'
      ? { ...n, type: 'symbol.bar', data: { symbol: 'BTCUSD' } }
      : n.id === 'daily-sma'
        ? { ...n, data: { period: 200 } }
        : n,
  ),
};
const compiled = compileGraph(graph);
if (!compiled.plan) throw new Error(JSON.stringify(compiled.report.errors));
const filtered = compiled.plan;
const plain = compileGraph(templateById('ema-crossover')!.graph).plan!;
const withOther = { ...bars, others: alignBars(bars.ts, other) };
const [alignMs, ms, baseMs] = await alternated([
  () => alignBars(bars.ts, other),
  () => runBacktest(filtered, withOther, { cash: 10_000 }),
  () => runBacktest(plain, bars, { cash: 10_000 }),
]);
report({
  bench: 'symbols',
  metric: 'backtest_1m_bars_other_symbol_filter_ms',
  value: ms,
  unit: 'ms',
  baseline: baseMs,
  ratio: Number((ms / baseMs).toFixed(2)),
  barsPerSecond: Math.round((N / ms) * 1000),
});
report({ bench: 'symbols', metric: 'align_1m_bars_ms', value: alignMs!, unit: 'ms' });
