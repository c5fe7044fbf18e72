import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BarColumns, Stats, TradeRecord } from '@algotrade/core';
import type { BacktestOptions, RiskOutcome } from './backtest.ts';
import type { Graph } from './graph.ts';

export interface PooledResult {
  trades: TradeRecord[];
  equity: Float64Array;
  stats: Stats;
  cancelled: boolean;
  /** with `risk` limits: what they did */
  risk?: RiskOutcome;
}

/**
 * A window of a series the workers keep: the series goes to each worker once (the first task on it),
 * later tasks send only the window's bounds. `statsOnly` sends back the statistics alone (no equity
 * curve, no trades): what a parameter search needs from most of its runs.
 */
export interface PoolWindow {
  from: number;
  to: number;
  statsOnly?: boolean;
}

/** A trade's numbers, in the order packTrades writes them. */
const TRADE_FIELDS = [
  'size',
  'entryBar',
  'exitBar',
  'entryTime',
  'exitTime',
  'entryPrice',
  'exitPrice',
  'pnl',
  'returnPct',
  'fees',
  'mae',
  'mfe',
  'funding',
] as const satisfies readonly (keyof TradeRecord)[];

/**
 * Trades as one Float64Array, to send across threads as a transfer: cloning thousands of small
 * objects cost more than the backtest that made them (fields a trade lacks, funding without a rate, as
 * NaN). Exit and entry reasons go as indexes into
 * `reasons` (the few distinct ones: action node ids and rules), after the numbers (-1: none).
 */
export function packTrades(trades: readonly TradeRecord[]): { packed: Float64Array; reasons: string[] } {
  const w = TRADE_FIELDS.length + 2;
  const out = new Float64Array(trades.length * w);
  const reasons: string[] = [];
  const index = new Map<string, number>();
  const indexOf = (reason: string | undefined) => {
    if (reason === undefined) return -1;
    let r = index.get(reason);
    if (r === undefined) index.set(reason, (r = reasons.push(reason) - 1));
    return r;
  };
  trades.forEach((t, i) => {
    for (let k = 0; k < w - 2; k++) out[i * w + k] = t[TRADE_FIELDS[k]!] ?? NaN;
    out[i * w + w - 2] = indexOf(t.exitReason);
    out[i * w + w - 1] = indexOf(t.entryReason);
  });
  return { packed: out, reasons };
}

export function unpackTrades(packed: Float64Array, reasons: readonly string[]): TradeRecord[] {
  const w = TRADE_FIELDS.length + 2;
  const out: TradeRecord[] = new Array(packed.length / w);
  for (let i = 0, o = 0; o < packed.length; i++, o += w) {
    const r = packed[o + w - 2]!;
    const e = packed[o + w - 1]!;
    out[i] = {
      size: packed[o]!,
      entryBar: packed[o + 1]!,
      exitBar: packed[o + 2]!,
      entryTime: packed[o + 3]!,
      exitTime: packed[o + 4]!,
      entryPrice: packed[o + 5]!,
      exitPrice: packed[o + 6]!,
      pnl: packed[o + 7]!,
      returnPct: packed[o + 8]!,
      fees: packed[o + 9]!,
      mae: packed[o + 10]!,
      mfe: packed[o + 11]!,
      // NaN: the run had no funding rate
      ...(packed[o + 12]! === packed[o + 12]! ? { funding: packed[o + 12]! } : {}),
      ...(r >= 0 ? { exitReason: reasons[r]! } : {}),
      ...(e >= 0 ? { entryReason: reasons[e]! } : {}),
    };
  }
  return out;
}

interface Pending {
  resolve: (r: PooledResult) => void;
  reject: (e: Error) => void;
  onProgress?: (p: number) => boolean | void;
  cancel: Int32Array;
}

/**
 * Backtests on worker threads, one job per idle worker (all cores by default), so a sweep's jobs
 * run side by side and the event loop stays free. Progress comes back as messages; cancellation is
 * a flag in shared memory that the worker checks at every progress report.
 */
export class EnginePool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private readonly want: number;
  /** the series each worker holds (see PoolWindow), by an id given to each series object */
  private readonly holds = new Map<Worker, number>();
  private readonly seriesIds = new WeakMap<BarColumns, number>();
  private nextSeries = 1;
  private closed = false;
  /**
   * The threads start on the first run, not here: a server that never backtests carries none (two
   * threads and their module loaders: about 56 MB of memory, and their start-up collections in its
   * first seconds). The first run waits for them to load (a few hundred milliseconds).
   */
  constructor(size = cpus().length) {
    this.want = Math.max(1, size);
  }
  /** how many threads started (0 until the first run) */
  get started(): number {
    return this.all.length;
  }
  private start(): void {
    if (this.all.length) return;
    const url = new URL('./engine-worker.mjs', import.meta.url);
    for (let i = 0; i < this.want; i++) {
      const w = new Worker(url, { resourceLimits: { maxYoungGenerationSizeMb: 64 } });
      w.on(
        'message',
        (m: {
          id: number;
          progress?: number;
          result?: Omit<PooledResult, 'trades'> & { trades: Float64Array; reasons: string[] };
          error?: string;
        }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          if (m.progress !== undefined) {
            if (p.onProgress?.(m.progress)) Atomics.store(p.cancel, 0, 1);
            return;
          }
          this.pending.delete(m.id);
          this.free(w);
          if (m.error) p.reject(new Error(m.error));
          else {
            const { reasons, ...result } = m.result!;
            p.resolve({ ...result, trades: unpackTrades(result.trades, reasons) });
          }
        },
      );
      w.unref();
      this.all.push(w);
      this.idle.push(w);
    }
  }
  get size(): number {
    return this.want;
  }
  private free(w: Worker) {
    this.idle.push(w);
    this.waiting.shift()?.();
  }
  async run(
    graph: Graph | unknown,
    bars: BarColumns,
    options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer'>,
    onProgress?: (p: number) => boolean | void,
    window?: PoolWindow,
  ): Promise<PooledResult> {
    if (this.closed) throw new Error('the backtest pool is closed');
    this.start();
    while (this.idle.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    const w = this.idle.pop()!;
    const id = this.next++;
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    let msg: object = { id, graph, bars, options, cancel };
    if (window) {
      let series = this.seriesIds.get(bars);
      if (!series) this.seriesIds.set(bars, (series = this.nextSeries++));
      const has = this.holds.get(w) === series;
      this.holds.set(w, series);
      msg = { id, graph, options, cancel, window, series, ...(has ? {} : { bars }) };
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress, cancel });
      w.postMessage(msg);
    });
  }
  /** The workers let go of a series sent with windows (its memory is theirs until then). */
  releaseSeries(bars: BarColumns): void {
    const series = this.seriesIds.get(bars);
    if (!series) return;
    for (const [w, held] of this.holds)
      if (held === series) {
        this.holds.delete(w);
        w.postMessage({ release: series });
      }
  }
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
