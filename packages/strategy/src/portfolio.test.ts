import { describe, expect, it } from 'vitest';
import { backtestingPyBars, googBars } from '../../../test/helpers/goog.ts';
import { firstTradingBar, runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { EnginePool } from './engine-pool.ts';
import type { LegRunner, PortfolioLeg } from './portfolio.ts';
import { normaliseWeights, PortfolioCancelled, runPortfolio } from './portfolio.ts';
import { templateById } from './templates.ts';

const graph = templateById('sma-crossover')!.graph;
const plan = compileGraph(graph).plan!;
const inline: LegRunner = async (bars, options, onProgress) => runBacktest(plan, bars, { ...options, onProgress });
const options = { cash: 100_000, feeRate: 0.001, allowShort: false };
const warm = { firstTradingBar: () => firstTradingBar(plan) };

describe('portfolio backtest: one strategy over several symbols', () => {
  const goog = googBars(); // daily, 2004-2013
  const btc = backtestingPyBars('BTCUSD.csv'); // monthly, from 2012
  const legs: PortfolioLeg[] = [
    { symbol: 'GOOG', weight: 0.75, bars: goog, wholeUnits: true },
    { symbol: 'BTCUSD', weight: 0.25, bars: btc },
  ];

  it("with one symbol is that symbol's backtest, equity and statistics", async () => {
    const alone = runBacktest(plan, goog, { ...options, wholeUnits: true });
    const p = await runPortfolio([{ symbol: 'GOOG', weight: 1, bars: goog, wholeUnits: true }], options, inline, warm);
    expect(Array.from(p.ts)).toEqual(Array.from(goog.ts));
    expect(Array.from(p.equity)).toEqual(Array.from(alone.equity));
    expect(p.stats.equityFinal).toBe(alone.stats.equityFinal);
    expect(p.stats.trades).toBe(alone.stats.trades);
    expect(p.stats.totalFees).toBeCloseTo(alone.stats.totalFees, 9);
    expect(p.stats.sharpe).toBeCloseTo(alone.stats.sharpe, 9);
    expect(p.stats.maxDrawdownPct).toBeCloseTo(alone.stats.maxDrawdownPct, 9);
    expect(p.stats.exposureTimePct).toBeCloseTo(alone.stats.exposureTimePct, 9);
    expect(p.stats.buyAndHoldReturnPct).toBeCloseTo(alone.stats.buyAndHoldReturnPct, 9);
  });

  it('is, at every merged bar, the sum of each leg run alone with its share (carried to its next bar)', async () => {
    const p = await runPortfolio(legs, options, inline);
    const alone = legs.map((l) => ({
      l,
      r: runBacktest(plan, l.bars, { ...options, cash: options.cash * l.weight, wholeUnits: !!l.wholeUnits }),
    }));
    expect(p.ts.length).toBe(new Set([...goog.ts, ...btc.ts]).size);
    for (let k = 0; k < p.ts.length; k += 37) {
      let want = 0;
      for (const { l, r } of alone) {
        // the leg's last bar at or before this time (searched from the end: another way than the code's)
        let j = l.bars.length - 1;
        while (j >= 0 && l.bars.ts[j]! > p.ts[k]!) j--;
        want += j < 0 ? options.cash * l.weight : r.equity[j]!;
      }
      expect(p.equity[k]).toBeCloseTo(want, 6);
    }
    // the money reconciles: every position is closed at the end, so the final equity is the starting
    // balance plus every trade's PnL (net of its fees), to the cent, and each leg's too
    const pnl = p.trades.reduce((a, t) => a + t.pnl, 0);
    expect(Math.abs(p.stats.equityFinal - (options.cash + pnl))).toBeLessThan(0.005);
    for (const leg of p.legs) {
      const legPnl = p.trades.filter((t) => t.symbol === leg.symbol).reduce((a, t) => a + t.pnl, 0);
      expect(Math.abs(leg.finalEquity - (leg.startingBalance + legPnl))).toBeLessThan(0.005);
      expect(leg.contributionPct).toBeCloseTo((legPnl / options.cash) * 100, 6);
    }
    expect(p.legs.map((l) => [l.symbol, l.startingBalance])).toEqual([
      ['GOOG', 75_000],
      ['BTCUSD', 25_000],
    ]);
  });

  it('keeps each trade on its own bars: times, symbol, and indexes into the merged times', async () => {
    const p = await runPortfolio(legs, options, inline);
    expect(new Set(p.trades.map((t) => t.symbol))).toEqual(new Set(['GOOG', 'BTCUSD']));
    for (const t of p.trades) {
      expect(p.ts[t.entryBar]).toBe(t.entryTime);
      expect(p.ts[t.exitBar]).toBe(t.exitTime);
      // what closed it too: the crossover's nodes, or the end of the leg's data
      expect(['buy', 'sell', 'end']).toContain(t.exitReason);
    }
    for (let i = 1; i < p.trades.length; i++)
      expect(p.trades[i]!.entryTime).toBeGreaterThanOrEqual(p.trades[i - 1]!.entryTime);
  });

  it('compares with the same allocation bought and held', async () => {
    const p = await runPortfolio(legs, options, inline);
    const held = legs.reduce((a, l) => a + l.weight * (l.bars.close[l.bars.length - 1]! / l.bars.close[0]!), 0);
    expect(p.stats.buyAndHoldReturnPct).toBeCloseTo((held - 1) * 100, 6);
    expect(p.basket[0]).toBeCloseTo(options.cash, 6);
  });

  it('correlates the legs: 1 with itself, symmetric, and 1 for two legs on the same bars', async () => {
    const p = await runPortfolio(
      [...legs, { symbol: 'GOOG2', weight: 0.25, bars: goog, wholeUnits: true }],
      options,
      inline,
    );
    const m = p.correlation.matrix;
    expect(p.correlation.symbols).toEqual(['GOOG', 'BTCUSD', 'GOOG2']);
    for (let i = 0; i < 3; i++) {
      expect(m[i]![i]).toBe(1);
      for (let j = 0; j < 3; j++) {
        expect(m[i]![j]).toBeCloseTo(m[j]![i]!, 12);
        expect(Math.abs(m[i]![j]!)).toBeLessThanOrEqual(1 + 1e-12);
      }
    }
    expect(m[0]![2]).toBeGreaterThan(0.99); // the same strategy on the same bars (whole units round the sizes apart)
    expect(Math.abs(m[0]![1]!)).toBeLessThan(0.5);
  });

  it('runs the legs on a worker pool with the same result, and stops when cancelled', async () => {
    const pool = new EnginePool(2);
    try {
      const pooled: LegRunner = (bars, o, onProgress) => pool.run(graph, bars, o, onProgress);
      const a = await runPortfolio(legs, options, inline);
      const seen: number[] = [];
      const b = await runPortfolio(legs, options, pooled, {
        onProgress: (x) => {
          seen.push(x);
          return false;
        },
        parallel: 2,
      });
      expect(Array.from(b.equity)).toEqual(Array.from(a.equity));
      expect(b.trades).toEqual(a.trades);
      expect(seen.at(-1)).toBe(1);
      await expect(runPortfolio(legs, options, pooled, { onProgress: () => true, parallel: 2 })).rejects.toBeInstanceOf(
        PortfolioCancelled,
      );
    } finally {
      await pool.close();
    }
  });

  it('weights: equal by default, normalised, one per symbol, each positive', () => {
    expect(normaliseWeights(['A', 'B', 'C', 'D'])).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(normaliseWeights(['A', 'B'], [3, 1])).toEqual([0.75, 0.25]);
    expect(() => normaliseWeights(['A', 'B'], [1])).toThrow(/one weight per symbol/);
    expect(() => normaliseWeights(['A', 'B'], [1, 0])).toThrow(/positive/);
  });
});
