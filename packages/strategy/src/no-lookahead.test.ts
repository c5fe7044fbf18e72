import { describe, expect, it } from 'vitest';
import { runBacktest, type BacktestOptions, type BacktestResult } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { templates } from './templates.ts';
import { viewBars } from './walk-forward.ts';
import { toColumns } from './sample-data.ts';
import { googBars } from '../../../test/helpers/goog.ts';
import { aggregated, freqtradeMinutes } from '../../../test/helpers/freqtrade.ts';
import { tightCrossover } from '../../../test/helpers/graphs.ts';

// The engine never looks ahead: a backtest over GOOG's daily bars cut after bar c has, through bar c,
// the equity and the closed trades of the backtest over all of them. For every template (stops, ROI
// tables, ATR stops, additions, position-aware exits) with each set of options (shorts, fills on the
// close, fees and slippage, a paper session's risk limits, leverage with funding). The strategy check
// (check.test.ts) covers the graph's values; this covers what the engine does with them.
const bars = googBars();
const OPTIONS: [string, BacktestOptions][] = [
  ['long only, fees and slippage', { cash: 10_000, feeRate: 0.001, slippageBps: 5 }],
  ['shorts, fills on the close', { cash: 10_000, feeRate: 0.001, allowShort: true, fillOn: 'close' }],
  [
    'risk limits',
    {
      cash: 10_000,
      feeRate: 0.001,
      allowShort: true,
      risk: { maxDrawdownPct: 25, maxDailyLossPct: 3, resumeNextDay: true, maxPositionPct: 80 },
    },
  ],
  ['leverage with funding', { cash: 10_000, feeRate: 0.0005, allowShort: true, leverage: 5, fundingRatePct: 0.01 }],
];
/** the trades closed by bar c (a position still open then is the cut run's to close at its end) */
const closedBy = (r: BacktestResult, c: number) =>
  r.trades.filter((t) => t.exitBar <= c && t.exitReason !== 'end').map((t) => ({ ...t }));

describe('the backtest engine never looks ahead', () => {
  it.each(OPTIONS)('%s: every template, cut after 25 bars spread over the series', (_name, options) => {
    const opts = { ...options, closeAtEnd: false };
    for (const t of templates) {
      const plan = compileGraph(t.graph).plan!;
      const full = runBacktest(plan, bars, opts);
      for (let k = 1; k <= 25; k++) {
        const c = Math.round((k * (bars.length - 2)) / 25);
        const cut = runBacktest(plan, viewBars(bars, 0, c + 1), opts);
        const at = `${t.id}, cut after bar ${c}`;
        expect(Array.from(cut.equity), at).toEqual(Array.from(full.equity.subarray(0, c + 1)));
        expect(closedBy(cut, c), at).toEqual(closedBy(full, c));
      }
      expect(full.trades.length, t.id).toBeGreaterThan(0);
    }
  });

  it('with a detail timeframe: 5-minute bars whose stops and targets are checked on their minutes', () => {
    const minutes = freqtradeMinutes();
    const FIVE = 5 * 60_000;
    const fives = toColumns(aggregated(minutes, FIVE));
    const detail = toColumns(minutes);
    const plan = compileGraph(tightCrossover(0.3, 0.3)).plan!;
    const opts = { cash: 10_000, allowShort: true, slippageBps: 2, closeAtEnd: false };
    const full = runBacktest(plan, fives, { ...opts, detail });
    expect(
      full.trades.filter((t) => t.exitReason === 'stop_loss' || t.exitReason === 'take_profit').length,
    ).toBeGreaterThan(10);
    for (let k = 1; k <= 25; k++) {
      const c = Math.round((k * (fives.length - 2)) / 25);
      // the minutes up to the cut bar's end
      let m = 0;
      while (m < detail.length && detail.ts[m]! < fives.ts[c]! + FIVE) m++;
      const cut = runBacktest(plan, viewBars(fives, 0, c + 1), { ...opts, detail: viewBars(detail, 0, m) });
      expect(Array.from(cut.equity), `cut after bar ${c}`).toEqual(Array.from(full.equity.subarray(0, c + 1)));
      expect(closedBy(cut, c), `cut after bar ${c}`).toEqual(closedBy(full, c));
    }
  });
});
