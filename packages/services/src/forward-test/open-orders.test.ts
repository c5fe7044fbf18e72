import { describe, expect, it } from 'vitest';
import {
  bracketCloses,
  bracketProblem,
  openOrderFill,
  openOrderView,
  readOpenOrders,
  type OpenOrder,
} from './open-orders.ts';

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

describe('a bracket on an order by hand', () => {
  it("takes a buy's stop under its entry and target over it, a sell's the other way round", () => {
    expect(bracketProblem('buy', 100, { stopLoss: 95, takeProfit: 110 })).toBeNull();
    expect(bracketProblem('buy', 100, { stopLoss: 100 })).toMatch(/stopLoss is under its entry price \(100\)/);
    expect(bracketProblem('buy', 100, { takeProfit: 99 })).toMatch(/takeProfit is over/);
    expect(bracketProblem('sell', 100, { stopLoss: 105, takeProfit: 90 })).toBeNull();
    expect(bracketProblem('sell', 100, { stopLoss: 95 })).toMatch(/a sell's stopLoss is over/);
    expect(bracketProblem('sell', 100, { takeProfit: 101 })).toMatch(/a sell's takeProfit is under/);
  });

  it('places a close stop and a close limit against the position, naming their parent', () => {
    let n = 0;
    const closes = bracketCloses('sell', { stopLoss: 105, takeProfit: 90 }, 'p1', () => `c${++n}`, 'now');
    expect(closes).toMatchObject([
      { id: 'c1', action: 'close', side: 'buy', type: 'stop', price: 105, parent: 'p1', until: null },
      { id: 'c2', action: 'close', side: 'buy', type: 'limit', price: 90, parent: 'p1' },
    ]);
    expect(bracketCloses('buy', { takeProfit: 110 }, 'p2', () => 'x', 'now')).toMatchObject([
      { side: 'sell', type: 'limit', price: 110 },
    ]);
  });
});
