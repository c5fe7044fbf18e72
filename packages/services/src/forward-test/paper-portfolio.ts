/**
 * A paper portfolio: one strategy's paper sessions on several symbols, started together, each with its
 * share of the money (as a portfolio backtest's legs). Each session trades on its own; these functions
 * add them up.
 */

import { dayOf } from '@algotrade/core';

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

/** A paper portfolio's limits on its summed equity (checked by the forward-test service's portfolio guard). */
export interface PortfolioLimits {
  /** a drawdown of this % of the summed equity from its peak stops every session (positions closed) */
  maxDrawdownPct?: number;
  /** a loss of this % of the summed equity since the UTC day began pauses every session (positions closed) */
  maxDailyLossPct?: number;
  /** that pause ends with the day: each session resumes on its symbol's first tick of a later UTC day */
  resumeNextDay?: boolean;
}

/**
 * A paper portfolio's summed equity followed from check to check, against its limits. The peak starts
 * at the highest of the money it started with and its stored summed series, and the day's starting
 * equity at the series' last point before the UTC day began (without one, the portfolio began today:
 * the money it started with, as a session's own daily limit starts), so a restart keeps both.
 */
export class PortfolioWatch {
  private peak: number;
  private day: number;
  private dayStart: number;
  constructor(
    private readonly limits: PortfolioLimits,
    startingBalance: number,
    history: { ts: readonly number[]; equity: readonly number[] },
    now: number,
  ) {
    let peak = startingBalance;
    for (const e of history.equity) if (e > peak) peak = e;
    this.peak = peak;
    this.day = dayOf(now);
    this.dayStart = startingBalance;
    for (let i = 0; i < history.ts.length && dayOf(history.ts[i]!) < this.day; i++) this.dayStart = history.equity[i]!;
  }
  /** The drawdown (%) from the peak at this summed equity, the peak moved up first. */
  drawdown(equity: number): number {
    if (equity > this.peak) this.peak = equity;
    return this.peak > 0 ? ((this.peak - equity) / this.peak) * 100 : 0;
  }
  /** The loss (%) since the UTC day of `now` began (a new day starts from this equity). */
  dailyLoss(equity: number, now: number): number {
    const day = dayOf(now);
    if (day !== this.day) {
      this.day = day;
      this.dayStart = equity;
    }
    return this.dayStart > 0 ? ((this.dayStart - equity) / this.dayStart) * 100 : 0;
  }
  /** Which limit this summed equity breaches at `now` (the drawdown first), with its figure. */
  check(equity: number, now: number): { limit: 'max_drawdown' | 'max_daily_loss'; pct: number; of: number } | null {
    const dd = this.drawdown(equity);
    const loss = this.dailyLoss(equity, now);
    const { maxDrawdownPct, maxDailyLossPct } = this.limits;
    if (maxDrawdownPct !== undefined && dd >= maxDrawdownPct)
      return { limit: 'max_drawdown', pct: dd, of: maxDrawdownPct };
    if (maxDailyLossPct !== undefined && loss >= maxDailyLossPct)
      return { limit: 'max_daily_loss', pct: loss, of: maxDailyLossPct };
    return null;
  }
}
