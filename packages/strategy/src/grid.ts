import { AppError } from '@algotrade/core';
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

/**
 * Every point of a grid, each applied to a copy of the graph and compiled, in grid order (the last
 * key varies fastest). Refused with a VALIDATION_FAILED naming the cause: more than `max` points, a
 * key whose node the graph lacks, or a point that does not compile (a value out of a parameter's
 * bounds, say).
 */
export function gridVariants(
  graph: Graph,
  grid: ParamGrid,
  max: number,
): { combo: Combo; graph: Graph; plan: CompiledPlan }[] {
  const size = gridSize(grid);
  if (size > max) throw new AppError('VALIDATION_FAILED', `the grid has ${size} combinations; at most ${max}`);
  let combos: Combo[] = [{}];
  for (const [k, values] of Object.entries(grid)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
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
    return { combo, graph: g, plan };
  });
}

/** A statistic as a ranking score: a missing or undefined value (no trades: no Sharpe) ranks last. */
export function scoreOf(stats: object | null | undefined, rankBy: string): number {
  const v = (stats as Record<string, unknown> | null | undefined)?.[rankBy];
  return typeof v === 'number' && Number.isFinite(v) ? v : -Infinity;
}
