import type { TradeRecord } from './stats.ts';

/**
 * Paper trading money math, shared by forward testing (and anything else that fills orders on paper).
 * Pure: no I/O, no clocks. Every fill (and every funding payment) keeps the ledger identity
 *
 *   startingBalance + realizedPnl - fees - funding = cash + qty * avgPrice      (the "balance")
 *   equity = cash + qty * marketPrice
 *
 * (funding: perpetual futures' payments, 0 without a funding rate). Fees, funding and realised PnL are
 * rounded to 1e-8 of the quote currency (the database's numeric scale), so sums over the stored trades
 * reproduce the ledger exactly, far below a cent.
 */

export interface PaperConfig {
  startingBalance: number;
  /** fee as a fraction of notional per fill (0.001 = 0.1 %) */
  feeRate: number;
  /** fixed fee per fill in quote currency */
  feeFixed: number;
  /**
   * the fee rate of a maker's fill: a limit order that rested and was filled at its level (absent: feeRate,
   * as a taker's). Exchanges charge less for it (Binance futures 0.02 % against 0.05 %).
   */
  makerFeeRate?: number;
  /** adverse slippage per fill in basis points */
  slippageBps: number;
  /** sell may open a short (otherwise it only closes a long) */
  allowShort: boolean;
  /** whole units (stocks) or fractional, to 1e-8 (crypto) */
  wholeUnits: boolean;
  /**
   * An exchange's lot size: every quantity a multiple of it (0.001 BTC), rounded down; absent: a whole
   * unit or 1e-8, as wholeUnits says (unitStep)
   */
  qtyStep?: number;
  /**
   * An exchange's minimum order value (Binance's MIN_NOTIONAL, 5 USDT): an entry or an addition worth
   * less is refused (MIN_NOTIONAL); a close never is (reduce-only orders are exempt on exchanges too)
   */
  minNotional?: number;
  /**
   * Margin trading (perpetual futures, isolated margin): positions are worth up to this many times the
   * margin they lock, and are liquidated (see liquidationPrice). 1 or absent: no leverage, no liquidation.
   */
  leverage?: number;
  /** maintenance margin, % of the position's value (default 0.5): below it the position is liquidated */
  maintenanceMarginPct?: number;
  /**
   * Perpetual futures' funding, % of the position's value at each funding time (every 8 hours from
   * 00:00 UTC): a long pays it and a short receives it (the other way round when negative).
   */
  fundingRatePct?: number;
  /**
   * The interest a short position pays on what it borrowed, % a year of its value (a broker's borrow fee
   * on a stock, a margin loan's interest on a coin), settled at the funding times (a 1095th at each) and
   * counted with funding. Absent: none.
   */
  borrowRatePct?: number;
}

/** Funding is paid every 8 hours, at 00:00, 08:00 and 16:00 UTC. */
export const FUNDING_INTERVAL_MS = 8 * 3_600_000;
/** the funding times in a year (365 days of three): a borrow rate's share at each is its 1095th */
export const FUNDING_TIMES_A_YEAR = 1095;

/**
 * The % of its value a position of `qty` pays at each funding time: the funding rate (a short receives
 * it: the sign of qty does that), and for a short its borrow rate's share as well.
 */
export const fundingPct = (cfg: Pick<PaperConfig, 'fundingRatePct' | 'borrowRatePct'>, qty: number): number =>
  (cfg.fundingRatePct ?? 0) - (qty < 0 && cfg.borrowRatePct ? cfg.borrowRatePct / FUNDING_TIMES_A_YEAR : 0);

/** whether a position pays anything at the funding times: a funding rate, or a borrow rate for shorts */
export const paysFunding = (cfg: Pick<PaperConfig, 'fundingRatePct' | 'borrowRatePct'>): boolean =>
  !!cfg.fundingRatePct || !!cfg.borrowRatePct;

/** How many funding times fall in (from, to] (epoch ms). */
export const fundingTimes = (from: number, to: number): number =>
  Math.floor(to / FUNDING_INTERVAL_MS) - Math.floor(from / FUNDING_INTERVAL_MS);

/** An exit's reason (TradeRecord.exitReason, a fill's source) when a leveraged position is liquidated. */
export const LIQUIDATION = 'liquidation';
export const DEFAULT_MAINTENANCE_MARGIN_PCT = 0.5;

/**
 * The price at which an isolated-margin position is liquidated: where its margin (value at entry /
 * leverage) plus its unrealised PnL falls to the maintenance margin (maintenanceMarginPct of its value
 * at that price). `size` signed (long > 0). NaN when nothing can be liquidated (no leverage, or flat).
 *
 *   long:  entry × (1 - 1/leverage) / (1 - mm)        short: entry × (1 + 1/leverage) / (1 + mm)
 *
 * Fees are left out, as exchanges leave them out of the liquidation price.
 */
export function liquidationPrice(
  size: number,
  entryPrice: number,
  leverage = 1,
  maintenanceMarginPct = DEFAULT_MAINTENANCE_MARGIN_PCT,
): number {
  if (!(leverage > 1) || size === 0) return NaN;
  const mm = maintenanceMarginPct / 100;
  return size > 0 ? (entryPrice * (1 - 1 / leverage)) / (1 - mm) : (entryPrice * (1 + 1 / leverage)) / (1 + mm);
}

/**
 * What is wrong with margin settings, or null: leverage from 1 to 125, and a maintenance margin below the
 * initial margin (100 / leverage %), else every position would be liquidated as it opens.
 */
export function marginProblem(leverage: number, maintenanceMarginPct: number): string | null {
  if (!(leverage >= 1 && leverage <= 125)) return `leverage must be from 1 to 125 (got ${leverage})`;
  if (!(maintenanceMarginPct >= 0)) return `the maintenance margin must be a percentage (got ${maintenanceMarginPct})`;
  if (leverage > 1 && maintenanceMarginPct >= 100 / leverage)
    return `a maintenance margin of ${maintenanceMarginPct} % is not below the initial margin of ${+(100 / leverage).toFixed(4)} % at ${leverage}x leverage: every position would be liquidated as it opens`;
  return null;
}

/** Margin trading and funding settings as stored with a backtest or a session (PaperConfig's). */
export type MarginSettings = Pick<PaperConfig, 'leverage' | 'maintenanceMarginPct' | 'fundingRatePct'>;

/**
 * The settings worth keeping: leverage (with its maintenance margin) only above 1, funding only when
 * not 0, so a spot account's settings are what they were before either existed. Check marginProblem first.
 */
export function marginSettings(leverage: number, maintenanceMarginPct: number, fundingRatePct: number): MarginSettings {
  const funding = fundingRatePct ? { fundingRatePct } : {};
  return leverage > 1 ? { leverage, maintenanceMarginPct, ...funding } : funding;
}

/**
 * The price at which an isolated-margin position has lost all its margin: a liquidation that the market
 * gapped through fills no worse than this (the exchange's insurance fund takes the rest).
 */
export function bankruptcyPrice(size: number, entryPrice: number, leverage = 1): number {
  if (!(leverage > 1) || size === 0) return NaN;
  return size > 0 ? entryPrice * (1 - 1 / leverage) : entryPrice * (1 + 1 / leverage);
}

/**
 * Where a liquidation fills when the market is at `price` (at or beyond the liquidation price): there,
 * but never worse than the bankruptcy price, so a position loses at most its margin. Backtests and paper
 * sessions alike.
 */
export function liquidationFill(size: number, entryPrice: number, leverage: number, price: number): number {
  const bust = bankruptcyPrice(size, entryPrice, leverage);
  return size > 0 ? Math.max(price, bust) : Math.min(price, bust);
}

export interface RiskLimits {
  /** largest position value as % of equity */
  maxPositionPct?: number;
  /** largest position value in quote currency */
  maxPositionValue?: number;
  /** largest quantity in one order */
  maxOrderQty?: number;
  /** orders (fills and refusals) allowed in any 60 s */
  maxOrdersPerMinute?: number;
  /** a loss of this % of the day's starting equity pauses the session */
  maxDailyLossPct?: number;
  /**
   * a pause by maxDailyLossPct ends with the UTC day: the first tick of a later day resumes the session
   * (a backtest: trading resumes the next day). Without it the session stays paused until it is resumed
   * (a backtest: trading ends).
   */
  resumeNextDay?: boolean;
  /** a drawdown of this % from the equity peak stops the session */
  maxDrawdownPct?: number;
}

export interface LedgerState {
  cash: number;
  qty: number;
  avgPrice: number;
  realizedPnl: number;
  fees: number;
  /** fills */
  fills: number;
  /** closed round trips and their outcome */
  closedTrades: number;
  wins: number;
  grossProfit: number;
  grossLoss: number;
  /** when the open position was entered, and the fees it has paid so far */
  entryTs: number;
  entryFees: number;
  /** marks */
  lastPrice: number;
  lastTs: number;
  firstTs: number;
  peakEquity: number;
  maxDrawdownPct: number;
  /** time spent with a position open, ms */
  exposureMs: number;
  /** UTC day (days since the epoch) and the equity it began with, for the daily loss limit */
  day: number;
  dayStartEquity: number;
  /** times (ms) of recent orders, for the per-minute limit */
  recentOrders: number[];
  /** no new position before this time (ms; 0: none): a strategy's Cooldown node, started by an exit */
  cooldownUntil: number;
  /**
   * the exits so far that count toward a Cooldown node's `count` (0 with a count of 1): in a row, or with
   * its `withinMinutes`, those of them within that window as of the last one (coolTimes' length)
   */
  coolStreak: number;
  /**
   * with a Cooldown node's `withinMinutes`: the times (ms) of those exits, oldest first (else empty).
   * Never changed in place: a new array replaces it, so copies of a ledger may share it.
   */
  coolTimes: readonly number[];
  /** funding paid in all (perpetual futures; negative: received), and by the open position */
  funding: number;
  entryFunding: number;
  /** the time (ms) funding has been settled to (0: not yet): see settleFunding */
  fundedTo: number;
  /** the fills that opened or added to the open position (0: flat), for an action's maxEntries */
  entries: number;
  /**
   * the partial take profits (source `take_profit`) that have closed their share of the open position: 1
   * once a take profit's, a ladder's steps taken so far
   */
  targetTaken: number;
  /**
   * the open position's rules at a distance, in price (0: none, or the strategy's percent rules): its stop
   * loss and take profit from the (average) entry, its trailing stop from the best price since entry.
   * Taken from the signal that opened it (see PositionRisk) and kept while it is open.
   */
  stopDist: number;
  targetDist: number;
  trailDist: number;
}

/** The distances (price) a new position keeps for its rules at a distance (LedgerState.stopDist and the rest). */
export interface PositionRisk {
  stopDist?: number;
  targetDist?: number;
  trailDist?: number;
}

/** What starts a cooldown (a strategy's Cooldown node): any exit, a losing trade's, or a stop's. */
export type CooldownAfter = 'any' | 'loss' | 'stop';
export interface Cooldown {
  /** how long no new position may open after such an exit */
  ms: number;
  after: CooldownAfter;
  /** it starts after this many such exits in a row (default 1; another exit breaks the run) */
  count?: number;
  /**
   * above 0: after `count` such exits within this window (ms) instead, other exits between them or not
   * (freqtrade's StoplossGuard and its lookback period)
   */
  withinMs?: number;
}

/**
 * A whole exit at `ts` under a cooldown: the exits it makes count toward the cooldown (`streak`, the
 * ledger's coolStreak after it; with a window, their times, the ledger's coolTimes after it) and whether
 * it starts the cooldown (they reached its count: the count starts again from 0). In a row, another exit
 * ends the run; within a window, exits older than the window drop out and other exits change nothing.
 */
export function cooldownStep(
  cooldown: Cooldown,
  streak: number,
  pnl: number,
  reason: string | undefined,
  ts = 0,
  times: readonly number[] = NO_TIMES,
): { starts: boolean; streak: number; times: readonly number[] } {
  const count = cooldown.count ?? 1;
  const within = cooldown.withinMs ?? 0;
  if (!startsCooldown(cooldown.after, pnl, reason))
    return within > 0 ? { starts: false, streak, times } : { starts: false, streak: 0, times: NO_TIMES };
  if (within > 0) {
    const kept = times.filter((t) => t > ts - within);
    kept.push(ts);
    return kept.length >= count
      ? { starts: true, streak: 0, times: NO_TIMES }
      : { starts: false, streak: kept.length, times: kept };
  }
  const run = streak + 1;
  return run >= count ? { starts: true, streak: 0, times: NO_TIMES } : { starts: false, streak: run, times: NO_TIMES };
}
/** the ledger's coolTimes when none are kept (one shared array: it is never changed in place) */
const NO_TIMES: readonly number[] = Object.freeze([]);

/**
 * The exits toward a Cooldown node's count as of `ts`: the ledger's run, or with a window, its exits
 * within the window then.
 */
export function coolRunAt(cooldown: Cooldown | undefined, l: LedgerState, ts: number): number {
  const within = cooldown?.withinMs ?? 0;
  if (!within) return l.coolStreak;
  let n = 0;
  for (const t of l.coolTimes) if (t > ts - within) n++;
  return n;
}

/** Whether an exit (its trade's PnL and what closed it) starts a cooldown of this kind. */
export function startsCooldown(after: CooldownAfter, pnl: number, reason: string | undefined): boolean {
  return after === 'any' || (after === 'loss' ? pnl < 0 : reason === 'stop_loss' || reason === 'trailing_stop');
}

export type OrderAction = 'buy' | 'sell' | 'close';
export type OrderSizing = 'all' | 'fixed_qty' | 'pct_equity' | 'fixed_cash';

export interface OrderRequest {
  action: OrderAction;
  sizing: OrderSizing;
  amount: number;
  /** quote at execution time: fills buy at the ask, sell at the bid, else the last price */
  price: number;
  bid?: number;
  ask?: number;
  ts: number;
  /** what the order came from (an action node or a rule): whether its exit starts a cooldown */
  source?: string;
  /** fill at `price` exactly: no slippage, not at the bid or ask (a liquidation, at its price) */
  atPrice?: boolean;
  /** a resting limit order filled at its level: the config's makerFeeRate (when set) instead of feeRate */
  maker?: boolean;
  /**
   * buy or sell in the open position's direction adds to it while it has fewer entries than this
   * (default 1: a signal in the position's direction does nothing)
   */
  maxEntries?: number;
  /** an addition only once the price is this % against the position's average entry (default 0: any) */
  addStepPct?: number;
  /** buy/sell adding to a position: its amount is this many times the entry before it's (addScaleOf) */
  addScale?: number;
  /** buy/sell adding to a position: its step is this many times the one before it (addStepFor) */
  addStepScale?: number;
  /** close: the share of the open position to close, % (default 100: all of it) */
  percent?: number;
}

export interface Fill {
  side: 'buy' | 'sell';
  /** positive units */
  quantity: number;
  /** fill price including slippage */
  price: number;
  fee: number;
  /** cost of slippage in quote currency (>= 0) */
  slippage: number;
  realizedPnl: number;
  ts: number;
  /** what the order came from: an action node's id or a rule (see TradeRecord.exitReason) */
  source?: string;
  /**
   * the funding paid in all (the ledger's `funding`) once this fill was applied, when known: roundTrips
   * gives each round trip the funding its position paid between its fills
   */
  fundingAfter?: number;
}

export type OrderOutcome =
  /**
   * cooldownUntil: the cooldown the fill's exit starts; coolStreak: the run of exits toward a cooldown's
   * count after it (applyFill keeps both on the ledger)
   */
  | {
      kind: 'fill';
      fill: Fill;
      closedTrade?: TradeRecord;
      cooldownUntil?: number;
      coolStreak?: number;
      coolTimes?: readonly number[];
    }
  | { kind: 'refused'; code: RefusalCode; reason: string }
  | { kind: 'noop'; reason: string };

export type RefusalCode =
  | 'INSUFFICIENT_CASH'
  | 'MAX_ORDER_QTY'
  | 'MAX_POSITION'
  | 'RATE_LIMIT'
  | 'SHORTS_NOT_ALLOWED'
  | 'NO_PRICE'
  | 'COOLDOWN'
  | 'MIN_NOTIONAL';

const r8 = (x: number) => Math.round(x * 1e8) / 1e8;
const EPS = 1e-9;
/** a UTC day's length, and the UTC day of a time (epoch ms): the days the daily loss limits count in */
export const DAY_MS = 86_400_000;
export const dayOf = (ts: number): number => Math.floor(ts / DAY_MS);

export function newLedger(cfg: PaperConfig, ts = 0): LedgerState {
  return {
    cash: cfg.startingBalance,
    qty: 0,
    avgPrice: 0,
    realizedPnl: 0,
    fees: 0,
    fills: 0,
    closedTrades: 0,
    wins: 0,
    grossProfit: 0,
    grossLoss: 0,
    entryTs: 0,
    entryFees: 0,
    lastPrice: 0,
    lastTs: ts,
    firstTs: ts,
    peakEquity: cfg.startingBalance,
    maxDrawdownPct: 0,
    exposureMs: 0,
    day: ts ? dayOf(ts) : -1,
    dayStartEquity: cfg.startingBalance,
    recentOrders: [],
    cooldownUntil: 0,
    coolStreak: 0,
    coolTimes: NO_TIMES,
    funding: 0,
    entryFunding: 0,
    fundedTo: 0,
    entries: 0,
    targetTaken: 0,
    stopDist: 0,
    targetDist: 0,
    trailDist: 0,
  };
}

/**
 * A copy of a ledger, built field by field (the compiler checks it names every field). Every ledger
 * then has the same shape, so the code that marks ten thousand of them per tick stays monomorphic, and
 * copying one is a plain allocation rather than an object spread (which was the largest cost of
 * planning a batch of fills).
 */
export function copyLedger(l: LedgerState): LedgerState {
  return {
    cash: l.cash,
    qty: l.qty,
    avgPrice: l.avgPrice,
    realizedPnl: l.realizedPnl,
    fees: l.fees,
    fills: l.fills,
    closedTrades: l.closedTrades,
    wins: l.wins,
    grossProfit: l.grossProfit,
    grossLoss: l.grossLoss,
    entryTs: l.entryTs,
    entryFees: l.entryFees,
    lastPrice: l.lastPrice,
    lastTs: l.lastTs,
    firstTs: l.firstTs,
    peakEquity: l.peakEquity,
    maxDrawdownPct: l.maxDrawdownPct,
    exposureMs: l.exposureMs,
    day: l.day,
    dayStartEquity: l.dayStartEquity,
    recentOrders: l.recentOrders.slice(),
    cooldownUntil: l.cooldownUntil,
    coolStreak: l.coolStreak,
    coolTimes: l.coolTimes,
    funding: l.funding,
    entryFunding: l.entryFunding,
    fundedTo: l.fundedTo,
    entries: l.entries,
    targetTaken: l.targetTaken,
    stopDist: l.stopDist,
    targetDist: l.targetDist,
    trailDist: l.trailDist,
  };
}

// V8 gives each field of copyLedger's objects the representation of the first value stored in it, and
// changing it later (an integer field receiving a fraction) retires the objects' shape: every ledger made
// before then is migrated on its next use. At a session's first fill most of its fields stop being
// integers, so with integer first values the first minutes of trading migrate ledger after ledger. One
// ledger of fractions first makes every field a double from the start.
const fractions = Object.fromEntries(
  Object.keys(newLedger({ startingBalance: 0 } as PaperConfig)).map((k) => [k, 0.5]),
);
copyLedger({ ...fractions, recentOrders: [], coolTimes: NO_TIMES } as unknown as LedgerState);

/** A ledger as stored (a session row's state, or a decoded order's): fields it lacks take newLedger's values. */
export const storedLedger = (cfg: PaperConfig, state: unknown): LedgerState =>
  copyLedger({ ...newLedger(cfg), ...(state as Partial<LedgerState>) });

/**
 * Writes `src`'s fields into `dst`, the recent order times included (`dst` keeps its own array). A live
 * session's ledger object is kept for the session's life and updated in place when a batch of fills
 * commits, and the engine's working copies are reused from batch to batch: once their arrays are long
 * enough, an assignment allocates nothing.
 */
export function assignLedger(dst: LedgerState, src: LedgerState): void {
  // field by field in copyLedger's order: every store lands in a field dst already has, so its shape stays
  dst.cash = src.cash;
  dst.qty = src.qty;
  dst.avgPrice = src.avgPrice;
  dst.realizedPnl = src.realizedPnl;
  dst.fees = src.fees;
  dst.fills = src.fills;
  dst.closedTrades = src.closedTrades;
  dst.wins = src.wins;
  dst.grossProfit = src.grossProfit;
  dst.grossLoss = src.grossLoss;
  dst.entryTs = src.entryTs;
  dst.entryFees = src.entryFees;
  dst.lastPrice = src.lastPrice;
  dst.lastTs = src.lastTs;
  dst.firstTs = src.firstTs;
  dst.peakEquity = src.peakEquity;
  dst.maxDrawdownPct = src.maxDrawdownPct;
  dst.exposureMs = src.exposureMs;
  dst.day = src.day;
  dst.dayStartEquity = src.dayStartEquity;
  dst.cooldownUntil = src.cooldownUntil;
  dst.coolStreak = src.coolStreak;
  dst.coolTimes = src.coolTimes;
  dst.funding = src.funding;
  dst.entryFunding = src.entryFunding;
  dst.fundedTo = src.fundedTo;
  dst.entries = src.entries;
  dst.targetTaken = src.targetTaken;
  dst.stopDist = src.stopDist;
  dst.targetDist = src.targetDist;
  dst.trailDist = src.trailDist;
  const a = dst.recentOrders;
  const b = src.recentOrders;
  if (a === b) return;
  for (let i = 0; i < b.length; i++) a[i] = b[i]!;
  a.length = b.length;
}

/** Drops the recent order times at or before `cutoff`, in place (the per-minute window). */
function pruneRecent(a: number[], cutoff: number): void {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! > cutoff) a[k++] = a[i]!;
  a.length = k;
}

export const equityOf = (s: LedgerState, price = s.lastPrice): number => s.cash + s.qty * (price || s.avgPrice);
/** starting balance + realised PnL - fees - funding, which must equal cash + cost basis of the open position */
export const balanceOf = (s: LedgerState): number => s.cash + s.qty * s.avgPrice;

/**
 * Settles perpetual futures' funding up to `ts` at `price`: for each funding time since the ledger was
 * last settled (fundedTo) the open position pays `rate` % of its value (a long pays a positive rate, a
 * short receives it), from cash, counted in `funding` and the position's `entryFunding`. Called whenever
 * the ledger moves on in time (a tick's mark, before an order is planned), so a position pays for the
 * funding times it was open at; the first call only starts the clock. Mutates the ledger.
 */
export function settleFunding(s: LedgerState, ratePct: number, price: number, ts: number): void {
  if (ts <= s.fundedTo) return;
  if (s.fundedTo > 0 && s.qty !== 0 && price > 0) {
    const k = fundingTimes(s.fundedTo, ts);
    if (k > 0) {
      const paid = r8((k * s.qty * price * ratePct) / 100);
      s.cash -= paid;
      s.funding = r8(s.funding + paid);
      s.entryFunding = r8(s.entryFunding + paid);
    }
  }
  s.fundedTo = ts;
}

/**
 * Marks the ledger at a price: equity peak and drawdown, exposure time, the daily baseline.
 * Returns which limit (if any) the mark breaches.
 */
export function markLedger(
  s: LedgerState,
  price: number,
  ts: number,
  risk: RiskLimits,
): 'max_drawdown' | 'max_daily_loss' | null {
  return markLedgerWithin(s, price, ts, risk.maxDrawdownPct ?? Infinity, risk.maxDailyLossPct ?? Infinity);
}

/**
 * markLedger with the two limits it checks as numbers (Infinity: no limit). A live session holds its
 * limits as its own fields and marks on every tick: one object fewer to reach per mark, which is what a
 * mark of ten thousand sessions spends its time on.
 */
export function markLedgerWithin(
  s: LedgerState,
  price: number,
  ts: number,
  maxDrawdownPct: number,
  maxDailyLossPct: number,
): 'max_drawdown' | 'max_daily_loss' | null {
  if (!s.firstTs) s.firstTs = ts;
  if (s.qty !== 0 && s.lastTs && ts > s.lastTs) s.exposureMs += ts - s.lastTs;
  s.lastPrice = price;
  if (ts > s.lastTs) s.lastTs = ts;
  const eq = equityOf(s, price);
  const day = dayOf(ts);
  if (day !== s.day) {
    s.day = day;
    s.dayStartEquity = eq;
  }
  if (eq > s.peakEquity) s.peakEquity = eq;
  const dd = s.peakEquity > 0 ? ((s.peakEquity - eq) / s.peakEquity) * 100 : 0;
  if (dd > s.maxDrawdownPct) s.maxDrawdownPct = dd;
  if (dd >= maxDrawdownPct) return 'max_drawdown';
  if (s.dayStartEquity > 0 && ((s.dayStartEquity - eq) / s.dayStartEquity) * 100 >= maxDailyLossPct)
    return 'max_daily_loss';
  return null;
}

/**
 * A session's caps on an entry of `units` at `price`, in turn: a fixed quantity above one is refused, a
 * proportional size shrinks to it. The position's caps count what it `held` already (an addition);
 * maxPositionPct is a share of `equity`. Backtests apply the same (runBacktest's `risk`).
 */
export function capEntry(
  risk: RiskLimits,
  units: number,
  fixed: boolean,
  held: number,
  price: number,
  equity: number,
): number | { code: RefusalCode; reason: string } {
  if (risk.maxOrderQty !== undefined && units > risk.maxOrderQty + EPS) {
    if (fixed) return { code: 'MAX_ORDER_QTY', reason: `order quantity above the limit of ${risk.maxOrderQty}` };
    units = risk.maxOrderQty;
  }
  if (risk.maxPositionValue !== undefined && units + held > risk.maxPositionValue / price + EPS) {
    if (fixed) return { code: 'MAX_POSITION', reason: `position value above the limit of ${risk.maxPositionValue}` };
    units = risk.maxPositionValue / price - held;
  }
  if (risk.maxPositionPct !== undefined && units + held > (equity * risk.maxPositionPct) / 100 / price + EPS) {
    if (fixed) return { code: 'MAX_POSITION', reason: `position above ${risk.maxPositionPct}% of equity` };
    units = (equity * risk.maxPositionPct) / 100 / price - held;
  }
  return units;
}

/** the fee rate of order o: a maker's when it rested at its level and the config has one, else the taker's */
const rateOf = (cfg: PaperConfig, o: OrderRequest): number =>
  o.maker && cfg.makerFeeRate !== undefined ? cfg.makerFeeRate : cfg.feeRate;
/** the fee on an order of `notional` value at `rate` */
const feeOf = (cfg: PaperConfig, rate: number, notional: number): number =>
  r8(Math.abs(notional) * rate + cfg.feeFixed);

/** How many of the recent order times are after `cutoff`. */
function ordersSince(a: readonly number[], cutoff: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! > cutoff) n++;
  return n;
}

/**
 * The most units one order may carry: the order log keeps quantities as numeric(38,12), so 10^26 at
 * most; 10^24 leaves room for a position grown by several orders. Only a price far below any market's
 * (a balance of 10^12 at 10^-12 a unit) comes near it.
 */
export const MAX_UNITS = 1e24;

/**
 * The quantity step a run trades in: its `qtyStep` (an exchange's lot size), else a whole unit (stocks) or
 * 1e-8 (crypto). Backtests and paper ledgers alike.
 */
export const unitStep = (whole: boolean, qtyStep?: number): number => qtyStep ?? (whole ? 1 : 1e-8);

/**
 * `units` rounded down to a multiple of `step`. `shave` (below 1 for a size worked out from money) keeps
 * float error from rounding a fraction up into overspending; a quantity as given (`shave` 1) that float
 * error left a hair under a step (0.003 / 0.001 is 2.9999999999999996) is that step. A whole unit and
 * 1e-8 round as before steps existed, bit for bit. Backtests and paper ledgers alike.
 */
export function floorUnits(units: number, step: number, shave: number): number {
  if (step === 1) return Math.floor(units * shave);
  if (step === 1e-8) return Math.floor(units * 1e8 * shave) / 1e8;
  const x = (units * shave) / step;
  const k = Math.floor(shave === 1 ? x + 1e-9 : x);
  if (!(k > 0)) return 0;
  // k steps, without the float error of the product (0.1 × 3 is 0.30000000000000004): rounded to the
  // step's decimals, where k × step is a whole number
  const scale = decimalScale(step);
  return Math.round(k * step * scale) / scale;
}

/**
 * A position's quantity after a fill of `signed` units: the sum on the 1e-8 grid every step lies on
 * (3.328 - 1.108 is 2.22, not 2.2199999999999998), exact beyond 9e7 units where the grid is finer than a
 * double. Backtests and paper ledgers alike, so their positions stay equal bit for bit.
 */
export function sumUnits(qty: number, signed: number): number {
  const x = qty + signed;
  return Math.abs(x) < 9e7 ? Math.round(x * 1e8) / 1e8 : x;
}

let scaledStep = NaN;
let stepScale = 1;
/** 10 to the power of a step's decimals (0.05: 100), at most 10^12; the last step's, kept */
function decimalScale(step: number): number {
  if (step !== scaledStep) {
    let scale = 1;
    while (scale < 1e12 && Math.abs(step * scale - Math.round(step * scale)) > 1e-9 * step * scale) scale *= 10;
    scaledStep = step;
    stepScale = scale;
  }
  return stepScale;
}

/**
 * Decides what an order does to the ledger, without changing it: a fill (with price, fee, slippage and
 * the realised PnL of any part it closes), a refusal with its reason, or nothing to do.
 *
 * Semantics as in backtests: buy closes a short and goes long; sell closes a long and goes short only
 * when shorts are allowed; close exits whatever is open. Reducing or closing a position is never
 * refused (risk limits guard entries). A flip (short to long or back) is one fill.
 */
export function planOrder(
  s: LedgerState,
  cfg: PaperConfig,
  risk: RiskLimits,
  o: OrderRequest,
  /** the strategy's Cooldown node: no new position before the ledger's cooldownUntil, nor in a flip whose close starts one */
  cooldown?: Cooldown,
): OrderOutcome {
  const slip = o.atPrice ? 0 : cfg.slippageBps / 10_000;
  const sideOf = o.action === 'buy' ? 1 : o.action === 'sell' ? -1 : s.qty > 0 ? -1 : 1;
  const raw = o.atPrice ? o.price : sideOf > 0 ? (o.ask ?? o.price) : (o.bid ?? o.price);
  if (!(raw > 0)) return { kind: 'refused', code: 'NO_PRICE', reason: 'no market price for the symbol yet' };
  const price = raw * (1 + sideOf * slip);
  const rate = rateOf(cfg, o);

  let closing = 0; // units that reduce the open position
  let opening = 0; // units of the new position, or added to the open one
  // a buy or sell in the open position's direction: adds to it (when its action allows more entries)
  const adding = s.qty !== 0 && Math.sign(s.qty) === sideOf && o.action !== 'close';
  if (o.action === 'close') {
    if (s.qty === 0) return { kind: 'noop', reason: 'no open position' };
    closing = partialUnits(s.qty, o.percent, unitStep(cfg.wholeUnits, cfg.qtyStep));
    if (!(closing > 0))
      return { kind: 'noop', reason: `${o.percent} % of the position (${Math.abs(s.qty)} units) is under one unit` };
  } else {
    if (adding) {
      const entries = Math.max(1, s.entries);
      const max = o.maxEntries ?? 1;
      if (entries >= max)
        return {
          kind: 'noop',
          reason: `already ${sideOf > 0 ? 'long' : 'short'}${max > 1 ? ` (${entries} entries of at most ${max})` : ''}`,
        };
      const step = addStepFor(o.addStepPct ?? 0, o.addStepScale, entries);
      // the market's price, before the bid or ask and slippage (as a backtest compares the bar's open)
      if (!addStepReached(s.qty, s.avgPrice, o.price, step))
        return {
          kind: 'noop',
          reason: `the price is not ${step} % ${sideOf > 0 ? 'under' : 'over'} the average entry (${s.avgPrice}) yet`,
        };
    }
    if (s.qty !== 0 && !adding) closing = Math.abs(s.qty);
    if (sideOf < 0 && !cfg.allowShort && !adding) {
      if (closing === 0)
        return { kind: 'refused', code: 'SHORTS_NOT_ALLOWED', reason: 'sell with no long open: shorts are off' };
    } else if (!adding && cooldown && o.ts < cooldownAfter(s, cfg, cooldown, o, closing, price)) {
      // in a cooldown: an entry is refused, a flip only closes
      if (closing === 0)
        return {
          kind: 'refused',
          code: 'COOLDOWN',
          reason: `cooldown: no new position before ${new Date(s.cooldownUntil).toISOString()}`,
        };
    } else {
      if (
        risk.maxOrdersPerMinute !== undefined &&
        closing === 0 &&
        ordersSince(s.recentOrders, o.ts - 60_000) >= risk.maxOrdersPerMinute
      )
        return {
          kind: 'refused',
          code: 'RATE_LIMIT',
          reason: `more than ${risk.maxOrdersPerMinute} orders in a minute`,
        };
      // equity left once any open position is closed at this price (with one open and added to: its equity)
      const closeFee = closing ? feeOf(cfg, rate, closing * price) : 0;
      const free = s.cash + s.qty * price - closeFee;
      // with leverage a unit locks price / leverage of margin (and pays its fee on its whole value)
      const lev = cfg.leverage && cfg.leverage > 1 ? cfg.leverage : 1;
      // what an order may spend: when flat (or flipping), the equity; when adding, the balance less the
      // margin the open position locks (all of its cost without leverage), not its unrealised PnL
      const avail = adding ? balanceOf(s) - (Math.abs(s.qty) * s.avgPrice) / lev : free;
      const held = adding ? Math.abs(s.qty) : 0;
      const perUnit = price * (1 / lev + rate);
      const fixed = o.sizing === 'fixed_qty';
      // an addition's amount: addScale times the entry before it's
      const scale = adding ? addScaleOf(o.addScale, s.entries) : 1;
      const amount = o.amount * scale;
      let units: number;
      switch (o.sizing) {
        case 'fixed_qty':
          units = amount;
          break;
        case 'fixed_cash':
          units = Math.min(amount, avail - cfg.feeFixed) / perUnit;
          break;
        case 'pct_equity':
          units = ((free - cfg.feeFixed) * Math.min(amount, 100)) / 100 / perUnit;
          // added to a position: a share of the equity, at most what is available
          if (adding) units = Math.min(units, (avail - cfg.feeFixed) / perUnit);
          break;
        default:
          units = (avail - cfg.feeFixed) / perUnit;
      }
      const capped = capEntry(risk, units, fixed, held, price, free);
      if (typeof capped !== 'number') return { kind: 'refused', ...capped };
      units = capped;
      // a fixed quantity as given, unless scaled or in lots (then rounded down, unshaved, as a backtest's is)
      const step = unitStep(cfg.wholeUnits, cfg.qtyStep);
      units = !fixed
        ? floorUnits(units, step, 1 - EPS)
        : scale === 1 && cfg.qtyStep === undefined
          ? units
          : floorUnits(units, step, 1);
      // none (under one unit or lot), or under the minimum order value: an entry is refused, but a flip
      // still closes (a close never is refused), as a backtest's exit goes before its entry
      const under = !!cfg.minNotional && units * price < cfg.minNotional;
      if (!(units > 0) && closing === 0)
        return {
          kind: 'refused',
          code: 'INSUFFICIENT_CASH',
          reason: fixed ? `${amount} units is under one lot (${step})` : 'not enough equity for one unit',
        };
      if (under && closing === 0)
        return {
          kind: 'refused',
          code: 'MIN_NOTIONAL',
          reason: `the order is worth ${(units * price).toFixed(2)}, under the minimum of ${cfg.minNotional}`,
        };
      if (units > 0 && !under) {
        if (units > MAX_UNITS)
          return {
            kind: 'refused',
            code: 'MAX_ORDER_QTY',
            reason: `${units} units is beyond what a ledger holds (${MAX_UNITS}): the price is implausibly low`,
          };
        const need = (units * price) / lev + feeOf(cfg, rate, (closing + units) * price) - closeFee;
        // written so that NaN refuses: a size whose cost overflows (Infinity, and Infinity × a zero fee
        // rate is NaN) is never filled
        if (!(need <= avail + 1e-9))
          return {
            kind: 'refused',
            code: 'INSUFFICIENT_CASH',
            reason: Number.isFinite(need)
              ? `needs ${need.toFixed(2)} but ${Math.max(0, avail).toFixed(2)} is available`
              : `its cost is beyond any balance (${units} units at ${price})`,
          };
        opening = units;
      }
    }
  }
  const quantity = sumUnits(closing, opening);
  const f = feeOf(cfg, rate, quantity * price);
  const realized = closing ? r8(closing * (price - s.avgPrice) * Math.sign(s.qty)) : 0;
  const fill: Fill = {
    side: sideOf > 0 ? 'buy' : 'sell',
    quantity,
    price,
    fee: f,
    slippage: r8(quantity * Math.abs(price - raw)),
    realizedPnl: realized,
    ts: o.ts,
    source: o.source,
  };
  let closedTrade: TradeRecord | undefined;
  let cooldownUntil: number | undefined;
  let coolStreak: number | undefined;
  let coolTimes: readonly number[] | undefined;
  if (closing) {
    const closeShare = f * (closing / quantity);
    const part = entryPart(s, closing);
    const fees = part.fees + closeShare;
    const pnl = realized - fees - part.funding;
    closedTrade = {
      size: closing < Math.abs(s.qty) ? Math.sign(s.qty) * closing : s.qty,
      entryBar: 0,
      exitBar: 0,
      entryTime: s.entryTs,
      exitTime: o.ts,
      entryPrice: s.avgPrice,
      exitPrice: price,
      pnl,
      returnPct: pnl / (closing * s.avgPrice),
      fees,
    };
    if (part.funding !== 0) closedTrade.funding = part.funding;
    if (s.entries > 1) closedTrade.entries = s.entries;
    // a whole exit (a partial one does not count, as in a backtest)
    if (cooldown && closing >= Math.abs(s.qty)) {
      const step = cooldownStep(cooldown, s.coolStreak, pnl, o.source, o.ts, s.coolTimes);
      if (step.starts) cooldownUntil = o.ts + cooldown.ms;
      if (step.streak !== s.coolStreak) coolStreak = step.streak;
      if (step.times !== s.coolTimes) coolTimes = step.times;
    }
  }
  if (!closedTrade) return { kind: 'fill', fill };
  const out: Extract<OrderOutcome, { kind: 'fill' }> = { kind: 'fill', fill, closedTrade };
  if (cooldownUntil !== undefined) out.cooldownUntil = cooldownUntil;
  if (coolStreak !== undefined) out.coolStreak = coolStreak;
  if (coolTimes !== undefined) out.coolTimes = coolTimes;
  return out;
}

/**
 * The units a close of `percent` % (default all) takes from a position of `qty`: rounded down to `step`
 * (unitStep: a whole unit, 1e-8 or a lot size), all of it at 100 % (or when the rest would round away),
 * 0 when under one step.
 * Backtests and paper sessions alike.
 */
export function partialUnits(qty: number, percent: number | undefined, step: number): number {
  const all = Math.abs(qty);
  if (percent === undefined || percent >= 100) return all;
  // rounded down, but a product that float error left a hair under a whole unit (or 1e-8, or a step) is that unit
  const x = (all * percent) / 100;
  const u =
    step === 1 ? Math.floor(x + 1e-9) : step === 1e-8 ? Math.floor(x * 1e8 + 1e-6) / 1e8 : floorUnits(x, step, 1);
  return u >= all ? all : Math.max(0, u);
}

/**
 * What an addition's amount is multiplied by: `scale` to the power of the entries the position has, so
 * the k-th entry is amount × scale^(k-1) (a DCA bot's safety order volume scale). Backtests and paper
 * ledgers alike.
 */
export const addScaleOf = (scale: number | undefined, entries: number): number =>
  scale === undefined || scale === 1 ? 1 : scale ** Math.max(1, entries);

/**
 * The step (% against the average entry) an addition to a position of `entries` entries needs:
 * `stepPct` for the first addition, `scale` times the step before for each after (a DCA bot's safety
 * order step scale). Backtests, paper ledgers and live runners alike.
 */
export const addStepFor = (stepPct: number, scale: number | undefined, entries: number): number =>
  !stepPct || scale === undefined || scale === 1 ? stepPct : stepPct * scale ** (Math.max(1, entries) - 1);

/**
 * Whether an addition to a position (`size` signed) may be made at `price`: at once without a step, else
 * once the price is `stepPct` % against its average entry (under it for a long, over it for a short).
 * Backtests, paper ledgers and live runners alike.
 */
export function addStepReached(size: number, avgPrice: number, price: number, stepPct: number): boolean {
  return !stepPct || (size > 0 ? price <= avgPrice * (1 - stepPct / 100) : price >= avgPrice * (1 + stepPct / 100));
}

/**
 * The share of the open position's entry fees and funding that closing `units` of it takes (all of them
 * for the whole position): a partial close's trade carries its share, and the rest stays with the
 * position, so the trades' fees and funding sum to the ledger's. planOrder and applyFill alike.
 */
function entryPart(s: LedgerState, units: number): { fees: number; funding: number } {
  const all = Math.abs(s.qty);
  if (units >= all) return { fees: s.entryFees, funding: s.entryFunding };
  const share = units / all;
  return { fees: r8(s.entryFees * share), funding: r8(s.entryFunding * share) };
}

/**
 * When the cooldown ends for an order: the ledger's, or, when the order closes a position first (a flip),
 * the one that close starts if it does (its PnL as a close alone would have it).
 */
function cooldownAfter(
  s: LedgerState,
  cfg: PaperConfig,
  cooldown: Cooldown,
  o: OrderRequest,
  closing: number,
  price: number,
): number {
  if (!closing) return s.cooldownUntil;
  const pnl =
    r8(closing * (price - s.avgPrice) * Math.sign(s.qty)) -
    s.entryFees -
    feeOf(cfg, rateOf(cfg, o), closing * price) -
    s.entryFunding;
  return cooldownStep(cooldown, s.coolStreak, pnl, o.source, o.ts, s.coolTimes).starts
    ? Math.max(s.cooldownUntil, o.ts + cooldown.ms)
    : s.cooldownUntil;
}

/**
 * Applies planOrder's fill to the ledger (mutates it) with all it says: the trade it closes, the cooldown
 * its exit starts (cooldownUntil) and the exits toward that cooldown's count (coolStreak, coolTimes); and,
 * when it opens a position, the distances its rules at a distance keep (`opened`; none: 0).
 */
export function applyOutcome(
  s: LedgerState,
  out: Extract<OrderOutcome, { kind: 'fill' }>,
  opened?: PositionRisk,
): void {
  if (out.cooldownUntil !== undefined) s.cooldownUntil = out.cooldownUntil;
  if (out.coolStreak !== undefined) s.coolStreak = out.coolStreak;
  if (out.coolTimes !== undefined) s.coolTimes = out.coolTimes;
  applyFill(s, out.fill, out.closedTrade, opened);
}

/**
 * Applies a fill to the ledger (mutates it), with the trade it closes, and, when it opens a position, the
 * distances its rules at a distance keep (`opened`; none: 0). A cooldown's fields: applyOutcome.
 */
export function applyFill(s: LedgerState, f: Fill, closedTrade?: TradeRecord, opened?: PositionRisk): void {
  const signed = f.side === 'buy' ? f.quantity : -f.quantity;
  const before = s.qty;
  if (before !== 0 && s.lastTs && f.ts > s.lastTs) s.exposureMs += f.ts - s.lastTs;
  if (f.ts > s.lastTs) s.lastTs = f.ts;
  s.cash -= signed * f.price + f.fee;
  s.fees = r8(s.fees + f.fee);
  s.realizedPnl = r8(s.realizedPnl + f.realizedPnl);
  s.fills++;
  pruneRecent(s.recentOrders, f.ts - 60_000);
  s.recentOrders.push(f.ts);
  const after = sumUnits(before, signed);
  const closingUnits = Math.sign(before) === -Math.sign(signed) ? Math.min(Math.abs(before), f.quantity) : 0;
  const closeFee = closingUnits ? f.fee * (closingUnits / f.quantity) : 0;
  if (closedTrade) {
    s.closedTrades++;
    if (closedTrade.pnl > 0) {
      s.wins++;
      s.grossProfit += closedTrade.pnl;
    } else s.grossLoss -= closedTrade.pnl;
  }
  if (Math.abs(after) < 1e-12) {
    s.qty = 0;
    s.avgPrice = 0;
    s.entryFees = 0;
    s.entryFunding = 0;
    s.entries = 0;
    s.targetTaken = 0;
    s.stopDist = s.targetDist = s.trailDist = 0;
  } else if (Math.sign(after) === Math.sign(before) && closingUnits) {
    // closed a part: the rest keeps its entry price, and the entry fees and funding the part did not take
    const part = entryPart(s, closingUnits);
    s.entryFees -= part.fees;
    s.entryFunding = r8(s.entryFunding - part.funding);
    s.qty = after;
    // a partial take profit is taken once a position, a ladder's steps one after another
    if (f.source === 'take_profit') s.targetTaken++;
  } else if (Math.sign(after) === Math.sign(before)) {
    // added to the position: weighted average entry
    s.avgPrice = (before * s.avgPrice + signed * f.price) / after;
    s.qty = after;
    s.entryFees += f.fee;
    s.entries = Math.max(1, s.entries) + 1;
  } else {
    // opened (or flipped into) a new position at the fill price
    s.qty = after;
    s.avgPrice = f.price;
    s.entryTs = f.ts;
    s.entryFees = f.fee - closeFee;
    s.entryFunding = 0;
    s.entries = 1;
    s.targetTaken = 0;
    s.stopDist = opened?.stopDist ?? 0;
    s.targetDist = opened?.targetDist ?? 0;
    s.trailDist = opened?.trailDist ?? 0;
  }
  s.lastPrice = s.lastPrice || f.price;
}

/** Records a refused order against the per-minute limit (refusals count as orders). */
export function noteRefusal(s: LedgerState, ts: number): void {
  pruneRecent(s.recentOrders, ts - 60_000);
  s.recentOrders.push(ts);
}

/**
 * Closed round trips from a session's fills in order (for the shared statistics), each with its position's
 * funding when the fills carry fundingAfter.
 */
export function roundTrips(fills: readonly Fill[]): TradeRecord[] {
  const s = newLedger({
    startingBalance: 0,
    feeRate: 0,
    feeFixed: 0,
    slippageBps: 0,
    allowShort: true,
    wholeUnits: false,
  });
  const out: TradeRecord[] = [];
  let openedBy: string | undefined; // the source of the fill that opened the position
  let fundedBefore = 0; // the funding paid in all as of the last fill that said
  for (const f of fills) {
    const signed = f.side === 'buy' ? f.quantity : -f.quantity;
    // the funding paid since the last fill was the open position's (settled before this fill)
    if (f.fundingAfter !== undefined) {
      if (s.qty !== 0) s.entryFunding = r8(s.entryFunding + f.fundingAfter - fundedBefore);
      fundedBefore = f.fundingAfter;
    }
    let closed: TradeRecord | undefined;
    if (s.qty !== 0 && Math.sign(signed) !== Math.sign(s.qty)) {
      const closing = Math.min(Math.abs(s.qty), f.quantity);
      const part = entryPart(s, closing);
      const fees = part.fees + f.fee * (closing / f.quantity);
      const pnl = closing * (f.price - s.avgPrice) * Math.sign(s.qty) - fees - part.funding;
      closed = {
        size: Math.sign(s.qty) * closing,
        entryBar: 0,
        exitBar: 0,
        entryTime: s.entryTs,
        exitTime: f.ts,
        entryPrice: s.avgPrice,
        exitPrice: f.price,
        pnl,
        returnPct: pnl / (closing * s.avgPrice),
        fees,
        ...(f.source !== undefined ? { exitReason: f.source } : {}),
        ...(openedBy !== undefined ? { entryReason: openedBy } : {}),
        ...(s.entries > 1 ? { entries: s.entries } : {}),
        ...(part.funding !== 0 ? { funding: part.funding } : {}),
      };
      out.push(closed);
    }
    const before = s.qty;
    applyFill(s, f, closed);
    // opened, or flipped into, a new position: this fill's source opened it
    if (s.qty !== 0 && Math.sign(s.qty) !== Math.sign(before)) openedBy = f.source;
  }
  return out;
}
