import type { LedgerState, OrderAction, OrderSizing, PaperConfig, RiskLimits, Tick } from '@algotrade/core';
import {
  addStepFor,
  addStepReached,
  DEFAULT_MAINTENANCE_MARGIN_PCT,
  LIQUIDATION,
  liquidationFill,
  liquidationPrice,
  markLedgerWithin,
  settleFunding,
  fundingPct,
  paysFunding,
  SYMBOL_PATTERN,
} from '@algotrade/core';
import {
  amountAt,
  distancesAt,
  roiAt,
  fillsAbove,
  orderLevel,
  type CompiledPlan,
  type PositionDistances,
  type StrategyInstance,
} from '@algotrade/strategy';
import { z } from 'zod';
import { MAX_PRICE, MAX_TIME_MS } from '../market-data/tick-message.ts';
import type { Evaluator } from './cohorts.ts';
import type { OpenOrder } from './open-orders.ts';

const NO_OPEN_ORDERS: readonly OpenOrder[] = [];
import type { OtherSymbolBars } from './other-symbols.ts';

/** `strategy-signals` payload (key: session id). The id makes execution idempotent. */
export interface SignalMessage {
  id: string;
  sessionId: string;
  userId: string;
  symbol: string;
  action: OrderAction;
  sizing: OrderSizing;
  amount: number;
  /** the action node, or the risk rule that fired (stop_loss, take_profit, trailing_stop, max_drawdown, ...) */
  source: string;
  /** the tick that triggered it */
  tickTs: number;
  price: number;
  bid?: number;
  ask?: number;
  /** when the tick reached the runner (epoch ms, sub-ms precision), for tick-to-fill latency */
  receivedAt: number;
  /** the engine instance that executes it locally (others skip it) */
  origin?: string;
  /** lifecycle change once executed (risk limits) */
  then?: 'paused' | 'stopped';
  /** buy/sell: the entries the position may have (above 1: adds to one open in that direction) */
  maxEntries?: number;
  /** close: the share of the position to close, % (absent: all) */
  percent?: number;
  /** buy/sell adding to a position: only once the price is this % against its average entry */
  addStepPct?: number;
  /** buy/sell adding to a position: its amount this many times the entry before it's (1: the same) */
  addScale?: number;
  /** buy/sell adding to a position: its step this many times the one before it (1: the same) */
  addStepScale?: number;
  /** fill at `price` exactly: no slippage, not at the bid or ask (a resting limit order's fill) */
  atPrice?: boolean;
  /** a resting limit order filled at its level: a maker's fill (the session's makerFeeRate) */
  maker?: boolean;
  /**
   * buy/sell opening a position: its rules at a distance (the strategy's Stop loss / Take profit / Trailing
   * stop at a distance), in price, as read when it was signalled; the ledger keeps them while it is open
   */
  stopDist?: number;
  targetDist?: number;
  trailDist?: number;
}

/**
 * A `strategy-signals` payload as the engine accepts it from the bus (any producer can write there):
 * numbers finite and within what an order can be (an amount as a graph's action node allows, a price as
 * a tick's), times a date can hold. Anything else is malformed: counted and skipped, never executed.
 */
const Num = (min: number, max: number) => z.number().finite().min(min).max(max);
const SignalSchema = z.object({
  id: z.string().min(1).max(200),
  sessionId: z.uuid(),
  userId: z.string().min(1).max(64),
  symbol: z.string().regex(SYMBOL_PATTERN),
  action: z.enum(['buy', 'sell', 'close']),
  sizing: z.enum(['all', 'fixed_qty', 'pct_equity', 'fixed_cash']),
  amount: Num(0, 1e12),
  source: z.string().max(100),
  tickTs: Num(-MAX_TIME_MS, MAX_TIME_MS),
  price: Num(0, MAX_PRICE),
  bid: Num(0, MAX_PRICE).optional(),
  ask: Num(0, MAX_PRICE).optional(),
  receivedAt: z.number().finite(),
  origin: z.string().max(200).optional(),
  then: z.enum(['paused', 'stopped']).optional(),
  maxEntries: z.number().int().min(1).max(100).optional(),
  percent: Num(0.01, 100).optional(),
  addStepPct: Num(0, 100).optional(),
  addScale: Num(0.01, 10).optional(),
  addStepScale: Num(0.1, 10).optional(),
  atPrice: z.boolean().optional(),
  maker: z.boolean().optional(),
  stopDist: Num(0, MAX_PRICE).optional(),
  targetDist: Num(0, MAX_PRICE).optional(),
  trailDist: Num(0, MAX_PRICE).optional(),
});

export function readSignal(data: unknown): { ok: true; sig: SignalMessage } | { ok: false; reason: string } {
  const r = SignalSchema.safeParse(data);
  if (r.success) return { ok: true, sig: r.data };
  const i = r.error.issues[0];
  return { ok: false, reason: i ? `${i.path.join('.') || 'signal'}: ${i.message}` : 'not a signal' };
}

/** A resting order as a session's view shows it. */
export interface RestingView {
  nodeId: string;
  action: 'buy' | 'sell';
  orderType: 'limit' | 'stop';
  level: number;
  until: string;
}
const restingView = (spec: CompiledPlan['actions'][number], level: number, until: number): RestingView => ({
  nodeId: spec.nodeId,
  action: spec.action === 'buy' ? 'buy' : 'sell',
  orderType: spec.orderType === 'stop' ? 'stop' : 'limit',
  level,
  until: new Date(until).toISOString(),
});

/** A resting order as saved on the session's row (LiveSession.restingState). */
export interface RestingState {
  nodeId: string;
  level: number;
  up: boolean;
  until: number;
  dist: PositionDistances | null;
  /** on candles: the bars it still rests, counting the one under way, and the last tick it was checked on */
  bars?: number;
  seen?: number;
}
const Dist = z.number().finite().min(0);
const RestingSchema = z.object({
  nodeId: z.string(),
  level: z.number().finite(),
  up: z.boolean(),
  until: z.number().finite(),
  dist: z.object({ stop: Dist, target: Dist, trail: Dist }).nullable(),
  bars: z.number().int().min(1).max(500).optional(),
  seen: z.number().finite().optional(),
});

export interface SessionSettings extends PaperConfig {
  risk: RiskLimits;
  evaluation: { mode: 'tick' } | { mode: 'candle'; intervalMs: number };
}

/**
 * One running paper-trading session on the live stream: its own strategy state (a one-bar evaluator of
 * the compiled plan), its ledger and its candle builder. Pure computation: `onTick` returns the signal
 * to publish, if any; the engine does the I/O. About 2-10 KB each, depending on the graph.
 */
export class LiveSession {
  /** the side the runner expects once its signals in flight are executed */
  intent: -1 | 0 | 1;
  /** the entries the position is expected to have once its signals in flight are executed */
  entriesIntent: number;
  /** a risk limit has asked to halt; no further signals until the engine acts */
  halting = false;
  /** best price since entry, for the trailing stop */
  extreme: number;
  marked = false;
  /** its limit and stop orders placed by hand, resting on its ticks (the engine checks them; open-orders.ts) */
  openOrders: readonly OpenOrder[] = NO_OPEN_ORDERS;
  /** the engine's commit lane for this session's orders */
  lane = 0;
  /** what its strategy warmed on when this engine last started or resumed it (a runner process warms its own) */
  warmedOn?: { storedCandles: number; windowTicks: number };
  /** which of the engine's equity flush slots writes this session's points */
  flushSlot = 0;
  /** the engine's working copy of the ledger while a batch of this session's orders is planned and committed */
  work: LedgerState | undefined = undefined;
  /** the strategy graph (sent to a runner thread) */
  graph: unknown;
  /** the tick a risk rule fired on (the strategy's action on that tick is ignored) */
  private riskTick?: Tick;
  /** the last mark's signal was a resting order's fill (the strategy's action on that tick still counts) */
  private restFilled = false;
  /** the tick whose strategy action the mark decided already (a candle's, before the tick's stops) */
  private actedOn?: Tick;
  /**
   * more signals for the tick, after its first: a ladder's further steps the tick is beyond too, and the
   * strategy's action on a tick that filled a resting order or took a partial take profit, taken after
   * that fill (the caller publishes them in order after the first, and empties it)
   */
  extra: SignalMessage[] | null = null;
  /**
   * A resting limit or stop order (an action node's orderType): the index of its action (-1: none), its
   * level, whether it fills at or above the level (a stop buy, a limit sell) or at or below, and the time
   * it lapses (the end of the action's validBars bars from the one it was placed in: candles, or minutes
   * on ticks)
   */
  private restAction = -1;
  private restLevel = 0;
  private restUp = false;
  private restUntil = 0;
  /**
   * on candles: the bars the resting order still rests, the one under way included (a bar is a candle
   * with ticks, as a backtest's bars are those in its data), and the last tick it was checked on (0: none)
   */
  private restBars = 0;
  private restLastTs = 0;
  /**
   * the price of the tick before the one marked last (0: none yet), and of that one: on candles, an order
   * the candle's action places rests from the candle's close, as a backtest's from its signal's close
   */
  private prevPrice = 0;
  private tickPrice = 0;
  /** the distances the resting order's position will keep (its rules at a distance, read when placed) */
  private restDist: PositionDistances | null = null;
  /** called when the resting order is placed, replaced, filled or lapses (the engine saves it) */
  onRestChange: ((s: LiveSession) => void) | undefined = undefined;
  /**
   * the values its rules at a distance read (plan.risk.distances' order) on the tick being decided, when a
   * runner thread evaluated the strategy (set by the engine around afterMark); else its evaluator has them
   */
  riskIn: ArrayLike<number> | null = null;
  /** the cooldown (its end) whose refused entry has been logged: later entries in it are not sent */
  private cooldownLogged = 0;
  /**
   * the ledger's fill count when a signal closing its position was sent: until that executes, the ledger
   * still shows the position, and its risk rules are not checked again (they would close it again, once
   * per tick of a batch in which the strategy re-enters)
   */
  private exitFills = -1;
  /** strategy, symbol and evaluation: sessions with the same key and warm-up share an evaluator */
  cohort = '';
  // The limits a mark checks on every tick, copied out of the settings and the plan (Infinity or 0: none),
  // so a mark reaches the session and its ledger and nothing else: at 10,000 sessions a tick's marks
  // spend their time fetching objects from memory, not computing.
  private maxDrawdownPct: number;
  private maxDailyLossPct: number;
  private readonly stopLossPct: number;
  private readonly takeProfitPct: number;
  /** below 100: the take profit closes this share of the position, once a position */
  private readonly takeProfitSharePct: number;
  /** the ledger's fill count when a partial take profit was sent: not again until that executes */
  private targetSentFills = -1;
  /** and the steps taken then (a step under one unit passes without a fill: see the engine) */
  private targetSentStep = -1;
  /** and the steps sent then (a ladder's steps the tick was beyond) */
  private targetSentCount = 0;
  private readonly trailingStopPct: number;
  private readonly trailingActivate: number;
  private readonly timeExitMs: number;
  /** margin trading: 1 (none, nothing liquidated) or the leverage, and the maintenance margin % */
  private readonly leverage: number;
  private readonly maintenanceMarginPct: number;
  /** a position pays at the funding times: perpetual futures' funding, or a short's borrow rate */
  private readonly funds: boolean;
  /** the strategy has rules at a distance (their levels are the ledger's stopDist, targetDist, trailDist) */
  private readonly distances: boolean;
  /** the stop moves to the entry once the best price has gained this fraction on it (0: never) */
  private readonly breakEven: number;
  /** it has a risk rule a mark checks (a stop, a target, an ROI table, a trail, a time exit) */
  private readonly anyRule: boolean;
  /** the strategy reads its own position (Position nodes): its evaluator is given it before each tick */
  private readonly positionAware: boolean;
  /** evaluated on candles: their length (ms); 0 on ticks */
  private readonly candleMs: number;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly symbol: string,
    readonly settings: SessionSettings,
    readonly plan: CompiledPlan,
    /**
     * the strategy's evaluator when it runs in this thread, maybe shared with other sessions (absent when
     * a worker thread or another process runs it, and while paused)
     */
    public evaluator: Evaluator | undefined,
    public ledger: LedgerState,
    public status: 'created' | 'running' | 'paused' | 'stopped' | 'failed',
  ) {
    this.intent = Math.sign(ledger.qty) as -1 | 0 | 1;
    this.entriesIntent = ledger.qty ? Math.max(1, ledger.entries) : 0;
    // -0 when unset: falsy like 0, but a double, so setting a price later keeps the session's shape (see copyLedger)
    this.extreme = ledger.lastPrice || ledger.avgPrice || -0;
    this.maxDrawdownPct = settings.risk?.maxDrawdownPct ?? Infinity;
    this.maxDailyLossPct = settings.risk?.maxDailyLossPct ?? Infinity;
    this.stopLossPct = plan.risk.stopLossPct ?? 0;
    this.takeProfitPct = plan.risk.takeProfitPct ?? 0;
    this.takeProfitSharePct = plan.risk.takeProfitSharePct ?? 100;
    this.trailingStopPct = plan.risk.trailingStopPct ?? 0;
    this.trailingActivate = (plan.risk.trailingActivatePct ?? 0) / 100;
    this.timeExitMs = plan.risk.timeExitMs ?? 0;
    this.leverage = settings.leverage && settings.leverage > 1 ? settings.leverage : 1;
    this.maintenanceMarginPct = settings.maintenanceMarginPct ?? DEFAULT_MAINTENANCE_MARGIN_PCT;
    this.funds = paysFunding(settings);
    this.distances = !!plan.risk.distances?.length;
    this.breakEven = (plan.risk.breakEvenPct ?? 0) / 100;
    this.positionAware = plan.positionSlots.length > 0;
    this.candleMs = settings.evaluation.mode === 'candle' ? settings.evaluation.intervalMs : 0;
    this.anyRule = !!(
      this.stopLossPct ||
      this.takeProfitPct ||
      this.trailingStopPct ||
      this.timeExitMs ||
      this.distances ||
      this.breakEven ||
      plan.risk.roi ||
      plan.risk.ladder
    );
  }

  /**
   * The session's own risk limits changed while it runs (`PATCH /api/forward-tests/:id`): its orders are
   * planned, and its marks checked, against these from now on. A limit already beyond is acted on by the
   * next tick's mark.
   */
  setLimits(risk: RiskLimits): void {
    this.settings.risk = risk;
    this.maxDrawdownPct = risk.maxDrawdownPct ?? Infinity;
    this.maxDailyLossPct = risk.maxDailyLossPct ?? Infinity;
  }

  /** Feeds history without acting on it (warm-up after a restart). */
  warm(t: Tick): void {
    this.evaluator?.evaluate(t);
  }

  /**
   * In-process runner: marks the ledger, evaluates the strategy (on every tick, so its indicators never
   * skip one), then decides. A risk rule that fires on a tick wins over the strategy's action on it.
   */
  onTick(t: Tick, receivedAt: number): SignalMessage | null {
    const ev = this.evaluator;
    if (!ev) return this.afterMark(this.mark(t, receivedAt), -1, t, receivedAt);
    if (this.candleMs) {
      // the candle the tick closes decides on the position it ended with, before the tick's stops and
      // targets (see mark)
      this.positionToEvaluator(ev);
      const a = ev.evaluate(t);
      return this.afterMark(this.mark(t, receivedAt, a), a, t, receivedAt);
    }
    const first = this.mark(t, receivedAt);
    this.positionToEvaluator(ev);
    return this.afterMark(first, ev.evaluate(t), t, receivedAt);
  }

  /**
   * A strategy reading its own position: its side and entries as its signals sent make them (so it never
   * sends an entry twice), its entry price and time the ledger's once filled (undefined until then).
   */
  private positionToEvaluator(ev: Evaluator): void {
    if (!this.positionAware) return;
    const l = this.ledger;
    const side = this.intent;
    const filled = side !== 0 && Math.sign(l.qty) === side;
    ev.setPosition?.(side, filled ? l.avgPrice : NaN, filled ? l.entryTs : NaN, this.entriesIntent);
  }

  /**
   * The tick's signal after its mark's (`first`) and the strategy's fired action (`a`, -1: none): a risk
   * rule's tick is the rule's; after a resting order's fill the action still has its turn, its signal in
   * `extra`.
   */
  afterMark(first: SignalMessage | null, a: number, t: Tick, receivedAt: number): SignalMessage | null {
    // the mark took the action already (a candle's, before the tick's stops)
    if (this.actedOn === t) {
      this.actedOn = undefined;
      a = -1;
    }
    if (!first) return a >= 0 ? this.decide(a, t, receivedAt) : null;
    // read and cleared here, not on every mark: marks of ten thousand sessions write nothing they need not
    const rested = this.restFilled;
    this.restFilled = false;
    if (rested && a >= 0) {
      const then = this.decide(a, t, receivedAt);
      if (then) (this.extra ??= []).push(then);
    }
    return first;
  }

  /**
   * Marks the ledger at the tick and applies risk limits and risk nodes: a closing signal when one fires.
   * `a`: the strategy's action fired on the tick (-1: none, or not known yet). On candles, an action the
   * tick's candle fired goes before the open position's stops and targets, as a backtest fills the
   * order of a bar's signal at the next bar's open before it checks them: a turn round or an exit is the
   * strategy's, and the rules wait for the next tick (afterMark then does not decide it again).
   */
  mark(t: Tick, receivedAt: number, a = -1): SignalMessage | null {
    const l = this.ledger;
    // funding times passed since the last tick: the open position pays (or receives) before the mark
    if (this.funds) settleFunding(l, fundingPct(this.settings, l.qty), t.price, t.ts);
    const breach = markLedgerWithin(l, t.price, t.ts, this.maxDrawdownPct, this.maxDailyLossPct);
    this.prevPrice = this.tickPrice;
    this.tickPrice = t.price;
    this.marked = true;
    if (this.halting) return null;
    if (breach) {
      this.halting = true;
      this.riskTick = t;
      return this.signal(t, receivedAt, 'close', breach, breach === 'max_drawdown' ? 'stopped' : 'paused');
    }
    // on candles, the action of the candle this tick closes replaces a resting order before the tick (the
    // next bar's open) is checked against it, as a backtest's next signal replaces its pending order
    if (a >= 0 && this.restAction >= 0 && this.candleMs) {
      this.restAction = -1;
      this.onRestChange?.(this);
    }
    // a resting limit or stop order the tick reaches fills (before the stops, as a backtest's pending
    // order fills at the bar's open before its stops are checked)
    if (this.restAction >= 0) {
      const bars = this.restBars;
      const sig = this.reached(t, receivedAt, false);
      // filled or lapsed: the engine's saved copy goes too; a bar of it over: the copy says so
      if (this.restAction < 0 || this.restBars !== bars) this.onRestChange?.(this);
      if (sig) {
        this.restFilled = true;
        return sig;
      }
    }
    // stop-loss / take-profit / trailing stop from the graph's risk nodes, on every tick
    if (l.qty !== 0 && this.intent === Math.sign(l.qty) && l.fills !== this.exitFills) {
      if (this.leverage > 1) {
        // a leveraged position is liquidated on the first tick at or past its liquidation price, at that
        // tick's price, no worse than the bankruptcy price (before any stop: a tick past both is a gap)
        const liq = liquidationPrice(l.qty, l.avgPrice, this.leverage, this.maintenanceMarginPct);
        if (l.qty > 0 ? t.price <= liq : t.price >= liq) {
          this.riskTick = t;
          const at = liquidationFill(l.qty, l.avgPrice, this.leverage, t.price);
          return this.signal(t, receivedAt, 'close', LIQUIDATION, undefined, 'all', 0, at);
        }
      }
      if (a >= 0 && this.candleMs) {
        this.actedOn = t;
        const sig = this.decide(a, t, receivedAt);
        if (sig) return sig;
      }
      const exit = this.riskExit(t.price, t.ts);
      if (exit === 'take_profit' && this.targetShare() < 100) return this.partialTarget(t, receivedAt);
      if (exit) {
        this.riskTick = t;
        return this.signal(t, receivedAt, 'close', exit);
      }
    }
    return null;
  }

  /**
   * A partial take profit on the tick (a ladder's step): its share closed, the rest still open (the ledger
   * counts it taken). A ladder's next steps the tick is beyond too follow it in `extra`, each a share of
   * what the one before leaves, the last closing what is left, as a backtest's bar that reaches several
   * steps takes each. The strategy's action on the tick has its turn after them while the position stays
   * open.
   */
  private partialTarget(t: Tick, receivedAt: number): SignalMessage {
    const l = this.ledger;
    const first = this.signal(
      t,
      receivedAt,
      'close',
      'take_profit',
      undefined,
      'all',
      0,
      t.price,
      1,
      this.targetShare(),
    );
    let sent = 1;
    const ladder = this.plan.risk.ladder;
    for (let j = l.targetTaken + 1; ladder && j < ladder.length; j++) {
      const level = this.stepLevel(j);
      if (!(l.qty > 0 ? t.price >= level : t.price <= level)) break;
      const share = ladder[j]!.sharePct;
      const sig =
        share < 100
          ? this.signal(t, receivedAt, 'close', 'take_profit', undefined, 'all', 0, t.price, 1, share)
          : this.signal(t, receivedAt, 'close', 'take_profit');
      // one tick's steps, one id each
      sig.id += `:${j}`;
      (this.extra ??= []).push(sig);
      sent++;
      if (share >= 100) this.riskTick = t;
    }
    this.targetSentFills = l.fills;
    this.targetSentStep = l.targetTaken;
    this.targetSentCount = sent;
    if (this.riskTick !== t) this.restFilled = true;
    return first;
  }

  /** The session's signals in flight have executed (or it was resynced): what it expects is what its ledger holds. */
  settled(): void {
    this.intent = Math.sign(this.ledger.qty) as -1 | 0 | 1;
    this.entriesIntent = this.ledger.qty ? Math.max(1, this.ledger.entries) : 0;
    this.exitFills = -1;
  }

  /** What the strategy's fired action (an index into plan.actions) means for this session now. */
  decide(a: number, t: Tick, receivedAt: number): SignalMessage | null {
    const was = this.restAction;
    const wasLevel = this.restLevel;
    const wasUntil = this.restUntil;
    const sig = this.decideNow(a, t, receivedAt);
    // a resting order placed, replaced or gone: the engine keeps it (restingState) for a restart
    if (
      this.onRestChange &&
      (was !== this.restAction || (was >= 0 && (wasLevel !== this.restLevel || wasUntil !== this.restUntil)))
    )
      this.onRestChange(this);
    return sig;
  }

  private decideNow(a: number, t: Tick, receivedAt: number): SignalMessage | null {
    if (this.halting || this.riskTick === t) return null;
    // a new action replaces a resting order (as a backtest's next signal replaces its pending one)
    this.restAction = -1;
    const spec = this.plan.actions[a]!;
    if (spec.action === 'close' && spec.closePct < 100) {
      // a partial exit: of the position open (or expected to be), which stays open
      if (this.intent === 0) return null;
      return this.signal(t, receivedAt, 'close', spec.nodeId, undefined, 'all', 0, t.price, 1, spec.closePct);
    }
    if (!this.wanted(spec, t.price)) return null;
    const until = this.ledger.cooldownUntil;
    if (this.sideOf(spec.action) !== 0 && this.intent === 0 && t.ts < until) {
      // an entry in a cooldown: the first is sent, and refused and logged (COOLDOWN); the rest of this
      // cooldown's are not, or a strategy whose entry condition holds for an hour logs an order a tick
      if (this.cooldownLogged === until) return null;
      this.cooldownLogged = until;
    }
    if (spec.orderType !== 'market') {
      // a limit or stop order rests offsetPct from the signal's price (a limit buy below, a stop buy
      // above; mirrored for sells) until its bars end; this very tick may reach it. On candles that price
      // is the closed candle's close (the tick before this one, which opens the next bar), on ticks this one.
      const iv = this.candleMs;
      this.restAction = a;
      this.restDist = this.distancesNow();
      this.restLevel = orderLevel(spec, iv && this.prevPrice > 0 ? this.prevPrice : t.price);
      this.restUp = fillsAbove(spec);
      // the end of its last bar (on candles the soonest it can be: a candle with no ticks is no bar)
      this.restUntil = iv ? t.ts - (t.ts % iv) + iv * spec.validBars : t.ts + 60_000 * spec.validBars;
      this.restBars = spec.validBars;
      this.restLastTs = t.ts;
      return this.reached(t, receivedAt, true);
    }
    return this.order(spec, t, receivedAt, t.price, this.distancesNow());
  }

  /** The distances its rules at a distance read now (null: it has none). */
  private distancesNow(): PositionDistances | null {
    if (!this.distances) return null;
    const given = this.riskIn;
    const ev = this.evaluator;
    return distancesAt(this.plan.risk, (slot, k) => (given ? given[k]! : (ev?.value?.(slot) ?? NaN)));
  }

  /**
   * An entry action's signal (its sizing at the session's leverage, the additions it allows), at a price,
   * with the distances a position it opens keeps (`d`, read when it was signalled). None when it sizes by
   * the risk at a stop at a distance that is not there (its indicator warming up): no size, as in backtests.
   */
  private order(
    spec: CompiledPlan['actions'][number],
    t: Tick,
    receivedAt: number,
    price: number,
    d: PositionDistances | null,
  ): SignalMessage | null {
    if (spec.perStop && !d?.stop) return null;
    const amount = amountAt(spec, this.leverage, price, d ? d.stop : 0);
    const sig = this.signal(
      t,
      receivedAt,
      spec.action,
      spec.nodeId,
      undefined,
      spec.sizing,
      amount,
      price,
      spec.maxEntries,
    );
    if (spec.addStepPct && spec.maxEntries > 1) sig.addStepPct = spec.addStepPct;
    if (spec.addScale !== 1 && spec.maxEntries > 1) sig.addScale = spec.addScale;
    if (spec.addStepPct && spec.addStepScale !== 1 && spec.maxEntries > 1) sig.addStepScale = spec.addStepScale;
    if (d) {
      if (d.stop) sig.stopDist = d.stop;
      if (d.target) sig.targetDist = d.target;
      if (d.trail) sig.trailDist = d.trail;
    }
    return sig;
  }

  /**
   * The resting order as the engine saves it (null: none): its action node, level, side, the time it
   * lapses and the distances its position will keep. restoreResting takes it back after a restart.
   */
  restingState(): RestingState | null {
    if (this.restAction < 0) return null;
    return {
      nodeId: this.plan.actions[this.restAction]!.nodeId,
      level: this.restLevel,
      up: this.restUp,
      until: this.restUntil,
      dist: this.restDist,
      ...(this.candleMs ? { bars: this.restBars, seen: this.restLastTs } : {}),
    };
  }

  /** Takes back a saved resting order (one whose action node this strategy no longer has is dropped). */
  restoreResting(x: unknown): void {
    const saved = this.savedResting(x);
    if (!saved) return;
    this.restAction = saved.a;
    this.restLevel = saved.r.level;
    this.restUp = saved.r.up;
    this.restUntil = saved.r.until;
    this.restDist = saved.r.dist;
    this.restBars = saved.r.bars ?? 1;
    this.restLastTs = saved.r.seen ?? 0;
  }

  /** A saved resting order (restingState) and its action's index, if it is one and the strategy has the action. */
  private savedResting(x: unknown): { a: number; r: RestingState } | null {
    const r = RestingSchema.safeParse(x);
    if (!r.success) return null;
    const a = this.plan.actions.findIndex((s) => s.nodeId === r.data.nodeId && s.orderType !== 'market');
    return a < 0 ? null : { a, r: r.data };
  }

  /**
   * The limit or stop order resting on the ticks, if any: its action node, side, kind, level and the time
   * it lapses (what the session's view shows).
   */
  restingOrder(): RestingView | null {
    if (this.restAction < 0) return null;
    return restingView(this.plan.actions[this.restAction]!, this.restLevel, this.restUntil);
  }

  /**
   * The resting order a remote runner saved on the session's row (`resting`), as restingOrder gives it:
   * the engine of a session whose strategy runs elsewhere shows it from there.
   */
  savedRestingOrder(x: unknown): RestingView | null {
    const saved = this.savedResting(x);
    return saved && restingView(this.plan.actions[saved.a]!, saved.r.level, saved.r.until);
  }

  /** The side an action leaves the session on: long (1), short (-1) or flat (0; a sell without shorts too). */
  private sideOf(action: OrderAction): -1 | 0 | 1 {
    return action === 'buy' ? 1 : action === 'sell' ? (this.settings.allowShort ? -1 : 0) : 0;
  }

  /**
   * Whether an entry action means an order now, at this price: not for the side already held, but an
   * addition it allows (while the position may have more entries, and once the price is `addStepPct`
   * against the average entry the ledger holds).
   */
  private wanted(spec: CompiledPlan['actions'][number], price: number): boolean {
    const want = this.sideOf(spec.action);
    if (want !== this.intent) return true;
    if (want === 0 || this.entriesIntent >= spec.maxEntries) return false;
    const l = this.ledger;
    // the ledger may still be flat (the entry in flight): the step counts from a filled entry
    return (
      l.qty === 0 ||
      addStepReached(want, l.avgPrice, price, addStepFor(spec.addStepPct, spec.addStepScale, this.entriesIntent))
    );
  }

  /**
   * The resting order's signal when the tick reaches its level (nothing once it has lapsed). A limit
   * order fills at its level, without slippage, or at the tick's price when the tick that places it is
   * beyond the level already (`placing`: an order that meets the market at once, as a backtest's pending
   * order meets a bar's open); a stop order, once reached, is a market order.
   */
  private reached(t: Tick, receivedAt: number, placing: boolean): SignalMessage | null {
    const iv = this.candleMs;
    // on candles, the first tick of a later candle than the last it was checked on is that bar's open: a
    // bar of its validBars over (it lapses after the last), and a gap through the level fills there, as a
    // backtest's order resting on fills at the bar's open. On ticks it lapses at its time.
    let opens = false;
    if (iv) {
      const last = this.restLastTs;
      opens = last > 0 && Math.floor(t.ts / iv) > Math.floor(last / iv);
      this.restLastTs = t.ts;
      // (a saved order from before the bars were counted: at its time)
      if (opens ? --this.restBars <= 0 : last === 0 && t.ts >= this.restUntil) {
        this.restAction = -1;
        return null;
      }
      if (opens) this.restUntil = t.ts - (t.ts % iv) + iv * this.restBars;
    } else if (t.ts >= this.restUntil) {
      this.restAction = -1;
      return null;
    }
    const level = this.restLevel;
    if (this.restUp ? t.price < level : t.price > level) return null;
    const a = this.restAction;
    const spec = this.plan.actions[a]!;
    this.restAction = -1;
    // the position may have moved since it was placed (a stop closed it): an order only if still wanted
    if (!this.wanted(spec, t.price)) return null;
    if (spec.orderType === 'stop') return this.order(spec, t, receivedAt, t.price, this.restDist);
    // at the tick's price when it meets the market at once (a taker's fill), else at its level, as a maker
    const meets = placing || opens;
    const sig = this.order(spec, t, receivedAt, meets ? t.price : level, this.restDist);
    if (sig) {
      sig.atPrice = true;
      sig.maker = !meets;
    }
    return sig;
  }

  /**
   * The open position's stop loss now (NaN: none): at its distance from the average entry, else at the
   * strategy's percent; at least at the entry once a break-even's gain has been seen.
   */
  stopLevel(): number {
    const l = this.ledger;
    const long = l.qty > 0;
    const entry = l.avgPrice;
    const pct = this.stopLossPct;
    const stop = l.stopDist
      ? entry + (long ? -l.stopDist : l.stopDist)
      : pct
        ? entry * (long ? 1 - pct / 100 : 1 + pct / 100)
        : NaN;
    const be = this.breakEven;
    if (!be || !(long ? this.extreme >= entry * (1 + be) : this.extreme <= entry * (1 - be))) return stop;
    return stop !== stop ? entry : long ? Math.max(stop, entry) : Math.min(stop, entry);
  }

  /**
   * The open position's take profit now, or at `ts` (NaN: none, or a partial one already taken): an ROI
   * table's for the time it has been held then.
   */
  targetLevel(ts = this.ledger.lastTs): number {
    const l = this.ledger;
    const long = l.qty > 0;
    // a ladder's next step (none once all are taken)
    if (this.plan.risk.ladder) return this.stepLevel(l.targetTaken);
    if (l.targetTaken) return NaN;
    if (l.targetDist) return l.avgPrice + (long ? l.targetDist : -l.targetDist);
    // an ROI table's gain may be 0 (any gain) or below
    const roi = this.plan.risk.roi;
    const pct = roi ? roiAt(roi, ts - l.entryTs) : this.takeProfitPct || NaN;
    return l.avgPrice * (long ? 1 + pct / 100 : 1 - pct / 100);
  }

  /** The level of the open position's ladder step `j` (NaN: no such step). */
  private stepLevel(j: number): number {
    const l = this.ledger;
    const step = this.plan.risk.ladder![j];
    return step ? l.avgPrice * (l.qty > 0 ? 1 + step.pct / 100 : 1 - step.pct / 100) : NaN;
  }

  /** The share (%) of the open position its take profit closes now: the ladder's next step's, or the node's. */
  private targetShare(): number {
    const ladder = this.plan.risk.ladder;
    return ladder ? (ladder[this.ledger.targetTaken]?.sharePct ?? 100) : this.takeProfitSharePct;
  }

  /**
   * The open position's trailing stop now (NaN: none, or not active yet): its distance, or the strategy's
   * percent, from the best price since entry.
   */
  trailLevel(): number {
    const l = this.ledger;
    const long = l.qty > 0;
    const pct = this.trailingStopPct;
    if (!l.trailDist && !pct) return NaN;
    const act = this.trailingActivate;
    const x = this.extreme || l.avgPrice;
    if (act && !(long ? x >= l.avgPrice * (1 + act) : x <= l.avgPrice * (1 - act))) return NaN;
    return l.trailDist ? x + (long ? -l.trailDist : l.trailDist) : x * (long ? 1 - pct / 100 : 1 + pct / 100);
  }

  private riskExit(price: number, ts: number): string | null {
    if (!this.anyRule) return null;
    const l = this.ledger;
    const long = l.qty > 0;
    if (!this.extreme) this.extreme = l.avgPrice;
    this.extreme = long ? Math.max(this.extreme, price) : Math.min(this.extreme, price);
    const stop = this.stopLevel();
    if (long ? price <= stop : price >= stop) return 'stop_loss';
    const trail = this.trailLevel();
    if (long ? price <= trail : price >= trail) return 'trailing_stop';
    const target = this.targetLevel(ts);
    // a partial take profit once a position (and not again while it is in flight: while the ledger has
    // taken fewer of the steps sent than were sent, and made no other fill since)
    const taken = l.targetTaken - this.targetSentStep;
    const inFlight =
      taken >= 0 &&
      taken < this.targetSentCount &&
      l.fills >= this.targetSentFills &&
      l.fills - this.targetSentFills <= taken;
    if (!inFlight && (long ? price >= target : price <= target)) return this.plan.risk.roi ? 'roi' : 'take_profit';
    const timeExitMs = this.timeExitMs;
    if (timeExitMs && ts - l.entryTs >= timeExitMs) return 'time_exit';
    return null;
  }

  private signal(
    t: Tick,
    receivedAt: number,
    action: OrderAction,
    source: string,
    then?: 'paused' | 'stopped',
    sizing: OrderSizing = 'all',
    amount = 0,
    /** the price to fill at when it is not the tick's (a liquidation's) */
    price = t.price,
    /** buy/sell: the entries the position may have (above 1: this one may add to it) */
    maxEntries = 1,
    /** a partial exit: the share of the position it closes (%); the position stays open */
    percent?: number,
  ): SignalMessage {
    if (percent === undefined) {
      const intent = this.sideOf(action);
      if (this.ledger.qty !== 0 && intent !== Math.sign(this.ledger.qty)) this.exitFills = this.ledger.fills;
      this.entriesIntent = intent === 0 ? 0 : intent === this.intent ? this.entriesIntent + 1 : 1;
      this.intent = intent;
    }
    return {
      id: `${this.id}:${t.ts}:${t.seq ?? 0}:${source}`,
      sessionId: this.id,
      userId: this.userId,
      symbol: this.symbol,
      action,
      sizing,
      amount,
      source,
      tickTs: t.ts,
      price,
      // one shape for every signal (absent fields undefined, which JSON leaves out): conditional
      // spreads built two throwaway objects per signal and left each signal a shape of its own
      bid: t.bid,
      ask: t.ask,
      receivedAt,
      origin: undefined,
      then,
      maxEntries: maxEntries > 1 ? maxEntries : undefined,
      percent,
      atPrice: undefined,
      maker: undefined,
      addStepPct: undefined,
      addScale: undefined,
      addStepScale: undefined,
      stopDist: undefined,
      targetDist: undefined,
      trailDist: undefined,
    };
  }
}

/**
 * The strategy side of a session: a one-bar evaluator of the compiled plan fed every tick (tick mode) or
 * each closed candle (candle mode). Runs in the engine's thread or in a runner worker thread; both give
 * the same fired actions for the same ticks.
 */
/** A one-bar evaluator of `plan` for a session: bars are the session's candles, or its ticks. */
export function sessionEvaluator(
  plan: CompiledPlan,
  evaluation: SessionSettings['evaluation'],
  /** where the other symbols it reads (Other symbol nodes) come from; without, they are unknown (NaN) */
  others?: OtherSymbolBars,
): SessionEvaluator {
  // a higher timeframe's bar completes with the candle that closes it; ticks have no interval
  return new SessionEvaluator(
    plan.instantiate(1, evaluation.mode === 'candle' ? evaluation.intervalMs / 1000 : 0),
    evaluation,
    others,
  );
}

export class SessionEvaluator implements Evaluator {
  private cStart = -1;
  private cOpen = 0;
  private cHigh = 0;
  private cLow = 0;
  private cClose = 0;
  private cVol = 0;
  /** the other symbols' bars at the bar being evaluated (plan.symbols order, five values each) */
  private readonly otherRow: Float64Array | undefined;
  constructor(
    readonly inst: StrategyInstance,
    readonly evaluation: SessionSettings['evaluation'],
    /** the other symbols' bars it reads; a warm-up's own, then its runner's (see warmedWithOthers) */
    public others?: OtherSymbolBars,
  ) {
    if (inst.plan.symbols.length) this.otherRow = new Float64Array(5 * inst.plan.symbols.length).fill(NaN);
  }

  /** The other symbols' bars at a bar (a tick, or a candle that opened at `candleStart`), or undefined. */
  private othersAt(candleStart: number): Float64Array | undefined {
    const row = this.otherRow;
    if (row && this.others) this.others.read(this.inst.plan.symbols, this.evaluation, candleStart, row);
    return row;
  }

  /** A slot's value as of the last bar evaluated (what rules at a distance read when an action fires). */
  value(slot: number): number {
    return this.inst.value(slot);
  }

  setPosition(qty: number, entryPrice: number, entryTs: number, entries: number): void {
    this.inst.setPosition(qty, entryPrice, entryTs, entries);
  }

  /** Returns the index of the action fired on this tick (or on the candle it closed), or -1. */
  evaluate(t: Pick<Tick, 'ts' | 'price' | 'size'>): number {
    const ev = this.evaluation;
    if (ev.mode === 'tick')
      return this.inst.step(t.price, t.price, t.price, t.price, t.size, t.ts / 1000, this.othersAt(0));
    const start = t.ts - (t.ts % ev.intervalMs);
    let fired = -1;
    if (this.cStart >= 0 && start > this.cStart)
      fired = this.inst.step(
        this.cOpen,
        this.cHigh,
        this.cLow,
        this.cClose,
        this.cVol,
        this.cStart / 1000,
        this.othersAt(this.cStart),
      );
    if (start > this.cStart) {
      this.cStart = start;
      this.cOpen = this.cHigh = this.cLow = this.cClose = t.price;
      this.cVol = t.size;
    } else if (start === this.cStart) {
      if (t.price > this.cHigh) this.cHigh = t.price;
      if (t.price < this.cLow) this.cLow = t.price;
      this.cClose = t.price;
      this.cVol += t.size;
    }
    return fired;
  }
}
