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

// Scheduling stalls: a process doing nothing but a 1 ms interval timer, for 10 s, counts the times its
// timer came more than 2 ms after the previous one. On a quiet machine such a stall is the machine's
// (the process was not run), and every latency figure in the same run carries stalls like these: at
// 2,000 req/s a 4 ms stall holds back about eight requests, so three a second put 1 % of requests over
// 1 ms without the server doing anything.
const gaps: number[] = [];
await new Promise<void>((done) => {
  let last = performance.now();
  const iv = setInterval(() => {
    const now = performance.now();
    if (now - last > 2) gaps.push(now - last);
    last = now;
  }, 1);
  setTimeout(() => {
    clearInterval(iv);
    done();
  }, 10_000);
});
report({
  bench: 'harness',
  metric: 'timer_stalls_over_2ms_per_s',
  value: gaps.length / 10,
  unit: 'count/s',
  maxMs: gaps.length ? Math.max(...gaps) : 0,
  stalledMsPerS: gaps.reduce((a, g) => a + g, 0) / 10,
});
