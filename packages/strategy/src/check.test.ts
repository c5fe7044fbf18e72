import { describe, expect, it } from 'vitest';
import { checkStrategy } from './check.ts';
import { compileGraph } from './compiler.ts';
import type { Graph } from './graph.ts';
import { alignBars, CompiledPlan, type PlanNode } from './plan.ts';
import { registry } from './registry.ts';
import { templateById, templates } from './templates.ts';
import { BAR_SLOT_COUNT, type NodeType } from './types.ts';
import { viewBars } from './walk-forward.ts';
import { backtestingPyBars, googBars } from '../../../test/helpers/goog.ts';
import { viaOtherSymbol } from '../../../test/helpers/graphs.ts';
import { peeking } from '../../../test/helpers/peeking.ts';

// The strategy check on real daily GOOG bars: no template and no node type looks ahead or evaluates
// otherwise one bar at a time than in blocks; a node that does is caught; the warm-up figures are
// worked out apart (an EMA by hand, an SMA's exact window).
const bars = googBars();
const planOf = (g: Graph) => {
  const c = compileGraph(g);
  expect(c.report.errors).toEqual([]);
  return c.plan!;
};
const PORT_SLOT: Record<string, number> = { open: 0, high: 1, low: 2, close: 3, volume: 4 };
/** a plan of one node of type t, its inputs read from the bars (by port name; the close otherwise) */
const singleNode = (t: NodeType, params = Object.fromEntries(t.params.map((p) => [p.name, p.default]))) => {
  const node: PlanNode = {
    id: 'x',
    type: t,
    params,
    inputs: t.inputs.map((p) => PORT_SLOT[p.name] ?? 3),
    outputs: t.outputs.map((_, k) => BAR_SLOT_COUNT + k),
  };
  return new CompiledPlan([node], BAR_SLOT_COUNT + t.outputs.length, t.warmup(params));
};

describe('strategy check', () => {
  it('finds no look-ahead and no difference one bar at a time in any template', async () => {
    for (const t of templates) {
      const plan = planOf(t.graph);
      const r = await checkStrategy(plan, bars, { starts: [] });
      expect(r.lookahead.mismatches, t.id).toEqual([]);
      expect(r.live.mismatches, t.id).toEqual([]);
      expect(r.lookahead.ok && r.live.ok, t.id).toBe(true);
      expect(r.lookahead.barsChecked, t.id).toBeGreaterThanOrEqual(50);
      expect(r.live.barsChecked).toBe(bars.length);
    }
  });

  it('finds none in any node type with its default parameters', async () => {
    const types = [...registry.values()].filter(
      (t) => (t.create || t.createScalar) && !t.position && !t.timeframe && !t.otherSymbol,
    );
    expect(types.length).toBeGreaterThan(50);
    for (const t of types) {
      const r = await checkStrategy(singleNode(t), bars, { starts: [], cuts: 40 });
      expect([...r.lookahead.mismatches, ...r.live.mismatches], t.type).toEqual([]);
    }
  });

  it('catches a node that reads the next bar of its block, on the bars where it does', async () => {
    const sma = registry.get('indicator.sma')!;
    const honest = singleNode(sma, { period: 5 });
    expect((await checkStrategy(honest, bars, { starts: [] })).lookahead.ok).toBe(true);
    // the same SMA with a look-ahead bug: every bar but a block's last sees the next
    const r = await checkStrategy(singleNode(peeking(sma), { period: 5 }), bars, { starts: [], cuts: 60 });
    expect(r.lookahead.ok).toBe(false);
    expect(r.live.ok).toBe(false);
    const full = singleNode(sma, { period: 5 }).instantiate();
    const truth = new Float64Array(bars.length);
    full.run(bars, new Int32Array(bars.length), 0, bars.length, (s, n) =>
      truth.set(full.cols[BAR_SLOT_COUNT]!.subarray(0, n), s),
    );
    for (const m of r.lookahead.mismatches) {
      expect(m).toMatchObject({ nodeId: 'x', port: 'value' });
      expect(m.index % 256, 'a block’s last bar has no next bar to see').not.toBe(255);
      // the cut run gives the true value; the full run gave the next bar's
      expect(m.actual).toBe(truth[m.index]);
      expect(m.expected).toBe(truth[m.index + 1]);
      expect(m.time).toBe(new Date(bars.ts[m.index]!).toISOString());
    }
    // one bar at a time it cannot see ahead: the first difference is the first defined bar
    expect(r.live.mismatches[0]).toMatchObject({ index: 3, actual: null, expected: truth[4] });
    expect(r.live.mismatches[1]).toMatchObject({ index: 4, actual: truth[4], expected: truth[5] });
  });

  it("measures an EMA's dependence on its start as an EMA computed by hand does", async () => {
    const plan = planOf(structuredClone(templateById('ema-crossover')!.graph));
    const starts = [26, 52, 78, 130];
    const r = await checkStrategy(plan, bars, { starts, points: 12 });
    expect(r.declaredWarmup).toBe(26);
    expect(r.warmup.starts).toEqual(starts);
    expect(r.warmup.points.length).toBe(12);
    expect(r.warmup.points[0]).toBe(260);
    expect(r.warmup.points.at(-1)).toBe(bars.length - 1);
    // TA-Lib's EMA: the SMA of the first `period` values, then k = 2 / (period + 1)
    const ema = (from: number, to: number, period: number) => {
      const k = 2 / (period + 1);
      let e = 0;
      for (let i = from; i < from + period; i++) e += bars.close[i]! / period;
      for (let i = from + period; i <= to; i++) e = (bars.close[i]! - e) * k + e;
      return e;
    };
    for (const [id, period] of [
      ['fast', 12],
      ['slow', 26],
    ] as const) {
      const all: number[] = [];
      for (let i = period - 1; i < bars.length; i++) all.push(ema(0, i, period));
      const scale = all.reduce((a, x) => a + Math.abs(x), 0) / all.length;
      const expected = starts.map((s) =>
        Math.max(
          ...r.warmup.points.map((e) => (100 * Math.abs(ema(e - s + 1, e, period) - ema(0, e, period))) / scale),
        ),
      );
      const out = r.warmup.outputs.find((o) => o.nodeId === id)!;
      expect(out.used).toBe(true);
      out.diffPct.forEach((d, k) => expect(d!, `${id} from ${starts[k]}`).toBeCloseTo(expected[k]!, 9));
      const settled = starts.find((_, k) => expected.slice(k).every((d) => d <= 0.1)) ?? null;
      expect(out.settledBars, id).toBe(settled);
    }
    // the slow EMA moves by more than 0.1 % between a start 26 and 130 bars back, and settles later
    expect(r.warmup.outputs.find((o) => o.nodeId === 'slow')!.diffPct[0]).toBeGreaterThan(0.1);
    expect(r.warmup.recommendedBars).not.toBeNull();
    expect(r.warmup.recommendedBars!).toBeGreaterThan(26);
  });

  it('finds an SMA settled from exactly its period, and undefined before', async () => {
    const plan = planOf(structuredClone(templateById('sma-crossover')!.graph));
    const r = await checkStrategy(plan, bars, { starts: [9, 10, 29, 30, 31, 60] });
    const slow = r.warmup.outputs.find((o) => o.nodeId === 'slow')!;
    const fast = r.warmup.outputs.find((o) => o.nodeId === 'fast')!;
    expect(slow.diffPct.slice(0, 3)).toEqual([null, null, null]);
    for (const d of slow.diffPct.slice(3)) expect(d!).toBeLessThan(1e-9);
    expect(slow.settledBars).toBe(30);
    expect(fast.diffPct[0]).toBeNull();
    expect(fast.settledBars).toBe(10);
    // the crossover is true or false: its differences are the share of the points where it differs
    const up = r.warmup.outputs.find((o) => o.nodeId === 'up')!;
    expect(up.boolean).toBe(true);
    expect(slow.boolean).toBe(false);
    for (const d of up.diffPct) {
      const count = (d! * r.warmup.points.length) / 100;
      expect(Math.abs(count - Math.round(count))).toBeLessThan(1e-9);
    }
    // the crossover compares with the bar before: 31 bars define it
    expect(r.warmup.recommendedBars).not.toBeNull();
    expect(r.warmup.recommendedBars!).toBeGreaterThanOrEqual(30);
    expect(r.warmup.signalsAgreePct.slice(4)).toEqual([100, 100]);
  });

  it("checks a strategy that reads another symbol with that symbol's bars", async () => {
    const eur = backtestingPyBars('EURUSD.csv');
    // the SMA crossover on another market's closes (EURUSD's), read beside GOOG's own bars
    const g = viaOtherSymbol(structuredClone(templateById('sma-crossover')!.graph), 'EURUSD') as unknown as Graph;
    const plan = planOf(g);
    // EURUSD's hourly bars moved to six hours apart from GOOG's first day, so the two overlap in time
    const shifted = { ...eur, ts: eur.ts.map((t, i) => bars.ts[0]! + i * 3_600_000 * 6) };
    const own = viewBars(bars, 0, bars.length);
    await expect(checkStrategy(plan, own)).rejects.toThrow(/EURUSD/);
    own.others = alignBars(own.ts, shifted);
    const r = await checkStrategy(plan, own, { starts: [] });
    expect([...r.lookahead.mismatches, ...r.live.mismatches]).toEqual([]);
    expect(r.lookahead.barsChecked).toBeGreaterThanOrEqual(50);
  });

  it('reports its progress and lets the event loop run', async () => {
    const plan = planOf(structuredClone(templateById('macd-signal-cross')!.graph));
    const seen: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const many = viewBars(bars, 0, bars.length);
    await checkStrategy(plan, many, { cuts: 400, onProgress: (p) => seen.push(p) });
    clearInterval(timer);
    expect(seen.at(-1)).toBe(1);
    for (let k = 1; k < seen.length; k++) expect(seen[k]!).toBeGreaterThanOrEqual(seen[k - 1]!);
    if (seen.length > 2) expect(ticks).toBeGreaterThan(0);
  });
});
