import { describe, expect, it } from 'vitest';
import {
  sessionActivity,
  type StatusChange,
  excessKurtosis,
  longestUnderwater,
  monteCarlo,
  omegaRatio,
  riskReport,
  sampledExcursions,
  skewness,
  valueAtRisk,
} from './analytics.ts';
import { excursion, type TradeRecord } from './stats.ts';

// Expected values worked by hand (docs/statistics.md gives the formulas):
// r = [-4, -2, 0, 2, 4] %: the 5th percentile (linear) sits 0.2 of the way from -4 % to -2 %: -3.6 %;
// the tail at or below it is {-4 %}; m2 = 0.0008, m4 = 1.088e-6, g2 = 1.7 - 3 = -1.3,
// G2 = ((6 * -1.3) + 6) * 4 / (3 * 2) = -1.2; Omega = (2 + 4) / (4 + 2) = 1.
// r = [0, 0, 0, 10] %: g1 = m3 / m2^1.5 = 9.375e-5 / 0.001875^1.5 = 1.1547, G1 = g1 * sqrt(12) / 2 = 2.
const sym = [-0.04, -0.02, 0, 0.02, 0.04];

describe('analytics beyond the stats table', () => {
  it('computes historical VaR / CVaR, skew, kurtosis and Omega as pandas and numpy do', () => {
    const v = valueAtRisk(sym);
    expect(v.varPct).toBeCloseTo(3.6, 12);
    expect(v.cvarPct).toBeCloseTo(4, 12);
    expect(skewness(sym)).toBeCloseTo(0, 12);
    expect(excessKurtosis(sym)).toBeCloseTo(-1.2, 12);
    expect(omegaRatio(sym)).toBeCloseTo(1, 12);
    expect(skewness([0, 0, 0, 0.1])).toBeCloseTo(2, 12);
    expect(skewness([0.1, 0.2])).toBeNaN();
  });

  it('measures the longest time under water, recovered or not', () => {
    const t = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => d * 1000);
    // peak 110 at t=1, back at 110 at t=4 (3 s); new peak 120 at t=5, never recovered (2 s to the end)
    expect(longestUnderwater([100, 110, 100, 105, 110, 120, 115, 118], t)).toBe(3000);
    expect(longestUnderwater([100, 110, 100, 105, 108, 101, 99, 98], t)).toBe(6000);
  });

  it('adds streaks, long/short win rates and says which returns it used', () => {
    const day = 86_400_000;
    const time = Array.from({ length: 30 }, (_, i) => Date.UTC(2026, 0, 1) + i * day);
    const equity = time.map((_, i) => 1000 * (1 + 0.01 * Math.sin(i)));
    const tr = (size: number, pnl: number, exit: number): TradeRecord => ({
      size,
      entryBar: 0,
      exitBar: 0,
      entryTime: time[0]!,
      exitTime: time[exit]!,
      entryPrice: 1,
      exitPrice: 1,
      pnl,
      returnPct: pnl / 100,
      fees: 0,
    });
    const trades = [tr(1, 5, 2), tr(1, 3, 3), tr(-1, 2, 4), tr(1, -1, 5), tr(-1, -2, 6), tr(-1, 1, 7)];
    const r = riskReport({ equity, time, close: equity, trades });
    expect(r.returnsBasis).toBe('period');
    expect(r.returnsCount).toBe(29);
    expect(r).toMatchObject({ maxConsecutiveWins: 3, maxConsecutiveLosses: 2, longTrades: 3, shortTrades: 3 });
    expect(r.longWinRatePct).toBeCloseTo(200 / 3, 10);
    expect(r.shortWinRatePct).toBeCloseTo(200 / 3, 10);
    expect(r.var95Pct).toBeGreaterThan(0);
    expect(r.cvar95Pct).toBeGreaterThanOrEqual(r.var95Pct);
    // minutes of a forward test: per-point returns
    const short = riskReport({
      equity: [100, 101, 100, 102],
      time: [0, 60e3, 120e3, 180e3],
      close: [1, 1, 1, 1],
      trades: [],
    });
    expect(short.returnsBasis).toBe('point');
    expect(short.returnsCount).toBe(3);
  });
});

describe('trade excursions (MAE, MFE)', () => {
  it('measures against the entry price; for a short, a rise is adverse; entry and exit prices count', () => {
    const l = excursion(2, 100, 104, 95, 110);
    expect(l.mae).toBeCloseTo(-0.05, 12);
    expect(l.mfe).toBeCloseTo(0.1, 12);
    const s = excursion(-2, 100, 97, 96, 103);
    expect(s.mae).toBeCloseTo(-0.03, 12);
    expect(s.mfe).toBeCloseTo(0.04, 12);
    // nothing held between entry and exit (lo, hi empty): the entry and exit alone
    const none = excursion(1, 100, 90, Infinity, -Infinity);
    expect(none.mae).toBeCloseTo(-0.1, 12);
    expect(none.mfe).toBe(0);
  });

  it("gives a session's trades their excursions from the prices sampled while each was open", () => {
    const trade = (size: number, entryTime: number, exitTime: number, entryPrice: number, exitPrice: number) =>
      ({
        size,
        entryTime,
        exitTime,
        entryPrice,
        exitPrice,
        entryBar: 0,
        exitBar: 0,
        pnl: 0,
        returnPct: 0,
        fees: 0,
      }) as TradeRecord;
    const time = [0, 10, 20, 30, 40, 50, 60];
    const price = [100, 90, 120, 105, NaN, 80, 200];
    const [a, b] = sampledExcursions([trade(1, 5, 35, 100, 106), trade(-1, 40, 60, 105, 100)], time, price);
    // long from t=5 to 35: it saw 90, 120 and 105 (not the 100 at t=0)
    expect(a!.mae).toBeCloseTo(-0.1, 12);
    expect(a!.mfe).toBeCloseTo(0.2, 12);
    // short from t=40 to 60: the point at 40 is its entry (not after it), a missing price is skipped,
    // 80 is in its favour, and the 200 at its exit time is not inside it
    expect(b!.mae).toBeCloseTo(0, 12);
    expect(b!.mfe).toBeCloseTo(1 - 80 / 105, 12);
    const r = riskReport({
      equity: [1, 1.1, 1.2],
      time: [0, 86_400_000, 2 * 86_400_000],
      close: [1, 1, 1],
      trades: [a!, b!],
    });
    expect(r.avgMaePct).toBeCloseTo(-5, 9);
    expect(r.worstMaePct).toBeCloseTo(-10, 9);
    expect(r.bestMfePct).toBeCloseTo((1 - 80 / 105) * 100, 9); // the short's
  });
});

describe('Monte Carlo over trades', () => {
  /** pnls that are exactly the given shares of the equity before each trade */
  const pnlsOf = (start: number, shares: number[]) => {
    let eq = start;
    return shares.map((r) => {
      const p = eq * r;
      eq += p;
      return p;
    });
  };

  it('shuffling keeps the final return and moves only the drawdown', () => {
    const shares = [0.1, -0.05, 0.2, -0.15, 0.03, -0.08, 0.12, -0.02, 0.07, -0.1];
    const mc = monteCarlo(10_000, pnlsOf(10_000, shares), { runs: 2000, method: 'shuffle', seed: 7 });
    const product = (shares.reduce((e, r) => e * (1 + r), 1) - 1) * 100;
    expect(mc.actual.returnPct).toBeCloseTo(product, 9);
    expect(mc.returnPct.p5).toBeCloseTo(product, 9);
    expect(mc.returnPct.p95).toBeCloseTo(product, 9);
    expect(mc.probabilityOfLoss).toBe(0);
    expect(mc.maxDrawdownPct.p5).toBeLessThan(mc.maxDrawdownPct.p95); // orders differ in how deep they dip
    expect(mc.maxDrawdownPct.p5).toBeLessThanOrEqual(mc.actual.maxDrawdownPct);
    // the deepest possible: every loss in a row after the gains, -(1 - 0.95*0.85*0.92*0.98*0.9)
    const worst = -(1 - 0.95 * 0.85 * 0.92 * 0.98 * 0.9) * 100;
    expect(Math.min(...mc.returnQuantiles)).toBeCloseTo(product, 9);
    expect(mc.maxDrawdownPct.p5).toBeGreaterThanOrEqual(worst - 1e-9);
  });

  it('bootstrapping matches the binomial law: ±1 % trades, 100 of them, lose with probability P(k ≤ 50)', () => {
    const shares = Array.from({ length: 100 }, (_, i) => (i % 2 ? -0.01 : 0.01));
    const mc = monteCarlo(1000, pnlsOf(1000, shares), { runs: 20_000, method: 'bootstrap', seed: 3 });
    // 1.01^k 0.99^(100-k) < 1 exactly when k <= 50; P(Binomial(100, 1/2) <= 50) = 0.539795...
    expect(Math.abs(mc.probabilityOfLoss - 0.5398)).toBeLessThan(0.012);
    expect(mc.returnPct.p5).toBeLessThan(mc.returnPct.p50);
    expect(mc.returnPct.p50).toBeLessThan(mc.returnPct.p95);
    expect(mc.returnQuantiles.length).toBeLessThanOrEqual(201);
  });

  it('is seeded, and has no losses or drawdowns when no trade loses', () => {
    const pnls = pnlsOf(500, [0.02, 0.01, 0.03, 0.05]);
    const a = monteCarlo(500, pnls, { runs: 500, method: 'bootstrap', seed: 11 });
    expect(monteCarlo(500, pnls, { runs: 500, method: 'bootstrap', seed: 11 })).toEqual(a);
    expect(monteCarlo(500, pnls, { runs: 500, method: 'bootstrap', seed: 12 })).not.toEqual(a);
    expect(a.probabilityOfLoss).toBe(0);
    expect(a.maxDrawdownPct.p5).toBe(0);
    expect(a.tradeReturnsPct).toEqual({ mean: 2.75, min: 1, max: 5 });
  });
});

describe("a paper session's activity from its timeline (sessionActivity)", () => {
  const H = 3_600_000;
  const T = Date.UTC(2026, 0, 5);
  /** a change at hour h (market time), or at the wall clock's hour when `wall` */
  const at = (status: string, was: string | null, h: number, reason: string | null = null, wall = false) => ({
    status,
    was,
    reason,
    ts: wall ? null : new Date(T + h * H).toISOString(),
    at: new Date(T + h * H + (wall ? 0 : 999)).toISOString(),
  });
  const created = at('created', null, 0, null, true);

  it('counts nothing for a session never started', () => {
    expect(sessionActivity([created], T + 5 * H)).toEqual({
      startedAt: null,
      lifeMs: 0,
      runningMs: 0,
      runningPct: null,
      halts: 0,
      byReason: [],
    });
  });

  it('runs to now while running; a pause resumed later counts as not trading, by its reason', () => {
    const events: StatusChange[] = [
      created,
      at('running', 'created', 1),
      at('paused', 'running', 3, 'risk limit: max_daily_loss'),
      at('running', 'paused', 7, 'a new UTC day'),
      at('paused', 'running', 8),
      at('running', 'paused', 9),
    ];
    // 1-3, 7-8 and 9-11 running: 5 h of 10
    expect(sessionActivity(events, T + 11 * H)).toEqual({
      startedAt: T + H,
      lifeMs: 10 * H,
      runningMs: 5 * H,
      runningPct: 50,
      halts: 2,
      byReason: [
        { reason: 'risk limit: max_daily_loss', count: 1 },
        { reason: 'by hand', count: 1 },
      ],
    });
  });

  it('ends its life at its stop (after a pause too), and reads the wall clock where a change has no market time', () => {
    const events: StatusChange[] = [
      created,
      at('running', 'created', 2, null, true),
      at('paused', 'running', 4, 'portfolio risk limit: max_daily_loss (3.10 %)'),
      at('stopped', 'paused', 6),
    ];
    const a = sessionActivity(events, T + 20 * H);
    expect(a).toMatchObject({ startedAt: T + 2 * H, lifeMs: 4 * H, runningMs: 2 * H, runningPct: 50, halts: 1 });
    // a stop from running is a halt too; a failure as well
    expect(
      sessionActivity([created, at('running', 'created', 0), at('stopped', 'running', 2)], T + 9 * H),
    ).toMatchObject({
      lifeMs: 2 * H,
      runningMs: 2 * H,
      runningPct: 100,
      halts: 1,
      byReason: [{ reason: 'by hand', count: 1 }],
    });
    expect(
      sessionActivity([created, at('running', 'created', 0), at('failed', 'running', 1, 'no market data')], T + 9 * H),
    ).toMatchObject({ lifeMs: H, halts: 1, byReason: [{ reason: 'no market data', count: 1 }] });
  });
});
