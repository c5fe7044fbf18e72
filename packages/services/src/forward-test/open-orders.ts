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
  /** limit: fills at its price or better; stop: becomes a market order once the price reaches it */
  type: 'limit' | 'stop';
  price: number;
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
  /** a bracket's close: the id of the order whose fill placed it */
  parent?: string;
}

/** A bracket on an order by hand: the prices its position's stop and target close at. */
export interface Bracket {
  stopLoss?: number;
  takeProfit?: number;
}

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

/** The close orders a filled entry's bracket places: a stop at its stopLoss, a limit at its takeProfit. */
export function bracketCloses(
  side: 'buy' | 'sell',
  b: Bracket,
  parent: string,
  id: () => string,
  placedAt: string,
): OpenOrder[] {
  const close = (type: 'stop' | 'limit', price: number): OpenOrder => ({
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
  ];
}

const OpenOrderSchema = z.object({
  id: z.string().min(1).max(100),
  clientOrderId: z.string().max(64).nullable(),
  action: z.enum(['buy', 'sell', 'close']),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['limit', 'stop']),
  price: z.number().finite().gt(0).max(MAX_PRICE),
  sizing: z.enum(['all', 'fixed_qty', 'pct_equity', 'fixed_cash']),
  amount: z.number().finite().min(0),
  percent: z.number().finite().gt(0).max(100).optional(),
  placedAt: z.string(),
  until: z.number().finite().nullable(),
  stopLoss: z.number().finite().gt(0).optional(),
  takeProfit: z.number().finite().gt(0).optional(),
  parent: z.string().max(200).optional(),
});

/** A session's resting orders by hand as its row keeps them (an entry it cannot read is dropped). */
export function readOpenOrders(saved: readonly unknown[]): OpenOrder[] {
  const out: OpenOrder[] = [];
  for (const x of saved) {
    const r = OpenOrderSchema.safeParse(x);
    if (r.success) out.push(r.data as OpenOrder);
  }
  return out;
}

/** The most resting orders by hand a session holds at once. */
export const MAX_OPEN_ORDERS = 20;

/**
 * Where a tick fills a resting order, or null while it does not reach it:
 * - a buy limit: once the ask (else the price) is at or under its price, at its price or the ask if lower
 *   (a maker's fill, no slippage);
 * - a sell limit: once the bid is at or over its price, at its price or the bid if higher;
 * - a stop: once the price trades through it (a buy stop at or over, a sell stop at or under), at the
 *   market on that tick (a taker's fill, the bid or ask and slippage, as a market order's).
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
