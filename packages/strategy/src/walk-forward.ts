import { AppError, computeStats, type BarColumns, type Stats, type TradeRecord } from '@algotrade/core';
import {
  firstTradingBar,
  limitsRecord,
  runBacktest,
  type BacktestOptions,
  type LimitsRecord,
  type RiskOutcome,
} from './backtest.ts';
import type { EnginePool, PoolWindow } from './engine-pool.ts';
import { barSecondsOf, warmupBars, type CompiledPlan } from './plan.ts';
import { compileGraph } from './compiler.ts';
import type { Graph } from './graph.ts';
import { comboVariants, compiledVariants, gridSize, scoreOf, type Combo, type ParamGrid, type RankBy } from './grid.ts';
import { sweepStanding } from './plateau.ts';
import { adaptiveSearch, comboKey, DEFAULT_STARTUP } from './tpe.ts';

export interface WalkForwardSpec {
  /** how many out-of-sample windows (2..20) */
  folds: number;
  /** each fold's out-of-sample share of its in-sample + out-of-sample span, in % (5..50) */
  outOfSamplePct: number;
  /** true: every in-sample window starts at the first bar (expanding); false: it rolls forward */
  anchored: boolean;
  rankBy: RankBy;
  /** a combination with fewer closed trades in sample ranks last (0 or absent: any number) */
  minTrades?: number;
  /**
   * which combination each fold takes from its in-sample search: `best` (absent: the default), the
   * highest score; `robust`, the highest mean score with its neighbours in the grid (mostRobust: a
   * plateau rather than a spike), or the best when no combination had two neighbours run
   */
  pick?: 'best' | 'robust';
  /**
   * the grid the points come from, where they are a sample of it: a robust pick reads neighbours from
   * it (without: from the values the points take, the whole grid for a whole grid's points)
   */
  grid?: ParamGrid;
}

/** One fold's bars, half-open [from, to) indexes into the whole series. */
export interface FoldWindow {
  isFrom: number;
  isTo: number;
  oosFrom: number;
  oosTo: number;
}

/**
 * The folds' windows over n bars. The out-of-sample windows are consecutive, do not overlap and end
 * at the last bar; each fold's in-sample window ends where its out-of-sample window starts, so a
 * choice is only ever made on bars before the ones it is tested on. With out-of-sample share p and k
 * folds, an out-of-sample window is floor(n / (k + (1 - p) / p)) bars and the first in-sample
 * window what is left (about (1 - p) / p of that: it takes the bars left over by rounding); a rolling
 * in-sample window keeps that length, an anchored one grows.
 */
export function walkForwardWindows(n: number, spec: Pick<WalkForwardSpec, 'folds' | 'outOfSamplePct' | 'anchored'>) {
  const pct = spec.outOfSamplePct;
  const k = spec.folds;
  // n / (k + (1 - p) / p) with p = pct / 100, written over whole numbers: the float form rounds an
  // exact quotient (64 / (3 + 0.7 / 0.3) = 12) to just under it, and the floor then lost a bar
  const oos = Math.floor((n * pct) / (k * pct + 100 - pct));
  const is = n - k * oos;
  const out: FoldWindow[] = [];
  for (let i = 0; i < k; i++) {
    const oosFrom = is + i * oos;
    out.push({
      isFrom: spec.anchored ? 0 : i * oos,
      isTo: oosFrom,
      oosFrom,
      oosTo: oosFrom + oos,
    });
  }
  return { windows: out, oosBars: oos, isBars: is };
}

export interface WindowRun {
  stats: Stats;
  equity: Float64Array;
  trades: TradeRecord[];
  /** with `risk` limits: what they did */
  risk?: RiskOutcome;
  /** a portfolio's window (portfolioWindows): what each leg started and ended it with, and its trades */
  legs?: WindowLeg[];
}

/** One leg of a portfolio's window: its share of the window's cash, what it ended with, its closed trades. */
export interface WindowLeg {
  symbol: string;
  startEquity: number;
  endEquity: number;
  trades: number;
}
/**
 * Runs one backtest of bars [window.from, window.to) of the whole series `bars` (inline, or on a
 * worker thread). `options.tradeFrom` marks, within the window, the first bar that trades;
 * `window.statsOnly` says only the statistics are needed.
 */
export type WindowRunner = (
  graph: Graph,
  bars: BarColumns,
  window: PoolWindow,
  options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer'>,
) => Promise<WindowRun>;

/** Bars [from, to) as views of the same memory (no copy). */
export function viewBars(c: BarColumns, from: number, to: number): BarColumns {
  return {
    ts: c.ts.subarray(from, to),
    open: c.open.subarray(from, to),
    high: c.high.subarray(from, to),
    low: c.low.subarray(from, to),
    close: c.close.subarray(from, to),
    volume: c.volume.subarray(from, to),
    length: to - from,
    ...(c.others ? { others: c.others.map((o) => o.subarray(from, to)) } : {}),
  };
}

/**
 * Equity and signal buffers reused by runs that return only statistics (a run that returns its
 * equity curve gets a fresh one: the curve is a view of the buffer); such runs skip the trades'
 * excursions too.
 */
export function scratchBuffers(): (
  w: PoolWindow,
) => Pick<BacktestOptions, 'equityBuffer' | 'signalsBuffer' | 'excursions'> {
  let equity = new Float64Array(0);
  let signals = new Int8Array(0);
  return (w) => {
    if (!w.statsOnly) return {};
    const n = w.to - w.from;
    if (equity.length < n) [equity, signals] = [new Float64Array(n), new Int8Array(n)];
    return { equityBuffer: equity, signalsBuffer: signals, excursions: false };
  };
}

/**
 * Backtests on this thread, over views of the series (no copies), each graph compiled once.
 * `yieldEvery`: give the event loop a turn before each run (a server's progress and cancel messages).
 */
export function inlineRunner(yieldEvery = false): WindowRunner {
  const plans = new Map<Graph, CompiledPlan>();
  const scratch = scratchBuffers();
  return async (graph, bars, w, options) => {
    if (yieldEvery) await new Promise((r) => setImmediate(r));
    // a grid point's graph (comboVariants) comes compiled already
    let plan = plans.get(graph) ?? compiledVariants.get(graph);
    if (!plan) {
      const c = compileGraph(graph);
      if (!c.plan) throw new AppError('UNPROCESSABLE', `the strategy does not compile: ${c.report.errors[0]?.message}`);
      plans.set(graph, (plan = c.plan));
    }
    return runBacktest(plan, viewBars(bars, w.from, w.to), { ...options, ...scratch(w) });
  };
}

/** Backtests on a pool's threads: each thread gets the series once, then only the windows' bounds. */
export const poolRunner =
  (pool: EnginePool): WindowRunner =>
  (graph, bars, w, options) =>
    pool.run(graph, bars, options, undefined, w);

export interface FoldResult {
  fold: number;
  inSample: { from: string; to: string; bars: number };
  outOfSample: { from: string; to: string; bars: number };
  /** the combination taken in sample: the first ranked (ties: the first in grid order), or with `pick: "robust"` the best with its neighbours */
  chosen: Combo;
  /** its in-sample statistics */
  inSampleStats: Stats;
  /** the same combination on the next, unseen window */
  outOfSampleStats: Stats;
  /** out-of-sample annualised return / in-sample annualised return; null unless the in-sample one is positive */
  efficiency: number | null;
  /** out-of-sample equity at the window's start and end (each window starts with the one before's end) */
  startEquity: number;
  endEquity: number;
  /** set when no combination had a finite score in sample (no trades, say): the first was taken */
  note?: string;
  /** with `risk` limits: what they did out of sample (each window starts them afresh, from its equity) */
  limits?: LimitsRecord;
  /** over a portfolio: what each leg made of its share out of sample */
  legs?: WindowLeg[];
}

export interface WalkForwardResult {
  folds: FoldResult[];
  /** the out-of-sample windows chained into one run: statistics, equity per bar, trades */
  stats: Stats;
  equity: { ts: number[]; equity: number[] };
  trades: TradeRecord[];
  /** mean out-of-sample annualised return / mean in-sample annualised return of the chosen combinations */
  efficiency: number | null;
  /** how often each chosen combination was chosen, most often first */
  chosen: { combo: Combo; folds: number }[];
  /** what a plain sweep over every bar would have picked, and its (in-sample, so optimistic) statistics */
  fullPeriod: { combo: Combo; stats: Stats };
  /** bars given before each window to warm indicators up: 10 × the longest warm-up of any combination, + 1 (warmupBars) */
  lookback: number;
  warnings: string[];
}

const iso = (t: number) => new Date(t).toISOString();

/** Thrown by walkForward when its progress callback asked it to stop. */
export class WalkForwardCancelled extends Error {
  constructor() {
    super('the walk-forward was cancelled');
    this.name = 'WalkForwardCancelled';
  }
}

/** A grid point applied to the strategy and compiled. */
export interface Variant {
  combo: Combo;
  graph: Graph;
  plan?: CompiledPlan;
}

/**
 * An adaptive search in each window instead of every point: `count` backtests of the grid, the first
 * `startup` at random with `seed` (the same in every window), then each proposed by TPE from the
 * window's results so far (tpe.ts).
 */
export interface AdaptiveWindows {
  graph: Graph;
  grid: ParamGrid;
  search: { count: number; seed: number; startup?: number };
}

/**
 * The bars an adaptive walk-forward warms each window on, without compiling every point of its grid:
 * the longest first trading bar of each value of each key set alone, and of all keys set together at
 * their slowest values (exact when a strategy's warm-up grows with each parameter, as periods do).
 */
function adaptiveWarmup(a: AdaptiveWindows, barSeconds: number): number {
  const first = (v: Variant) => firstTradingBar(v.plan ?? compileGraph(v.graph).plan!, barSeconds);
  const slowest: Combo = {};
  let warm = 0;
  for (const [key, values] of Object.entries(a.grid)) {
    let keyMax = -1;
    for (const v of comboVariants(
      a.graph,
      values.map((x) => ({ [key]: x })),
    )) {
      const w = first(v);
      if (w > keyMax) [keyMax, slowest[key]] = [w, v.combo[key]!];
    }
    warm = Math.max(warm, keyMax);
  }
  return Math.max(warm, first(comboVariants(a.graph, [slowest])[0]!));
}

/**
 * Walk-forward analysis: for each fold, every combination is backtested on the in-sample window,
 * the best by `rankBy` is kept, and that one alone is run on the out-of-sample window that follows.
 * The out-of-sample windows are chained (each starts with the cash the one before ended with) into
 * one run whose statistics say how the optimisation would have done on data it had not seen.
 * Every window gets the `lookback` bars before it to warm its indicators up; they do not trade.
 *
 * Backtests go through `run`, at most `concurrency` at a time; the in-sample ones of all folds (and
 * the full-period sweep) are independent, so a pool runs them side by side. `onProgress` gets the
 * share of backtests done and may return true to cancel: no further backtest starts, and the
 * promise rejects with WalkForwardCancelled.
 */
export async function walkForward(
  /** the grid's points (gridVariants: each compiled already, its plan read for the warm-up), or an adaptive search of a grid */
  points: readonly Variant[] | AdaptiveWindows,
  bars: BarColumns,
  options: Omit<BacktestOptions, 'onProgress' | 'equityBuffer' | 'signalsBuffer' | 'tradeFrom'>,
  spec: WalkForwardSpec,
  run: WindowRunner,
  onProgress?: (share: number) => boolean | void,
  concurrency = 1,
): Promise<WalkForwardResult> {
  const adaptive = 'search' in points ? points : null;
  const variants = adaptive ? [] : (points as readonly Variant[]);
  if (adaptive ? !gridSize(adaptive.grid) : !variants.length)
    throw new AppError('VALIDATION_FAILED', 'the grid is empty');
  // an adaptive search's backtests in each window (no more than the grid has points)
  const perWindow = adaptive ? Math.min(adaptive.search.count, gridSize(adaptive.grid)) : variants.length;
  const n = bars.length;
  const { windows, oosBars, isBars } = walkForwardWindows(n, spec);
  const isMin = Math.min(...windows.map((w) => w.isTo - w.isFrom));
  if (oosBars < 2 || isMin < 2)
    throw new AppError(
      'UNPROCESSABLE',
      `${n} bars make out-of-sample windows of ${oosBars} bars and in-sample windows of ${isMin}: ` +
        'a walk-forward needs at least 2 of each; use fewer folds, another out-of-sample share or more history',
    );
  // the warm-up a paper session gets (warmupBars): a cross needs the bar before its first defined value,
  // and smoothing seeded from its first values (EMA, RSI, MACD, ATR) forgets its seed slowly (the strategy
  // check measures how slowly)
  const warm = adaptive
    ? adaptiveWarmup(adaptive, barSecondsOf(bars.ts))
    : Math.max(
        ...variants.map((v) => {
          const plan = v.plan ?? compileGraph(v.graph).plan;
          return plan ? firstTradingBar(plan, barSecondsOf(bars.ts)) : 0;
        }),
      );
  const lookback = warmupBars(warm);
  const warnings: string[] = [];
  if (isBars <= warm)
    warnings.push(
      `the first in-sample window has ${isBars} bars but the slowest combination needs ${warm} to warm up: ` +
        'it cannot trade in the first fold',
    );

  const total = perWindow * (windows.length + 1) + windows.length;
  let done = 0;
  let cancelled = false;
  const tick = () => {
    done++;
    if (onProgress?.(done / total)) cancelled = true;
  };
  const check = () => {
    if (cancelled) throw new WalkForwardCancelled();
  };
  // a small gate: at most `concurrency` backtests in flight, the rest wait their turn in order
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async () => {
    while (running >= Math.max(1, concurrency)) await new Promise<void>((r) => queue.push(r));
    running++;
  };
  const free = () => {
    running--;
    queue.shift()?.();
  };
  /** runs bars [from, to) with up to `lookback` bars before `from` as warm-up */
  const windowRun = async (graph: Graph, from: number, to: number, cash: number, statsOnly: boolean) => {
    await slot();
    try {
      check();
      const start = Math.max(0, from - lookback);
      const r = await run(graph, bars, { from: start, to, statsOnly }, { ...options, cash, tradeFrom: from - start });
      tick();
      return r;
    } finally {
      free();
    }
  };

  // an adaptive search's points, each compiled once for every window that runs it
  const compiled = new Map<string, Variant>();
  const variantOf = (combo: Combo) => {
    const key = comboKey(adaptive!.grid, combo);
    let v = compiled.get(key);
    if (!v) compiled.set(key, (v = comboVariants(adaptive!.graph, [combo])[0]!));
    return v;
  };
  /** bars [from, to) searched: every point run (side by side), or an adaptive search's, one after another */
  const search = async (from: number, to: number): Promise<{ list: readonly Variant[]; stats: Stats[] }> => {
    if (!adaptive)
      return {
        list: variants,
        stats: await Promise.all(
          variants.map((v) => windowRun(v.graph, from, to, options.cash, true).then((r) => r.stats)),
        ),
      };
    const list: Variant[] = [];
    const stats: Stats[] = [];
    const { count, seed, startup = DEFAULT_STARTUP } = adaptive.search;
    const score = async (combo: Combo) => {
      const v = variantOf(combo);
      const r = await windowRun(v.graph, from, to, options.cash, true);
      list.push(v);
      stats.push(r.stats);
      return scoreOf(r.stats, spec.rankBy, spec.minTrades);
    };
    await adaptiveSearch(adaptive.grid, count, seed, score, startup);
    return { list, stats };
  };
  // in sample (every fold) and the full period: all independent, started together
  const isRuns = windows.map((w) => search(w.isFrom, w.isTo));
  const fullRuns = search(0, n);
  // after a cancel or a failure these reject while nothing awaits them: not an unhandled rejection
  for (const p of [...isRuns, fullRuns]) p.catch(() => {});
  const best = (stats: Stats[]) => {
    let at = 0;
    for (let i = 1; i < stats.length; i++)
      if (scoreOf(stats[i], spec.rankBy, spec.minTrades) > scoreOf(stats[at], spec.rankBy, spec.minTrades)) at = i;
    return at;
  };
  /** the pick of a search (spec.pick); `fellBack` when a robust pick found no combination with two neighbours run */
  const pickOf = (list: readonly Variant[], stats: Stats[]): { at: number; fellBack?: boolean } => {
    const top = best(stats);
    if (spec.pick !== 'robust') return { at: top };
    const runs = list.map((v, i) => ({ combo: v.combo, stats: stats[i] }));
    // the grid an adaptive search or a random sample draws from; else the values the points take (a whole grid's own)
    const { robustAt: at } = sweepStanding(runs, adaptive ? adaptive.grid : spec.grid, spec.rankBy, spec.minTrades);
    return at >= 0 ? { at } : { at: top, fellBack: true };
  };

  // out of sample, in order: each window starts with the cash the one before ended with
  const folds: FoldResult[] = [];
  const eqTs: number[] = [];
  const eq: number[] = [];
  const trades: TradeRecord[] = [];
  let cash = options.cash;
  let totalFees = 0;
  for (const [i, w] of windows.entries()) {
    const { list, stats: isStats } = await isRuns[i]!;
    check();
    const { at, fellBack } = pickOf(list, isStats);
    const chosen = list[at]!;
    const oos = await windowRun(chosen.graph, w.oosFrom, w.oosTo, cash, false);
    const offset = eq.length;
    for (let j = 0; j < oos.equity.length; j++) {
      eqTs.push(bars.ts[w.oosFrom + j]!);
      eq.push(oos.equity[j]!);
    }
    for (const t of oos.trades) trades.push({ ...t, entryBar: t.entryBar + offset, exitBar: t.exitBar + offset });
    totalFees += oos.trades.reduce((s, t) => s + t.fees, 0);
    const endEquity = oos.equity[oos.equity.length - 1] ?? cash;
    const isAnn = isStats[at]!.returnAnnPct;
    folds.push({
      fold: i + 1,
      inSample: { from: iso(bars.ts[w.isFrom]!), to: iso(bars.ts[w.isTo - 1]!), bars: w.isTo - w.isFrom },
      outOfSample: { from: iso(bars.ts[w.oosFrom]!), to: iso(bars.ts[w.oosTo - 1]!), bars: w.oosTo - w.oosFrom },
      chosen: chosen.combo,
      inSampleStats: isStats[at]!,
      outOfSampleStats: oos.stats,
      efficiency: isAnn > 0 && Number.isFinite(oos.stats.returnAnnPct) ? oos.stats.returnAnnPct / isAnn : null,
      startEquity: cash,
      endEquity,
      ...(oos.risk ? { limits: limitsRecord(oos.risk) } : {}),
      ...(oos.legs ? { legs: oos.legs } : {}),
      ...(scoreOf(isStats[at], spec.rankBy, spec.minTrades) === -Infinity
        ? {
            note: `no combination had a ${spec.rankBy} in sample${spec.minTrades ? ` with at least ${spec.minTrades} trades` : ''}; the first was taken`,
          }
        : fellBack
          ? { note: 'no combination had two neighbours run in sample: the best was taken, not the most robust' }
          : {}),
    });
    cash = endEquity;
  }
  const { list: fullList, stats: fullStats } = await fullRuns;
  const fullAt = pickOf(fullList, fullStats).at;

  const close = new Float64Array(eq.length);
  for (let j = 0; j < eq.length; j++) close[j] = bars.close[windows[0]!.oosFrom + j]!;
  const stats = computeStats({ equity: eq, time: eqTs, close, trades, totalFees });
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const isMean = mean(folds.map((f) => f.inSampleStats.returnAnnPct));
  const oosMean = mean(folds.map((f) => f.outOfSampleStats.returnAnnPct));
  const counts = new Map<string, { combo: Combo; folds: number }>();
  for (const f of folds) {
    const key = JSON.stringify(f.chosen);
    const c = counts.get(key) ?? { combo: f.chosen, folds: 0 };
    c.folds++;
    counts.set(key, c);
  }
  return {
    folds,
    stats,
    equity: { ts: eqTs, equity: eq },
    trades,
    efficiency: isMean > 0 && Number.isFinite(oosMean) ? oosMean / isMean : null,
    chosen: [...counts.values()].sort((a, b) => b.folds - a.folds),
    fullPeriod: { combo: fullList[fullAt]!.combo, stats: fullStats[fullAt]! },
    lookback,
    warnings,
  };
}
