import { AppError, type BarColumns, type Candle } from '@algotrade/core';
import { toColumns } from '@algotrade/strategy';

/**
 * The stored candles of the other symbols a strategy reads (its plan's `symbols`, in that order), each
 * as columns to align with the strategy's bars (alignBars). A symbol without any is a 422 that names it
 * and says how to get some; `what` says which candles were looked for.
 */
export async function otherCandles(
  symbols: readonly string[],
  load: (symbol: string) => Promise<Candle[]>,
  what: string,
): Promise<BarColumns[]> {
  const out: BarColumns[] = [];
  for (const symbol of symbols) {
    const candles = await load(symbol);
    if (candles.length === 0)
      throw new AppError(
        'UNPROCESSABLE',
        `the strategy reads ${symbol} (an Other symbol node), which has no ${what}: import its history first (POST /api/market/history/import)`,
      );
    out.push(toColumns(candles));
  }
  return out;
}
