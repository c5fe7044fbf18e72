// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import {
  BAR_SLOT_COUNT,
  checkStrategy,
  compileGraph,
  CompiledPlan,
  registry,
  templateById,
  type NodeType,
} from '@algotrade/strategy';
import { when } from '../../web/dom.js';
import { checkView } from '../../web/check.js';
import { googBars } from '../helpers/goog.ts';
import { peeking } from '../helpers/peeking.ts';

// what the editor shows of a strategy check, from the engine's check of real GOOG bars (as the route sends it)
describe("the editor's strategy check (web/check.js checkView)", () => {
  const bars = googBars();
  const asSent = (x: unknown) => JSON.parse(JSON.stringify({ ok: true, ...(x as object) }));

  it('says no look-ahead and the same bar by bar, and tables each used value against the starts tried', async () => {
    const plan = compileGraph(templateById('ema-crossover')!.graph).plan!;
    const r = asSent(await checkStrategy(plan, bars, { starts: [27, 79, 300] }));
    const el = checkView(r);
    const text = [...el.querySelectorAll('p')].map((p) => p.textContent);
    expect(el.querySelector('h3')!.textContent).toBe('Strategy check on 2148 bars');
    expect(text[0]).toBe(
      'Look-ahead: none: 60 bars evaluated again on the data cut after each gave the same values and signals.',
    );
    expect(text[1]).toMatch(/^One bar at a time: the same: fed bar by bar, .* all 2148 bars gave/);
    const head = [...el.querySelectorAll('th')].map((x) => x.textContent);
    expect(head).toEqual(['value', '27 bars', '79 bars', '300 bars', 'settled from']);
    const rows = [...el.querySelectorAll('tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent),
    );
    const used = r.warmup.outputs.filter((o: { used: boolean }) => o.used);
    expect(rows).toHaveLength(used.length + 1);
    const slow = rows.find((row) => row[0] === 'slow.value')!;
    const out = used.find((o: { nodeId: string }) => o.nodeId === 'slow');
    expect(slow.slice(1, 4)).toEqual(
      out.diffPct.map((d: number) => (d < 0.0005 ? '0' : d < 10 ? d.toFixed(3) : d.toFixed(1))),
    );
    expect(slow[4]).toBe(`${out.settledBars} bars`);
    expect(rows.at(-1)![0]).toBe('signals (differ, % of points)');
    // the numeric values that moved, as lines against the bars of history
    expect(el.querySelector('svg .chart-title')!.textContent).toMatch(/^Difference from all the history/);
    const moved = used.filter((o: { boolean: boolean; diffPct: number[] }) => !o.boolean && o.diffPct.some((d) => d));
    expect(moved.length).toBeGreaterThan(1);
    const titles = [...el.querySelectorAll('svg path title')].map((t) => t.textContent);
    expect(titles).toEqual(moved.map((o: { nodeId: string; port: string }) => `${o.nodeId}.${o.port}`));
    expect(el.querySelector('.check-advice')!.textContent).toBe(
      `Recommended warm-up: ${r.warmup.recommendedBars} bars (the compiler declares 26). A paper session and a walk-forward window warm on 261 (a session's ticks: at most 1,000).`,
    );
  });

  it('lists where a node that sees the next bar differs, with the two values', async () => {
    const sma = registry.get('indicator.sma')! as NodeType;
    const node = { id: 'x', type: peeking(sma), params: { period: 5 }, inputs: [3], outputs: [BAR_SLOT_COUNT] };
    const r = asSent(await checkStrategy(new CompiledPlan([node], BAR_SLOT_COUNT + 1, 4), bars, { starts: [] }));
    const el = checkView(r);
    expect(el.querySelector('.check-bad p')!.textContent).toBe(
      'Look-ahead: values change when the data ends at the bar: the strategy sees later bars.',
    );
    const first = r.lookahead.mismatches[0];
    const items = [...el.querySelectorAll('.check-bad')[0]!.querySelectorAll('li')].map((li) => li.textContent);
    expect(items[0]).toBe(
      `${when(first.time)} bar ${first.index}: x.value ${Number(first.expected.toPrecision(8))} with all the data, ${Number(first.actual.toPrecision(8))} here`,
    );
    expect(items.length).toBe(Math.min(10, r.lookahead.mismatches.length));
    expect(el.querySelectorAll('.check-bad')).toHaveLength(2);
    expect(el.textContent).toContain('Warm-up: too few bars to try any start.');
  });
});
