import {
  AppError,
  computeStats,
  DAY_MS,
  dayOf,
  firstAtLeast,
  PortfolioWatch,
  type PortfolioLimits,
  type Stats,
  type TradeRecord,
} from '@algotrade/core';
import type { BacktestOptions, BacktestPause, RiskOutcome } from './backtest.ts';
import type { BarColumns } from './plan.ts';
import type { WindowLeg, WindowRunner } from './walk-forward.ts';

/** One symbol of a portfolio backtest: its bars and its share of the starting balance. */
export interface PortfolioLeg {
  symbol: string;
  weight: number;
  bars: BarColumns;
  /** stocks trade whole units */
  wholeUnits?: boolean;
  /** this symbol's lot size and minimum order value on its exchange, over the run's own (each when given) */
  rules?: LegRules;
}

/** An exchange's rules for one symbol: its lot size (`qtyStep`) and minimum order value (`minNotional`). */
export interface LegRules {
  qtyStep?: number;
  minNotional?: number;
}

/** A leg's own backtest options: its share of the cash, its units, and its symbol's rules over the run's. */
function legOptions<O extends { cash: number }>(options: O, leg: PortfolioLeg, cash = options.cash * leg.weight) {
  return { ...options, cash, wholeUnits: !!leg.wholeUnits, ...leg.rules };
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
  /** with limits on the summed equity: each time one was reached */
  halts?: PortfolioHalt[];
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

/**
 * Sorted distinct bar times of every leg: a k-way merge of the legs' own (ascending) times, so legs on
 * the same clock cost one pass, not a sort of every leg's times together.
 */
function mergedTimes(legs: readonly PortfolioLeg[]): Float64Array {
  const k = legs.length;
  const pos = new Int32Array(k);
  const out = new Float64Array(legs.reduce((n, l) => n + l.bars.length, 0));
  let n = 0;
  for (;;) {
    let t = Infinity;
    for (let i = 0; i < k; i++) {
      const l = legs[i]!;
      if (pos[i]! < l.bars.length && l.bars.ts[pos[i]!]! < t) t = l.bars.ts[pos[i]!]!;
    }
    if (t === Infinity) break;
    out[n++] = t;
    for (let i = 0; i < k; i++) {
      const l = legs[i]!;
      while (pos[i]! < l.bars.length && l.bars.ts[pos[i]!]! <= t) pos[i]!++;
    }
  }
  return out.slice(0, n);
}

/** Pearson correlations of every pair of series (each centred once; the upper triangle computed). */
function correlations(series: Float64Array[]): (number | null)[][] {
  const k = series.length;
  const norms: number[] = [];
  for (const x of series) {
    let mean = 0;
    for (let i = 0; i < x.length; i++) mean += x[i]!;
    mean /= x.length || 1;
    let ss = 0;
    for (let i = 0; i < x.length; i++) {
      x[i] = x[i]! - mean;
      ss += x[i]! * x[i]!;
    }
    norms.push(Math.sqrt(ss));
  }
  const m: (number | null)[][] = Array.from({ length: k }, () => new Array<number | null>(k).fill(null));
  for (let a = 0; a < k; a++) {
    if (!(norms[a]! > 0)) continue; // a leg whose equity never moves correlates with nothing
    m[a]![a] = 1;
    for (let b = a + 1; b < k; b++) {
      if (!(norms[b]! > 0)) continue;
      const x = series[a]!;
      const y = series[b]!;
      let dot = 0;
      for (let i = 0; i < x.length; i++) dot += x[i]! * y[i]!;
      m[a]![b] = m[b]![a] = dot / (norms[a]! * norms[b]!);
    }
  }
  return m;
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
    /** the strategy's first bar that can trade on a leg's bars (its warm-up): buy and hold starts there */
    firstTradingBar?: (bars: BarColumns) => number;
    /**
     * limits on the summed equity, as a paper portfolio's (`portfolioRisk`): reached at a merged bar's
     * close, every leg's position is closed and trading ends (drawdown) or pauses until the next UTC day
     * (daily loss with resumeNextDay). The legs run again with each pause found, until none is left
     */
    limits?: PortfolioLimits;
  } = {},
): Promise<PortfolioResult> {
  const { onProgress = () => false, parallel = 1, firstTradingBar = () => 0, limits } = more;
  if (legs.length < 1) throw new AppError('VALIDATION_FAILED', 'a portfolio needs at least one symbol');
  const ts = mergedTimes(legs);
  // progress: with limits, each run of the legs takes half of what is left (how many there will be is
  // not known before), so it never goes back
  let done = 0;
  const share = limits ? 0.5 : 1;
  const pass = async (o: typeof options) => {
    const from = done;
    const r = await runLegs(legs, o, run, (p) => onProgress(from + (1 - from) * share * p), parallel);
    done = from + (1 - from) * share;
    return r;
  };
  let results = await pass(options);
  // the limits: each run of the legs finds the next time the summed equity reaches one, and the legs run
  // again closing there (their runs before it are the same): as many runs as times reached, plus one
  const halts: PortfolioHalt[] = [];
  const halted = () =>
    limits && nextHalt(ts, summedEquity(legs, results, ts, options.cash), options.cash, limits, halts);
  for (let h = halted(); h; h = halted()) {
    halts.push(h);
    results = await pass({ ...options, pauses: pausesOf(halts) });
  }
  if (limits) onProgress(1);
  const T = ts.length;
  const equity = new Float64Array(T);
  const basket = new Float64Array(T);
  // each leg's returns from one merged bar to the next, centred later for the correlation
  const returns: Float64Array[] = [];
  const trades: PortfolioTrade[] = [];
  const summaries = legs.map((leg, i): PortfolioLegSummary => {
    const r = results[i]!;
    const cash = options.cash * leg.weight;
    const n = leg.bars.length;
    const lts = leg.bars.ts;
    const close = leg.bars.close;
    // bought on the leg's first bar that can trade, cash until then
    const k0 = Math.min(firstTradingBar(leg.bars), n - 1);
    const units = cash / close[k0]!;
    const ret = new Float64Array(Math.max(0, T - 1));
    // each of the leg's bars' index in the merged times, for its trades
    const at = new Int32Array(n);
    // one pass over the merged times: the leg's last bar at or before each (its value carried forward)
    let j = -1;
    let prev = cash;
    for (let k = 0; k < T; k++) {
      const t = ts[k]!;
      while (j + 1 < n && lts[j + 1]! <= t) at[++j] = k;
      const e = j < 0 ? cash : r.equity[j]!;
      equity[k]! += e;
      basket[k]! += j < k0 ? cash : units * close[j]!;
      if (k > 0) ret[k - 1] = e / prev - 1;
      prev = e;
    }
    returns.push(ret);
    for (const t of r.trades) trades.push(legTrade(t, leg.symbol, at[t.entryBar]!, at[Math.min(t.exitBar, n - 1)]!));
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
  trades.sort((a, b) => a.entryTime - b.entryTime || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  const totalFees = results.reduce((a, r) => a + r.stats.totalFees, 0);
  const stats = computeStats({ equity, time: ts, close: basket, trades, totalFees });
  const matrix = correlations(returns);
  return {
    ts,
    equity,
    basket,
    trades,
    stats,
    legs: summaries,
    correlation: { symbols: legs.map((l) => l.symbol), matrix },
    ...(limits ? { halts } : {}),
  };
}

/** Every leg's backtest with its share (legOptions), `parallel` at a time; progress is the legs' mean. */
async function runLegs(
  legs: readonly PortfolioLeg[],
  options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer' | 'wholeUnits'>,
  run: LegRunner,
  onProgress: (p: number) => boolean,
  parallel: number,
): Promise<LegResult[]> {
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
      const r = await run(leg.bars, legOptions(options, leg), (p) => {
        progress[i] = p;
        return report();
      });
      if (r.cancelled) cancelled = true;
      results[i] = r;
      progress[i] = 1;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, legs.length) }, worker));
  if (cancelled) throw new PortfolioCancelled('cancelled');
  return results;
}

/** The legs' equity summed on the merged times `ts`, each carried forward from its last bar at or before. */
function summedEquity(legs: readonly PortfolioLeg[], results: LegResult[], ts: Float64Array, cash: number) {
  const sum = new Float64Array(ts.length);
  legs.forEach((leg, i) => {
    const lts = leg.bars.ts;
    const eq = results[i]!.equity;
    let j = -1;
    for (let k = 0; k < ts.length; k++) {
      while (j + 1 < lts.length && lts[j + 1]! <= ts[k]!) j++;
      sum[k]! += j < 0 ? cash * leg.weight : eq[j]!;
    }
  });
  return sum;
}

/** A portfolio limit reached: at `at` (a merged bar), which and how far (%), trading held until `until`. */
export interface PortfolioHalt {
  at: number;
  until: number;
  limit: 'max_drawdown' | 'max_daily_loss';
  pct: number;
}

/** The halts as each leg's pauses: its position closed there with `portfolio_<limit>`, held until they end. */
const pausesOf = (halts: readonly PortfolioHalt[]): BacktestPause[] =>
  halts.map((x) => ({ at: x.at, until: x.until, reason: `portfolio_${x.limit}` }));

/** The halts as a backtest's risk outcome says them: each with its bar among the merged times `ts`. */
export const haltsOutcome = (halts: readonly PortfolioHalt[], ts: Float64Array): RiskOutcome['halts'] =>
  halts.map((x) => ({ bar: ts.indexOf(x.at), time: x.at, limit: x.limit, pct: x.pct }));

/**
 * The first time after the `known` halts that the summed `equity` reaches one of the limits, checked at
 * each merged bar's close as a paper portfolio's watch checks its sessions' summed equity (PortfolioWatch:
 * the peak, and each UTC day's first equity); the time within a known pause is not checked. null when
 * there is none, or trading has ended.
 */
function nextHalt(
  ts: Float64Array,
  equity: Float64Array,
  cash: number,
  limits: PortfolioLimits,
  known: readonly PortfolioHalt[],
): PortfolioHalt | null {
  const watch = new PortfolioWatch(limits, cash, { ts: [], equity: [] }, ts[0] ?? 0);
  let h = 0;
  for (let k = 0; k < ts.length; k++) {
    const p = known[h];
    if (p && ts[k]! >= p.at) {
      if (p.until === Infinity) return null;
      while (k + 1 < ts.length && ts[k + 1]! < p.until) k++;
      // where the pause left the equity is where the next day starts (not a check: nothing trades)
      watch.dailyLoss(equity[k]!, ts[k]!);
      h++;
      continue;
    }
    const b = watch.check(equity[k]!, ts[k]!);
    if (b) {
      const ends = b.limit === 'max_drawdown' || !limits.resumeNextDay;
      return { at: ts[k]!, until: ends ? Infinity : (dayOf(ts[k]!) + 1) * DAY_MS, limit: b.limit, pct: b.pct };
    }
  }
  return null;
}

/**
 * A leg's trade as the portfolio's: with its symbol, its bars' indexes into the merged times. Written
 * out field by field: a spread of tens of thousands of trades costs several times more.
 */
const legTrade = (t: TradeRecord, symbol: string, entryBar: number, exitBar: number): PortfolioTrade => ({
  symbol,
  size: t.size,
  entryBar,
  exitBar,
  entryTime: t.entryTime,
  exitTime: t.exitTime,
  entryPrice: t.entryPrice,
  exitPrice: t.exitPrice,
  pnl: t.pnl,
  returnPct: t.returnPct,
  fees: t.fees,
  mae: t.mae,
  mfe: t.mfe,
  exitReason: t.exitReason,
  entryReason: t.entryReason,
});

/**
 * A portfolio as one series for a walk-forward (walkForward): its bars are the legs' merged bar times,
 * with the allocation bought on each leg's first bar and held (per unit of cash) as their close, the
 * buy-and-hold comparison; its `run` runs a window of those times as a portfolio backtest. Each leg runs
 * over its own bars in the window with its share of the window's cash (each window shares its starting
 * equity out by the weights again), warmed on as many of its own bars before the window as the window
 * gives (`tradeFrom`); the legs' equity is summed on the merged times, each carried forward between its
 * own bars, and their trades are kept with their symbol. A leg's risk limits are its own, as in a
 * portfolio backtest.
 */
export function portfolioWindows(
  legs: readonly PortfolioLeg[],
  run: WindowRunner,
  /** limits on the summed equity, as runPortfolio's: each window applies them afresh from its equity */
  limits?: PortfolioLimits,
): { bars: BarColumns; run: WindowRunner } {
  const ts = mergedTimes(legs);
  const T = ts.length;
  // each leg's bars' places in the merged times
  const places = legs.map((l) => {
    const at = new Int32Array(l.bars.length);
    let k = 0;
    for (let j = 0; j < l.bars.length; j++) {
      while (ts[k]! < l.bars.ts[j]!) k++;
      at[j] = k;
    }
    return at;
  });
  const basket = new Float64Array(T);
  legs.forEach((l, i) => {
    const at = places[i]!;
    let j = -1;
    for (let k = 0; k < T; k++) {
      while (j + 1 < at.length && at[j + 1]! <= k) j++;
      basket[k]! += l.weight * (j < 0 ? 1 : l.bars.close[j]! / l.bars.close[0]!);
    }
  });
  const bars: BarColumns = {
    ts,
    open: basket,
    high: basket,
    low: basket,
    close: basket,
    volume: new Float64Array(T),
    length: T,
  };
  const runWindow: WindowRunner = async (graph, _bars, w, options) => {
    const warm = options.tradeFrom ?? 0;
    const from = w.from + warm;
    const width = w.to - from;
    /** the legs over the window with these pauses (a limit on the summed equity reached) */
    const runLegsOf = async (pauses: BacktestPause[]) => {
      const equity = new Float64Array(width);
      const trades: PortfolioTrade[] = [];
      let totalFees = 0;
      const ends: WindowLeg[] = [];
      await Promise.all(
        legs.map(async (leg, i) => {
          const at = places[i]!;
          const cash = options.cash * leg.weight;
          ends[i] = { symbol: leg.symbol, startEquity: cash, endEquity: cash, trades: 0 };
          // the leg's bars in the window, and up to `warm` of its own before them
          const lf = firstAtLeast(at, from);
          const lt = firstAtLeast(at, w.to);
          if (lt <= lf) {
            for (let k = 0; k < width; k++) equity[k]! += cash;
            return;
          }
          const ls = Math.max(0, lf - warm);
          // the whole equity curve whatever the window asks: the portfolio's statistics read it (a window
          // asked for its statistics alone skips the trades' excursions, as such a run does)
          const r = await run(
            graph,
            leg.bars,
            { from: ls, to: lt, statsOnly: false },
            {
              ...legOptions(options, leg, cash),
              tradeFrom: lf - ls,
              ...(w.statsOnly ? { excursions: false } : {}),
              ...(pauses.length ? { pauses } : {}),
            },
          );
          let j = lf - 1;
          let e = cash;
          for (let k = from; k < w.to; k++) {
            while (j + 1 < lt && at[j + 1]! <= k) e = r.equity[++j - lf]!;
            equity[k - from]! += e;
          }
          for (const t of r.trades)
            trades.push(
              legTrade(t, leg.symbol, at[lf + t.entryBar]! - from, at[Math.min(lf + t.exitBar, lt - 1)]! - from),
            );
          totalFees += r.stats.totalFees;
          ends[i] = { ...ends[i]!, endEquity: e, trades: r.trades.length };
        }),
      );
      return { equity, trades, totalFees, ends };
    };
    let out = await runLegsOf([]);
    // the limits, as runPortfolio applies them: the window's legs again with each time one is reached
    const wts = ts.subarray(from, w.to);
    const halts: PortfolioHalt[] = [];
    const halted = () => limits && nextHalt(wts, out.equity, options.cash, limits, halts);
    for (let h = halted(); h; h = halted()) {
      halts.push(h);
      out = await runLegsOf(pausesOf(halts));
    }
    const { equity, trades, totalFees, ends } = out;
    trades.sort((a, b) => a.entryTime - b.entryTime || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    const stats = computeStats({
      equity,
      time: wts,
      close: basket.subarray(from, w.to),
      trades,
      totalFees,
    });
    // what the limits did, as a single backtest's risk limits say it (each fold's `limits`)
    const risk = limits ? { halts: haltsOutcome(halts, wts), refused: {} } : undefined;
    return { stats, equity, trades, legs: ends, ...(risk ? { risk } : {}) };
  };
  return { bars, run: runWindow };
}
