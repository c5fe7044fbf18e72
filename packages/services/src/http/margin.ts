import {
  AppError,
  DEFAULT_MAINTENANCE_MARGIN_PCT,
  marginProblem,
  marginSettings,
  type MarginSettings,
} from '@algotrade/core';
import { z } from 'zod';

/**
 * Margin trading settings, as backtests and paper sessions take them: isolated margin, as perpetual
 * futures. Positions are worth up to `leverage` times the margin they lock and are liquidated when the
 * margin left falls to `maintenanceMarginPct` of their value (core's liquidationPrice).
 */
export const MarginInput = {
  leverage: z.number().min(1).max(125).default(1),
  maintenanceMarginPct: z.number().min(0).max(50).default(DEFAULT_MAINTENANCE_MARGIN_PCT),
  /** perpetual futures' funding, % of the position's value every 8 hours (longs pay a positive rate) */
  fundingRatePct: z.number().min(-1).max(1).default(0),
};

/**
 * The settings to keep: none without leverage or funding (a spot account, as before they existed). A
 * maintenance margin at or above the initial margin (100 / leverage %) would liquidate every position
 * as it opens: a 400 naming both.
 */
export function marginOf(b: {
  leverage: number;
  maintenanceMarginPct: number;
  fundingRatePct: number;
}): MarginSettings {
  const problem = marginProblem(b.leverage, b.maintenanceMarginPct);
  if (problem) throw new AppError('VALIDATION_FAILED', `maintenanceMarginPct: ${problem}`);
  return marginSettings(b.leverage, b.maintenanceMarginPct, b.fundingRatePct);
}
