import { GraphSchema, type Graph, type GraphNode } from './graph.ts';
import { registry as defaultRegistry } from './registry.ts';
import { CompiledPlan, RISK_RULE, type PlanNode } from './plan.ts';
import type { NodeType, Params } from './types.ts';
import { SYMBOL_PATTERN } from '@algotrade/core';
import { BAR_SLOT_COUNT, TIMELESS } from './types.ts';
import { generateCandles, toColumns } from './sample-data.ts';

export interface CompileIssue {
  nodeId?: string;
  edgeId?: string;
  code: string;
  message: string;
}

export interface CompilationReport {
  ok: boolean;
  errors: CompileIssue[];
  warnings: CompileIssue[];
  order: string[];
  /** bars of the strategy's own timeframe before every action's inputs are defined */
  warmup: number;
  /** and the time higher timeframes need on top of that (0 without any): their bars complete with time */
  warmupSeconds: number;
}

export interface CompileResult {
  report: CompilationReport;
  plan?: CompiledPlan;
}

const UI_KEYS = new Set(['label', 'color', 'note', 'notes', 'description', 'collapsed']);

function checkParams(node: GraphNode, t: NodeType, errors: CompileIssue[], warnings: CompileIssue[]): Params {
  const data = node.data ?? {};
  const params: Params = {};
  for (const p of t.params) {
    const raw = data[p.name];
    if (raw === undefined || raw === null) {
      params[p.name] = p.default;
      continue;
    }
    if (p.type === 'symbol') {
      const sym = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
      if (!SYMBOL_PATTERN.test(sym))
        errors.push({
          nodeId: node.id,
          code: 'INVALID_PARAM',
          message: `${t.label}: ${p.name} must be a symbol such as ETHUSD (letters, digits and ._:-, at most 40; got ${JSON.stringify(raw)})`,
        });
      else params[p.name] = sym;
      continue;
    }
    if (p.type === 'enum') {
      if (typeof raw !== 'string' || !p.values.includes(raw))
        errors.push({
          nodeId: node.id,
          code: 'INVALID_PARAM',
          message: `${t.label}: ${p.name} must be one of ${p.values.join(', ')} (got ${JSON.stringify(raw)})`,
        });
      else params[p.name] = raw;
      continue;
    }
    const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isFinite(n))
      errors.push({
        nodeId: node.id,
        code: 'INVALID_PARAM',
        message: `${t.label}: ${p.name} must be a number (got ${JSON.stringify(raw)})`,
      });
    else if (p.type === 'integer' && !Number.isInteger(n))
      errors.push({
        nodeId: node.id,
        code: 'INVALID_PARAM',
        message: `${t.label}: ${p.name} must be a whole number (got ${n})`,
      });
    else if (n < p.min || n > p.max)
      errors.push({
        nodeId: node.id,
        code: 'PARAM_OUT_OF_RANGE',
        message: `${t.label}: ${p.name} must be between ${p.min} and ${p.max} (got ${n})`,
      });
    else params[p.name] = n;
  }
  const known = new Set(t.params.map((p) => p.name));
  for (const k of Object.keys(data))
    if (!known.has(k) && !UI_KEYS.has(k))
      warnings.push({
        nodeId: node.id,
        code: 'UNKNOWN_PARAM',
        message: `${t.label} has no parameter "${k}"; it is ignored`,
      });
  return params;
}

/** Finds one cycle among the given nodes and returns its node ids in order. */
function findCycle(ids: string[], next: Map<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const dfs = (u: string): string[] | null => {
    state.set(u, 1);
    stack.push(u);
    for (const w of next.get(u) ?? []) {
      if (state.get(w) === 1) return stack.slice(stack.indexOf(w));
      if (!state.has(w)) {
        const c = dfs(w);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(u, 2);
    return null;
  };
  for (const u of ids)
    if (!state.has(u)) {
      const c = dfs(u);
      if (c) return c;
    }
  return ids;
}

/**
 * Validates a React Flow graph and compiles it into a plan of flat, typed steps. Never throws:
 * every problem is an entry in the report, naming the node or edge a UI should highlight.
 */
export function compileGraph(input: unknown, reg: ReadonlyMap<string, NodeType> = defaultRegistry): CompileResult {
  const errors: CompileIssue[] = [];
  const warnings: CompileIssue[] = [];
  const fail = (): CompileResult => ({
    report: { ok: false, errors, warnings, order: [], warmup: 0, warmupSeconds: 0 },
  });
  try {
    const parsed = GraphSchema.safeParse(input);
    if (!parsed.success) {
      for (const i of parsed.error.issues.slice(0, 20)) {
        const [kind, idx] = i.path as [string, number];
        const item = (input as Graph | undefined)?.[kind as 'nodes']?.[idx] as { id?: unknown } | undefined;
        const ref = typeof item?.id === 'string' ? { [kind === 'edges' ? 'edgeId' : 'nodeId']: item.id } : {};
        errors.push({ ...ref, code: 'INVALID_GRAPH', message: `${i.path.join('.') || 'graph'}: ${i.message}` });
      }
      return fail();
    }
    return compileValid(parsed.data, reg, errors, warnings);
  } catch (e) {
    errors.push({ code: 'INTERNAL', message: `the compiler failed unexpectedly: ${(e as Error).message}` });
    return fail();
  }
}

/**
 * A node's timeframe from its inputs': a higher-timeframe source's own; the strategy's bars (0) for
 * actions, risk nodes, bar sources and nodes reading two timeframes; the one timeframe its inputs share
 * besides constants; TIMELESS for constants and nodes reading only them.
 */
function timeframeOf(t: NodeType, params: Params, inputs: number[]): number {
  if (t.timeframe) return t.timeframe(params);
  if (t.category === 'action' || t.category === 'risk') return 0;
  if (inputs.length === 0) return t.timeless ? TIMELESS : 0;
  const up = new Set(inputs.filter((x) => x !== TIMELESS));
  return up.size === 0 ? TIMELESS : up.size === 1 ? [...up][0]! : 0;
}

function compileValid(
  g: Graph,
  reg: ReadonlyMap<string, NodeType>,
  errors: CompileIssue[],
  warnings: CompileIssue[],
): CompileResult {
  const fail = (): CompileResult => ({
    report: { ok: false, errors, warnings, order: [], warmup: 0, warmupSeconds: 0 },
  });
  const nodes = new Map<string, { node: GraphNode; type?: NodeType; params: Params; index: number }>();
  g.nodes.forEach((node, index) => {
    if (nodes.has(node.id)) {
      errors.push({ nodeId: node.id, code: 'DUPLICATE_ID', message: `two nodes have the id "${node.id}"` });
      return;
    }
    const type = reg.get(node.type);
    if (!type) errors.push({ nodeId: node.id, code: 'UNKNOWN_NODE_TYPE', message: `unknown node type "${node.type}"` });
    nodes.set(node.id, { node, type, params: type ? checkParams(node, type, errors, warnings) : {}, index });
  });

  // wiring: input port -> (source node, output port)
  const wires = new Map<string, Map<string, { from: string; port: string }>>();
  const next = new Map<string, string[]>();
  const edgeIds = new Set<string>();
  for (const e of g.edges) {
    if (edgeIds.has(e.id))
      errors.push({ edgeId: e.id, code: 'DUPLICATE_ID', message: `two edges have the id "${e.id}"` });
    edgeIds.add(e.id);
    const s = nodes.get(e.source);
    const t = nodes.get(e.target);
    if (!s || !t) {
      errors.push({
        edgeId: e.id,
        code: 'EDGE_UNKNOWN_NODE',
        message: `edge connects a node that does not exist (${!s ? e.source : e.target})`,
      });
      continue;
    }
    if (!s.type || !t.type) continue;
    const outName = e.sourceHandle ?? (s.type.outputs.length === 1 ? s.type.outputs[0]!.name : undefined);
    const inName = e.targetHandle ?? (t.type.inputs.length === 1 ? t.type.inputs[0]!.name : undefined);
    const out = s.type.outputs.find((p) => p.name === outName);
    const inp = t.type.inputs.find((p) => p.name === inName);
    if (!out) {
      errors.push({
        edgeId: e.id,
        code: 'UNKNOWN_PORT',
        message: `${s.type.label} (${e.source}) has no output "${outName ?? '(none given)'}"; outputs: ${s.type.outputs.map((p) => p.name).join(', ') || 'none'}`,
      });
      continue;
    }
    if (!inp) {
      errors.push({
        edgeId: e.id,
        code: 'UNKNOWN_PORT',
        message: `${t.type.label} (${e.target}) has no input "${inName ?? '(none given)'}"; inputs: ${t.type.inputs.map((p) => p.name).join(', ') || 'none'}`,
      });
      continue;
    }
    if (out.kind !== inp.kind) {
      errors.push({
        edgeId: e.id,
        code: 'PORT_KIND_MISMATCH',
        message: `${s.type.label}.${out.name} is a ${out.kind} but ${t.type.label}.${inp.name} needs a ${inp.kind}`,
      });
      continue;
    }
    let w = wires.get(e.target);
    if (!w) wires.set(e.target, (w = new Map()));
    if (w.has(inp.name)) {
      errors.push({
        edgeId: e.id,
        code: 'INPUT_ALREADY_CONNECTED',
        message: `${t.type.label} (${e.target}) input "${inp.name}" already has an edge`,
      });
      continue;
    }
    w.set(inp.name, { from: e.source, port: out.name });
    if (!next.has(e.source)) next.set(e.source, []);
    next.get(e.source)!.push(e.target);
  }

  for (const [id, n] of nodes) {
    if (!n.type) continue;
    for (const p of n.type.inputs)
      if (!wires.get(id)?.has(p.name))
        errors.push({
          nodeId: id,
          code: 'MISSING_INPUT',
          message: `${n.type.label} (${id}) needs its "${p.name}" input connected`,
        });
  }

  const actions = [...nodes.values()].filter((n) => n.type?.category === 'action');
  // the nodes that act: actions, and risk rules (which may read a value, such as a stop's distance)
  const acting = [...nodes.values()].filter((n) => n.type?.category === 'action' || n.type?.category === 'risk');
  if (nodes.size > 0 && actions.length === 0)
    errors.push({ code: 'NO_ACTION', message: 'the strategy has no buy, sell or close node, so it can never trade' });
  if (nodes.size === 0) errors.push({ code: 'EMPTY_GRAPH', message: 'the graph has no nodes' });
  // a risk rule is one level, one time or one cooldown: a second node of a risk type is a mistake, not a rule
  // (a stop loss at a percent and one at a distance are the same rule twice)
  const riskSeen = new Map<string, string>();
  for (const [id, n] of nodes) {
    if (n.type?.category !== 'risk') continue;
    const rule = RISK_RULE[n.type.type] ?? n.type.type;
    const first = riskSeen.get(rule);
    if (first === undefined) riskSeen.set(rule, id);
    else
      errors.push({
        nodeId: id,
        code: 'DUPLICATE_RISK_NODE',
        message: `${n.type.label} (${id}): the graph already has one (${first}); a strategy has at most one of each risk rule`,
      });
  }
  // an ROI table's steps come in order of time held
  for (const [id, n] of nodes) {
    if (n.type?.type !== 'risk.roi_table') continue;
    const times = [1, 2, 3].map((k) => n.params[`after${k}`] as number).filter((m) => m > 0);
    if (times.some((m, k) => k > 0 && m <= times[k - 1]!))
      errors.push({
        nodeId: id,
        code: 'INVALID_PARAM',
        message: `${n.type.label} (${id}): its steps' minutes must grow (after1 < after2 < after3; 0: unused), got ${times.join(', ')}`,
      });
  }
  // a take-profit ladder shares out at most the whole position (its steps go in order of their gains)
  for (const [id, n] of nodes) {
    if (n.type?.type !== 'risk.take_profit_ladder') continue;
    const shares = [1, 2, 3].map((k) => n.params[`share${k}`] as number).filter((s) => s > 0);
    const total = shares.reduce((a, b) => a + b, 0);
    const problem = !shares.length
      ? 'no step has a share (share1, share2 or share3 above 0)'
      : total > 100 + 1e-9
        ? `its shares add up to ${total} %, more than the whole position (100)`
        : '';
    if (problem) errors.push({ nodeId: id, code: 'INVALID_PARAM', message: `${n.type.label} (${id}): ${problem}` });
  }
  // sizing by risk needs the distance to the stop: the graph's stop loss (at a percent or a distance)
  const hasStop = riskSeen.has('stop');
  for (const [id, n] of nodes)
    if (n.type?.category === 'action' && n.params.sizing === 'risk_pct' && !hasStop)
      errors.push({
        nodeId: id,
        code: 'INVALID_PARAM',
        message: `${n.type.label} (${id}) sizes by risk: add a stop loss node (at a percent or at a distance), whose distance sets the size`,
      });

  // deterministic topological order: Kahn's algorithm, ties broken by position in the input
  const indeg = new Map<string, number>();
  for (const id of nodes.keys()) indeg.set(id, 0);
  for (const [to, w] of wires) indeg.set(to, (indeg.get(to) ?? 0) + w.size);
  const ready = [...nodes.values()].filter((n) => indeg.get(n.node.id) === 0).sort((a, b) => a.index - b.index);
  const order: string[] = [];
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n.node.id);
    const outs = next.get(n.node.id) ?? [];
    let added = false;
    for (const t of outs) {
      const d = indeg.get(t)! - 1;
      indeg.set(t, d);
      if (d === 0) {
        ready.push(nodes.get(t)!);
        added = true;
      }
    }
    if (added) ready.sort((a, b) => a.index - b.index);
  }
  if (order.length < nodes.size) {
    const left = [...nodes.keys()].filter((id) => !order.includes(id));
    const cycle = findCycle(left, next);
    errors.push({
      nodeId: cycle[0],
      code: 'CYCLE',
      message: `the graph has a cycle: ${[...cycle, cycle[0]].join(' -> ')}`,
    });
  }

  // nodes that feed no action nor risk rule do nothing (risk nodes act on their own)
  const useful = new Set<string>();
  const prev = new Map<string, string[]>();
  for (const [to, w] of wires) for (const { from } of w.values()) prev.set(to, [...(prev.get(to) ?? []), from]);
  const stack = acting.map((a) => a.node.id);
  while (stack.length) {
    const u = stack.pop()!;
    if (useful.has(u)) continue;
    useful.add(u);
    stack.push(...(prev.get(u) ?? []));
  }
  for (const [id, n] of nodes)
    if (n.type && n.type.category !== 'risk' && !useful.has(id))
      warnings.push({
        nodeId: id,
        code: 'UNREACHABLE_NODE',
        message: `${n.type.label} (${id}) does not lead to any action`,
      });

  if (errors.length) return fail();

  // slots: bar fields first, then every node output. Each node also gets a timeframe: 0 for the
  // strategy's bars, a higher timeframe's seconds for a node fed only by that timeframe (it runs once per
  // such bar), TIMELESS for constants and what is computed from them alone (they run wherever read).
  // Warm-ups: bars of the strategy's timeframe, plus seconds for higher timeframes (their bars complete
  // with time, whatever the strategy's bar interval).
  let slot = BAR_SLOT_COUNT;
  const outSlots = new Map<string, Record<string, number>>();
  const warm = new Map<string, { bars: number; secs: number; htf: number }>();
  const tfOf = new Map<string, number>();
  const planNodes: PlanNode[] = [];
  for (const id of order) {
    const n = nodes.get(id)!;
    const t = n.type!;
    const outs: Record<string, number> = {};
    for (const p of t.outputs) outs[p.name] = t.barSlot !== undefined ? t.barSlot : slot++;
    outSlots.set(id, outs);
    const from = t.inputs.map((p) => wires.get(id)!.get(p.name)!.from);
    const inputs = t.inputs.map((p) => {
      const w = wires.get(id)!.get(p.name)!;
      return outSlots.get(w.from)![w.port]!;
    });
    const tf = timeframeOf(
      t,
      n.params,
      from.map((f) => tfOf.get(f)!),
    );
    tfOf.set(id, tf);
    const up = from.map((f) => warm.get(f)!);
    const own = t.warmup(n.params);
    if (tf > 0) {
      // counted in that timeframe's bars: the value is there once that many and one more have completed
      const htf = Math.max(0, ...up.map((w) => w.htf)) + own;
      warm.set(id, { bars: 0, secs: (htf + 1) * tf, htf });
    } else {
      const bars = Math.max(0, ...up.map((w) => w.bars)) + own;
      warm.set(id, { bars, secs: Math.max(0, ...up.map((w) => w.secs)), htf: bars });
    }
    planNodes.push({
      id,
      type: t,
      params: n.params,
      inputs,
      outputs: t.outputs.map((p) => outs[p.name]!),
      timeframe: tf,
    });
  }
  // what the actions and the risk rules read (a stop's distance) is defined from the warm-up on
  const warmup = Math.max(0, ...acting.map((a) => warm.get(a.node.id)?.bars ?? 0));
  const warmupSeconds = Math.max(0, ...acting.map((a) => warm.get(a.node.id)?.secs ?? 0));
  const plan = new CompiledPlan(planNodes, slot, warmup, warmupSeconds);

  // a test run on generated data must not throw nor feed undefined values into actions
  try {
    // one-minute bars, or coarser when higher timeframes need weeks to warm up (a few thousand bars at most)
    const stepSec = Math.max(60, Math.ceil(warmupSeconds / 4000 / 60) * 60);
    const first = warmup + Math.ceil(warmupSeconds / stepSec);
    const inst = plan.instantiate(64, stepSec);
    const count = Math.max(300, first * 2 + 50);
    const bars = toColumns(generateCandles(count, 7, undefined, stepSec * 1000));
    // other symbols: walks of their own on the same bar times (aligned as they are)
    bars.others = plan.symbols.flatMap((_s, k) => {
      const o = toColumns(generateCandles(count, 11 + k, undefined, stepSec * 1000));
      return [o.open, o.high, o.low, o.close, o.volume];
    });
    let bad: string | undefined;
    inst.run(bars, new Int32Array(bars.length), 0, bars.length, (start, n) => {
      for (let j = Math.max(0, first - start); j < n && !bad; j++)
        for (const a of plan.actions) if (Number.isNaN(inst.cols[a.triggerSlot]![j]!)) bad = a.nodeId;
    });
    if (bad) {
      errors.push({
        nodeId: bad,
        code: 'UNDEFINED_INPUT',
        message: `${bad} receives an undefined value after warm-up`,
      });
      return fail();
    }
  } catch (e) {
    errors.push({
      code: 'TEST_RUN_FAILED',
      message: `running the strategy on sample data failed: ${(e as Error).message}`,
    });
    return fail();
  }
  return { report: { ok: true, errors, warnings, order, warmup, warmupSeconds }, plan };
}
