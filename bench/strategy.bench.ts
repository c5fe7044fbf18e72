import { compileGraph, generateCandles, templateById, toColumns, type Graph } from '@algotrade/strategy';
import { median, report, timeRuns } from './harness.ts';

// 1. compile time of a 60-node graph: 10 chains of close -> SMA -> EMA -> greater -> and-tree -> buy/sell
function bigGraph(): Graph {
  const nodes: Graph['nodes'] = [{ id: 'close', type: 'price.close', data: {} }];
  const edges: Graph['edges'] = [];
  const bools: string[] = [];
  for (let i = 0; i < 15; i++) {
    nodes.push(
      { id: `sma${i}`, type: 'indicator.sma', data: { period: 5 + i } },
      { id: `ema${i}`, type: 'indicator.ema', data: { period: 10 + i } },
    );
    nodes.push({ id: `gt${i}`, type: 'logic.greater', data: {} });
    edges.push(
      { id: `e${i}a`, source: 'close', target: `sma${i}` },
      { id: `e${i}b`, source: `sma${i}`, target: `ema${i}` },
    );
    edges.push(
      { id: `e${i}c`, source: `sma${i}`, target: `gt${i}`, targetHandle: 'a' },
      { id: `e${i}d`, source: `ema${i}`, target: `gt${i}`, targetHandle: 'b' },
    );
    bools.push(`gt${i}`);
  }
  let k = 0;
  while (bools.length > 1) {
    const id = `and${k++}`;
    nodes.push({ id, type: 'logic.and', data: {} });
    edges.push(
      { id: `${id}a`, source: bools.shift()!, target: id, targetHandle: 'a' },
      { id: `${id}b`, source: bools.shift()!, target: id, targetHandle: 'b' },
    );
    bools.push(id);
  }
  nodes.push(
    { id: 'not', type: 'logic.not', data: {} },
    { id: 'buy', type: 'action.buy', data: {} },
    { id: 'sell', type: 'action.sell', data: {} },
  );
  edges.push(
    { id: 'x1', source: bools[0]!, target: 'buy' },
    { id: 'x2', source: bools[0]!, target: 'not' },
    { id: 'x3', source: 'not', target: 'sell' },
  );
  return { nodes, edges };
}
const g = bigGraph();
const compileRuns = await timeRuns(() => compileGraph(g), 30, 5);
report({
  bench: 'strategy',
  metric: 'compile_60_node_graph_ms',
  value: median(compileRuns),
  unit: 'ms',
  nodes: g.nodes.length,
});

// 2. SMA(10/30) crossover over 1,000,000 bars: compiled graph vs a hand-written loop, same data, same run
const N = 1_000_000;
const cols = toColumns(generateCandles(N, 42));
const plan = compileGraph(templateById('sma-crossover')!.graph).plan!;
const signals = new Int8Array(N);
let sink = 0;
const compiledRuns = await timeRuns(
  () => {
    plan.instantiate().run(cols, signals);
    let n = 0;
    for (let i = 0; i < N; i++) if (signals[i]! >= 0) n++;
    sink += n;
  },
  7,
  2,
);

function handWritten(): number {
  const c = cols.close;
  const f = new Float64Array(10);
  const s = new Float64Array(30);
  let sf = 0;
  let ss = 0;
  let pf = NaN;
  let ps = NaN;
  let n = 0;
  for (let i = 0; i < N; i++) {
    const x = c[i]!;
    sf += x - f[i % 10]!;
    f[i % 10] = x;
    ss += x - s[i % 30]!;
    s[i % 30] = x;
    if (i >= 29) {
      const a = sf / 10;
      const b = ss / 30;
      if ((pf <= ps && a > b) || (pf >= ps && a < b)) n++;
      pf = a;
      ps = b;
    }
  }
  return n;
}
const handRuns = await timeRuns(() => (sink += handWritten()), 7, 2);
const compiledRate = N / (median(compiledRuns) / 1000);
const handRate = N / (median(handRuns) / 1000);
report({
  bench: 'strategy',
  metric: 'sma_crossover_compiled_bars_per_s',
  value: compiledRate,
  unit: 'bars/s',
  baseline: handRate,
});
report({
  bench: 'strategy',
  metric: 'sma_crossover_compiled_vs_handwritten_ratio',
  value: compiledRate / handRate,
  unit: 'ratio',
});
if (sink < 0) console.log(sink);
