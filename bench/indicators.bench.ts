import { BAR_SLOT_COUNT, BLOCK, generateCandles, registry, stepOf, toColumns } from '@algotrade/strategy';
import { median, report, timeRuns } from './harness.ts';

// Every indicator node type with its default parameters over 1,000,000 bars, fed in blocks of 256 as
// a backtest feeds them: ns per bar, beside SMA(20) (the simplest node, the baseline) timed in the
// same run, alternating with it so both see the same machine.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const seriesFor = (name: string) =>
  name === 'high' ? bars.high : name === 'low' ? bars.low : name === 'volume' ? bars.volume : bars.close;

function runner(type: string): () => void {
  const t = registry.get(type)!;
  const params = Object.fromEntries(t.params.map((p) => [p.name, p.default]));
  const nIn = t.inputs.length;
  const io = {
    inputs: t.inputs.map((_, k) => BAR_SLOT_COUNT + k),
    outputs: t.outputs.map((_, k) => BAR_SLOT_COUNT + nIn + k),
  };
  const inputs = t.inputs.map((p) => seriesFor(p.name));
  const cols = Array.from({ length: BAR_SLOT_COUNT + nIn + t.outputs.length }, () => new Float64Array(BLOCK));
  let sink = 0;
  return () => {
    const step = stepOf(t, params, io)!; // fresh state each run
    for (let start = 0; start < N; start += BLOCK) {
      const n = Math.min(BLOCK, N - start);
      for (let k = 0; k < nIn; k++) cols[io.inputs[k]!]!.set(inputs[k]!.subarray(start, start + n));
      step(cols, n);
    }
    sink += cols[io.outputs[0]!]![0]!;
    if (sink === 42.4242) console.log(sink); // keeps the work observable
  };
}

const baseline = runner('indicator.sma');
const types = [...registry.values()].filter((t) => t.category === 'indicator').map((t) => t.type);
for (const type of types) {
  const run = runner(type);
  const own: number[] = [];
  const base: number[] = [];
  for (let r = 0; r < 3; r++) {
    own.push(...(await timeRuns(run, 1, r === 0 ? 1 : 0)));
    base.push(...(await timeRuns(baseline, 1, r === 0 ? 1 : 0)));
  }
  const ns = (median(own) * 1e6) / N;
  const baseNs = (median(base) * 1e6) / N;
  report({
    bench: 'indicators',
    metric: `${type.replace('indicator.', '')}_ns_per_bar`,
    value: ns,
    unit: 'ns/bar',
    baseline: baseNs,
    vsSma: Number((ns / baseNs).toFixed(2)),
    barsPerSecond: Math.round(1e9 / ns),
  });
}
