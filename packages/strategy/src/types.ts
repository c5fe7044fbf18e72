/** Values on ports: numbers (NaN while an indicator warms up) or booleans stored as 1/0. */
export type PortKind = 'number' | 'boolean';

export interface PortSpec {
  name: string;
  kind: PortKind;
}

export type ParamSpec =
  | { name: string; type: 'integer' | 'number'; default: number; min: number; max: number; label?: string }
  | { name: string; type: 'enum'; default: string; values: readonly string[]; label?: string }
  /** a market symbol (letters, digits and ._:-; stored upper-case) */
  | { name: string; type: 'symbol'; default: string; label?: string };

export type Category = 'source' | 'indicator' | 'math' | 'logic' | 'action' | 'risk';

/** Bar fields live in fixed slots of the value array, before every node output. */
export const BAR_SLOTS = { open: 0, high: 1, low: 2, close: 3, volume: 4, time: 5 } as const;
export const BAR_SLOT_COUNT = 6;

/** A node's timeframe when it depends on no bar (a constant): it runs at whichever timeframe reads it. */
export const TIMELESS = -1;

export type Params = Record<string, number | string>;

/**
 * One incremental step over a block of `n` consecutive bars: read input columns `c[inputs[i]]`,
 * write output columns `c[outputs[j]]`, positions 0..n-1; state carries over to the next block.
 * A live tick is a block of one. O(1) per bar (CCI's mean deviation is O(period), as in TA-Lib),
 * no allocation per bar; the tight loop per node is what makes compiled graphs fast.
 */
export type Step = (c: Float64Array[], n: number) => void;

export interface NodeIo {
  inputs: readonly number[];
  outputs: readonly number[];
}

/** A node type, declared once as data for both the palette and the compiler. */
export interface NodeType {
  type: string;
  version: 1;
  category: Category;
  label: string;
  description: string;
  inputs: readonly PortSpec[];
  outputs: readonly PortSpec[];
  params: readonly ParamSpec[];
  /** bars before the first output is defined, counted from this node's own first defined input */
  warmup(p: Params): number;
  /** which TA convention the numbers follow (documented in the node-types endpoint and docs/) */
  convention?: string;
  /** a price source: its only output is this bar slot (no step runs) */
  barSlot?: number;
  /**
   * a higher-timeframe source: its outputs are bars of this many seconds, built from the strategy's own
   * bars; the nodes fed only by it run once per such bar (see CompiledPlan's timeframes)
   */
  timeframe?(p: Params): number;
  /** its output depends on no bar (a constant): it runs at whichever timeframe reads it */
  timeless?: boolean;
  /**
   * another symbol's bar: its five outputs (open, high, low, close, volume) are that symbol's bar at the
   * strategy's bar, fed by the engines (see CompiledPlan's symbols); no step runs
   */
  otherSymbol?(p: Params): string;
  /**
   * the strategy's own position (its outputs: POSITION_OUTPUTS), fed by the engines before each bar from
   * the position held at that bar's close; a plan with one is evaluated one bar at a time; no step runs
   */
  position?: boolean;
  /** creates the block evaluator; absent for nodes evaluated by the engine itself (actions, risk) */
  create?(p: Params, io: NodeIo): Step;
  /** or a one-bar evaluator over a scratch row indexed by slot, wrapped into a block loop (see stepOf) */
  createScalar?(p: Params, io: NodeIo): (v: Float64Array) => void;
}

export type ActionKind = 'buy' | 'sell' | 'close';
export type Sizing = 'all' | 'fixed_qty' | 'pct_equity' | 'fixed_cash' | 'risk_pct';

/** The block step of a node type, whether it was written for blocks or for one bar at a time. */
export function stepOf(t: NodeType, p: Params, io: NodeIo): Step | undefined {
  if (t.create) return t.create(p, io);
  if (!t.createScalar) return undefined;
  const scalar = t.createScalar(p, io);
  const ins = Int32Array.from(io.inputs);
  const outs = Int32Array.from(io.outputs);
  const v = new Float64Array(Math.max(0, ...io.inputs, ...io.outputs) + 1).fill(NaN);
  return (c, n) => {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < ins.length; k++) v[ins[k]!] = c[ins[k]!]![j]!;
      scalar(v);
      for (let k = 0; k < outs.length; k++) c[outs[k]!]![j] = v[outs[k]!]!;
    }
  };
}
