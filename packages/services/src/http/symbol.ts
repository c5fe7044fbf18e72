import { SYMBOL_PATTERN } from '@algotrade/core';
import { z } from 'zod';

/** A market symbol as requests give it: 1-40 letters, digits and ._:-, stored upper-case (btcusd → BTCUSD). */
export const SymbolInput = z
  .string()
  .min(1)
  .max(40)
  .regex(SYMBOL_PATTERN, 'letters, digits and ._:- only')
  .transform((s) => s.toUpperCase());
