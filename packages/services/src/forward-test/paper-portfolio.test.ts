import { describe, expect, it } from 'vitest';
import { mergeEquity, PortfolioWatch } from './paper-portfolio.ts';

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

describe("a paper portfolio's limits, check to check", () => {
  const DAY = 86_400_000;
  const d0 = Date.UTC(2026, 0, 5);
  it('measures the drawdown from the highest of its start, its stored series and the checks since', () => {
    // the stored series peaked at 1,100: 1,045 is 5 % below it
    const w = new PortfolioWatch({}, 1000, { ts: [d0, d0 + 1, d0 + 2], equity: [1000, 1100, 1050] }, d0 + 3);
    expect(w.drawdown(1045)).toBeCloseTo(5, 12);
    // a new high moves the peak
    expect(w.drawdown(1200)).toBe(0);
    expect(w.drawdown(1140)).toBeCloseTo(5, 12);
    // without a series, from the money it started with
    expect(new PortfolioWatch({}, 1000, { ts: [], equity: [] }, d0).drawdown(900)).toBeCloseTo(10, 12);
  });

  it("measures the day's loss from the series' last point before the UTC day began, each new day from its last check", () => {
    // yesterday ended at 1,100; today's points do not move the day's start
    const history = { ts: [d0 - 5000, d0 - 1000, d0 + 1000], equity: [1050, 1100, 1080] };
    const w = new PortfolioWatch({ maxDailyLossPct: 3 }, 1000, history, d0 + 2000);
    expect(w.dailyLoss(1067, d0 + 3000)).toBeCloseTo(3, 12);
    expect(w.check(1070, d0 + 3000)).toBeNull();
    expect(w.check(1067, d0 + 4000)).toEqual({ limit: 'max_daily_loss', pct: expect.closeTo(3, 9), of: 3 });
    // the next day starts from where it stood when the day began: the last check before (1,067)
    expect(w.dailyLoss(1000, d0 + DAY + 1)).toBeCloseTo((67 / 1067) * 100, 12);
    expect(w.dailyLoss(1056.33, d0 + DAY + 2)).toBeCloseTo(1, 9);
    // no point before today: the portfolio began today, with the money it started with
    const fresh = new PortfolioWatch({}, 1000, { ts: [d0 + 10, d0 + 20], equity: [990, 995] }, d0 + 30);
    expect(fresh.dailyLoss(990, d0 + 40)).toBeCloseTo(1, 9);
  });

  it('names the drawdown first when both limits are reached', () => {
    const w = new PortfolioWatch({ maxDrawdownPct: 5, maxDailyLossPct: 2 }, 1000, { ts: [], equity: [] }, d0);
    expect(w.check(1000, d0)).toBeNull();
    expect(w.check(979, d0 + 1)).toEqual({ limit: 'max_daily_loss', pct: expect.closeTo(2.1, 9), of: 2 });
    expect(w.check(940, d0 + 2)).toEqual({ limit: 'max_drawdown', pct: expect.closeTo(6, 9), of: 5 });
  });
});
