import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toColumns, type BarColumns } from '@algotrade/strategy';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'backtesting-py');

/**
 * backtesting.py's test data or expected results (test/fixtures/backtesting-py/, see SOURCES.md); by
 * path, not URL (a DOM test environment replaces the global URL with one `fs` does not take)
 */
export const backtestingPy = (p: string): string => readFileSync(path.join(dir, p), 'utf8');

/** The GOOG daily bars of backtesting.py's test data (2,148 rows), as backtest columns. */
export const googBars = (): BarColumns => backtestingPyBars('GOOG.csv');

/** Any of backtesting.py's OHLCV files (GOOG daily, BTCUSD monthly, EURUSD hourly), as backtest columns. */
export function backtestingPyBars(file: 'GOOG.csv' | 'BTCUSD.csv' | 'EURUSD.csv'): BarColumns {
  const rows = backtestingPy(file)
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  return toColumns(
    rows.map((r) => ({
      ts: Date.parse(r[0]!.length === 10 ? `${r[0]}T00:00:00Z` : `${r[0]!.replace(' ', 'T')}Z`),
      open: +r[1]!,
      high: +r[2]!,
      low: +r[3]!,
      close: +r[4]!,
      volume: +r[5]!,
    })),
  );
}
