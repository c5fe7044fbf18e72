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
