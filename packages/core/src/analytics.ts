import { computeStats, periodReturns, periodsPerYear, type Stats, type StatsInput } from './stats.ts';

/**
 * Risk and performance beyond the stats table (docs/statistics.md, "Analytics"): historical VaR and
 * CVaR at 95 %, skew and excess kurtosis (pandas' unbiased estimators), Omega ratio (threshold 0),
 * longest underwater period, consecutive wins and losses, long vs short win rates.
 *
 * Returns are daily (the statistics' period returns) when the equity spans at least three periods;
 * shorter series (a forward test running for minutes) use the return between consecutive equity
 * points, and say so in `returnsBasis`.
 */
export interface RiskReport extends Stats {
  returnsBasis: 'period' | 'point';
  returnsCount: number;
  var95Pct: number;
  cvar95Pct: number;
  skew: number;
  kurtosis: number;
  omega: number;
  longestUnderwaterMs: number;
  maxConsecutiveWins: number;
  maxConsecutiveLosses: number;
  longWinRatePct: number;
  shortWinRatePct: number;
  longTrades: number;
  shortTrades: number;
}

/** numpy's default (linear) percentile of sorted values, q in 0..1 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Historical VaR and CVaR at `level` (0.95) as positive loss percentages. */
export function valueAtRisk(returns: readonly number[], level = 0.95): { varPct: number; cvarPct: number } {
  const s = [...returns].sort((a, b) => a - b);
  const q = quantileSorted(s, 1 - level);
  const tail = s.filter((r) => r <= q);
  const cvar = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN;
  return { varPct: -q * 100, cvarPct: -cvar * 100 };
}

/** pandas Series.skew(): adjusted Fisher-Pearson G1 */
export function skewness(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 3) return NaN;
  const m = xs.reduce((a, b) => a + b, 0) / n;
  let m2 = 0;
  let m3 = 0;
  for (const x of xs) {
    const d = x - m;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= n;
  m3 /= n;
  if (m2 === 0) return 0;
  return (m3 / m2 ** 1.5) * (Math.sqrt(n * (n - 1)) / (n - 2));
}

/** pandas Series.kurt(): unbiased excess kurtosis G2 */
export function excessKurtosis(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 4) return NaN;
  const m = xs.reduce((a, b) => a + b, 0) / n;
  let m2 = 0;
  let m4 = 0;
  for (const x of xs) {
    const d = x - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  if (m2 === 0) return 0;
  const g2 = m4 / (m2 * m2) - 3;
  return (((n + 1) * g2 + 6) * (n - 1)) / ((n - 2) * (n - 3));
}

export function omegaRatio(returns: readonly number[], threshold = 0): number {
  let up = 0;
  let down = 0;
  for (const r of returns) {
    if (r > threshold) up += r - threshold;
    else down += threshold - r;
  }
  return down === 0 ? (up > 0 ? Infinity : NaN) : up / down;
}

/** Longest time from an equity peak until equity is back at that peak (or the end of the series). */
export function longestUnderwater(equity: ArrayLike<number>, time: ArrayLike<number>): number {
  let peak = -Infinity;
  let since = -1;
  let longest = 0;
  for (let i = 0; i < equity.length; i++) {
    if (equity[i]! >= peak) {
      if (since >= 0) longest = Math.max(longest, time[i]! - time[since]!);
      peak = equity[i]!;
      since = -1;
    } else if (since < 0) since = i - 1;
  }
  if (since >= 0 && equity.length) longest = Math.max(longest, time[equity.length - 1]! - time[since]!);
  return longest;
}

export type RiskExtras = Omit<RiskReport, keyof Stats>;

export function riskReport(input: StatsInput): RiskReport {
  return { ...computeStats(input), ...riskExtras(input) };
}

/** The analytics fields alone (for results whose stats table is already stored, like backtests). */
export function riskExtras(input: Pick<StatsInput, 'equity' | 'time' | 'trades'>): RiskExtras {
  const { equity, time, trades } = input;
  const { bucketMs } = periodsPerYear(time);
  let returns = periodReturns(equity, time, bucketMs);
  let basis: RiskReport['returnsBasis'] = 'period';
  if (returns.length < 3) {
    basis = 'point';
    returns = [];
    for (let i = 1; i < equity.length; i++) if (equity[i - 1]! !== 0) returns.push(equity[i]! / equity[i - 1]! - 1);
  }
  const { varPct, cvarPct } = valueAtRisk(returns);
  let wins = 0;
  let losses = 0;
  let maxW = 0;
  let maxL = 0;
  let longN = 0;
  let longW = 0;
  let shortN = 0;
  let shortW = 0;
  for (const t of [...trades].sort((a, b) => a.exitTime - b.exitTime)) {
    if (t.pnl > 0) {
      wins++;
      losses = 0;
    } else {
      losses++;
      wins = 0;
    }
    maxW = Math.max(maxW, wins);
    maxL = Math.max(maxL, losses);
    if (t.size > 0) {
      longN++;
      if (t.pnl > 0) longW++;
    } else {
      shortN++;
      if (t.pnl > 0) shortW++;
    }
  }
  return {
    returnsBasis: basis,
    returnsCount: returns.length,
    var95Pct: varPct,
    cvar95Pct: cvarPct,
    skew: skewness(returns),
    kurtosis: excessKurtosis(returns),
    omega: omegaRatio(returns),
    longestUnderwaterMs: longestUnderwater(equity, time),
    maxConsecutiveWins: maxW,
    maxConsecutiveLosses: maxL,
    longWinRatePct: longN ? (longW / longN) * 100 : NaN,
    shortWinRatePct: shortN ? (shortW / shortN) * 100 : NaN,
    longTrades: longN,
    shortTrades: shortN,
  };
}
