import { registry } from './registry.ts';
import type { Params } from './types.ts';
import { BAR_SLOT_COUNT, stepOf } from './types.ts';

/**
 * Runs one node type over whole input columns and returns its output columns (NaN while undefined).
 * For indicator checks, charts and analytics; strategies run through the compiler instead.
 */
export function evaluateNode(type: string, params: Params, inputs: readonly ArrayLike<number>[]): Float64Array[] {
  const t = registry.get(type);
  if (!t || (!t.create && !t.createScalar)) throw new Error(`${type} is not an evaluable node type`);
  const full: Params = Object.fromEntries(t.params.map((p) => [p.name, params[p.name] ?? p.default]));
  const nIn = t.inputs.length;
  if (inputs.length !== nIn) throw new Error(`${type} takes ${nIn} inputs, got ${inputs.length}`);
  const len = inputs[0]?.length ?? 0;
  const inSlots = t.inputs.map((_, k) => BAR_SLOT_COUNT + k);
  const outSlots = t.outputs.map((_, k) => BAR_SLOT_COUNT + nIn + k);
  const cols = Array.from({ length: BAR_SLOT_COUNT + nIn + t.outputs.length }, () => new Float64Array(len).fill(NaN));
  inputs.forEach((col, k) => cols[inSlots[k]!]!.set(Array.from(col)));
  stepOf(t, full, { inputs: inSlots, outputs: outSlots })!(cols, len);
  return outSlots.map((s) => cols[s]!);
}
