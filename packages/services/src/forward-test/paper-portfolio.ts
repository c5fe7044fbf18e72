/**
 * A paper portfolio: one strategy's paper sessions on several symbols, started together, each with its
 * share of the money (as a portfolio backtest's legs). Each session trades on its own; these functions
 * add them up.
 */

/** One session's equity points, and the money it started with. */
export interface PortfolioLeg {
  startingBalance: number;
  points: readonly { ts: number; equity: number; price: number | null }[];
}

/**
 * The sessions' equity summed at every time any of them has a point (each carried forward from its last
 * point, its starting balance before its first), beside the value of buying and holding the same
 * allocation at the sessions' first prices (`hold`: each session's starting balance × its price / its
 * first price, carried likewise).
 */
export function mergeEquity(legs: readonly PortfolioLeg[]): { ts: number[]; equity: number[]; hold: number[] } {
  const ts = [...new Set(legs.flatMap((l) => l.points.map((p) => p.ts)))].sort((a, b) => a - b);
  const equity = new Array<number>(ts.length).fill(0);
  const hold = new Array<number>(ts.length).fill(0);
  for (const leg of legs) {
    const first = leg.points.find((p) => p.price !== null && p.price > 0)?.price ?? null;
    let k = 0;
    let eq = leg.startingBalance;
    let held = leg.startingBalance;
    for (let i = 0; i < ts.length; i++) {
      while (k < leg.points.length && leg.points[k]!.ts <= ts[i]!) {
        const p = leg.points[k++]!;
        eq = p.equity;
        if (first !== null && p.price !== null && p.price > 0) held = (leg.startingBalance * p.price) / first;
      }
      equity[i]! += eq;
      hold[i]! += held;
    }
  }
  return { ts, equity, hold };
}

// a paper portfolio's limits and their watch are core's: portfolio backtests apply the same
export { PortfolioWatch, type PortfolioLimits } from '@algotrade/core';
