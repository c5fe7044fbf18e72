// @ts-check
/**
 * Editing a strategy graph (React Flow JSON, as the API stores it) without a DOM: every function takes
 * a graph and returns a new one, so the editor keeps an undo history by keeping old graphs. The rules
 * a connection must follow are the compiler's (ports exist, kinds match, one edge per input, no cycle),
 * checked here too so the canvas can refuse a wrong wire where it is drawn.
 */

/** @typedef {{ name: string, kind: 'number' | 'boolean' }} Port */
/**
 * @typedef {{ type: string, category: string, label: string, description?: string, convention?: string,
 *   inputs: Port[], outputs: Port[], params: { properties: Record<string, ParamSchema> } }} NodeType
 */
/**
 * @typedef {{ type: 'integer' | 'number' | 'string' | 'boolean', title?: string, minimum?: number,
 *   maximum?: number, enum?: string[], default?: unknown, format?: string, pattern?: string }} ParamSchema
 */
/** @typedef {{ id: string, type: string, data: Record<string, unknown>, position: { x: number, y: number } }} GraphNode */
/** @typedef {{ id: string, source: string, sourceHandle: string, target: string, targetHandle: string }} GraphEdge */
/** @typedef {{ version?: number, nodes: GraphNode[], edges: GraphEdge[] }} Graph */

/** @returns {Graph} */
export function emptyGraph() {
  return { version: 1, nodes: [], edges: [] };
}

/** @param {NodeType[]} types @returns {Map<string, NodeType>} */
export function typeMap(types) {
  return new Map(types.map((t) => [t.type, t]));
}

/**
 * Whether a node type answers a palette search: every word of the query appears in its label, type
 * or description ("trend", "williams", "ma hull"); an empty query matches everything.
 * @param {NodeType} type @param {string} query
 */
export function matchesQuery(type, query) {
  const hay = `${type.label} ${type.type} ${type.description ?? ''}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

/** Each parameter's default, as the palette would set it. @param {NodeType} type */
export function defaultParams(type) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, schema] of Object.entries(type.params.properties ?? {}))
    if (schema.default !== undefined) out[name] = schema.default;
  return out;
}

/** A readable id not yet in the graph: `sma1`, `sma2`, ... @param {Graph} graph @param {string} type */
export function newNodeId(graph, type) {
  const stem = (type.split('.').pop() ?? 'node').replace(/[^a-z0-9]/gi, '') || 'node';
  const taken = new Set(graph.nodes.map((n) => n.id));
  for (let i = 1; ; i++) if (!taken.has(`${stem}${i}`)) return `${stem}${i}`;
}

/**
 * @param {Graph} graph @param {NodeType} type @param {{ x: number, y: number }} position
 * @returns {{ graph: Graph, id: string }}
 */
export function addNode(graph, type, position) {
  const id = newNodeId(graph, type.type);
  const node = {
    id,
    type: type.type,
    data: defaultParams(type),
    position: { x: Math.round(position.x), y: Math.round(position.y) },
  };
  return { graph: { ...graph, nodes: [...graph.nodes, node] }, id };
}

/** @param {Graph} graph @param {string} id @param {{ x: number, y: number }} position @returns {Graph} */
export function moveNode(graph, id, position) {
  const pos = { x: Math.round(position.x), y: Math.round(position.y) };
  return { ...graph, nodes: graph.nodes.map((n) => (n.id === id ? { ...n, position: pos } : n)) };
}

/** The node and every edge touching it. @param {Graph} graph @param {string} id @returns {Graph} */
export function removeNode(graph, id) {
  return {
    ...graph,
    nodes: graph.nodes.filter((n) => n.id !== id),
    edges: graph.edges.filter((e) => e.source !== id && e.target !== id),
  };
}

/** @param {Graph} graph @param {string} id @returns {Graph} */
export function removeEdge(graph, id) {
  return { ...graph, edges: graph.edges.filter((e) => e.id !== id) };
}

/** @param {Graph} graph @param {string} id @param {string} name @param {unknown} value @returns {Graph} */
export function setParam(graph, id, name, value) {
  return { ...graph, nodes: graph.nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, [name]: value } } : n)) };
}

/**
 * Wires `from` (an output) to `to` (an input). A wire into an input that already has one replaces it,
 * as dropping a new wire on a connected port does in a node editor.
 * @param {Graph} graph @param {Map<string, NodeType>} types
 * @param {{ node: string, handle: string }} from @param {{ node: string, handle: string }} to
 * @returns {{ graph: Graph, error?: undefined } | { error: string, graph?: undefined }}
 */
export function connect(graph, types, from, to) {
  const src = graph.nodes.find((n) => n.id === from.node);
  const dst = graph.nodes.find((n) => n.id === to.node);
  if (!src || !dst) return { error: 'both ends must be nodes of this graph' };
  if (src.id === dst.id) return { error: 'a node cannot feed itself' };
  const out = types.get(src.type)?.outputs.find((p) => p.name === from.handle);
  const inp = types.get(dst.type)?.inputs.find((p) => p.name === to.handle);
  if (!out) return { error: `${src.id} has no output "${from.handle}"` };
  if (!inp) return { error: `${dst.id} has no input "${to.handle}"` };
  if (out.kind !== inp.kind)
    return { error: `${src.id}.${out.name} is a ${out.kind}; ${dst.id}.${inp.name} takes a ${inp.kind}` };
  if (reaches(graph, dst.id, src.id)) return { error: `the wire would close a cycle through ${dst.id} and ${src.id}` };
  const edge = {
    id: `${src.id}.${out.name}->${dst.id}.${inp.name}`,
    source: src.id,
    sourceHandle: out.name,
    target: dst.id,
    targetHandle: inp.name,
  };
  const kept = graph.edges.filter((e) => !(e.target === dst.id && e.targetHandle === inp.name));
  return { graph: { ...graph, edges: [...kept, edge] } };
}

/** Whether `to` can be reached from `from` along edges. @param {Graph} graph @param {string} from @param {string} to */
function reaches(graph, from, to) {
  const seen = new Set([from]);
  const stack = [from];
  while (stack.length) {
    const at = /** @type {string} */ (stack.pop());
    if (at === to) return true;
    for (const e of graph.edges)
      if (e.source === at && !seen.has(e.target)) {
        seen.add(e.target);
        stack.push(e.target);
      }
  }
  return false;
}

/**
 * A parameter typed into a form, read as its schema says: a number within its bounds, one of its
 * choices, or a boolean. The message names the bound, as the compiler's would.
 * @param {ParamSchema} schema @param {string | boolean} raw
 * @returns {{ value: unknown, error?: undefined } | { error: string, value?: undefined }}
 */
export function readParam(schema, raw) {
  if (schema.type === 'boolean') return { value: raw === true || raw === 'true' };
  if (schema.enum) {
    return schema.enum.includes(String(raw)) ? { value: String(raw) } : { error: `one of ${schema.enum.join(', ')}` };
  }
  if (schema.type === 'string' && schema.format === 'symbol') {
    // a market symbol (an Other symbol node's): upper-case letters, digits and ._:-
    const sym = String(raw).trim().toUpperCase();
    return new RegExp(schema.pattern ?? '.').test(sym) ? { value: sym } : { error: 'a symbol such as ETHUSD' };
  }
  if (schema.type === 'string') return { value: String(raw) };
  const text = String(raw).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) return { error: 'a number' };
  if (schema.type === 'integer' && !Number.isInteger(n)) return { error: 'a whole number' };
  if (schema.minimum !== undefined && n < schema.minimum) return { error: `at least ${schema.minimum}` };
  if (schema.maximum !== undefined && n > schema.maximum) return { error: `at most ${schema.maximum}` };
  return { value: n };
}

/**
 * The compile report's errors by node, for drawing them on the canvas; errors about edges are put on
 * the edge's target node, and those about the whole graph under `''`.
 * @param {Graph} graph
 * @param {{ errors: { nodeId?: string, edgeId?: string, code: string, message: string }[] }} report
 * @returns {Map<string, string[]>}
 */
export function errorsByNode(graph, report) {
  /** @type {Map<string, string[]>} */
  const out = new Map();
  for (const e of report.errors) {
    const key = e.nodeId ?? graph.edges.find((x) => x.id === e.edgeId)?.target ?? '';
    out.set(key, [...(out.get(key) ?? []), e.message]);
  }
  return out;
}

/** The API's limit on one sweep's combinations. */
export const MAX_SWEEP = 500;

/** A range as typed: `2..30` (step 1) or `0.5..3:0.5`. */
const RANGE = /^(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)(?:\s*:\s*(\d+(?:\.\d+)?))?$/;

/**
 * A sweep grid as typed, `fast.period=5,10,15; slow.period=20..200:5`, read into the API's `params`
 * (`{"fast.period":[5,10,15], "slow.period":{"from":20,"to":200,"step":5}}`), each value (a range's
 * ends) checked against its node's parameter schema. The grid is no larger than the API runs whole,
 * unless `sample` points of it are to be drawn at random.
 * @param {string} textIn @param {Graph} graph @param {Map<string, NodeType>} types @param {number} [sample]
 * @returns {{ params: Record<string, (number | string)[] | {from: number, to: number, step: number}>, combinations: number, error?: undefined } | { error: string, params?: undefined }}
 */
export function parseSweep(textIn, graph, types, sample = 0) {
  /** @type {Record<string, (number | string)[] | {from: number, to: number, step: number}>} */
  const params = {};
  const parts = textIn
    .split(/[;\n]/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) return { error: 'name at least one parameter: node.param=value,value,…' };
  let combinations = 1;
  for (const part of parts) {
    const m = /^([^.=\s]+)\.([^.=\s]+)\s*=\s*(.+)$/.exec(part);
    if (!m) return { error: `"${part}": write node.param=value,value,…` };
    const [nodeId, param, list] = [m[1] ?? '', m[2] ?? '', m[3] ?? ''];
    const node = graph.nodes.find((n) => n.id === nodeId);
    if (!node) return { error: `"${part}": there is no node ${nodeId}` };
    const schema = types.get(node.type)?.params.properties?.[param];
    if (!schema) return { error: `"${part}": ${nodeId} has no parameter ${param}` };
    const key = `${nodeId}.${param}`;
    if (params[key]) return { error: `${key} is named twice` };
    const range = RANGE.exec(list.trim());
    if (range) {
      const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
      for (const end of [range[1] ?? '', range[2] ?? '']) {
        const r = readParam(schema, end);
        if (r.error) return { error: `${key}: "${end}" must be ${r.error}` };
      }
      if (!(to >= from) || !(step > 0)) return { error: `${key}: a range goes from low to high by a step above 0` };
      params[key] = { from, to, step };
      combinations *= Math.floor((to - from) / step + 1e-9) + 1;
      continue;
    }
    const values = [];
    for (const raw of list.split(',').map((v) => v.trim())) {
      const r = readParam(schema, raw);
      if (r.error) return { error: `${nodeId}.${param}: "${raw}" must be ${r.error}` };
      values.push(/** @type {number | string} */ (r.value));
    }
    const unique = [...new Set(values)];
    params[key] = unique;
    combinations *= unique.length;
  }
  if (combinations > MAX_SWEEP && !sample)
    return { error: `${combinations} combinations; at most ${MAX_SWEEP}, or a random sample of them` };
  return { params, combinations };
}

/**
 * A first grid to offer: up to two whole-number parameters of the graph's indicators, each at half,
 * once and twice its value (within its bounds). Empty when the graph has none.
 * @param {Graph} graph @param {Map<string, NodeType>} types
 */
export function suggestSweep(graph, types) {
  const parts = [];
  for (const n of graph.nodes) {
    const t = types.get(n.type);
    if (t?.category !== 'indicator') continue;
    for (const [name, schema] of Object.entries(t.params.properties ?? {})) {
      if (schema.type !== 'integer' || parts.length >= 2) continue;
      const v = Number(n.data?.[name] ?? schema.default);
      if (!Number.isFinite(v)) continue;
      const lo = schema.minimum ?? 1;
      const hi = schema.maximum ?? Infinity;
      const vals = [...new Set([Math.round(v / 2), v, v * 2].map((x) => Math.min(hi, Math.max(lo, x))))];
      parts.push(`${n.id}.${name}=${vals.join(',')}`);
    }
  }
  return parts.join('; ');
}

/**
 * Places the nodes that have no position (a graph written by hand or by a script through the API):
 * one column per depth (a node sits one column right of its deepest input), rows in graph order,
 * below nothing that already has a place. Nodes with a position keep it.
 * @param {Graph} graph @returns {Graph}
 */
export function layoutMissing(graph) {
  const missing = graph.nodes.filter(
    (n) => !n.position || !Number.isFinite(n.position.x) || !Number.isFinite(n.position.y),
  );
  if (!missing.length) return graph;
  /** @type {Map<string, number>} */
  const depth = new Map();
  const inputsOf = (/** @type {string} */ id) => graph.edges.filter((e) => e.target === id).map((e) => e.source);
  /** @type {(id: string, seen?: Set<string>) => number} */
  const depthOf = (id, seen = new Set()) => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle: the compiler names it; here it only needs a column
    seen.add(id);
    const d = Math.max(-1, ...inputsOf(id).map((s) => depthOf(s, seen))) + 1;
    depth.set(id, d);
    return d;
  };
  const placed = graph.nodes.filter((n) => !missing.includes(n));
  const top = placed.length ? Math.max(...placed.map((n) => n.position.y)) + 140 : 40;
  /** @type {Map<number, number>} */
  const rows = new Map();
  /** @type {Map<string, { x: number, y: number }>} */
  const at = new Map(
    missing.map((n) => {
      const d = depthOf(n.id);
      const row = rows.get(d) ?? 0;
      rows.set(d, row + 1);
      return /** @type {[string, { x: number, y: number }]} */ ([n.id, { x: 40 + d * 240, y: top + row * 120 }]);
    }),
  );
  return { ...graph, nodes: graph.nodes.map((n) => ({ ...n, position: at.get(n.id) ?? n.position })) };
}

/**
 * A strategy file's text as the API's create body: an export (`{name, description?, graph}`) or a
 * bare graph (`{nodes, edges}`, named after the file). What is not JSON, or holds no graph, is
 * refused with the reason; the API checks the graph itself.
 * @param {string} text @param {string} fileName
 * @returns {{ name: string, description?: string, graph: unknown }}
 */
export function strategyFromFile(text, fileName) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${fileName} is not JSON: ${/** @type {Error} */ (e).message}`);
  }
  const graph = parsed && typeof parsed === 'object' && 'graph' in parsed ? parsed.graph : parsed;
  if (!graph || typeof graph !== 'object' || !Array.isArray(graph.nodes) || !Array.isArray(graph.edges))
    throw new Error(`${fileName} holds no strategy graph (nodes and edges)`);
  const name =
    typeof parsed.name === 'string' && parsed.name.trim()
      ? parsed.name.trim().slice(0, 200)
      : fileName.replace(/(\.algotrade)?\.json$/i, '').slice(0, 200) || 'Imported strategy';
  return {
    name,
    ...(typeof parsed.description === 'string' ? { description: parsed.description.slice(0, 2000) } : {}),
    graph,
  };
}

/**
 * A copy of `graph` with a sweep's or walk-forward's parameters set (`{"fast.period": 10, ...}`).
 * A key naming a node the graph no longer has is refused: the strategy changed since the run.
 * @param {Graph} graph @param {Record<string, unknown>} combo @returns {Graph}
 */
export function applyCombo(graph, combo) {
  const g = structuredClone(graph);
  for (const [key, value] of Object.entries(combo)) {
    const dot = key.indexOf('.');
    const node = g.nodes.find((n) => n.id === key.slice(0, dot));
    if (dot < 1 || !node)
      throw new Error(`the strategy has no node "${key.slice(0, dot)}" any more: it changed since the run`);
    node.data = { ...(node.data ?? {}), [key.slice(dot + 1)]: value };
  }
  return g;
}

/**
 * What changed in behaviour from graph `a` to graph `b`, one line each: nodes added or removed,
 * parameters changed, wires added or removed (positions are layout, not behaviour, and are left out).
 * @param {Graph} a @param {Graph} b @returns {string[]}
 */
export function graphDiff(a, b) {
  /** @type {string[]} */
  const out = [];
  const before = new Map(a.nodes.map((n) => [n.id, n]));
  const after = new Map(b.nodes.map((n) => [n.id, n]));
  const show = (/** @type {unknown} */ v) => (typeof v === 'string' ? v : JSON.stringify(v));
  for (const [id, n] of after) {
    const old = before.get(id);
    if (!old) {
      out.push(`added ${id} (${n.type})`);
      continue;
    }
    if (old.type !== n.type) out.push(`${id}: ${old.type} → ${n.type}`);
    const keys = new Set([...Object.keys(old.data ?? {}), ...Object.keys(n.data ?? {})]);
    for (const k of [...keys].sort()) {
      const x = old.data?.[k];
      const y = n.data?.[k];
      if (JSON.stringify(x) !== JSON.stringify(y))
        out.push(`${id}.${k}: ${x === undefined ? 'default' : show(x)} → ${y === undefined ? 'default' : show(y)}`);
    }
  }
  for (const [id, n] of before) if (!after.has(id)) out.push(`removed ${id} (${n.type})`);
  const wire = (/** @type {GraphEdge} */ e) => `${e.source}.${e.sourceHandle} → ${e.target}.${e.targetHandle}`;
  const wa = new Set(a.edges.map(wire));
  const wb = new Set(b.edges.map(wire));
  for (const w of wb) if (!wa.has(w)) out.push(`wired ${w}`);
  for (const w of wa) if (!wb.has(w)) out.push(`unwired ${w}`);
  return out;
}
