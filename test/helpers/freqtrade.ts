import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candle } from '@algotrade/core';

const fixture = (name: string) =>
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'freqtrade', name);

/** Real one-minute candles with gaps of up to 8 minutes (freqtrade's test data; test/fixtures/SOURCES.md). */
export const freqtradeMinutes = (): Candle[] => candlesOf('UNITTEST_BTC-1m-first2000.json');

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
