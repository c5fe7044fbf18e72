import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  AppError,
  applyOutcome,
  assignLedger,
  coolRunAt,
  copyLedger,
  dayOf,
  storedLedger,
  equityOf,
  noteRefusal,
  planOrder,
  settleFunding,
  fundingPct,
  paysFunding,
  LIQUIDATION,
  liquidationPrice,
  type PaperConfig,
  TOPICS,
  type Envelope,
  type LedgerState,
  type OrderOutcome,
  type OrderRequest,
  type OrderSizing,
  type PortfolioLimits,
  type RiskLimits,
  type Subscription,
  type Tick,
} from '@algotrade/core';
import {
  candlesRepo,
  forwardTestsRepo,
  INTERVALS,
  LedgerLog,
  StaleLedgerError,
  type EquityPoint,
  type Execution,
  type Runtime,
  type SessionRow,
  type SessionStatus,
} from '@algotrade/adapters';
import { CompileCache, warmupBars, type Graph } from '@algotrade/strategy';
import type { Metrics } from '../http/metrics.ts';
import { readTicks } from '../market-data/tick-message.ts';
import type { RunnerLauncher } from './launcher.ts';
import { RunnerPool, type FiredAction } from './runner-pool.ts';
import { otherWindows, OtherSymbolBars, warmedWithOthers } from './other-symbols.ts';
import { cohortKey, EvaluatorCohorts, SharedEvaluator } from './cohorts.ts';
import {
  bracketCloses,
  bracketProblem,
  MAX_OPEN_ORDERS,
  openOrderFill,
  openOrderView,
  readOpenOrders,
  type Bracket,
  type OpenOrder,
  amendOpenOrder,
  hasBracket,
  keepTrails,
  stopTriggersNow,
  trailLevel,
  trailOn,
  type OpenOrderAmend,
} from './open-orders.ts';
import { LiveSession, readSignal, sessionEvaluator, type SessionSettings, type SignalMessage } from './live-session.ts';

export interface EngineOptions {
  /** how often equity points go to chart_data and ledgers' marks to the database (ms) */
  equityIntervalMs?: number;
  /** consumer group on market-data-updates and strategy-signals (instances of one group share sessions) */
  group?: string;
  /**
   * where strategies run: this thread (default), a pool of worker threads, or their own processes
   * (`external`: `algotrade runner --session <id>` started by someone else; `kubernetes`: one Job per
   * session, started and stopped by `launcher`)
   */
  runner?: 'inline' | 'pool' | 'external' | 'kubernetes';
  /** starts and stops remote runners (external, kubernetes) */
  launcher?: RunnerLauncher;
  /**
   * Several instances in one consumer group (Kafka): each runs the sessions of the symbols whose
   * partitions it holds. A symbol whose ticks start arriving after this long without any (a partition
   * that moved here from an instance that died or left) has its running sessions reloaded from the
   * database first. Undefined: one instance holds every session (the embedded default).
   */
  handoverMs?: number;
  /** worker threads of the pool (default: every core) */
  threads?: number;
  /**
   * Group commits running at once, each on its own sessions (a session always commits in the same
   * lane, so its orders stay in order). Default FT_COMMIT_LANES, else 2 on PostgreSQL (its backends
   * work in parallel), 1 on PGlite (one connection).
   */
  commitLanes?: number;
  /**
   * Worker-thread pool only: a group commit first waits for the pool's batches in flight, up to this
   * long (ms) after its oldest signal's tick arrived (0 commits at once). Default FT_POOL_HOLD_MS, else
   * 15 on PostgreSQL, 0 on PGlite (whose commits run on the engine's own thread, so waiting frees no
   * core). See `siblings`.
   */
  poolHoldMs?: number;
  /** sessions per statement when equity points and ledgers are flushed (default 250) */
  flushChunk?: number;
  /** how many recent tick-to-fill latencies `latencies` keeps (default 200,000; benchmarks keep a run's) */
  keepLatencies?: number;
}

const now = () => performance.timeOrigin + performance.now();
/** appends to a window of recent values, dropping the older half once it holds `max` */
const keepRecent = (xs: number[], x: number, max: number) => {
  xs.push(x);
  if (xs.length > max) xs.splice(0, max / 2);
};
/** ledgers' marks (peak, drawdown, exposure) are saved every this many equity flushes; fills save at once */
const STATE_EVERY = 6;
/**
 * Sessions are flushed in this many slots, one slot every equityIntervalMs / FLUSH_SLOTS: each session
 * still gets a point every interval, but the database takes a tenth of them at a time instead of one
 * statement for every session, which held up the group commits behind it.
 */
const FLUSH_SLOTS = 10;
/** within numeric(38,8), chart_data's money columns (10^30), with room to spare */
const storableMoney = (x: number) => Number.isFinite(x) && Math.abs(x) < 1e29;
/** how long a timer flush waits at most for the commits in flight to finish (see afterCommits) */
const FLUSH_WAIT_MS = 100;
/** a session's orders by hand resting, when none rests (one array for every push) */
const NO_ORDERS_VIEW: readonly ReturnType<typeof openOrderView>[] = Object.freeze([]);
/** the `source` of the orders placed by hand: a close of the whole position, and any other */
const MANUAL_CLOSE = 'manual_close';
const MANUAL = 'manual';
/**
 * An order by hand's action and size as a signal carries them: a buy or sell in the open position's
 * direction adds to it (one entry more than it has, without the strategy's step).
 */
function manualSized(
  l: LedgerState,
  action: 'buy' | 'sell' | 'close',
  o: Pick<ManualOrder, 'sizing' | 'amount' | 'percent'>,
): Pick<SignalMessage, 'action' | 'sizing' | 'amount' | 'percent' | 'maxEntries'> {
  const adds = action !== 'close' && l.qty !== 0 && Math.sign(l.qty) === (action === 'buy' ? 1 : -1);
  return {
    action,
    sizing: o.sizing,
    amount: o.amount,
    ...(o.percent !== undefined ? { percent: o.percent } : {}),
    ...(adds ? { maxEntries: Math.max(1, l.entries) + 1 } : {}),
  };
}

/** an order by hand's signal id: the same clientOrderId gives the same id, so it is executed once */
const manualSignalId = (sessionId: string, key: string) => `${sessionId}:manual:${key}`;
/** the reason a session's own daily loss limit pauses it with (setLocalStatus) */
const DAILY_LOSS_PAUSE = 'risk limit: max_daily_loss';
/** how the reason a paper portfolio's daily loss limit pauses its sessions with begins */
const PORTFOLIO_DAILY_LOSS_PAUSE = 'portfolio risk limit: max_daily_loss';
/** why a session paused by a daily loss limit trades again, on its timeline */
export const NEW_DAY_RESUME = 'a new UTC day: resumed after the daily loss pause (resumeNextDay)';
/**
 * Whether a session paused for `reason` resumes with the next UTC day: its own daily loss limit's pause
 * with its risk's resumeNextDay, or its paper portfolio's with the portfolio's.
 */
const resumesNextDay = (settings: SessionSettings, reason: string | null | undefined): boolean =>
  reason === DAILY_LOSS_PAUSE
    ? !!settings.risk?.resumeNextDay
    : !!reason?.startsWith(PORTFOLIO_DAILY_LOSS_PAUSE) &&
      !!(settings as { portfolio?: { risk?: { resumeNextDay?: boolean } } }).portfolio?.risk?.resumeNextDay;

export const settingsOf = (config: Record<string, unknown>): SessionSettings => config as unknown as SessionSettings;

/**
 * A level `dist` from the average entry of the open position in `l` (a rule at a distance), against it
 * (`way` -1: a stop) or in its favour (1: a target); NaN without one.
 */
const levelOf = (l: LedgerState, dist: number, way: 1 | -1): number =>
  dist ? l.avgPrice + Math.sign(l.qty) * way * dist : NaN;
const orNull = (x: number): number | null => (x === x ? x : null);

/**
 * What a ledger shows at a price: the figures of a session's view (`GET /api/forward-tests/:id`) and of
 * its portfolio pushes, alike for a running session and a stored one.
 */
export function ledgerFigures(
  s: { id: string; userId: string; symbol: string; status: SessionStatus },
  l: LedgerState,
  settings: Pick<PaperConfig, 'startingBalance' | 'leverage' | 'maintenanceMarginPct' | 'fundingRatePct'>,
  price: number,
  /** the running session, when the engine holds it: its resting order and its stop and target now */
  live?: LiveSession,
) {
  const { startingBalance } = settings;
  const symbol = s.symbol;
  // with leverage, the price at which the position is liquidated (null without)
  const liq = l.qty ? liquidationPrice(l.qty, l.avgPrice, settings.leverage, settings.maintenanceMarginPct) : NaN;
  const equity = equityOf(l, price);
  // one object literal: a portfolio push is built for every fill
  return {
    sessionId: s.id,
    userId: s.userId,
    symbol,
    status: s.status,
    startingBalance,
    cash: l.cash,
    balance: startingBalance + l.realizedPnl - l.fees - l.funding,
    equity,
    position: l.qty
      ? {
          symbol,
          quantity: l.qty,
          avgPrice: l.avgPrice,
          marketPrice: price,
          marketValue: l.qty * price,
          unrealizedPnl: l.qty * (price - l.avgPrice),
          liquidationPrice: liq === liq ? liq : null,
          /** the fills that opened and added to it (its avgPrice is theirs) */
          entries: Math.max(1, l.entries),
          /** where its stop loss and take profit are (the ledger's distances alone for a stored session) */
          stopLoss: orNull(live ? live.stopLevel() : levelOf(l, l.stopDist, -1)),
          takeProfit: orNull(live ? live.targetLevel() : l.targetTaken ? NaN : levelOf(l, l.targetDist, 1)),
          /** the partial take profits it has taken: a take profit's share (1), a ladder's steps so far */
          targetsTaken: l.targetTaken,
          /** its trailing stop, once active (the engine's session alone knows the best price since entry) */
          trailingStop: live ? orNull(live.trailLevel()) : null,
        }
      : null,
    realizedPnl: l.realizedPnl,
    unrealizedPnl: l.qty ? l.qty * (price - l.avgPrice) : 0,
    fees: l.fees,
    /** perpetual futures' funding paid (negative: received) */
    funding: l.funding,
    restingOrder: live ? live.restingOrder() : null,
    /** its orders by hand resting, as the engine holding it has them (where a trailing stop has got to) */
    openOrders: live?.openOrders.length ? live.openOrders.map(openOrderView) : NO_ORDERS_VIEW,
    /** a Cooldown node's: no new position before this time (null: none at the session's last tick) */
    cooldownUntil: l.cooldownUntil > l.lastTs ? new Date(l.cooldownUntil).toISOString() : null,
    /**
     * the exits so far toward a Cooldown node's `count`: in a row, or with its window, those within it at
     * the last tick (at the last of them for a stored session)
     */
    cooldownRun: live ? coolRunAt(live.plan.risk.cooldown, l, l.lastTs) : l.coolStreak,
    /** what the strategy warmed on when it last started or resumed here (null: elsewhere, or not running) */
    warmedOn: live?.warmedOn ?? null,
    pnl: equity - startingBalance,
    returnPct: ((equity - startingBalance) / startingBalance) * 100,
    maxDrawdownPct: l.maxDrawdownPct,
    trades: l.fills,
    closedTrades: l.closedTrades,
    winRatePct: l.closedTrades ? (l.wins / l.closedTrades) * 100 : null,
    exposurePct: l.lastTs > l.firstTs ? (l.exposureMs / (l.lastTs - l.firstTs)) * 100 : 0,
    updatedAt: l.lastTs ? new Date(l.lastTs).toISOString() : null,
  };
}

/** The live session of a stored row, its strategy compiled (`evaluator` absent when another thread or process evaluates it). */
export function sessionFromRow(row: SessionRow, cache: CompileCache, evaluate: boolean): LiveSession {
  const compiled = cache.compile((row.strategySnapshot as { graph: Graph }).graph);
  if (!compiled.plan) throw new Error(`the strategy snapshot does not compile: ${compiled.report.errors[0]?.message}`);
  const settings = settingsOf(row.config);
  const s = new LiveSession(
    row.id,
    row.userId,
    row.symbol,
    settings,
    compiled.plan,
    evaluate ? sessionEvaluator(compiled.plan, settings.evaluation) : undefined,
    storedLedger(settings, row.state),
    row.status,
  );
  s.cohort = cohortKey(compiled.hash, row.id, row.symbol, settings.evaluation, compiled.plan);
  // a limit or stop order that was resting when its engine stopped rests again (it lapses on its own time)
  if (row.resting) s.restoreResting(row.resting);
  return s;
}

/**
 * The symbol's recent ticks, oldest first, to warm a strategy on without trading (none if the window
 * fails). A strategy evaluated on candles, or reading higher timeframes, needs more time than a window
 * holds (an SMA(30) of hourly candles: 30 hours; a daily SMA(20): 20 days): it is warmed first on the
 * stored candles before the window's oldest tick (storedWarmup).
 */
export async function warmupTicks(rt: Runtime, s: Warmable): Promise<Tick[]> {
  return (await warmup(rt, s)).ticks;
}

/** What a strategy was warmed on: stored candles (each fed as four ticks) and the window's ticks after them. */
export interface WarmedOn {
  storedCandles: number;
  windowTicks: number;
}

/** warmupTicks, and how many stored candles and window ticks they are. */
export async function warmup(rt: Runtime, s: Warmable): Promise<WarmedOn & { ticks: Tick[] }> {
  let recent: Tick[];
  try {
    recent = (await rt.windows.latest(s.symbol, Math.min(1000, warmupBars(s.plan.warmup)))).reverse();
  } catch (e) {
    rt.log.warn({ err: e, session: s.id }, 'warm-up from the window failed; warming on live ticks');
    return { ticks: [], storedCandles: 0, windowTicks: 0 };
  }
  const windowOnly = { ticks: recent, storedCandles: 0, windowTicks: recent.length };
  if (!s.plan.warmupSeconds && s.settings.evaluation.mode !== 'candle') return windowOnly;
  try {
    const stored = await storedWarmup(rt, s, recent[0]?.ts ?? Date.now());
    return { ticks: [...stored, ...recent], storedCandles: stored.length / 4, windowTicks: recent.length };
  } catch (e) {
    rt.log.warn({ err: e, session: s.id }, 'warm-up from stored candles failed; higher timeframes warm on live ticks');
    return windowOnly;
  }
}

/** What a warm-up needs to know: a paper session, or a strategy alert. */
export type Warmable = Pick<LiveSession, 'id' | 'symbol' | 'plan'> & {
  settings: { evaluation: SessionSettings['evaluation'] };
};

/** Stored candles read for a warm-up, at most (a weekly SMA(50) on minute bars: 504,000 minutes). */
const MAX_WARMUP_CANDLES = 600_000;

/**
 * The stored candles (closed ones, at the session's candle interval, else 1 minute) that end by `before`
 * and cover the plan's warm-up, as ticks: open, high, low and close in that order within the candle's
 * first milliseconds, the volume on the close. A candle builder and a higher timeframe rebuild the same
 * candle from them. A candle session's own bars: warmupBars of them, as many as are stored.
 */
async function storedWarmup(rt: Runtime, s: Warmable, before: number): Promise<Tick[]> {
  const ev = s.settings.evaluation;
  const ms = ev.mode === 'candle' ? ev.intervalMs : INTERVALS['1m']!;
  const interval = Object.keys(INTERVALS).find((k) => INTERVALS[k] === ms);
  if (!interval) return [];
  const end = Math.floor(before / ms) * ms;
  const longest = Math.max(0, ...s.plan.timeframes.map((t) => t.seconds));
  const own = ev.mode === 'candle' ? warmupBars(s.plan.warmup) : s.plan.warmup + 1;
  // the higher timeframes' warm-up, a partly covered first bucket of the longest, and the strategy's own bars
  const from = end - (s.plan.warmupSeconds + longest) * 1000 - own * ms;
  const repo = candlesRepo(rt.db.db);
  const candles = s.plan.timeframes.length
    ? await repo.query(s.symbol, interval, new Date(from), new Date(end - ms), MAX_WARMUP_CANDLES)
    : // a candle session's own bars alone: the newest `own` stored, counted in bars (markets close at night)
      await repo.query(s.symbol, interval, undefined, new Date(end - ms), own);
  const ticks: Tick[] = [];
  for (const c of candles) {
    if (c.ts + ms > end) break;
    ticks.push({ symbol: s.symbol, ts: c.ts, price: c.open, size: 0 });
    ticks.push({ symbol: s.symbol, ts: c.ts + 1, price: c.high, size: 0 });
    ticks.push({ symbol: s.symbol, ts: c.ts + 2, price: c.low, size: 0 });
    ticks.push({ symbol: s.symbol, ts: c.ts + 3, price: c.close, size: c.volume });
  }
  return ticks;
}

/**
 * Runs forward-test sessions in this process. Runner side: ticks from `market-data-updates` go to every
 * running session on that symbol; a session's strategy decides, and its signal is published on
 * `strategy-signals` (keyed by session). Execution side: signals are consumed (per session, in order),
 * filled on paper at the current quote, and the order, trade, position and ledger are written in one
 * transaction keyed by the signal id, so a redelivered signal is applied once. Then `trade-executions`,
 * `portfolio-updates` and `forward-test-events` go out. State lives in the database: after a crash the
 * running sessions are loaded again and carry on.
 */
type QueuedSignal = { s: LiveSession; sig: SignalMessage; done?: (e?: Error) => void };
/** One signal of a batch as planned and executed: its order's outcome (absent: refused before planning). */
type Planned = { s: LiveSession; sig: SignalMessage; e: Execution; out?: OrderOutcome; opened?: boolean };

/**
 * An order placed by hand on a paper session (freqtrade's `forceenter` and partial `forceexit`): at the
 * market now, through the same execution as the strategy's own orders. `clientOrderId` makes it
 * idempotent: the same id again answers the order it placed instead of placing another.
 */
export interface ManualOrder {
  action: 'buy' | 'sell' | 'close';
  sizing: OrderSizing;
  amount: number;
  /** close: the share of the position to close, % (absent: all) */
  percent?: number;
  clientOrderId?: string;
  /** a buy or sell's bracket: the close stop and close limit placed against its position once it fills */
  bracket?: Bracket;
}

/** A limit or stop order placed by hand: a ManualOrder's fields, its type and price, and how long it rests. */
export interface RestingManualOrder extends ManualOrder {
  type: 'limit' | 'stop' | 'trailing_stop';
  /** a limit's or stop's price (a trailing stop's follows from `trailPercent` and the price now) */
  price?: number;
  /** a trailing stop's distance from the best price since placed, % */
  trailPercent?: number;
  /** market minutes it rests before it lapses (absent: until it fills or is cancelled) */
  validMinutes?: number;
  /** one-cancels-the-other: its group (once one of it triggers, the others resting in it are cancelled) */
  ocoGroup?: string;
}

/**
 * A limit or stop order by hand placed: the order resting (`open`), or, for a clientOrderId whose order
 * has filled already, that order's signal id (its row in the order log says what it did).
 */
export type RestingOutcome = { open: OpenOrder; replayed: boolean } | { signalId: string; replayed: true };

/**
 * A manual order placed: its signal id (its row in the order log says what it did), a refusal's code, and
 * whether it was placed before (the same clientOrderId).
 */
export interface ManualOutcome {
  signalId: string;
  /** a refusal's code (INSUFFICIENT_CASH, SHORTS_NOT_ALLOWED, RATE_LIMIT, ...), on the first answer */
  code?: string;
  replayed: boolean;
}

export class ForwardTestEngine {
  readonly sessions = new Map<string, LiveSession>();
  private readonly bySymbol = new Map<string, LiveSession[]>();
  private readonly quotes = new Map<string, Tick>();
  /** the latest bars of the symbols that strategies read besides their own (Other symbol nodes) */
  readonly otherBars = new OtherSymbolBars();
  private readonly subs: Subscription[] = [];
  private readonly repo;
  private timer?: NodeJS.Timeout;
  private lastFlush = new Map<string, number>();
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly pool?: RunnerPool;
  /** strategies run in runner processes; this engine marks ledgers, enforces risk and executes */
  /** the sessions' strategies run in runner processes of their own (they save their resting orders) */
  readonly remote: boolean;
  private readonly startedAt = Date.now();
  /** when each symbol's ticks last reached this instance (handover detection) */
  private readonly symbolSeen = new Map<string, number>();
  /** per symbol, the pool batch in flight (batches of one symbol apply in order) */
  private readonly poolChain = new Map<string, Promise<void>>();
  /** the pool's batches not stepped yet (see `siblings`) */
  private readonly poolInFlight = new Set<{ stepped: Promise<void> }>();
  private readonly poolHoldMs: number;
  private readonly flushChunk: number;
  /** in-process runner: sessions with the same strategy, symbol, evaluation and warm-up share an evaluator */
  readonly cohorts = new EvaluatorCohorts();
  private flushes = 0;
  private loads = 0;
  /** signals waiting for their commit lane (a session always commits on its own lane, in order) */
  private readonly laneQueues: QueuedSignal[][] = [];
  /** working ledgers of finished batches, reused by the next (LiveSession.work) */
  private readonly spareLedgers: LedgerState[] = [];
  private readonly laneDraining: boolean[] = [];
  /** flushes waiting for the commit lanes and the pool to go quiet (see afterCommits) */
  private readonly idleWaiters: (() => void)[] = [];
  /** lifecycle changes (exclusive) wait for the lanes' commits in flight (shared), and hold new ones back */
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  private readonly sharedInFlight = new Set<Promise<unknown>>();
  /** `locked` sections waiting for the lanes' commits in flight (lanes then stop taking new batches) */
  private exclusiveWaiting = 0;
  /** marks signals this process executes itself (the bus copy is then skipped by its own consumer) */
  readonly instanceId = randomUUID();
  readonly cache: CompileCache;
  /** tick-to-fill latencies (ms) of recent fills, for benchmarks */
  readonly latencies: number[] = [];
  /** durations (ms) of recent group commits */
  readonly commits: number[] = [];
  private readonly commitLanes: number;
  stats = {
    ticks: 0,
    signals: 0,
    fills: 0,
    refused: 0,
    duplicates: 0,
    staleRetries: 0,
    takeovers: 0,
    /** strategy-signals messages skipped as malformed */
    malformed: 0,
  };

  constructor(
    private readonly rt: Runtime,
    private readonly metrics?: Metrics,
    cache?: CompileCache,
    private readonly opts: EngineOptions = {},
  ) {
    this.repo = forwardTestsRepo(rt.db.db, { withConnection: rt.db.withConnection });
    if (opts.runner === 'pool') this.pool = new RunnerPool(opts.threads);
    this.remote = opts.runner === 'external' || opts.runner === 'kubernetes';
    this.cache = cache ?? new CompileCache();
    // an option given here, else the configuration's (FT_COMMIT_LANES, FT_POOL_HOLD_MS), else the backend's default
    const configured = rt.config.forwardTest;
    this.commitLanes = Math.max(
      1,
      opts.commitLanes ?? configured.commitLanes ?? (rt.db.backend === 'postgres' ? 2 : 1),
    );
    this.poolHoldMs = opts.poolHoldMs ?? configured.poolHoldMs ?? (rt.db.backend === 'postgres' ? 15 : 0);
    this.flushChunk = Math.max(1, opts.flushChunk ?? 250);
    // the embedded database's order journal: this engine's group commits go to it while it is the only
    // engine writing orders (db/order-journal.ts); its chunks are copied in at the engine's quiet moments
    rt.db.orderJournal?.claim(this, () => this.afterCommits(FLUSH_WAIT_MS));
  }

  async start(): Promise<void> {
    const group = this.opts.group ?? 'forward-test';
    await this.pool?.ready;
    this.subs.push(
      await this.rt.bus.subscribe(TOPICS.marketDataUpdates.name, { group: `${group}-runner` }, (m) => this.onTicks(m)),
      // no bus-level de-duplication: a signal is applied once by its (session, signal) key in the
      // database, and the group would otherwise hold the last 100,000 signal ids on the heap
      await this.rt.bus.subscribe<SignalMessage>(
        TOPICS.strategySignals.name,
        { group: `${group}-execution`, dedupe: false },
        // this instance's own signals were executed on the local fast path: skipped without a promise;
        // others are checked first (a malformed one is counted and skipped: retrying cannot mend it)
        (m) => {
          if (m.data?.origin === this.instanceId) return undefined;
          const r = readSignal(m.data);
          if (r.ok) return this.onSignal(r.sig);
          this.stats.malformed++;
          this.metrics?.malformed.inc({ source: TOPICS.strategySignals.name });
          this.rt.log.warn({ reason: r.reason, id: m.id }, 'malformed strategy-signals message skipped');
          return undefined;
        },
      ),
    );
    if (this.opts.handoverMs !== undefined)
      // every instance hears every lifecycle change (its own group): a session started, paused or
      // stopped through another instance is picked up or dropped here when its symbol runs here
      this.subs.push(
        await this.rt.bus.subscribe<{
          sessionId: string;
          instance?: string;
          risk?: RiskLimits;
          portfolioRisk?: PortfolioLimits | null;
          openOrders?: number;
        }>(TOPICS.forwardTestEvents.name, { group: `${group}-control-${this.instanceId}` }, (m) =>
          this.onControl(m.type, m.data),
        ),
      );
    for (const row of await this.repo.running()) {
      try {
        await this.load(row);
      } catch (e) {
        await this.repo.setStatus(row.id, 'failed', { reason: `could not resume: ${(e as Error).message}` });
      }
    }
    // the sessions a new day resumes, paused before a restart
    for (const row of await this.repo.pausedBy([DAILY_LOSS_PAUSE, PORTFOLIO_DAILY_LOSS_PAUSE]))
      if (resumesNextDay(settingsOf(row.config), row.failureReason))
        try {
          this.dayPause(await this.load(row), true);
        } catch (e) {
          this.rt.log.error({ err: e, session: row.id }, 'a paused session could not be loaded');
        }
    const every = this.opts.equityIntervalMs ?? 5000;
    this.timer = setInterval(() => void this.flushNextSlot(), Math.max(1, every / FLUSH_SLOTS));
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs) await s.close();
    await this.locked(async () => undefined);
    await this.flush({ ledgers: 'all' }); // the last flush covers every session and saves every ledger
    await this.restSaves;
    await this.pool?.close();
    this.rt.db.orderJournal?.release(this);
  }

  /**
   * Sessions paused by their daily loss limit that resume with the next UTC day (risk.resumeNextDay), by
   * symbol: the first tick of a later day than the ledger's last mark resumes them.
   */
  private readonly dayPaused = new Map<string, Set<LiveSession>>();

  /** Keeps `s` among the sessions a new day resumes (`on`), or drops it. */
  private dayPause(s: LiveSession, on: boolean): void {
    const set = this.dayPaused.get(s.symbol);
    if (on) {
      if (set) set.add(s);
      else this.dayPaused.set(s.symbol, new Set([s]));
    } else if (set?.delete(s) && !set.size) this.dayPaused.delete(s.symbol);
  }

  /** A tick of `symbol` at `ts`: the sessions it finds in a later UTC day than their pause resume. */
  private newDay(symbol: string, ts: number): void {
    const set = this.dayPaused.get(symbol);
    if (!set) return;
    const day = dayOf(ts);
    for (const s of set)
      if (day > s.ledger.day) {
        this.dayPause(s, false);
        void this.resumeNewDay(s, ts);
      }
  }

  /** Resumes a session its daily loss limit paused, as the user's resume would (unless it moved on meanwhile). */
  private async resumeNewDay(s: LiveSession, ts: number): Promise<void> {
    try {
      const row = await this.repo.get(s.id);
      if (row?.status === 'paused' && resumesNextDay(settingsOf(row.config), row.failureReason))
        await this.transition(row, 'running', { source: 'new_day', reason: NEW_DAY_RESUME }, ts);
    } catch (e) {
      this.rt.log.error({ err: e, session: s.id }, 'resuming a session on a new day failed');
    }
  }

  /** sessions whose resting order changed since the last save of them, and the saves in order */
  private readonly restDirty = new Set<LiveSession>();
  private restSaves: Promise<void> = Promise.resolve();
  /**
   * A session's resting limit or stop order was placed, replaced, filled or lapsed: saved to its row right
   * after the tick's work (one statement for every session changed on it), so a restart finds it resting.
   */
  private readonly restingChanged = (s: LiveSession): void => {
    if (this.restDirty.size === 0)
      setImmediate(() => {
        const items = [...this.restDirty].map((x) => ({ id: x.id, resting: x.restingState() }));
        this.restDirty.clear();
        // in order: a later save never lands before an earlier one
        this.restSaves = this.restSaves.then(() =>
          this.repo.saveResting(items).catch((e) => {
            if (!this.closed) this.rt.log.warn({ err: e, sessions: items.length }, 'saving resting orders failed');
          }),
        );
      });
    this.restDirty.add(s);
  };

  /** Builds the live session from its row (new start, resume, or restart after a crash). */
  async load(row: SessionRow): Promise<LiveSession> {
    const existing = this.sessions.get(row.id);
    if (existing) return existing;
    // the in-process runner's evaluator comes from a cohort when the session is activated
    const s = sessionFromRow(row, this.cache, false);
    s.onRestChange = this.restingChanged;
    s.openOrders = readOpenOrders(row.openOrders);
    // by the id's last hex digits: spread evenly whatever order sessions load in
    s.lane = parseInt(row.id.slice(-4), 16) % this.commitLanes;
    s.flushSlot = this.loads++ % FLUSH_SLOTS;
    // the pool compiles the graph in its thread; the in-process runner needs only the compiled plan
    if (this.pool) s.graph = (row.strategySnapshot as { graph: Graph }).graph;
    this.sessions.set(row.id, s);
    if (row.status === 'running') await this.activate(s);
    return s;
  }

  private async activate(s: LiveSession): Promise<void> {
    if (this.remote) {
      // the strategy, risk limits and risk nodes run in the session's runner process (in tick order,
      // as in-process); this engine marks the ledger on every tick and executes the runner's signals
      this.launcher(s);
    } else {
      // warm the strategy on the symbol's recent ticks: at start, after a restart, and on resume (a
      // paused session saw no ticks: it starts again from the market as it is now, as a runner process does)
      const warmed = await warmup(this.rt, s);
      const recent = warmed.ticks;
      s.warmedOn = { storedCandles: warmed.storedCandles, windowTicks: warmed.windowTicks };
      if (this.pool && this.pooled(s)) {
        // a strategy reading other symbols warms on their windows too, and its thread gets their ticks
        const others = s.plan.symbols.length
          ? { symbols: s.plan.symbols, windows: await otherWindows(this.rt, s.plan.symbols) }
          : undefined;
        this.pool.add(s.id, s.symbol, s.graph, s.settings.evaluation, recent, others);
        s.graph = undefined; // the thread keeps it (a pause keeps the session there)
      } else if (!s.evaluator && s.plan.symbols.length) {
        // a strategy reading other symbols has an evaluator of its own, which reads the engine's ticks of them
        this.otherBars.watch(s.plan.symbols, s.settings.evaluation);
        const windows = await otherWindows(this.rt, s.plan.symbols);
        s.evaluator = warmedWithOthers(s.plan, s.settings.evaluation, recent, windows, this.otherBars);
      } else if (!s.evaluator) s.evaluator = this.cohorts.joinPlan(s.cohort, recent, s.plan, s.settings.evaluation);
    }
    const list = this.bySymbol.get(s.symbol) ?? [];
    if (!list.includes(s)) list.push(s);
    this.bySymbol.set(s.symbol, list);
    this.metrics?.activeSessions.set(this.activeCount());
  }

  /**
   * Whether a runner thread evaluates the session's strategy: with the pool, except a strategy reading its
   * own position, which this thread evaluates on each tick after its mark (the ledger lives here).
   */
  private pooled(s: LiveSession): boolean {
    return !!this.pool && !s.plan.positionSlots.length;
  }

  /** Drops a session this instance holds (another instance runs it now; its runner, if any, keeps going). */
  private forget(s: LiveSession): void {
    this.deactivate(s, false);
    this.untrack(s);
  }

  /** Lets go of what this engine keeps of a session it no longer runs (stopped, failed, removed, moved). */
  private untrack(s: LiveSession): void {
    this.sessions.delete(s.id);
    if (this.bracketed.size) for (const [k, v] of this.bracketed) if (v.s === s) this.bracketed.delete(k);
    this.remoteResting.delete(s.id);
    this.pool?.remove(s.id, s.symbol);
    // its trailing stops by hand as far as they moved here, for whoever runs it next
    if (this.trailsMoved.has(s)) void this.saveTrails([s]);
  }

  /** Starts the session's remote runner; a session whose runner cannot start fails with the reason. */
  private launcher(s: LiveSession): void {
    this.opts.launcher?.start(s).catch((e: unknown) => {
      this.rt.log.error({ err: e, session: s.id }, 'starting the strategy runner failed');
      setTimeout(() => void this.fail(s, `its strategy runner could not start: ${(e as Error).message}`), 0);
    });
  }

  private deactivate(s: LiveSession, stopRunner = true): void {
    this.pool?.setActive(s.id, false);
    // it sees no more ticks: it leaves its cohort (a resume warms it again)
    if (s.evaluator instanceof SharedEvaluator) this.cohorts.leave(s.cohort, s.evaluator);
    else if (s.evaluator && s.plan.symbols.length) this.otherBars.unwatch(s.plan.symbols);
    s.evaluator = undefined;
    if (this.remote && stopRunner)
      this.opts.launcher
        ?.stop(s.id)
        .catch((e: unknown) => this.rt.log.error({ err: e, session: s.id }, 'stopping the strategy runner failed'));
    const list = this.bySymbol.get(s.symbol);
    if (list) {
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (!list.length) this.bySymbol.delete(s.symbol);
    }
    this.metrics?.activeSessions.set(this.activeCount());
  }

  activeCount(): number {
    let n = 0;
    for (const l of this.bySymbol.values()) n += l.length;
    return n;
  }

  /** V8 heap of the runner threads (0 with the in-process runner). */
  async runnerHeapUsed(): Promise<number> {
    return (await this.pool?.heapUsed()) ?? 0;
  }

  quote(symbol: string): Tick | undefined {
    return this.quotes.get(symbol);
  }

  // ---- runner side ----

  private async onTicks(m: Envelope): Promise<void> {
    const r = readTicks(m.data);
    if (!r.ok) return; // the market-data service counts malformed messages
    const at = Date.now();
    const seen = this.symbolSeen.get(r.symbol) ?? this.startedAt;
    this.symbolSeen.set(r.symbol, at);
    // ticks of one symbol arrive in order, one message at a time: later ones wait for the reload
    if (this.opts.handoverMs !== undefined && at - seen > this.opts.handoverMs) await this.takeOver(r.symbol);
    this.dispatch(r.symbol, r.ticks);
  }

  /**
   * This instance now receives a symbol's ticks after a gap (its partition moved here): whatever it
   * holds for the symbol may be stale, so the symbol's running sessions are loaded afresh from the
   * database (ledgers as last committed, indicators warmed on the window).
   */
  private async takeOver(symbol: string): Promise<void> {
    await this.locked(async () => {
      const rows = await this.repo.runningOn(symbol);
      for (const s of [...this.sessions.values()]) if (s.symbol === symbol) this.forget(s);
      for (const row of rows)
        try {
          await this.load(row);
        } catch (e) {
          this.rt.log.error({ err: e, session: row.id }, 'taking a session over failed');
        }
      this.stats.takeovers++;
      this.rt.log.info({ symbol, sessions: rows.length }, 'took over a symbol and its sessions');
    });
  }

  /** A lifecycle change made by another instance. */
  private async onControl(
    type: string,
    data: {
      sessionId: string;
      instance?: string;
      risk?: RiskLimits;
      portfolioRisk?: PortfolioLimits | null;
      openOrders?: number;
    },
  ): Promise<void> {
    if (!data?.sessionId || !data.instance || data.instance === this.instanceId) return;
    if (type === 'session.updated') {
      // its limits (or its portfolio's, or its orders by hand resting) changed through another instance:
      // applied here if this one holds it
      if (data.risk || data.portfolioRisk !== undefined || data.openOrders !== undefined)
        await this.locked(async () => {
          const held = this.sessions.get(data.sessionId);
          const row = held ? await this.repo.get(held.id) : null;
          if (!held || !row) return;
          if (data.risk) this.applyLimits(held, data.risk, row.failureReason);
          if (data.portfolioRisk !== undefined) this.applyPortfolioLimits(held, data.portfolioRisk, row.failureReason);
          if (data.openOrders !== undefined)
            held.openOrders = keepTrails(held.openOrders, readOpenOrders(row.openOrders));
        });
      return;
    }
    if (!/^session\.(running|paused|stopped|failed)$/.test(type)) return;
    await this.locked(async () => {
      const held = this.sessions.get(data.sessionId);
      if (held) this.forget(held);
      if (type !== 'session.running') return;
      const row = await this.repo.get(data.sessionId);
      if (row?.status === 'running' && this.activeSymbols().includes(row.symbol)) await this.load(row);
    });
  }

  /** Symbols whose ticks reached this instance within the handover window (the ones it runs). */
  activeSymbols(): string[] {
    const since = Date.now() - (this.opts.handoverMs ?? 10_000);
    return [...this.symbolSeen].filter(([, at]) => at >= since).map(([sym]) => sym);
  }

  /** Runs every session on the symbol over the ticks; publishes their signals. */
  dispatch(symbol: string, ticks: readonly Tick[]): void {
    if (!ticks.length) return;
    if (this.dayPaused.size) this.newDay(symbol, ticks[ticks.length - 1]!.ts);
    this.otherBars.push(symbol, ticks);
    const list = this.bySymbol.get(symbol);
    // with the pool, the quote moves when the ledgers have seen the ticks (fills never run ahead of them)
    if (!this.pool || !list) this.quotes.set(symbol, ticks[ticks.length - 1]!);
    // no session on the symbol: its ticks still go to runner threads whose strategies read it
    if (!list && !this.pool?.needs(symbol)) return;
    const receivedAt = now();
    if (this.pool) {
      // the threads answer which actions fired on which tick; ledgers then see each tick's mark and
      // decision in order, exactly as with the in-process runner (one batch per symbol at a time)
      const pool = this.pool;
      const prev = this.poolChain.get(symbol) ?? Promise.resolve();
      const next = prev
        .then(() => pool.ticks(symbol, ticks))
        .then((fired) => this.step(symbol, ticks, receivedAt, fired))
        .catch((e: unknown) => this.rt.log.error({ err: e, symbol }, 'runner pool batch failed'));
      this.poolChain.set(symbol, next);
      const batch = { stepped: next };
      this.poolInFlight.add(batch);
      void next.then(() => {
        this.poolInFlight.delete(batch);
        this.wakeIdle();
      });
      return;
    }
    this.step(symbol, ticks, receivedAt);
  }

  private step(symbol: string, ticks: readonly Tick[], receivedAt: number, fired?: Map<string, FiredAction>[]): void {
    if (fired) this.quotes.set(symbol, ticks[ticks.length - 1]!);
    const list = this.bySymbol.get(symbol);
    if (!list) return;
    let out: SignalMessage[] | undefined;
    for (let k = 0; k < ticks.length; k++) {
      const t = ticks[k]!;
      this.stats.ticks++;
      const firedNow = fired?.[k];
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        let sig: SignalMessage | null;
        try {
          if (this.remote) {
            // marks only (equity, drawdown): the runner applies risk rules in its tick order
            s.mark(t, receivedAt);
            sig = null;
          } else if (fired && !s.evaluator) {
            // the thread's answer: the action, or the action and what its rules at a distance read
            const f = firedNow?.get(s.id);
            if (typeof f === 'object') s.riskIn = f.subarray(1);
            const a = f === undefined ? -1 : typeof f === 'number' ? f : f[0]!;
            sig = s.afterMark(s.mark(t, receivedAt, a), a, t, receivedAt);
            s.riskIn = null;
          } else sig = s.onTick(t, receivedAt);
        } catch (e) {
          void this.fail(s, `the strategy failed on a tick: ${(e as Error).message}`);
          continue;
        }
        if (sig) {
          (out ??= []).push(sig);
          // a ladder's further steps, the strategy's action on the tick that filled a resting order or
          // took a partial take profit: after that fill
          if (s.extra) {
            for (const x of s.extra) out.push(x);
            s.extra = null;
          }
        }
        // its orders by hand resting: those the tick reaches fill after the strategy's own on it
        if (s.openOrders.length && !s.halting) out = this.checkOpen(s, t, receivedAt, out);
      }
    }
    if (out) this.emit(out);
  }

  /**
   * A session's resting orders by hand on a tick: those it reaches become signals (appended to `out`),
   * those whose time is up lapse, and a close whose position is gone (or turned) lapses with it. What is
   * left is saved on the row, and the session's page told.
   */
  private checkOpen(s: LiveSession, t: Tick, receivedAt: number, out: SignalMessage[] | undefined) {
    let done: string[] | undefined;
    /** the one-cancels-the-other groups an order triggered in on this tick */
    let triggered: Set<string> | undefined;
    const all = s.openOrders;
    const l = s.ledger;
    for (let i = 0; i < all.length; i++) {
      const o = all[i]!;
      // another of its group triggered before it on this tick: cancelled
      if (o.ocoGroup !== undefined && triggered?.has(o.ocoGroup)) {
        (done ??= []).push(o.id);
        continue;
      }
      // a trailing stop follows the price first (moved in place: kept here, saved with the session's next
      // flush)
      if (o.type === 'trailing_stop' && trailOn(o, t.price)) this.trailsMoved.add(s);
      const gone =
        (o.until !== null && t.ts >= o.until) ||
        (o.action === 'close' && Math.sign(l.qty) !== (o.side === 'sell' ? 1 : -1));
      const fill = gone ? null : openOrderFill(o, t);
      if (!gone && !fill) continue;
      (done ??= []).push(o.id);
      if (!fill) continue;
      if (o.ocoGroup !== undefined) (triggered ??= new Set()).add(o.ocoGroup);
      const sigId = manualSignalId(s.id, o.clientOrderId ?? o.id);
      // its bracket rests once the fill commits (placeBrackets)
      if (hasBracket(o)) this.bracketed.set(sigId, { s, o });
      (out ??= []).push({
        id: sigId,
        sessionId: s.id,
        userId: s.userId,
        symbol: s.symbol,
        ...manualSized(l, o.action === 'close' ? 'close' : o.side, o),
        source: MANUAL,
        tickTs: t.ts,
        price: fill.price,
        // a limit fills at its price, a maker's; a stop at the market on the tick, a taker's
        ...(fill.atPrice
          ? { atPrice: true, maker: true }
          : { ...(t.bid !== undefined ? { bid: t.bid } : {}), ...(t.ask !== undefined ? { ask: t.ask } : {}) }),
        receivedAt,
      });
    }
    // the others of a group that triggered, before it in the list
    if (triggered)
      for (const o of all)
        if (o.ocoGroup !== undefined && triggered.has(o.ocoGroup) && !done!.includes(o.id)) done!.push(o.id);
    if (done) void this.openChanged(s, { remove: done });
    return out;
  }

  /** sessions whose trailing stops by hand moved since their last flush (their extremes saved then) */
  private readonly trailsMoved = new Set<LiveSession>();

  /**
   * Saves the extremes of `sessions`' trailing stops by hand on their rows (each only ever moving on: a
   * save behind another never moves one back); kept to try again with the next flush if it fails.
   */
  private async saveTrails(sessions: readonly LiveSession[]): Promise<void> {
    const trails: { sessionId: string; orderId: string; extreme: number }[] = [];
    for (const s of sessions) {
      this.trailsMoved.delete(s);
      for (const o of s.openOrders)
        if (o.extreme !== undefined) trails.push({ sessionId: s.id, orderId: o.id, extreme: o.extreme });
    }
    try {
      if (trails.length) await this.repo.saveTrails(trails);
    } catch (e) {
      if (this.closed) return;
      this.rt.log.warn({ err: e, sessions: sessions.length }, 'saving trailing stops by hand failed; again next flush');
      for (const s of sessions) if (this.sessions.get(s.id) === s) this.trailsMoved.add(s);
    }
  }

  /** saves of sessions' resting orders by hand, in order (a later change never lands before an earlier one) */
  private openSaves: Promise<unknown> = Promise.resolve();

  /**
   * `s`'s resting orders by hand change: `add` placed, the orders with ids in `remove` gone (filled,
   * lapsed, cancelled). Kept here, and the change alone written to its row (so a change made through
   * another instance at the same time is kept too); its page and other instances told.
   */
  private openChanged(s: LiveSession, change: { add?: readonly OpenOrder[]; remove?: readonly string[] }) {
    const { add = [], remove = [] } = change;
    const list = s.openOrders.filter((o) => !remove.includes(o.id)).concat(add);
    s.openOrders = list;
    const save = (this.openSaves = this.openSaves
      .then(() => this.repo.changeOpenOrders(s.id, add, remove))
      .then(() => this.openTold(s, list.length))
      .catch((e: unknown) => {
        if (!this.closed) this.rt.log.warn({ err: e, session: s.id }, 'saving resting orders by hand failed');
      }));
    return save;
  }

  /** `s`'s page and other instances told its resting orders by hand changed (`count` rest now) */
  private openTold(s: LiveSession, count: number): Promise<unknown> {
    return this.rt.bus.publish(TOPICS.forwardTestEvents.name, s.id, 'session.updated', {
      sessionId: s.id,
      userId: s.userId,
      instance: this.instanceId,
      openOrders: count,
    });
  }

  private emit(out: SignalMessage[]): void {
    this.stats.signals += out.length;
    // local fast path: executed here in group commits (a batch that fails is logged by its lane) and
    // published for audit and other consumers. No promise per signal: at thousands of fills a second the
    // promises and their handlers were a tenth of the engine's garbage.
    const msgs: { key: string; type: string; data: SignalMessage; id: string }[] = new Array(out.length);
    for (let i = 0; i < out.length; i++) {
      const sig = out[i]!;
      sig.origin = this.instanceId;
      const s = this.sessions.get(sig.sessionId)!;
      this.enqueue({ s, sig });
      msgs[i] = { key: sig.sessionId, type: 'signal', data: sig, id: sig.id };
    }
    const bus = this.rt.bus;
    const published = bus.publishMany
      ? bus.publishMany(TOPICS.strategySignals.name, msgs)
      : Promise.all(msgs.map((m) => bus.publish(TOPICS.strategySignals.name, m.key, m.type, m.data, m.id)));
    published.catch((e: unknown) => this.rt.log.error({ err: e, signals: out.length }, 'publishing signals failed'));
  }

  // ---- execution side ----

  private async onSignal(sig: SignalMessage): Promise<void> {
    let s = this.sessions.get(sig.sessionId);
    if (!s) {
      const row = await this.repo.get(sig.sessionId);
      if (!row) return; // deleted: nothing to execute
      s = await this.load(row);
    }
    await this.submit(s, sig);
  }

  /** Queues a signal for execution; resolves once its outcome is committed (group commit). */
  submit(s: LiveSession, sig: SignalMessage): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ s, sig, done: (e) => (e ? reject(e) : resolve()) }));
  }

  /** Puts a signal on its session's commit lane and starts the lane if it is idle. */
  private enqueue(q: QueuedSignal): void {
    (this.laneQueues[q.s.lane] ??= []).push(q);
    this.kick(q.s.lane);
  }

  /**
   * Drains one commit lane: everything queued on it goes in one group commit, and what arrives meanwhile
   * in the next. Lanes drain independently (a lane does not wait for the other's commit), each holding
   * the engine's lock shared, so lifecycle changes still see no commit in flight.
   */
  private kick(k: number): void {
    if (this.laneDraining[k]) return;
    this.laneDraining[k] = true;
    void this.shared(async () => {
      const q = this.laneQueues[k]!;
      try {
        // a lifecycle change waiting for the lock goes next: the lane lets go after its current commit
        while (q.length && !this.exclusiveWaiting) {
          await this.siblings(q);
          await this.executeLane(q.splice(0, 5000));
        }
      } finally {
        this.laneDraining[k] = false;
      }
      // what queued behind a lifecycle change drains now; a lane gone idle lets waiting flushes go
      if (q.length) this.kick(k);
      else this.wakeIdle();
    });
  }

  /**
   * With the worker-thread pool, ticks that arrive together (one per symbol) come back from the threads
   * one symbol at a time, a few milliseconds apart. Committing the first symbol's signals at once made
   * every tick round two group commits per lane, the second waiting for the first, and the first ran
   * while the threads still held both cores. So a lane first waits for the pool's batches in flight and
   * commits what they add together, but no longer than until poolHoldMs after the oldest queued
   * signal's tick arrived.
   */
  private async siblings(q: readonly QueuedSignal[]): Promise<void> {
    if (!this.poolInFlight.size || this.poolHoldMs <= 0) return;
    let oldest = Infinity;
    for (const x of q) if (x.sig.receivedAt < oldest) oldest = x.sig.receivedAt;
    const left = Math.min(this.poolHoldMs, oldest + this.poolHoldMs - now());
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.poolInFlight].map((b) => b.stepped)),
      new Promise<void>((r) => (timer = setTimeout(r, left))),
    ]);
    clearTimeout(timer);
  }

  private async executeLane(batch: QueuedSignal[]) {
    try {
      await this.executeBatch(batch);
      for (const b of batch) b.done?.();
    } catch (e) {
      this.rt.log.error({ err: e, signals: batch.length }, 'executing signals failed');
      for (const b of batch) b.done?.(e as Error);
    }
  }

  /**
   * Everything that changes ledgers or statuses outside the commit lanes runs under this lock, alone and
   * in order: after the lanes' commits in flight, before the ones that follow.
   */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveWaiting++;
    const run = () => {
      this.exclusiveWaiting--;
      return fn();
    };
    const p = Promise.all([this.exclusiveTail, ...this.sharedInFlight]).then(run, run);
    this.exclusiveTail = p.catch(() => undefined);
    return p;
  }

  /** A commit lane's hold on the lock: lanes run side by side, but never beside a `locked` section. */
  private shared<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.exclusiveTail.then(fn, fn);
    const held = p.catch(() => undefined);
    this.sharedInFlight.add(held);
    void held.then(() => this.sharedInFlight.delete(held));
    return p;
  }

  /**
   * Fills a batch of signals: each is planned against its session's ledger as left by the ones before
   * it, then all outcomes (orders, trades, positions, ledgers) are committed in one transaction. Signal
   * ids already executed (a redelivery) are skipped before planning.
   */
  private async executeBatch(
    batch: readonly { s: LiveSession; sig: SignalMessage }[],
    retry = false,
  ): Promise<readonly Planned[]> {
    // signals from the bus may be redeliveries: drop those already executed before planning. A local
    // signal is new by construction, except when this instance re-reads ticks another one already
    // acted on (a partition handed over): its insert then meets the earlier order, the transaction
    // rolls back, and the retry checks every signal of the batch.
    const remote = retry ? batch : batch.filter((b) => b.sig.origin !== this.instanceId);
    // signals already executed, and those seen earlier in this batch: only a batch with signals from
    // the bus can hold either (a local signal is submitted once), so only such a batch builds the keys
    const known = remote.length
      ? await this.repo.executedSignals(remote.map((b) => ({ sessionId: b.s.id, signalId: b.sig.id })))
      : undefined;
    // opened: the fill opened a position (or flipped into one), not added to or reduced one
    const planned: Planned[] = [];
    // each session's working ledger (s.work, from a pool reused batch to batch) and the ledger after each
    // fill (encoded into `after`): the batch allocates no ledger objects of its own
    const touched: LiveSession[] = [];
    const after = new LedgerLog(256 * batch.length + 1024);
    try {
      for (const { s, sig } of batch) {
        if (known) {
          const key = `${s.id}|${sig.id}`;
          if (known.has(key)) {
            this.stats.duplicates++;
            continue;
          }
          known.add(key);
        }
        let l = s.work;
        if (!l) {
          l = s.work = this.spareLedgers.pop() ?? copyLedger(s.ledger);
          assignLedger(l, s.ledger);
          touched.push(s);
        }
        // built field by field: object spreads here were a third of this loop's time (megamorphic copies)
        const e: Execution = {
          sessionId: s.id,
          userId: s.userId,
          symbol: s.symbol,
          signalId: sig.id,
          action: sig.action,
          source: sig.source,
          status: 'refused',
          ts: sig.tickTs,
          state: l,
        };
        // closes a risk limit, a stop or the user asked for go through whatever the session's status
        const risky =
          sig.then !== undefined ||
          sig.source === 'session_stop' ||
          sig.source === MANUAL_CLOSE ||
          sig.source === MANUAL;
        if (s.status !== 'running' && !risky) {
          noteRefusal(l, sig.tickTs);
          e.reason = `the session is ${s.status}`;
          planned.push({ s, sig, e });
          continue;
        }
        const q = this.quotes.get(s.symbol);
        const bid = q ? q.bid : sig.bid;
        const ask = q ? q.ask : sig.ask;
        const ts = Math.max(sig.tickTs, q?.ts ?? 0);
        // a liquidation or a limit order fills at its own price (the session worked it out from the tick),
        // not the quote's
        const exact = sig.source === LIQUIDATION || sig.atPrice === true;
        const req: OrderRequest = {
          action: sig.action,
          sizing: sig.sizing,
          amount: sig.amount,
          price: exact ? sig.price : (q?.price ?? sig.price),
          ts,
          source: sig.source,
        };
        if (exact) req.atPrice = true;
        if (sig.maker === true) req.maker = true;
        if (sig.maxEntries !== undefined) req.maxEntries = sig.maxEntries;
        if (sig.percent !== undefined) req.percent = sig.percent;
        if (sig.addStepPct !== undefined) req.addStepPct = sig.addStepPct;
        if (sig.addScale !== undefined) req.addScale = sig.addScale;
        if (sig.addStepScale !== undefined) req.addStepScale = sig.addStepScale;
        if (bid !== undefined) req.bid = bid;
        if (ask !== undefined) req.ask = ask;
        // funding times passed since the ledger last moved on are paid before the order (its ledger may be
        // a working copy taken before a tick's mark settled them)
        if (paysFunding(s.settings)) settleFunding(l, fundingPct(s.settings, l.qty), req.price, ts);
        const out = planOrder(l, s.settings, s.settings.risk, req, s.plan.risk.cooldown);
        e.ts = ts;
        let opened = false;
        if (out.kind === 'fill') {
          const before = l.qty;
          // a position it opens keeps the signal's distances (its rules at a distance), if any
          applyOutcome(l, out, sig);
          opened = l.qty !== 0 && Math.sign(l.qty) !== Math.sign(before);
          e.status = 'filled';
          e.fill = out.fill;
          e.latencyMs = now() - sig.receivedAt;
          // the order log row carries the ledger as this fill left it (later fills of the batch move l on)
          e.fillSeq = l.fills;
          e.ledgerAfter = after.put(l);
        } else {
          if (out.kind === 'refused') noteRefusal(l, ts);
          // a partial take profit (a ladder's step) whose share is under one unit closes nothing: the step
          // is passed, as a backtest passes it, and the next one is the position's target
          else if (sig.source === 'take_profit' && sig.percent !== undefined && l.qty !== 0) l.targetTaken++;
          e.status = out.kind;
          e.reason = out.reason;
        }
        if (sig.then) {
          e.newStatus = sig.then;
          e.failureReason = `risk limit: ${sig.source}`;
        }
        planned.push({ s, sig, out, e, opened });
      }
      if (!planned.length) return planned;
      const commitStart = now();
      const es: Execution[] = new Array(planned.length);
      for (let i = 0; i < planned.length; i++) es[i] = planned[i]!.e;
      try {
        // every execution of a session carries that session's working ledger (e.state), as the batch leaves it
        await this.repo.executeMany(es, { writer: this });
      } catch (e) {
        if (!(e instanceof StaleLedgerError) || retry) throw e;
        // another writer moved these ledgers on: take what the database holds and plan the batch again
        for (const row of await this.repo.getMany(e.sessionIds)) {
          const s = this.sessions.get(row.id);
          if (s) s.ledger = storedLedger(s.settings, row.state);
        }
        this.stats.staleRetries++;
        this.releaseWork(touched);
        return this.executeBatch(batch, true);
      }
      const committedAt = now();
      keepRecent(this.commits, committedAt - commitStart, 20_000);
      this.metrics?.commitDuration.observe((committedAt - commitStart) / 1000);
      this.metrics?.commitOrders.observe(planned.length);
      // the whole batch committed (executeMany applies all of it or throws)
      for (const s of touched) {
        const l = s.work!;
        assignLedger(s.ledger, l);
        s.settled();
      }
      if (this.bracketed.size) this.placeBrackets(planned);
      this.releaseWork(touched);
      await this.published(planned, committedAt);
      return planned;
    } finally {
      this.releaseWork(touched);
    }
  }

  /** Puts the sessions' working ledgers back in the pool (at most 10,000 kept) and empties the list. */
  private releaseWork(touched: LiveSession[]): void {
    for (const s of touched) {
      if (s.work && this.spareLedgers.length < 10_000) this.spareLedgers.push(s.work);
      s.work = undefined;
    }
    touched.length = 0;
  }

  /** After a batch committed: its trades, portfolios and refusals on the bus, lifecycle changes applied. */
  private async published(planned: readonly Planned[], committedAt: number): Promise<void> {
    const trades: { key: string; type: string; data: unknown }[] = [];
    const portfolios = new Map<string, LiveSession>();
    const events: { key: string; type: string; data: unknown }[] = [];
    for (const { s, sig, e, out, opened } of planned) {
      if (out?.kind === 'fill') {
        const latencyMs = committedAt - sig.receivedAt;
        const f = out.fill;
        // a new position's best price starts at its entry (an addition or a partial exit keeps the position's)
        if (opened) s.extreme = f.price;
        this.stats.fills++;
        keepRecent(this.latencies, latencyMs, this.opts.keepLatencies ?? 200_000);
        this.metrics?.tradeLatency.observe(latencyMs / 1000);
        trades.push({
          key: s.id,
          type: 'trade',
          // field by field (an object spread of the fill built a dictionary-like copy per trade)
          data: {
            sessionId: s.id,
            userId: s.userId,
            signalId: sig.id,
            symbol: s.symbol,
            source: sig.source,
            side: f.side,
            quantity: f.quantity,
            price: f.price,
            fee: f.fee,
            slippage: f.slippage,
            realizedPnl: f.realizedPnl,
            ts: new Date(f.ts).toISOString(),
            latencyMs,
          },
        });
        portfolios.set(s.id, s);
      } else {
        if (e.status === 'refused') this.stats.refused++;
        events.push({
          key: s.id,
          type: e.status === 'refused' ? 'order.refused' : 'order.skipped',
          data: {
            sessionId: s.id,
            userId: s.userId,
            signalId: sig.id,
            action: sig.action,
            source: sig.source,
            ...(out?.kind === 'refused' ? { code: out.code } : {}),
            reason: e.reason,
          },
        });
      }
      if (sig.then) {
        s.halting = false;
        await this.setLocalStatus(s, sig.then, `risk limit: ${sig.source}`);
      }
    }
    await this.publishAll(TOPICS.tradeExecutions.name, trades);
    if (this.remote) await this.readRemoteResting([...portfolios.keys()]);
    await this.publishAll(
      TOPICS.portfolioUpdates.name,
      [...portfolios.values()].map((s) => ({ key: s.id, type: 'portfolio', data: this.portfolio(s) })),
    );
    await this.publishAll(TOPICS.forwardTestEvents.name, events);
  }

  private async publishAll(topic: string, ms: { key: string; type: string; data: unknown }[]): Promise<void> {
    if (!ms.length) return;
    if (this.rt.bus.publishMany) await this.rt.bus.publishMany(topic, ms);
    else for (const m of ms) await this.rt.bus.publish(topic, m.key, m.type, m.data);
  }

  /**
   * The price a session's figures are marked at: the last tick it saw, else the symbol's quote, else
   * its average entry price (no tick yet).
   */
  markPrice(s: LiveSession): number {
    return s.ledger.lastPrice || this.quotes.get(s.symbol)?.price || s.ledger.avgPrice;
  }

  /**
   * A session's portfolio as pushed on `portfolio-updates`: its figures at the last price seen, the
   * limit or stop order resting on its ticks (null: none), and its orders by hand resting (where a
   * trailing stop has got to), so a page watching the pushes shows them.
   */
  portfolio(s: LiveSession) {
    const f = ledgerFigures(s, s.ledger, s.settings, this.markPrice(s), s);
    // a runner process's resting order: as its row last said (remoteResting), not this engine's copy's
    if (this.remote) f.restingOrder = this.remoteResting.get(s.id) ?? null;
    return f;
  }

  /**
   * Remote runners (runner processes, Kubernetes Jobs) save their sessions' resting orders on the rows;
   * the pushes of these sessions carry them as read here, before each round of pushes.
   */
  private readonly remoteResting = new Map<string, ReturnType<LiveSession['savedRestingOrder']>>();
  private async readRemoteResting(ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    try {
      for (const row of await this.repo.getMany(ids)) {
        const s = this.sessions.get(row.id);
        if (s) this.remoteResting.set(row.id, s.savedRestingOrder(row.resting));
      }
    } catch (e) {
      // the pushes go with what was read last time
      this.rt.log.warn({ err: e }, "reading the runners' resting orders failed");
    }
  }

  private async event(s: LiveSession, type: string, data: Record<string, unknown>): Promise<void> {
    await this.rt.bus.publish(TOPICS.forwardTestEvents.name, s.id, type, {
      sessionId: s.id,
      userId: s.userId,
      instance: this.instanceId,
      ...data,
    });
  }

  private async setLocalStatus(s: LiveSession, status: SessionStatus, reason?: string): Promise<void> {
    const was = s.status;
    s.status = status;
    if (status === 'running') await this.activate(s);
    else this.deactivate(s);
    // a daily loss limit's pause (its own or its portfolio's): the next day resumes it, when its risk says so
    this.dayPause(s, status === 'paused' && resumesNextDay(s.settings, reason));
    if (status === 'stopped' || status === 'failed') this.untrack(s);
    await this.event(s, `session.${status}`, { from: was, to: status, ...(reason ? { reason } : {}) });
  }

  /**
   * Ends a session that cannot go on. It stops trading at once; when its status cannot be stored (the
   * database down), that is logged and the session stays out of trading in this process: a restart
   * resumes it from its stored state, as after a crash. Never rejects (its callers do not wait for it).
   */
  private async fail(s: LiveSession, reason: string): Promise<void> {
    if (s.status === 'failed') return;
    this.deactivate(s);
    s.status = 'failed';
    try {
      await this.locked(async () => {
        await this.repo.setStatus(s.id, 'failed', { reason, state: s.ledger, marketTs: this.marketTs(s) });
        await this.setLocalStatus(s, 'failed', reason);
      });
    } catch (e) {
      this.rt.log.error({ err: e, session: s.id, reason }, 'a failed session could not be recorded as failed');
    }
  }

  // ---- lifecycle (called by the routes, already scoped to the owner) ----

  async transition(
    row: SessionRow,
    to: 'running' | 'paused' | 'stopped',
    /**
     * a rule's stop or pause (a paper portfolio's limit): the close's source and the session's failure
     * reason; a rule's resume (a new day's): why, on the session's timeline. None: the user's own change.
     */
    why?: { source: string; reason: string },
    /** the market time of the change on the session's timeline: the tick that caused it (a new day's), else its symbol's latest */
    marketTs?: number,
  ): Promise<SessionStatus> {
    const allowed: Record<string, SessionStatus[]> = {
      running: ['created', 'paused'],
      paused: ['running'],
      stopped: ['created', 'running', 'paused'],
    };
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    return this.locked(async () => {
      this.syncFromRow(s, row);
      if (!allowed[to]!.includes(s.status))
        throw new AppError('CONFLICT', `a ${s.status} session cannot become ${to}`, { status: s.status });
      // stopping closes the open position at the market, so the session's result is final
      // (and a rule's pause, as a session's own daily loss limit closes before it pauses)
      if ((to === 'stopped' || (to === 'paused' && why)) && s.ledger.qty !== 0)
        await this.closeAtMarket(
          s,
          `${s.id}:${to === 'stopped' ? 'stop' : `pause:${s.ledger.fills}`}`,
          why?.source ?? 'session_stop',
        );
      await this.repo.setStatus(s.id, to, {
        state: s.ledger,
        marketTs: marketTs ?? this.marketTs(s),
        ...(to === 'running'
          ? { reason: null, ...(why ? { eventReason: why.reason } : {}) }
          : why
            ? { reason: why.reason }
            : {}),
      });
      await this.setLocalStatus(s, to, why?.reason);
      return to;
    });
  }

  /**
   * The user's "close the position now" on a running or paused session: one close at the market, through
   * the same execution (order log, fees, slippage, pushes) as the strategy's own. The strategy then
   * trades on from flat: its side follows the ledger once the close is committed.
   */
  async closePosition(row: SessionRow): Promise<void> {
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    await this.locked(async () => {
      this.syncFromRow(s, row);
      if (s.status !== 'running' && s.status !== 'paused')
        throw new AppError('CONFLICT', `the session is ${s.status}: nothing to close`, { status: s.status });
      if (s.ledger.qty === 0) throw new AppError('CONFLICT', 'the session holds no position');
      await this.closeAtMarket(s, `${s.id}:manual:${s.ledger.fills}`, MANUAL_CLOSE);
      await this.repo.setStatus(s.id, s.status, { state: s.ledger });
    });
  }

  /**
   * The user changed a session's name or its own risk limits, already written to its row: the session
   * this engine holds trades under the limits from its next tick. `session.updated` tells the others (an
   * instance holding it after a handover applies them; a runner process re-reads its row) and the page.
   */
  async updated(
    row: SessionRow,
    patch: { name?: string | null; risk?: RiskLimits; portfolioRisk?: PortfolioLimits | null },
  ): Promise<void> {
    await this.locked(async () => {
      const s = this.sessions.get(row.id);
      if (!s) return;
      if (patch.risk) this.applyLimits(s, patch.risk, row.failureReason);
      if (patch.portfolioRisk !== undefined) this.applyPortfolioLimits(s, patch.portfolioRisk, row.failureReason);
    });
    await this.rt.bus.publish(TOPICS.forwardTestEvents.name, row.id, 'session.updated', {
      sessionId: row.id,
      userId: row.userId,
      instance: this.instanceId,
      ...patch,
    });
  }

  /**
   * `s`'s paper portfolio's limits are `risk` from now on (the service's guard checks the sum against
   * them); here, whether a pause by its daily loss ends with the day.
   */
  private applyPortfolioLimits(s: LiveSession, risk: PortfolioLimits | null, failureReason: string | null): void {
    const p = (s.settings as { portfolio?: { risk?: PortfolioLimits } }).portfolio;
    if (!p) return;
    if (risk) p.risk = risk;
    else delete p.risk;
    if (s.status === 'paused') this.dayPause(s, resumesNextDay(s.settings, failureReason));
  }

  /** `s`'s own limits are `risk` from now on (a daily loss's pause then ends with the day, or not, as they say). */
  private applyLimits(s: LiveSession, risk: RiskLimits, failureReason: string | null): void {
    s.setLimits(risk);
    if (s.status === 'paused') this.dayPause(s, resumesNextDay(s.settings, failureReason));
  }

  /** A session's symbol's price now: its latest tick's, else the last its ledger saw (0: none yet). */
  private lastPrice(s: LiveSession): number {
    return this.quotes.get(s.symbol)?.price ?? s.ledger.lastPrice;
  }

  /** A session's market time now: its symbol's latest tick, else the last tick it saw (null: none yet). */
  private marketTs(s: LiveSession): number | null {
    return this.quotes.get(s.symbol)?.ts ?? (s.ledger.lastTs || null);
  }

  /** With failover, another instance may have run the session since this one loaded it: the row is the truth. */
  private syncFromRow(s: LiveSession, row: SessionRow): void {
    if (this.opts.handoverMs === undefined) return;
    const stored = storedLedger(s.settings, row.state);
    if (stored.fills > s.ledger.fills) {
      s.ledger = stored;
      s.settled();
    }
    if (row.status !== s.status) s.status = row.status;
  }

  /** `s` as its row says, if it takes orders by hand (running or paused); else a 409. */
  private takingOrders(s: LiveSession, row: SessionRow): void {
    this.syncFromRow(s, row);
    if (s.status !== 'running' && s.status !== 'paused')
      throw new AppError('CONFLICT', `the session is ${s.status}: it takes orders while running or paused`, {
        status: s.status,
      });
  }

  /**
   * An order by hand on a running or paused session (`ManualOrder`), at the symbol's last quote now. A
   * buy or sell in the open position's direction adds to it (one entry more than it has); against it, it
   * closes it and, with shorts allowed or from a short, opens the other side. The strategy's exits (its
   * stop loss, take profit, trailing stop, close signals) then manage the position as one of its own.
   */
  async manualOrder(row: SessionRow, o: ManualOrder): Promise<ManualOutcome> {
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    return this.locked(async () => {
      this.takingOrders(s, row);
      const id = manualSignalId(s.id, o.clientOrderId ?? `${s.ledger.fills}:${randomUUID()}`);
      const last = this.lastPrice(s);
      if (o.bracket && o.action !== 'close' && last) this.checkBracket(o.action, last, o.bracket);
      const [p] = await this.atMarket(s, id, MANUAL, manualSized(s.ledger, o.action, o));
      if (o.bracket && o.action !== 'close' && p?.out?.kind === 'fill')
        await this.placeBracket(s, o.action, o.bracket, id, p.out.fill.price);
      // none planned: executed before (the same clientOrderId)
      return { signalId: id, ...(p?.out?.kind === 'refused' ? { code: p.out.code } : {}), replayed: !p };
    });
  }

  /**
   * A limit or stop order by hand on a running or paused session: it rests on the symbol's ticks (a
   * paused session's from its resume) until one reaches its price (checkOpen), its `validMinutes` pass
   * in market time, it is cancelled (cancelOpen), or the session stops. A close trades against the
   * position it has now and lapses if that position goes. Refused (422, with a code) without a price yet,
   * a stop its price has passed already, a sell opening a short that the session does not allow, or over
   * MAX_OPEN_ORDERS resting.
   */
  async placeOpen(row: SessionRow, o: RestingManualOrder): Promise<RestingOutcome> {
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    return this.locked(async () => {
      this.takingOrders(s, row);
      if (o.clientOrderId !== undefined) {
        const resting = s.openOrders.find((x) => x.clientOrderId === o.clientOrderId);
        if (resting) return { open: resting, replayed: true };
        const signalId = manualSignalId(s.id, o.clientOrderId);
        if ((await this.repo.orders(s.id, { signalId, limit: 1 })).length) return { signalId, replayed: true };
      }
      const refuse = (code: string, message: string) => {
        throw new AppError('UNPROCESSABLE', `order refused: ${message}`, { code });
      };
      const last = this.lastPrice(s);
      const ts = this.marketTs(s);
      if (!last || ts === null) refuse('NO_PRICE', 'the symbol has no price yet');
      const qty = s.ledger.qty;
      if (o.action === 'close' && qty === 0) throw new AppError('CONFLICT', 'nothing to do: no position to close');
      const side = o.action === 'close' ? (qty > 0 ? 'sell' : 'buy') : o.action;
      if (o.action === 'sell' && qty <= 0 && !s.settings.allowShort)
        refuse('SHORTS_NOT_ALLOWED', 'the session does not allow shorts');
      // a trailing stop starts from the price now, and rests its distance away from it
      const trail = o.type === 'trailing_stop' ? { trailPercent: o.trailPercent!, extreme: last! } : undefined;
      const price = trail ? trailLevel(side, trail.extreme, trail.trailPercent) : o.price!;
      const triggers = o.type === 'stop' ? stopTriggersNow(side, price, last!) : null;
      if (triggers) refuse('WOULD_TRIGGER', triggers);
      if (s.openOrders.length >= MAX_OPEN_ORDERS)
        refuse('TOO_MANY_OPEN_ORDERS', `a session holds at most ${MAX_OPEN_ORDERS} resting orders`);
      if (o.bracket && o.action !== 'close') this.checkBracket(side, price, o.bracket);
      const open: OpenOrder = {
        id: randomUUID(),
        clientOrderId: o.clientOrderId ?? null,
        action: o.action,
        side,
        type: o.type,
        price,
        ...trail,
        sizing: o.sizing,
        amount: o.amount,
        ...(o.percent !== undefined ? { percent: o.percent } : {}),
        placedAt: new Date().toISOString(),
        until: o.validMinutes === undefined ? null : ts! + o.validMinutes * 60_000,
        // an entry carries its bracket (stopLoss, takeProfit, trailingStopPercent) until it fills
        ...(o.action !== 'close' ? o.bracket : undefined),
        ...(o.ocoGroup !== undefined ? { ocoGroup: o.ocoGroup } : {}),
      };
      await this.openChanged(s, { add: [open] });
      return { open, replayed: false };
    });
  }

  /** A 422 (INVALID_BRACKET) when a bracket does not fit its entry's side and price. */
  private checkBracket(side: 'buy' | 'sell', ref: number, b: Bracket): void {
    const problem = bracketProblem(side, ref, b);
    if (problem) throw new AppError('UNPROCESSABLE', `order refused: ${problem}`, { code: 'INVALID_BRACKET' });
  }

  /**
   * A filled entry's bracket: its close stop, close limit and close trailing stop (from `filledAt`, its
   * fill price) rest against the position from now on.
   */
  private placeBracket(
    s: LiveSession,
    side: 'buy' | 'sell',
    b: Bracket,
    parent: string,
    filledAt: number,
  ): Promise<unknown> {
    const closes = bracketCloses(side, b, parent, randomUUID, new Date().toISOString(), filledAt);
    return this.openChanged(s, { add: closes });
  }

  /** resting entries by hand with a bracket whose fill is in flight: their signal ids, and what to place */
  private readonly bracketed = new Map<string, { s: LiveSession; o: OpenOrder }>();

  /** The brackets of resting entries this batch committed: placed once filled, forgotten once refused. */
  private placeBrackets(planned: readonly Planned[]): void {
    for (const p of planned) {
      const waiting = this.bracketed.get(p.sig.id);
      if (!waiting) continue;
      this.bracketed.delete(p.sig.id);
      // the order carries its bracket (stopLoss, takeProfit, trailingStopPercent)
      if (p.out?.kind === 'fill')
        void this.placeBracket(waiting.s, waiting.o.side, waiting.o, p.sig.id, p.out.fill.price);
    }
  }

  /**
   * Amends one of a session's resting orders by hand (by its id or clientOrderId), running or paused: the
   * order as it rests now, or null when it is not resting (filled, lapsed or cancelled, here or through
   * another instance). Refused (422, with a code) as amendOpenOrder says. An amend racing a fill on the
   * instance that holds the session loses as a cancel would: the order fills as it was.
   */
  async amendOpen(row: SessionRow, orderId: string, change: OpenOrderAmend): Promise<OpenOrder | null> {
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    return this.locked(async () => {
      this.takingOrders(s, row);
      const o = s.openOrders.find((x) => x.id === orderId || x.clientOrderId === orderId);
      if (!o) return null;
      const last = this.lastPrice(s);
      const ts = this.marketTs(s);
      if (!last || ts === null)
        throw new AppError('UNPROCESSABLE', 'amend refused: the symbol has no price yet', { code: 'NO_PRICE' });
      const next = amendOpenOrder(o, change, { last, ts, at: new Date().toISOString() });
      if (!('id' in next)) throw new AppError('UNPROCESSABLE', `amend refused: ${next.message}`, { code: next.code });
      // in place here at once (a tick from now on checks the amended order), then on its row if still there
      s.openOrders = s.openOrders.map((x) => (x.id === o.id ? next : x));
      const save = this.openSaves.then(() => this.repo.replaceOpenOrder(s.id, o.id, next));
      this.openSaves = save.catch(() => undefined);
      if (!(await save)) {
        s.openOrders = s.openOrders.filter((x) => x.id !== o.id);
        return null;
      }
      await this.openTold(s, s.openOrders.length);
      return next;
    });
  }

  /** Cancels one of a session's resting orders by hand (by its id or clientOrderId): the order, or null. */
  async cancelOpen(row: SessionRow, orderId: string): Promise<OpenOrder | null> {
    const s = this.sessions.get(row.id) ?? (await this.load(row));
    return this.locked(async () => {
      this.syncFromRow(s, row);
      const o = s.openOrders.find((x) => x.id === orderId || x.clientOrderId === orderId);
      if (!o) return null;
      await this.openChanged(s, { remove: [o.id] });
      return o;
    });
  }

  /** A close of `s`'s position at the symbol's last quote (else the ledger's last price), executed now. */
  private async closeAtMarket(s: LiveSession, id: string, source: string): Promise<void> {
    await this.atMarket(s, id, source, { action: 'close', sizing: 'all', amount: 0 });
  }

  /** One order of `s` at the symbol's last quote (else the ledger's last price), executed now. */
  private atMarket(
    s: LiveSession,
    id: string,
    source: string,
    order: Pick<SignalMessage, 'action' | 'sizing' | 'amount' | 'percent' | 'maxEntries'>,
  ): Promise<readonly Planned[]> {
    const q = this.quotes.get(s.symbol);
    return this.executeBatch([
      {
        s,
        sig: {
          id,
          sessionId: s.id,
          userId: s.userId,
          symbol: s.symbol,
          ...order,
          source,
          tickTs: q?.ts ?? (s.ledger.lastTs || Date.now()),
          price: q?.price ?? (s.ledger.lastPrice || s.ledger.avgPrice),
          ...(q?.bid !== undefined ? { bid: q.bid } : {}),
          ...(q?.ask !== undefined ? { ask: q.ask } : {}),
          receivedAt: now(),
        },
      },
    ]);
  }

  async remove(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    await this.locked(async () => {
      this.deactivate(s);
      s.status = 'stopped';
      this.untrack(s);
    });
  }

  /** Whether signals are being evaluated (pool), queued or committed. */
  private busy(): boolean {
    return this.poolInFlight.size > 0 || this.laneDraining.some(Boolean);
  }

  /**
   * Resolves once nothing is being evaluated or committed, or after `maxMs`. Fills come in bursts (a
   * tick round, a crossover) with idle time between; equity points and ledger saves wait for that time
   * rather than meet a burst's commits on the database's cores and the event loop. `maxMs` bounds the
   * wait, so they still go in under a load that never pauses.
   */
  private afterCommits(maxMs: number): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.idleWaiters.indexOf(done);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.idleWaiters.push(done);
    });
  }

  private wakeIdle(): void {
    if (!this.idleWaiters.length || this.busy()) return;
    for (const w of [...this.idleWaiters]) w();
  }

  /** The timer's flush: the next slot's sessions; their ledgers every STATE_EVERY rounds of the slots. */
  flushNextSlot(): Promise<void> {
    const k = this.flushes++;
    const round = Math.floor(k / FLUSH_SLOTS);
    return this.flush({ slot: k % FLUSH_SLOTS, ledgers: round % STATE_EVERY === STATE_EVERY - 1 ? 'ticked' : 'none' });
  }

  /**
   * Writes equity points for sessions that saw ticks since their last flush (those of one slot, or every
   * session), and saves ledgers (with their marks): none, those ticked sessions', or (stopping) every
   * session's, ticked or not, since a fill can commit after its tick's mark was flushed.
   */
  flush(opts: { slot?: number; ledgers?: 'none' | 'ticked' | 'all' } = {}): Promise<void> {
    const { slot, ledgers = 'none' } = opts;
    this.flushing = this.flushing.then(async () => {
      if (this.metrics && (slot === undefined || slot === 0)) {
        this.metrics.activeSymbols.reset();
        for (const symbol of this.activeSymbols()) this.metrics.activeSymbols.set({ symbol }, 1);
      }
      const points: EquityPoint[] = [];
      const states: { id: string; state: LedgerState }[] = [];
      const pushed: LiveSession[] = [];
      const trailing = this.trailsMoved.size
        ? [...this.trailsMoved].filter((s) => slot === undefined || s.flushSlot === slot)
        : [];
      for (const s of this.sessions.values()) {
        if (slot !== undefined && s.flushSlot !== slot) continue;
        if (ledgers === 'all') states.push({ id: s.id, state: s.ledger });
        if (!s.marked) continue;
        s.marked = false;
        const l = s.ledger;
        if (this.lastFlush.get(s.id) === l.lastTs) continue;
        this.lastFlush.set(s.id, l.lastTs);
        const price = l.lastPrice;
        const point = {
          sessionId: s.id,
          ts: l.lastTs,
          equity: equityOf(l, price),
          cash: l.cash,
          positionValue: l.qty * price,
          price,
        };
        // a value chart_data cannot hold (numeric(38,8): a position marked at an absurd price) would
        // fail the whole statement, every interval, for every session in it: that one point is skipped
        if (storableMoney(point.equity) && storableMoney(point.cash) && storableMoney(point.positionValue))
          points.push(point);
        else this.rt.log.warn({ session: s.id, point }, 'equity point beyond what can be stored: skipped');
        if (ledgers === 'ticked') states.push({ id: s.id, state: l });
        pushed.push(s);
      }
      if (trailing.length) await this.saveTrails(trailing);
      if (!points.length && !states.length) return;
      // the pushes' figures as of now (a remote runner's resting order read from its row first)
      if (this.remote) await this.readRemoteResting(pushed.map((s) => s.id));
      const updates = pushed.map((s) => this.portfolio(s));
      // a stopping engine's last flush goes at once; the timer's waits for a quiet moment
      const quiet = () => (ledgers === 'all' ? undefined : this.afterCommits(FLUSH_WAIT_MS));
      // in statements of flushChunk sessions, each after a quiet moment: on PGlite a statement holds the
      // engine's thread, and a burst of fills arriving meanwhile waits for it (a thousand ledger saves
      // took 29 ms), so a burst now waits for one chunk at most and commits before the next
      const chunk = this.flushChunk;
      try {
        for (let i = 0; i < points.length; i += chunk) {
          await quiet();
          await this.repo.insertEquity(points.slice(i, i + chunk));
        }
        for (let i = 0; i < states.length; i += chunk) {
          await quiet();
          await this.repo.saveStates(states.slice(i, i + chunk));
        }
      } catch (e) {
        if (!this.closed) this.rt.log.warn({ err: e }, 'writing equity points failed; retrying next interval');
        return;
      }
      // the points are stored; their live pushes are best effort (a bus down past its retries loses
      // these, and the next interval's go out): a flush never rejects, or every later one, chained
      // behind it, would be skipped
      try {
        if (this.rt.bus.publishMany)
          await this.rt.bus.publishMany(
            TOPICS.portfolioUpdates.name,
            updates.map((u) => ({ key: u.sessionId, type: 'equity', data: u })),
          );
        else for (const u of updates) await this.rt.bus.publish(TOPICS.portfolioUpdates.name, u.sessionId, 'equity', u);
      } catch (e) {
        if (!this.closed) this.rt.log.warn({ err: e, updates: updates.length }, 'publishing equity updates failed');
      }
    });
    return this.flushing;
  }
}
