import type { Tick } from '@algotrade/core';

/** `market-data-updates` payload: one symbol's ticks, oldest first. */
export interface TicksMessage {
  symbol: string;
  ticks: { ts: number; price: number; size: number; bid?: number; ask?: number; seq?: number }[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
/**
 * The bounds of a tick's numbers: a price or quote up to 10^12 (bitcoin quoted in Indonesian rupiah is
 * about 10^9), a size up to 10^15, a time a date can hold. A number beyond them is a broken feed, and
 * passed on it would reach paper fills and the order log (numeric(38,12)), which refuses it.
 */
export const MAX_PRICE = 1e12;
/** and at least 10^-12: a smaller price (no market quotes one) would size positions beyond any ledger */
export const MIN_PRICE = 1e-12;
const MAX_SIZE = 1e15;
/** the most milliseconds from 1970, either way, that a date can hold */
export const MAX_TIME_MS = 8.64e15;
const optQuote = (x: unknown) => x === undefined || (finite(x) && x >= 0 && x <= MAX_PRICE);
const optFinite = (x: unknown) => x === undefined || finite(x);

/**
 * Validates a bus payload without allocating per tick on the happy path (this runs at ingest rates
 * of a million ticks a second); returns the ticks or the reason they were refused.
 */
export function readTicks(data: unknown): { ok: true; symbol: string; ticks: Tick[] } | { ok: false; reason: string } {
  const m = data as TicksMessage;
  if (!m || typeof m !== 'object' || typeof m.symbol !== 'string' || !/^[A-Z0-9._:-]{1,40}$/.test(m.symbol))
    return { ok: false, reason: 'symbol must be 1-40 upper-case letters, digits or ._:-' };
  if (!Array.isArray(m.ticks)) return { ok: false, reason: 'ticks must be an array' };
  for (let i = 0; i < m.ticks.length; i++) {
    const t = m.ticks[i]!;
    if (
      !t ||
      !finite(t.ts) ||
      Math.abs(t.ts) > MAX_TIME_MS ||
      !finite(t.price) ||
      !(t.price >= MIN_PRICE) ||
      t.price > MAX_PRICE ||
      !finite(t.size) ||
      t.size < 0 ||
      t.size > MAX_SIZE ||
      !optQuote(t.bid) ||
      !optQuote(t.ask) ||
      !optFinite(t.seq)
    )
      return {
        ok: false,
        reason: `tick ${i} needs a ts in ms since 1970, 1e-12 <= price <= 1e12, 0 <= size <= 1e15, 0 <= bid, ask <= 1e12`,
      };
    (t as Tick).symbol = m.symbol;
  }
  return { ok: true, symbol: m.symbol, ticks: m.ticks as Tick[] };
}
