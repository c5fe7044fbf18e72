/**
 * The Pareto front by its definition, for tests to check the platform's O(n log n) one against: of the
 * runs that traded, those no other run beats (at least as good on both measures, better on one), by
 * the first measure from the highest. `stats` reads a run's figures.
 */
export function bruteFront<T>(
  runs: readonly T[],
  stats: (run: T) => Record<string, number>,
  x: string,
  y: string,
): T[] {
  const traded = runs.filter((p) => stats(p).trades! > 0);
  const beats = (q: T, p: T) => {
    const [a, b] = [stats(q), stats(p)];
    return a[x]! >= b[x]! && a[y]! >= b[y]! && (a[x]! > b[x]! || a[y]! > b[y]!);
  };
  return traded.filter((p) => !traded.some((q) => beats(q, p))).sort((p, q) => stats(q)[x]! - stats(p)[x]!);
}
