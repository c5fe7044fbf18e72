import { AppError, computeStats, type Stats, type TradeRecord } from '@algotrade/core';
import type { BacktestOptions } from './backtest.ts';
import type { BarColumns } from './plan.ts';

/** One symbol of a portfolio backtest: its bars and its share of the starting balance. */
export interface PortfolioLeg {
  symbol: string;
  weight: number;
  bars: BarColumns;
  /** stocks trade whole units */
  wholeUnits?: boolean;
}

export interface LegResult {
  trades: TradeRecord[];
  equity: Float64Array;
  stats: Stats;
  cancelled: boolean;
}

/** Runs one leg's backtest (inline or on a worker thread); `onProgress` returns true to cancel. */
export type LegRunner = (
  bars: BarColumns,
  options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer'>,
  onProgress: (p: number) => boolean,
) => Promise<LegResult>;

export type PortfolioTrade = TradeRecord & { symbol: string };

export interface PortfolioLegSummary {
  symbol: string;
  weight: number;
  startingBalance: number;
  finalEquity: number;
  pnl: number;
  /** this leg's PnL as a share of the whole starting balance, in percent */
  contributionPct: number;
  bars: number;
  stats: Stats;
}

export interface PortfolioResult {
  /** every leg's bar times, merged; each leg's equity is carried forward between its own bars */
  ts: Float64Array;
  equity: Float64Array;
  /** the same allocation bought on each leg's first bar that can trade and held: the buy-and-hold comparison */
  basket: Float64Array;
  trades: PortfolioTrade[];
  stats: Stats;
  legs: PortfolioLegSummary[];
  /** Pearson correlation of the legs' returns from one merged bar to the next (null when a leg's equity never moves) */
  correlation: { symbols: string[]; matrix: (number | null)[][] };
}

export class PortfolioCancelled extends Error {}

/** The weights as given, or equal ones; each positive, normalised to sum to 1. */
export function normaliseWeights(symbols: readonly string[], weights?: readonly number[]): number[] {
  if (!weights) return symbols.map(() => 1 / symbols.length);
  if (weights.length !== symbols.length)
    throw new AppError(
      'VALIDATION_FAILED',
      `${weights.length} weights for ${symbols.length} symbols: give one weight per symbol`,
    );
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0) || weights.some((w) => !(w > 0)))
    throw new AppError('VALIDATION_FAILED', 'each weight must be a positive number');
  return weights.map((w) => w / sum);
}

/** Sorted distinct bar times of every leg. */
function mergedTimes(legs: readonly PortfolioLeg[]): Float64Array {
  const all = new Float64Array(legs.reduce((n, l) => n + l.bars.length, 0));
  let k = 0;
  for (const l of legs) {
    all.set(l.bars.ts.subarray(0, l.bars.length), k);
    k += l.bars.length;
  }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i]!;
  return all.slice(0, n);
}

/** A leg's series on the merged times: its value at its last bar at or before each time, `before` until its first. */
function carried(ts: Float64Array, legTs: ArrayLike<number>, values: ArrayLike<number>, n: number, before: number) {
  const out = new Float64Array(ts.length);
  let j = -1;
  for (let i = 0; i < ts.length; i++) {
    while (j + 1 < n && legTs[j + 1]! <= ts[i]!) j++;
    out[i] = j < 0 ? before : values[j]!;
  }
  return out;
}

function pearson(a: Float64Array, b: Float64Array): number | null {
  const n = a.length;
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

/**
 * One strategy over several symbols at once, each with its share of the starting balance and its own
 * cash (no leg borrows from another). The legs run side by side (`parallel` at a time: a pool's threads);
 * their equity curves are summed on the merged bar times, so the money reconciles leg by leg and in all:
 * the portfolio's equity at any time is the sum of the legs' own backtests at that time.
 */
export async function runPortfolio(
  legs: readonly PortfolioLeg[],
  options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer' | 'wholeUnits'>,
  run: LegRunner,
  more: {
    /** returns true to cancel */
    onProgress?: (p: number) => boolean;
    /** legs run at once (a pool's threads) */
    parallel?: number;
    /** the strategy's first bar that can trade (its warm-up): buy and hold starts there on each leg */
    firstTradingBar?: number;
  } = {},
): Promise<PortfolioResult> {
  const { onProgress = () => false, parallel = 1, firstTradingBar = 0 } = more;
  if (legs.length < 1) throw new AppError('VALIDATION_FAILED', 'a portfolio needs at least one symbol');
  const progress = legs.map(() => 0);
  let cancelled = false;
  const report = () => {
    if (onProgress(progress.reduce((a, b) => a + b, 0) / legs.length)) cancelled = true;
    return cancelled;
  };
  const results: LegResult[] = new Array(legs.length);
  let next = 0;
  const worker = async () => {
    while (next < legs.length && !cancelled) {
      const i = next++;
      const leg = legs[i]!;
      const r = await run(
        leg.bars,
        { ...options, cash: options.cash * leg.weight, wholeUnits: !!leg.wholeUnits },
        (p) => {
          progress[i] = p;
          return report();
        },
      );
      if (r.cancelled) cancelled = true;
      results[i] = r;
      progress[i] = 1;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, legs.length) }, worker));
  if (cancelled) throw new PortfolioCancelled('cancelled');

  const ts = mergedTimes(legs);
  const equity = new Float64Array(ts.length);
  const basket = new Float64Array(ts.length);
  const legEquity: Float64Array[] = [];
  const trades: PortfolioTrade[] = [];
  const index = new Map<number, number>();
  ts.forEach((t, i) => index.set(t, i));
  const summaries = legs.map((leg, i): PortfolioLegSummary => {
    const r = results[i]!;
    const cash = options.cash * leg.weight;
    const n = leg.bars.length;
    const e = carried(ts, leg.bars.ts, r.equity, n, cash);
    legEquity.push(e);
    // bought on the leg's first bar that can trade, cash until then
    const k0 = Math.min(firstTradingBar, n - 1);
    const first = leg.bars.close[k0]!;
    const held = carried(ts, leg.bars.ts.subarray(k0), leg.bars.close.subarray(k0), n - k0, first);
    for (let k = 0; k < ts.length; k++) {
      equity[k]! += e[k]!;
      basket[k]! += (cash * held[k]!) / first;
    }
    for (const t of r.trades)
      trades.push({
        ...t,
        symbol: leg.symbol,
        entryBar: index.get(leg.bars.ts[t.entryBar]!)!,
        exitBar: index.get(leg.bars.ts[Math.min(t.exitBar, n - 1)]!)!,
      });
    const finalEquity = r.equity[n - 1] ?? cash;
    return {
      symbol: leg.symbol,
      weight: leg.weight,
      startingBalance: cash,
      finalEquity,
      pnl: finalEquity - cash,
      contributionPct: ((finalEquity - cash) / options.cash) * 100,
      bars: n,
      stats: r.stats,
    };
  });
  trades.sort((a, b) => a.entryTime - b.entryTime || a.symbol.localeCompare(b.symbol));
  const totalFees = results.reduce((a, r) => a + r.stats.totalFees, 0);
  const stats = computeStats({ equity, time: ts, close: basket, trades, totalFees });

  const returns = legEquity.map((e) => {
    const r = new Float64Array(Math.max(0, e.length - 1));
    for (let k = 1; k < e.length; k++) r[k - 1] = e[k]! / e[k - 1]! - 1;
    return r;
  });
  const matrix = returns.map((a, i) =>
    returns.map((b, j) => (i === j ? (pearson(a, a) === null ? null : 1) : pearson(a, b))),
  );
  return {
    ts,
    equity,
    basket,
    trades,
    stats,
    legs: summaries,
    correlation: { symbols: legs.map((l) => l.symbol), matrix },
  };
}
