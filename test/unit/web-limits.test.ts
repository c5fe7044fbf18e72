// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import {
  compileGraph,
  gridVariants,
  inlineRunner,
  limitsCell,
  runBacktest,
  templateById,
  viewBars,
  walkForward,
} from '@algotrade/strategy';
import { when } from '../../web/dom.js';
import { haltSpans } from '../../web/limits.js';
import { equityCharts, haltsCell, limitsSummary, walkForwardSummary } from '../../web/runs.js';
import { googBars } from '../helpers/goog.ts';

// what a backtest page says of its risk limits, from what the engine's run with them did
describe("a backtest page's risk limits (web/runs.js limitsSummary)", () => {
  const plan = compileGraph(templateById('sma-crossover')!.graph).plan!;
  const bars = googBars();
  const stored = (risk: object) => {
    const r = runBacktest(plan, bars, { cash: 10_000, feeRate: 0.001, allowShort: true, risk });
    // as the worker stores them in the metrics
    return {
      halts: r.risk!.halts.map((x) => ({ time: new Date(x.time).toISOString(), limit: x.limit, pct: x.pct })),
      refused: r.risk!.refused,
    };
  };

  it('names the limits, then each stop with its date and loss, and the entries refused', () => {
    const limits = { maxDrawdownPct: 15, maxOrdersPerMinute: 1 };
    const did = stored(limits);
    expect(did.halts).toHaveLength(1);
    const el = limitsSummary(limits, did);
    expect(el.querySelector('p')!.textContent).toBe('stop at drawdown 15 · orders a minute 1');
    const items = [...el.querySelectorAll('li')].map((li) => li.textContent);
    const h = did.halts[0]!;
    expect(h.pct).toBeGreaterThanOrEqual(15);
    expect(items[0]).toBe(`${when(h.time)} Trading stopped: drawdown of ${h.pct.toFixed(2)} %`);
    // one flip came before the stop: its entry was refused (one order a minute, the close took it)
    expect(did.refused).toEqual({ RATE_LIMIT: 1 });
    expect(items[1]).toBe('1 entry refused: RATE_LIMIT');
    expect(items).toHaveLength(2);
  });

  it('a daily loss limit ends trading, or pauses it for the day with resumeNextDay: said so', () => {
    for (const [limits, said] of [
      [{ maxDailyLossPct: 3 }, 'Trading ended: daily loss'],
      [{ maxDailyLossPct: 3, resumeNextDay: true }, 'Paused for the day: daily loss'],
    ] as const) {
      const did = stored(limits);
      const items = [...limitsSummary(limits, did).querySelectorAll('li')].map((li) => li.textContent);
      expect(items).toEqual(did.halts.map((x) => `${when(x.time)} ${said} of ${x.pct.toFixed(2)} %`));
      // ended: one; paused and resumed: several
      if ('resumeNextDay' in limits) expect(items.length).toBeGreaterThan(1);
      else expect(items).toHaveLength(1);
    }
  });

  it('shades on the equity and drawdown charts each day a daily loss paused trading, and a stop to the end', () => {
    // the page's equity points are the run's closes; 150 of them, so a bar is wider than a band's least (2)
    const n = 150;
    const cut = viewBars(bars, 0, n);
    const DAY = 86_400_000;
    for (const limits of [{ maxDailyLossPct: 2, resumeNextDay: true }, { maxDrawdownPct: 15 }] as Record<
      string,
      number | boolean
    >[]) {
      const r = runBacktest(plan, cut, { cash: 10_000, feeRate: 0.001, allowShort: true, risk: limits });
      const halts = r.risk!.halts.map((x) => ({ time: new Date(x.time).toISOString(), limit: x.limit, pct: x.pct }));
      expect(halts.length).toBeGreaterThan(0);
      const points = [...r.equity].map((equity, i) => ({ ts: new Date(cut.ts[i]!).toISOString(), equity }));
      const el = equityCharts(points, 'Equity', haltSpans(limits, halts));
      const svgs = [...el.querySelectorAll('svg')];
      expect(svgs).toHaveLength(2);
      for (const svg of svgs) {
        const bands = [...svg.querySelectorAll('rect.chart-band')];
        expect(bands).toHaveLength(halts.length);
        const w = Number(svg.querySelector('rect.chart-frame')!.getAttribute('width'));
        const x = (i: number) => (i * w) / (n - 1);
        bands.forEach((b, k) => {
          const i = r.risk!.halts[k]!.bar;
          expect(Number(b.getAttribute('x'))).toBeCloseTo(x(i), 1);
          // paused: to the next day's bar (the next one, on daily bars); stopped: to the last
          const paused = 'resumeNextDay' in limits;
          const to = paused ? [...cut.ts].findIndex((t) => t >= (Math.floor(cut.ts[i]! / DAY) + 1) * DAY) : n - 1;
          if (paused) expect(to).toBe(i + 1);
          expect(Number(b.getAttribute('width'))).toBeCloseTo(x(to) - x(i), 1);
          expect(b.querySelector('title')!.textContent).toBe(
            `${paused ? 'Paused for the day: daily loss' : 'Trading stopped: drawdown'} (${when(halts[k]!.time)})`,
          );
        });
      }
    }
    // no halts, no bands
    const r = runBacktest(plan, bars, { cash: 10_000 });
    const points = [...r.equity].map((equity, i) => ({ ts: new Date(bars.ts[i]!).toISOString(), equity }));
    expect(equityCharts(points, 'Equity', haltSpans({}, [])).querySelector('rect.chart-band')).toBeNull();
    // a drawdown stop: its level dashed on the drawdown chart, across it, not on the equity's
    const [eqSvg, ddSvg] = [...equityCharts(points, 'Equity', [], 15).querySelectorAll('svg')];
    const dashed = [...ddSvg!.querySelectorAll('path[stroke-dasharray]')];
    expect(dashed.map((p) => p.querySelector('title')!.textContent)).toEqual(['stop at -15 %']);
    const ys = [...dashed[0]!.getAttribute('d')!.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => m[1]);
    expect(ys).toHaveLength(points.length);
    expect(new Set(ys).size).toBe(1);
    expect(eqSvg!.querySelector('path[stroke-dasharray]')).toBeNull();
    expect(equityCharts(points, 'Equity').querySelector('path[stroke-dasharray]')).toBeNull();
  });

  it('says so when no limit was reached, and shows only the limits when the run did not say', () => {
    const limits = { maxDrawdownPct: 99 };
    const el = limitsSummary(limits, stored(limits));
    expect([...el.querySelectorAll('li')].map((li) => li.textContent)).toEqual(['No limit was reached.']);
    expect(limitsSummary(limits, undefined).querySelector('ul')).toBeNull();
    // a switch by its name when on
    const daily = limitsSummary({ maxDailyLossPct: 5, resumeNextDay: true }, undefined);
    expect(daily.querySelector('p')!.textContent).toBe('max daily loss 5 · resume the next day');
    expect(limitsSummary({ maxDailyLossPct: 5, resumeNextDay: false }, undefined).textContent).not.toContain('resume');
  });

  it("without limits, the entries an exchange's minimum order value held back: the engine's count", () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 10 };
    const r = runBacktest(compileGraph(g).plan!, bars, { cash: 10_000, minNotional: 4000 });
    const n = r.risk!.refused.MIN_NOTIONAL!;
    expect(n).toBeGreaterThan(3);
    const el = limitsSummary({}, { halts: [], refused: r.risk!.refused });
    expect(el.querySelector('h2')!.textContent).toBe('Orders refused');
    expect(el.querySelector('p')).toBeNull();
    expect([...el.querySelectorAll('li')].map((li) => li.textContent)).toEqual([`${n} entries refused: MIN_NOTIONAL`]);
  });

  it("a sweep's ranking says in one cell what the limits did in each combination", () => {
    const stop = stored({ maxDrawdownPct: 15, maxOrdersPerMinute: 1 });
    const h0 = stop.halts[0]!;
    expect(haltsCell(stop)).toBe(`${h0.time.slice(0, 10)}: drawdown ${h0.pct.toFixed(1)} %; 1 entry refused`);
    const paused = stored({ maxDailyLossPct: 3, resumeNextDay: true });
    const p0 = paused.halts[0]!;
    expect(paused.halts.length).toBeGreaterThan(1);
    expect(haltsCell(paused)).toBe(
      `${p0.time.slice(0, 10)}: daily loss ${p0.pct.toFixed(1)} % (+${paused.halts.length - 1} more)`,
    );
    expect(haltsCell(stored({ maxDrawdownPct: 99 }))).toBe('none reached');
    expect(haltsCell(undefined)).toBe('');
  });

  it("a walk-forward's folds say what the limits did in each out-of-sample window, as the HTML report does", async () => {
    const variants = gridVariants(
      templateById('sma-crossover')!.graph,
      { 'fast.period': [5, 10], 'slow.period': [30, 50] },
      10,
    );
    const risk = { maxDailyLossPct: 2, resumeNextDay: true };
    const wf = await walkForward(
      variants,
      bars,
      { cash: 10_000, feeRate: 0.001, allowShort: true, risk },
      { folds: 4, outOfSamplePct: 25, anchored: false, rankBy: 'sharpe' },
      inlineRunner(),
    );
    const sent = JSON.parse(JSON.stringify({ ...wf, spec: { folds: 4, outOfSamplePct: 25, rankBy: 'sharpe' } }));
    const el = walkForwardSummary(sent, undefined);
    const head = [...el.querySelectorAll('th')].map((x) => x.textContent);
    expect(head.at(-1)).toBe('Risk limits');
    const cells = [...el.querySelectorAll('tbody tr')].map(
      (tr) => tr.querySelectorAll('td')[head.length - 1]!.textContent,
    );
    expect(cells).toEqual(sent.folds.map((f: { limits: Parameters<typeof limitsCell>[0] }) => limitsCell(f.limits)));
    expect(cells.some((c) => c.includes('daily loss'))).toBe(true);
  });
});
