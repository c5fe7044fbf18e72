import type { OrderSizing, Tick } from '@algotrade/core';
import { z } from 'zod';
import { MAX_PRICE } from '../market-data/tick-message.ts';

/**
 * A limit or stop order placed by hand on a paper session, resting on its symbol's ticks until one
 * reaches its price, it lapses (`until`, market time) or it is cancelled. Saved on the session's row
 * (`open_orders`), so a restart or another instance finds it resting.
 */
export interface OpenOrder {
  id: string;
  clientOrderId: string | null;
  /** as placed: a close trades against the position it had then (`side`) */
  action: 'buy' | 'sell' | 'close';
  /** the side it trades when it fills */
  side: 'buy' | 'sell';
  /**
   * limit: fills at its price or better; stop: becomes a market order once the price reaches it;
   * trailing_stop: a stop whose price follows the market by `trailPercent`
   */
  type: 'limit' | 'stop' | 'trailing_stop';
  /** where it fills or triggers (a trailing stop's: `trailPercent` from `extreme`, moving with it) */
  price: number;
  /** a trailing stop's distance from the best price since placed, % */
  trailPercent?: number;
  /** a trailing stop's best price since placed: the highest for a sell, the lowest for a buy */
  extreme?: number;
  sizing: OrderSizing;
  amount: number;
  /** close: the share of the position to close, % (absent: all) */
  percent?: number;
  /** wall clock, ISO */
  placedAt: string;
  /** the market time it lapses at (epoch ms; null: good until cancelled) */
  until: number | null;
  /**
   * a buy or sell's bracket: once it fills, a close stop at `stopLoss` and a close limit at `takeProfit`
   * rest against the position (the first to fill closes it, and the other lapses with it)
   */
  stopLoss?: number;
  takeProfit?: number;
  /** a buy's or sell's bracket: a close trailing stop this far (%) from its fill price, following it */
  trailingStopPercent?: number;
  /** a bracket's close: the id of the order whose fill placed it */
  parent?: string;
  /**
   * one-cancels-the-other: once an order of the group triggers (fills, or is sent to fill), the others
   * resting in it are cancelled; a bracket's closes share their parent's
   */
  ocoGroup?: string;
  /** wall clock, ISO: when it was last amended (its price, time, size or bracket changed) */
  amendedAt?: string;
}

/**
 * A bracket on an order by hand: the prices its position's stop and target close at, and the distance
 * (%) of a trailing stop from its fill price.
 */
export interface Bracket {
  stopLoss?: number;
  takeProfit?: number;
  trailingStopPercent?: number;
}

/** Whether an entry carries a bracket, placed once it fills. */
export const hasBracket = (b: Bracket): boolean =>
  b.stopLoss !== undefined || b.takeProfit !== undefined || b.trailingStopPercent !== undefined;

/**
 * Why a bracket does not fit an entry at `ref` (a market order's price now, a limit's or stop's price),
 * or null: a buy's stop under it and its target over it, a sell's the other way round.
 */
export function bracketProblem(side: 'buy' | 'sell', ref: number, b: Bracket): string | null {
  const below = side === 'buy';
  if (b.stopLoss !== undefined && (below ? b.stopLoss >= ref : b.stopLoss <= ref))
    return `a ${side}'s stopLoss is ${below ? 'under' : 'over'} its entry price (${ref})`;
  if (b.takeProfit !== undefined && (below ? b.takeProfit <= ref : b.takeProfit >= ref))
    return `a ${side}'s takeProfit is ${below ? 'over' : 'under'} its entry price (${ref})`;
  return null;
}

/**
 * Why a `side` stop at `price` would trigger at once with the market at `last` (a buy stop rests above the
 * price, a sell stop below it), or null.
 */
export function stopTriggersNow(side: 'buy' | 'sell', price: number, last: number): string | null {
  return (side === 'buy' ? last >= price : last <= price)
    ? `a ${side} stop at ${price} would trigger now: the price is ${last} (a ${side} stop rests ${side === 'buy' ? 'above' : 'below'} it)`
    : null;
}

/**
 * The close orders a filled entry's bracket places: a stop at its stopLoss, a limit at its takeProfit, a
 * trailing stop its trailingStopPercent from the fill price (`filledAt`), following the position's best
 * price from there.
 */
export function bracketCloses(
  side: 'buy' | 'sell',
  b: Bracket,
  parent: string,
  id: () => string,
  placedAt: string,
  filledAt: number,
): OpenOrder[] {
  const close = (type: OpenOrder['type'], price: number): OpenOrder => ({
    ocoGroup: parent,
    id: id(),
    clientOrderId: null,
    action: 'close',
    side: side === 'buy' ? 'sell' : 'buy',
    type,
    price,
    sizing: 'all',
    amount: 0,
    placedAt,
    until: null,
    parent,
  });
  return [
    ...(b.stopLoss !== undefined ? [close('stop', b.stopLoss)] : []),
    ...(b.takeProfit !== undefined ? [close('limit', b.takeProfit)] : []),
    ...(b.trailingStopPercent !== undefined
      ? [
          {
            ...close('trailing_stop', trailLevel(side === 'buy' ? 'sell' : 'buy', filledAt, b.trailingStopPercent)),
            trailPercent: b.trailingStopPercent,
            extreme: filledAt,
          },
        ]
      : []),
  ];
}

const OpenOrderSchema = z.object({
  id: z.string().min(1).max(100),
  clientOrderId: z.string().max(64).nullable(),
  action: z.enum(['buy', 'sell', 'close']),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['limit', 'stop', 'trailing_stop']),
  price: z.number().finite().gt(0).max(MAX_PRICE),
  trailPercent: z.number().finite().gt(0).lt(100).optional(),
  extreme: z.number().finite().gt(0).max(MAX_PRICE).optional(),
  sizing: z.enum(['all', 'fixed_qty', 'pct_equity', 'fixed_cash']),
  amount: z.number().finite().min(0),
  percent: z.number().finite().gt(0).max(100).optional(),
  placedAt: z.string(),
  until: z.number().finite().nullable(),
  stopLoss: z.number().finite().gt(0).optional(),
  takeProfit: z.number().finite().gt(0).optional(),
  trailingStopPercent: z.number().finite().gt(0).lt(100).optional(),
  parent: z.string().max(200).optional(),
  ocoGroup: z.string().max(200).optional(),
  amendedAt: z.string().optional(),
});

/**
 * A session's resting orders by hand as its row keeps them (an entry it cannot read is dropped; a
 * trailing stop's price is worked out again from its extreme, which is what its saves move).
 */
export function readOpenOrders(saved: readonly unknown[]): OpenOrder[] {
  const out: OpenOrder[] = [];
  for (const x of saved) {
    const r = OpenOrderSchema.safeParse(x);
    if (!r.success) continue;
    const o = r.data as OpenOrder;
    if (o.type !== 'trailing_stop') out.push(o);
    else if (o.trailPercent !== undefined && o.extreme !== undefined)
      out.push({ ...o, price: trailLevel(o.side, o.extreme, o.trailPercent) });
  }
  return out;
}

/**
 * Where a `side` trailing stop rests: `percent` under the highest price since it was placed (a sell, as
 * a long's stop), or over the lowest (a buy); to 8 decimals, as prices are kept.
 */
export const trailLevel = (side: 'buy' | 'sell', extreme: number, percent: number): number =>
  Math.round((side === 'sell' ? extreme * (1 - percent / 100) : extreme * (1 + percent / 100)) * 1e8) / 1e8;

/**
 * A trailing stop `o` after a trade at `price`: moved (a new extreme, its price with it) when the price is
 * past its extreme (over it for a sell, under it for a buy), else null (it never moves back).
 */
export function trailed(o: OpenOrder, price: number): OpenOrder | null {
  if (o.type !== 'trailing_stop') return null;
  const moved = { ...o };
  return trailOn(moved, price) ? moved : null;
}

/**
 * `trailed` in place, for the tick path (no new order on every new high): whether `o` (a trailing stop)
 * moved. The order is its session's own (read from the row, or placed), so nothing else sees it change.
 */
export function trailOn(o: OpenOrder, price: number): boolean {
  if (o.extreme === undefined || o.trailPercent === undefined) return false;
  if (o.side === 'sell' ? price <= o.extreme : price >= o.extreme) return false;
  o.extreme = price;
  o.price = trailLevel(o.side, price, o.trailPercent);
  return true;
}

/**
 * The resting orders `fresh` (as re-read from the row) with each trailing stop's extreme the better of
 * its own and `held`'s (what this instance saw since it last saved them), so re-reading never moves one
 * back.
 */
export function keepTrails(held: readonly OpenOrder[], fresh: OpenOrder[]): OpenOrder[] {
  if (!held.some((o) => o.type === 'trailing_stop')) return fresh;
  return fresh.map((o) => {
    const mine = held.find((x) => x.id === o.id);
    return mine?.extreme !== undefined ? (trailed(o, mine.extreme) ?? o) : o;
  });
}

/** The most resting orders by hand a session holds at once. */
export const MAX_OPEN_ORDERS = 20;

/**
 * Where a tick fills a resting order, or null while it does not reach it:
 * - a buy limit: once the ask (else the price) is at or under its price, at its price or the ask if lower
 *   (a maker's fill, no slippage);
 * - a sell limit: once the bid is at or over its price, at its price or the bid if higher;
 * - a stop (a trailing stop as well, at its price now): once the price trades through it (a buy stop at or
 *   over, a sell stop at or under), at the market on that tick (a taker's fill, the bid or ask and
 *   slippage, as a market order's).
 */
export function openOrderFill(o: OpenOrder, t: Tick): { price: number; atPrice: boolean } | null {
  if (o.type === 'limit') {
    if (o.side === 'buy') {
      const ask = t.ask ?? t.price;
      return ask <= o.price ? { price: Math.min(o.price, ask), atPrice: true } : null;
    }
    const bid = t.bid ?? t.price;
    return bid >= o.price ? { price: Math.max(o.price, bid), atPrice: true } : null;
  }
  const through = o.side === 'buy' ? t.price >= o.price : t.price <= o.price;
  return through ? { price: t.price, atPrice: false } : null;
}

/** A resting order as the API shows it (`until` as an ISO time). */
export const openOrderView = (o: OpenOrder) => ({
  ...o,
  until: o.until === null ? null : new Date(o.until).toISOString(),
});

/**
 * A change to a resting order by hand: its price, its time left (`validMinutes` from now in market time;
 * null: until cancelled), a buy's or sell's amount (its sizing kept), a close's percent (null: all of the
 * position) and an entry's bracket (null: none). What is absent stays.
 */
export interface OpenOrderAmend {
  price?: number;
  validMinutes?: number | null;
  amount?: number;
  percent?: number | null;
  stopLoss?: number | null;
  takeProfit?: number | null;
  trailingStopPercent?: number | null;
  /** a trailing stop's distance, % (its price follows from it) */
  trailPercent?: number;
}

/** Why an amend is refused: its code (as an order's refusals) and words. */
export interface AmendProblem {
  code: 'WOULD_TRIGGER' | 'INVALID_BRACKET' | 'INVALID_AMEND';
  message: string;
}

/**
 * `o` as `change` leaves it, with `at` as its amendedAt, or why not: what does not fit the order (an amount
 * for a close or for sizing all, a percent for an entry, a bracket on a close), a stop whose new price the
 * market (`last`) has passed already, a bracket that does not fit the entry's side and price. Its id,
 * clientOrderId, side and place in the list stay, so a cancel or a fill finds it as before.
 */
export function amendOpenOrder(
  o: OpenOrder,
  change: OpenOrderAmend,
  now: { last: number; ts: number; at: string },
): OpenOrder | AmendProblem {
  const no = (message: string): AmendProblem => ({ code: 'INVALID_AMEND', message });
  const entry = o.action !== 'close';
  if (change.amount !== undefined) {
    if (!entry) return no('a close takes `percent` (of the position), not an amount');
    if (o.sizing === 'all') return no('this order is sized all (of the equity): it takes no amount');
    if (o.sizing === 'pct_equity' && change.amount > 100) return no('a share of the equity is at most 100 (%)');
  }
  if (change.percent !== undefined && entry) return no('`percent` is for a close; a buy or sell takes an amount');
  if (
    (change.stopLoss !== undefined || change.takeProfit !== undefined || change.trailingStopPercent !== undefined) &&
    !entry
  )
    return no(
      o.parent
        ? "a bracket's close is amended by its price"
        : 'a bracket is for a buy or sell (a close by stop or limit: its price)',
    );
  const trailing = o.type === 'trailing_stop';
  if (change.price !== undefined && trailing)
    return no('a trailing stop follows the price: amend its trailPercent, not its price');
  if (change.trailPercent !== undefined && !trailing) return no('`trailPercent` is for a trailing stop');
  const trailPercent = change.trailPercent ?? o.trailPercent;
  const price =
    trailing && trailPercent !== undefined && o.extreme !== undefined
      ? trailLevel(o.side, o.extreme, trailPercent)
      : (change.price ?? o.price);
  const triggers = o.type !== 'limit' ? stopTriggersNow(o.side, price, now.last) : null;
  if (triggers) return { code: 'WOULD_TRIGGER', message: triggers };
  const stopLoss = change.stopLoss === undefined ? o.stopLoss : (change.stopLoss ?? undefined);
  const takeProfit = change.takeProfit === undefined ? o.takeProfit : (change.takeProfit ?? undefined);
  const trailingStopPercent =
    change.trailingStopPercent === undefined ? o.trailingStopPercent : (change.trailingStopPercent ?? undefined);
  const bracket = {
    ...(stopLoss !== undefined ? { stopLoss } : {}),
    ...(takeProfit !== undefined ? { takeProfit } : {}),
    ...(trailingStopPercent !== undefined ? { trailingStopPercent } : {}),
  };
  const problem = entry ? bracketProblem(o.side, price, bracket) : null;
  if (problem) return { code: 'INVALID_BRACKET', message: problem };
  const percent = change.percent === undefined ? o.percent : (change.percent ?? undefined);
  const next: OpenOrder = {
    ...o,
    price,
    ...(trailing ? { trailPercent } : {}),
    amount: change.amount ?? o.amount,
    until:
      change.validMinutes === undefined
        ? o.until
        : change.validMinutes === null
          ? null
          : now.ts + change.validMinutes * 60_000,
    amendedAt: now.at,
  };
  delete next.percent;
  delete next.stopLoss;
  delete next.takeProfit;
  delete next.trailingStopPercent;
  return { ...next, ...(percent !== undefined ? { percent } : {}), ...bracket };
}
