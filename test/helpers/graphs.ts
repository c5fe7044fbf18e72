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

/** Long while the close is above the SMA of another symbol's close, short or flat below (an Other symbol node). */
export const aboveOtherSma = (symbol: string, period = 3) =>
  graphOf(
    [
      ['close', 'price.close'],
      ['ref', 'symbol.bar', { symbol }],
      ['sma', 'indicator.sma', { period }],
      ['above', 'logic.greater'],
      ['below', 'logic.less'],
      ['buy', 'action.buy'],
      ['sell', 'action.sell'],
    ],
    [
      ['ref', 'close', 'sma', 'value'],
      ['close', 'value', 'above', 'a'],
      ['sma', 'value', 'above', 'b'],
      ['close', 'value', 'below', 'a'],
      ['sma', 'value', 'below', 'b'],
      ['above', 'value', 'buy', 'trigger'],
      ['below', 'value', 'sell', 'trigger'],
    ],
  );
