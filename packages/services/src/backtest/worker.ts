import {
  AppError,
  TOPICS,
  type Candle,
  type JobContext,
  type PortfolioLimits,
  type RiskLimits,
  type Stats,
  type TradeRecord,
} from '@algotrade/core';
import {
  backtestsRepo,
  candlesRepo,
  closedBy,
  INTERVALS,
  symbolsRepo,
  type BacktestRow,
  type Runtime,
} from '@algotrade/adapters';
import {
  alignBars,
  compileGraph,
  comboVariants,
  gridVariants,
  barSecondsOf,
  firstTradingBar,
  PortfolioCancelled,
  runBacktest,
  runPortfolio,
  haltsOutcome,
  portfolioWindows,
  type PortfolioLeg,
  toColumns,
  inlineRunner,
  poolRunner,
  walkForward,
  WalkForwardCancelled,
  type EnginePool,
  type Graph,
  type Combo,
  type ParamGrid,
  limitsRecord,
  scoreOf,
  type RiskOutcome,
  type WalkForwardSpec,
  expandGrid,
  type AdaptiveWindows,
} from '@algotrade/strategy';

import { exchangeOf, type ExchangeSettings, type SymbolRules } from '../http/exchange.ts';
import { otherCandles } from '../strategy/other-candles.ts';
import { adaptiveOf, continueSearch, rankingOf, standingOf } from './adaptive.ts';

export const BACKTEST_QUEUE = 'backtests';

/** a backtest's stored parameters; an exchange's rules (ExchangeSettings) when set */
export interface BacktestParams extends ExchangeSettings {
  from?: string;
  to?: string;
  startingBalance: number;
  feeRate: number;
  feeFixed: number;
  slippageBps: number;
  allowShort: boolean;
  fillOn: 'next_open' | 'close';
  /** margin trading and funding: absent without (core's marginSettings) */
  leverage?: number;
  maintenanceMarginPct?: number;
  fundingRatePct?: number;
  /** a detail timeframe (finer than `interval`): stops and targets checked on its candles */
  detailInterval?: string;
  /** a paper session's risk limits (absent without one) */
  risk?: RiskLimits;
  /** set on a walk-forward: its grid and folds */
  walkForward?: WalkForwardSpec & { grid: ParamGrid };
  /**
   * set on a portfolio backtest: its symbols, their weights (summing to 1), and when given each symbol's lot
   * size and minimum order value (`rules`) and the limits on the summed equity (`risk`)
   */
  portfolio?: { symbols: string[]; weights: number[]; rules?: SymbolRules; risk?: PortfolioLimits };
}

/** JSON-safe statistics: non-finite numbers become null. */
export const cleanStats = (s: object) =>
  JSON.parse(JSON.stringify(s, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));

/**
 * Runs one queued backtest: loads candles, compiles the snapshotted graph, runs the engine with
 * progress (queue, database, `backtest:<id>` channel), stores trades and equity in the object store
 * and the summary in backtest_results. Used in-process and by separate worker processes.
 */
export async function processBacktest(
  rt: Runtime,
  job: JobContext<{ backtestId: string }>,
  pool?: EnginePool,
): Promise<void> {
  const repo = backtestsRepo(rt.db.db);
  const row = await repo.get(job.data.backtestId);
  if (!row || row.status === 'cancelled' || row.status === 'done') return;
  const p = row.parameters as unknown as BacktestParams;
  const publish = async (type: string, data: object) => {
    // a sweep's backtest says so (webhooks tell of the sweep's end instead of each of its backtests)
    const body = {
      backtestId: row.id,
      userId: row.userId,
      // what its user calls it (webhooks say it before the id)
      ...(row.name ? { name: row.name } : {}),
      ...(row.sweepId ? { sweepId: row.sweepId } : {}),
      ...data,
    };
    await rt.bus.publish(TOPICS.realtimeUpdates.name, `backtest:${row.id}`, type, body).catch(() => {});
    // a sweep's page follows all of its backtests on one channel: each one's start and end
    if (row.sweepId && type !== 'backtest.progress')
      await rt.bus
        .publish(TOPICS.realtimeUpdates.name, `sweep:${row.sweepId}`, type, { ...body, sweepId: row.sweepId })
        .catch(() => {});
  };
  try {
    await repo.update(row.id, { status: 'running', startedAt: new Date(), progress: 0 });
    await publish('backtest.progress', { status: 'running', progress: 0 });
    const { plan, report } = compileGraph(row.strategySnapshot);
    if (!plan) throw new AppError('UNPROCESSABLE', `the strategy does not compile: ${report.errors[0]?.message}`);
    const symbols = p.portfolio?.symbols ?? [row.symbol];
    const symbolRows = symbolsRepo(rt.db.db);
    const legs = [];
    for (const symbol of symbols) {
      const candles = await sweepCandles(rt, row, symbol);
      if (candles.length < 2)
        throw new AppError(
          'UNPROCESSABLE',
          `no ${row.interval} candles for ${symbol} in the requested range: import history first (POST /api/market/history/import)`,
        );
      const sym = await symbolRows.get(symbol);
      const rules = p.portfolio?.rules?.[symbol];
      legs.push({
        symbol,
        bars: toColumns(candles),
        wholeUnits: sym?.assetClass === 'stock',
        ...(rules ? { rules } : {}),
      });
    }
    // the other symbols the strategy reads (Other symbol nodes): their candles of the same interval and
    // range, read once and aligned with each leg's bars
    const others = await otherCandles(
      plan.symbols,
      (symbol) => sweepCandles(rt, row, symbol),
      `${row.interval} candles in the requested range`,
    );
    if (others.length) for (const leg of legs) leg.bars.others = others.flatMap((o) => alignBars(leg.bars.ts, o));
    let lastWrite = 0;
    const bars = legs[0]!.bars;
    // a detail timeframe: the finer candles of the same symbol and range, in shared memory like the bars
    let detail: ReturnType<typeof toColumns> | undefined;
    if (p.detailInterval) {
      const fine = await sweepCandles(rt, row, row.symbol, p.detailInterval);
      if (fine.length < 2)
        throw new AppError(
          'UNPROCESSABLE',
          `no ${p.detailInterval} candles for ${row.symbol} in the requested range for the detail timeframe: import them first`,
        );
      detail = toColumns(fine);
    }
    const options = {
      cash: p.startingBalance,
      feeRate: p.feeRate,
      feeFixed: p.feeFixed,
      // an exchange's rules, those set (http/exchange.ts)
      ...exchangeOf(p),
      slippageBps: p.slippageBps,
      allowShort: p.allowShort,
      fillOn: p.fillOn,
      wholeUnits: legs[0]!.wholeUnits,
      // stored as marginSettings keeps them: absent without leverage or funding
      leverage: p.leverage,
      maintenanceMarginPct: p.maintenanceMarginPct,
      fundingRatePct: p.fundingRatePct,
      ...(detail ? { detail } : {}),
      ...(p.risk ? { risk: p.risk } : {}),
    };
    const onProgress = (x: number) => {
      const now = Date.now();
      if (now - lastWrite > 200) {
        lastWrite = now;
        // best effort: a progress write that fails (the queue's Redis away a moment) loses only that report
        job.progress(x).catch(() => {});
        void publish('backtest.progress', { status: 'running', progress: x });
      }
      return job.signal.aborted;
    };
    let res: Outcome | null;
    let summary: object | undefined;
    if (p.walkForward) {
      // over a portfolio: its legs' merged times as the series, each window a portfolio backtest
      const series = p.portfolio ? legs.map((l, i) => ({ ...l, weight: p.portfolio!.weights[i]! })) : bars;
      const wf = await runWalkForward(
        row.strategySnapshot as Graph,
        series,
        options,
        p.walkForward,
        pool,
        onProgress,
        p.portfolio?.risk,
      );
      res = wf && { trades: wf.trades, equity: wf.equity.equity, ts: wf.equity.ts, stats: wf.stats };
      if (wf) {
        const { folds, efficiency, chosen, fullPeriod, lookback, warnings, basket } = wf;
        summary = cleanStats({
          folds,
          efficiency,
          chosen,
          fullPeriod,
          lookback,
          warnings,
          ...(basket ? { basket } : {}),
        });
      }
    } else if (p.portfolio) {
      const { weights, risk } = p.portfolio;
      const pf = await runPortfolioJob(
        row.strategySnapshot,
        plan,
        legs.map((l, i) => ({ ...l, weight: weights[i]! })),
        options,
        pool,
        onProgress,
        risk,
      );
      res = pf && {
        trades: pf.trades,
        equity: pf.equity,
        ts: pf.ts,
        stats: pf.stats,
        // what the limits on the summed equity did, as a single backtest's limits say it
        ...(pf.halts ? { risk: { halts: haltsOutcome(pf.halts, pf.ts), refused: {} } } : {}),
      };
      if (pf) summary = cleanStats({ legs: pf.legs, correlation: pf.correlation, basket: Array.from(pf.basket) });
    } else res = await runOne(row.strategySnapshot, plan, bars, options, pool, onProgress);
    if (!res || job.signal.aborted) {
      await repo.update(row.id, { status: 'cancelled', finishedAt: new Date() });
      await publish('backtest.cancelled', { status: 'cancelled' });
      return;
    }
    const key = artifactKeyOf(row.id);
    await rt.store.put(
      key,
      JSON.stringify({
        trades: res.trades.map((t) => ({
          ...t,
          entryTime: new Date(t.entryTime).toISOString(),
          exitTime: new Date(t.exitTime).toISOString(),
        })),
        equity: { ts: Array.from(res.ts), equity: Array.from(res.equity) },
        ...(summary ? { [p.walkForward ? 'walkForward' : 'portfolio']: summary } : {}),
      }),
      'application/json',
    );
    // what the risk limits did (a single backtest's): when they ended or paused trading, the entries they refused
    const metrics = cleanStats(res.risk ? { ...res.stats, limits: limitsRecord(res.risk) } : res.stats);
    const kept = await repo.update(
      row.id,
      { status: 'done', progress: 1, metrics, artifactKey: key, finishedAt: new Date(), error: null },
      true,
    );
    if (!kept) {
      // deleted (alone or with its sweep) or cancelled while it ran: its results file goes too, and
      // nothing follows from it (no proposals, no announcement)
      await rt.store.delete(key).catch(() => {});
      return;
    }
    // an adaptive sweep's next points, from every result so far, this one's included: proposed once it
    // shows done, so two workers ending the last two of a random start at once cannot each wait for the
    // other (whichever reads second sees both; a number proposed twice is kept once). A sweep left short
    // all the same (a crash just here) goes on at the backtest service's next check (SWEEP_CHECK_MS)
    await continueSearch(rt, row, queueBacktest(rt)).catch(searchFailed(rt, row));
    await job.progress(1);
    await publish('backtest.done', { status: 'done', progress: 1, metrics });
    // best effort, as the progress pushes: the backtest is done whatever becomes of the announcement
    await announceSweepEnd(rt, row).catch(() => {});
  } catch (e) {
    const message = e instanceof AppError ? e.message : `backtest failed: ${(e as Error).message}`;
    // a user error cannot get better on a retry; record it and finish the job
    await repo.update(row.id, { status: 'failed', error: message, finishedAt: new Date() }, true);
    // an adaptive sweep goes on past a failed point (scored last)
    await continueSearch(rt, row, queueBacktest(rt)).catch(searchFailed(rt, row));
    await publish('backtest.failed', { status: 'failed', error: message });
    await announceSweepEnd(rt, row).catch(() => {});
    if (!(e instanceof AppError)) throw e;
  }
}

/**
 * After one of a sweep's backtests has ended: when none of its backtests is left queued or running
 * (and an adaptive search has made all its points), `sweep.done` on the sweep's channel, with how many
 * ended done and failed and the best by the sweep's measure. Two workers ending the last two at once
 * may both send it: the message id is the sweep's, so a webhook delivers it once. A sweep the user
 * stopped (a cancelled backtest) ends without it.
 */
async function announceSweepEnd(rt: Runtime, row: BacktestRow): Promise<void> {
  if (!row.sweepId) return;
  const repo = backtestsRepo(rt.db.db);
  // the counts first (one small query after every backtest); the rows only at the end
  const n = await repo.sweepCounts(row.userId, row.sweepId);
  if (n.cancelled || n.done + n.failed < n.total) return;
  const adaptive = adaptiveOf(row.parameters);
  if (adaptive && n.total < adaptive.count) return;
  const rows = await repo.list(row.userId, { sweepId: row.sweepId, limit: 1_000 });
  const { rankBy, minTrades } = rankingOf(row.parameters);
  const done = rows.filter((r) => r.status === 'done');
  const best = done.reduce<BacktestRow | null>(
    (b, r) => (!b || scoreOf(r.metrics, rankBy, minTrades) > scoreOf(b.metrics, rankBy, minTrades) ? r : b),
    null,
  );
  // and the point best with its neighbours in the grid
  const { plateaus, robustAt } = standingOf(done, rankBy, minTrades);
  const robust = done[robustAt];
  await rt.bus
    .publish(
      TOPICS.realtimeUpdates.name,
      `sweep:${row.sweepId}`,
      'sweep.done',
      {
        sweepId: row.sweepId,
        userId: row.userId,
        // its name as it stands now (renamed while it ran: the rows have the new one)
        ...(rows[0]?.name ? { name: rows[0].name } : {}),
        total: rows.length,
        done: done.length,
        failed: rows.length - done.length,
        rankBy,
        ...(best
          ? { best: { backtestId: best.id, combo: best.parameters.combo, [rankBy]: best.metrics?.[rankBy] ?? null } }
          : {}),
        ...(robust
          ? {
              robust: {
                backtestId: robust.id,
                combo: robust.parameters.combo,
                [rankBy]: robust.metrics?.[rankBy] ?? null,
                withNeighbours: plateaus[robustAt]!.withNeighbours,
                neighbours: plateaus[robustAt]!.neighbours,
              },
            }
          : {}),
      },
      `sweep.done:${row.sweepId}`,
    )
    .catch(() => {});
}

/** An adaptive sweep's proposals that failed: said in the log; the service's stalled-sweep check goes on from there. */
const searchFailed = (rt: Runtime, row: BacktestRow) => (e: Error) =>
  rt.log.warn({ sweepId: row.sweepId, backtestId: row.id, err: e.message }, 'adaptive sweep: proposals failed');

/** Where a backtest's results file (trades, equity, a portfolio's or walk-forward's summary) is stored. */
export const artifactKeyOf = (backtestId: string): string => `backtests/${backtestId}.json`;

/** Queues a backtest row's job (its id is the job's). */
export const queueBacktest = (rt: Runtime) => (backtestId: string) =>
  rt.queue.add(BACKTEST_QUEUE, { backtestId }, { jobId: backtestId });

type Options = Parameters<EnginePool['run']>[2];
interface Outcome {
  trades: TradeRecord[];
  equity: ArrayLike<number>;
  ts: ArrayLike<number>;
  stats: Stats;
  risk?: RiskOutcome;
}

/** Backtests on a worker thread when a pool is given (embedded mode: sweeps use every core), else inline. */
const engineRunner =
  (graph: unknown, plan: NonNullable<ReturnType<typeof compileGraph>['plan']>, pool: EnginePool | undefined) =>
  (bars: ReturnType<typeof toColumns>, options: Options, onProgress: (x: number) => boolean) =>
    pool ? pool.run(graph, bars, options, onProgress) : runBacktest(plan, bars, { ...options, onProgress });

/** One backtest. null when cancelled. */
async function runOne(
  graph: unknown,
  plan: NonNullable<ReturnType<typeof compileGraph>['plan']>,
  bars: ReturnType<typeof toColumns>,
  options: Options,
  pool: EnginePool | undefined,
  onProgress: (x: number) => boolean,
): Promise<Outcome | null> {
  const res = await engineRunner(graph, plan, pool)(bars, options, onProgress);
  if (res.cancelled) return null;
  return {
    trades: res.trades,
    equity: res.equity,
    ts: bars.ts,
    stats: res.stats,
    ...(res.risk ? { risk: res.risk } : {}),
  };
}

/**
 * A walk-forward: its backtests on the pool's threads (embedded) or inline, one at a time, yielding
 * between them so progress and cancellation get through. null when cancelled.
 */
async function runWalkForward(
  graph: Graph,
  /** one symbol's bars, or a portfolio's legs (portfolioWindows) */
  series: ReturnType<typeof toColumns> | PortfolioLeg[],
  options: Options,
  spec: WalkForwardSpec &
    (
      | { grid: ParamGrid; combos?: undefined; search?: undefined }
      | { combos: Combo[]; params?: Parameters<typeof expandGrid>[0]; search?: undefined }
      | { params: Parameters<typeof expandGrid>[0]; search: AdaptiveWindows['search']; combos?: undefined }
    ),
  pool: EnginePool | undefined,
  onProgress: (x: number) => boolean,
  /** a portfolio's limits on its summed equity: each window applies them */
  limits?: PortfolioLimits,
) {
  // an adaptive search in each window; a random search's points as drawn when it was asked for; else the whole grid
  const variants =
    'params' in spec && spec.search
      ? { graph, grid: expandGrid(spec.params), search: spec.search }
      : spec.combos
        ? comboVariants(graph, spec.combos)
        : gridVariants(graph, (spec as { grid: ParamGrid }).grid, Infinity);
  const engine = pool ? poolRunner(pool) : inlineRunner(true);
  const portfolio = Array.isArray(series);
  const { bars, run } = portfolio ? portfolioWindows(series, engine, limits) : { bars: series, run: engine };
  try {
    // a random search's points: a robust pick reads their neighbours from the grid they were drawn from
    const drawnFrom = spec.combos && 'params' in spec && spec.params ? { grid: expandGrid(spec.params) } : {};
    const wf = await walkForward(variants, bars, options, { ...spec, ...drawnFrom }, run, onProgress, pool?.size ?? 1);
    // over a portfolio: the allocation held over the out-of-sample bars, per unit of cash (its report's price)
    const basket = portfolio ? Array.from(bars.close.subarray(bars.length - wf.equity.ts.length)) : undefined;
    return { ...wf, ...(basket ? { basket } : {}) };
  } catch (e) {
    if (e instanceof WalkForwardCancelled) return null;
    throw e;
  } finally {
    for (const b of Array.isArray(series) ? series.map((l) => l.bars) : [series]) pool?.releaseSeries(b);
  }
}

/**
 * A portfolio backtest: its legs on the pool's threads side by side (embedded) or inline one after
 * another, yielding between legs so progress and cancellation get through. null when cancelled.
 */
async function runPortfolioJob(
  graph: unknown,
  plan: NonNullable<ReturnType<typeof compileGraph>['plan']>,
  legs: Parameters<typeof runPortfolio>[0],
  options: Options,
  pool: EnginePool | undefined,
  onProgress: (x: number) => boolean,
  limits?: PortfolioLimits,
) {
  const run = engineRunner(graph, plan, pool);
  try {
    return await runPortfolio(
      legs,
      options,
      async (bars, o, onP) => {
        if (!pool) await new Promise((r) => setImmediate(r));
        return run(bars, o, onP);
      },
      {
        onProgress,
        parallel: pool?.size ?? 1,
        firstTradingBar: (b) => firstTradingBar(plan, barSecondsOf(b.ts)),
        ...(limits ? { limits } : {}),
      },
    );
  } catch (e) {
    if (e instanceof PortfolioCancelled) return null;
    throw e;
  }
}

/**
 * The candles a backtest row runs over (its symbol, or one of a portfolio's, interval and optional
 * from/to), or those of another interval over the same range (a detail timeframe's). A sweep's
 * backtests without a `to` keep the time the sweep was asked for (`asOf`) and read the bars closed by
 * then: the same bars for all of them, however long the sweep runs and on whichever worker, while live
 * candles are built or history imported.
 */
export function candlesOf(rt: Runtime, row: BacktestRow, symbol = row.symbol, interval = row.interval) {
  const p = row.parameters as { from?: string; to?: string; asOf?: string };
  return candlesRepo(rt.db.db).query(
    symbol,
    interval,
    p.from ? new Date(p.from) : undefined,
    p.to ? new Date(p.to) : p.asOf ? new Date(closedBy(Date.parse(p.asOf), interval)) : undefined,
    5_000_000,
  );
}

/** Each runtime's sweeps' candles, by sweep, symbol and interval (see sweepCandles). */
const sweepSets = new WeakMap<Runtime, Map<string, { used: number; candles: Promise<Candle[]> }>>();
/** How long a sweep's candles are kept after a backtest last read them, and how many sets at most. */
const SWEEP_CANDLES_MS = 60_000;
const SWEEP_CANDLE_SETS = 8;

/**
 * candlesOf for a backtest; for one of a sweep's, read from the database once per process for all of
 * the sweep's backtests (the first one's read is shared by those that start while it runs). So every
 * backtest of a sweep runs on the same bars, even while live candles are built or history imported
 * (those wait for the next sweep), and a sweep of 500 points asks the database once, not 500 times.
 * A set is dropped a minute after it was last read, the oldest first past eight sets.
 */
export function sweepCandles(rt: Runtime, row: BacktestRow, symbol = row.symbol, interval = row.interval) {
  if (!row.sweepId) return candlesOf(rt, row, symbol, interval);
  let sets = sweepSets.get(rt);
  if (!sets) sweepSets.set(rt, (sets = new Map()));
  const now = Date.now();
  for (const [k, v] of sets) if (now - v.used > SWEEP_CANDLES_MS) sets.delete(k);
  const key = `${row.sweepId} ${symbol} ${interval}`;
  let set = sets.get(key);
  if (!set) {
    if (sets.size >= SWEEP_CANDLE_SETS) sets.delete(sets.keys().next().value!);
    const candles = candlesOf(rt, row, symbol, interval);
    // a read that failed is not kept: the next backtest asks again
    candles.catch(() => sets.delete(key));
    sets.set(key, (set = { used: now, candles }));
  }
  set.used = now;
  return set.candles;
}

export const intervalOk = (i: string) => i in INTERVALS;
