import { dayOf } from './paper.ts';

/**
 * A portfolio's limits on its summed equity: a paper portfolio's (checked by the forward-test service's
 * portfolio guard) and a portfolio backtest's (runPortfolio), alike.
 */
export interface PortfolioLimits {
  /** a drawdown of this % of the summed equity from its peak stops every session or leg (positions closed) */
  maxDrawdownPct?: number;
  /** a loss of this % of the summed equity since the UTC day began pauses every session or leg (positions closed) */
  maxDailyLossPct?: number;
  /** that pause ends with the day: each session resumes on its symbol's first tick of a later UTC day, each leg on its next day's bars */
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
  /** the summed equity at the last check (or the stored series' last point): where a new day starts */
  private last: number | undefined;
  constructor(
    private limits: PortfolioLimits,
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
    this.last = history.equity.at(-1);
  }
  /** The limits checked from now on (a paper portfolio's, changed while it runs): its peak and day are kept. */
  setLimits(limits: PortfolioLimits): void {
    this.limits = limits;
  }
  /** The drawdown (%) from the peak at this summed equity, the peak moved up first. */
  drawdown(equity: number): number {
    if (equity > this.peak) this.peak = equity;
    return this.peak > 0 ? ((this.peak - equity) / this.peak) * 100 : 0;
  }
  /**
   * The loss (%) since the UTC day of `now` began: from where the summed equity stood then (the last check
   * before it; with none, this equity).
   */
  dailyLoss(equity: number, now: number): number {
    const day = dayOf(now);
    if (day !== this.day) {
      this.day = day;
      this.dayStart = this.last ?? equity;
    }
    this.last = equity;
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
