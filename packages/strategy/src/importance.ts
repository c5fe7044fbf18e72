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
export function paramImportance(points: readonly { combo: Combo; score: number }[], bins = 8): ParamImportance[] {
  const scored = points.filter((p) => Number.isFinite(p.score));
  const n = scored.length;
  if (n < 3) return [];
  const mean = scored.reduce((s, p) => s + p.score, 0) / n;
  const sst = scored.reduce((s, p) => s + (p.score - mean) ** 2, 0);
  const keys = Object.keys(scored[0]!.combo);
  const out: ParamImportance[] = [];
  for (const key of keys) {
    const groups = groupsOf(
      scored.map((p) => p.combo[key]!),
      bins,
    );
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
