import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGraph } from './compiler.ts';
import { graphHash, type Graph } from './graph.ts';
import { previewPlan } from './preview.ts';
import { registry } from './registry.ts';
import { generateCandles } from './sample-data.ts';
import { templateById, templates } from './templates.ts';

const sma = () => structuredClone(templateById('sma-crossover')!.graph);
const codes = (g: unknown) => compileGraph(g).report.errors.map((e) => e.code);

describe('node registry', () => {
  it('has at least 25 node types across every category', () => {
    expect(registry.size).toBeGreaterThanOrEqual(25);
    const cats = new Set([...registry.values()].map((t) => t.category));
    expect([...cats].sort()).toEqual(['action', 'indicator', 'logic', 'math', 'risk', 'source']);
  });
});

describe('compiler', () => {
  it('compiles every template with a deterministic order and its warm-up', () => {
    for (const t of templates) {
      const r = compileGraph(t.graph);
      expect(r.report, t.id).toMatchObject({ ok: true, errors: [] });
      expect(r.report.order).toEqual(compileGraph(structuredClone(t.graph)).report.order);
      expect(r.report.warmup).toBeGreaterThan(0);
    }
    expect(compileGraph(sma()).report.warmup).toBe(30); // SMA(30) needs 29 bars, the cross one more
  });

  it('names the node or edge of every error', () => {
    const g = sma();
    g.nodes.find((n) => n.id === 'fast')!.data = { period: 0 };
    g.nodes.push({ id: 'x', type: 'indicator.nope', data: {} });
    g.edges.push({ id: 'bad-port', source: 'close', sourceHandle: 'nope', target: 'up', targetHandle: 'a' });
    g.edges.push({ id: 'bad-kind', source: 'close', sourceHandle: 'value', target: 'buy', targetHandle: 'trigger' });
    g.edges.push({ id: 'dangling', source: 'ghost', target: 'buy', targetHandle: 'trigger' });
    const r = compileGraph(g).report;
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ nodeId: 'fast', code: 'PARAM_OUT_OF_RANGE' }),
        expect.objectContaining({ nodeId: 'x', code: 'UNKNOWN_NODE_TYPE' }),
        expect.objectContaining({ edgeId: 'bad-port', code: 'UNKNOWN_PORT' }),
        expect.objectContaining({ edgeId: 'bad-kind', code: 'PORT_KIND_MISMATCH' }),
        expect.objectContaining({ edgeId: 'dangling', code: 'EDGE_UNKNOWN_NODE' }),
      ]),
    );
    for (const e of r.errors) expect(e.nodeId ?? e.edgeId).toBeTruthy();
  });

  it('reports missing inputs, no action, and cycles naming their nodes', () => {
    const g = sma();
    g.edges = g.edges.filter((e) => e.target !== 'up' || e.targetHandle !== 'b');
    expect(compileGraph(g).report.errors).toEqual([expect.objectContaining({ nodeId: 'up', code: 'MISSING_INPUT' })]);

    const noAction = sma();
    noAction.nodes = noAction.nodes.filter((n) => !n.type.startsWith('action.'));
    noAction.edges = noAction.edges.filter((e) => e.target !== 'buy' && e.target !== 'sell');
    expect(codes(noAction)).toContain('NO_ACTION');

    const cyc: Graph = {
      nodes: [
        { id: 'a', type: 'math.add', data: {} },
        { id: 'b', type: 'math.abs', data: {} },
        { id: 'c', type: 'price.close', data: {} },
        { id: 'g', type: 'logic.greater', data: {} },
        { id: 'buy', type: 'action.buy', data: {} },
      ],
      edges: [
        { id: 'e1', source: 'a', target: 'b' },
        { id: 'e2', source: 'b', target: 'a', targetHandle: 'a' },
        { id: 'e3', source: 'c', target: 'a', targetHandle: 'b' },
        { id: 'e4', source: 'a', target: 'g', targetHandle: 'a' },
        { id: 'e5', source: 'c', target: 'g', targetHandle: 'b' },
        { id: 'e6', source: 'g', target: 'buy' },
      ],
    };
    const r = compileGraph(cyc).report;
    expect(r.errors).toEqual([
      expect.objectContaining({ code: 'CYCLE', message: expect.stringMatching(/a -> b -> a|b -> a -> b/) }),
    ]);
  });

  it('takes one node of each risk type: a second is an error on that node; time and cooldown parameters checked', () => {
    const g = sma();
    g.nodes.push(
      { id: 'hold', type: 'risk.time_exit', data: { minutes: 90 } },
      { id: 'cool', type: 'risk.cooldown', data: { minutes: 15, after: 'loss' } },
    );
    const one = compileGraph(g);
    expect(one.report.ok).toBe(true);
    // a run of one exit by default, in a row (no window)
    expect(one.plan!.risk).toEqual({
      timeExitMs: 5_400_000,
      cooldown: { ms: 900_000, after: 'loss', count: 1, withinMs: 0 },
    });
    g.nodes.push({ id: 'hold2', type: 'risk.time_exit', data: { minutes: 30 } });
    expect(compileGraph(g).report.errors).toEqual([
      expect.objectContaining({
        nodeId: 'hold2',
        code: 'DUPLICATE_RISK_NODE',
        message: expect.stringContaining('(hold)'),
      }),
    ]);
    g.nodes.pop();
    g.nodes.find((n) => n.id === 'cool')!.data = { minutes: 0, after: 'sometimes' };
    expect(compileGraph(g).report.errors.map((e) => [e.nodeId, e.code])).toEqual([
      ['cool', 'PARAM_OUT_OF_RANGE'],
      ['cool', 'INVALID_PARAM'],
    ]);
    // a run of exits: a whole number from 1
    for (const count of [0, 2.5, 101]) {
      g.nodes.find((n) => n.id === 'cool')!.data = { minutes: 15, after: 'loss', count };
      expect(
        compileGraph(g).report.errors.map((e) => [e.nodeId, e.code]),
        String(count),
      ).toEqual([['cool', count === 2.5 ? 'INVALID_PARAM' : 'PARAM_OUT_OF_RANGE']]);
    }
    g.nodes.find((n) => n.id === 'cool')!.data = { minutes: 15, after: 'loss', count: 3 };
    expect(compileGraph(g).plan!.risk.cooldown).toEqual({ ms: 900_000, after: 'loss', count: 3, withinMs: 0 });
    // within a window: minutes from 0 (in a row)
    g.nodes.find((n) => n.id === 'cool')!.data = { minutes: 15, after: 'loss', count: 3, withinMinutes: -1 };
    expect(compileGraph(g).report.errors.map((e) => [e.nodeId, e.code])).toEqual([['cool', 'PARAM_OUT_OF_RANGE']]);
    g.nodes.find((n) => n.id === 'cool')!.data = { minutes: 15, after: 'loss', count: 3, withinMinutes: 90 };
    expect(compileGraph(g).plan!.risk.cooldown).toEqual({ ms: 900_000, after: 'loss', count: 3, withinMs: 5_400_000 });
  });

  it('compiles additions and partial exits into the actions, and refuses their parameters out of range', () => {
    const g = templateById('rsi-scale-in')!.graph;
    const plan = compileGraph(g).plan!;
    expect(plan.actions.map((a) => [a.nodeId, a.maxEntries, a.addStepPct, a.closePct])).toEqual([
      ['buy', 4, 3, 100],
      ['take-half', 1, 0, 50],
      ['close-pos', 1, 0, 100],
    ]);
    const bad = structuredClone(g);
    bad.nodes.find((n) => n.id === 'buy')!.data = { maxEntries: 2.5, addStepPct: 150 };
    bad.nodes.find((n) => n.id === 'take-half')!.data = { percent: 0 };
    expect(compileGraph(bad).report.errors.map((e) => [e.nodeId, e.code])).toEqual([
      ['buy', 'INVALID_PARAM'],
      ['buy', 'PARAM_OUT_OF_RANGE'],
      ['take-half', 'PARAM_OUT_OF_RANGE'],
    ]);
  });

  it('warns about nodes that lead to no action', () => {
    const g = sma();
    g.nodes.push({ id: 'lonely', type: 'indicator.rsi', data: {} });
    g.edges.push({ id: 'l', source: 'close', target: 'lonely' });
    const r = compileGraph(g).report;
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([expect.objectContaining({ nodeId: 'lonely', code: 'UNREACHABLE_NODE' })]);
  });

  it('hashes behaviour, not layout', () => {
    const a = sma();
    const b = sma();
    b.nodes[0]!.position = { x: 999, y: 1 };
    expect(graphHash(a)).toBe(graphHash(b));
    b.nodes.find((n) => n.id === 'fast')!.data = { period: 11 };
    expect(graphHash(a)).not.toBe(graphHash(b));
  });

  it('cannot look ahead: signals on truncated history equal those on the full history', () => {
    const candles = generateCandles(3000, 11);
    for (const t of templates) {
      const plan = compileGraph(t.graph).plan!;
      const full = previewPlan(plan, candles).signals;
      for (const cut of [500, 1234, 2999]) {
        const part = previewPlan(plan, candles.slice(0, cut)).signals;
        expect(part, `${t.id} @${cut}`).toEqual(full.filter((s) => s.index < cut));
      }
    }
  });

  it('SMA crossover preview: series match a direct computation and signals fall on crosses', () => {
    const candles = generateCandles(400, 3);
    const plan = compileGraph(sma()).plan!;
    const { series, signals } = previewPlan(plan, candles);
    const close = candles.map((c) => c.close);
    const direct = (n: number, i: number) =>
      i < n - 1 ? null : close.slice(i - n + 1, i + 1).reduce((a, b) => a + b, 0) / n;
    for (let i = 0; i < close.length; i++) {
      const f = direct(10, i);
      expect(series.fast!.value![i] === null ? null : +series.fast!.value![i]!.toFixed(9)).toBe(
        f === null ? null : +f.toFixed(9),
      );
    }
    expect(signals.length).toBeGreaterThan(2);
    for (const s of signals) {
      const [f0, s0, f1, s1] = [
        direct(10, s.index - 1)!,
        direct(30, s.index - 1)!,
        direct(10, s.index)!,
        direct(30, s.index)!,
      ];
      if (s.action === 'buy') expect(f0 <= s0 && f1 > s1).toBe(true);
      else expect(f0 >= s0 && f1 < s1).toBe(true);
    }
  });
});

describe('compiler under random and mutated graphs (fast-check)', () => {
  const types = [...registry.keys()];
  const arbNode = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
    type: fc.oneof(fc.constantFrom(...types), fc.string()),
    data: fc.dictionary(
      fc.constantFrom('period', 'value', 'fast', 'sizing', 'amount', 'x'),
      fc.oneof(fc.integer({ min: -5, max: 400 }), fc.double(), fc.string(), fc.constant(null)),
    ),
  });
  const arbEdge = fc.record({
    id: fc.string({ minLength: 1, maxLength: 4 }),
    source: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'zz'),
    target: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
    sourceHandle: fc.option(fc.constantFrom('value', 'macd', 'signal', 'upper', 'k', 'nope')),
    targetHandle: fc.option(fc.constantFrom('value', 'a', 'b', 'trigger', 'high', 'low', 'close', 'volume')),
  });

  it('never throws, always returns a report (random graphs)', () => {
    fc.assert(
      fc.property(
        fc.record({ nodes: fc.array(arbNode, { maxLength: 12 }), edges: fc.array(arbEdge, { maxLength: 20 }) }),
        (g) => {
          const r = compileGraph(g);
          expect(typeof r.report.ok).toBe('boolean');
          if (!r.report.ok) expect(r.report.errors.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) => {
        expect(compileGraph(j).report.ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on mutated templates (edges dropped, params changed, types swapped)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...templates.map((t) => t.id)),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('dropEdge', 'param', 'type', 'rewire')), { maxLength: 6 }),
        fc.constantFrom(...types),
        fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.double(), fc.string()),
        (id, muts, newType, val) => {
          const g = structuredClone(templateById(id)!.graph);
          for (const [k, m] of muts) {
            const n = g.nodes[k % g.nodes.length]!;
            const e = g.edges[k % Math.max(1, g.edges.length)];
            if (m === 'dropEdge' && e) g.edges.splice(g.edges.indexOf(e), 1);
            if (m === 'param') n.data = { ...n.data, period: val };
            if (m === 'type') n.type = newType;
            if (m === 'rewire' && e) e.source = g.nodes[(k * 7) % g.nodes.length]!.id;
          }
          const r = compileGraph(g);
          expect(r.report.ok ? r.plan : r.report.errors.length).toBeTruthy();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
