import { describe, expect, it } from 'vitest';
import {
  amendOpenOrder,
  bracketCloses,
  bracketProblem,
  keepTrails,
  openOrderFill,
  openOrderView,
  readOpenOrders,
  trailed,
  trailLevel,
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

  it('places a close stop, a close limit and a close trailing stop against the position, naming their parent', () => {
    let n = 0;
    const closes = bracketCloses(
      'sell',
      { stopLoss: 105, takeProfit: 90, trailingStopPercent: 2 },
      'p1',
      () => `c${++n}`,
      'now',
      100,
    );
    expect(closes).toMatchObject([
      { id: 'c1', action: 'close', side: 'buy', type: 'stop', price: 105, parent: 'p1', until: null },
      { id: 'c2', action: 'close', side: 'buy', type: 'limit', price: 90, parent: 'p1' },
      // a short's trailing stop: 2 % over the lowest price since its fill at 100
      { id: 'c3', action: 'close', side: 'buy', type: 'trailing_stop', price: 102, trailPercent: 2, extreme: 100 },
    ]);
    // as the row keeps it, and read back
    expect(readOpenOrders(JSON.parse(JSON.stringify(closes)))).toEqual(closes);
    expect(bracketCloses('buy', { takeProfit: 110 }, 'p2', () => 'x', 'now', 100)).toMatchObject([
      { side: 'sell', type: 'limit', price: 110 },
    ]);
  });
});

describe('a resting order by hand amended', () => {
  const now = { last: 100, ts: 1_000_000, at: '2026-01-05T13:00:00.000Z' };
  it('changes what is given and keeps the rest: its id, side, place and what is absent', () => {
    const o = order({ price: 95, until: 5, stopLoss: 90, clientOrderId: 'c' });
    expect(amendOpenOrder(o, { price: 96 }, now)).toEqual({ ...o, price: 96, amendedAt: now.at });
    // its time from now in market minutes, or until cancelled; its bracket replaced or dropped
    expect(amendOpenOrder(o, { validMinutes: 2, takeProfit: 120 }, now)).toMatchObject({
      until: now.ts + 120_000,
      stopLoss: 90,
      takeProfit: 120,
    });
    const bare = amendOpenOrder(o, { validMinutes: null, stopLoss: null, amount: 3 }, now) as OpenOrder;
    expect(bare).toMatchObject({ until: null, amount: 3 });
    expect('stopLoss' in bare).toBe(false);
    // a close's share: set, or back to all of the position
    const close = order({ action: 'close', side: 'sell', sizing: 'all', amount: 0, price: 110, percent: 50 });
    expect(amendOpenOrder(close, { percent: 25 }, now)).toMatchObject({ percent: 25 });
    expect('percent' in (amendOpenOrder(close, { percent: null }, now) as OpenOrder)).toBe(false);
  });

  it('refuses what does not fit the order, a stop that would trigger now, and a bracket on the wrong side', () => {
    const close = order({ action: 'close', side: 'sell', sizing: 'all', amount: 0, type: 'stop', price: 95 });
    const all = order({ sizing: 'all', amount: 0 });
    const pct = order({ sizing: 'pct_equity', amount: 10 });
    for (const [o, change, code, words] of [
      [close, { amount: 2 }, 'INVALID_AMEND', /takes `percent`/],
      [all, { amount: 2 }, 'INVALID_AMEND', /sized all/],
      [pct, { amount: 101 }, 'INVALID_AMEND', /at most 100/],
      [pct, { percent: 5 }, 'INVALID_AMEND', /for a close/],
      [close, { stopLoss: 90 }, 'INVALID_AMEND', /bracket is for a buy or sell/],
      [{ ...close, parent: 'p' }, { takeProfit: 90 }, 'INVALID_AMEND', /amended by its price/],
      [close, { price: 100 }, 'WOULD_TRIGGER', /sell stop at 100 would trigger now: the price is 100/],
      [order({ type: 'stop', price: 105 }), { price: 99 }, 'WOULD_TRIGGER', /buy stop at 99/],
      [
        order({ price: 95, stopLoss: 90 }),
        { price: 89 },
        'INVALID_BRACKET',
        /stopLoss is under its entry price \(89\)/,
      ],
      [
        order({ side: 'sell', action: 'sell', price: 105 }),
        { takeProfit: 106 },
        'INVALID_BRACKET',
        /takeProfit is under/,
      ],
    ] as const) {
      const out = amendOpenOrder(o, change, now);
      expect(out, JSON.stringify(change)).toMatchObject({ code, message: expect.stringMatching(words) });
    }
    // a sell stop moved further under the market, and a pct_equity amount of 100, are fine
    expect(amendOpenOrder(close, { price: 90 }, now)).toMatchObject({ price: 90 });
    expect(amendOpenOrder(pct, { amount: 100 }, now)).toMatchObject({ amount: 100 });
  });
});

describe('a trailing stop by hand', () => {
  const sell = order({
    action: 'close',
    side: 'sell',
    type: 'trailing_stop',
    sizing: 'all',
    amount: 0,
    trailPercent: 5,
    extreme: 100,
    price: 95,
  });
  it('follows the price away from it, never back, and triggers as a stop at its level now', () => {
    expect(trailed(sell, 99)).toBeNull();
    expect(trailed(sell, 100)).toBeNull();
    const up = trailed(sell, 120)!;
    expect(up).toMatchObject({ extreme: 120, price: 114 });
    expect(trailed(up, 110)).toBeNull();
    expect(openOrderFill(up, tick(114.5))).toBeNull();
    expect(openOrderFill(up, tick(114, 0.5))).toEqual({ price: 114, atPrice: false });
    // a buy's follows the lowest price, over it
    const buy = { ...sell, action: 'buy', side: 'buy', extreme: 100, price: 105 } as const;
    expect(trailed(buy, 101)).toBeNull();
    expect(trailed(buy, 80)).toMatchObject({ extreme: 80, price: 84 });
    expect(trailLevel('buy', 80, 5)).toBe(84);
    // to 8 decimals, as prices are kept (65046.92 × 0.96 is 62445.04319999999 in floating point)
    expect(trailLevel('sell', 65046.92, 4)).toBe(62445.0432);
  });

  it('is read back with its price worked out from its extreme, and re-reading never moves one back', () => {
    const saved = [
      { ...sell, extreme: 110, price: 1 },
      { ...sell, id: 'bare', extreme: undefined },
    ];
    const [read, ...rest] = readOpenOrders(saved);
    expect(read).toMatchObject({ extreme: 110, price: 104.5 });
    expect(rest).toEqual([]); // a trailing stop without its extreme is not one
    const held = [trailed(read!, 130)!, order({ id: 'other', price: 50 })];
    expect(keepTrails(held, [read!, order({ id: 'other', price: 60 })])).toMatchObject([
      { extreme: 130, price: 123.5 },
      { price: 60 },
    ]);
    // the row ahead of what is held: the row's
    expect(keepTrails([read!], [trailed(read!, 140)!])[0]).toMatchObject({ extreme: 140 });
  });

  it('is amended by its trailPercent (its price follows), not by a price', () => {
    const now = { last: 106, ts: 0, at: 'now' };
    const held = { ...sell, extreme: 110, price: 104.5 };
    expect(amendOpenOrder(held, { trailPercent: 8 }, now)).toMatchObject({ trailPercent: 8, price: 101.2 });
    expect(amendOpenOrder(held, { price: 90 }, now)).toMatchObject({ code: 'INVALID_AMEND' });
    expect(amendOpenOrder(held, { trailPercent: 3 }, now)).toMatchObject({
      code: 'WOULD_TRIGGER',
    });
    expect(amendOpenOrder(order({}), { trailPercent: 5 }, now)).toMatchObject({ code: 'INVALID_AMEND' });
  });
});
