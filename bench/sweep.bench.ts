import { generateCandles, SweepPool, templateById, toColumns, type Graph } from '@algotrade/strategy';
import { median, report } from './harness.ts';

// Sweep throughput on 1 vs 2 worker threads: 16 SMA-crossover parameter combinations over the same
// 1,000,000 one-minute bars, in a fresh process (nothing else on the heap), alternating pool sizes
// five times and taking medians.
const cols = toColumns(generateCandles(1_000_000, 42));
const graph = templateById('sma-crossover')!.graph;
const tasks = [5, 8, 10, 12].flatMap((f) =>
  [20, 30, 40, 50].map((s) => {
    const g: Graph = structuredClone(graph);
    g.nodes.find((n) => n.id === 'fast')!.data = { period: f };
    g.nodes.find((n) => n.id === 'slow')!.data = { period: s };
    return { graph: g, options: { cash: 100_000, feeRate: 0.001 } };
  }),
);
const rates: Record<number, number[]> = { 1: [], 2: [] };
// long-lived pools, as in a service: warmed on the whole grid once, then measured alternately
const pools = { 1: new SweepPool(cols, 1), 2: new SweepPool(cols, 2) };
for (const size of [1, 2] as const) await pools[size].run(tasks);
for (let rep = 0; rep < 5; rep++)
  for (const size of [1, 2] as const) {
    const t0 = performance.now();
    await pools[size].run(tasks);
    rates[size]!.push(tasks.length / ((performance.now() - t0) / 1000));
  }
for (const size of [1, 2] as const) await pools[size].close();
report({
  bench: 'sweep',
  metric: 'backtests_per_s_1_worker',
  value: median(rates[1]!),
  unit: 'backtests/s',
  bars: 1_000_000,
});
report({
  bench: 'sweep',
  metric: 'backtests_per_s_2_workers',
  value: median(rates[2]!),
  unit: 'backtests/s',
  baseline: median(rates[1]!),
});
report({
  bench: 'sweep',
  metric: 'speedup_2_vs_1_workers',
  value: median(rates[2]!) / median(rates[1]!),
  unit: 'ratio',
});
