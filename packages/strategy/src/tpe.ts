import { gaussian, normalCdf as phi, seededRandom } from '@algotrade/core';
import { gridCombos, sampleGrid, type Combo, type ParamGrid } from './grid.ts';

/**
 * An adaptive search over a parameter grid: the Tree-structured Parzen Estimator (Bergstra et al.,
 * "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011), the default sampler of Optuna and the
 * one freqtrade's hyperopt runs. After some points drawn at random, each next point is the one of a
 * few candidates, drawn near the best points so far, where the density of the best points l(x) is
 * highest against the density of the rest g(x). Each parameter is modelled on its own (Optuna's
 * default, `multivariate: false`).
 */

/** One evaluated point: its score, higher better; a run that failed or has no value scores -Infinity. */
export interface Trial {
  combo: Combo;
  score: number;
}

/** How many of n trials count as good: Optuna's default gamma, min(ceil(0.1 n), 25), at least 1. */
export const goodCount = (n: number): number => Math.max(1, Math.min(Math.ceil(0.1 * n), 25));

/** Points drawn at random before the model proposes any (Optuna's n_startup_trials). */
export const DEFAULT_STARTUP = 10;

/** Candidates drawn from l(x) for each proposal; the best l/g ratio among them is proposed (Optuna's n_ei_candidates). */
export const DEFAULT_CANDIDATES = 24;

/** A point's identity: the same values give the same key whatever the order of its keys. */
export const comboKey = (grid: ParamGrid, c: Combo): string => JSON.stringify(Object.keys(grid).map((k) => c[k]));

/**
 * A density over one parameter's m values, fitted to the positions of some points: a mixture of a
 * uniform prior (weight 1) and one component per point (weight 1 each). Numbers are ordered, and each
 * point's component is a normal around its position, cut to the grid and rounded to its values, as
 * wide as the larger gap to its neighbours (hyperopt's adaptive Parzen estimator), at least m / min(100,
 * n + 1) and at most m. Other values are categories: a point adds to its own value only.
 */
export interface Density {
  pmf(i: number): number;
  sample(rand: () => number): number;
}

export function numericDensity(m: number, mus: number[]): Density {
  const n = mus.length;
  const sorted = [...mus].sort((a, b) => a - b);
  const minSigma = m / Math.min(100, n + 1);
  const sigmas = sorted.map((mu, j) => {
    const left = j > 0 ? mu - sorted[j - 1]! : -Infinity;
    const right = j < n - 1 ? sorted[j + 1]! - mu : -Infinity;
    const gap = Math.max(left, right);
    return Math.min(m, Math.max(minSigma, Number.isFinite(gap) ? gap : m));
  });
  const mass = sorted.map((mu, j) => phi((m - 0.5 - mu) / sigmas[j]!) - phi((-0.5 - mu) / sigmas[j]!));
  return {
    pmf(i) {
      let p = 1 / m;
      for (let j = 0; j < n; j++) {
        const s = sigmas[j]!;
        const mu = sorted[j]!;
        p += (phi((i + 0.5 - mu) / s) - phi((i - 0.5 - mu) / s)) / mass[j]!;
      }
      return p / (n + 1);
    },
    sample(rand) {
      const u = Math.floor(rand() * (n + 1));
      if (u >= n) return Math.floor(rand() * m);
      for (let tries = 0; tries < 50; tries++) {
        const i = Math.round(sorted[u]! + sigmas[u]! * gaussian(rand));
        if (i >= 0 && i < m) return i;
      }
      return Math.round(sorted[u]!);
    },
  };
}

export function categoricalDensity(m: number, at: number[]): Density {
  const counts = new Float64Array(m);
  for (const i of at) counts[i]! += 1;
  const n = at.length;
  return {
    pmf: (i) => (1 / m + counts[i]!) / (n + 1),
    sample(rand) {
      const u = Math.floor(rand() * (n + 1));
      return u >= n ? Math.floor(rand() * m) : at[u]!;
    },
  };
}

/** A parameter's values in the model's order (numbers ascending) and where each value sits. */
function axisOf(values: readonly (number | string)[]) {
  const numeric = values.every((v) => typeof v === 'number');
  const ordered = numeric ? [...new Set(values as number[])].sort((a, b) => a - b) : [...new Set(values)];
  const index = new Map<string, number>(ordered.map((v, i) => [`${typeof v}:${v}`, i]));
  return { numeric, ordered, indexOf: (v: number | string) => index.get(`${typeof v}:${v}`) };
}

/**
 * The next point to try: a point of the grid not in `taken` (keys from comboKey), or null when every
 * point is taken. With fewer than two scored trials it is drawn at random; else the best of
 * `candidates` points drawn from the good trials' density by l(x) / g(x).
 */
export function proposeTpe(
  grid: ParamGrid,
  trials: readonly Trial[],
  taken: ReadonlySet<string>,
  rand: () => number,
  candidates = DEFAULT_CANDIDATES,
): Combo | null {
  const keys = Object.keys(grid);
  const axes = keys.map((k) => axisOf(grid[k]!));
  const size = axes.reduce((p, a) => p * a.ordered.length, 1);
  if (taken.size >= size) return null;
  const randomPoint = (): Combo | null => {
    // rejection while most of the grid is free; past that, the free points listed (small grids only get there)
    for (let tries = 0; tries < 200; tries++) {
      const c = Object.fromEntries(
        keys.map((k, d) => [k, axes[d]!.ordered[Math.floor(rand() * axes[d]!.ordered.length)]!]),
      );
      if (!taken.has(comboKey(grid, c))) return c;
    }
    if (size > 1_000_000) return null;
    const free = gridCombos(grid).filter((c) => !taken.has(comboKey(grid, c)));
    return free.length ? free[Math.floor(rand() * free.length)]! : null;
  };
  const usable = trials.filter((t) => keys.every((k, d) => axes[d]!.indexOf(t.combo[k]!) !== undefined));
  if (usable.length < 2) return randomPoint();
  // best first; equal scores keep the order they were run in
  const ranked = usable.map((t, i) => ({ t, i })).sort((a, b) => b.t.score - a.t.score || a.i - b.i);
  const nGood = goodCount(ranked.length);
  const fit = (part: typeof ranked) =>
    keys.map((k, d) => {
      const at = part.map(({ t }) => axes[d]!.indexOf(t.combo[k]!)!);
      const m = axes[d]!.ordered.length;
      return axes[d]!.numeric ? numericDensity(m, at) : categoricalDensity(m, at);
    });
  const good = fit(ranked.slice(0, nGood));
  const bad = fit(ranked.slice(nGood));
  let best: Combo | null = null;
  let bestRatio = -Infinity;
  for (let c = 0; c < candidates * 4 && !(best && c >= candidates); c++) {
    const at = keys.map((_, d) => good[d]!.sample(rand));
    const combo = Object.fromEntries(keys.map((k, d) => [k, axes[d]!.ordered[at[d]!]!]));
    if (taken.has(comboKey(grid, combo))) continue;
    let ratio = 0;
    for (let d = 0; d < keys.length; d++) ratio += Math.log(good[d]!.pmf(at[d]!)) - Math.log(bad[d]!.pmf(at[d]!));
    if (ratio > bestRatio) [best, bestRatio] = [combo, ratio];
  }
  return best ?? randomPoint();
}

/** The random source for a search's point number `seq`: the same seed and history propose the same point. */
export const proposalRandom = (seed: number, seq: number): (() => number) =>
  seededRandom((seed ^ Math.imul(seq + 1, 0x9e3779b1)) >>> 0);

/**
 * A whole adaptive search, one point at a time: `startup` points of the grid at random (with the seed,
 * as a random search draws them), then each next one proposed from every score so far. Ends after
 * `count` points or when the grid has no other. The trials in the order they ran.
 */
export async function adaptiveSearch(
  grid: ParamGrid,
  count: number,
  seed: number,
  evaluate: (combo: Combo) => number | Promise<number>,
  startup = DEFAULT_STARTUP,
): Promise<Trial[]> {
  const trials: Trial[] = [];
  const taken = new Set<string>();
  const run = async (combo: Combo) => {
    taken.add(comboKey(grid, combo));
    const score = await evaluate(combo);
    trials.push({ combo, score: Number.isNaN(score) ? -Infinity : score });
  };
  for (const c of sampleGrid(grid, Math.min(count, startup), seed)) await run(c);
  while (trials.length < count) {
    const next = proposeTpe(grid, trials, taken, proposalRandom(seed, trials.length));
    if (!next) break;
    await run(next);
  }
  return trials;
}
