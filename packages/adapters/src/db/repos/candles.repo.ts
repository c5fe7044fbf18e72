import type { Candle, SymbolInfo } from '@algotrade/core';
import { sql } from 'kysely';
import type { Db } from '../connect.ts';
import type { SymbolsTable } from '../schema.ts';

export const INTERVALS: Record<string, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
  '1w': 604_800_000,
};

/** Candles are shared market data (not per user); symbols likewise. */
export const candlesRepo = (db: Db) => ({
  async upsert(symbol: string, interval: string, candles: readonly Candle[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < candles.length; i += 2000) {
      const chunk = candles.slice(i, i + 2000);
      await db
        .insertInto('candles')
        .values(
          chunk.map((c) => ({
            symbol,
            interval,
            ts: new Date(c.ts),
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['symbol', 'interval', 'ts']).doUpdateSet((eb) => ({
            open: eb.ref('excluded.open'),
            high: eb.ref('excluded.high'),
            low: eb.ref('excluded.low'),
            close: eb.ref('excluded.close'),
            volume: eb.ref('excluded.volume'),
          })),
        )
        .execute();
      n += chunk.length;
    }
    return n;
  },
  /** Stored candles of `interval`, or coarser ones aggregated from stored 1m (or other finer) candles. Oldest first. */
  async query(symbol: string, interval: string, from?: Date, to?: Date, limit = 100_000): Promise<Candle[]> {
    const have = await db.selectFrom('candles').select('interval').distinct().where('symbol', '=', symbol).execute();
    const stored = new Set(have.map((h) => h.interval));
    const target = INTERVALS[interval]!;
    const source = stored.has(interval)
      ? interval
      : Object.keys(INTERVALS)
          .filter((k) => stored.has(k) && INTERVALS[k]! < target && target % INTERVALS[k]! === 0)
          .sort((a, b) => INTERVALS[b]! - INTERVALS[a]!)[0];
    if (!source) return [];
    let q = db
      .selectFrom('candles')
      .select(['ts', 'open', 'high', 'low', 'close', 'volume'])
      .where('symbol', '=', symbol)
      .where('interval', '=', source);
    if (from) q = q.where('ts', '>=', from);
    if (to) q = q.where('ts', '<=', to);
    // newest `limit` rows when only a limit is given, returned oldest first
    const rows = await q
      .orderBy('ts', from ? 'asc' : 'desc')
      .limit(source === interval ? limit : limit * (target / INTERVALS[source]!))
      .execute();
    if (!from) rows.reverse();
    const base = rows.map((r) => ({
      ts: new Date(r.ts).getTime(),
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
    }));
    return source === interval ? base : aggregate(base, target).slice(-limit);
  },
  async count(symbol: string, interval: string): Promise<number> {
    const r = await db
      .selectFrom('candles')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('symbol', '=', symbol)
      .where('interval', '=', interval)
      .executeTakeFirst();
    return r?.n ?? 0;
  },
});

/** Where `ms`-wide bars start, from the epoch: weeks on Monday 00:00 UTC (1970-01-01 was a Thursday). */
export const barOffset = (ms: number) => (ms === INTERVALS['1w'] ? 4 * 86_400_000 : 0);

/**
 * The last instant of the `interval` bars closed at `at` (ms): just before the bar `at` falls in began.
 * What `query(..., to)` is given to leave out a bar still being built.
 */
export function closedBy(at: number, interval: string): number {
  const ms = INTERVALS[interval]!;
  const offset = barOffset(ms);
  return Math.floor((at - offset) / ms) * ms + offset - 1;
}

/** Buckets candles into `ms`-wide bars aligned to the epoch (weeks to Monday 00:00 UTC). */
export function aggregate(candles: readonly Candle[], ms: number): Candle[] {
  const offset = barOffset(ms);
  const out: Candle[] = [];
  let cur: Candle | undefined;
  for (const c of candles) {
    const b = Math.floor((c.ts - offset) / ms) * ms + offset;
    if (!cur || cur.ts !== b) {
      cur = { ts: b, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
      out.push(cur);
    } else {
      if (c.high > cur.high) cur.high = c.high;
      if (c.low < cur.low) cur.low = c.low;
      cur.close = c.close;
      cur.volume += c.volume;
    }
  }
  return out;
}

const symbolInfo = (r: Omit<SymbolsTable, 'created_at'>): SymbolInfo => ({
  symbol: r.symbol,
  provider: r.provider,
  assetClass: r.asset_class,
  base: r.base,
  quote: r.quote,
  active: r.active,
});

export const symbolsRepo = (db: Db) => ({
  async upsert(s: SymbolInfo): Promise<void> {
    await db
      .insertInto('symbols')
      .values({
        symbol: s.symbol,
        provider: s.provider,
        asset_class: s.assetClass,
        base: s.base,
        quote: s.quote,
        active: s.active,
      })
      .onConflict((oc) => oc.column('symbol').doNothing())
      .execute();
  },
  async setActive(symbol: string, active: boolean): Promise<boolean> {
    const r = await db.updateTable('symbols').set({ active }).where('symbol', '=', symbol).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  },
  async search(q?: string): Promise<SymbolInfo[]> {
    let query = db.selectFrom('symbols').selectAll().orderBy('symbol');
    if (q) {
      // the text as typed: % and _ match themselves, not any characters
      const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where((eb) => eb.or([eb('symbol', 'ilike', like), eb('base', 'ilike', like)]));
    }
    const rows = await query.limit(500).execute();
    return rows.map(symbolInfo);
  },
  async get(symbol: string): Promise<SymbolInfo | null> {
    const r = await db.selectFrom('symbols').selectAll().where('symbol', '=', symbol).executeTakeFirst();
    return r ? symbolInfo(r) : null;
  },
});
