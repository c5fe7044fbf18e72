import {
  computeStats,
  excursion,
  periodReturns,
  periodsPerYear,
  type Stats,
  type StatsInput,
  type TradeRecord,
} from './stats.ts';
import { seededRandom } from './random.ts';

/**
 * Risk and performance beyond the stats table (docs/statistics.md, "Analytics"): historical VaR and
 * CVaR at 95 %, skew and excess kurtosis (pandas' unbiased estimators), Omega ratio (threshold 0),
 * longest underwater period, consecutive wins and losses, long vs short win rates, and the trades'
 * excursions (mean and extreme MAE and MFE, in %, over the trades that carry them).
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
  avgMaePct: number;
  worstMaePct: number;
  avgMfePct: number;
  bestMfePct: number;
  /** the trades by what closed them (TradeRecord.exitReason), most trades first; trades without one are left out */
  exits: ReasonGroup[];
  /** the trades by what opened them (TradeRecord.entryReason: the entry's action node), likewise */
  entries: ReasonGroup[];
}

/**
 * The trades one reason opened or closed: how many, how many won, their mean return and their PnL summed.
 */
export interface ReasonGroup {
  reason: string;
  trades: number;
  winRatePct: number;
  avgReturnPct: number;
  pnl: number;
}

/** Trades grouped by their exit reason (or entry reason), most trades first (ties by reason). */
export function tradesByReason(trades: readonly TradeRecord[], key: 'exitReason' | 'entryReason'): ReasonGroup[] {
  const groups = new Map<string, { n: number; wins: number; ret: number; pnl: number }>();
  for (const t of trades) {
    const reason = t[key];
    if (reason === undefined) continue;
    let g = groups.get(reason);
    if (!g) groups.set(reason, (g = { n: 0, wins: 0, ret: 0, pnl: 0 }));
    g.n++;
    if (t.pnl > 0) g.wins++;
    g.ret += t.returnPct;
    g.pnl += t.pnl;
  }
  return [...groups]
    .map(([reason, g]) => ({
      reason,
      trades: g.n,
      winRatePct: (g.wins / g.n) * 100,
      avgReturnPct: (g.ret / g.n) * 100,
      pnl: g.pnl,
    }))
    .sort((a, b) => b.trades - a.trades || (a.reason < b.reason ? -1 : 1));
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
  let xN = 0;
  let maeSum = 0;
  let mfeSum = 0;
  let worstMae = Infinity;
  let bestMfe = -Infinity;
  for (const t of [...trades].sort((a, b) => a.exitTime - b.exitTime)) {
    if (t.mae !== undefined && t.mfe !== undefined && Number.isFinite(t.mae) && Number.isFinite(t.mfe)) {
      xN++;
      maeSum += t.mae;
      mfeSum += t.mfe;
      worstMae = Math.min(worstMae, t.mae);
      bestMfe = Math.max(bestMfe, t.mfe);
    }
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
    avgMaePct: xN ? (maeSum / xN) * 100 : NaN,
    worstMaePct: xN ? worstMae * 100 : NaN,
    avgMfePct: xN ? (mfeSum / xN) * 100 : NaN,
    bestMfePct: xN ? bestMfe * 100 : NaN,
    exits: tradesByReason(trades, 'exitReason'),
    entries: tradesByReason(trades, 'entryReason'),
  };
}

/**
 * Gives trades without bars (a paper session's, from its fills) their MAE and MFE from a price series
 * sampled while they were open (a session's equity points): the prices strictly between entry and
 * exit, with the entry and exit prices. As coarse as the sampling; `time` ascending.
 */
export function sampledExcursions(
  trades: readonly TradeRecord[],
  time: ArrayLike<number>,
  price: ArrayLike<number>,
): TradeRecord[] {
  return trades.map((t) => {
    // the first point after the entry (binary search), then every point before the exit
    let a = 0;
    let b = time.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (time[m]! <= t.entryTime) a = m + 1;
      else b = m;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = a; i < time.length && time[i]! < t.exitTime; i++) {
      const p = price[i]!;
      if (p < lo) lo = p;
      if (p > hi) hi = p;
    }
    return { ...t, ...excursion(t.size, t.entryPrice, t.exitPrice, lo, hi) };
  });
}

export interface MonteCarloResult {
  method: 'shuffle' | 'bootstrap';
  runs: number;
  seed: number;
  trades: number;
  /** each trade's profit as a share of the equity before it, from the run's own sequence */
  tradeReturnsPct: { mean: number; min: number; max: number };
  /** the run as it happened: final return and the deepest trade-to-trade drawdown, in % */
  actual: { returnPct: number; maxDrawdownPct: number };
  /** percentiles (5, 25, 50, 75, 95) over the simulated runs */
  returnPct: Record<'p5' | 'p25' | 'p50' | 'p75' | 'p95', number>;
  maxDrawdownPct: Record<'p5' | 'p25' | 'p50' | 'p75' | 'p95', number>;
  /** share of runs ending below the starting equity */
  probabilityOfLoss: number;
  /** share of runs whose deepest drawdown is worse than the run's own */
  probabilityOfWorseDrawdown: number;
  /** every run's final return, sorted (at most 200 evenly spaced of them): a distribution to draw */
  returnQuantiles: number[];
}

/**
 * Monte Carlo over a run's trades: how much of its result was the order its trades came in (`shuffle`:
 * the same trades in random orders) or the luck of which trades it got (`bootstrap`: as many trades
 * drawn with replacement). Each trade keeps its profit as a share of the equity before it, so a path
 * compounds them as the run's own sizing did (exact for one position at a time, as this engine
 * trades). Shuffling leaves the final return as it was (products commute) and moves only the
 * drawdowns; bootstrapping moves both. Seeded: the same input gives the same answer.
 */
export function monteCarlo(
  startEquity: number,
  pnls: readonly number[],
  opts: { runs: number; method: 'shuffle' | 'bootstrap'; seed: number },
): MonteCarloResult {
  const n = pnls.length;
  const r = new Float64Array(n);
  let eq = startEquity;
  let peak = eq;
  let actualDd = 0;
  for (let i = 0; i < n; i++) {
    r[i] = pnls[i]! / eq;
    eq += pnls[i]!;
    peak = Math.max(peak, eq);
    actualDd = Math.max(actualDd, 1 - eq / peak);
  }
  const rand = seededRandom(opts.seed);
  const finals = new Float64Array(opts.runs);
  const dds = new Float64Array(opts.runs);
  const order = new Float64Array(n);
  for (let k = 0; k < opts.runs; k++) {
    if (opts.method === 'shuffle') {
      order.set(r);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
    } else for (let i = 0; i < n; i++) order[i] = r[Math.floor(rand() * n)]!;
    let e = 1;
    let p = 1;
    let dd = 0;
    for (let i = 0; i < n; i++) {
      e *= 1 + order[i]!;
      if (e > p) p = e;
      else if (1 - e / p > dd) dd = 1 - e / p;
    }
    finals[k] = (e - 1) * 100;
    dds[k] = -dd * 100;
  }
  const sortedFinals = Array.from(finals).sort((a, b) => a - b);
  const sortedDds = Array.from(dds).sort((a, b) => a - b);
  const pct = (s: number[]) => ({
    p5: quantileSorted(s, 0.05),
    p25: quantileSorted(s, 0.25),
    p50: quantileSorted(s, 0.5),
    p75: quantileSorted(s, 0.75),
    p95: quantileSorted(s, 0.95),
  });
  const actualDdPct = -actualDd * 100;
  const step = Math.max(1, Math.ceil(opts.runs / 200));
  const rs = Array.from(r);
  return {
    method: opts.method,
    runs: opts.runs,
    seed: opts.seed,
    trades: n,
    tradeReturnsPct: {
      mean: n ? (rs.reduce((a, b) => a + b, 0) / n) * 100 : NaN,
      min: n ? Math.min(...rs) * 100 : NaN,
      max: n ? Math.max(...rs) * 100 : NaN,
    },
    actual: { returnPct: ((eq - startEquity) / startEquity) * 100, maxDrawdownPct: actualDdPct },
    returnPct: pct(sortedFinals),
    // the worst drawdowns are the most negative: p5 is the bad tail
    maxDrawdownPct: pct(sortedDds),
    probabilityOfLoss: sortedFinals.filter((x) => x < -1e-9).length / opts.runs,
    probabilityOfWorseDrawdown: sortedDds.filter((x) => x < actualDdPct - 1e-9).length / opts.runs,
    returnQuantiles: sortedFinals.filter((_, i) => i % step === 0 || i === opts.runs - 1),
  };
}

/** One change of a paper session's status, as its timeline lists it (GET /api/forward-tests/:id/events). */
export interface StatusChange {
  status: string;
  was: string | null;
  reason: string | null;
  /** the market time of the change (null: none known) */
  ts: string | null;
  /** the wall clock */
  at: string;
}

/** How much of its life a paper session traded, and what stopped it trading (sessionActivity). */
export interface SessionActivity {
  /** its first start (ms), null when it never started */
  startedAt: number | null;
  /** from its first start to its stop, or to `now` while it has not stopped (ms) */
  lifeMs: number;
  /** the time within its life it was running (ms) */
  runningMs: number;
  /** runningMs as a share of lifeMs (%), null for a life of no time */
  runningPct: number | null;
  /** each time it stopped trading (a pause, a stop or a failure from running) */
  halts: number;
  /** those halts by why: a rule's reason, or "by hand"; most first */
  byReason: { reason: string; count: number }[];
}

/**
 * A paper session's activity from its timeline (oldest first): from its first start to its stop (or to
 * `now`, ms, while it has not stopped), the time it was running and each time it stopped trading, by
 * why. Times are the market's where a change has one, else the wall clock's.
 */
export function sessionActivity(events: readonly StatusChange[], now: number): SessionActivity {
  let startedAt: number | null = null;
  let runSince: number | null = null;
  let end: number | null = null;
  let runningMs = 0;
  let halts = 0;
  const byReason = new Map<string, number>();
  for (const e of events) {
    const t = Date.parse(e.ts ?? e.at);
    if (e.status === 'running') {
      startedAt ??= t;
      runSince ??= t;
      continue;
    }
    if (runSince !== null) {
      runningMs += Math.max(0, t - runSince);
      runSince = null;
      halts++;
      const why = e.reason ?? 'by hand';
      byReason.set(why, (byReason.get(why) ?? 0) + 1);
    }
    if ((e.status === 'stopped' || e.status === 'failed') && startedAt !== null) end ??= t;
  }
  if (runSince !== null) runningMs += Math.max(0, now - runSince);
  const lifeMs = startedAt === null ? 0 : Math.max(0, (end ?? now) - startedAt);
  return {
    startedAt,
    lifeMs,
    runningMs,
    runningPct: lifeMs > 0 ? (runningMs / lifeMs) * 100 : null,
    halts,
    byReason: [...byReason].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
  };
}
