import { createHash } from 'node:crypto';
import { z } from 'zod';

/** React Flow JSON, the persisted form of a strategy. Extra UI fields are accepted and dropped. */
export const GRAPH_VERSION = 1;
export const LIMITS = { nodes: 500, edges: 2000 } as const;

const id = z.string().min(1).max(128);
export const GraphNodeSchema = z.object({
  id,
  type: z.string().min(1).max(64),
  data: z.record(z.string(), z.unknown()).optional().default({}),
  position: z.object({ x: z.number(), y: z.number() }).optional(),
});
export const GraphEdgeSchema = z.object({
  id,
  source: id,
  target: id,
  sourceHandle: z.string().max(64).nullish(),
  targetHandle: z.string().max(64).nullish(),
});
export const GraphSchema = z.object({
  version: z.literal(GRAPH_VERSION).optional(),
  nodes: z.array(GraphNodeSchema).max(LIMITS.nodes),
  edges: z.array(GraphEdgeSchema).max(LIMITS.edges),
});
export type Graph = z.infer<typeof GraphSchema>;
export type GraphNode = Graph['nodes'][number];
export type GraphEdge = Graph['edges'][number];

/** Only what React Flow needs to draw the graph again, plus the schema version. */
export function normaliseGraph(g: Graph): Graph {
  return {
    version: GRAPH_VERSION,
    nodes: g.nodes.map((n) => ({
      id: n.id,
      type: n.type,
      data: n.data ?? {},
      ...(n.position ? { position: n.position } : {}),
    })),
    edges: g.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      ...(e.sourceHandle ? { sourceHandle: e.sourceHandle } : {}),
      ...(e.targetHandle ? { targetHandle: e.targetHandle } : {}),
    })),
  };
}

function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x && typeof x === 'object')
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(x) ?? 'null';
}

/** Hash of what changes behaviour (types, params, wiring), not of positions: the compile-cache key. */
export function graphHash(g: Graph): string {
  const sem = {
    nodes: g.nodes.map((n) => ({ id: n.id, type: n.type, data: n.data ?? {} })),
    edges: g.edges.map((e) => ({ s: e.source, sh: e.sourceHandle ?? null, t: e.target, th: e.targetHandle ?? null })),
  };
  return createHash('sha256').update(canonical(sem)).digest('hex').slice(0, 32);
}
