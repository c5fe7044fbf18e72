import { parentPort } from 'node:worker_threads';
import type { BarColumns } from '@algotrade/core';
import { runBacktest, type BacktestOptions } from './backtest.ts';
import { CompileCache } from './cache.ts';
import { packTrades, type PoolWindow } from './engine-pool.ts';
import { scratchBuffers, viewBars } from './walk-forward.ts';

interface Task {
  id: number;
  graph: unknown;
  bars?: BarColumns;
  options: BacktestOptions;
  cancel: Int32Array;
  /** a window of a series this worker keeps (sent with the first task on it) */
  window?: PoolWindow;
  series?: number;
}

/** the series this worker keeps for windowed tasks (one at a time) */
let held: { series: number; bars: BarColumns } | undefined;
let scratch = scratchBuffers();
// a sweep's or walk-forward's tasks bring the same few graphs again and again: compiled once each
const compiled = new CompileCache(64);

parentPort!.on('message', (m: Task | { release: number }) => {
  if ('release' in m) {
    if (held?.series === m.release) {
      held = undefined;
      scratch = scratchBuffers(); // the old buffers go with the series
    }
    return;
  }
  try {
    let bars = m.bars!;
    if (m.window) {
      if (m.bars) held = { series: m.series!, bars: m.bars };
      if (!held || held.series !== m.series) throw new Error('the series for this window was not sent');
      bars = viewBars(held.bars, m.window.from, m.window.to);
    }
    const { plan, report } = compiled.compile(m.graph);
    if (!plan) throw new Error(`the strategy does not compile: ${report.errors[0]?.message}`);
    let last = 0;
    const res = runBacktest(plan, bars, {
      ...m.options,
      ...(m.window ? scratch(m.window) : {}),
      onProgress: (p) => {
        const now = Date.now();
        if (now - last > 100) {
          last = now;
          parentPort!.postMessage({ id: m.id, progress: p });
        }
        return Atomics.load(m.cancel, 0) === 1;
      },
    });
    if (m.window?.statsOnly)
      parentPort!.postMessage({
        id: m.id,
        result: {
          trades: new Float64Array(0),
          reasons: [],
          equity: new Float64Array(0),
          stats: res.stats,
          cancelled: res.cancelled,
          ...(res.risk ? { risk: res.risk } : {}),
        },
      });
    else {
      const { packed: trades, reasons } = packTrades(res.trades);
      parentPort!.postMessage(
        {
          id: m.id,
          result: {
            trades,
            reasons,
            equity: res.equity,
            stats: res.stats,
            cancelled: res.cancelled,
            ...(res.risk ? { risk: res.risk } : {}),
          },
        },
        [res.equity.buffer as ArrayBuffer, trades.buffer as ArrayBuffer],
      );
    }
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
