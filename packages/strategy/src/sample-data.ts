import type { BarColumns, Candle } from '@algotrade/core';
import { gaussian, seededRandom } from '@algotrade/core';

/** Deterministic 1-minute OHLCV random walk (geometric, ~0.1% per bar), for test runs and benches. */
export function generateCandles(
  n: number,
  seed = 1,
  start = Date.UTC(2024, 0, 1),
  stepMs = 60_000,
  price0 = 100,
): Candle[] {
  const rand = seededRandom(seed);
  const out: Candle[] = new Array(n);
  let price = price0;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * Math.exp(0.001 * gaussian(rand));
    const high = Math.max(open, close) * (1 + 0.0005 * rand());
    const low = Math.min(open, close) * (1 - 0.0005 * rand());
    out[i] = { ts: start + i * stepMs, open, high, low, close, volume: Math.round(100 + 900 * rand()) };
    price = close;
  }
  return out;
}

/** Candles as columns (no object per bar), the engine's input. */
export type CandleColumns = BarColumns;

/**
 * Candles as columns, in one block of shared memory: an engine pool's threads then read the bars
 * where they are (a worker message carries a view of shared memory, not a copy of it).
 */
export function toColumns(c: readonly Candle[]): CandleColumns {
  const n = c.length;
  const mem = new SharedArrayBuffer(Math.max(1, 6 * n) * 8);
  const col = (k: number) => new Float64Array(mem, k * n * 8, n);
  const cols: CandleColumns = {
    ts: col(0),
    open: col(1),
    high: col(2),
    low: col(3),
    close: col(4),
    volume: col(5),
    length: n,
  };
  for (let i = 0; i < n; i++) {
    const b = c[i]!;
    cols.ts[i] = b.ts;
    cols.open[i] = b.open;
    cols.high[i] = b.high;
    cols.low[i] = b.low;
    cols.close[i] = b.close;
    cols.volume[i] = b.volume;
  }
  return cols;
}
