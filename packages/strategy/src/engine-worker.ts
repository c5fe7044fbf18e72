import { parentPort } from 'node:worker_threads';
import type { BarColumns } from '@algotrade/core';
import { runBacktest, type BacktestOptions } from './backtest.ts';
import { compileGraph } from './compiler.ts';

parentPort!.on(
  'message',
  (m: { id: number; graph: unknown; bars: BarColumns; options: BacktestOptions; cancel: Int32Array }) => {
    try {
      const { plan, report } = compileGraph(m.graph);
      if (!plan) throw new Error(`the strategy does not compile: ${report.errors[0]?.message}`);
      let last = 0;
      const res = runBacktest(plan, m.bars, {
        ...m.options,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last > 100) {
            last = now;
            parentPort!.postMessage({ id: m.id, progress: p });
          }
          return Atomics.load(m.cancel, 0) === 1;
        },
      });
      parentPort!.postMessage(
        { id: m.id, result: { trades: res.trades, equity: res.equity, stats: res.stats, cancelled: res.cancelled } },
        [res.equity.buffer as ArrayBuffer],
      );
    } catch (e) {
      parentPort!.postMessage({ id: m.id, error: (e as Error).message });
    }
  },
);
