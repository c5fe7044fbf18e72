import type { Candle, Tick } from '@algotrade/core';

/** Builds 1-minute candles from ticks per symbol; a candle is closed by the first tick of a later minute. */
export class CandleBuilder {
  private readonly open = new Map<string, Candle>();
  private closed: { symbol: string; candle: Candle }[] = [];
  constructor(private readonly ms = 60_000) {}
  add(symbol: string, t: Tick): void {
    const start = t.ts - (t.ts % this.ms);
    const cur = this.open.get(symbol);
    if (!cur || start > cur.ts) {
      if (cur) this.closed.push({ symbol, candle: cur });
      this.open.set(symbol, { ts: start, open: t.price, high: t.price, low: t.price, close: t.price, volume: t.size });
      return;
    }
    if (start < cur.ts) return; // a late tick for a closed minute: the stored candle stands
    if (t.price > cur.high) cur.high = t.price;
    if (t.price < cur.low) cur.low = t.price;
    cur.close = t.price;
    cur.volume += t.size;
  }
  /** the candle still forming */
  current(symbol: string): Candle | undefined {
    return this.open.get(symbol);
  }
  /** closed candles since the last call (and, with `all`, the forming ones too, e.g. at shutdown) */
  drain(all = false): { symbol: string; candle: Candle }[] {
    const out = this.closed;
    this.closed = [];
    if (all) for (const [symbol, candle] of this.open) out.push({ symbol, candle: { ...candle } });
    return out;
  }
}
