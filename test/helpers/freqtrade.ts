import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candle } from '@algotrade/core';

const fixture = (name: string) =>
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'freqtrade', name);

/** Real one-minute candles with gaps of up to 8 minutes (freqtrade's test data; test/fixtures/SOURCES.md). */
export const freqtradeMinutes = (): Candle[] => candlesOf('UNITTEST_BTC-1m-first2000.json');

/** Candles in buckets of `ms` (UTC) as the candle store aggregates them: first open, highest high, ... */
export function aggregated(c: readonly Candle[], ms: number): Candle[] {
  const out: Candle[] = [];
  for (const m of c) {
    const start = m.ts - (m.ts % ms);
    const last = out.at(-1);
    if (last && last.ts === start) {
      last.high = Math.max(last.high, m.high);
      last.low = Math.min(last.low, m.low);
      last.close = m.close;
      last.volume += m.volume;
    } else out.push({ ...m, ts: start });
  }
  return out;
}

/** 100 real one-hour candles of XRP's USDT perpetual future (freqtrade's test data; test/fixtures/SOURCES.md). */
export const xrpFutureHours = (): Candle[] => candlesOf('XRP_USDT_USDT-1h-futures.json');

const candlesOf = (name: string): Candle[] =>
  (JSON.parse(readFileSync(fixture(name), 'utf8')) as number[][]).map(([ts, open, high, low, close, volume]) => ({
    ts: ts!,
    open: open!,
    high: high!,
    low: low!,
    close: close!,
    volume: volume!,
  }));
