import { z } from 'zod';

const Pct = z.number().positive().max(100);

/**
 * A paper session's risk limits (core's RiskLimits), as sessions and backtests take them: caps on
 * entries, an order rate, and the equity limits that pause or stop trading.
 */
export const RiskInput = z.strictObject({
  /** of equity, so above 100 only with leverage (up to 125x) */
  maxPositionPct: z.number().positive().max(12_500).optional(),
  maxPositionValue: z.number().positive().max(1e12).optional(),
  maxOrderQty: z.number().positive().max(1e12).optional(),
  maxOrdersPerMinute: z.number().int().positive().max(10_000).optional(),
  maxDailyLossPct: Pct.optional(),
  maxDrawdownPct: Pct.optional(),
  /** a pause by maxDailyLossPct ends with its UTC day: the next day's first tick resumes the session */
  resumeNextDay: z.boolean().optional(),
});

/**
 * A portfolio's limits on its summed equity (core's PortfolioLimits), as paper portfolios and portfolio
 * backtests take them, on top of each leg's own `risk`: at least one of the two.
 */
export const PortfolioRiskInput = z
  .strictObject({
    maxDrawdownPct: Pct.optional(),
    maxDailyLossPct: Pct.optional(),
    /** the daily loss's pause ends with the day: each leg resumes on its symbol's next day */
    resumeNextDay: z.boolean().optional(),
  })
  .refine((r) => r.maxDrawdownPct !== undefined || r.maxDailyLossPct !== undefined, {
    message: 'give maxDrawdownPct, maxDailyLossPct or both',
  });
