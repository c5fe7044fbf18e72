import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Stats } from '@algotrade/core';
import type { Graph } from './graph.ts';
import type { BarColumns } from './plan.ts';
import type { BacktestOptions } from './backtest.ts';

export interface SweepTask {
  graph: Graph;
  options: Omit<BacktestOptions, 'onProgress'>;
}

/** Bar columns in SharedArrayBuffers (one copy for all threads; reads are slower than from a private copy). */
export function shareColumns(c: BarColumns): BarColumns {
  const share = (a: Float64Array) => {
    const s = new Float64Array(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };
  return {
    ts: share(c.ts),
    open: share(c.open),
    high: share(c.high),
    low: share(c.low),
    close: share(c.close),
    volume: share(c.volume),
    length: c.length,
    ...(c.others ? { others: c.others.map(share) } : {}),
  };
}

/**
 * Runs many backtests of one data set on worker threads (all cores by default): parameter sweeps.
 * Results come back in task order.
 */
export class SweepPool {
  private readonly workers: Worker[];
  constructor(
    private readonly bars: BarColumns,
    size = cpus().length,
  ) {
    // each worker gets its own copy: V8 reads SharedArrayBuffer-backed arrays about 2x slower,
    // which costs more than the one-off copy (48 MB for a million bars)
    const url = new URL('./sweep-worker.mjs', import.meta.url);
    this.workers = Array.from(
      { length: Math.max(1, size) },
      () => new Worker(url, { workerData: { bars }, resourceLimits: { maxYoungGenerationSizeMb: 64 } }),
    );
  }
  get size(): number {
    return this.workers.length;
  }
  async run(tasks: SweepTask[], onDone?: (done: number) => void): Promise<(Stats | { error: string })[]> {
    const out = new Array<Stats | { error: string }>(tasks.length);
    let next = 0;
    let done = 0;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const feed = () => {
              if (next >= tasks.length) {
                w.off('message', onMsg);
                w.off('error', reject);
                resolve();
                return;
              }
              const i = next++;
              w.postMessage({ i, task: tasks[i] });
            };
            const onMsg = (m: { i: number; stats?: Stats; error?: string }) => {
              out[m.i] = m.stats ?? { error: m.error ?? 'unknown error' };
              onDone?.(++done);
              feed();
            };
            w.on('message', onMsg);
            w.on('error', reject);
            feed();
          }),
      ),
    );
    return out;
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
