import { readFileSync } from 'node:fs';
import { toColumns, type BarColumns } from '@algotrade/strategy';

/** backtesting.py's test data or expected results (test/fixtures/backtesting-py/, see SOURCES.md) */
export const backtestingPy = (p: string): string =>
  readFileSync(new URL(`../fixtures/backtesting-py/${p}`, import.meta.url), 'utf8');

/** The GOOG daily bars of backtesting.py's test data (2,148 rows), as backtest columns. */
export function googBars(): BarColumns {
  const rows = backtestingPy('GOOG.csv')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  return toColumns(
    rows.map((r) => ({
      ts: Date.parse(`${r[0]}T00:00:00Z`),
      open: +r[1]!,
      high: +r[2]!,
      low: +r[3]!,
      close: +r[4]!,
      volume: +r[5]!,
    })),
  );
}
