import { describe, expect, it } from 'vitest';
import { compileGraph, describeNodeTypes, generateCandles, previewPlan, templates } from '@algotrade/strategy';
// the browser app's modules are plain JavaScript (no build step); the editor's rules are tested here
// against the real node types and the real compiler
import {
  addNode,
  connect,
  emptyGraph,
  errorsByNode,
  layoutMissing,
  graphDiff,
  matchesQuery,
  MAX_SWEEP,
  parseSweep,
  readParam,
  removeEdge,
  removeNode,
  setParam,
  applyCombo,
  strategyFromFile,
  suggestSweep,
  typeMap,
} from '../../web/graph-model.js';

const described = describeNodeTypes();
const types = typeMap(described as never);
const T = (type: string) => types.get(type)!;

/** The editor's steps for a graph: place each node, set its parameters, draw each wire. */
function redraw(g: (typeof templates)[number]['graph']) {
  let graph = emptyGraph();
  const ids = new Map<string, string>();
  for (const n of g.nodes) {
    const r = addNode(graph, T(n.type), n.position ?? { x: 0, y: 0 });
    graph = r.graph;
    ids.set(n.id, r.id);
    for (const [k, v] of Object.entries(n.data ?? {})) graph = setParam(graph, r.id, k, v);
  }
  for (const e of g.edges) {
    const r = connect(
      graph,
      types,
      { node: ids.get(e.source)!, handle: e.sourceHandle ?? '' },
      { node: ids.get(e.target)!, handle: e.targetHandle ?? '' },
    );
    if (!r.graph) throw new Error(r.error);
    graph = r.graph;
  }
  return graph;
}

describe('the editor graph model (web/graph-model.js)', () => {
  it('redraws every template with the editor steps into a graph that compiles and signals as the template does', () => {
    const candles = generateCandles(600, 7);
    for (const t of templates) {
      const drawn = redraw(t.graph);
      const a = compileGraph(drawn);
      expect(a.report.errors, t.id).toEqual([]);
      const b = compileGraph(t.graph);
      const sa = previewPlan(a.plan!, candles).signals.map((s) => [s.index, s.action]);
      const sb = previewPlan(b.plan!, candles).signals.map((s) => [s.index, s.action]);
      expect(sa.length, `${t.id} signals on 600 candles`).toBeGreaterThan(0);
      expect(sa).toEqual(sb);
    }
  });

  it('places every node type with parameters the compiler accepts', () => {
    expect(described.length).toBeGreaterThanOrEqual(42);
    for (const t of described) {
      const { graph, id } = addNode(emptyGraph(), t as never, { x: 10.4, y: 20.6 });
      const node = graph.nodes.find((n) => n.id === id)!;
      expect(node.position).toEqual({ x: 10, y: 21 });
      const bad = compileGraph(graph).report.errors.filter(
        (e) => e.code === 'INVALID_PARAM' || e.code === 'PARAM_OUT_OF_RANGE',
      );
      expect(bad, t.type).toEqual([]);
    }
  });

  it('finds node types by every word of a search in their label, type or description', () => {
    const found = (q: string) => described.filter((t) => matchesQuery(t as never, q)).map((t) => t.type);
    expect(found('')).toHaveLength(described.length);
    expect(found('williams')).toEqual(['indicator.willr', 'indicator.ultosc', 'indicator.ao']);
    expect(found('williams %r')).toEqual(['indicator.willr']);
    expect(found('TREND  parabolic')).toEqual(['indicator.psar']);
    expect(found('hull ma')).toEqual(['indicator.hma']);
    expect(found('no such thing')).toEqual([]);
  });

  it('lists what changed in behaviour between two versions of a graph, layout left out', () => {
    const a = templates.find((t) => t.id === 'sma-crossover')!.graph as never as Parameters<typeof graphDiff>[0];
    const b = structuredClone(a);
    b.nodes.find((n) => n.id === 'fast')!.data = { period: 5 };
    b.nodes.find((n) => n.id === 'slow')!.position = { x: 1, y: 1 }; // layout only
    b.nodes = b.nodes.filter((n) => n.id !== 'sell');
    b.edges = b.edges.filter((e) => e.target !== 'sell');
    b.nodes.push({ id: 'rsi1', type: 'indicator.rsi', data: {}, position: { x: 0, y: 0 } });
    b.edges.push({ id: 'x', source: 'close', sourceHandle: 'value', target: 'rsi1', targetHandle: 'value' });
    expect(graphDiff(a, b)).toEqual([
      'fast.period: 10 → 5',
      'added rsi1 (indicator.rsi)',
      'removed sell (action.sell)',
      'wired close.value → rsi1.value',
      'unwired down.value → sell.trigger',
    ]);
    expect(graphDiff(a, structuredClone(a))).toEqual([]);
  });

  it('gives each new node an id of its own', () => {
    let g = emptyGraph();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = addNode(g, T('indicator.sma'), { x: 0, y: 0 });
      g = r.graph;
      ids.push(r.id);
    }
    expect(ids).toEqual(['sma1', 'sma2', 'sma3']);
    g = removeNode(g, 'sma2');
    expect(addNode(g, T('indicator.sma'), { x: 0, y: 0 }).id).toBe('sma2');
  });

  it('refuses the wires the compiler would refuse, where they are drawn', () => {
    let g = emptyGraph();
    for (const t of ['price.close', 'indicator.sma', 'math.add', 'logic.and', 'action.buy'])
      g = addNode(g, T(t), { x: 0, y: 0 }).graph;
    const ok = (r: ReturnType<typeof connect>) => {
      if (!r.graph) throw new Error(r.error);
      return r.graph;
    };
    g = ok(connect(g, types, { node: 'close1', handle: 'value' }, { node: 'sma1', handle: 'value' }));
    // a number into a boolean input
    expect(connect(g, types, { node: 'sma1', handle: 'value' }, { node: 'and1', handle: 'a' }).error).toMatch(
      /sma1\.value is a number; and1\.a takes a boolean/,
    );
    // ports that do not exist, a node feeding itself, a node that is not there
    expect(connect(g, types, { node: 'sma1', handle: 'nope' }, { node: 'add1', handle: 'a' }).error).toMatch(
      /no output "nope"/,
    );
    expect(connect(g, types, { node: 'sma1', handle: 'value' }, { node: 'add1', handle: 'c' }).error).toMatch(
      /no input "c"/,
    );
    expect(connect(g, types, { node: 'add1', handle: 'value' }, { node: 'add1', handle: 'a' }).error).toMatch(/itself/);
    expect(connect(g, types, { node: 'ghost', handle: 'value' }, { node: 'add1', handle: 'a' }).error).toMatch(
      /nodes of this graph/,
    );
    // a cycle: sma1 -> add1 -> sma1
    g = ok(connect(g, types, { node: 'sma1', handle: 'value' }, { node: 'add1', handle: 'a' }));
    expect(connect(g, types, { node: 'add1', handle: 'value' }, { node: 'sma1', handle: 'value' }).error).toMatch(
      /cycle/,
    );
    // a second wire into an input replaces the first (one edge per input)
    g = ok(connect(g, types, { node: 'close1', handle: 'value' }, { node: 'add1', handle: 'a' }));
    expect(g.edges.filter((e) => e.target === 'add1' && e.targetHandle === 'a').map((e) => e.source)).toEqual([
      'close1',
    ]);
    expect(compileGraph(g).report.errors.map((e) => e.code)).not.toContain('INPUT_ALREADY_CONNECTED');
  });

  it('removes a node with its wires, and the compiler then names the input left open', () => {
    let g = redraw(templates.find((t) => t.id === 'sma-crossover')!.graph);
    const before = g.edges.length;
    const touching = g.edges.filter((e) => e.source === 'sma1' || e.target === 'sma1').length;
    g = removeNode(g, 'sma1');
    expect(g.edges).toHaveLength(before - touching);
    const report = compileGraph(g).report;
    expect(report.ok).toBe(false);
    const byNode = errorsByNode(g, report);
    expect([...byNode.keys()].sort()).toEqual(['crossesabove1', 'crossesbelow1']);
    expect(byNode.get('crossesabove1')!.join(' ')).toMatch(/input/i);
    const edge = g.edges[0]!;
    expect(removeEdge(g, edge.id).edges.map((e) => e.id)).not.toContain(edge.id);
  });

  it('reads form values as each parameter schema says', () => {
    const period = T('indicator.sma').params.properties.period!;
    expect(readParam(period, ' 14 ')).toEqual({ value: 14 });
    expect(readParam(period, '0').error).toBe('at least 1');
    expect(readParam(period, '5001').error).toBe('at most 5000');
    expect(readParam(period, '2.5').error).toBe('a whole number');
    expect(readParam(period, '').error).toBe('a number');
    expect(readParam(period, 'abc').error).toBe('a number');
    const sizing = T('action.buy').params.properties.sizing!;
    expect(readParam(sizing, 'pct_equity')).toEqual({ value: 'pct_equity' });
    expect(readParam(sizing, 'everything').error).toMatch(/^one of all, pct_equity/);
    const amount = T('action.buy').params.properties.amount!;
    expect(readParam(amount, '12.5')).toEqual({ value: 12.5 });
    // an Other symbol node's symbol: upper-cased, letters, digits and ._:- only
    const symbol = T('symbol.bar').params.properties.symbol!;
    expect(readParam(symbol, ' ethusd ')).toEqual({ value: 'ETHUSD' });
    expect(readParam(symbol, 'BRK.B')).toEqual({ value: 'BRK.B' });
    expect(readParam(symbol, 'ETH USD').error).toBe('a symbol such as ETHUSD');
    expect(readParam(symbol, '').error).toBe('a symbol such as ETHUSD');
  });

  it('reads a sweep grid as the API takes it, checking each value against its parameter', () => {
    // the template as the page holds it (its graph type is the JS module's)
    const g = templates.find((t) => t.id === 'sma-crossover')!.graph as unknown as Parameters<typeof parseSweep>[1];
    expect(suggestSweep(g, types)).toBe('fast.period=5,10,20; slow.period=15,30,60');
    expect(parseSweep(' fast.period = 5, 10 ,10;\nslow.period=30,50 ', g, types)).toEqual({
      params: { 'fast.period': [5, 10], 'slow.period': [30, 50] },
      combinations: 4,
    });
    expect(parseSweep('buy.sizing=all,pct_equity', g, types)).toEqual({
      params: { 'buy.sizing': ['all', 'pct_equity'] },
      combinations: 2,
    });
    expect(parseSweep('', g, types).error).toMatch(/at least one/);
    expect(parseSweep('fast=5', g, types).error).toMatch(/node\.param=value/);
    expect(parseSweep('ghost.period=5', g, types).error).toMatch(/no node ghost/);
    expect(parseSweep('fast.length=5', g, types).error).toMatch(/fast has no parameter length/);
    expect(parseSweep('fast.period=5,0', g, types).error).toBe('fast.period: "0" must be at least 1');
    expect(parseSweep('fast.period=5; fast.period=6', g, types).error).toMatch(/named twice/);
    const many = Array.from({ length: 23 }, (_, i) => i + 1).join(',');
    expect(parseSweep(`fast.period=${many}; slow.period=${many}`, g, types).error).toBe(
      `529 combinations; at most ${MAX_SWEEP}, or a random sample of them`,
    );
    // ranges, whole or stepped; a grid of any size once a sample is asked for
    expect(parseSweep('fast.period=2..30; slow.period=35..200:5', g, types, 20)).toEqual({
      params: { 'fast.period': { from: 2, to: 30, step: 1 }, 'slow.period': { from: 35, to: 200, step: 5 } },
      combinations: 29 * 34,
    });
    expect(parseSweep('fast.period=2..30; slow.period=35..200:5', g, types).error).toMatch(/986 combinations/);
    expect(parseSweep('fast.period=0..30', g, types, 5).error).toBe('fast.period: "0" must be at least 1');
    expect(parseSweep('fast.period=30..2', g, types, 5).error).toMatch(/from low to high/);
  });

  it('places nodes that have no position by depth, and keeps the positions a graph has', () => {
    const t = templates.find((x) => x.id === 'sma-crossover')!.graph;
    type G = Parameters<typeof layoutMissing>[0];
    const bare = { ...t, nodes: t.nodes.map((n) => ({ ...n, position: undefined })) } as unknown as G;
    const placed = layoutMissing(bare);
    const at = Object.fromEntries(placed.nodes.map((n) => [n.id, n.position]));
    // close (sources) | fast, slow | up, down | buy, sell: one column per depth, rows in graph order
    expect(at).toEqual({
      close: { x: 40, y: 40 },
      fast: { x: 280, y: 40 },
      slow: { x: 280, y: 160 },
      up: { x: 520, y: 40 },
      down: { x: 520, y: 160 },
      buy: { x: 760, y: 40 },
      sell: { x: 760, y: 160 },
    });
    // one node keeps its place; the others go below it
    const mixed = {
      ...bare,
      nodes: bare.nodes.map((n) => (n.id === 'close' ? { ...n, position: { x: 5, y: 300 } } : n)),
    };
    const m = Object.fromEntries(layoutMissing(mixed).nodes.map((n) => [n.id, n.position]));
    expect(m.close).toEqual({ x: 5, y: 300 });
    expect(m.fast).toEqual({ x: 280, y: 440 });
    const full = t as unknown as G;
    expect(layoutMissing(full)).toBe(full);
  });
});

describe('a strategy file read for import', () => {
  const graph = { nodes: [{ id: 'a', type: 'price.close', data: {}, position: { x: 0, y: 0 } }], edges: [] };
  it('takes an export or a bare graph', () => {
    expect(strategyFromFile(JSON.stringify({ name: ' Mine ', description: 'd', graph }), 'x.json')).toEqual({
      name: 'Mine',
      description: 'd',
      graph,
    });
    expect(strategyFromFile(JSON.stringify(graph), 'breakout.algotrade.json')).toEqual({ name: 'breakout', graph });
  });
  it('refuses what is not one, saying why', () => {
    expect(() => strategyFromFile('{nope', 'a.json')).toThrow(/^a.json is not JSON: /);
    expect(() => strategyFromFile('{"name":"x"}', 'a.json')).toThrow(
      'a.json holds no strategy graph (nodes and edges)',
    );
    expect(() => strategyFromFile('[1,2]', 'a.json')).toThrow(/holds no strategy graph/);
    expect(() => strategyFromFile('null', 'a.json')).toThrow(/holds no strategy graph/);
  });
});

describe("a sweep's parameters applied to a strategy", () => {
  const graph = {
    nodes: [
      { id: 'fast', type: 'indicator.sma', data: { period: 10 }, position: { x: 0, y: 0 } },
      { id: 'slow', type: 'indicator.sma', data: { period: 30 }, position: { x: 0, y: 0 } },
    ],
    edges: [],
  };
  it('sets each node.param on a copy', () => {
    const g = applyCombo(graph, { 'fast.period': 5, 'slow.period': 60 });
    expect(g.nodes.map((n) => n.data)).toEqual([{ period: 5 }, { period: 60 }]);
    expect(graph.nodes[0]!.data).toEqual({ period: 10 }); // the original is left as it was
  });
  it('refuses a node the strategy no longer has', () => {
    expect(() => applyCombo(graph, { 'gone.period': 5 })).toThrow(
      'the strategy has no node "gone" any more: it changed since the run',
    );
  });
});
