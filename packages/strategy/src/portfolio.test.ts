import { describe, expect, it } from 'vitest';
import { backtestingPyBars, googBars } from '../../../test/helpers/goog.ts';
import { firstTradingBar, runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { EnginePool } from './engine-pool.ts';
import type { LegRunner, PortfolioLeg } from './portfolio.ts';
import { normaliseWeights, PortfolioCancelled, portfolioWindows, runPortfolio } from './portfolio.ts';
import { gridVariants } from './grid.ts';
import { inlineRunner, poolRunner, viewBars, walkForward } from './walk-forward.ts';
import type { BarColumns } from './plan.ts';
import type { TradeRecord } from '@algotrade/core';
import { templateById } from './templates.ts';
import { generateCandles, toColumns } from './sample-data.ts';
import { foldsTable, legsCell } from './report.ts';

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

  it("trades each leg in its own symbol's lot size and minimum order value, over the run's", async () => {
    // GOOG in lots of 5 shares (the run's step), BTC in steps of 0.01 (its symbol's)
    const run = { ...options, qtyStep: 5 };
    const p = await runPortfolio([legs[0]!, { ...legs[1]!, rules: { qtyStep: 0.01 } }], run, inline);
    const goog5 = runBacktest(plan, goog, { ...run, cash: 75_000, wholeUnits: true });
    const btc001 = runBacktest(plan, btc, { ...run, cash: 25_000, qtyStep: 0.01 });
    const bySymbol = (r: { trades: (TradeRecord & { symbol?: string })[] }, s?: string) =>
      r.trades.filter((t) => t.symbol === s).map((t) => [t.size, t.pnl]);
    expect(bySymbol(p, 'GOOG')).toEqual(bySymbol(goog5));
    expect(bySymbol(p, 'BTCUSD')).toEqual(bySymbol(btc001));
    expect(goog5.trades.length).toBeGreaterThan(10);
    expect(goog5.trades.every((t) => t.size % 5 === 0)).toBe(true);
    expect(btc001.trades.map((t) => t.size)).toEqual([37.69, 38.32, 12.81]);
    // a minimum above GOOG's share of the money: GOOG makes no entry, counting them; BTC trades as before
    const held = await runPortfolio([{ ...legs[0]!, rules: { minNotional: 80_000 } }, legs[1]!], options, inline);
    expect(held.trades.filter((t) => t.symbol === 'GOOG')).toEqual([]);
    expect(held.legs[0]!.stats.trades).toBe(0);
    expect(held.trades.filter((t) => t.symbol === 'BTCUSD').length).toBe(3);
  });

  it("a drawdown limit on the summed equity (a paper portfolio's): every leg closed where it is reached, trading over", async () => {
    const free = await runPortfolio(legs, options, inline, warm);
    // the summed equity's drawdown, by hand: the limit is a level the free run passes through
    let peak = options.cash;
    const dd = Array.from(free.equity, (e) => {
      peak = Math.max(peak, e);
      return ((peak - e) / peak) * 100;
    });
    const limit = 20;
    const k = dd.findIndex((x) => x >= limit);
    expect(k).toBeGreaterThan(0);
    const seen: number[] = [];
    const onProgress = (x: number) => {
      seen.push(x);
      return false;
    };
    const p = await runPortfolio(legs, options, inline, { ...warm, onProgress, limits: { maxDrawdownPct: limit } });
    expect(p.halts).toEqual([{ at: p.ts[k], until: Infinity, limit: 'max_drawdown', pct: dd[k] }]);
    // the legs ran twice, the progress never going back, to the end
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(seen.at(-1)).toBe(1);
    expect(seen.filter((x) => x === 0.5).length).toBeGreaterThan(0);
    // the same before it; the positions open then closed by the rule, on the bar there or the next; nothing after
    expect(Array.from(p.equity.subarray(0, k))).toEqual(Array.from(free.equity.subarray(0, k)));
    const at = p.ts[k]!;
    const closed = p.trades.filter((t) => t.exitReason === 'portfolio_max_drawdown');
    expect(closed.length).toBeGreaterThan(0);
    for (const t of closed) expect(t.exitTime).toBeGreaterThanOrEqual(at);
    expect(p.trades.every((t) => t.entryTime <= at)).toBe(true);
    expect(p.trades.filter((t) => t.exitTime > at).every((t) => t.exitReason === 'portfolio_max_drawdown')).toBe(true);
    const last = Math.max(...closed.map((t) => t.exitBar));
    expect(new Set(p.equity.subarray(last)).size).toBe(1);
    const pnl = p.trades.reduce((a, t) => a + t.pnl, 0);
    expect(p.stats.equityFinal).toBeCloseTo(options.cash + pnl, 6);
    // not reached: the free run
    const far = await runPortfolio(legs, options, inline, { ...warm, limits: { maxDrawdownPct: 99 } });
    expect(far.halts).toEqual([]);
    expect(Array.from(far.equity)).toEqual(Array.from(free.equity));
  });

  it('a daily loss limit on the summed equity pauses every leg until the next UTC day (resumeNextDay), again and again', async () => {
    const minute = toColumns(generateCandles(30_000, 5));
    const fives = toColumns(generateCandles(6_000, 6, Date.UTC(2024, 0, 1), 300_000));
    const two: PortfolioLeg[] = [
      { symbol: 'A', weight: 0.5, bars: minute },
      { symbol: 'B', weight: 0.5, bars: fives },
    ];
    const o = { ...options, allowShort: true };
    const limits = { maxDailyLossPct: 1.5, resumeNextDay: true };
    const p = await runPortfolio(two, o, inline, { limits });
    const halts = p.halts!;
    expect(halts.length).toBeGreaterThan(2);
    const DAY = 86_400_000;
    for (const h of halts) {
      expect(h.limit).toBe('max_daily_loss');
      expect(h.pct).toBeGreaterThanOrEqual(1.5);
      expect(h.until).toBe((Math.floor(h.at / DAY) + 1) * DAY);
      // no position opened in a pause, and one was closed by the rule there
      expect(p.trades.some((t) => t.entryTime > h.at && t.entryTime < h.until)).toBe(false);
      expect(p.trades.some((t) => t.exitReason === 'portfolio_max_daily_loss' && t.exitTime >= h.at)).toBe(true);
    }
    // one pause a day at most, each day's loss measured from its first summed equity
    expect(new Set(halts.map((h) => Math.floor(h.at / DAY))).size).toBe(halts.length);
    // trading goes on after each pause, before the next
    halts.slice(0, -1).forEach((h, i) => {
      expect(p.trades.some((t) => t.entryTime >= h.until && t.entryTime <= halts[i + 1]!.at)).toBe(true);
    });
    const pnl = p.trades.reduce((a, t) => a + t.pnl, 0);
    expect(p.stats.equityFinal).toBeCloseTo(o.cash + pnl, 6);
    // without resumeNextDay: the first pause is the end
    const ended = await runPortfolio(two, o, inline, { limits: { maxDailyLossPct: 1.5 } });
    expect(ended.halts).toEqual([{ ...halts[0]!, until: Infinity }]);
    expect(ended.trades.every((t) => t.entryTime <= halts[0]!.at)).toBe(true);
  });

  it('weights: equal by default, normalised, one per symbol, each positive', () => {
    expect(normaliseWeights(['A', 'B', 'C', 'D'])).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(normaliseWeights(['A', 'B'], [3, 1])).toEqual([0.75, 0.25]);
    expect(() => normaliseWeights(['A', 'B'], [1])).toThrow(/one weight per symbol/);
    expect(() => normaliseWeights(['A', 'B'], [1, 0])).toThrow(/positive/);
  });
});

describe('portfolio walk-forward: a portfolio as one series of windows (portfolioWindows)', () => {
  const goog = googBars();
  const btc = backtestingPyBars('BTCUSD.csv');
  const variants = gridVariants(graph, { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] }, 100);
  const spec = { folds: 4, outOfSamplePct: 25, anchored: false, rankBy: 'sharpe' as const };
  /** GOOG without every fifth bar: a leg on a calendar of its own */
  const thinned = (): BarColumns => {
    const keep = Array.from({ length: goog.length }, (_, i) => i).filter((i) => i % 5 !== 3);
    const pick = (a: Float64Array) => Float64Array.from(keep, (i) => a[i]!);
    return {
      ts: pick(goog.ts),
      open: pick(goog.open),
      high: pick(goog.high),
      low: pick(goog.low),
      close: pick(goog.close),
      volume: pick(goog.volume),
      length: keep.length,
    };
  };

  it('runs a window of every merged bar, without warm-up, as the portfolio backtest', async () => {
    const legs: PortfolioLeg[] = [
      { symbol: 'GOOG', weight: 0.75, bars: goog, wholeUnits: true },
      { symbol: 'BTCUSD', weight: 0.25, bars: btc },
    ];
    const p = await runPortfolio(legs, options, inline);
    const pw = portfolioWindows(legs, inlineRunner());
    expect(Array.from(pw.bars.ts)).toEqual(Array.from(p.ts));
    const r = await pw.run(graph, pw.bars, { from: 0, to: p.ts.length }, { ...options, tradeFrom: 0 });
    expect(r.equity).toHaveLength(p.equity.length);
    for (let k = 0; k < p.equity.length; k++) expect(r.equity[k]).toBeCloseTo(p.equity[k]!, 6);
    expect(r.trades).toEqual(p.trades);
    expect(r.stats.equityFinal).toBeCloseTo(p.stats.equityFinal, 6);
    expect(r.stats.sharpe).toBeCloseTo(p.stats.sharpe, 9);
    // held from each leg's first bar: the basket per unit of cash
    const held = legs.reduce((a, l) => a + l.weight * (l.bars.close[l.bars.length - 1]! / l.bars.close[0]!), 0);
    expect(pw.bars.close[pw.bars.length - 1]).toBeCloseTo(held, 9);
  });

  it("with limits on the summed equity: a window of every bar is the portfolio backtest with them; each fold's limits say what they did", async () => {
    const legs: PortfolioLeg[] = [
      { symbol: 'GOOG', weight: 0.75, bars: goog, wholeUnits: true },
      { symbol: 'BTCUSD', weight: 0.25, bars: btc },
    ];
    const limits = { maxDailyLossPct: 3, resumeNextDay: true };
    const p = await runPortfolio(legs, options, inline, { limits });
    expect(p.halts!.length).toBeGreaterThan(1);
    const pw = portfolioWindows(legs, inlineRunner(), limits);
    const r = await pw.run(graph, pw.bars, { from: 0, to: p.ts.length }, { ...options, tradeFrom: 0 });
    for (let k = 0; k < p.equity.length; k++) expect(r.equity[k]).toBeCloseTo(p.equity[k]!, 6);
    expect(r.trades).toEqual(p.trades);
    expect(r.risk!.halts.map((h) => [h.time, h.limit, h.pct])).toEqual(p.halts!.map((h) => [h.at, h.limit, h.pct]));
    expect(r.risk!.halts.every((h) => pw.bars.ts[h.bar] === h.time)).toBe(true);
    // a walk-forward: each fold's limits, applied afresh from the window's equity
    const res = await walkForward(variants, pw.bars, options, spec, pw.run);
    expect(res.folds.every((f) => f.limits !== undefined)).toBe(true);
    const halts = res.folds.flatMap((f) => f.limits!.halts);
    expect(halts.length).toBeGreaterThan(0);
    for (const f of res.folds)
      for (const h of f.limits!.halts) {
        expect(h.time >= f.outOfSample.from && h.time <= f.outOfSample.to).toBe(true);
        expect(h.pct).toBeGreaterThanOrEqual(3);
      }
    const free = await walkForward(
      variants,
      portfolioWindows(legs, inlineRunner()).bars,
      options,
      spec,
      portfolioWindows(legs, inlineRunner()).run,
    );
    expect(free.folds.every((f) => f.limits === undefined)).toBe(true);
  });

  it('over two legs of the same bars at half each is the walk-forward of that one symbol, trade for trade twice', async () => {
    const half = { ...options, wholeUnits: false };
    const one = await walkForward(variants, goog, half, spec, inlineRunner());
    const pw = portfolioWindows(
      [
        { symbol: 'A', weight: 0.5, bars: goog },
        { symbol: 'B', weight: 0.5, bars: goog },
      ],
      inlineRunner(),
    );
    const two = await walkForward(variants, pw.bars, half, spec, pw.run);
    expect(two.folds.map((f) => f.chosen)).toEqual(one.folds.map((f) => f.chosen));
    expect(two.fullPeriod.combo).toEqual(one.fullPeriod.combo);
    expect(two.equity.ts).toEqual(one.equity.ts);
    // the same money to a hundredth of a cent (halves summed round apart in the last bits)
    two.equity.equity.forEach((e, k) => expect(e).toBeCloseTo(one.equity.equity[k]!, 4));
    expect(two.trades).toHaveLength(2 * one.trades.length);
    two.folds.forEach((f, i) => {
      expect(f.inSampleStats.sharpe).toBeCloseTo(one.folds[i]!.inSampleStats.sharpe, 6);
      expect(f.outOfSampleStats.returnPct).toBeCloseTo(one.folds[i]!.outOfSampleStats.returnPct, 6);
    });
  });

  it('on legs of different calendars: trades inside their fold, money reconciled, the same on a pool', async () => {
    const legs: PortfolioLeg[] = [
      { symbol: 'GOOG', weight: 0.6, bars: goog, wholeUnits: true },
      { symbol: 'THIN', weight: 0.4, bars: thinned() },
    ];
    const pw = portfolioWindows(legs, inlineRunner());
    const res = await walkForward(variants, pw.bars, options, spec, pw.run);
    expect(pw.bars.length).toBe(goog.length); // the thinned leg's times are GOOG's
    expect(new Set(res.trades.map((t) => (t as { symbol?: string }).symbol))).toEqual(new Set(['GOOG', 'THIN']));
    for (const f of res.folds) {
      const [from, to] = [Date.parse(f.outOfSample.from), Date.parse(f.outOfSample.to)];
      const inFold = res.trades.filter((t) => t.entryTime >= from && t.entryTime <= to);
      expect(inFold).toHaveLength(f.outOfSampleStats.trades);
      for (const t of inFold) expect(t.exitTime).toBeLessThanOrEqual(to);
      // each window closes its positions: it ends with its start plus its trades' PnL, to the cent
      const pnl = inFold.reduce((a, t) => a + t.pnl, 0);
      expect(Math.round((f.startEquity + pnl) * 100)).toBe(Math.round(f.endEquity * 100));
    }
    for (const t of res.trades) expect(res.equity.ts[t.entryBar]).toBe(t.entryTime);
    const pnl = res.trades.reduce((a, t) => a + t.pnl, 0);
    expect(Math.round((options.cash + pnl) * 100)).toBe(Math.round(res.equity.equity.at(-1)! * 100));
    // a fold's out-of-sample window is that portfolio of the pick, run on the legs' bars up to its end
    const f = res.folds[2]!;
    const v = variants.find((x) => JSON.stringify(x.combo) === JSON.stringify(f.chosen))!;
    const oosFrom = Date.parse(f.outOfSample.from);
    const oosTo = Date.parse(f.outOfSample.to);
    const upTo = (b: BarColumns) => viewBars(b, 0, b.ts.findLastIndex((t) => t <= oosTo) + 1);
    const plan2 = compileGraph(v.graph).plan!;
    let end = 0;
    for (const [i, l] of legs.entries()) {
      const b = upTo(l.bars);
      const tradeFrom = b.ts.findIndex((t) => t >= oosFrom);
      const r = runBacktest(plan2, b, {
        ...options,
        cash: f.startEquity * l.weight,
        tradeFrom,
        wholeUnits: !!l.wholeUnits,
      });
      end += r.equity[r.equity.length - 1]!;
      // each leg's share of the window, as the fold keeps it
      expect(f.legs![i]).toMatchObject({ symbol: l.symbol, trades: r.trades.length });
      expect(f.legs![i]!.startEquity).toBeCloseTo(f.startEquity * l.weight, 9);
      expect(f.legs![i]!.endEquity).toBeCloseTo(r.equity[r.equity.length - 1]!, 6);
    }
    expect(f.endEquity).toBeCloseTo(end, 6);
    // the folds table says what each leg made (a column of its own)
    const table = foldsTable(res.folds, 'sharpe');
    expect(table.head.at(-1)).toBe('By symbol: PnL (trades)');
    expect(table.rows[2]!.at(-1)).toBe(legsCell(f.legs!));
    expect(legsCell(f.legs!)).toMatch(/^GOOG [+-]\d+\.\d\d \(\d+\), THIN [+-]\d+\.\d\d \(\d+\)$/);
    // on a pool's threads: the same
    const pool = new EnginePool(2);
    try {
      const pooled = portfolioWindows(legs, poolRunner(pool));
      const again = await walkForward(variants, pooled.bars, options, spec, pooled.run, undefined, 2);
      expect(again.equity.equity).toEqual(res.equity.equity);
      expect(again.folds.map((x) => x.chosen)).toEqual(res.folds.map((x) => x.chosen));
    } finally {
      await pool.close();
    }
  });
});
