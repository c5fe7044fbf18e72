import { AppError, seededRandom } from '@algotrade/core';
import { compileGraph } from './compiler.ts';
import type { Graph } from './graph.ts';
import type { CompiledPlan } from './plan.ts';

/** A parameter grid: `"nodeId.param"` → the values to try. */
export type ParamGrid = Record<string, readonly (number | string)[]>;
/** One point of a grid: `"nodeId.param"` → a value. */
export type Combo = Record<string, number | string>;

/** The statistics a sweep or a walk-forward can rank by (higher is better for each). */
export const RANK_BY = ['sharpe', 'sortino', 'returnPct', 'calmar', 'profitFactor', 'sqn', 'maxDrawdownPct'] as const;
export type RankBy = (typeof RANK_BY)[number];

/** How many points a grid has (the product of its value counts). */
export const gridSize = (grid: ParamGrid): number => Object.values(grid).reduce((p, v) => p * v.length, 1);

/** A range of numbers as a grid's values: from, from + step, ... up to `to` (inclusive). */
export interface GridRange {
  from: number;
  to: number;
  step: number;
}

/** The most values one range may give. */
export const MAX_RANGE_VALUES = 10_000;

/**
 * A range's values, rounded to the step's decimals so 0.1 steps give 0.3, not 0.30000000000000004.
 * Refused (VALIDATION_FAILED, naming `key`) when the step is not positive, `to` is below `from` or it
 * gives more than MAX_RANGE_VALUES values.
 */
export function rangeValues(key: string, r: GridRange): number[] {
  if (!(r.step > 0) || !(r.to >= r.from))
    throw new AppError('VALIDATION_FAILED', `${key}: a range needs from <= to and a step above 0`);
  const count = Math.floor((r.to - r.from) / r.step + 1e-9) + 1;
  if (count > MAX_RANGE_VALUES)
    throw new AppError('VALIDATION_FAILED', `${key}: the range gives ${count} values; at most ${MAX_RANGE_VALUES}`);
  const decimals = Math.max(decimalsOf(r.from), decimalsOf(r.step));
  return Array.from({ length: count }, (_, i) => Number((r.from + i * r.step).toFixed(decimals)));
}
const decimalsOf = (x: number) => (Number.isInteger(x) ? 0 : Math.min(12, (String(x).split('.')[1] ?? '').length));

/** A grid whose values may be written as ranges, with its ranges expanded. */
export function expandGrid(grid: Record<string, readonly (number | string)[] | GridRange>): ParamGrid {
  return Object.fromEntries(
    Object.entries(grid).map(([k, v]) => [k, Array.isArray(v) ? v : rangeValues(k, v as GridRange)]),
  );
}

/** Every point of a grid, in grid order (the last key varies fastest). */
export function gridCombos(grid: ParamGrid): Combo[] {
  let combos: Combo[] = [{}];
  for (const [k, values] of Object.entries(grid)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return combos;
}

/** Grids up to this many points are sampled by index (exactly uniform, in grid order); larger ones point by point. */
const INDEXED = 10_000_000;

/**
 * `count` distinct points of a grid drawn at random (seeded: the same seed gives the same points), the
 * random search that finds as good parameters as a full grid in far fewer runs when only some
 * parameters matter (Bergstra and Bengio, 2012). Every point when the grid has no more than `count`.
 * Up to 10 M points, indexes are drawn without replacement (Floyd's algorithm) and the points come in
 * grid order; beyond, each key's value is drawn on its own and repeats are drawn again.
 */
export function sampleGrid(grid: ParamGrid, count: number, seed: number): Combo[] {
  const size = gridSize(grid);
  if (size <= count) return gridCombos(grid);
  const rand = seededRandom(seed);
  const keys = Object.keys(grid);
  // a point's index in grid order, read as digits (the last key the fastest)
  const at = (index: number): Combo => {
    const digits: (number | string)[] = new Array(keys.length);
    for (let k = keys.length - 1; k >= 0; k--) {
      const values = grid[keys[k]!]!;
      digits[k] = values[index % values.length]!;
      index = Math.floor(index / values.length);
    }
    return Object.fromEntries(keys.map((key, k) => [key, digits[k]!]));
  };
  if (size <= INDEXED) {
    const picked = new Set<number>();
    for (let j = size - count; j < size; j++) {
      const t = Math.floor(rand() * (j + 1));
      picked.add(picked.has(t) ? j : t);
    }
    return [...picked].sort((a, b) => a - b).map(at);
  }
  const seen = new Set<string>();
  const out: Combo[] = [];
  while (out.length < count) {
    const c = Object.fromEntries(keys.map((k) => [k, grid[k]![Math.floor(rand() * grid[k]!.length)]!]));
    const id = JSON.stringify(c);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(c);
  }
  return out;
}

/**
 * The plans comboVariants compiled, by the graph it made: a runner given one of those graphs
 * (inlineRunner) takes its plan rather than compiling the graph again. Weak: a graph dropped drops it.
 */
export const compiledVariants = new WeakMap<Graph, CompiledPlan>();

/**
 * Points applied each to a copy of the graph and compiled, in the order given. Refused with a
 * VALIDATION_FAILED naming the cause: a key whose node the graph lacks, or a point that does not
 * compile (a value out of a parameter's bounds, say).
 */
export function comboVariants(
  graph: Graph,
  combos: readonly Combo[],
): { combo: Combo; graph: Graph; plan: CompiledPlan }[] {
  return combos.map((combo) => {
    const g = structuredClone(graph);
    for (const [k, v] of Object.entries(combo)) {
      const [nodeId, param] = k.split('.') as [string, string];
      const node = g.nodes.find((n) => n.id === nodeId);
      if (!node) throw new AppError('VALIDATION_FAILED', `the strategy has no node "${nodeId}"`);
      node.data = { ...node.data, [param]: v };
    }
    const { plan, report } = compileGraph(g);
    if (!plan)
      throw new AppError(
        'VALIDATION_FAILED',
        `combination ${JSON.stringify(combo)} does not compile: ${report.errors[0]?.message}`,
        report.errors,
      );
    compiledVariants.set(g, plan);
    return { combo, graph: g, plan };
  });
}

/**
 * Every point of a grid, each applied to a copy of the graph and compiled, in grid order (the last
 * key varies fastest). Refused with a VALIDATION_FAILED naming the cause: more than `max` points, or
 * as comboVariants.
 */
export function gridVariants(
  graph: Graph,
  grid: ParamGrid,
  max: number,
): { combo: Combo; graph: Graph; plan: CompiledPlan }[] {
  const size = gridSize(grid);
  if (size > max)
    throw new AppError(
      'VALIDATION_FAILED',
      `the grid has ${size} combinations; at most ${max} (or ask for a random sample of them)`,
    );
  return comboVariants(graph, gridCombos(grid));
}

/**
 * A statistic as a ranking score: a missing or undefined value (no trades: no Sharpe) ranks last, and
 * so does a run of fewer than `minTrades` closed trades (a Sharpe over three trades says little).
 */
export function scoreOf(stats: object | null | undefined, rankBy: string, minTrades = 0): number {
  const s = stats as Record<string, unknown> | null | undefined;
  if (minTrades > 0 && !(Number(s?.trades ?? 0) >= minTrades)) return -Infinity;
  const v = s?.[rankBy];
  return typeof v === 'number' && Number.isFinite(v) ? v : -Infinity;
}
