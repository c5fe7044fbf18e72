import { bankruptcyPrice, liquidationPrice, riskReport, type TradeRecord } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { backtestingPy, googBars } from '../../../test/helpers/goog.ts';
import { xrpFutureHours } from '../../../test/helpers/freqtrade.ts';
import { alwaysBuying, graphOf, ladderGraph } from '../../../test/helpers/graphs.ts';
import { generateCandles, toColumns } from './sample-data.ts';
import { templateById } from './templates.ts';

const expected = JSON.parse(backtestingPy('expected/smacross_10_30_stats.json')).stats as Record<
  string,
  number | string
>;
const expectedTrades = backtestingPy('expected/smacross_10_30_trades.csv')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(','));
const DAY = 86_400_000;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-300, Math.abs(b));

describe('golden strategy: SMA(10/30) crossover on GOOG equals backtesting.py', () => {
  const plan = compileGraph(templateById('sma-crossover')!.graph).plan!;
  const res = runBacktest(plan, googBars(), { cash: 10_000, allowShort: true, wholeUnits: true });

  it('makes the same 66 trades at the same bars, sizes and prices', () => {
    expect(res.trades).toHaveLength(expectedTrades.length);
    res.trades.forEach((t, i) => {
      const [size, entryBar, exitBar, entryPrice, exitPrice, pnl] = expectedTrades[i]!.map(Number);
      expect([t.size, t.entryBar, t.exitBar, t.entryPrice, t.exitPrice], `trade ${i}`).toEqual([
        size,
        entryBar,
        exitBar,
        entryPrice,
        exitPrice,
      ]);
      expect(t.pnl).toBeCloseTo(pnl!, 6);
    });
  });

  it('every statistic equals the reference to 1e-9 (mean durations ceiled to the day, as backtesting.py prints them)', () => {
    const s = res.stats;
    const pairs: [string, number][] = [
      ['Exposure Time [%]', s.exposureTimePct],
      ['Equity Final [$]', s.equityFinal],
      ['Equity Peak [$]', s.equityPeak],
      ['Return [%]', s.returnPct],
      ['Buy & Hold Return [%]', s.buyAndHoldReturnPct],
      ['Return (Ann.) [%]', s.returnAnnPct],
      ['Volatility (Ann.) [%]', s.volatilityAnnPct],
      ['CAGR [%]', s.cagrPct],
      ['Sharpe Ratio', s.sharpe],
      ['Sortino Ratio', s.sortino],
      ['Calmar Ratio', s.calmar],
      ['Alpha [%]', s.alphaPct],
      ['Beta', s.beta],
      ['Max. Drawdown [%]', s.maxDrawdownPct],
      ['Avg. Drawdown [%]', s.avgDrawdownPct],
      ['# Trades', s.trades],
      ['Win Rate [%]', s.winRatePct],
      ['Best Trade [%]', s.bestTradePct],
      ['Worst Trade [%]', s.worstTradePct],
      ['Avg. Trade [%]', s.avgTradePct],
      ['Profit Factor', s.profitFactor],
      ['Expectancy [%]', s.expectancyPct],
      ['SQN', s.sqn],
      ['Kelly Criterion', s.kelly],
    ];
    const off = pairs
      .filter(([k, v]) => !(rel(v, expected[k] as number) < 1e-9))
      .map(([k, v]) => `${k}: ${v} vs ${expected[k]}`);
    expect(off).toEqual([]);
    const days = (k: string) => Number(String(expected[k]).split(' ')[0]);
    expect(s.durationMs / DAY).toBe(days('Duration'));
    expect(s.maxDrawdownDurationMs / DAY).toBe(days('Max. Drawdown Duration'));
    expect(Math.ceil(s.avgDrawdownDurationMs / DAY)).toBe(days('Avg. Drawdown Duration'));
    expect(s.maxTradeDurationMs / DAY).toBe(days('Max. Trade Duration'));
    expect(Math.ceil(s.avgTradeDurationMs / DAY)).toBe(days('Avg. Trade Duration'));
  });

  it('is deterministic: the same input gives a byte-identical result', () => {
    const again = runBacktest(plan, googBars(), { cash: 10_000, allowShort: true, wholeUnits: true });
    expect(JSON.stringify({ ...again, equity: [...again.equity] })).toBe(
      JSON.stringify({ ...res, equity: [...res.equity] }),
    );
  });
});

describe('engine rules', () => {
  const plan = compileGraph(templateById('sma-crossover')!.graph).plan!;
  const bars = toColumns(generateCandles(20_000, 9));

  it('reconciles money: starting cash + realised PnL - (fees in PnL) = final cash, to the cent', () => {
    const r = runBacktest(plan, bars, { cash: 100_000, feeRate: 0.001, feeFixed: 1, slippageBps: 5 });
    const pnl = r.trades.reduce((s, t) => s + t.pnl, 0);
    const fees = r.trades.reduce((s, t) => s + t.fees, 0);
    expect(Math.abs(100_000 + pnl - r.finalCash)).toBeLessThan(0.005);
    expect(fees).toBeCloseTo(r.totalFees, 6);
    expect(r.equity[r.equity.length - 1]).toBeCloseTo(r.finalCash, 6);
    expect(r.trades.every((t) => t.size > 0)).toBe(true); // shorts off by default
  });

  it('fills at the next open by default, or on the signal close', () => {
    const next = runBacktest(plan, bars, { cash: 10_000 });
    const same = runBacktest(plan, bars, { cash: 10_000, fillOn: 'close' });
    const t = next.trades[0]!;
    expect(t.entryPrice).toBe(bars.open[t.entryBar]);
    const u = same.trades[0]!;
    expect(u.entryPrice).toBe(bars.close[u.entryBar]);
    expect(u.entryBar).toBe(t.entryBar - 1);
  });

  it('stop loss exits at the stop level (or the open on a gap), checked against the bar low', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 0.2 }, position: { x: 0, y: 0 } });
    const p = compileGraph(g).plan!;
    const r = runBacktest(p, bars, { cash: 10_000 });
    const stopped = r.trades.filter((t) => t.exitPrice <= t.entryPrice * (1 - 0.002) + 1e-9);
    expect(stopped.length).toBeGreaterThan(0);
    for (const t of stopped) {
      const level = t.entryPrice * 0.998;
      expect(t.exitPrice).toBeCloseTo(Math.min(level, bars.open[t.exitBar]!), 9);
      expect(bars.low[t.exitBar]!).toBeLessThanOrEqual(level);
    }
    // no trade ever lost more than the stop plus the gap at the open
    for (const t of r.trades)
      expect(t.exitPrice).toBeGreaterThanOrEqual(Math.min(t.entryPrice * 0.998, bars.open[t.exitBar]!) - 1e-9);
  });

  it('sizes whole units for stocks and respects fixed sizing', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 3 };
    const r = runBacktest(compileGraph(g).plan!, bars, { cash: 10_000, wholeUnits: true });
    expect(r.trades.every((t) => t.size === 3)).toBe(true);
  });

  it('sizes by risk: a stop hit loses the share of equity asked (before fees), and no more than all of it is bought', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'risk_pct', amount: 0.25 };
    // without a stop there is no distance to size by: the compiler says so on the node
    const noStop = compileGraph(g).report;
    expect(noStop.ok).toBe(false);
    expect(noStop.errors).toEqual([
      expect.objectContaining({
        nodeId: 'buy',
        code: 'INVALID_PARAM',
        message: expect.stringMatching(/add a stop loss/),
      }),
    ]);
    g.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 0.5 }, position: { x: 0, y: 0 } });
    const p = compileGraph(g).plan!;
    expect(p.actions.find((a) => a.nodeId === 'buy')).toMatchObject({ sizing: 'pct_equity', amount: 50 });
    const r = runBacktest(p, bars, { cash: 10_000 });
    let equity = 10_000;
    let checked = 0;
    for (const t of r.trades) {
      // each entry is worth half the equity before it: 0.25 % at risk over a 0.5 % stop
      expect((t.size * t.entryPrice) / equity).toBeCloseTo(0.5, 6);
      const level = t.entryPrice * 0.995;
      if (Math.abs(t.exitPrice - level) < 1e-9) {
        // stopped at the level (not through a gap): 0.25 % of the equity before the trade
        expect(t.pnl / equity).toBeCloseTo(-0.0025, 9);
        checked++;
      }
      equity += t.pnl;
    }
    expect(checked).toBeGreaterThan(0);
    // 5 % at risk over a 0.5 % stop would be 1000 % of equity: capped at all of it (without leverage)
    g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'risk_pct', amount: 5 };
    const big = runBacktest(compileGraph(g).plan!, bars, { cash: 10_000 });
    expect(big.trades.length).toBeGreaterThan(0);
    let eq = 10_000;
    for (const t of big.trades) {
      expect((t.size * t.entryPrice) / eq).toBeCloseTo(1, 6);
      eq += t.pnl;
    }
  });

  it('reports progress and can be cancelled', () => {
    const seen: number[] = [];
    const r = runBacktest(plan, bars, { cash: 1000, onProgress: (p) => (seen.push(p), p > 0.5) });
    expect(r.cancelled).toBe(true);
    expect(seen.at(-1)).toBeGreaterThan(0.5);
  });
});

describe('limit and stop entry orders', () => {
  const bars = toColumns(generateCandles(30_000, 13));
  const withOrder = (orderType: string, offsetPct: number) => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'all', orderType, offsetPct };
    return compileGraph(g).plan!;
  };
  const market = runBacktest(withOrder('market', 0), bars, { cash: 10_000, slippageBps: 5 });

  it('a limit buy fills at or below its level from the signal close, or not at all', () => {
    const r = runBacktest(withOrder('limit', 0.05), bars, { cash: 10_000, slippageBps: 5 });
    expect(r.trades.length).toBeGreaterThan(0);
    expect(r.trades.length).toBeLessThan(market.trades.length); // some limits are never reached
    for (const t of r.trades) {
      const level = bars.close[t.entryBar - 1]! * (1 - 0.0005);
      expect(t.entryPrice).toBeLessThanOrEqual(level + 1e-9);
      expect(t.entryPrice).toBe(Math.min(bars.open[t.entryBar]!, level));
    }
  });

  it('a limit buy resting validBars bars fills at the first of them to reach its level, or lapses', () => {
    const rests = (validBars: number) => {
      const g = structuredClone(templateById('sma-crossover')!.graph);
      g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'all', orderType: 'limit', offsetPct: 0.2, validBars };
      return runBacktest(compileGraph(g).plan!, bars, { cash: 10_000, slippageBps: 5 });
    };
    // the crossover's buy signals: the bars before its market entries
    const signalBars = market.trades.filter((t) => t.size > 0).map((t) => t.entryBar - 1);
    const one = rests(1);
    const five = rests(5);
    expect(five.trades.length).toBeGreaterThan(one.trades.length);
    let later = 0;
    for (const t of five.trades) {
      // the signal it came from: the last before its entry
      const sb = signalBars.filter((b) => b < t.entryBar).at(-1)!;
      const level = bars.close[sb]! * (1 - 0.002);
      expect(t.entryBar - sb).toBeLessThanOrEqual(5);
      expect(t.entryPrice).toBe(Math.min(bars.open[t.entryBar]!, level));
      // no bar before it reached the level
      for (let b = sb + 1; b < t.entryBar; b++) expect(bars.low[b]!).toBeGreaterThan(level);
      if (t.entryBar - sb > 1) later++;
    }
    expect(later).toBeGreaterThan(10);
    // a bar's rest is the plain limit order
    expect(one.trades).toEqual(runBacktest(withOrder('limit', 0.2), bars, { cash: 10_000, slippageBps: 5 }).trades);
  });

  it('a stop buy fills at or above its level (gaps at the open), with slippage', () => {
    const r = runBacktest(withOrder('stop', 0.05), bars, { cash: 10_000, slippageBps: 5 });
    expect(r.trades.length).toBeGreaterThan(0);
    for (const t of r.trades) {
      const level = bars.close[t.entryBar - 1]! * (1 + 0.0005);
      expect(bars.high[t.entryBar]!).toBeGreaterThanOrEqual(level);
      expect(t.entryPrice).toBeCloseTo(Math.max(bars.open[t.entryBar]!, level) * 1.0005, 9);
    }
  });

  it("a limit order filled at its level pays the maker's fee; a gap's open and market orders the taker's", () => {
    // GOOG's daily bars: some open under the level of the close before (a gap), most do not
    const goog = googBars();
    const fees = { cash: 10_000, feeRate: 0.001, slippageBps: 5 };
    const r = runBacktest(withOrder('limit', 0.3), goog, { ...fees, makerFeeRate: 0.0002 });
    let makers = 0;
    let gaps = 0;
    for (const t of r.trades) {
      const level = goog.close[t.entryBar - 1]! * (1 - 0.003);
      // at its level within the bar (a maker), or at an open that was already under it (a taker)
      const maker = t.entryPrice === level && goog.open[t.entryBar]! > level;
      if (maker) makers++;
      else gaps++;
      // the exit is the crossover's market sell, with slippage, at the taker's rate
      const entryFee = t.size * t.entryPrice * (maker ? 0.0002 : 0.001);
      expect(t.fees).toBeCloseTo(entryFee + t.size * t.exitPrice * 0.001, 8);
    }
    expect(makers).toBeGreaterThan(5);
    expect(gaps).toBeGreaterThan(2);
    // sizing "all" spends the cash at the maker's rate: the first entry (a maker's, at its level) takes all of it
    const first = r.trades[0]!;
    expect(first.entryPrice).toBeLessThan(goog.open[first.entryBar]!);
    expect(first.size).toBe(Math.floor(((10_000 * (1 - 1e-12)) / (first.entryPrice * 1.0002)) * 1e8) / 1e8);
    // without a maker's rate every fill pays the fee; market orders never pay the maker's
    const plain = runBacktest(withOrder('limit', 0.3), goog, fees);
    expect(plain.trades).toEqual(runBacktest(withOrder('limit', 0.3), goog, { ...fees, makerFeeRate: 0.001 }).trades);
    expect(plain.totalFees).toBeGreaterThan(r.totalFees);
    // a rebate (a negative maker's rate): the makers' entries are paid for, and the money still reconciles
    const rebate = runBacktest(withOrder('limit', 0.3), goog, { ...fees, makerFeeRate: -0.0001 });
    let paidBack = 0;
    for (const t of rebate.trades) {
      const level = goog.close[t.entryBar - 1]! * (1 - 0.003);
      if (t.entryPrice === level && goog.open[t.entryBar]! > level) {
        expect(t.fees).toBeCloseTo(t.size * t.entryPrice * -0.0001 + t.size * t.exitPrice * 0.001, 8);
        paidBack++;
      }
    }
    expect(paidBack).toBe(makers);
    expect(10_000 + rebate.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(rebate.finalCash, 6);
    expect(runBacktest(withOrder('market', 0), bars, { ...fees, makerFeeRate: 0 }).trades).toEqual(
      runBacktest(withOrder('market', 0), bars, fees).trades,
    );
  });

  it('a limit sell that turns a long round closes it at its level too, without slippage, as a maker', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    for (const id of ['buy', 'sell'])
      g.nodes.find((x) => x.id === id)!.data = { sizing: 'all', orderType: 'limit', offsetPct: 0.05 };
    const r = runBacktest(compileGraph(g).plan!, bars, {
      cash: 10_000,
      feeRate: 0.001,
      makerFeeRate: 0,
      slippageBps: 5,
      allowShort: true,
    });
    let turned = 0;
    for (let k = 0; k + 1 < r.trades.length; k++) {
      const t = r.trades[k]!;
      const next = r.trades[k + 1]!;
      // a long closed by the sell that opened the short after it, within the bar at its level
      if (!(t.size > 0 && next.entryBar === t.exitBar && next.size < 0)) continue;
      const level = bars.close[t.exitBar - 1]! * (1 + 0.0005);
      if (!(bars.open[t.exitBar]! < level)) continue;
      expect(t.exitPrice).toBe(level);
      expect(next.entryPrice).toBe(level);
      turned++;
    }
    expect(turned).toBeGreaterThan(10);
  });

  it('a target on the bar a limit buy filled in: at its level, not at the open the price fell from', () => {
    // always buying by a limit 2 % under the close: bar 1 opens at 100, falls to 97.5 (filled at 98) and
    // reaches 100.5: the 1 % target (98.98) exits at its level; the open (100) was before the position
    const g = alwaysBuying({ orderType: 'limit', offsetPct: 2 });
    g.nodes.push({ id: 'tp', type: 'risk.take_profit', data: { percent: 1 }, position: { x: 0, y: 0 } });
    const two = toColumns([
      { ts: 0, open: 100, high: 100, low: 100, close: 100, volume: 1 },
      { ts: DAY, open: 100, high: 100.5, low: 97.5, close: 99, volume: 1 },
    ]);
    const r = runBacktest(compileGraph(g).plan!, two, { cash: 9_800 });
    expect(r.trades[0]).toMatchObject({ entryPrice: 98, exitReason: 'take_profit', exitBar: 1 });
    expect(r.trades[0]!.exitPrice).toBeCloseTo(98.98, 9);
  });

  describe('excursions (MAE, MFE)', () => {
    // buy when the close is above 200, close the position when it is below 150 (sell: short when allowed)
    const g = (exit: 'action.close' | 'action.sell') =>
      compileGraph(
        graphOf(
          [
            ['c', 'price.close'],
            ['hi', 'constant', { value: 200 }],
            ['lo', 'constant', { value: 150 }],
            ['up', 'logic.greater'],
            ['down', 'logic.less'],
            ['buy', 'action.buy'],
            ['out', exit],
          ],
          [
            ['c', 'value', 'up', 'a'],
            ['hi', 'value', 'up', 'b'],
            ['c', 'value', 'down', 'a'],
            ['lo', 'value', 'down', 'b'],
            ['up', 'value', 'buy', 'trigger'],
            ['down', 'value', 'out', 'trigger'],
          ],
        ),
      ).plan!;
    // [open, high, low, close]: a buy signal on bar 1, the exit signal on bar 3; bar 4's range is
    // after a next-open exit and must not count
    const ohlc = [
      [100, 101, 99, 100],
      [150, 202, 149, 201],
      [200, 206, 190, 201],
      [201, 220, 180, 149],
      [210, 300, 100, 210],
    ];
    const bars5 = toColumns(
      ohlc.map(([open, high, low, close], i) => ({
        ts: i * DAY,
        open: open!,
        high: high!,
        low: low!,
        close: close!,
        volume: 1,
      })),
    );

    it('counts the bars the position was held through, entered and left at the next open', () => {
      const [t] = runBacktest(g('action.close'), bars5, { cash: 10_000 }).trades;
      expect(t).toMatchObject({ entryBar: 2, exitBar: 4, entryPrice: 200, exitPrice: 210 });
      expect(t!.mae).toBeCloseTo(180 / 200 - 1, 12); // bar 3's low; not bar 4's 100
      expect(t!.mfe).toBeCloseTo(220 / 200 - 1, 12); // bar 3's high; not bar 4's 300
      // runs read for their statistics alone (a walk-forward's in-sample windows) skip them
      const bare = runBacktest(g('action.close'), bars5, { cash: 10_000, excursions: false });
      expect(bare.trades[0]!.mae).toBeUndefined();
      expect({ ...bare.trades[0]!, mae: t!.mae, mfe: t!.mfe }).toEqual(t);
    });

    it('on the signal close: from the bar after the entry through the exit bar', () => {
      const [t] = runBacktest(g('action.close'), bars5, { cash: 10_000, fillOn: 'close' }).trades;
      expect(t).toMatchObject({ entryBar: 1, exitBar: 3, entryPrice: 201, exitPrice: 149 });
      expect(t!.mae).toBeCloseTo(149 / 201 - 1, 12); // the exit itself was the worst price
      expect(t!.mfe).toBeCloseTo(220 / 201 - 1, 12); // bar 1's 202 was before the entry
    });

    it('for a short, a rise is adverse', () => {
      const r = runBacktest(g('action.sell'), bars5, { cash: 10_000, allowShort: true });
      // bar 0 closes below 150: short at bar 1's open (150), covered at bar 2's open (200) by the buy
      const short = r.trades[0]!;
      expect(short).toMatchObject({ entryBar: 1, exitBar: 2, entryPrice: 150, exitPrice: 200 });
      expect(short.size).toBeLessThan(0);
      expect(short.mae).toBeCloseTo(1 - 202 / 150, 12); // bar 1's high
      expect(short.mfe).toBeCloseTo(1 - 149 / 150, 12); // bar 1's low
      // the last short, entered at the last bar's open and closed there at the end: nothing held
      expect(r.trades.at(-1)).toMatchObject({ entryBar: 4, exitBar: 4, mae: 0, mfe: 0 });
    });

    it("on GOOG: every trade's price move lies between its MAE and MFE, and a stop bounds the MAE", () => {
      const gs = structuredClone(templateById('sma-crossover')!.graph);
      gs.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 3 }, position: { x: 0, y: 0 } });
      const r = runBacktest(compileGraph(gs).plan!, bars, { cash: 10_000, allowShort: true });
      expect(r.trades.length).toBeGreaterThan(20);
      for (const t of r.trades) {
        const move = t.size > 0 ? t.exitPrice / t.entryPrice - 1 : 1 - t.exitPrice / t.entryPrice;
        expect(t.mae!).toBeLessThanOrEqual(Math.min(0, move) + 1e-12);
        expect(t.mfe!).toBeGreaterThanOrEqual(Math.max(0, move) - 1e-12);
        // the bars held: never beyond their range
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = t.entryBar; i < t.exitBar; i++) {
          lo = Math.min(lo, bars.low[i]!);
          hi = Math.max(hi, bars.high[i]!);
        }
        const worst =
          t.size > 0 ? Math.min(lo, t.exitPrice) / t.entryPrice - 1 : 1 - Math.max(hi, t.exitPrice) / t.entryPrice;
        expect(t.mae!).toBeCloseTo(Math.min(0, worst), 12);
        // a 3 % stop is checked on each bar's range: no position saw more than 3 % against it before
        // the bar it was stopped on, except by a gap at an open
        if (t.exitPrice > t.entryPrice * 0.97 && t.size > 0) expect(t.mae!).toBeGreaterThan(-0.03 - 1e-9);
      }
    });
  });

  describe('exit reasons', () => {
    /** the SMA crossover on these bars with risk nodes added */
    const withRisk = (...risk: [type: string, percent: number][]) => {
      const g = structuredClone(templateById('sma-crossover')!.graph);
      risk.forEach(([type, percent], k) =>
        g.nodes.push({ id: `r${k}`, type, data: { percent }, position: { x: 0, y: 0 } }),
      );
      return runBacktest(compileGraph(g).plan!, bars, { cash: 10_000, allowShort: true });
    };
    /** the lowest low and highest high of bars [from, to) */
    const range = (from: number, to: number) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = from; i < to; i++) {
        lo = Math.min(lo, bars.low[i]!);
        hi = Math.max(hi, bars.high[i]!);
      }
      return { lo, hi };
    };

    it('names the signal that closed a trade, or the stop loss, checked against the bars', () => {
      const r = withRisk(['risk.stop_loss', 0.5]);
      expect(new Set(r.trades.map((t) => t.exitReason))).toEqual(new Set(['buy', 'sell', 'stop_loss', 'end']));
      expect(r.trades.filter((t) => t.exitReason === 'stop_loss').length).toBeGreaterThan(100);
      for (const t of r.trades.slice(0, -1)) {
        const level = t.entryPrice * (t.size > 0 ? 0.995 : 1.005);
        // the bars held before the exit bar never reached the stop (it would have fired there)
        const { lo, hi } = range(t.entryBar, t.exitBar);
        expect(t.size > 0 ? lo > level : hi < level, `trade at ${t.entryBar}`).toBe(true);
        const reached = t.size > 0 ? bars.low[t.exitBar]! <= level : bars.high[t.exitBar]! >= level;
        if (t.exitReason === 'stop_loss') {
          // stopped: its exit bar reached the level, and it left at the level or a gap beyond it
          expect(reached).toBe(true);
          expect(t.size > 0 ? t.exitPrice <= level + 1e-9 : t.exitPrice >= level - 1e-9).toBe(true);
        } else if (t.exitReason === 'buy' || t.exitReason === 'sell')
          // a signal: the opposite action, filled at the exit bar's open
          expect([t.exitReason, t.exitPrice]).toEqual([t.size > 0 ? 'sell' : 'buy', bars.open[t.exitBar]]);
      }
    });

    it('a trailing stop, a take profit, the end of the data; the risk report groups the trades by them', () => {
      const r = withRisk(['risk.trailing_stop', 0.8], ['risk.take_profit', 1.5]);
      const by = (reason: string) => r.trades.filter((t) => t.exitReason === reason);
      expect(by('trailing_stop').length).toBeGreaterThan(50);
      expect(by('take_profit').length).toBeGreaterThan(20);
      // a target is a limit order: it leaves at its level or a gap beyond it
      for (const t of by('take_profit')) expect(t.returnPct).toBeGreaterThan(0.015 - 1e-9);
      // with a stop loss beside a trailing stop, the tighter one is named: a 0.6 % trailing stop starts
      // tighter than a 0.8 % stop loss and only climbs
      const both = withRisk(['risk.stop_loss', 0.8], ['risk.trailing_stop', 0.6]);
      expect(both.trades.filter((t) => t.exitReason === 'trailing_stop').length).toBeGreaterThan(100);
      expect(both.trades.some((t) => t.exitReason === 'stop_loss')).toBe(false);
      const open = withRisk().trades.at(-1)!;
      expect(open.exitReason).toBe('end');
      expect(open.exitBar).toBe(bars.length - 1);
      const exits = riskReport({
        equity: r.equity,
        time: bars.ts,
        close: bars.close,
        trades: r.trades,
        totalFees: r.totalFees,
      }).exits;
      expect(exits.reduce((n, e) => n + e.trades, 0)).toBe(r.trades.length);
      for (const e of exits) {
        const ts = by(e.reason);
        expect(e.trades).toBe(ts.length);
        expect(e.pnl).toBeCloseTo(
          ts.reduce((s, t) => s + t.pnl, 0),
          6,
        );
        expect(e.winRatePct).toBeCloseTo((ts.filter((t) => t.pnl > 0).length / ts.length) * 100, 9);
      }
      expect(exits.map((e) => e.trades)).toEqual([...exits.map((e) => e.trades)].sort((a, b) => b - a));
    });

    it('a trailing stop with an activation trails only once the best price gained that much on the entry', () => {
      const g = structuredClone(templateById('sma-crossover')!.graph);
      g.nodes.push({
        id: 'trail',
        type: 'risk.trailing_stop',
        data: { percent: 0.8, activatePct: 1 },
        position: { x: 0, y: 0 },
      });
      const r = runBacktest(compileGraph(g).plan!, bars, { cash: 10_000, allowShort: true });
      // the best price before the exit bar (the entry price, then the bars held through before it)
      const best = (t: (typeof r.trades)[number]) => {
        const { lo, hi } = range(t.entryBar, t.exitBar);
        return t.size > 0 ? Math.max(t.entryPrice, hi) : Math.min(t.entryPrice, lo);
      };
      const gained = (t: (typeof r.trades)[number]) =>
        t.size > 0 ? best(t) >= t.entryPrice * 1.01 : best(t) <= t.entryPrice * 0.99;
      const trailed = r.trades.filter((t) => t.exitReason === 'trailing_stop');
      expect(trailed.length).toBeGreaterThan(20);
      for (const t of trailed) {
        expect(gained(t), `trade at ${t.entryBar}`).toBe(true);
        // it left at 0.8 % from that best price, or a gap beyond
        const level = best(t) * (t.size > 0 ? 0.992 : 1.008);
        expect(t.size > 0 ? t.exitPrice <= level + 1e-9 : t.exitPrice >= level - 1e-9).toBe(true);
      }
      // without the activation, the same stop closes trades that never gained 1 %
      const always = withRisk(['risk.trailing_stop', 0.8]).trades.filter((t) => t.exitReason === 'trailing_stop');
      expect(always.filter((t) => !gained(t)).length).toBeGreaterThan(50);
    });

    it('names the action node that opened each trade: two buy nodes told apart by the bar before the entry', () => {
      // the crossover's buy, and a second buy node (`dip`) on an RSI(14) under 30
      const g = structuredClone(templateById('sma-crossover')!.graph);
      const at = { x: 0, y: 0 };
      g.nodes.push(
        { id: 'rsi', type: 'indicator.rsi', data: { period: 14 }, position: at },
        { id: 'thirty', type: 'constant', data: { value: 30 }, position: at },
        { id: 'oversold', type: 'logic.less', data: {}, position: at },
        { id: 'dip', type: 'action.buy', data: {}, position: at },
      );
      const edge = (source: string, target: string, targetHandle: string) => ({
        id: `${source}-${target}-${targetHandle}`,
        source,
        sourceHandle: 'value',
        target,
        targetHandle,
      });
      const close = g.nodes.find((n) => n.type === 'price.close')!.id;
      g.edges.push(
        edge(close, 'rsi', 'value'),
        edge('rsi', 'oversold', 'a'),
        edge('thirty', 'oversold', 'b'),
        edge('oversold', 'dip', 'trigger'),
      );
      const plan = compileGraph(g).plan!;
      const signals = new Int8Array(bars.length);
      const r = runBacktest(plan, bars, { cash: 10_000, allowShort: true, signalsBuffer: signals });
      const opened = (id: string) => r.trades.filter((t) => t.entryReason === id);
      expect(opened('dip').length).toBeGreaterThan(20);
      expect(opened('buy').length).toBeGreaterThan(20);
      expect(opened('sell').length).toBeGreaterThan(20);
      const index = (id: string) => plan.actions.findIndex((a) => a.nodeId === id);
      for (const t of r.trades) {
        // filled at the next open: the bar before the entry bar signalled that very node
        expect(signals[t.entryBar - 1], `trade at ${t.entryBar}`).toBe(index(t.entryReason!));
        expect(t.size > 0).toBe(t.entryReason !== 'sell');
      }
      const entries = riskReport({ equity: r.equity, time: bars.ts, close: bars.close, trades: r.trades }).entries;
      expect(Object.fromEntries(entries.map((e) => [e.reason, e.trades]))).toEqual({
        buy: opened('buy').length,
        sell: opened('sell').length,
        dip: opened('dip').length,
      });
    });
  });

  describe('time exits and cooldowns', () => {
    const MIN = 60_000;
    /** the SMA crossover on these bars (one-minute) with risk nodes added, shorts allowed */
    const run = (risk: [type: string, data: Record<string, number | string>][], o: { fillOn?: 'close' } = {}) => {
      const g = structuredClone(templateById('sma-crossover')!.graph);
      risk.forEach(([type, data], k) => g.nodes.push({ id: `r${k}`, type, data, position: { x: 0, y: 0 } }));
      return runBacktest(compileGraph(g).plan!, bars, {
        cash: 10_000,
        allowShort: true,
        slippageBps: 2,
        feeRate: 0.001,
        ...o,
      });
    };
    const held = (t: { entryBar: number; exitBar: number }) => bars.ts[t.exitBar]! - bars.ts[t.entryBar]!;
    const reconciles = (r: ReturnType<typeof run>) =>
      expect(Math.abs(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0) - r.finalCash)).toBeLessThan(0.005);

    it('a time exit leaves at the open of the first bar the holding time reaches, and no trade is held longer', () => {
      // without it, the crossover holds trades for longer than 45 minutes
      expect(run([]).trades.filter((t) => held(t) > 45 * MIN).length).toBeGreaterThan(50);
      const r = run([['risk.time_exit', { minutes: 45 }]]);
      const timed = r.trades.filter((t) => t.exitReason === 'time_exit');
      expect(timed.length).toBeGreaterThan(50);
      for (const t of r.trades.slice(0, -1)) expect(held(t)).toBeLessThanOrEqual(45 * MIN);
      for (const t of timed) {
        // the first bar 45 minutes after the entry bar: the bar before it was not
        expect(held(t)).toBe(45 * MIN);
        // at that open, with slippage against the position
        expect(t.exitPrice).toBeCloseTo(bars.open[t.exitBar]! * (t.size > 0 ? 1 - 2e-4 : 1 + 2e-4), 9);
      }
      reconciles(r);
      // it closes, nothing more: the strategy enters again on its next signal, not at once
      const after = r.trades.filter((t, k) => k > 0 && r.trades[k - 1]!.exitReason === 'time_exit');
      expect(after.length).toBeGreaterThan(10);
      expect(after.every((t) => t.entryBar > r.trades[r.trades.indexOf(t) - 1]!.exitBar)).toBe(true);
    });

    it('on the signal close, a time exit leaves at the close of the bar the holding time reaches', () => {
      const r = run([['risk.time_exit', { minutes: 30 }]], { fillOn: 'close' });
      const timed = r.trades.filter((t) => t.exitReason === 'time_exit');
      expect(timed.length).toBeGreaterThan(50);
      for (const t of timed) {
        expect(held(t)).toBe(30 * MIN);
        expect(t.exitPrice).toBeCloseTo(bars.close[t.exitBar]! * (t.size > 0 ? 1 - 2e-4 : 1 + 2e-4), 9);
      }
      for (const t of r.trades.slice(0, -1)) expect(held(t)).toBeLessThanOrEqual(30 * MIN);
      reconciles(r);
    });

    /** the time from each trade's exit bar to the next trade's entry bar */
    const gaps = (r: ReturnType<typeof run>) =>
      r.trades
        .slice(1)
        .map((t, k) => ({ before: r.trades[k]!, gap: bars.ts[t.entryBar]! - bars.ts[r.trades[k]!.exitBar]! }));

    it('a cooldown after any exit: no new position within its minutes of the last exit, flips only close', () => {
      // without it, the crossover flips: the next position opens on the bar the last one closed
      expect(gaps(run([])).filter((g) => g.gap < 20 * MIN).length).toBeGreaterThan(100);
      const r = run([['risk.cooldown', { minutes: 20, after: 'any' }]]);
      expect(r.trades.length).toBeGreaterThan(50);
      for (const g of gaps(r)) expect(g.gap).toBeGreaterThanOrEqual(20 * MIN);
      reconciles(r);
    });

    it('a cooldown after a stop, or after a loss, holds back only the entries after such an exit', () => {
      const stops = run([
        ['risk.stop_loss', { percent: 0.5 }],
        ['risk.cooldown', { minutes: 30, after: 'stop' }],
      ]);
      const g = gaps(stops);
      const afterStop = g.filter((x) => x.before.exitReason === 'stop_loss');
      expect(afterStop.length).toBeGreaterThan(20);
      for (const x of afterStop) expect(x.gap).toBeGreaterThanOrEqual(30 * MIN);
      // after a signal's exit, the flip is immediate
      expect(g.filter((x) => x.before.exitReason !== 'stop_loss' && x.gap === 0).length).toBeGreaterThan(20);
      reconciles(stops);

      const losses = run([['risk.cooldown', { minutes: 30, after: 'loss' }]]);
      const l = gaps(losses);
      const afterLoss = l.filter((x) => x.before.pnl < 0);
      expect(afterLoss.length).toBeGreaterThan(20);
      for (const x of afterLoss) expect(x.gap).toBeGreaterThanOrEqual(30 * MIN);
      expect(l.filter((x) => x.before.pnl >= 0 && x.gap === 0).length).toBeGreaterThan(5);
      reconciles(losses);
    });

    it('a cooldown after three losing trades in a row: held back after each third loss of a run, never sooner', () => {
      const r = run([['risk.cooldown', { minutes: 30, after: 'loss', count: 3 }]]);
      // the run of losses each exit ends, as the rule counts it: a win, or a cooldown started, restarts it
      let streak = 0;
      let cooled = 0;
      let free = 0;
      for (const { before, gap } of gaps(r)) {
        streak = before.pnl < 0 ? streak + 1 : 0;
        if (streak === 3) {
          expect(gap).toBeGreaterThanOrEqual(30 * MIN);
          cooled++;
          streak = 0;
        } else if (before.pnl < 0 && gap === 0) free++;
      }
      // both happened: cooldowns after a third loss, and flips straight after a first or second one
      expect(cooled).toBeGreaterThan(5);
      expect(free).toBeGreaterThan(10);
      reconciles(r);
      // a count of 1 is the cooldown after every loss
      const one = run([['risk.cooldown', { minutes: 30, after: 'loss', count: 1 }]]);
      expect(one.trades).toEqual(run([['risk.cooldown', { minutes: 30, after: 'loss' }]]).trades);
    });

    it('a cooldown after three losing trades within two hours: wins between them change nothing, older losses drop out', () => {
      const r = run([['risk.cooldown', { minutes: 30, after: 'loss', count: 3, withinMinutes: 120 }]]);
      // the losses counted, as the rule keeps them: those of the last two hours at each loss; a cooldown
      // started empties them
      let kept: number[] = [];
      let cooled = 0;
      let free = 0;
      let acrossWins = 0;
      for (const { before, gap } of gaps(r)) {
        if (before.pnl >= 0) continue;
        const at = bars.ts[before.exitBar]!;
        kept = [...kept.filter((t) => t > at - 120 * MIN), at];
        if (kept.length === 3) {
          expect(gap).toBeGreaterThanOrEqual(30 * MIN);
          cooled++;
          // a win came between the three: in a row, this would not have started one
          const first = r.trades.findIndex((t) => bars.ts[t.exitBar] === kept[0]);
          if (r.trades.slice(first, r.trades.indexOf(before)).some((t) => t.pnl >= 0)) acrossWins++;
          kept = [];
        } else if (gap === 0) free++;
      }
      expect(cooled).toBeGreaterThan(5);
      expect(acrossWins).toBeGreaterThan(0);
      expect(free).toBeGreaterThan(10);
      reconciles(r);
      // a window too short for three losses: none
      expect(run([['risk.cooldown', { minutes: 30, after: 'loss', count: 3, withinMinutes: 1 }]]).trades).toEqual(
        run([]).trades,
      );
    });
  });
});

describe("an exchange's lot size (qtyStep) and minimum order value (minNotional)", () => {
  const bars = toColumns(generateCandles(30_000, 17));
  const crossover = templateById('sma-crossover')!.graph;
  const plan = compileGraph(crossover).plan!;
  const base = { cash: 10_000, feeRate: 0.001, allowShort: true };

  it('trades in multiples of the step, the money reconciled; a step of 1 or 1e-8 is whole units or the default, bit for bit', () => {
    const r = runBacktest(plan, bars, { ...base, qtyStep: 0.05 });
    expect(r.trades.length).toBeGreaterThan(100);
    for (const t of r.trades) {
      const steps = Math.round(Math.abs(t.size) / 0.05);
      expect(Math.abs(t.size)).toBe(Number((steps * 0.05).toPrecision(12))); // 100.3, not 100.30000000000001
    }
    const pnl = r.trades.reduce((sum, t) => sum + t.pnl, 0);
    expect(r.stats.equityFinal).toBeCloseTo(10_000 + pnl, 6);
    // coarser than 1e-8: the sizes differ from the default's
    const plain = runBacktest(plan, bars, base);
    expect(r.trades.map((t) => t.size)).not.toEqual(plain.trades.map((t) => t.size));
    expect(runBacktest(plan, bars, { ...base, qtyStep: 1e-8 }).trades).toEqual(plain.trades);
    expect(runBacktest(plan, bars, { ...base, qtyStep: 1 }).trades).toEqual(
      runBacktest(plan, bars, { ...base, wholeUnits: true }).trades,
    );
  });

  it('makes no entry worth less than the minimum and counts the ones it did not make', () => {
    const g = structuredClone(crossover);
    for (const id of ['buy', 'sell']) g.nodes.find((x) => x.id === id)!.data = { sizing: 'pct_equity', amount: 10 };
    const tenth = compileGraph(g).plan!;
    const plain = runBacktest(tenth, bars, base);
    // a tenth of the equity is worth about 1,000: the minimum sits among the entries' values
    const values = plain.trades.map((t) => Math.abs(t.size) * t.entryPrice).sort((x, y) => x - y);
    const min = values[Math.floor(values.length / 2)]!;
    const r = runBacktest(tenth, bars, { ...base, minNotional: min });
    expect(r.trades.length).toBeGreaterThan(10);
    expect(r.trades.length).toBeLessThan(plain.trades.length);
    for (const t of r.trades) expect(Math.abs(t.size) * t.entryPrice).toBeGreaterThanOrEqual(min);
    expect(r.risk!.refused.MIN_NOTIONAL).toBeGreaterThan(10);
    expect(r.risk!.halts).toEqual([]);
    // without one: no such count
    expect(plain.risk).toBeUndefined();
  });
});

describe('leverage and liquidation (isolated margin)', () => {
  const bars = toColumns(generateCandles(30_000, 13));
  /** the SMA crossover, long and short, with risk nodes and entries of `margin` cash each (default: all of it) */
  const crossover = (risk: [type: string, data: Record<string, number>][] = [], margin?: number) => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    if (margin)
      for (const n of g.nodes)
        if (n.type === 'action.buy' || n.type === 'action.sell') n.data = { sizing: 'fixed_cash', amount: margin };
    risk.forEach(([type, data], k) => g.nodes.push({ id: `r${k}`, type, data, position: { x: 0, y: 0 } }));
    return compileGraph(g).plan!;
  };
  const opts = { cash: 10_000, allowShort: true, feeRate: 0.0005, slippageBps: 1 };
  /** the equity before each trade, from the trades' PnL */
  const before = (trades: { pnl: number }[]) =>
    trades.map((_, k) => 10_000 + trades.slice(0, k).reduce((s, t) => s + t.pnl, 0));
  /** no bar the position was held through (from its entry bar to the bar before its exit) reached `level` */
  const untouched = (t: TradeRecord, level: number) => {
    for (let i = t.entryBar + 1; i < t.exitBar; i++)
      if (t.size > 0 ? bars.low[i]! <= level : bars.high[i]! >= level) return false;
    return true;
  };

  it('the liquidation price is where margin plus unrealised PnL falls to the maintenance margin', () => {
    expect(liquidationPrice(1, 100, 10, 0.5)).toBeCloseTo(90 / 0.995, 12);
    expect(liquidationPrice(-1, 100, 10, 0.5)).toBeCloseTo(110 / 1.005, 12);
    expect(bankruptcyPrice(2, 100, 4)).toBe(75);
    expect(bankruptcyPrice(-2, 100, 4)).toBe(125);
    for (const [size, entry, lev, mm] of [
      [3, 250, 5, 0.5],
      [-0.7, 42_000, 20, 0.4],
      [12, 1.08, 50, 1],
    ] as const) {
      const p = liquidationPrice(size, entry, lev, mm);
      const margin = (Math.abs(size) * entry) / lev;
      expect(margin + size * (p - entry)).toBeCloseTo((mm / 100) * Math.abs(size) * p, 9);
    }
    // no leverage, or flat: nothing to liquidate
    expect(liquidationPrice(1, 100, 1)).toBeNaN();
    expect(liquidationPrice(0, 100, 10)).toBeNaN();
  });

  it('at 1x nothing changes: the same trades and equity as without the option, bit for bit', () => {
    const plan = crossover();
    const a = runBacktest(plan, bars, opts);
    const b = runBacktest(plan, bars, { ...opts, leverage: 1 });
    expect(b.trades).toEqual(a.trades);
    expect(Array.from(b.equity)).toEqual(Array.from(a.equity));
  });

  it('sizes are margins: all of the equity locked buys a position worth leverage times it', () => {
    const plan = crossover();
    const r = runBacktest(plan, bars, { ...opts, leverage: 3 });
    expect(r.trades.length).toBeGreaterThan(100);
    const eq = before(r.trades);
    r.trades.forEach((t, k) => {
      const value = Math.abs(t.size) * t.entryPrice;
      // margin (value / 3) and the entry fee on the whole value use all the equity, to the unit's rounding
      expect(value / 3 + value * 0.0005).toBeLessThanOrEqual(eq[k]! + 1e-6);
      expect(value / 3 + value * 0.0005).toBeGreaterThan(eq[k]! - t.entryPrice);
    });
    // money reconciles: starting balance + realised PnL (net of fees) = the cash at the end
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
    // three times the position, about three times each trade's PnL before fees
    const spot = runBacktest(plan, bars, opts);
    expect(spot.trades[0]!.entryBar).toBe(r.trades[0]!.entryBar);
    expect(r.trades[0]!.size / spot.trades[0]!.size).toBeCloseTo((3 * (1 + 0.0005)) / (1 + 3 * 0.0005), 6);
  });

  it('liquidates a position at its liquidation price in the bar that reaches it, and only then', () => {
    // at 100x the liquidation price is 0.5 % from the entry; 200 of margin a trade
    const lev = 100;
    const plan = crossover([], 200);
    const r = runBacktest(plan, bars, { ...opts, leverage: lev });
    const liquidated = r.trades.filter((t) => t.exitReason === 'liquidation');
    expect(liquidated.length).toBeGreaterThan(5);
    expect(liquidated.some((t) => t.size < 0) && liquidated.some((t) => t.size > 0)).toBe(true);
    for (const t of r.trades) {
      const level = liquidationPrice(t.size, t.entryPrice, lev, 0.5);
      // the bars it was held through never reached its liquidation price
      expect(untouched(t, level), `trade at bar ${t.entryBar}`).toBe(true);
      if (t.exitReason !== 'liquidation') continue;
      const i = t.exitBar;
      const long = t.size > 0;
      expect(long ? bars.low[i]! <= level : bars.high[i]! >= level).toBe(true);
      // at the level, or at the open when the bar opened through it, never worse than bankruptcy
      const gap = long ? bars.open[i]! < level : bars.open[i]! > level;
      const bust = bankruptcyPrice(t.size, t.entryPrice, lev);
      const expected = gap ? (long ? Math.max(bars.open[i]!, bust) : Math.min(bars.open[i]!, bust)) : level;
      expect(t.exitPrice).toBeCloseTo(expected, 9);
      // the trade loses its margin less the maintenance margin left (plus fees)
      const margin = (Math.abs(t.size) * t.entryPrice) / lev;
      if (!gap) expect(-(t.pnl + t.fees)).toBeCloseTo(margin - 0.005 * Math.abs(t.size) * level, 6);
    }
    // the equity is never below zero, and the money reconciles
    expect(Math.min(...r.equity)).toBeGreaterThanOrEqual(0);
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
    // without leverage the same strategy is never liquidated
    expect(runBacktest(plan, bars, opts).trades.some((t) => t.exitReason === 'liquidation')).toBe(false);
  });

  it('a stop loss nearer than the liquidation price fires first; one beyond it never does', () => {
    const lev = 100; // liquidation 0.5 % from the entry
    const near = runBacktest(crossover([['risk.stop_loss', { percent: 0.3 }]], 200), bars, { ...opts, leverage: lev });
    const stops = near.trades.filter((t) => t.exitReason === 'stop_loss');
    expect(stops.length).toBeGreaterThan(5);
    // only a bar that opens through both liquidates
    for (const t of near.trades.filter((x) => x.exitReason === 'liquidation')) {
      const level = liquidationPrice(t.size, t.entryPrice, lev, 0.5);
      expect(t.size > 0 ? bars.open[t.exitBar]! <= level : bars.open[t.exitBar]! >= level).toBe(true);
    }
    const far = runBacktest(crossover([['risk.stop_loss', { percent: 1 }]], 200), bars, { ...opts, leverage: lev });
    expect(far.trades.filter((t) => t.exitReason === 'liquidation').length).toBeGreaterThan(5);
    expect(far.trades.some((t) => t.exitReason === 'stop_loss')).toBe(false);
  });

  it('sizing by risk at leverage: the stop loses the share asked of a position worth more than the equity', () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((x) => x.id === 'buy')!.data = { sizing: 'risk_pct', amount: 5 };
    g.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 0.5 }, position: { x: 0, y: 0 } });
    const plan = compileGraph(g).plan!;
    // 5 % at risk over a 0.5 % stop: a position worth 1000 % of the equity
    expect(plan.actions.find((a) => a.nodeId === 'buy')).toMatchObject({ amount: 1000, perLeverage: true });
    const o = { cash: 10_000 };
    const spot = runBacktest(plan, bars, o);
    const eqSpot = before(spot.trades);
    // without leverage the margin is capped at all of the equity: a position worth it
    spot.trades.forEach((t, k) => expect((t.size * t.entryPrice) / eqSpot[k]!).toBeCloseTo(1, 6));
    const lev = runBacktest(plan, bars, { ...o, leverage: 20 });
    const eq = before(lev.trades);
    let stopped = 0;
    lev.trades.forEach((t, k) => {
      expect((t.size * t.entryPrice) / eq[k]!).toBeCloseTo(10, 6);
      if (t.exitReason === 'stop_loss' && Math.abs(t.exitPrice - t.entryPrice * 0.995) < 1e-9) {
        expect(t.pnl / eq[k]!).toBeCloseTo(-0.05, 9);
        stopped++;
      }
    });
    expect(stopped).toBeGreaterThan(0);
  });

  it("on real futures candles (XRP's USDT perpetual, 1 h): liquidations where the bars reach the price", () => {
    const xrp = toColumns(xrpFutureHours());
    const plan = crossover();
    const lev = 50;
    const r = runBacktest(plan, xrp, { cash: 1_000, allowShort: true, leverage: lev });
    expect(r.trades.length).toBeGreaterThan(0);
    for (const t of r.trades) {
      const level = liquidationPrice(t.size, t.entryPrice, lev, 0.5);
      let reached = -1;
      for (let i = t.entryBar; i <= t.exitBar && reached < 0; i++)
        if (t.size > 0 ? xrp.low[i]! <= level : xrp.high[i]! >= level) reached = i;
      // liquidated exactly when, and where, the bars first reach its price
      expect(t.exitReason === 'liquidation').toBe(reached >= 0);
      if (reached >= 0) expect(t.exitBar).toBe(reached);
    }
    expect(r.trades.some((t) => t.exitReason === 'liquidation')).toBe(true);
    expect(1_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 8);
  });

  it('funding: a position open across a funding time pays its rate on its value at the next open (a short receives it)', () => {
    // one-minute bars over about 21 days: 63 funding times
    const plan = crossover();
    const rate = 0.01;
    const r = runBacktest(plan, bars, { ...opts, leverage: 2, fundingRatePct: rate });
    const spot = runBacktest(plan, bars, { ...opts, leverage: 2 });
    // without a rate, trades carry no funding field and nothing changes
    expect(spot.trades.every((t) => !('funding' in t))).toBe(true);
    const EIGHT_H = 8 * 3_600_000;
    let paying = 0;
    for (const t of r.trades) {
      // by hand: every bar the position was held into that crossed a funding time
      let expected = 0;
      for (let i = t.entryBar + 1; i <= t.exitBar; i++) {
        const k = Math.floor(bars.ts[i]! / EIGHT_H) - Math.floor(bars.ts[i - 1]! / EIGHT_H);
        expected += (k * t.size * bars.open[i]! * rate) / 100;
      }
      expect(t.funding).toBeCloseTo(expected, 9);
      if (expected !== 0) paying++;
      // in its PnL
      expect(t.pnl).toBeCloseTo(t.size * (t.exitPrice - t.entryPrice) - t.fees - t.funding!, 6);
    }
    expect(paying).toBeGreaterThan(20);
    // longs pay a positive rate, shorts receive it
    expect(r.trades.filter((t) => t.size > 0 && t.funding).every((t) => t.funding! > 0)).toBe(true);
    expect(r.trades.filter((t) => t.size < 0 && t.funding).every((t) => t.funding! < 0)).toBe(true);
    // the money reconciles with funding in it
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
    // the same entries and exits as without funding (funding moves money, not signals): the total differs by it
    expect(r.trades.map((t) => [t.entryBar, t.exitBar])).toEqual(spot.trades.map((t) => [t.entryBar, t.exitBar]));
    const paid = r.trades.reduce((s, t) => s + t.funding!, 0);
    expect(paid).not.toBe(0);
  });

  it("a short's borrow rate: shorts pay a 1095th of it a funding time on their value, longs nothing, beside funding", () => {
    const plan = crossover();
    const rate = 0.01;
    const borrow = 10.95; // % a year: 0.01 % of the value at each funding time
    const r = runBacktest(plan, bars, { ...opts, fundingRatePct: rate, borrowRatePct: borrow });
    const funded = runBacktest(plan, bars, { ...opts, fundingRatePct: rate });
    expect(r.trades.map((t) => [t.entryBar, t.exitBar])).toEqual(funded.trades.map((t) => [t.entryBar, t.exitBar]));
    const EIGHT_H = 8 * 3_600_000;
    let shorts = 0;
    r.trades.forEach((t, k) => {
      let borrowed = 0;
      for (let i = t.entryBar + 1; i <= t.exitBar; i++) {
        const times = Math.floor(bars.ts[i]! / EIGHT_H) - Math.floor(bars.ts[i - 1]! / EIGHT_H);
        borrowed += (times * Math.abs(t.size) * bars.open[i]! * borrow) / 1095 / 100;
      }
      // a long pays the funding alone; a short receives it and pays its borrow rate (sizes alike: spot)
      const f = funded.trades[k]!;
      if (t.size > 0) expect(t.funding).toBeCloseTo(f.funding! * (t.size / f.size), 9);
      else {
        expect(t.funding).toBeCloseTo(f.funding! * (t.size / f.size) + borrowed, 9);
        if (borrowed > 0) shorts++;
      }
    });
    expect(shorts).toBeGreaterThan(10);
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
    // alone, without a funding rate: only shorts pay, and they pay what a negative funding rate would take
    const alone = runBacktest(plan, bars, { ...opts, borrowRatePct: borrow });
    expect(alone.trades.filter((t) => t.size > 0).every((t) => t.funding === 0)).toBe(true);
    expect(alone.trades.filter((t) => t.size < 0 && t.funding! > 0).length).toBe(shorts);
  });
});

describe('adding to positions (maxEntries) and partial exits (close percent)', () => {
  /**
   * Buy 10 units while the close is below 95 (up to `maxEntries` entries), close `trim` % while it is from
   * 110 to 120, close the rest above 125; whole units, orders at the next open.
   */
  const dipPlan = (buy: Record<string, unknown>, trimPct = 50) =>
    compileGraph(ladderGraph({ dipBelow: 95, band: [110, 120], exitAbove: 125, buy, trimPct })).plan!;
  const ladder = (maxEntries = 3, trim = 50) => dipPlan({ sizing: 'fixed_qty', amount: 10, maxEntries }, trim);
  // each bar opens and closes at one price
  const prices = [100, 94, 92, 90, 88, 100, 112, 115, 126, 93, 96, 97];
  const bars = toColumns(
    prices.map((p, i) => ({ ts: Date.UTC(2024, 0, 1) + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
  );
  const fee = 0.001;

  it('adds at each signal up to maxEntries, then closes half, half of the rest (whole units), and the rest: by hand', () => {
    const r = runBacktest(ladder(), bars, { cash: 10_000, feeRate: fee, wholeUnits: true });
    // closes below 95 at bars 1-4 buy at the next opens (92, 90, 88; a fourth entry is not allowed), so
    // 30 units at 90 on average; 112 at bar 6 closes 15 at 115, 115 at bar 7 closes 7 (half of 15,
    // rounded down) at 126, 126 at bar 8 closes the 8 left at 93; 93 at bar 9 opens a new position at 96,
    // closed at the end (the last bar's open, 97)
    const entryFees = fee * 10 * (92 + 90 + 88);
    const f1 = entryFees * (15 / 30);
    const f2 = (entryFees - f1) * (7 / 15);
    const f3 = entryFees - f1 - f2;
    const expected = [
      { size: 15, entryBar: 2, exitBar: 7, entryPrice: 90, exitPrice: 115, fees: f1 + fee * 15 * 115, entries: 3 },
      { size: 7, entryBar: 2, exitBar: 8, entryPrice: 90, exitPrice: 126, fees: f2 + fee * 7 * 126, entries: 3 },
      { size: 8, entryBar: 2, exitBar: 9, entryPrice: 90, exitPrice: 93, fees: f3 + fee * 8 * 93, entries: 3 },
      { size: 10, entryBar: 10, exitBar: 11, entryPrice: 96, exitPrice: 97, fees: fee * 10 * (96 + 97) },
    ];
    expect(r.trades).toHaveLength(expected.length);
    r.trades.forEach((t, i) => {
      const e = expected[i]!;
      expect([t.size, t.entryBar, t.exitBar, t.entryPrice, t.exitPrice, t.entries]).toEqual([
        e.size,
        e.entryBar,
        e.exitBar,
        e.entryPrice,
        e.exitPrice,
        e.entries,
      ]);
      expect(t.fees).toBeCloseTo(e.fees, 10);
      expect(t.pnl).toBeCloseTo(e.size * (e.exitPrice - e.entryPrice) - e.fees, 9);
    });
    expect(r.trades.map((t) => t.exitReason)).toEqual(['trim', 'trim', 'out', 'end']);
    // the money reconciles, and every fee is in a trade
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 9);
    expect(r.trades.reduce((s, t) => s + t.fees, 0)).toBeCloseTo(r.totalFees, 10);
    // the equity holds the position at each close: 30 units at bar 5's close of 100
    expect(r.equity[5]).toBeCloseTo(10_000 - 10 * (92 + 90 + 88) - entryFees + 30 * 100, 9);
  });

  it('the position left after a partial exit is an exact multiple of the lot, without float residue', () => {
    const plan = dipPlan({ sizing: 'fixed_qty', amount: 3.328, maxEntries: 1 }, 33.3);
    const r = runBacktest(plan, bars, { cash: 10_000, feeRate: fee, qtyStep: 0.001 });
    // 33.3 % of 3.328 is 1.108 (1.108224 rounded down), of the 2.22 left 0.739, then the 1.481 left; 3.328
    // - 1.108 in doubles is 2.2199999999999998, which the exits would carry on
    expect(r.trades.map((t) => t.size)).toEqual([1.108, 0.739, 1.481, 3.328]);
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 9);
  });

  it('addStepPct: adds only at opens that far under the average entry', () => {
    const steps = [100, 94, 92, 90, 88, 85, 100];
    const b = toColumns(
      steps.map((p, i) => ({ ts: Date.UTC(2024, 0, 1) + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
    );
    const run = (addStepPct: number, addStepScale = 1) =>
      runBacktest(dipPlan({ sizing: 'fixed_qty', amount: 10, maxEntries: 3, addStepPct, addStepScale }), b, {
        cash: 10_000,
      }).trades;
    // closes under 95 at bars 1-5 buy at the next opens: 92; 90 is not 3 % under 92 (89.24), 88 is (the
    // average is then 90); 85 is 3 % under 90 (87.3), the third entry; at 100 the data ends
    const [t] = run(3);
    expect([t!.size, t!.entries, t!.entryBar, t!.exitPrice]).toEqual([30, 3, 2, 100]);
    expect(t!.entryPrice).toBeCloseTo((92 + 88 + 85) / 3, 12);
    // without a step: the first three opens
    expect(run(0)[0]!.entryPrice).toBeCloseTo((92 + 90 + 88) / 3, 12);
    // addStepScale 2: the second addition needs 6 % under the average of 90 (84.6): 85 is not, so two entries
    const [two] = run(3, 2);
    expect([two!.size, two!.entries, two!.entryPrice]).toEqual([20, 2, 90]);
  });

  it('addScale: each addition that many times the entry before it, by hand (10, 15, 22 whole units)', () => {
    const run = (addScale: number, sizing = 'fixed_qty', amount = 10) =>
      runBacktest(dipPlan({ sizing, amount, maxEntries: 3, addScale }, 100), bars, { cash: 10_000, wholeUnits: true })
        .trades;
    // the three entries at 92, 90 and 88: 10, 15 and 22 (22.5 rounded down) units, closed at 115
    const [t] = run(1.5);
    expect([t!.size, t!.entries, t!.exitPrice]).toEqual([47, 3, 115]);
    expect(t!.entryPrice).toBeCloseTo((10 * 92 + 15 * 90 + 22 * 88) / 47, 12);
    // a scale of 1 is the plain addition; a cash amount scales too (1,000, 2,000, 4,000 of cash)
    expect(run(1)[0]!.size).toBe(30);
    const [c] = run(2, 'fixed_cash', 1_000);
    expect(c!.size).toBe(Math.floor(1_000 / 92) + Math.floor(2_000 / 90) + Math.floor(4_000 / 88));
  });

  it('a partial take profit (sharePct) closes its share at the target once a position; the rest runs', () => {
    const path = [100, 94, 95, 100, 103, 106, 104, 108, 92, 97, 101, 90];
    const b = toColumns(
      path.map((p, i) => ({ ts: Date.UTC(2024, 0, 1) + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
    );
    const g = ladderGraph({
      dipBelow: 95,
      band: [200, 300],
      exitAbove: 107,
      buy: { sizing: 'fixed_qty', amount: 10 },
      trimPct: 50,
    });
    g.nodes.push({ id: 'tp', type: 'risk.take_profit', data: { percent: 5, sharePct: 40 }, position: { x: 0, y: 0 } });
    const r = runBacktest(compileGraph(g).plan!, b, { cash: 10_000, wholeUnits: true });
    // 94 at bar 1 buys 10 at bar 2's open, 95: the target is 99.75. Bar 3 opens at 100, beyond it: 4 units
    // (40 %) leave at that open; 103 and 106 are beyond it too, but it fires once. 108 at bar 7 closes the
    // other 6 at 92 (bar 8's open). 92 buys again at 97, a new position with its own target, 101.85: bar
    // 10 does not reach it; the data ends at 90.
    expect(r.trades.map((t) => [t.size, t.entryPrice, t.exitBar, t.exitPrice, t.exitReason])).toEqual([
      [4, 95, 3, 100, 'take_profit'],
      [6, 95, 8, 92, 'out'],
      [10, 97, 11, 90, 'end'],
    ]);
    // with the whole position at the target (the default), the first exit takes all ten
    g.nodes.find((n) => n.id === 'tp')!.data = { percent: 5 };
    const whole = runBacktest(compileGraph(g).plan!, b, { cash: 10_000, wholeUnits: true });
    expect(whole.trades[0]).toMatchObject({ size: 10, exitBar: 3, exitReason: 'take_profit' });
  });

  it('with one entry and a whole close it trades as the actions did before either option, bit for bit', () => {
    const r = runBacktest(ladder(1, 100), bars, { cash: 10_000, feeRate: fee, wholeUnits: true });
    expect(r.trades.map((t) => [t.size, t.entryBar, t.exitBar, t.entryPrice, t.exitPrice])).toEqual([
      [10, 2, 7, 92, 115],
      [10, 10, 11, 96, 97],
    ]);
    expect(r.trades.every((t) => !('entries' in t))).toBe(true);
    // the SMA crossover with the options at their defaults written out: the same result as without them
    const g = templateById('sma-crossover')!.graph;
    const explicit = {
      ...g,
      nodes: g.nodes.map((n) =>
        n.type === 'action.close'
          ? { ...n, data: { ...n.data, percent: 100 } }
          : n.type.startsWith('action.')
            ? { ...n, data: { ...n.data, maxEntries: 1 } }
            : n,
      ),
    };
    const o = { cash: 10_000, allowShort: true, wholeUnits: true, feeRate: 0.002 };
    const a = runBacktest(compileGraph(g).plan!, googBars(), o);
    const b = runBacktest(compileGraph(explicit).plan!, googBars(), o);
    expect(b.trades).toEqual(a.trades);
    expect(b.equity).toEqual(a.equity);
  });

  it('on real daily candles (GOOG): dips added to and profits taken in parts, money reconciled to the cent', () => {
    // RSI(14) below 40 buys 20 % of the equity, up to four entries; above 60 closes a third; above 75 all
    const plan = compileGraph(
      ladderGraph({
        indicator: ['indicator.rsi', { period: 14 }],
        dipBelow: 40,
        band: [60, 75],
        exitAbove: 75,
        buy: { sizing: 'pct_equity', amount: 20, maxEntries: 4 },
        trimPct: 33,
      }),
    ).plan!;
    const goog = googBars();
    const signals = new Int8Array(goog.length);
    const r = runBacktest(plan, goog, { cash: 10_000, feeRate: 0.001, slippageBps: 5, signalsBuffer: signals });
    const dip = plan.actions.findIndex((a) => a.nodeId === 'dip');
    const trim = plan.actions.findIndex((a) => a.nodeId === 'trim');
    // the trades of one position share its entry bar; its parts are trades in turn
    const positions = new Map<number, TradeRecord[]>();
    for (const t of r.trades) positions.set(t.entryBar, [...(positions.get(t.entryBar) ?? []), t]);
    expect([...positions.values()].filter((p) => p.length > 1).length).toBeGreaterThan(5);
    expect(r.trades.filter((t) => (t.entries ?? 1) > 1).length).toBeGreaterThan(5);
    for (const [entryBar, parts] of positions) {
      // every entry of a position is a dip signal's order, the first one's the bar before it
      expect(signals[entryBar - 1]).toBe(dip);
      const last = parts[parts.length - 1]!;
      // dips while it was open, before its last exit's order, each filled (while the cash lasted)
      let dips = 1;
      for (let i = entryBar; i < last.exitBar - 1; i++) if (signals[i] === dip && dips < 4) dips++;
      expect(last.entries ?? 1).toBeLessThanOrEqual(dips);
      expect(last.entries ?? 1).toBeLessThanOrEqual(4);
      // every part but the last is a trim: about a third (rounded down to 1e-8) of what was open then
      for (let k = 0; k < parts.length - 1; k++) {
        expect(parts[k]!.exitReason).toBe('trim');
        expect(signals[parts[k]!.exitBar - 1]).toBe(trim);
      }
    }
    expect(r.trades.every((t) => t.size > 0)).toBe(true);
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
    expect(r.trades.reduce((s, t) => s + t.fees, 0)).toBeCloseTo(r.totalFees, 8);
    expect(r.equity[r.equity.length - 1]).toBeCloseTo(r.finalCash, 6);
  });

  it("the template 'rsi-scale-in' on GOOG daily: dips added to, half taken at 60, stops from the average entry", () => {
    const plan = compileGraph(templateById('rsi-scale-in')!.graph).plan!;
    const goog = googBars();
    const r = runBacktest(plan, goog, { cash: 10_000, feeRate: 0.001, wholeUnits: true });
    expect(r.trades.some((t) => (t.entries ?? 1) > 1)).toBe(true);
    expect(r.trades.every((t) => (t.entries ?? 1) <= 4)).toBe(true);
    const halves = r.trades.filter((t) => t.exitReason === 'take-half');
    expect(halves.length).toBeGreaterThan(3);
    const stopped = r.trades.filter((x) => x.exitReason === 'stop_loss');
    expect(stopped.some((t) => (t.entries ?? 1) > 1)).toBe(true);
    for (const t of stopped) {
      // 10 % under the position's average entry, or the open that gapped through it
      const stop = t.entryPrice * 0.9;
      expect(t.exitPrice).toBeCloseTo(Math.min(goog.open[t.exitBar]!, stop), 9);
      expect(goog.low[t.exitBar]!).toBeLessThanOrEqual(stop);
    }
    expect(10_000 + r.trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(r.finalCash, 6);
  });

  it('a short added to the margin left, and a leveraged long whose liquidation price follows its average entry', () => {
    const down = [100, 110, 112, 115, 118, 100, 88, 85, 70, 70];
    const short = compileGraph(
      graphOf(
        [
          ['c', 'price.close'],
          ['k105', 'constant', { value: 105 }],
          ['k90', 'constant', { value: 90 }],
          ['rise', 'logic.greater'],
          ['fall', 'logic.less'],
          ['sell', 'action.sell', { sizing: 'pct_equity', amount: 40, maxEntries: 3 }],
          ['out', 'action.close'],
        ],
        [
          ['c', 'value', 'rise', 'a'],
          ['k105', 'value', 'rise', 'b'],
          ['c', 'value', 'fall', 'a'],
          ['k90', 'value', 'fall', 'b'],
          ['rise', 'value', 'sell', 'trigger'],
          ['fall', 'value', 'out', 'trigger'],
        ],
      ),
    ).plan!;
    const b = toColumns(
      down.map((p, i) => ({ ts: Date.UTC(2024, 0, 1) + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
    );
    const r = runBacktest(short, b, { cash: 10_000, allowShort: true });
    // closes above 105 sell at the next opens: 40 % of the equity at 112, 115 and 118 (a fourth entry is
    // not allowed), each at most the margin left (a short without leverage locks its value); 88 closes it at 85
    const units = (x: number) => Math.floor(x * 1e8 * (1 - 1e-12)) / 1e8;
    let cash = 10_000;
    let qty = 0;
    let avg = 0;
    for (const p of [112, 115, 118]) {
      const equity = cash - qty * p;
      const avail = cash - 2 * qty * avg;
      const u = units(Math.min((equity * 0.4) / p, avail / p));
      avg = (qty * avg + u * p) / (qty + u);
      qty += u;
      cash += u * p;
    }
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    expect(t.size).toBeCloseTo(-qty, 8);
    expect(t.entries).toBe(3);
    expect([t.entryBar, t.exitBar, t.exitPrice]).toEqual([2, 7, 85]);
    expect(t.entryPrice).toBeCloseTo(avg, 9);
    // the third entry was held back by the margin left, not by 40 % of the equity
    expect(qty * avg).toBeCloseTo(10_000, 4);
    expect(r.finalCash).toBeCloseTo(10_000 + qty * (avg - 85), 6);

    // a long at 10x adding at lower prices: liquidated where the average entry says, not the first one
    const dips = [100, 96, 94, 93, 92, 91, 90, 89, 85, 80];
    const long = compileGraph(
      graphOf(
        [
          ['c', 'price.close'],
          ['k99', 'constant', { value: 99 }],
          ['low', 'logic.less'],
          ['buy', 'action.buy', { sizing: 'pct_equity', amount: 20, maxEntries: 3 }],
        ],
        [
          ['c', 'value', 'low', 'a'],
          ['k99', 'value', 'low', 'b'],
          ['low', 'value', 'buy', 'trigger'],
        ],
      ),
    ).plan!;
    const lb = toColumns(
      dips.map((p, i) => ({ ts: Date.UTC(2024, 0, 1) + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
    );
    const lr = runBacktest(long, lb, { cash: 10_000, leverage: 10 });
    const lt = lr.trades[0]!;
    expect(lt.entries).toBe(3);
    expect(lt.entryBar).toBe(2);
    const lavg = lt.entryPrice;
    // entered at 94, 93 and 92: the average is under 94, so the liquidation price too
    expect(lavg).toBeLessThan(94);
    expect(lavg).toBeGreaterThan(92);
    const liq = liquidationPrice(1, lavg, 10);
    expect(liq).toBeLessThan(liquidationPrice(1, 94, 10));
    expect(lt.exitReason).toBe('liquidation');
    // the first bar at or below it
    const first = dips.findIndex((p, i) => i > 4 && p <= liq);
    expect(lt.exitBar).toBe(first);
    expect(lt.exitPrice).toBeCloseTo(Math.max(dips[first]!, bankruptcyPrice(1, lavg, 10)), 9);
  });
});
