import { describe, expect, it } from 'vitest';
import { openOrderFill, openOrderView, readOpenOrders, type OpenOrder } from './open-orders.ts';

const order = (o: Partial<OpenOrder>): OpenOrder => ({
  id: 'o1',
  clientOrderId: null,
  action: 'buy',
  side: 'buy',
  type: 'limit',
  price: 100,
  sizing: 'fixed_qty',
  amount: 1,
  placedAt: '2026-01-05T12:00:00.000Z',
  until: null,
  ...o,
});
const tick = (price: number, spread?: number) => ({
  symbol: 'X',
  ts: 0,
  price,
  size: 1,
  ...(spread !== undefined ? { bid: price - spread, ask: price + spread } : {}),
});

describe('resting orders by hand: where a tick fills them', () => {
  it('fills a buy limit once the ask is at or under its price, at the better of the two, a maker', () => {
    const o = order({});
    expect(openOrderFill(o, tick(100, 0.5))).toBeNull(); // the ask is 100.5
    expect(openOrderFill(o, tick(99.5, 0.5))).toEqual({ price: 100, atPrice: true });
    expect(openOrderFill(o, tick(90, 0.5))).toEqual({ price: 90.5, atPrice: true }); // a gap under it
    expect(openOrderFill(o, tick(100))).toEqual({ price: 100, atPrice: true }); // no quote: the price
  });

  it('fills a sell limit once the bid is at or over its price, at the better of the two', () => {
    const o = order({ action: 'close', side: 'sell', price: 110 });
    expect(openOrderFill(o, tick(110, 0.5))).toBeNull(); // the bid is 109.5
    expect(openOrderFill(o, tick(110.5, 0.5))).toEqual({ price: 110, atPrice: true });
    expect(openOrderFill(o, tick(120, 0.5))).toEqual({ price: 119.5, atPrice: true });
  });

  it('turns a stop into a market order on the tick that trades through it', () => {
    const buy = order({ type: 'stop', price: 105 });
    expect(openOrderFill(buy, tick(104.99, 0.5))).toBeNull();
    expect(openOrderFill(buy, tick(105, 0.5))).toEqual({ price: 105, atPrice: false });
    expect(openOrderFill(buy, tick(108, 0.5))).toEqual({ price: 108, atPrice: false });
    const sell = order({ action: 'close', side: 'sell', type: 'stop', price: 95 });
    expect(openOrderFill(sell, tick(95.01))).toBeNull();
    expect(openOrderFill(sell, tick(94))).toEqual({ price: 94, atPrice: false });
  });

  it('reads back what a row kept, dropping what is not an order, and shows its time as ISO', () => {
    const kept = order({ until: Date.UTC(2026, 0, 5, 13) });
    const back = readOpenOrders([kept, { id: 'x' }, null, { ...kept, price: -1 }, JSON.parse(JSON.stringify(kept))]);
    expect(back).toEqual([kept, kept]);
    expect(openOrderView(kept).until).toBe('2026-01-05T13:00:00.000Z');
    expect(openOrderView(order({})).until).toBeNull();
  });
});
