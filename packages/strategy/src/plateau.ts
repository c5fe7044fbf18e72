import { scoreOf, type Combo, type ParamGrid } from './grid.ts';
import { comboKey, type Trial } from './tpe.ts';

/**
 * How a point of a parameter search stands among its neighbours: a best that sits on a plateau (its
 * neighbours score nearly as well) survives the small shifts markets make; one on a spike (its
 * neighbours score far lower) is more likely a fit to noise. Robert Pardo's advice for walk-forward
 * optimisation, and what a trader reads off a sweep's heatmap, as figures.
 */
export interface Plateau {
  /** the neighbours run, with a score */
  neighbours: number;
  /** their mean score (null without any) */
  mean: number | null;
  /** their lowest score (null without any) */
  worst: number | null;
  /** the mean score of the point and its neighbours run (its own score without any): what ranks plateaus */
  withNeighbours: number;
}

/**
 * The neighbours of a grid's points: the points one step away in one parameter, the same in the
 * others. A number's steps are to the next lower and higher of its grid values; any other value (a
 * category) has every other value of its parameter one step away. Each parameter's values are sorted
 * once, so a sweep of a thousand points over ranges of thousands of values is quick.
 */
export function neighbourhood(grid: ParamGrid): (combo: Combo) => Combo[] {
  const keys = Object.entries(grid).map(([key, values]) => {
    const numeric = values.every((x) => typeof x === 'number');
    const sorted = numeric ? [...(values as number[])].sort((a, b) => a - b) : [...values];
    return { key, numeric, sorted, at: new Map<number | string, number>(sorted.map((v, i) => [v, i])) };
  });
  return (combo) => {
    const out: Combo[] = [];
    for (const { key, numeric, sorted, at } of keys) {
      const v = combo[key]!;
      if (numeric) {
        const i = at.get(v);
        if (i === undefined) continue;
        if (i > 0) out.push({ ...combo, [key]: sorted[i - 1]! });
        if (i < sorted.length - 1) out.push({ ...combo, [key]: sorted[i + 1]! });
      } else for (const x of sorted) if (x !== v) out.push({ ...combo, [key]: x });
    }
    return out;
  };
}

/**
 * Each scored trial's standing among its neighbours that were run and scored (a trial without a
 * finite score, or a neighbour without one, is left out), in the order of `trials`; null for a trial
 * without a finite score.
 */
export function plateausOf(grid: ParamGrid, trials: readonly Trial[]): (Plateau | null)[] {
  const scores = new Map<string, number>();
  for (const t of trials) if (Number.isFinite(t.score)) scores.set(comboKey(grid, t.combo), t.score);
  const near = neighbourhood(grid);
  return trials.map((t) => {
    if (!Number.isFinite(t.score)) return null;
    const around = near(t.combo)
      .map((c) => scores.get(comboKey(grid, c)))
      .filter((s): s is number => s !== undefined);
    const sum = around.reduce((s, x) => s + x, 0);
    return {
      neighbours: around.length,
      mean: around.length ? sum / around.length : null,
      worst: around.length ? Math.min(...around) : null,
      withNeighbours: (sum + t.score) / (around.length + 1),
    };
  });
}

/**
 * The most robust trial: the highest mean with its neighbours (withNeighbours) among the trials with at
 * least `minNeighbours` neighbours run and scored (fewer when the grid gives a point fewer); its index
 * in `trials`, or -1 when none qualifies.
 */
export function mostRobust(
  grid: ParamGrid,
  trials: readonly Trial[],
  plateaus: readonly (Plateau | null)[],
  minNeighbours = 2,
): number {
  const near = neighbourhood(grid);
  let at = -1;
  for (let i = 0; i < trials.length; i++) {
    const p = plateaus[i];
    if (!p) continue;
    const need = Math.min(minNeighbours, near(trials[i]!.combo).length);
    if (p.neighbours < need) continue;
    if (at < 0 || p.withNeighbours > plateaus[at]!.withNeighbours) at = i;
  }
  return at;
}

/** The grid a set of points spans: each parameter's distinct values among them (for sweeps that did not keep their grid). */
export function gridOfCombos(combos: readonly Combo[]): ParamGrid {
  const grid: Record<string, (number | string)[]> = {};
  for (const c of combos) for (const [k, v] of Object.entries(c)) if (!(grid[k] ??= []).includes(v)) grid[k]!.push(v);
  return grid;
}

/**
 * A sweep's runs among their grid neighbours (plateausOf), in the order given, each scored by the
 * measure it is ranked by (scoreOf, with `minTrades`), and the index of the most robust (mostRobust;
 * -1 when none has enough neighbours run). `grid` is the one the runs were drawn from; without it (a
 * sweep that did not keep it), the values the runs took.
 */
export function sweepStanding(
  runs: readonly { combo: Combo; stats: object | null | undefined }[],
  grid: ParamGrid | undefined,
  rankBy: string,
  minTrades = 0,
): { plateaus: (Plateau | null)[]; robustAt: number } {
  const trials = runs.map((r) => ({ combo: r.combo, score: scoreOf(r.stats, rankBy, minTrades) }));
  const g = grid ?? gridOfCombos(trials.map((t) => t.combo));
  const plateaus = plateausOf(g, trials);
  return { plateaus, robustAt: mostRobust(g, trials, plateaus) };
}
