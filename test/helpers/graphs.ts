import { templateById } from '@algotrade/strategy';

/**
 * A strategy graph written compactly for tests: nodes as [id, type, params], edges as
 * [source, output, target, input]; positions all at the origin.
 */
export function graphOf(
  nodes: [id: string, type: string, data?: Record<string, unknown>][],
  edges: [source: string, sourceHandle: string, target: string, targetHandle: string][],
) {
  return {
    version: 1 as const,
    nodes: nodes.map(([id, type, data = {}]) => ({ id, type, data, position: { x: 0, y: 0 } })),
    edges: edges.map(([source, sourceHandle, target, targetHandle]) => ({
      id: `${source}.${sourceHandle}->${target}.${targetHandle}`,
      source,
      sourceHandle,
      target,
      targetHandle,
    })),
  };
}

/**
 * The same graph with its Close nodes reading another symbol's close (an Other symbol node): run on
 * bars of that very symbol, it must trade as the original does.
 */
export function viaOtherSymbol<G extends { nodes: { id: string; type: string; data?: object }[]; edges: object[] }>(
  graph: G,
  symbol: string,
): G {
  const closes = new Set(graph.nodes.filter((n) => n.type === 'price.close').map((n) => n.id));
  return {
    ...graph,
    nodes: graph.nodes.map((n) => (closes.has(n.id) ? { ...n, type: 'symbol.bar', data: { symbol } } : n)),
    edges: graph.edges.map((e) => (closes.has((e as { source: string }).source) ? { ...e, sourceHandle: 'close' } : e)),
  };
}

/**
 * Buy while output `a` is above output `b`, sell while below: the given nodes and edges, then the
 * comparisons (`above`, `below`) and the actions (`buy`, `sell`) on them.
 */
export const aboveBelow = (
  nodes: Parameters<typeof graphOf>[0],
  edges: Parameters<typeof graphOf>[1],
  [aNode, aOut]: [node: string, output: string],
  [bNode, bOut]: [node: string, output: string],
) =>
  graphOf(
    [...nodes, ['above', 'logic.greater'], ['below', 'logic.less'], ['buy', 'action.buy'], ['sell', 'action.sell']],
    [
      ...edges,
      [aNode, aOut, 'above', 'a'],
      [bNode, bOut, 'above', 'b'],
      [aNode, aOut, 'below', 'a'],
      [bNode, bOut, 'below', 'b'],
      ['above', 'value', 'buy', 'trigger'],
      ['below', 'value', 'sell', 'trigger'],
    ],
  );

/**
 * Long while the close is above the SMA(period) of a source node's close (`id`: another symbol, a higher
 * timeframe), short or flat below.
 */
export const aboveSmaOf = (id: string, source: [type: string, params: Record<string, unknown>], period: number) =>
  aboveBelow(
    [
      ['close', 'price.close'],
      [id, ...source],
      ['sma', 'indicator.sma', { period }],
    ],
    [[id, 'close', 'sma', 'value']],
    ['close', 'value'],
    ['sma', 'value'],
  );

/** Long while the close is above the SMA of another symbol's close, short or flat below (an Other symbol node). */
export const aboveOtherSma = (symbol: string, period = 3) => aboveSmaOf('ref', ['symbol.bar', { symbol }], period);

/**
 * A ladder in and out of a position: buy (the `buy` node's params: sizing, amount, maxEntries) while the
 * value is below `dipBelow`, close `trimPct` % while it is from `band[0]` to `band[1]`, close the rest above
 * `exitAbove`. The value is the close, or an indicator of it (`indicator`: its type and params). Its
 * action nodes are `dip`, `trim` and `out`.
 */
export const ladderGraph = (o: {
  dipBelow: number;
  band: [number, number];
  exitAbove: number;
  buy: Record<string, unknown>;
  trimPct: number;
  indicator?: [type: string, params: Record<string, unknown>];
}) => {
  const v: [string, string] = o.indicator ? ['ind', 'value'] : ['c', 'value'];
  return graphOf(
    [
      ['c', 'price.close'],
      ...(o.indicator ? [['ind', o.indicator[0], o.indicator[1]] as [string, string, Record<string, unknown>]] : []),
      ['kDip', 'constant', { value: o.dipBelow }],
      ['kLow', 'constant', { value: o.band[0] }],
      ['kHigh', 'constant', { value: o.band[1] }],
      ['kOut', 'constant', { value: o.exitAbove }],
      ['low', 'logic.less'],
      ['band', 'logic.between'],
      ['high', 'logic.greater'],
      ['dip', 'action.buy', o.buy],
      ['trim', 'action.close', { percent: o.trimPct }],
      ['out', 'action.close'],
    ],
    [
      ...(o.indicator ? [['c', 'value', 'ind', 'value'] as [string, string, string, string]] : []),
      [...v, 'low', 'a'],
      ['kDip', 'value', 'low', 'b'],
      [...v, 'band', 'value'],
      ['kLow', 'value', 'band', 'low'],
      ['kHigh', 'value', 'band', 'high'],
      [...v, 'high', 'a'],
      ['kOut', 'value', 'high', 'b'],
      ['low', 'value', 'dip', 'trigger'],
      ['band', 'value', 'trim', 'trigger'],
      ['high', 'value', 'out', 'trigger'],
    ],
  );
};

/**
 * A graph with rules at a distance (Stop loss / Take profit / Trailing stop at a distance) reading an
 * ATR of `period` bars: `rules` as [id, type, data]; the price nodes and the ATR are added once.
 */
export function withAtrRules<G extends { nodes: object[]; edges: object[] }>(
  graph: G,
  rules: [id: string, type: string, data?: Record<string, unknown>][],
  period = 14,
): G {
  const extra = graphOf(
    [
      ['atr-high', 'price.high'],
      ['atr-low', 'price.low'],
      ['atr-close', 'price.close'],
      ['atr', 'indicator.atr', { period }],
      ...rules,
    ],
    [
      ['atr-high', 'value', 'atr', 'high'],
      ['atr-low', 'value', 'atr', 'low'],
      ['atr-close', 'value', 'atr', 'close'],
      ...rules.map(([id]) => ['atr', 'value', id, 'distance'] as [string, string, string, string]),
    ],
  );
  return { ...graph, nodes: [...graph.nodes, ...extra.nodes], edges: [...graph.edges, ...extra.edges] };
}

/**
 * The SMA crossover at 3 and 8 bars with a stop loss and a take profit this tight (%): on 5-minute bars
 * many reach both in one bar (the detail timeframe's tests).
 */
export function tightCrossover(stop: number, target: number) {
  const g = structuredClone(templateById('sma-crossover')!.graph);
  g.nodes.find((n) => n.id === 'fast')!.data = { period: 3 };
  g.nodes.find((n) => n.id === 'slow')!.data = { period: 8 };
  g.nodes.push(
    { id: 'sl', type: 'risk.stop_loss', data: { percent: stop }, position: { x: 0, y: 0 } },
    { id: 'tp', type: 'risk.take_profit', data: { percent: target }, position: { x: 0, y: 0 } },
  );
  return g;
}

/** A strategy that always wants to buy (while the close is above 0), its buy node's data as given. */
export const alwaysBuying = (buy: Record<string, unknown> = {}) =>
  graphOf(
    [
      ['close', 'price.close'],
      ['zero', 'constant', { value: 0 }],
      ['up', 'logic.greater'],
      ['buy', 'action.buy', buy],
    ],
    [
      ['close', 'value', 'up', 'a'],
      ['zero', 'value', 'up', 'b'],
      ['up', 'value', 'buy', 'trigger'],
    ],
  );

/**
 * A strategy that buys while the close is above `level` (1e12: never, so every fill is someone else's),
 * with `extra` nodes beside it (risk rules, say).
 */
export const buysAbove = (level: number, extra: [id: string, type: string, data?: Record<string, unknown>][] = []) =>
  graphOf(
    [
      ['close', 'price.close'],
      ['level', 'constant', { value: level }],
      ['above', 'logic.greater'],
      ['buy', 'action.buy'],
      ...extra,
    ],
    [
      ['close', 'value', 'above', 'a'],
      ['level', 'value', 'above', 'b'],
      ['above', 'value', 'buy', 'trigger'],
    ],
  );

type EditableGraph = {
  nodes: { id: string; type: string; data: Record<string, unknown>; position?: { x: number; y: number } }[];
  edges: { id: string; source: string; sourceHandle?: string | null; target: string; targetHandle?: string | null }[];
};
const addNode = (g: EditableGraph, id: string, type: string, data: Record<string, unknown> = {}) => {
  if (!g.nodes.some((n) => n.id === id)) g.nodes.push({ id, type, data, position: { x: 0, y: 0 } });
};
const addEdge = (g: EditableGraph, source: string, sourceHandle: string, target: string, targetHandle: string) =>
  g.edges.push({
    id: `${source}.${sourceHandle}->${target}.${targetHandle}`,
    source,
    sourceHandle,
    target,
    targetHandle,
  });

/**
 * The graph with action `action` firing only while a Position node (`pos`) output `output` (long or short)
 * is `want`: its trigger and the gate go through an And node.
 */
export function gatedBy<G extends EditableGraph>(graph: G, action: string, output: 'long' | 'short', want: boolean): G {
  addNode(graph, 'pos', 'position.state');
  const into = graph.edges.find((e) => e.target === action && e.targetHandle === 'trigger')!;
  addNode(graph, `${action}-gate`, 'logic.and');
  into.target = `${action}-gate`;
  into.targetHandle = 'a';
  into.id = `${into.source}.${into.sourceHandle}->${into.target}.a`;
  if (want) addEdge(graph, 'pos', output, `${action}-gate`, 'b');
  else {
    addNode(graph, `${action}-not`, 'logic.not');
    addEdge(graph, 'pos', output, `${action}-not`, 'value');
    addEdge(graph, `${action}-not`, 'value', `${action}-gate`, 'b');
  }
  addEdge(graph, `${action}-gate`, 'value', action, 'trigger');
  return graph;
}

/**
 * The graph with a Close node (`exit`) firing when the Position node's (`pos`) outputs compare with
 * constants as given, any of them (`or`) or all (`and`).
 */
export function exitWhen<G extends EditableGraph>(
  graph: G,
  conditions: [
    output: 'profit_pct' | 'max_profit_pct' | 'minutes_held' | 'entry_price' | 'entries',
    op: '>' | '<',
    value: number,
  ][],
  join: 'or' | 'and' = 'or',
): G {
  addNode(graph, 'pos', 'position.state');
  addNode(graph, 'exit', 'action.close');
  let last = '';
  conditions.forEach(([output, op, value], k) => {
    addNode(graph, `c${k}`, 'constant', { value });
    addNode(graph, `cmp${k}`, op === '>' ? 'logic.greater' : 'logic.less');
    addEdge(graph, 'pos', output, `cmp${k}`, 'a');
    addEdge(graph, `c${k}`, 'value', `cmp${k}`, 'b');
    if (!last) last = `cmp${k}`;
    else {
      addNode(graph, `j${k}`, `logic.${join}`);
      addEdge(graph, last, 'value', `j${k}`, 'a');
      addEdge(graph, `cmp${k}`, 'value', `j${k}`, 'b');
      last = `j${k}`;
    }
  });
  addEdge(graph, last, 'value', 'exit', 'trigger');
  return graph;
}
