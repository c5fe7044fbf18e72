import { describe, expect, it } from 'vitest';
import { SignalPosition } from './signal-position.ts';

const buy = (maxEntries = 1, addStepPct = 0, addStepScale = 1) => ({
  action: 'buy' as const,
  maxEntries,
  addStepPct,
  addStepScale,
  closePct: 100,
});
const close = (closePct = 100) => ({
  action: 'close' as const,
  maxEntries: 1,
  addStepPct: 0,
  addStepScale: 1,
  closePct,
});
const sell = { action: 'sell' as const, maxEntries: 1, addStepPct: 0, addStepScale: 1, closePct: 100 };

describe('the position a strategy alert reads: what its signals alone would hold', () => {
  it('opens on a buy, keeps it on another, closes on a sell or a close', () => {
    const p = new SignalPosition();
    expect(p.apply(sell, 100, 1)).toBe(false); // long only: a sell while flat is nothing
    expect(p.apply(buy(), 100, 1_000)).toBe(true);
    expect(p).toMatchObject({ qty: 1, entryPrice: 100, entryTs: 1_000, entries: 1 });
    expect(p.apply(buy(), 90, 2_000)).toBe(false); // one entry allowed
    expect(p.apply(sell, 110, 3_000)).toBe(true);
    expect(p).toMatchObject({ qty: 0, entries: 0 });
    p.apply(buy(), 120, 4_000);
    expect(p.apply(close(), 125, 5_000)).toBe(true);
    expect(p.qty).toBe(0);
  });

  it('adds up to maxEntries once the price is addStepPct under the average entry; closes a share', () => {
    const p = new SignalPosition();
    p.apply(buy(3, 5), 100, 1_000);
    expect(p.apply(buy(3, 5), 96, 2_000)).toBe(false); // 4 % under: not yet
    expect(p.apply(buy(3, 5), 95, 3_000)).toBe(true);
    expect(p).toMatchObject({ qty: 2, entryPrice: 97.5, entryTs: 1_000, entries: 2 });
    expect(p.apply(buy(3, 5), 90, 4_000)).toBe(true);
    expect(p.entryPrice).toBeCloseTo((100 + 95 + 90) / 3, 12);
    expect(p.apply(buy(3, 5), 50, 5_000)).toBe(false); // three entries: full
    expect(p.apply(close(50), 100, 6_000)).toBe(true);
    expect(p).toMatchObject({ qty: 1.5, entries: 3 });
    p.apply(close(100), 100, 7_000);
    expect(p).toMatchObject({ qty: 0, entries: 0 });
  });

  it('with addStepScale, each addition needs that many times the step before: 5 %, then 10 % under', () => {
    const p = new SignalPosition();
    p.apply(buy(3, 5, 2), 100, 1_000);
    expect(p.apply(buy(3, 5, 2), 95, 2_000)).toBe(true); // 5 % under 100
    // the average is 97.5: 91 is 6.7 % under it, short of 10 %; 87.75 is 10 %
    expect(p.apply(buy(3, 5, 2), 91, 3_000)).toBe(false);
    expect(p.apply(buy(3, 5, 2), 87.75, 4_000)).toBe(true);
    expect(p.entries).toBe(3);
  });
});
