import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candle } from '@algotrade/core';

const file = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'freqtrade',
  'UNITTEST_BTC-1m-first2000.json',
);

/** Real one-minute candles with gaps of up to 8 minutes (freqtrade's test data; test/fixtures/SOURCES.md). */
export const freqtradeMinutes = (): Candle[] =>
  (JSON.parse(readFileSync(file, 'utf8')) as number[][]).map(([ts, open, high, low, close, volume]) => ({
    ts: ts!,
    open: open!,
    high: high!,
    low: low!,
    close: close!,
    volume: volume!,
  }));
