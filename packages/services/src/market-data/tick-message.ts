import type { Tick } from '@algotrade/core';

/** `market-data-updates` payload: one symbol's ticks, oldest first. */
export interface TicksMessage {
  symbol: string;
  ticks: { ts: number; price: number; size: number; bid?: number; ask?: number; seq?: number }[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
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
      !finite(t.price) ||
      t.price <= 0 ||
      !finite(t.size) ||
      t.size < 0 ||
      !optFinite(t.bid) ||
      !optFinite(t.ask) ||
      !optFinite(t.seq)
    )
      return { ok: false, reason: `tick ${i} needs finite ts, price > 0 and size >= 0` };
    (t as Tick).symbol = m.symbol;
  }
  return { ok: true, symbol: m.symbol, ticks: m.ticks as Tick[] };
}
