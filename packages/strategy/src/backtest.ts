import {
  computeStats,
  DAY_MS,
  dayOf,
  DEFAULT_MAINTENANCE_MARGIN_PCT,
  excursion,
  FUNDING_INTERVAL_MS,
  fundingTimes,
  fundingPct,
  paysFunding,
  addStepReached,
  capEntry,
  LIQUIDATION,
  liquidationFill,
  liquidationPrice,
  partialUnits,
  floorUnits,
  unitStep,
  sumUnits,
  addScaleOf,
  addStepFor,
  cooldownStep,
  type RiskLimits,
  type Stats,
  type TradeRecord,
} from '@algotrade/core';
import {
  amountAt,
  barSecondsOf,
  BLOCK,
  distancesAt,
  fillsAbove,
  orderLevel,
  roiAt,
  type BarColumns,
  type CompiledPlan,
} from './plan.ts';

export interface BacktestOptions {
  cash: number;
  /** fee as a fraction of notional per fill (0.001 = 0.1%) */
  feeRate?: number;
  /** fixed fee per fill, in quote currency */
  feeFixed?: number;
  /** the fee rate of a limit order filled at its level, as a maker (default: feeRate) */
  makerFeeRate?: number;
  /** adverse slippage per fill in basis points */
  slippageBps?: number;
  /** 'next_open' (default): a signal on a bar's close fills at the next bar's open; 'close': on that close */
  fillOn?: 'next_open' | 'close';
  allowShort?: boolean;
  /**
   * Margin trading (isolated margin, as perpetual futures): sizes are margins, positions worth up to this
   * many times their margin, liquidated at core's liquidationPrice. 1 (default): no leverage.
   */
  leverage?: number;
  /** maintenance margin, % of a position's value (default 0.5), for the liquidation price */
  maintenanceMarginPct?: number;
  /**
   * perpetual futures' funding, % of the position's value at each funding time (every 8 hours from 00:00
   * UTC): a position open across one pays it (a short receives a positive rate) at the next bar's open
   */
  fundingRatePct?: number;
  /** a short position's borrow rate, % a year of its value, paid at the funding times (core's fundingPct) */
  borrowRatePct?: number;
  /** whole units (stocks) or fractional (crypto) */
  wholeUnits?: boolean;
  /** an exchange's lot size: every quantity a multiple of it, rounded down (absent: whole units or 1e-8) */
  qtyStep?: number;
  /** an exchange's minimum order value: an entry or addition worth less is not made (refused: MIN_NOTIONAL) */
  minNotional?: number;
  /** close an open position at the last close so it counts as a trade (default true) */
  closeAtEnd?: boolean;
  /** a buffer of at least the bar count to write the equity curve into (reused across runs in sweeps) */
  equityBuffer?: Float64Array;
  /** likewise for the per-bar signal codes */
  signalsBuffer?: Int8Array;
  /** measure each trade's MAE and MFE (default true; runs read for their statistics alone skip it) */
  excursions?: boolean;
  /**
   * The first bar that may trade (default 0). Bars before it only warm the indicators up: their
   * signals are dropped, and the result (equity, trades' bar indexes, statistics) starts at this bar.
   * Walk-forward windows use it to give each window the history its indicators need.
   */
  tradeFrom?: number;
  /**
   * A detail timeframe (freqtrade's `--timeframe-detail`): finer bars of the same market over the same
   * time (1-minute bars under hourly ones). The stops, targets and liquidation are checked on the finer
   * bars inside each bar, in their order, instead of on the bar's high and low, so a bar that reaches both
   * a stop and a target exits at whichever came first, and a trailing stop follows the finer highs. The
   * signals and orders stay on the bars. A bar without finer bars is checked whole.
   */
  detail?: BarColumns;
  /**
   * a strategy reading its own position: called after each bar's evaluation with what its slots hold then
   * (previews read the nodes that read the position through it)
   */
  onPositionBar?: (i: number, value: (slot: number) => number) => void;
  /**
   * A paper session's risk limits (its `risk`), applied as the session applies them: entries capped or
   * refused (maxOrderQty, maxPositionValue, maxPositionPct, maxOrdersPerMinute); a drawdown of
   * maxDrawdownPct from the equity peak closes the position and ends trading; a loss of maxDailyLossPct
   * from the UTC day's first equity closes it and ends trading too, or with resumeNextDay pauses it until
   * the next UTC day. The equity is
   * marked at each bar's open and close; within a bar the limits are a stop at the price where the equity
   * reaches them (docs/backtesting.md#risk-limits).
   */
  risk?: RiskLimits;
  /**
   * A portfolio's limits on its summed equity reached (runPortfolio), in time order: from the bar at `at`
   * the position is closed (at that bar's close; without a bar there, at the next bar's open, its
   * pending order cancelled) with `reason`, and no orders are made before `until` (Infinity: ever).
   */
  pauses?: readonly BacktestPause[];
  /** called every ~1% with progress 0..1; return true to cancel */
  onProgress?: (p: number) => boolean | void;
}

/** A portfolio's limit reached at `at`: the leg's position closed with `reason`, no orders before `until`. */
export interface BacktestPause {
  at: number;
  until: number;
  reason: string;
}

/** What a backtest's risk limits did: when they stopped or paused trading, and the entries they refused. */
export interface RiskOutcome {
  /** each time a limit was reached: the bar, its time, which limit and the loss it measured (%) */
  halts: { bar: number; time: number; limit: 'max_drawdown' | 'max_daily_loss'; pct: number }[];
  /** entries refused, by the paper sessions' refusal codes (MAX_ORDER_QTY, MAX_POSITION, RATE_LIMIT) */
  refused: Record<string, number>;
}

/** What the limits did, as stored and served (a backtest's metrics.limits, a walk-forward fold's limits): times as ISO strings, no bar indexes. */
export interface LimitsRecord {
  halts: { time: string; limit: RiskOutcome['halts'][number]['limit']; pct: number }[];
  refused: Record<string, number>;
}
export const limitsRecord = (r: RiskOutcome): LimitsRecord => ({
  halts: r.halts.map((h) => ({ time: new Date(h.time).toISOString(), limit: h.limit, pct: h.pct })),
  refused: r.refused,
});

export interface BacktestResult {
  trades: TradeRecord[];
  equity: Float64Array;
  stats: Stats;
  totalFees: number;
  finalCash: number;
  cancelled: boolean;
  /** with `risk` limits: what they did */
  risk?: RiskOutcome;
}

/** the exit reasons of a session's equity limits (its fills' source when they close the position) */
const MAX_DRAWDOWN = 'max_drawdown';
const MAX_DAILY_LOSS = 'max_daily_loss';
const EPS = 1e-12;

/**
 * Bar-by-bar simulation of a compiled strategy over OHLCV columns.
 *
 * The graph only sees market data, so its signals are computed first in blocks (no look-ahead: a node
 * only ever sees bars up to the one it outputs for); then each bar, in order: (1) the order from the
 * previous bar's signal fills at this open (or signals fill on their own close with fillOn 'close');
 * (2) stop-loss / take-profit / trailing stops are checked against this bar's low and high; when a
 * stop and a target could both trigger in the same bar, the stop is assumed to come first
 * (conservative); a gap through a level fills at the open; (3) equity is marked at the close.
 * Entries may be limit or stop orders (orderType/offsetPct on buy and sell nodes), placed from the
 * signal close and valid for the next bar only.
 * A position still open after the last bar is closed at that bar's open (its close with fillOn 'close').
 * Semantics: buy closes a short, then goes long; sell closes a long, then goes short if allowed;
 * close exits whatever is open. Deterministic: the same input gives the same output, bit for bit.
 */
export function runBacktest(plan: CompiledPlan, bars: BarColumns, o: BacktestOptions): BacktestResult {
  const n = bars.length;
  const signals = o.signalsBuffer && o.signalsBuffer.length >= n ? o.signalsBuffer : new Int8Array(n);
  // the distances of the rules at a distance (an ATR's stop), per bar: a position keeps its signal bar's
  const rules = plan.risk.distances ?? [];
  // a strategy reading its own position (Position nodes): its nodes that do not read it run in blocks first,
  // keeping what the others read of them on each bar (the frontier); those that do run in the loop below,
  // each bar after its fills. The others' signals come from blocks.
  const aware = plan.positionSlots.length > 0;
  const barSec = barSecondsOf(bars.ts);
  const inst = plan.instantiate(BLOCK, aware ? barSec : undefined);
  const distCols = new Map(rules.map((r) => [r.slot, new Float64Array(n)]));
  const frontier = aware ? plan.frontierSlots.map(() => new Float64Array(n)) : [];
  const valueOf = (slot: number) => inst.value(slot);
  const distSlots = [...distCols.keys()];
  const distArrays = [...distCols.values()];
  if (aware) {
    const kept = new Map(plan.frontierSlots.map((slot, k) => [slot, frontier[k]!]));
    inst.run(bars, signals, 0, n, (start, m) => capture(inst.cols, kept, start, m), true);
  } else inst.run(bars, signals, 0, n, rules.length ? (start, m) => capture(inst.cols, distCols, start, m) : undefined);
  /** the distances a position opened on bar `sb`'s signal keeps */
  const distancesOf = (sb: number) => distancesAt(plan.risk, (slot) => distCols.get(slot)![sb]!);
  const from = Math.min(Math.max(0, Math.floor(o.tradeFrom ?? 0)), n);
  if (from > 0 && !aware) signals.fill(-1, 0, from);
  const { open, high, low, close, ts } = bars;
  const feeRate = o.feeRate ?? 0;
  const feeFixed = o.feeFixed ?? 0;
  const makerRate = o.makerFeeRate ?? feeRate;
  const slip = (o.slippageBps ?? 0) / 10_000;
  const onClose = o.fillOn === 'close';
  const unit = unitStep(o.wholeUnits ?? false, o.qtyStep);
  const minNotional = o.minNotional ?? 0;
  const { stopLossPct, takeProfitPct, trailingStopPct, timeExitMs = 0, cooldown } = plan.risk;
  const targetShare = plan.risk.takeProfitSharePct ?? 100;
  const activate = (plan.risk.trailingActivatePct ?? 0) / 100;
  const breakEven = (plan.risk.breakEvenPct ?? 0) / 100;
  const roi = plan.risk.roi; // an ROI table: the take profit by time held
  const ladder = plan.risk.ladder; // a take-profit ladder: its steps in order
  const actions = plan.actions;
  const lev = o.leverage && o.leverage > 1 ? o.leverage : 1;
  const mm = o.maintenanceMarginPct ?? DEFAULT_MAINTENANCE_MARGIN_PCT;
  let liq = NaN; // the open position's liquidation price (NaN: none, without leverage)
  // a position pays at the funding times: a funding rate, or a short's borrow rate (core's fundingPct)
  const funds = paysFunding(o);
  let funding = 0; // paid by the open position
  // the next funding time after the last bar seen (Infinity without a rate: one comparison a bar)
  let nextFunding = funds && n ? (Math.floor(ts[0]! / FUNDING_INTERVAL_MS) + 1) * FUNDING_INTERVAL_MS : Infinity;

  let cash = o.cash;
  let qty = 0;
  let entryPrice = 0;
  let entryBar = 0;
  let entryFees = 0;
  let entryReason = ''; // the action node that opened the position
  let entries = 0; // the fills that opened and added to the position
  let targetTaken = 0; // the partial take profits (a ladder's steps) that have closed their share of the open position
  let extreme = 0; // best price since entry, for the trailing stop
  // the open position's rules at a distance, in price (0: none): stop, target and trail
  let dStop = 0;
  let dTarget = 0;
  let dTrail = 0;
  let totalFees = 0;
  const trades: TradeRecord[] = [];
  // per trade, whether its exit bar was held to the close (the exit filled at the close)
  const heldToClose: boolean[] = [];
  let atClose = false;
  const equity = o.equityBuffer && o.equityBuffer.length >= n ? o.equityBuffer.subarray(0, n) : new Float64Array(n);
  let pending = -1;
  let pendingRef = 0; // the close the pending order was placed from (limit/stop levels)
  let pendingSb = -1; // the bar it was signalled on (the distances its position keeps)
  let pendingLeft = 0; // the bars a limit/stop order still rests (its action's validBars)
  let coolUntil = -Infinity; // no entry on a bar before this time (the cooldown node)
  let coolStreak = 0; // the exits toward the cooldown's count (in a row, or within its window)
  let coolTimes: readonly number[] = []; // with a window: their times
  let cancelled = false;
  const step = Math.max(1, Math.floor(n / 100));
  // a paper session's risk limits (o.risk): the equity limits, the caps on entries and the order rate
  const lim = o.risk;
  const ddLimit = lim?.maxDrawdownPct ?? Infinity;
  const dayLimit = lim?.maxDailyLossPct ?? Infinity;
  const limitsOn = ddLimit < Infinity || dayLimit < Infinity;
  const capsOn = !!lim && (lim.maxOrderQty ?? lim.maxPositionValue ?? lim.maxPositionPct) !== undefined;
  const perMinute = lim?.maxOrdersPerMinute;
  // what the limits did, and the entries under the minimum order value not made
  const outcome: RiskOutcome | undefined = lim || minNotional ? { halts: [], refused: {} } : undefined;
  // the times of the orders (fills and refusals) from `recentFrom` on: those of the last minute
  const recent: number[] = [];
  let recentFrom = 0;
  /** how many orders came in the 60 s before time t (dropping older ones) */
  const ordersWithin = (t: number) => {
    while (recentFrom < recent.length && recent[recentFrom]! <= t - 60_000) recentFrom++;
    if (recentFrom > 1024) {
      recent.splice(0, recentFrom);
      recentFrom = 0;
    }
    return recent.length - recentFrom;
  };
  let peak = o.cash; // the equity peak, marked at opens and closes (a session's: from its starting balance)
  let day = NaN; // the UTC day of the last mark
  let dayStart = o.cash; // the equity at that day's first mark
  // the equities at which the limits are reached: from the peak and from the day's start (-Infinity: none)
  const ddKeep = 1 - ddLimit / 100;
  const dayKeep = 1 - dayLimit / 100;
  let ddFloor = ddLimit < Infinity ? peak * ddKeep : -Infinity;
  let dayFloor = -Infinity;
  let floor = ddFloor; // the higher of the two
  let floorWhy: typeof MAX_DRAWDOWN | typeof MAX_DAILY_LOSS = MAX_DRAWDOWN; // whose it is (the drawdown's on a tie)
  const setFloor = () => {
    floorWhy = ddFloor >= dayFloor ? MAX_DRAWDOWN : MAX_DAILY_LOSS;
    floor = floorWhy === MAX_DRAWDOWN ? ddFloor : dayFloor;
  };
  let dayEnd = -Infinity; // the end of the day of the last mark (ms)
  let halted = false; // a drawdown limit ended trading
  // a portfolio's pauses (its limits on the summed equity): the next to begin, and no orders until when
  const pauses = o.pauses ?? [];
  let pauseK = 0;
  let heldUntil = -Infinity;
  let held = false;
  let pausedDay = NaN; // a daily loss limit paused trading for the rest of this UTC day
  /** an order at time t, against the per-minute limit */
  const noteOrder = (t: number) => {
    if (perMinute === undefined) return;
    ordersWithin(t);
    recent.push(t);
  };
  const refuse = (t: number, code: string) => {
    outcome!.refused[code] = (outcome!.refused[code] ?? 0) + 1;
    noteOrder(t);
  };

  const fee = (notional: number, rate = feeRate) => Math.abs(notional) * rate + feeFixed;
  /** closes the position, or `percent` % of it (rounded down to its unit step; nothing under one) */
  const exit = (i: number, rawPrice: number, withSlip: boolean, reason: string, percent = 100, maker = false) => {
    let part = qty;
    if (percent < 100) {
      const units = partialUnits(qty, percent, unit);
      if (!(units > 0)) return;
      if (units < Math.abs(qty)) part = qty > 0 ? units : -units;
    }
    const share = part === qty ? 1 : part / qty;
    const price = withSlip ? rawPrice * (qty > 0 ? 1 - slip : 1 + slip) : rawPrice;
    // a liquidation's fee takes at most what the position left (the exchange does not bill beyond the margin)
    const f =
      reason === LIQUIDATION
        ? Math.min(fee(part * price), Math.max(0, cash + qty * price))
        : fee(part * price, maker ? makerRate : feeRate);
    cash += part * price - f;
    totalFees += f;
    noteOrder(ts[i]!);
    // a partial exit takes its share of the entry fees and funding; the rest stays with the position
    const partFees = entryFees * share;
    const partFunding = funding * share;
    const pnl = part * (price - entryPrice) - partFees - f - partFunding;
    const entryValue = Math.abs(part) * entryPrice;
    const t: TradeRecord = {
      size: part,
      entryBar,
      exitBar: i,
      entryTime: ts[entryBar]!,
      exitTime: ts[i]!,
      entryPrice,
      exitPrice: price,
      pnl,
      returnPct: pnl / entryValue,
      fees: partFees + f,
      exitReason: reason,
      entryReason,
    };
    if (funds) t.funding = partFunding;
    if (entries > 1) t.entries = entries;
    trades.push(t);
    heldToClose.push(atClose);
    if (part !== qty) {
      // the rest stays open, at the same entry price (so the same stops and liquidation price)
      qty = sumUnits(qty, -part);
      entryFees -= partFees;
      funding -= partFunding;
      return;
    }
    qty = 0;
    entries = 0;
    liq = NaN;
    if (cooldown) {
      const cool = cooldownStep(cooldown, coolStreak, pnl, reason, ts[i]!, coolTimes);
      coolStreak = cool.streak;
      coolTimes = cool.times;
      if (cool.starts) coolUntil = ts[i]! + cooldown.ms;
    }
  };
  /** opens a position, or (one open on this side) adds to it */
  const enter = (
    i: number,
    rawPrice: number,
    side: 1 | -1,
    a: (typeof actions)[number],
    sb: number,
    slips = true,
    maker = false,
  ) => {
    // a limit order fills at its price (no slippage, act's `slips`); market and stop orders slip
    const adding = qty !== 0;
    if (!adding && ts[i]! < coolUntil) return;
    if (perMinute !== undefined) {
      // a session's limit on orders in any 60 s (an entry after a flip's close is one order with it there)
      if (ordersWithin(ts[i]!) >= perMinute) return refuse(ts[i]!, 'RATE_LIMIT');
    }
    const price = slips ? rawPrice * (1 + side * slip) : rawPrice;
    const d = rules.length ? distancesOf(sb) : undefined;
    // flat: the cash is the equity and all of it may be spent; adding: a share of the equity at this
    // price, at most the balance less the margin the position locks (its cost without leverage)
    const eq = adding ? cash + qty * price : cash;
    const avail = adding ? cash + qty * entryPrice - (Math.abs(qty) * entryPrice) / lev : cash;
    // what a unit costs: its margin (its price without leverage) and its fee on its whole value
    const rate = maker ? makerRate : feeRate;
    const perUnit = price * (1 / lev + rate);
    // an addition's amount: addScale times the entry before it's (addScaleOf, as a paper ledger's)
    const scale = adding ? addScaleOf(a.addScale, entries) : 1;
    let units: number;
    switch (a.sizing) {
      case 'fixed_qty':
        units = a.amount * scale;
        break;
      case 'fixed_cash':
        units = Math.min(a.amount * scale, avail) / perUnit;
        break;
      case 'pct_equity':
        units = (eq * Math.min(amountAt(a, lev, price, d?.stop) * scale, 100)) / 100 / perUnit;
        if (adding) units = Math.min(units, (avail - feeFixed) / perUnit);
        break;
      default:
        units = (avail - feeFixed) / perUnit;
    }
    if (capsOn) {
      // a session's caps (core's capEntry, as its planOrder applies them)
      const capped = capEntry(lim!, units, a.sizing === 'fixed_qty', adding ? Math.abs(qty) : 0, price, eq);
      if (typeof capped !== 'number') return refuse(ts[i]!, capped.code);
      units = capped;
    }
    // proportional sizes are shaved by a hair so float error never rounds a fraction up into overspending
    const shave = a.sizing === 'fixed_qty' ? 1 : 1 - EPS;
    units = floorUnits(units, unit, shave);
    if (units <= 0) return;
    if (units * price < minNotional) return refuse(ts[i]!, 'MIN_NOTIONAL');
    const f = fee(units * price, rate);
    // never spend cash that is not there (with leverage: never lock more margin than there is, either side;
    // an addition to a short without leverage locks its value too)
    if ((side === 1 || lev > 1 || adding) && (units * price) / lev + f > avail + 1e-9) return;
    cash -= side * units * price + f;
    totalFees += f;
    noteOrder(ts[i]!);
    if (adding) {
      // the position's entry price becomes the average of its entries' (its stops and liquidation move with it)
      entryPrice = (Math.abs(qty) * entryPrice + units * price) / (Math.abs(qty) + units);
      qty = sumUnits(qty, side * units);
      entryFees += f;
      entries++;
      liq = liquidationPrice(qty, entryPrice, lev, mm);
      return;
    }
    qty = side * units;
    liq = liquidationPrice(qty, price, lev, mm);
    entryPrice = price;
    entryBar = i;
    entryFees = f;
    entryReason = a.nodeId;
    extreme = price;
    funding = 0;
    entries = 1;
    targetTaken = 0;
    if (d) {
      dStop = d.stop;
      dTarget = d.target;
      dTrail = d.trail;
    }
  };
  /** whether the open position may take another entry of `spec` at `price`: its count and its step */
  const mayAdd = (spec: (typeof actions)[number], price: number) =>
    entries < spec.maxEntries &&
    addStepReached(qty, entryPrice, price, addStepFor(spec.addStepPct, spec.addStepScale, entries));
  /**
   * The order of action `a`, signalled on bar `sb`, at `price` on bar i: at a limit or stop order's level or
   * a gap's open (`atLevel`), a limit order filled at its level as a maker (`maker`: the maker's fee rate).
   * A limit order's fill has no slippage, the close of a flip's position with it.
   */
  const act = (i: number, price: number, a: number, sb: number, atLevel = false, maker = false) => {
    // a limit reached: no orders until the next UTC day (daily loss) or ever again (drawdown); nor in a
    // portfolio's pause
    if (halted || held || pausedDay === day) return;
    const spec = actions[a]!;
    const slips = !atLevel || spec.orderType !== 'limit';
    if (spec.action === 'close') {
      if (qty !== 0) exit(i, price, true, spec.nodeId, spec.closePct);
    } else if (spec.action === 'buy') {
      if (qty < 0) exit(i, price, slips, spec.nodeId, 100, maker);
      if (qty === 0 || (qty > 0 && mayAdd(spec, price))) enter(i, price, 1, spec, sb, slips, maker);
    } else {
      if (qty > 0) exit(i, price, slips, spec.nodeId, 100, maker);
      if (o.allowShort && (qty === 0 || (qty < 0 && mayAdd(spec, price)))) enter(i, price, -1, spec, sb, slips, maker);
    }
  };

  /** a limit reached at equity `eq` on bar i: trading ends (drawdown) or pauses for the day (daily loss) */
  const limitReached = (i: number, why: typeof MAX_DRAWDOWN | typeof MAX_DAILY_LOSS, eq: number) => {
    const dd = why === MAX_DRAWDOWN;
    const base = dd ? peak : dayStart;
    outcome!.halts.push({ bar: i, time: ts[i]!, limit: why, pct: ((base - eq) / base) * 100 });
    // a daily loss pauses trading for the rest of the day when the session would resume the next day,
    // else it ends it, as a paused session nobody resumes
    if (dd || !lim!.resumeNextDay) halted = true;
    else pausedDay = day;
    pending = -1;
  };
  /**
   * Marks the equity at `price`, bar i's open (which may start a UTC day) or its close, as a session marks
   * it on a tick: a limit it reaches closes the position there.
   */
  const mark = (i: number, price: number, atOpen: boolean) => {
    if (atOpen) {
      const d = dayOf(ts[i]!);
      if (d !== day) {
        day = d;
        dayEnd = (d + 1) * DAY_MS;
        dayStart = cash + qty * price;
        dayFloor = dayLimit < Infinity && dayStart > 0 ? dayStart * dayKeep : -Infinity;
        setFloor();
      }
    }
    if (halted || pausedDay === day) return;
    const eq = cash + qty * price;
    if (eq > peak) raisePeak(eq);
    const why = eq <= ddFloor ? MAX_DRAWDOWN : eq <= dayFloor ? MAX_DAILY_LOSS : '';
    if (!why) return;
    if (qty !== 0) exit(i, price, true, why);
    limitReached(i, why, eq);
  };

  // the bars the risk rules read: the bars themselves, or the finer bars of a detail timeframe
  const detail = o.detail && o.detail.length ? o.detail : undefined;
  let rOpen = detail ? detail.open : open;
  let rHigh = detail ? detail.high : high;
  let rLow = detail ? detail.low : low;
  let rTs = detail ? detail.ts : ts;
  /**
   * The risk rules on bar i, read on bar k of rOpen, rHigh, rLow and rTs: bar i itself, or one of its finer
   * bars (its time: an ROI table's time held). A level reached exits at it, or at the open when the bar
   * opened past it.
   */
  const checkRisk = (i: number, k: number) => {
    const long = qty > 0;
    const o0 = k === fillK ? fillLevel : rOpen[k]!;
    const hi = rHigh[k]!;
    const lo = rLow[k]!;
    let stop = NaN;
    let stopReason = 'stop_loss';
    if (dStop) stop = long ? entryPrice - dStop : entryPrice + dStop;
    else if (stopLossPct) stop = entryPrice * (long ? 1 - stopLossPct / 100 : 1 + stopLossPct / 100);
    // break-even: once the best price before this bar gained that much, the stop is at least the entry
    if (breakEven && (long ? extreme >= entryPrice * (1 + breakEven) : extreme <= entryPrice * (1 - breakEven)))
      stop = stop !== stop ? entryPrice : long ? Math.max(stop, entryPrice) : Math.min(stop, entryPrice);
    // a trailing stop with an activation is there once the best price before this bar gained that much
    if (
      (dTrail || trailingStopPct) &&
      (!activate || (long ? extreme >= entryPrice * (1 + activate) : extreme <= entryPrice * (1 - activate)))
    ) {
      // the tighter of the two stops is the one that fires
      const t = dTrail
        ? extreme + (long ? -dTrail : dTrail)
        : extreme * (long ? 1 - trailingStopPct! / 100 : 1 + trailingStopPct! / 100);
      if (stop !== stop || (long ? t > stop : t < stop)) {
        stop = t;
        stopReason = 'trailing_stop';
      }
    }
    // the equity limits: a stop at the price where the equity falls to the higher of the drawdown's and
    // the day's floors (the drawdown's on a tie, as a session checks it first), when it comes first
    let halt: typeof floorWhy | '' = '';
    if (limitsOn && !halted) {
      const level = (floor - cash) / qty;
      if (level > 0 && (stop !== stop || (long ? level > stop : level < stop))) {
        stop = level;
        halt = stopReason = floorWhy;
      }
    }
    // an ROI table's gain is the one for the time held at this bar's open; a partial take profit fires
    // once, a ladder's step once each, in order
    const rung = ladder ? ladder[targetTaken] : undefined;
    const targetPct = roi ? roiAt(roi, rTs[k]! - ts[entryBar]!) : ladder ? rung?.pct : takeProfitPct;
    const target = (ladder ? !rung : targetTaken)
      ? NaN
      : dTarget
        ? entryPrice + (long ? dTarget : -dTarget)
        : targetPct !== undefined
          ? entryPrice * (long ? 1 + targetPct / 100 : 1 - targetPct / 100)
          : NaN;
    // liquidation: when its price comes before any stop's, at it; the bar opening through it (the stop's
    // too, if any), at the open, no worse than the bankruptcy price; without slippage
    if (
      liq === liq &&
      (long ? lo <= liq && (!(stop >= liq) || o0 <= liq) : hi >= liq && (!(stop <= liq) || o0 >= liq))
    ) {
      exit(i, liquidationFill(qty, entryPrice, lev, long ? Math.min(o0, liq) : Math.max(o0, liq)), false, LIQUIDATION);
    } else if (long ? lo <= stop : hi >= stop) {
      const at = long ? Math.min(o0, stop) : Math.max(o0, stop);
      const eqAt = cash + qty * at;
      exit(i, at, true, stopReason);
      if (halt) limitReached(i, halt, eqAt);
    } else if (long ? hi >= target : lo <= target) {
      const share = rung ? rung.sharePct : targetShare;
      exit(i, long ? Math.max(o0, target) : Math.min(o0, target), false, roi ? 'roi' : 'take_profit', share);
      targetTaken++;
      // a ladder's next steps the bar reached too, in order: the price went through them on its way
      for (let next = ladder?.[targetTaken]; next && qty !== 0; next = ladder![targetTaken]) {
        const level = entryPrice * (long ? 1 + next.pct / 100 : 1 - next.pct / 100);
        if (long ? hi < level : lo > level) break;
        exit(i, long ? Math.max(o0, level) : Math.min(o0, level), false, 'take_profit', next.sharePct);
        targetTaken++;
      }
    } else extreme = long ? Math.max(extreme, hi) : Math.min(extreme, lo);
  };
  // a detail timeframe: the risk rules run on the finer bars inside each bar, in their order
  const barMs = detail ? barSecondsOf(ts) * 1000 : 0;
  let dj = 0; // the first finer bar not before the bar being checked
  // A limit or stop entry that filled at its level within this bar: the bar (or with a detail timeframe the
  // finer bar) in which it did, in the arrays the risk rules read (-1: none, or at the open), and the level.
  // The rules start there, with the level as that bar's open: a target the price passed before it fell to
  // a limit buy is not the position's, nor is the open it fell from.
  let fillK = -1;
  let fillLevel = 0;
  /** a drawdown limit: the peak is marked at the position's best price within each bar too */
  const ddOn = ddLimit < Infinity;
  /** a new equity peak, and with a drawdown limit its floor */
  const raisePeak = (e: number) => {
    peak = e;
    if (ddOn) ddFloor = peak * ddKeep;
    setFloor();
  };
  /** the last bar on which an order filled within the bar, at a limit or stop order's level */
  let levelEntryBar = -1;
  /** the end of bar i (the next bar's time) */
  const barEnd = (i: number) => (i + 1 < n ? ts[i + 1]! : ts[i]! + barMs);
  /** moves dj to bar i's first finer bar */
  const seekDetail = (i: number, detail: BarColumns) => {
    while (dj < detail.length && detail.ts[dj]! < ts[i]!) dj++;
  };
  /** bar i's first finer bar that reached `level` (at or above it when `up`); -1 none did, -2 it has none */
  const reachedAt = (i: number, detail: BarColumns, level: number, up: boolean) => {
    seekDetail(i, detail);
    const end = barEnd(i);
    if (dj >= detail.length || detail.ts[dj]! >= end) return -2;
    for (let k = dj; k < detail.length && detail.ts[k]! < end; k++)
      if (up ? detail.high[k]! >= level : detail.low[k]! <= level) return k;
    return -1;
  };
  const checkDetail = (i: number, detail: BarColumns) => {
    const dts = detail.ts;
    const dn = detail.length;
    const next = barEnd(i);
    seekDetail(i, detail);
    // a bar without finer bars is checked whole
    if (dj >= dn || dts[dj]! >= next) {
      rOpen = open;
      rHigh = high;
      rLow = low;
      rTs = ts;
      checkRisk(i, i);
      rOpen = detail.open;
      rHigh = detail.high;
      rLow = detail.low;
      rTs = dts;
      return;
    }
    // until the position is closed (after a partial take profit, the rest goes on)
    for (let k = fillK > dj ? fillK : dj; k < dn && dts[k]! < next && qty !== 0; k++) checkRisk(i, k);
  };
  // the rules checked within each bar; the equity limits alone (without a detail timeframe) take a
  // shorter path of their own, limitsOnly
  const rulesOn = !!(
    stopLossPct ||
    takeProfitPct ||
    trailingStopPct ||
    lev > 1 ||
    rules.length ||
    breakEven ||
    roi ||
    ladder
  );
  const riskOn = rulesOn || (limitsOn && !!detail);
  const limitsOnly = limitsOn && !riskOn;
  /** bar i with the equity limits as its only rules: checkRisk's limit stop, alone */
  const checkLimits = (i: number) => {
    const level = (floor - cash) / qty;
    if (!(level > 0)) return;
    const long = qty > 0;
    if (long ? low[i]! > level : high[i]! < level) return;
    const o0 = i === fillK ? fillLevel : open[i]!;
    const at = long ? Math.min(o0, level) : Math.max(o0, level);
    const eqAt = cash + qty * at;
    exit(i, at, true, floorWhy);
    limitReached(i, floorWhy, eqAt);
  };
  // bars run in chunks of 1% so the progress callback stays out of the per-bar loop
  for (let chunk = 0; chunk < n && !cancelled; chunk += step) {
    const end = Math.min(n, chunk + step);
    for (let i = chunk; i < end; i++) {
      // funding times between the last bar and this one: the position held across them pays at this open
      if (ts[i]! >= nextFunding) {
        if (qty !== 0) {
          const paid = (fundingTimes(ts[i - 1]!, ts[i]!) * qty * open[i]! * fundingPct(o, qty)) / 100;
          cash -= paid;
          funding += paid;
        }
        nextFunding = (Math.floor(ts[i]! / FUNDING_INTERVAL_MS) + 1) * FUNDING_INTERVAL_MS;
      }
      if (pauses.length) {
        // a portfolio's pause begun since the last bar: the position closed at this open, no orders until
        // it ends
        while (pauseK < pauses.length && pauses[pauseK]!.at < ts[i]!) {
          const p = pauses[pauseK++]!;
          if (qty !== 0) exit(i, open[i]!, true, p.reason);
          pending = -1;
          heldUntil = p.until;
        }
        held = ts[i]! < heldUntil;
      }
      // the mark at the open, when it may change something: a new day, a new peak or a floor reached
      if (limitsOn) {
        const e = cash + qty * open[i]!;
        if (ts[i]! >= dayEnd || e > peak || e <= floor) mark(i, open[i]!, true);
      }
      if (pending >= 0) {
        const spec = actions[pending]!;
        const sb = pendingSb;
        let rests = false;
        if (spec.orderType === 'market' || spec.action === 'close') act(i, open[i]!, pending, sb);
        else {
          // a limit buy fills at or below its level, a stop buy at or above (mirrored for sells);
          // a gap through the level fills at the open; not reached within its bars (validBars): cancelled
          const up = fillsAbove(spec);
          const level = orderLevel(spec, pendingRef);
          const o0 = open[i]!;
          if (up ? o0 >= level : o0 <= level) act(i, o0, pending, sb, true);
          else if (up ? high[i]! >= level : low[i]! <= level) {
            act(i, level, pending, sb, true, spec.orderType === 'limit');
            levelEntryBar = i;
            // a position it opened within the bar: its risk rules start at the level, on the finer bar that
            // reached it (an addition's position was there before: its rules run on the whole bar)
            if (qty !== 0 && entryBar === i && entries === 1) {
              const k = detail ? reachedAt(i, detail, level, up) : i;
              fillK = k === -2 ? i : k;
              fillLevel = level;
            }
          } else if (--pendingLeft > 0) rests = true;
        }
        // filled, or its bars are over: gone (a limit/stop order not reached rests on, validBars)
        if (!rests) pending = -1;
      }
      // a position held long enough leaves at this open (after the pending order, which may have closed it)
      if (timeExitMs && qty !== 0 && !onClose && ts[i]! - ts[entryBar]! >= timeExitMs)
        exit(i, open[i]!, true, 'time_exit');
      if (riskOn && qty !== 0) {
        if (detail) checkDetail(i, detail);
        else checkRisk(i, i);
      } else if (limitsOnly && qty !== 0 && !halted && pausedDay !== day) checkLimits(i);
      fillK = -1;
      if (aware) {
        // the position after this bar's fills and stops, at its close (a fill at a close: from that close)
        inst.setPosition(qty, entryPrice, ts[entryBar]! + (onClose ? barSec * 1000 : 0), entries);
        const a = inst.stepPosition(bars, i, frontier);
        signals[i] = i < from ? -1 : a;
        for (let k = 0; k < distSlots.length; k++) distArrays[k]![i] = inst.value(distSlots[k]!);
        o.onPositionBar?.(i, valueOf);
      }
      // no orders once a limit ended trading, nor for the rest of a day it paused, nor in a portfolio's pause
      const s = halted || held || pausedDay === day ? -1 : signals[i]!;
      if (onClose) {
        atClose = true;
        if (s >= 0) act(i, close[i]!, s, i);
        // orders fill on closes: a position held long enough leaves at this close (after the signal's order)
        if (timeExitMs && qty !== 0 && ts[i]! - ts[entryBar]! >= timeExitMs) exit(i, close[i]!, true, 'time_exit');
        atClose = false;
      } else if (s >= 0) {
        if (i + 1 < n) {
          // a new signal's order replaces one resting
          pending = s;
          pendingRef = close[i]!;
          pendingSb = i;
          pendingLeft = actions[s]!.validBars;
        }
      }
      // a session marks its peak on every tick: the position's best price within the bar raises it for the
      // bars after (after this bar's own checks: within the bar the order of its high and low is unknown),
      // unless the position was entered within the bar at a level, perhaps after that price
      if (limitsOn) {
        if (ddOn && qty !== 0 && levelEntryBar !== i) {
          const b = cash + qty * (qty > 0 ? high[i]! : low[i]!);
          if (b > peak) raisePeak(b);
        }
        const e = cash + qty * close[i]!;
        if (e > peak || e <= floor) {
          atClose = true;
          mark(i, close[i]!, false);
          atClose = false;
        }
      }
      // a portfolio's pause beginning at this bar: the position closed at its close, the order for the next
      // bar cancelled
      if (pauseK < pauses.length && pauses[pauseK]!.at === ts[i]) {
        const p = pauses[pauseK++]!;
        if (qty !== 0) {
          atClose = true;
          exit(i, close[i]!, true, p.reason);
          atClose = false;
        }
        pending = -1;
        heldUntil = p.until;
        held = true;
      }
      equity[i] = cash + qty * close[i]!;
    }
    if (o.onProgress && end < n && o.onProgress(end / n)) cancelled = true;
  }
  if (!cancelled && qty !== 0 && (o.closeAtEnd ?? true) && n > 0) {
    // like backtesting.py's finalize_trades: the closing order fills at the last bar's open
    // (at its close when orders fill on the close)
    atClose = onClose;
    exit(n - 1, onClose ? close[n - 1]! : open[n - 1]!, false, 'end');
    equity[n - 1] = cash;
  }
  // MAE and MFE: the bars each position was held through, from its entry bar (entered at its open or
  // at a level within it; not when entered at its close) to its exit bar when it exited at the close
  // (not when at the open or at a stop or target level within the bar)
  for (let k = 0; k < (o.excursions === false ? 0 : trades.length); k++) {
    const t = trades[k]!;
    let lo = Infinity;
    let hi = -Infinity;
    const last = heldToClose[k] ? t.exitBar : t.exitBar - 1;
    for (let i = onClose ? t.entryBar + 1 : t.entryBar; i <= last; i++) {
      if (low[i]! < lo) lo = low[i]!;
      if (high[i]! > hi) hi = high[i]!;
    }
    const x = excursion(t.size, t.entryPrice, t.exitPrice, lo, hi);
    t.mae = x.mae;
    t.mfe = x.mfe;
  }
  o.onProgress?.(1);
  if (from > 0) {
    // the result starts at the first bar that could trade: the warm-up bars are not part of it
    const shifted = trades.map((t) => ({ ...t, entryBar: t.entryBar - from, exitBar: t.exitBar - from }));
    const eq = equity.subarray(from);
    const stats = computeStats({
      equity: eq,
      time: ts.subarray(from),
      close: close.subarray(from),
      trades: shifted,
      firstTradingBar: Math.max(0, firstTradingBar(plan, barSecondsOf(ts)) - from),
      totalFees,
    });
    if (outcome) for (const h of outcome.halts) h.bar -= from;
    return {
      trades: shifted,
      equity: eq,
      stats,
      totalFees,
      finalCash: cash,
      cancelled,
      ...(outcome ? { risk: outcome } : {}),
    };
  }
  const stats = computeStats({
    equity,
    time: ts,
    close,
    trades,
    firstTradingBar: firstTradingBar(plan, barSecondsOf(ts)),
    totalFees,
  });
  return { trades, equity, stats, totalFees, finalCash: cash, cancelled, ...(outcome ? { risk: outcome } : {}) };
}

/** Copies a block's values of the rules' distance slots into their per-bar columns (run's onBlock). */
function capture(cols: readonly Float64Array[], bySlot: Map<number, Float64Array>, start: number, m: number): void {
  for (const [slot, out] of bySlot) out.set(cols[slot]!.subarray(0, m), start);
}

/**
 * The first bar where every value feeding an action is defined (indicators' warm-up, not the crosses'),
 * with the bars higher timeframes need at this bar interval (seconds; `barSecondsOf` the series).
 */
export function firstTradingBar(plan: CompiledPlan, barSeconds = 0): number {
  let w = 0;
  const warm = new Map<string, number>();
  const bySlot = new Map<number, string>();
  for (const node of plan.nodes) node.outputs.forEach((s) => bySlot.set(s, node.id));
  for (const node of plan.nodes) {
    const up = Math.max(0, ...node.inputs.map((s) => warm.get(bySlot.get(s) ?? '') ?? 0));
    const own = node.type.category === 'indicator' && !(node.timeframe! > 0) ? node.type.warmup(node.params) : 0;
    warm.set(node.id, up + own);
    w = Math.max(w, up + own);
  }
  return plan.warmupSeconds > 0 && barSeconds > 0 ? w + Math.ceil(plan.warmupSeconds / barSeconds) : w;
}
