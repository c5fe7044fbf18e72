import { describe, expect, it } from 'vitest';
import { mergeEquity, PortfolioDrawdown } from './paper-portfolio.ts';

describe("a paper portfolio's summed equity", () => {
  it('sums each session at every time any has a point, carrying each forward from its last (its start before its first)', () => {
    const m = mergeEquity([
      {
        startingBalance: 750,
        points: [
          { ts: 10, equity: 760, price: 100 },
          { ts: 30, equity: 740, price: 110 },
        ],
      },
      {
        startingBalance: 250,
        points: [
          { ts: 20, equity: 255, price: 50 },
          { ts: 30, equity: 245, price: null },
          { ts: 40, equity: 260, price: 40 },
        ],
      },
    ]);
    expect(m.ts).toEqual([10, 20, 30, 40]);
    expect(m.equity).toEqual([760 + 250, 760 + 255, 740 + 245, 740 + 260]);
    // buy and hold from each session's first price: 750 at 100 → 825 at 110; 250 at 50 → 200 at 40
    // (a point without a price keeps the last value)
    expect(m.hold).toEqual([750 + 250, 750 + 250, 825 + 250, 825 + 200]);
  });

  it('is empty without points, and a session without any counts as its starting balance', () => {
    expect(mergeEquity([{ startingBalance: 5, points: [] }])).toEqual({ ts: [], equity: [], hold: [] });
    const m = mergeEquity([
      { startingBalance: 5, points: [] },
      { startingBalance: 7, points: [{ ts: 1, equity: 8, price: 2 }] },
    ]);
    expect(m).toEqual({ ts: [1], equity: [13], hold: [12] });
  });
});

describe("a paper portfolio's drawdown, check to check", () => {
  it('measures from the highest of its start, its stored series and the checks since', () => {
    // the stored series peaked at 1,100: 1,045 is 5 % below it
    const dd = new PortfolioDrawdown(1000, [1000, 1100, 1050]);
    expect(dd.at(1045)).toBeCloseTo(5, 12);
    // a new high moves the peak
    expect(dd.at(1200)).toBe(0);
    expect(dd.at(1140)).toBeCloseTo(5, 12);
    // without a series, from the money it started with
    expect(new PortfolioDrawdown(1000, []).at(900)).toBeCloseTo(10, 12);
    expect(new PortfolioDrawdown(1000, [990]).at(990)).toBeCloseTo(1, 12);
  });
});
