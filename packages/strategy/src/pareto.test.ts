import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paretoFront, sweepFront } from './pareto.ts';

/** whether a is at least as good as b on both measures and better on one */
const dominates = (a: readonly number[], b: readonly number[]) =>
  a[0]! >= b[0]! && a[1]! >= b[1]! && (a[0]! > b[0]! || a[1]! > b[1]!);

describe('the Pareto front', () => {
  it('keeps each trade-off: the best x, the best y, and what lies between them undominated', () => {
    // return % and drawdown % (negative: -10 is a 10 % drawdown)
    const pts: [number, number][] = [
      [40, -30], // 0: the highest return, the deepest drawdown
      [25, -12], // 1: on the front
      [25, -20], // 2: beaten by 1 (same return, smaller drawdown)
      [10, -5], // 3: the smallest drawdown
      [8, -5], // 4: beaten by 3
      [30, -25], // 5: on the front
      [20, -15], // 6: beaten by 1
      [NaN, 0], // 7: no value: left out
      [25, -12], // 8: the same as 1: kept with it
    ];
    expect(paretoFront(pts)).toEqual([0, 5, 1, 8, 3]);
    expect(paretoFront([])).toEqual([]);
    expect(paretoFront([[1, 1]])).toEqual([0]);
  });

  it('is exactly the points no other point dominates (random sets, against every pair)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })), { maxLength: 40 }),
        (pts) => {
          const want = pts
            .map((p, i) => i)
            .filter((i) => !pts.some((q) => dominates(q, pts[i]!)))
            .sort((a, b) => a - b);
          const got = paretoFront(pts);
          expect([...got].sort((a, b) => a - b)).toEqual(want);
          // by x, from the highest
          for (let k = 1; k < got.length; k++) expect(pts[got[k - 1]!]![0]).toBeGreaterThanOrEqual(pts[got[k]!]![0]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a sweep's front leaves out the runs that never traded, and with minTrades those that traded too little", () => {
    const runs = [
      { trades: 0, returnPct: 0, maxDrawdownPct: 0 }, // 0: flat, on any front if it counted
      { trades: 12, returnPct: 30, maxDrawdownPct: -20 }, // 1
      { trades: 3, returnPct: 10, maxDrawdownPct: -2 }, // 2: few trades
      { trades: 9, returnPct: 20, maxDrawdownPct: -8 }, // 3
      null, // 4: failed
      { trades: 9, returnPct: 5, maxDrawdownPct: -9 }, // 5: beaten by 3
      { trades: 9, returnPct: 'n/a', maxDrawdownPct: -1 }, // 6: no number
    ];
    expect(sweepFront(runs, 'returnPct', 'maxDrawdownPct')).toEqual([1, 3, 2]);
    expect(sweepFront(runs, 'returnPct', 'maxDrawdownPct', 5)).toEqual([1, 3]);
    expect(sweepFront(runs, 'maxDrawdownPct', 'returnPct', 5)).toEqual([3, 1]);
  });
});
