/** Shared helpers for bench/*.bench.ts: one JSON line per figure, medians over repeats. */
export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  [extra: string]: unknown;
}

export function report(f: Figure): void {
  console.log(
    JSON.stringify({
      ...f,
      value: round(f.value),
      ...(f.baseline !== undefined ? { baseline: round(f.baseline) } : {}),
    }),
  );
}

/**
 * A time in ms against a baseline measured in the same run: the figure, its baseline and their ratio
 * (to two decimals), with any further fields.
 */
export function reportAgainst(
  bench: string,
  metric: string,
  ms: number,
  baselineMs: number,
  extra: Record<string, unknown> = {},
): void {
  report({
    bench,
    metric,
    value: ms,
    unit: 'ms',
    baseline: baselineMs,
    ratio: Number((ms / baselineMs).toFixed(2)),
    ...extra,
  });
}

export const round = (v: number): number => (Math.abs(v) >= 100 ? Math.round(v) : Number(v.toPrecision(4)));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[] | Float64Array, p: number): number {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** runs fn `repeats` times after `warmup` runs, returns each run's duration in ms */
export async function timeRuns(fn: () => unknown, repeats = 5, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Times several functions alternately, `repeats` rounds (each warmed once in the first round), so a
 * figure and its baseline see the same machine; returns each one's median duration in ms.
 */
export async function alternated(fns: readonly (() => unknown)[], repeats = 5): Promise<number[]> {
  const runs: number[][] = fns.map(() => []);
  for (let r = 0; r < repeats; r++)
    for (let k = 0; k < fns.length; k++) runs[k]!.push(...(await timeRuns(fns[k]!, 1, r === 0 ? 1 : 0)));
  return runs.map(median);
}

/** A strategy template over a grid, on one of backtesting.py's data files: a case of the search benches. */
export interface GridCase {
  name: string;
  data: 'EURUSD.csv' | 'GOOG.csv';
  template: string;
  grid: Parameters<typeof import('@algotrade/strategy').expandGrid>[0];
}
