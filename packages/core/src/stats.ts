/**
 * Performance statistics, defined once and shared by backtests, forward tests and analytics.
 * Definitions follow docs/statistics.md (backtesting.py's conventions, so users can compare numbers).
 */
export interface TradeRecord {
  /** signed size: positive long, negative short */
  size: number;
  entryBar: number;
  exitBar: number;
  entryTime: number;
  exitTime: number;
  entryPrice: number;
  exitPrice: number;
  /** profit and loss net of this trade's fees */
  pnl: number;
  /** return net of fees: exit value / entry value - 1 (inverted for shorts) */
  returnPct: number;
  fees: number;
  /**
   * maximum adverse excursion: the worst price the position saw, as a move from the entry price in its
   * disfavour (a fraction, as returnPct; <= 0); see excursion()
   */
  mae?: number;
  /** maximum favourable excursion: the best price it saw, as a move in its favour (>= 0) */
  mfe?: number;
  /**
   * what closed it: the id of the action node whose signal did, or a rule: `stop_loss`, `trailing_stop`,
   * `take_profit`, `time_exit`, `end` (the data ended with it open); a paper session's also `max_drawdown`,
   * `max_daily_loss`, `manual_close` (closed from the API or the page), `manual` (an order by hand: a sell,
   * a close of a share), `session_stop` (the session stopped)
   */
  exitReason?: string;
  /**
   * what opened it: the id of the action node whose signal did (a strategy with several entries tells them
   * apart), or `manual` for an order by hand
   */
  entryReason?: string;
  /**
   * funding paid while it was open (perpetual futures; negative: received), already in its pnl; absent
   * without a funding rate
   */
  funding?: number;
  /** the fills that opened and added to the position (absent for one: no adding) */
  entries?: number;
}

/**
 * A trade's maximum adverse and favourable excursions (MAE, MFE): from the lowest and highest prices
 * the position saw while open (`lo`, `hi`: the bars it was held through; the entry and exit prices
 * count too), as fractions of the entry price; for a short, a rise is adverse. Price moves only, before
 * fees. A trade that went straight to its target has MAE 0.
 */
export function excursion(
  size: number,
  entryPrice: number,
  exitPrice: number,
  lo: number,
  hi: number,
): { mae: number; mfe: number } {
  const low = Math.min(lo, entryPrice, exitPrice);
  const high = Math.max(hi, entryPrice, exitPrice);
  return size > 0
    ? { mae: low / entryPrice - 1, mfe: high / entryPrice - 1 }
    : { mae: 1 - high / entryPrice, mfe: 1 - low / entryPrice };
}

export interface StatsInput {
  /** equity at every bar (cash + marked-to-market position, after fees) */
  equity: ArrayLike<number>;
  /** bar times, epoch ms */
  time: ArrayLike<number>;
  /** close prices of the traded instrument */
  close: ArrayLike<number>;
  trades: readonly TradeRecord[];
  /** first bar on which the strategy could trade (after warm-up), for buy & hold */
  firstTradingBar?: number;
  riskFreeRate?: number;
  totalFees?: number;
}

export interface Stats {
  start: string;
  end: string;
  durationMs: number;
  exposureTimePct: number;
  equityFinal: number;
  equityPeak: number;
  returnPct: number;
  buyAndHoldReturnPct: number;
  returnAnnPct: number;
  volatilityAnnPct: number;
  cagrPct: number;
  sharpe: number;
  sortino: number;
  calmar: number;
  alphaPct: number;
  beta: number;
  maxDrawdownPct: number;
  avgDrawdownPct: number;
  maxDrawdownDurationMs: number;
  avgDrawdownDurationMs: number;
  trades: number;
  winRatePct: number;
  bestTradePct: number;
  worstTradePct: number;
  avgTradePct: number;
  maxTradeDurationMs: number;
  avgTradeDurationMs: number;
  profitFactor: number;
  expectancyPct: number;
  sqn: number;
  kelly: number;
  totalFees: number;
  periodsPerYear: number;
  warnings: string[];
}

const DAY = 86_400_000;

/** Geometric mean of returns; a NaN return counts as 0; 0 (with a warning) when any 1 + r <= 0. */
export function geometricMean(returns: ArrayLike<number>, warnings?: string[]): number {
  const n = returns.length;
  if (n === 0) return 0;
  let logSum = 0;
  for (let i = 0; i < n; i++) {
    const r = Number.isNaN(returns[i]!) ? 0 : returns[i]!;
    if (1 + r <= 0) {
      warnings?.push('a period return of -100% or worse makes the geometric mean undefined; reported as 0');
      return 0;
    }
    logSum += Math.log(1 + r);
  }
  return Math.exp(logSum / n) - 1;
}

/** max without spreading (a spread of a million values overflows the stack) */
const maxOf = (xs: number[]): number => {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
};
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
function variance(xs: number[], ddof = 1): number {
  if (xs.length - ddof <= 0) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (xs.length - ddof);
}

/** Periods per year from the bar spacing (median of the last 100 gaps) and weekend trading. */
export function periodsPerYear(time: ArrayLike<number>): { perYear: number; bucketMs: number | 'M' | 'Y' } {
  const n = time.length;
  const gaps: number[] = [];
  for (let i = Math.max(1, n - 100); i < n; i++) gaps.push(time[i]! - time[i - 1]!);
  gaps.sort((a, b) => a - b);
  const med = gaps.length
    ? gaps.length % 2
      ? gaps[gaps.length >> 1]!
      : (gaps[gaps.length / 2 - 1]! + gaps[gaps.length / 2]!) / 2
    : DAY;
  const days = Math.floor(med / DAY);
  if (days === 7) return { perYear: 52, bucketMs: 7 * DAY };
  if (days === 31) return { perYear: 12, bucketMs: 'M' };
  if (days === 365) return { perYear: 1, bucketMs: 'Y' };
  let weekend = 0;
  for (let i = 0; i < n; i++) {
    // 1970-01-01 was a Thursday (4): day of week without a Date per bar
    const d = (Math.floor(time[i]! / DAY) + 4) % 7;
    if (d === 0 || d === 6) weekend++;
  }
  return { perYear: weekend / Math.max(1, n) > (2 / 7) * 0.6 ? 365 : 252, bucketMs: DAY };
}

/** Last equity of each calendar period (day, week, month or year), empty periods dropped, then % change. */
export function periodReturns(
  equity: ArrayLike<number>,
  time: ArrayLike<number>,
  bucket: number | 'M' | 'Y',
): number[] {
  const key = (t: number) => {
    if (bucket === 'M') {
      const d = new Date(t);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    }
    if (bucket === 'Y') return new Date(t).getUTCFullYear();
    // weeks end on Sunday like pandas' 'W'
    return bucket === 7 * DAY ? Math.floor((t - 4 * DAY) / bucket) : Math.floor(t / bucket);
  };
  const last: number[] = [];
  let cur: number | undefined;
  for (let i = 0; i < equity.length; i++) {
    const k = key(time[i]!);
    if (k !== cur) {
      last.push(equity[i]!);
      cur = k;
    } else last[last.length - 1] = equity[i]!;
  }
  const out: number[] = [];
  for (let i = 1; i < last.length; i++) out.push(last[i]! / last[i - 1]! - 1);
  return out;
}

/**
 * Drawdowns in one pass: dd[i] = 1 - E[i] / peak; a period runs from a bar at the peak (dd = 0) to
 * the next such bar, or to the last bar. The per-bar loops live in small functions of their own so
 * the JIT optimises them once: kept inline, every change in the shape of the trade-level inputs
 * deoptimised the whole of `computeStats` and recompiled it (50-80 ms of compiler time per backtest
 * in sweeps).
 */
function drawdowns(
  equity: ArrayLike<number>,
  time: ArrayLike<number>,
): { maxDd: number; peak: number; periods: number; sumDepth: number; sumDur: number; maxDur: number } {
  const n = equity.length;
  let peak = -Infinity;
  let maxDd = 0;
  let lastZero = -1;
  let curMax = 0;
  // per-period depth and duration, summed in order (the same sums as a mean over arrays of them)
  let periods = 0;
  let sumDepth = 0;
  let sumDur = 0;
  let maxDur = -Infinity;
  for (let i = 0; i < n; i++) {
    const e = equity[i]!;
    if (e >= peak) {
      peak = e;
      if (lastZero >= 0 && i > lastZero + 1) {
        const d = time[i]! - time[lastZero]!;
        periods++;
        sumDepth += curMax;
        sumDur += d;
        if (d > maxDur) maxDur = d;
      }
      lastZero = i;
      curMax = 0;
    } else {
      const d = 1 - e / peak;
      if (d > curMax) curMax = d;
      if (d > maxDd) maxDd = d;
    }
  }
  if (lastZero >= 0 && lastZero !== n - 1 && n - 1 > lastZero + 1) {
    const d = time[n - 1]! - time[lastZero]!;
    periods++;
    sumDepth += curMax;
    sumDur += d;
    if (d > maxDur) maxDur = d;
  }
  return { maxDd, peak, periods, sumDepth, sumDur, maxDur };
}

/**
 * Beta from per-bar log returns of equity and instrument, covariance by Welford's update (one pass,
 * no per-bar arrays, numerically stable).
 */
function betaOf(equity: ArrayLike<number>, close: ArrayLike<number>): number {
  const n = equity.length;
  if (n <= 2) return NaN;
  let k = 0;
  let ma = 0;
  let mb = 0;
  let cab = 0;
  let vb = 0;
  for (let i = 1; i < n; i++) {
    const a = equity[i] === equity[i - 1] ? 0 : Math.log(equity[i]! / equity[i - 1]!);
    const b = Math.log(close[i]! / close[i - 1]!);
    k++;
    const da = a - ma;
    const db = b - mb;
    ma += da / k;
    mb += db / k;
    cab += da * (b - mb);
    vb += db * (b - mb);
  }
  return cab / vb;
}

/** The per-trade figures (their own function for the same reason as `drawdowns`). */
function tradeFigures(trades: StatsInput['trades'], warnings: string[]) {
  const pnl = trades.map((t) => t.pnl);
  const rets = trades.map((t) => t.returnPct);
  const durs = trades.map((t) => t.exitTime - t.entryTime);
  const nT = trades.length;
  const winRate = nT ? pnl.filter((p) => p > 0).length / nT : NaN;
  const posSum = rets.filter((x) => x > 0).reduce((a, b) => a + b, 0);
  const negSum = Math.abs(rets.filter((x) => x < 0).reduce((a, b) => a + b, 0));
  const pnlStd = Math.sqrt(variance(pnl, 1));
  const winMean = mean(pnl.filter((p) => p > 0));
  const lossMean = -mean(pnl.filter((p) => p < 0));
  return {
    trades: nT,
    winRatePct: winRate * 100,
    bestTradePct: nT ? maxOf(rets) * 100 : NaN,
    worstTradePct: nT ? -maxOf(rets.map((x) => -x)) * 100 : NaN,
    avgTradePct: nT ? geometricMean(rets, warnings) * 100 : NaN,
    maxTradeDurationMs: nT ? maxOf(durs) : NaN,
    avgTradeDurationMs: nT ? mean(durs) : NaN,
    profitFactor: posSum / (negSum || NaN),
    expectancyPct: mean(rets) * 100,
    sqn: (Math.sqrt(nT) * mean(pnl)) / (pnlStd || NaN),
    kelly: winRate - (1 - winRate) / (winMean / lossMean),
  };
}

export function computeStats(input: StatsInput): Stats {
  const { equity, time, close, trades } = input;
  const n = equity.length;
  const warnings: string[] = [];
  const rf = input.riskFreeRate ?? 0;
  const e0 = equity[0] ?? 0;
  const eN = equity[n - 1] ?? 0;

  const { maxDd, peak: equityPeak, periods, sumDepth, sumDur, maxDur } = drawdowns(equity, time);

  // exposure: the union of [entry bar, exit bar] over trades
  let exposedBars = 0;
  {
    const spans = trades.map((t) => [t.entryBar, Math.min(n - 1, t.exitBar)] as const).sort((x, y) => x[0] - y[0]);
    let end = -1;
    for (const [s0, s1] of spans) {
      const from = Math.max(s0, end + 1);
      if (s1 >= from) exposedBars += s1 - from + 1;
      if (s1 > end) end = s1;
    }
  }

  const k = Math.min(Math.max(0, input.firstTradingBar ?? 0), n - 1);
  const buyHold = n ? ((close[n - 1]! - close[k]!) / close[k]!) * 100 : NaN;
  const returnPct = ((eN - e0) / e0) * 100;

  const { perYear, bucketMs } = periodsPerYear(time);
  const r = periodReturns(equity, time, bucketMs);
  const g = geometricMean(r, warnings);
  const defined = r.filter((x) => !Number.isNaN(x));
  const annRet = (1 + g) ** perYear - 1;
  const vol = Math.sqrt((variance(defined, 1) + (1 + g) ** 2) ** perYear - (1 + g) ** (2 * perYear));
  const downside = Math.sqrt(mean(defined.map((x) => Math.min(x, 0) ** 2))) * Math.sqrt(perYear);
  const durationMs = n ? time[n - 1]! - time[0]! : 0;
  const years = durationMs / DAY / 365.25;

  const beta = betaOf(equity, close);

  const t = tradeFigures(trades, warnings);

  return {
    start: n ? new Date(time[0]!).toISOString() : '',
    end: n ? new Date(time[n - 1]!).toISOString() : '',
    durationMs,
    exposureTimePct: n ? (exposedBars / n) * 100 : 0,
    equityFinal: eN,
    equityPeak,
    returnPct,
    buyAndHoldReturnPct: buyHold,
    returnAnnPct: annRet * 100,
    volatilityAnnPct: vol * 100,
    cagrPct: years > 0 ? ((eN / e0) ** (1 / years) - 1) * 100 : NaN,
    sharpe: (annRet * 100 - rf * 100) / (vol * 100 || NaN),
    sortino: (annRet - rf) / (downside || NaN),
    calmar: annRet / (maxDd || NaN),
    alphaPct: returnPct - rf * 100 - beta * (buyHold - rf * 100),
    beta,
    maxDrawdownPct: -maxDd * 100,
    avgDrawdownPct: periods ? -(sumDepth / periods) * 100 : NaN,
    maxDrawdownDurationMs: periods ? maxDur : NaN,
    avgDrawdownDurationMs: periods ? sumDur / periods : NaN,
    ...t,
    totalFees: input.totalFees ?? trades.reduce((s, t) => s + t.fees, 0),
    periodsPerYear: perYear,
    warnings,
  };
}

/** The first index of the ascending `xs` whose value is at least `x` (xs.length when none is). */
export function firstAtLeast(xs: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
