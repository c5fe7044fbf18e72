import { RANK_BY, type RankBy } from './grid.ts';

/**
 * The Pareto front of a search's results on two measures, higher better on both (a drawdown as the
 * platform reports it, a negative percentage, is higher when smaller): the points no other point
 * beats on one measure without losing on the other. Where a single ranking asks "best Sharpe?", the
 * front shows every trade-off worth choosing from, such as each return's smallest drawdown.
 */

/**
 * The indices of the points on the Pareto front of `points` ([x, y], both maximised), by x from the
 * highest. A point is on it unless another is at least as good on both measures and better on one;
 * points with a non-finite value are left out; identical points on the front are all kept. O(n log n):
 * sorted by x then y, from the highest, a point is on the front when its y beats every y before it.
 */
export function paretoFront(points: readonly (readonly [number, number])[]): number[] {
  const order = points
    .map((p, i) => i)
    .filter((i) => Number.isFinite(points[i]![0]) && Number.isFinite(points[i]![1]))
    .sort((a, b) => points[b]![0] - points[a]![0] || points[b]![1] - points[a]![1]);
  const front: number[] = [];
  let bestY = -Infinity;
  let last: readonly [number, number] | undefined;
  for (const i of order) {
    const [x, y] = points[i]!;
    if (y > bestY || (last && x === last[0] && y === last[1])) {
      front.push(i);
      bestY = y;
      last = points[i];
    }
  }
  return front;
}

/** The two measures of a Pareto front, from "x,y" (two different ones of RANK_BY), or what is wrong with it. */
export function measurePair(v: string): [RankBy, RankBy] | { error: string } {
  const two = v.split(',').map((x) => x.trim());
  const bad = two.find((x) => !(RANK_BY as readonly string[]).includes(x));
  if (two.length === 2 && bad === undefined && two[0] !== two[1]) return two as [RankBy, RankBy];
  return {
    error: `two different measures, "x,y", of ${RANK_BY.join(', ')}${bad !== undefined ? ` (not ${JSON.stringify(bad)})` : ''}`,
  };
}

/**
 * A sweep's Pareto front on measures `x` and `y`: the indices of `runs` (each one's statistics) on it,
 * by x from the highest. A run that never traded is left out (its flat line, no return and no drawdown,
 * would sit on any front with a drawdown), and with `minTrades`, so is one with fewer closed trades; a
 * measure that is not a number leaves the run out too.
 */
export function sweepFront(
  runs: readonly (object | null | undefined)[],
  x: RankBy,
  y: RankBy,
  minTrades = 0,
): number[] {
  const value = (m: object | null | undefined, k: string) => {
    const v = (m as Record<string, unknown> | null | undefined)?.[k];
    return typeof v === 'number' ? v : NaN;
  };
  const at = runs.flatMap((m, i) => {
    const trades = value(m, 'trades');
    return trades > 0 && (minTrades <= 0 || trades >= minTrades) ? [i] : [];
  });
  return paretoFront(at.map((i) => [value(runs[i], x), value(runs[i], y)])).map((k) => at[k]!);
}
