import { parentPort, workerData } from 'node:worker_threads';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import type { BarColumns } from './plan.ts';
import type { SweepTask } from './sweep-pool.ts';

const bars = (workerData as { bars: BarColumns }).bars;
// one equity buffer for every run: fresh 8 MB arrays per backtest make threads fight over page faults
const equityBuffer = new Float64Array(bars.length);
const signalsBuffer = new Int8Array(bars.length);
parentPort!.on('message', ({ i, task }: { i: number; task: SweepTask }) => {
  try {
    const { plan, report } = compileGraph(task.graph);
    if (!plan) throw new Error(report.errors[0]?.message ?? 'does not compile');
    const res = runBacktest(plan, bars, { ...task.options, equityBuffer, signalsBuffer });
    parentPort!.postMessage({ i, stats: res.stats });
  } catch (e) {
    parentPort!.postMessage({ i, error: (e as Error).message });
  }
});
