import { z } from 'zod';
import type { LegRules } from '@algotrade/strategy';
import { SymbolInput } from './symbol.ts';

/**
 * What an exchange's rules add to a backtest's or a paper session's money settings, each optional: a
 * maker's fee rate (a limit order filled at its level), a lot size, a minimum order value and a short's
 * borrow rate. Left out, a run is as before they existed (every fill at `feeRate`; whole units for
 * stocks, 1e-8 otherwise; no minimum; shorts free to hold).
 */
export const ExchangeInput = {
  /**
   * a limit order filled at its level pays this rate, as a maker (absent: feeRate); below 0 a rebate, as
   * some derivatives exchanges pay makers (BitMEX's -0.025 %), at most 0.1 % back
   */
  makerFeeRate: z.number().min(-0.001).max(0.1).optional(),
  /** every quantity a multiple of this, rounded down (Binance's LOT_SIZE stepSize: 0.001 BTC) */
  qtyStep: z.number().min(1e-8).max(1e6).optional(),
  /** an entry or addition worth less than this is refused (Binance's MIN_NOTIONAL: 5 USDT); closes never are */
  minNotional: z.number().min(0).max(1e9).optional(),
  /** a short position pays this % a year of its value (a borrow fee), at the funding times */
  borrowRatePct: z.number().min(0).max(100).optional(),
};

export interface ExchangeSettings {
  makerFeeRate?: number;
  qtyStep?: number;
  minNotional?: number;
  borrowRatePct?: number;
}

/** The settings to keep: those given, so a run without any stores none. */
export function exchangeOf(b: ExchangeSettings): ExchangeSettings {
  const out: ExchangeSettings = {};
  if (b.makerFeeRate !== undefined) out.makerFeeRate = b.makerFeeRate;
  if (b.qtyStep !== undefined) out.qtyStep = b.qtyStep;
  if (b.minNotional !== undefined) out.minNotional = b.minNotional;
  if (b.borrowRatePct) out.borrowRatePct = b.borrowRatePct;
  return out;
}

/** One symbol's lot size and minimum order value, as ExchangeInput bounds them; at least one of the two. */
const LegRulesInput = z
  .strictObject({ qtyStep: ExchangeInput.qtyStep, minNotional: ExchangeInput.minNotional })
  .refine((r) => r.qtyStep !== undefined || r.minNotional !== undefined, {
    message: 'give qtyStep, minNotional or both',
  });

/**
 * A portfolio's rules by symbol (`{"BTCUSD": {"qtyStep": 0.001, "minNotional": 5}}`): each symbol's lot size
 * and minimum order value on its exchange, over the run's `qtyStep` and `minNotional`. Keys are symbols
 * of the portfolio (checkSymbolRules).
 */
export const SymbolRulesInput = z.record(SymbolInput, LegRulesInput);

export type SymbolRules = Record<string, LegRules>;

/**
 * A body's symbolRules (a zod superRefine): a portfolio's (it gives `symbols`), and only for its symbols;
 * anything else is an issue at `symbolRules` naming the stray symbols.
 */
export function checkSymbolRules(b: { symbols?: string[]; symbolRules?: SymbolRules }, ctx: z.RefinementCtx): void {
  if (!b.symbolRules) return;
  const stray = Object.keys(b.symbolRules).filter((k) => !b.symbols?.includes(k));
  if (!b.symbols) ctx.addIssue({ code: 'custom', path: ['symbolRules'], message: "a portfolio's: give symbols" });
  else if (stray.length)
    ctx.addIssue({
      code: 'custom',
      path: ['symbolRules'],
      message: `${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} not among the symbols`,
    });
}
