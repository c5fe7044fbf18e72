import { median, report, timeRuns } from './harness.ts';

// Calibration figure: how fast this machine runs a plain loop right now, so other figures of the same
// run can be read against it (a slow or loaded machine shows here first).
const N = 10_000_000;
const runs = await timeRuns(() => {
  let s = 0;
  for (let i = 0; i < N; i++) s += i & 7;
  return s;
}, 7);
report({ bench: 'harness', metric: 'plain_loop_ops_per_s', value: N / (median(runs) / 1000), unit: 'ops/s' });
