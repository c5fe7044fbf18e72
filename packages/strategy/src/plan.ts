import type { BarColumns, Cooldown, CooldownAfter } from '@algotrade/core';
import type { ActionKind, NodeType, Params, Sizing, Step } from './types.ts';
import { BAR_SLOT_COUNT, stepOf, TIMELESS } from './types.ts';

export interface PlanNode {
  id: string;
  type: NodeType;
  params: Params;
  inputs: number[];
  outputs: number[];
  /** 0: the strategy's bars; a higher timeframe's seconds; TIMELESS: runs wherever read (compiler.ts) */
  timeframe?: number;
}

/** The nodes that run on one higher timeframe's bars, and how their values reach the strategy's bars. */
export interface TimeframeSpec {
  seconds: number;
  /** bucket alignment: weeks start on Monday 00:00 UTC, every other timeframe at midnight UTC */
  offset: number;
  /** in topological order: the timeframe's own nodes and the timeless nodes they read */
  nodes: PlanNode[];
  /** each higher-timeframe source's five output slots (open, high, low, close, volume) */
  sources: number[][];
  /** the slots read on the strategy's bars: each holds the last completed higher bar's value */
  carried: number[];
}

/**
 * Another symbol's bars aligned with a strategy's bar times `ts` (both epoch ms, ascending, of the same
 * interval): row i holds its last bar that opened at or before ts[i] (the bar of the same time, which
 * closes with the strategy's, else the last one before it, carried), NaN before its first. Five columns:
 * open, high, low, close, volume.
 */
export function alignBars(ts: ArrayLike<number>, other: BarColumns): Float64Array[] {
  const n = ts.length;
  // first each row's bar of the other series (or -1), then each field copied through it
  const at = new Int32Array(n);
  const ots = other.ts;
  const m = other.length;
  for (let i = 0, j = -1; i < n; i++) {
    const t = ts[i]!;
    while (j + 1 < m && ots[j + 1]! <= t) j++;
    at[i] = j;
  }
  // in shared memory, as toColumns: an engine pool's threads read it where it is
  const mem = new SharedArrayBuffer(Math.max(1, 5 * n) * 8);
  return [other.open, other.high, other.low, other.close, other.volume].map((field, k) => {
    const out = new Float64Array(mem, k * n * 8, n);
    for (let i = 0; i < n; i++) {
      const j = at[i]!;
      out[i] = j < 0 ? NaN : field[j]!;
    }
    return out;
  });
}

/** Monday 1970-01-05 00:00 UTC, in seconds: weekly buckets start there. */
const WEEK_OFFSET = 4 * 86_400;

/**
 * The bar interval of a series in seconds: the smallest gap between consecutive times among its first
 * 200 bars (gaps in the data only make gaps larger; weekends do not hide a daily interval). 0 if unknown.
 */
export function barSecondsOf(tsMs: ArrayLike<number>, from = 0, to = tsMs.length): number {
  let best = Infinity;
  for (let i = from + 1; i < Math.min(to, from + 200); i++) {
    const d = tsMs[i]! - tsMs[i - 1]!;
    if (d > 0 && d < best) best = d;
  }
  return best === Infinity ? 0 : best / 1000;
}

export interface ActionSpec {
  nodeId: string;
  action: ActionKind;
  /** as the engines take it: `risk_pct` is resolved into the `pct_equity` it amounts to (sizingOf) */
  sizing: Exclude<Sizing, 'risk_pct'>;
  amount: number;
  /**
   * set for sizing by risk: `amount` is the position's value as % of equity (it may be above 100), so its
   * margin is amount / leverage % (amountAt); other sizes are margins
   */
  perLeverage?: boolean;
  /**
   * sizing by risk with a stop at a distance (RiskSpec.distances): `amount` is the % of equity at risk, and
   * the position's value as % of equity is amount × price / the stop's distance (amountAt)
   */
  perStop?: boolean;
  /** market fills at the next open; limit/stop orders are placed offsetPct from the signal close and live one bar */
  orderType: 'market' | 'limit' | 'stop';
  offsetPct: number;
  /** a limit/stop order rests this many bars unless filled or replaced (1: the next bar only) */
  validBars: number;
  /** buy/sell: the entries a position may have (above 1: a signal in its direction adds to it) */
  maxEntries: number;
  /** an addition only once the price is this % against the position's average entry (0: any price) */
  addStepPct: number;
  /**
   * each addition's amount is this many times the one before (1: the same): the k-th entry's amount is
   * amount × addScale^(k-1), as a DCA bot's safety order volume scale (an `all` sizing takes what is left)
   */
  addScale: number;
  /**
   * each addition's step (addStepPct) is this many times the one before (1: the same): the k-th entry
   * needs addStepPct × addStepScale^(k-2) against the average entry (a DCA bot's safety order step scale)
   */
  addStepScale: number;
  /** close: the share of the open position it closes, % (100: all) */
  closePct: number;
  triggerSlot: number;
}

export interface RiskSpec {
  stopLossPct?: number;
  takeProfitPct?: number;
  /** the share of the position the take profit closes (%; below 100: once a position, the rest runs) */
  takeProfitSharePct?: number;
  trailingStopPct?: number;
  /** the trailing stop is active once the best price since entry has gained this much (%) on the entry */
  trailingActivatePct?: number;
  /**
   * the stop loss (at a percent or a distance) moves to the entry once the best price since entry has
   * gained this much (%) on it; with no stop (a distance not yet defined) there is one at the entry then
   */
  breakEvenPct?: number;
  /**
   * ROI table (freqtrade's minimal_roi): the take profit's gain (%) by time held, its steps in order of
   * `afterMs` (the first at 0): see roiAt
   */
  roi?: { afterMs: number; pct: number }[];
  /**
   * A take-profit ladder: its steps in order, each the gain (%) on the (average) entry it fires at and the
   * share (%) of the position then open that it closes (100: what is left), the n-th step once the position
   * has taken n - 1 (the ledger's `targetTaken`)
   */
  ladder?: { pct: number; sharePct: number }[];
  /** Time exit: a position held this long (ms) is closed at the market */
  timeExitMs?: number;
  /** Cooldown: no new position for a while after an exit of a kind */
  cooldown?: Cooldown;
  /**
   * the rules at a distance read from the graph (Stop loss / Take profit / Trailing stop at a distance):
   * each reads `slot` on the bar of the signal that opens a position, and its level is `multiplier` times
   * that value from the entry (the best price for the trail), kept for the position's life
   */
  distances?: RiskDistance[];
}

export type DistanceRule = 'stop' | 'target' | 'trail';
export interface RiskDistance {
  rule: DistanceRule;
  slot: number;
  multiplier: number;
}

/**
 * The gain (%) an ROI table asks of a position held `heldMs`: its last step whose time has come. Backtests
 * count from the entry bar's open to the bar's, paper sessions from the entry fill to the tick.
 */
export function roiAt(steps: readonly { afterMs: number; pct: number }[], heldMs: number): number {
  let pct = steps[0]!.pct;
  for (let k = 1; k < steps.length && heldMs >= steps[k]!.afterMs; k++) pct = steps[k]!.pct;
  return pct;
}

/** A position's distances in price (0: no such rule, or its value was not a positive number). */
export interface PositionDistances {
  stop: number;
  target: number;
  trail: number;
}

/**
 * The distances a position opened now keeps: each distance rule's `multiplier` times its input's value
 * (`valueOf(slot, k)`: the slot it reads, the rule's index in `distances`), 0 where that is not a positive
 * number. Backtests and paper sessions alike.
 */
export function distancesAt(risk: RiskSpec, valueOf: (slot: number, rule: number) => number): PositionDistances {
  const d: PositionDistances = { stop: 0, target: 0, trail: 0 };
  const rules = risk.distances ?? [];
  for (let k = 0; k < rules.length; k++) {
    const r = rules[k]!;
    const v = r.multiplier * valueOf(r.slot, k);
    d[r.rule] = v > 0 && v < Infinity ? v : 0;
  }
  return d;
}

/**
 * The rule each level-setting risk node type sets, at a percent or at a distance (the types with an input),
 * or as an ROI table: a graph has at most one node for each rule (the compiler says so), and the rule's
 * own parameters (a stop's break-even, a target's share, a trail's activation) are the same on each type.
 */
export const RISK_RULE: Readonly<Record<string, DistanceRule>> = {
  'risk.stop_loss': 'stop',
  'risk.stop_distance': 'stop',
  'risk.take_profit': 'target',
  'risk.target_distance': 'target',
  'risk.roi_table': 'target',
  'risk.take_profit_ladder': 'target',
  'risk.trailing_stop': 'trail',
  'risk.trailing_distance': 'trail',
};

/**
 * A take-profit ladder node's steps in use (share above 0) in order of their gains (steps at the same gain
 * are one, their shares summed), each share made a share of the position open when it fires: 50, 25, 25
 * (of the position before the first step) are 50, 50 and 100 % of what is open.
 */
export function ladderSteps(params: Readonly<Record<string, unknown>>): { pct: number; sharePct: number }[] {
  const used: { pct: number; share: number }[] = [];
  for (const k of [1, 2, 3]) {
    const share = params[`share${k}`] as number;
    if (!(share > 0)) continue;
    const pct = params[`pct${k}`] as number;
    const same = used.find((s) => s.pct === pct);
    if (same) same.share += share;
    else used.push({ pct, share });
  }
  used.sort((a, b) => a.pct - b.pct);
  let left = 100;
  return used.map(({ pct, share }) => {
    // the last of shares adding up to 100 (33.33, 33.33, 33.34) closes what is left, float error or not
    const sharePct = share >= left - 1e-9 ? 100 : (share / left) * 100;
    left -= share;
    return { pct, sharePct };
  });
}

export type { BarColumns } from '@algotrade/core';

export const BLOCK = 256;

/**
 * The bars a strategy warms on before it trades, for a declared warm-up of `warmup` bars (the bars before
 * its first defined signal): ten times that and one. The declared warm-up is when values become defined;
 * EMA-type smoothing (EMA, RSI, MACD, ATR...) takes longer to forget where it started, and for every
 * template the strategy check's recommended warm-up on GOOG is within this (docs/strategies.md#checking-a-strategy).
 * Paper sessions warm on this many (ticks from the window, at most 1,000; a candle session's stored
 * candles), and so does each walk-forward window.
 */
export const warmupBars = (warmup: number): number => 10 * warmup + 1;

/**
 * An action node's sizing as the engines take it. Sizing by risk (`risk_pct`: the share of equity lost
 * if the stop loss is hit) is fixed-fractional sizing: a position worth amount / stop distance of the
 * equity loses amount % of it at the stop (before fees and slippage), so it becomes that `pct_equity`
 * of position value: with leverage its margin is that over the leverage (`perLeverage`, amountAt), and
 * the engines cap the margin at all of the equity.
 */
export function sizingOf(
  params: Params,
  risk: RiskSpec,
): { sizing: Exclude<Sizing, 'risk_pct'>; amount: number; perLeverage?: boolean; perStop?: boolean } {
  const sizing = (params.sizing as Sizing | undefined) ?? 'all';
  const amount = (params.amount as number | undefined) ?? 100;
  if (sizing !== 'risk_pct') return { sizing, amount };
  if (risk.distances?.some((d) => d.rule === 'stop'))
    return { sizing: 'pct_equity', amount, perLeverage: true, perStop: true };
  const stop = risk.stopLossPct;
  return { sizing: 'pct_equity', amount: stop ? (100 * amount) / stop : 0, perLeverage: true };
}

/**
 * Whether a limit or stop entry fills at or above its level (a stop buy, a limit sell) rather than at or
 * below it (a limit buy, a stop sell).
 */
export const fillsAbove = (a: Pick<ActionSpec, 'action' | 'orderType'>): boolean =>
  a.action === 'buy' ? a.orderType === 'stop' : a.orderType === 'limit';

/** A limit or stop entry's level: `offsetPct` from the reference price, above it or below as it fills. */
export const orderLevel = (a: Pick<ActionSpec, 'action' | 'orderType' | 'offsetPct'>, ref: number): number =>
  ref * (1 + ((fillsAbove(a) ? 1 : -1) * a.offsetPct) / 100);

/**
 * An action's `pct_equity` amount at a leverage: sizing by risk (ActionSpec.perLeverage) wants a position
 * worth amount % of equity, so its margin is that over the leverage; other sizes are margins already.
 */
export const amountAt = (
  a: { amount: number; perLeverage?: boolean; perStop?: boolean },
  leverage: number,
  /** sizing by risk with a stop at a distance: the price and the position's stop distance (0: none, no size) */
  price = 0,
  stopDistance = 0,
): number => {
  const pct = !a.perStop ? a.amount : stopDistance > 0 ? (a.amount * price) / stopDistance : 0;
  return a.perLeverage ? pct / leverage : pct;
};

/**
 * A compiled strategy: immutable, cacheable by graph hash, shared by backtesting and forward testing.
 * `instantiate()` gives a fresh evaluator with its own state (one per backtest or session).
 */
export class CompiledPlan {
  readonly order: string[];
  readonly actions: ActionSpec[];
  readonly risk: RiskSpec;
  /** bar fields some node reads (the others are never filled in block runs) */
  readonly usedBarSlots: ReadonlySet<number>;
  /** higher timeframes read (none for most strategies) */
  readonly timeframes: TimeframeSpec[];
  /** the nodes that run on the strategy's own bars */
  readonly baseNodes: readonly PlanNode[];
  /** the other symbols the strategy reads (Other symbol nodes), sorted: the order of BarColumns.others */
  readonly symbols: readonly string[];
  /** each Other symbol node: the index of its symbol in `symbols` and its five output slots */
  readonly symbolSources: readonly { symbol: number; slots: readonly number[] }[];
  /**
   * the Position nodes' output slots, seven each (long, short, profit_pct, max_profit_pct, minutes_held,
   * entry_price, entries); a plan with any is position-aware: the engines evaluate it one bar at a time, each bar after
   * its fills, with StrategyInstance.setPosition
   */
  readonly positionSlots: readonly number[];
  /**
   * a position-aware plan's nodes that read the position, directly or through others (by id); a backtest
   * runs the rest in blocks first (runMarket) and these one bar at a time (stepPosition)
   */
  readonly positionNodes: ReadonlySet<string>;
  /**
   * what a backtest keeps of the block run for each bar (runMarket's onBlock) and gives stepPosition: the
   * node outputs that do not depend on the position and are read by nodes that do, by the actions or by
   * the rules at a distance
   */
  readonly frontierSlots: readonly number[];
  constructor(
    readonly nodes: readonly PlanNode[],
    readonly slotCount: number,
    readonly warmup: number,
    /** time the higher timeframes need to warm up, on top of `warmup` bars */
    readonly warmupSeconds = 0,
  ) {
    this.order = nodes.map((n) => n.id);
    const risk: RiskSpec = {};
    for (const n of nodes) {
      if (n.type.type === 'risk.stop_loss') risk.stopLossPct = n.params.percent as number;
      if (n.type.type === 'risk.take_profit') risk.takeProfitPct = n.params.percent as number;
      if (n.type.type === 'risk.trailing_stop') risk.trailingStopPct = n.params.percent as number;
      const rule = RISK_RULE[n.type.type];
      const p = n.params;
      if (rule === 'stop' && p.breakEvenPct) risk.breakEvenPct = p.breakEvenPct as number;
      if (rule === 'target' && p.sharePct !== undefined && (p.sharePct as number) < 100)
        risk.takeProfitSharePct = p.sharePct as number;
      if (rule === 'trail' && p.activatePct) risk.trailingActivatePct = p.activatePct as number;
      // at a distance: the node reads it through its input
      if (rule && n.inputs.length)
        (risk.distances ??= []).push({ rule, slot: n.inputs[0]!, multiplier: p.multiplier as number });
      if (n.type.type === 'risk.take_profit_ladder') risk.ladder = ladderSteps(n.params);
      if (n.type.type === 'risk.roi_table') {
        risk.roi = [{ afterMs: 0, pct: n.params.roi0 as number }];
        for (const k of [1, 2, 3]) {
          const after = n.params[`after${k}`] as number;
          if (after > 0) risk.roi.push({ afterMs: Math.round(after * 60_000), pct: n.params[`roi${k}`] as number });
        }
      }
      if (n.type.type === 'risk.time_exit') risk.timeExitMs = Math.round((n.params.minutes as number) * 60_000);
      if (n.type.type === 'risk.cooldown')
        risk.cooldown = {
          ms: Math.round((n.params.minutes as number) * 60_000),
          after: ((n.params.after as string | undefined) ?? 'any') as CooldownAfter,
          count: (n.params.count as number | undefined) ?? 1,
          withinMs: Math.round(((n.params.withinMinutes as number | undefined) ?? 0) * 60_000),
        };
    }
    this.risk = risk;
    this.actions = nodes
      .filter((n) => n.type.category === 'action')
      .map((n) => ({
        nodeId: n.id,
        action: n.type.type.slice('action.'.length) as ActionKind,
        ...sizingOf(n.params, risk),
        orderType: (n.params.orderType as 'market' | 'limit' | 'stop' | undefined) ?? 'market',
        offsetPct: (n.params.offsetPct as number | undefined) ?? 0,
        validBars: (n.params.validBars as number | undefined) ?? 1,
        maxEntries: (n.params.maxEntries as number | undefined) ?? 1,
        addStepPct: (n.params.addStepPct as number | undefined) ?? 0,
        addScale: (n.params.addScale as number | undefined) ?? 1,
        addStepScale: (n.params.addStepScale as number | undefined) ?? 1,
        closePct: (n.params.percent as number | undefined) ?? 100,
        triggerSlot: n.inputs[0]!,
      }));
    const used = new Set<number>();
    for (const n of nodes) {
      for (const i of n.inputs) if (i < BAR_SLOT_COUNT) used.add(i);
      if (n.type.type === 'time.of_day') used.add(5);
      // the position's profit is at the close, its time held from the bar's time
      if (n.type.position) used.add(3).add(5);
    }
    this.positionSlots = nodes.filter((n) => n.type.position).flatMap((n) => n.outputs);
    // in topological order: a node reading a position-dependent slot depends on it too
    const dependent = new Set<number>();
    const positionNodes = new Set<string>();
    for (const n of nodes)
      if (n.type.position || n.inputs.some((x) => dependent.has(x))) {
        positionNodes.add(n.id);
        for (const o of n.outputs) dependent.add(o);
      }
    this.positionNodes = positionNodes;
    const read = positionNodes.size
      ? [
          ...nodes.filter((n) => positionNodes.has(n.id)).flatMap((n) => n.inputs),
          ...nodes.filter((n) => n.type.category === 'action').map((n) => n.inputs[0]!),
          ...(risk.distances ?? []).map((d) => d.slot),
        ]
      : [];
    this.frontierSlots = [...new Set(read)].filter((x) => x >= BAR_SLOT_COUNT && !dependent.has(x));
    const secs = [...new Set(nodes.map((n) => n.timeframe ?? 0).filter((t) => t > 0))].sort((a, b) => a - b);
    this.timeframes = secs.map((seconds) => {
      const own = nodes.filter((n) => n.timeframe === seconds);
      const ownSlots = new Set(own.flatMap((n) => n.outputs));
      // the timeless nodes (constants) it reads, directly or through other timeless nodes
      const wanted = new Set(own.flatMap((n) => n.inputs));
      const read = new Set<PlanNode>();
      for (let i = nodes.length - 1; i >= 0; i--) {
        const n = nodes[i]!;
        if (n.timeframe !== TIMELESS || !n.outputs.some((o) => wanted.has(o))) continue;
        read.add(n);
        for (const x of n.inputs) wanted.add(x);
      }
      return {
        seconds,
        offset: seconds % 604_800 === 0 ? WEEK_OFFSET : 0,
        nodes: nodes.filter((n) => n.timeframe === seconds || read.has(n)),
        sources: own.filter((n) => n.type.timeframe).map((n) => n.outputs),
        carried: [...ownSlots],
      };
    });
    // higher timeframes are built from every bar field and the time
    if (secs.length) for (let k = 0; k < BAR_SLOT_COUNT; k++) used.add(k);
    this.usedBarSlots = used;
    this.baseNodes = nodes.filter((n) => !(n.timeframe! > 0));
    const readers = nodes.filter((n) => n.type.otherSymbol);
    this.symbols = [...new Set(readers.map((n) => n.type.otherSymbol!(n.params)))].sort();
    this.symbolSources = readers.map((n) => ({
      symbol: this.symbols.indexOf(n.type.otherSymbol!(n.params)),
      slots: n.outputs,
    }));
  }
  /**
   * `barSeconds`: the interval of the bars to come, which lets a higher-timeframe bar complete with the bar
   * that closes it; without it (0, live ticks) it completes with the first bar of a later bucket. Block runs
   * find it from their bars' times when not given.
   */
  instantiate(blockSize = BLOCK, barSeconds?: number): StrategyInstance {
    return new StrategyInstance(this, blockSize, barSeconds);
  }
}

/**
 * Evaluates bars through the graph. Every slot (bar field or node output) is a column of `blockSize` (256)
 * values; each node runs a tight loop over a block, in topological order. `step()` feeds one bar (a
 * live tick); `run()` feeds whole columns block by block (backtests). Both give identical results:
 * a node only ever sees the bars fed so far, so nothing can look ahead.
 */
export class StrategyInstance {
  readonly cols: Float64Array[];
  private readonly steps: Step[];
  /** a position-aware plan's steps that do not read the position, and those that do (plan.positionNodes) */
  private readonly marketSteps: Step[];
  private readonly positionSteps: Step[];
  private readonly triggers: Int32Array;
  private readonly higher: HigherTimeframe[];
  bars = 0;
  /** the position the Position nodes read (setPosition): its side (1, -1, 0), average entry, entry time (ms) and entries */
  private pSide = 0;
  private pEntry = NaN;
  private pSince = NaN;
  private pEntries = 0;
  /** the best close since the position's entry (highest long, lowest short; NaN: none yet) */
  private pBest = NaN;
  constructor(
    readonly plan: CompiledPlan,
    readonly blockSize = BLOCK,
    private barSeconds?: number,
  ) {
    this.cols = Array.from({ length: plan.slotCount }, () => new Float64Array(blockSize).fill(NaN));
    const built = plan.baseNodes
      .map((n) => ({ id: n.id, step: stepOf(n.type, n.params, n) }))
      .filter((b): b is { id: string; step: Step } => !!b.step);
    this.steps = built.map((b) => b.step);
    // a position-aware plan's steps (the same, one state each) split: the market's, run in blocks, and the
    // position's, bar by bar
    const pn = plan.positionNodes;
    this.marketSteps = built.filter((b) => !pn.has(b.id)).map((b) => b.step);
    this.positionSteps = built.filter((b) => pn.has(b.id)).map((b) => b.step);
    this.triggers = Int32Array.from(plan.actions.map((a) => a.triggerSlot));
    this.higher = plan.timeframes.map((tf) => new HigherTimeframe(tf, plan.slotCount, blockSize));
  }
  /** The last evaluated value of a slot (the one-bar view used by live sessions and tests). */
  value(slot: number): number {
    return this.cols[slot]![0]!;
  }
  /**
   * The position the Position nodes read on the bars fed next (until set again): its size (its sign is the
   * side; 0: flat), average entry price, first entry's time (epoch ms) and entries. A position-aware plan
   * (plan.positionSlots) is fed one bar at a time, each after setting the position held at its close.
   */
  setPosition(qty: number, entryPrice: number, entryTs: number, entries: number): void {
    const side = qty > 0 ? 1 : qty < 0 ? -1 : 0;
    const since = side ? entryTs : NaN;
    // another position (or one whose entry is not known yet): no best close so far
    if (side !== this.pSide || since !== this.pSince) this.pBest = NaN;
    this.pSide = side;
    this.pEntry = side ? entryPrice : NaN;
    this.pSince = since;
    this.pEntries = side ? Math.max(1, entries) : 0;
  }
  /** Writes the position into the Position nodes' columns for `n` bars, at their closes and times. */
  private writePosition(n: number): void {
    const c = this.cols;
    const slots = this.plan.positionSlots;
    const close = c[3]!;
    const secs = c[5]!;
    const side = this.pSide;
    // time held to the bar's close: its time plus its interval (a tick's is its time)
    const end = (this.barSeconds ?? 0) * 1000 - this.pSince;
    const entry = this.pEntry;
    if (n === 1) {
      // one bar (every bar of a backtest): plain stores, no fills
      const x = close[0]!;
      const profit = (side * (x - entry) * 100) / entry;
      // the best close since entry, this one included, once the entry is known (NaN when flat)
      if (profit === profit && !(side * (this.pBest - x) >= 0)) this.pBest = x;
      const best = (side * (this.pBest - entry) * 100) / entry;
      const held = Math.max(0, secs[0]! * 1000 + end) / 60_000;
      for (let k = 0; k < slots.length; k += 7) {
        c[slots[k]!]![0] = side === 1 ? 1 : 0;
        c[slots[k + 1]!]![0] = side === -1 ? 1 : 0;
        c[slots[k + 2]!]![0] = profit;
        c[slots[k + 3]!]![0] = best;
        c[slots[k + 4]!]![0] = held;
        c[slots[k + 5]!]![0] = entry;
        c[slots[k + 6]!]![0] = this.pEntries;
      }
      return;
    }
    // a block holds one position throughout (flat in previews' and test runs' block runs)
    for (let j = 0; j < n; j++) {
      const x = close[j]!;
      const profit = (side * (x - entry) * 100) / entry;
      if (profit === profit && !(side * (this.pBest - x) >= 0)) this.pBest = x;
      const best = (side * (this.pBest - entry) * 100) / entry;
      const held = Math.max(0, secs[j]! * 1000 + end) / 60_000;
      for (let k = 0; k < slots.length; k += 7) {
        c[slots[k + 2]!]![j] = profit;
        c[slots[k + 3]!]![j] = best;
        c[slots[k + 4]!]![j] = held;
      }
    }
    for (let k = 0; k < slots.length; k += 7) {
      c[slots[k]!]!.fill(side === 1 ? 1 : 0, 0, n);
      c[slots[k + 1]!]!.fill(side === -1 ? 1 : 0, 0, n);
      c[slots[k + 5]!]!.fill(entry, 0, n);
      c[slots[k + 6]!]!.fill(this.pEntries, 0, n);
    }
  }
  /**
   * Feeds one bar; returns the index into plan.actions of the first action triggered on it, or -1.
   * `others`: the other symbols' bars at this bar (plan.symbols order, five values each; NaN unknown).
   */
  step(
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    timeSec: number,
    others?: ArrayLike<number>,
  ): number {
    const c = this.cols;
    this.setBar(open, high, low, close, volume, timeSec);
    for (const src of this.plan.symbolSources)
      for (let f = 0; f < 5; f++) c[src.slots[f]!]![0] = others ? others[src.symbol * 5 + f]! : NaN;
    for (const h of this.higher) h.run(c, 1, this.barSeconds ?? 0);
    if (this.plan.positionSlots.length) this.writePosition(1);
    return this.stepWith(this.steps);
  }
  /** The bar's fields, in their slots (one-bar evaluation). */
  private setBar(open: number, high: number, low: number, close: number, volume: number, timeSec: number): void {
    const c = this.cols;
    c[0]![0] = open;
    c[1]![0] = high;
    c[2]![0] = low;
    c[3]![0] = close;
    c[4]![0] = volume;
    c[5]![0] = timeSec;
  }
  /** Runs `steps` on one bar and returns the index of the first action triggered, or -1. */
  private stepWith(s: readonly Step[]): number {
    const c = this.cols;
    for (let i = 0; i < s.length; i++) s[i]!(c, 1);
    this.bars++;
    const t = this.triggers;
    for (let i = 0; i < t.length; i++) if (c[t[i]!]![0] === 1) return i;
    return -1;
  }
  /**
   * A position-aware backtest's bar i, after run(..., marketOnly) has run the other nodes over every bar:
   * writes the bar, what those nodes gave on it (`frontier`: per plan.frontierSlots, a column of every
   * bar) and the position (setPosition), runs the nodes that read the position, and returns the index of
   * the first action triggered (or -1), as step() would.
   */
  stepPosition(bars: BarColumns, i: number, frontier: readonly Float64Array[]): number {
    const c = this.cols;
    this.setBar(bars.open[i]!, bars.high[i]!, bars.low[i]!, bars.close[i]!, bars.volume[i]!, bars.ts[i]! / 1000);
    const fs = this.plan.frontierSlots;
    for (let k = 0; k < fs.length; k++) c[fs[k]!]![0] = frontier[k]![i]!;
    this.writePosition(1);
    return this.stepWith(this.positionSteps);
  }
  /**
   * Feeds bars [from, to) of whole columns and writes, per bar, the index of the first triggered
   * action (or -1) into `signals`. `onBlock` sees each evaluated block (previews read node outputs).
   */
  run(
    bars: BarColumns,
    signals: Int8Array | Int16Array | Int32Array,
    from = 0,
    to = bars.length,
    onBlock?: (start: number, n: number) => void,
    /** the nodes that do not read the position only, no signals written (a position-aware backtest's blocks) */
    marketOnly = false,
  ): void {
    const c = this.cols;
    const t = marketOnly ? new Int32Array(0) : this.triggers;
    const s = marketOnly ? this.marketSteps : this.steps;
    const own = c.slice(0, BAR_SLOT_COUNT);
    const fields = [bars.open, bars.high, bars.low, bars.close, bars.volume];
    const secs = own[5]!;
    const needTime = this.plan.usedBarSlots.has(5);
    // other symbols' bars: views into their aligned columns too, in their sources' slots
    const sources = this.plan.symbolSources;
    const others = bars.others;
    if (sources.length && (!others || others.length < 5 * this.plan.symbols.length))
      throw new Error(
        `the strategy reads other symbols (${this.plan.symbols.join(', ')}): their bars must come with the data`,
      );
    const slotsOwn = sources.flatMap((src) => src.slots.map((slot) => [slot, c[slot]!] as const));
    for (let start = from; start < to; start += this.blockSize) {
      const n = Math.min(this.blockSize, to - start);
      // bar columns are views into the caller's arrays (no copy); the time column is made only if read
      for (let k = 0; k < 5; k++) if (this.plan.usedBarSlots.has(k)) c[k] = fields[k]!.subarray(start, start + n);
      for (const src of sources)
        for (let f = 0; f < 5; f++) c[src.slots[f]!] = others![src.symbol * 5 + f]!.subarray(start, start + n);
      if (needTime) for (let j = 0; j < n; j++) secs[j] = bars.ts[start + j]! / 1000;
      if (this.higher.length) {
        this.barSeconds ??= barSecondsOf(bars.ts, from, to);
        for (const h of this.higher) h.run(c, n, this.barSeconds);
      }
      // a position-aware plan's block keeps the position set before it (flat in previews and test runs)
      if (this.plan.positionSlots.length && !marketOnly) this.writePosition(n);
      for (let i = 0; i < s.length; i++) s[i]!(c, n);
      if (marketOnly) {
        // no signals
      } else if (t.length === 2) {
        const a = c[t[0]!]!;
        const b = c[t[1]!]!;
        for (let j = 0; j < n; j++) signals[start + j] = a[j] === 1 ? 0 : b[j] === 1 ? 1 : -1;
      } else
        for (let j = 0; j < n; j++) {
          let fired = -1;
          for (let k = 0; k < t.length; k++)
            if (c[t[k]!]![j] === 1) {
              fired = k;
              break;
            }
          signals[start + j] = fired;
        }
      onBlock?.(start, n);
      this.bars += n;
    }
    for (let k = 0; k < BAR_SLOT_COUNT; k++) c[k] = own[k]!;
    for (const [slot, col] of slotsOwn) c[slot] = col;
  }
}

/**
 * One higher timeframe inside an instance: builds its bars from the strategy's bars (UTC buckets), runs its
 * nodes once per completed bar on columns of its own, and carries each value onto the strategy's bars
 * from the bar that completed it until the next completes. A bucket completes at the bar whose close
 * reaches its end (its time plus the bar interval), or failing that (a gap, or no interval known) at the
 * first bar of a later bucket; so no value is seen before its bar has closed. The same on one bar at a
 * time as on blocks of any size.
 */
class HigherTimeframe {
  private readonly cols: Float64Array[];
  private readonly steps: Step[];
  /** per strategy bar of the block: the last higher bar completed so far in the block, or -1 */
  private readonly at: Int32Array;
  private readonly last: Float64Array;
  private bucket = NaN;
  private o = 0;
  private h = 0;
  private l = 0;
  private c = 0;
  private v = 0;
  private m = 0;
  constructor(
    private readonly tf: TimeframeSpec,
    slotCount: number,
    blockSize: number,
  ) {
    // a bar can complete two higher bars: the one a gap left open, and its own when it spans a whole one
    this.cols = Array.from({ length: slotCount }, () => new Float64Array(2 * blockSize).fill(NaN));
    this.steps = tf.nodes.map((n) => stepOf(n.type, n.params, n)).filter((s): s is Step => !!s);
    this.at = new Int32Array(blockSize);
    this.last = new Float64Array(tf.carried.length).fill(NaN);
  }
  private emit(): void {
    const m = this.m++;
    for (const out of this.tf.sources) {
      this.cols[out[0]!]![m] = this.o;
      this.cols[out[1]!]![m] = this.h;
      this.cols[out[2]!]![m] = this.l;
      this.cols[out[3]!]![m] = this.c;
      this.cols[out[4]!]![m] = this.v;
    }
    this.bucket = NaN;
  }
  run(c: Float64Array[], n: number, barSeconds: number): void {
    const { seconds, offset } = this.tf;
    const open = c[0]!;
    const high = c[1]!;
    const low = c[2]!;
    const close = c[3]!;
    const vol = c[4]!;
    const time = c[5]!;
    const at = this.at;
    this.m = 0;
    for (let j = 0; j < n; j++) {
      const t = time[j]!;
      const b = Math.floor((t - offset) / seconds);
      if (this.bucket === this.bucket && b !== this.bucket) this.emit();
      if (this.bucket !== this.bucket) {
        this.bucket = b;
        this.o = open[j]!;
        this.h = high[j]!;
        this.l = low[j]!;
        this.c = close[j]!;
        this.v = vol[j]!;
      } else {
        if (high[j]! > this.h) this.h = high[j]!;
        if (low[j]! < this.l) this.l = low[j]!;
        this.c = close[j]!;
        this.v += vol[j]!;
      }
      if (barSeconds > 0 && t + barSeconds >= (b + 1) * seconds + offset) this.emit();
      at[j] = this.m - 1;
    }
    const m = this.m;
    if (m > 0) for (let i = 0; i < this.steps.length; i++) this.steps[i]!(this.cols, m);
    const carried = this.tf.carried;
    for (let k = 0; k < carried.length; k++) {
      const src = this.cols[carried[k]!]!;
      const dst = c[carried[k]!]!;
      const before = this.last[k]!;
      for (let j = 0; j < n; j++) dst[j] = at[j]! < 0 ? before : src[at[j]!]!;
      if (m > 0) this.last[k] = src[m - 1]!;
    }
  }
}

export { BAR_SLOT_COUNT };
