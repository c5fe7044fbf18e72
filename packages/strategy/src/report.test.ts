import { describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { haltSpans, limitsTable, renderReport } from './report.ts';
import { templateById } from './templates.ts';
import { viewBars } from './walk-forward.ts';
import { googBars } from '../../../test/helpers/goog.ts';

// A report's charts shade the times a run's risk limits stopped or paused trading, from what the engine's
// run with them did on GOOG's daily bars.
const all = googBars();
// the first 400 bars: wide enough (2.6 units a bar) for a one-bar band to be measured
const bars = viewBars(all, 0, 400);
const DAY = 86_400_000;
const plan = compileGraph(structuredClone(templateById('rsi-mean-reversion')!.graph)).plan!;
const opts = { cash: 10_000, feeRate: 0.001, slippageBps: 5 };
/** the report's bands: each rect's x, width and title, in the order drawn */
const bandsOf = (html: string) =>
  [
    ...html.matchAll(
      /<rect x="([\d.]+)" y="0" width="([\d.]+)" height="\d+" [^>]*class="halt"><title>([^<]*)<\/title>/g,
    ),
  ].map((m) => ({ x: Number(m[1]), w: Number(m[2]), label: m[3]! }));
const report = (res: ReturnType<typeof runBacktest>, risk: object) =>
  renderReport({
    title: 'GOOG',
    time: bars.ts,
    open: bars.open,
    high: bars.high,
    low: bars.low,
    close: bars.close,
    equity: res.equity,
    trades: res.trades,
    stats: res.stats,
    tables: [limitsTable(risk, res.risk!)],
    halted: haltSpans(risk, res.risk!.halts),
  });
// the charts' x of bar i (1,100 wide, 50 to the left, 10 to the right)
const xOf = (i: number) => 50 + (1040 * i) / (bars.ts.length - 1);

describe("a report's halts (haltSpans, renderReport's halted)", () => {
  it('shades each day a daily loss paused trading, from its bar to the next UTC day’s, on the three charts', () => {
    const risk = { maxDailyLossPct: 2, resumeNextDay: true };
    const res = runBacktest(plan, bars, { ...opts, risk });
    const halts = res.risk!.halts;
    expect(halts.length).toBe(2);
    const spans = haltSpans(risk, halts);
    spans.forEach((s, k) => {
      expect(s.from).toBe(halts[k]!.time);
      // a pause ends when the next UTC day begins
      expect(s.until).toBe((Math.floor(halts[k]!.time / DAY) + 1) * DAY);
      expect(s.label).toMatch(/^paused for the day: daily loss \(\d{4}-\d\d-\d\d \d\d:\d\d\)$/);
    });
    const bands = bandsOf(report(res, risk));
    // price, equity and drawdown: each has every band
    expect(bands).toHaveLength(3 * halts.length);
    for (let c = 0; c < 3; c++)
      halts.forEach((h, k) => {
        const b = bands[c * halts.length + k]!;
        expect(b.x).toBeCloseTo(xOf(h.bar), 1);
        // to the first bar of a later day: on daily bars the next one (a Friday's: the Monday), one bar wide
        const next = bars.ts.findIndex((t) => t >= spans[k]!.until);
        expect(next).toBe(h.bar + 1);
        expect(b.w).toBeCloseTo(xOf(next) - xOf(h.bar), 1);
        expect(b.w).toBeGreaterThan(2);
        expect(b.label).toBe(spans[k]!.label);
      });
  });

  it('shades a drawdown stop to the end, and a daily loss without resumeNextDay too', () => {
    for (const risk of [{ maxDrawdownPct: 15 }, { maxDailyLossPct: 2 }]) {
      const res = runBacktest(plan, bars, { ...opts, risk });
      const [h, ...more] = res.risk!.halts;
      expect(h).toBeDefined();
      expect(more).toEqual([]);
      expect(haltSpans(risk, [h!])[0]!.until).toBe(Infinity);
      const bands = bandsOf(report(res, risk));
      expect(bands).toHaveLength(3);
      for (const b of bands) {
        expect(b.x).toBeCloseTo(xOf(h!.bar), 1);
        expect(b.x + b.w).toBeCloseTo(xOf(bars.ts.length - 1), 1);
        expect(b.label).toMatch(risk.maxDrawdownPct ? /^trading stopped: drawdown/ : /^trading ended: daily loss/);
      }
    }
  });

  it('dashes a drawdown stop’s level on the drawdown chart, on its scale', () => {
    const risk = { maxDrawdownPct: 15 };
    const res = runBacktest(plan, bars, { ...opts, risk });
    const html = renderReport({
      title: 'GOOG',
      time: bars.ts,
      ...bars,
      equity: res.equity,
      trades: res.trades,
      stats: res.stats,
      drawdownStopPct: 15,
    });
    const m =
      /<line x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="([\d.]+)"[^>]*class="stop"><title>stop at -15%<\/title>/.exec(
        html,
      );
    expect(m).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([xOf(0), xOf(bars.ts.length - 1)]);
    // the drawdown chart's scale (140 high, 8 of padding): from 0 down to the deepest of the closes'
    // drawdown and the stop (here the stop: it was hit within a bar, at a low the closes never reached)
    let peak = -Infinity;
    let deepest = 0;
    for (const e of res.equity) deepest = Math.min(deepest, -(1 - e / (peak = Math.max(peak, e))) * 100);
    expect(res.risk!.halts).toHaveLength(1);
    const lo = Math.min(-15, deepest);
    expect(lo).toBe(-15);
    expect(Number(m![3])).toBeCloseTo(8 + 124 * (1 - (-15 - lo) / -lo), 1);
    expect(m![4]).toBe(m![3]);
    // none without a stop
    expect(report(res, risk)).not.toContain('class="stop"');
  });

  it('draws no band without halts, and ISO times (as stored) give the same spans as the engine’s', () => {
    const risk = { maxDailyLossPct: 2, resumeNextDay: true };
    const res = runBacktest(plan, bars, { ...opts, risk });
    const iso = res.risk!.halts.map((h) => ({ ...h, time: new Date(h.time).toISOString() }));
    expect(haltSpans(risk, iso)).toEqual(haltSpans(risk, res.risk!.halts));
    const free = runBacktest(plan, bars, opts);
    const html = renderReport({
      title: 'GOOG',
      time: bars.ts,
      ...bars,
      equity: free.equity,
      trades: free.trades,
      stats: free.stats,
    });
    expect(bandsOf(html)).toEqual([]);
  });
});
