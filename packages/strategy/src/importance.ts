import type { Combo } from './grid.ts';

/** How much of a sweep's spread of scores one parameter accounts for. */
export interface ParamImportance {
  key: string;
  /** ω², the share of the scores' variance explained by this parameter's values alone (0..1) */
  share: number;
  /** the groups it was measured over: its values, or ranges of them for numbers with more than `bins` values */
  groups: number;
  /** the value (or range, "from..to") whose points scored best on average */
  best: string;
}

/**
 * Each parameter's main effect on a sweep's scores, largest first: the points are grouped by the
 * parameter's value (numbers with more than `bins` distinct values into `bins` ranges of about equal
 * counts), and ω² = (SSB − (k − 1)·MSW) / (SST + MSW) is the share of the scores' variance the groups'
 * means explain, corrected for the groups' number (η² alone would credit a parameter with many
 * values with noise). Points without a finite score are left out; 0 when it explains nothing.
 */
export const paramImportance = (points: readonly { combo: Combo; score: number }[], bins = 8): ParamImportance[] =>
  importanceOf(grouped(points, bins));

function importanceOf(g: Grouped | null): ParamImportance[] {
  if (!g) return [];
  const { scored, n, mean, sst, keys } = g;
  const out: ParamImportance[] = [];
  for (const [i, key] of keys.entries()) {
    const groups = g.groups[i]!;
    const k = groups.labels.length;
    const sums = new Float64Array(k);
    const counts = new Float64Array(k);
    scored.forEach((p, i) => {
      sums[groups.of[i]!]! += p.score;
      counts[groups.of[i]!]! += 1;
    });
    let ssb = 0;
    for (let g = 0; g < k; g++) if (counts[g]) ssb += counts[g]! * (sums[g]! / counts[g]! - mean) ** 2;
    const msw = n > k ? (sst - ssb) / (n - k) : 0;
    const share = sst > 0 && k > 1 ? Math.max(0, (ssb - (k - 1) * msw) / (sst + msw)) : 0;
    let best = 0;
    for (let g = 1; g < k; g++) if (counts[g] && sums[g]! / counts[g]! > sums[best]! / counts[best]!) best = g;
    out.push({ key, share, groups: k, best: groups.labels[best]! });
  }
  return out.sort((a, b) => b.share - a.share);
}

/** How much more of a sweep's spread two parameters explain together than each does alone. */
export interface ParamInteraction {
  keys: [string, string];
  /** ω² of their interaction: the share of the scores' variance their combinations explain beyond each one's own effect (0..1) */
  share: number;
  /** the cells run (pairs of their groups with points) */
  cells: number;
}

/**
 * Each pair of parameters' interaction, largest first: the share of the scores' variance their
 * combinations explain beyond what each explains alone (a fast period that only works with a slow one
 * in some range). The points are grouped by both parameters' groups at once (as paramImportance groups
 * them, numbers with more than `bins` values in ranges), and a two-way analysis of variance gives
 * SS_ab = SS_cells − SS_a − SS_b over (cells − k_a − k_b + 1) degrees of freedom, and ω² = (SS_ab −
 * df·MSW) / (SST + MSW), MSW the variance within cells. A pair needs more points than cells: a grid of
 * two parameters run once at each point has no spread within a cell to tell an interaction from noise,
 * and gives none. With more parameters, the others' effects count as noise within a cell, so the
 * figure is conservative; with uneven cells (a random search) it is an approximation.
 */
export const paramInteractions = (points: readonly { combo: Combo; score: number }[], bins = 8): ParamInteraction[] =>
  interactionsOf(grouped(points, bins));

function interactionsOf(g: Grouped | null): ParamInteraction[] {
  if (!g || !(g.sst > 0)) return [];
  const { scored, n, mean, sst, keys, groups } = g;
  /** the sum of squares between the groups `of` gives the points, and how many groups have points */
  const between = (of: (k: number) => number) => {
    const g = new Map<number, { sum: number; count: number }>();
    scored.forEach((p, k) => {
      const id = of(k);
      const c = g.get(id) ?? { sum: 0, count: 0 };
      c.sum += p.score;
      c.count++;
      g.set(id, c);
    });
    let ss = 0;
    for (const c of g.values()) ss += c.count * (c.sum / c.count - mean) ** 2;
    return { ss, k: g.size };
  };
  const main = groups.map((g) => between((k) => g.of[k]!));
  const out: ParamInteraction[] = [];
  for (let i = 0; i < keys.length; i++)
    for (let j = i + 1; j < keys.length; j++) {
      const width = groups[j]!.labels.length;
      const cells = between((k) => groups[i]!.of[k]! * width + groups[j]!.of[k]!);
      if (n <= cells.k) continue;
      const df = cells.k - main[i]!.k - main[j]!.k + 1;
      if (df < 1) continue;
      const msw = (sst - cells.ss) / (n - cells.k);
      const ssAb = cells.ss - main[i]!.ss - main[j]!.ss;
      const share = Math.max(0, (ssAb - df * msw) / (sst + msw));
      out.push({ keys: [keys[i]!, keys[j]!], share, cells: cells.k });
    }
  return out.sort((a, b) => b.share - a.share);
}

/** The pairs worth naming: the five largest interactions above nothing (what the API and the CLI report). */
const notable = (all: ParamInteraction[]) => all.filter((x) => x.share > 0).slice(0, 5);

/**
 * What a sweep reports of its parameters' effects (the API and the CLI): each one's importance
 * (paramImportance) and the pairs' interactions worth naming, the five largest above nothing
 * (paramInteractions), over one grouping of the points' values.
 */
export function sweepEffects(points: readonly { combo: Combo; score: number }[]): {
  importance: ParamImportance[];
  interactions: ParamInteraction[];
} {
  const g = grouped(points, 8);
  return { importance: importanceOf(g), interactions: notable(interactionsOf(g)) };
}

/** The points with a finite score, their mean and total sum of squares, and each parameter's groups; null under 3 points. */
interface Grouped {
  scored: { combo: Combo; score: number }[];
  n: number;
  mean: number;
  sst: number;
  keys: string[];
  groups: { of: number[]; labels: string[] }[];
}

function grouped(points: readonly { combo: Combo; score: number }[], bins: number): Grouped | null {
  const scored = points.filter((p) => Number.isFinite(p.score));
  const n = scored.length;
  if (n < 3) return null;
  const mean = scored.reduce((s, p) => s + p.score, 0) / n;
  const sst = scored.reduce((s, p) => s + (p.score - mean) ** 2, 0);
  const keys = Object.keys(scored[0]!.combo);
  const groups = keys.map((key) =>
    groupsOf(
      scored.map((p) => p.combo[key]!),
      bins,
    ),
  );
  return { scored, n, mean, sst, keys, groups };
}

/** Values as groups: each distinct value, or for many numbers `bins` ranges of about equal counts. */
function groupsOf(values: (number | string)[], bins: number): { of: number[]; labels: string[] } {
  const distinct = [...new Set(values)];
  if (distinct.length <= bins || !values.every((v) => typeof v === 'number')) {
    const numeric = distinct.every((v) => typeof v === 'number');
    const sorted = numeric ? (distinct as number[]).sort((a, b) => a - b) : distinct;
    const at = new Map<number | string, number>(sorted.map((v, i) => [v, i]));
    return { of: values.map((v) => at.get(v)!), labels: sorted.map(String) };
  }
  const nums = values as number[];
  const sorted = [...nums].sort((a, b) => a - b);
  // cut points at quantiles; a value equal to a cut goes to the range below it
  const cuts: number[] = [];
  for (let b = 1; b < bins; b++) {
    const c = sorted[Math.floor((b * sorted.length) / bins)]!;
    if (!cuts.length || c > cuts[cuts.length - 1]!) cuts.push(c);
  }
  const groupOf = (v: number) => {
    let g = 0;
    while (g < cuts.length && v > cuts[g]!) g++;
    return g;
  };
  const of = nums.map(groupOf);
  const labels = Array.from({ length: cuts.length + 1 }, (_, g) => {
    const inG = nums.filter((_, i) => of[i] === g);
    return inG.length ? `${Math.min(...inG)}..${Math.max(...inG)}` : '-';
  });
  return { of, labels };
}
