import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '@algotrade/adapters/store-fs/fs-store';
import { S3ObjectStore } from '@algotrade/adapters/store-s3/s3-store';
import { pboCscv, returnsOf, type ObjectStore } from '@algotrade/core';
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

// The route reads each finished backtest's stored results before it computes: 500 objects of this
// size (the equity curve as the worker stores it) read one after another, against 16 at a time, from
// files and, with BENCH_S3_ENDPOINT (the services script's S3Proxy: http://127.0.0.1:9000), from S3.
const body = new TextEncoder().encode(
  JSON.stringify({
    trades: [],
    equity: { ts: [...bars.ts], equity: [...returns[0]!].map((r) => 10_000 * (1 + r)) },
  }),
);
const stores: [string, ObjectStore][] = [['fs', new FsObjectStore(mkdtempSync(join(tmpdir(), 'bench-of-')))]];
if (process.env.BENCH_S3_ENDPOINT) {
  const s3 = new S3ObjectStore({
    endpoint: process.env.BENCH_S3_ENDPOINT,
    bucket: 'bench-overfitting',
    region: 'us-east-1',
    accessKeyId: 'local',
    secretAccessKey: 'local',
  });
  await s3.ensureBucket();
  stores.push(['s3', s3]);
}
const keys = Array.from({ length: 500 }, (_, i) => `bench/overfitting/${i}.json`);
for (const [name, store] of stores) {
  for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k) => store.put(k, body)));
  const read = async (k: string) =>
    returnsOf(
      (JSON.parse(new TextDecoder().decode((await store.get(k))!)) as { equity: { equity: number[] } }).equity.equity,
    );
  const [oneMs, wideMs] = await alternated(
    [
      async () => {
        for (const k of keys) await read(k);
      },
      async () => {
        for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map(read));
      },
    ],
    5,
  );
  report({
    bench: 'overfitting',
    metric: `read_500_results_16_at_a_time_${name}_ms`,
    value: wideMs,
    unit: 'ms',
    baseline: oneMs,
    baselineIs: 'one at a time',
    ratio: Number((oneMs / wideMs).toFixed(2)),
    bytes: body.length,
  });
  for (const k of keys) await store.delete(k);
}
