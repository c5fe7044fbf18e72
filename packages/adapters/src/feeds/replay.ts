import { readFileSync } from 'node:fs';
import type { Tick } from '@algotrade/core';
import { parseCandlesCsv, parseTimestamp } from './csv.ts';
import { newStats, type FeedStats, type OnTicks, type TickProvider } from './provider.ts';

export interface ReplayOptions {
  file: string;
  symbol: string;
  /** 1 = real time, 60 = one recorded minute per second, 0 = as fast as possible */
  speed: number;
  loop?: boolean;
  /** wall clock (tests) */
  now?: () => number;
}

/**
 * Reads a recorded tick file: a header with a timestamp column (ts/date/time/datetime/timestamp) and
 * `price` (plus optional size/qty/volume, bid, ask). A file without `price` is read as OHLCV candles and
 * replayed as one tick per candle at its close, sized by its volume. Rows that cannot be read are
 * counted in `skipped`. Ticks come back in time order.
 */
export function readReplayFile(text: string): { ticks: Omit<Tick, 'symbol'>[]; skipped: number } {
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  const sep = (lines[first] ?? '').includes(';') && !(lines[first] ?? '').includes(',') ? ';' : ',';
  const head = (lines[first] ?? '').split(sep).map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  const col = (...names: string[]) => head.findIndex((h) => names.includes(h));
  const iPrice = col('price', 'last', 'last_price');
  if (iPrice < 0) {
    const { candles, skipped } = parseCandlesCsv(text);
    candles.sort((a, b) => a.ts - b.ts);
    return { ticks: candles.map((c) => ({ ts: c.ts, price: c.close, size: c.volume })), skipped };
  }
  const iTs = col('ts', 'date', 'time', 'datetime', 'timestamp');
  const iSize = col('size', 'qty', 'quantity', 'volume', 'amount');
  const iBid = col('bid', 'best_bid');
  const iAsk = col('ask', 'best_ask');
  const ticks: Omit<Tick, 'symbol'>[] = [];
  let skipped = 0;
  for (let i = first + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const c = line.split(sep);
    const ts = iTs >= 0 ? parseTimestamp(c[iTs] ?? '') : NaN;
    const price = Number(c[iPrice]);
    const size = iSize >= 0 && c[iSize]?.trim() ? Number(c[iSize]) : 0;
    if (!Number.isFinite(ts) || !(price > 0) || !(size >= 0)) {
      skipped++;
      continue;
    }
    const t: Omit<Tick, 'symbol'> = { ts, price, size };
    const bid = iBid >= 0 ? Number(c[iBid]) : NaN;
    const ask = iAsk >= 0 ? Number(c[iAsk]) : NaN;
    if (bid > 0) t.bid = bid;
    if (ask > 0) t.ask = ask;
    ticks.push(t);
  }
  ticks.sort((a, b) => a.ts - b.ts);
  return { ticks, skipped };
}

/**
 * Replays a recorded CSV as a live feed at a chosen speed. The recorded spacing between ticks is kept
 * (divided by `speed`); ticks carry the wall-clock time they are emitted at, so windows, live candles
 * and forward tests see them as live data. With `loop` it starts over at the end.
 */
export class CsvReplayProvider implements TickProvider {
  readonly name = 'replay';
  readonly stats: FeedStats = newStats();
  private readonly ticks: Omit<Tick, 'symbol'>[];
  private active = false;
  private timer?: NodeJS.Timeout;
  private onTicks?: OnTicks;
  private next = 0;
  private t0Wall = 0;
  private t0Rec = 0;
  private seq = 0;
  private lastTs = 0;
  /** schedules made: a pump at speed 0 waiting for its publish goes on only if no newer one came */
  private turn = 0;
  done = false;

  constructor(private readonly opts: ReplayOptions) {
    const r = readReplayFile(readFileSync(opts.file, 'utf8'));
    this.ticks = r.ticks;
    this.stats.malformed = r.skipped;
  }

  get length(): number {
    return this.ticks.length;
  }

  async start(onTicks: OnTicks): Promise<void> {
    this.onTicks = onTicks;
    this.schedule(0);
  }

  async subscribe(symbol: string): Promise<void> {
    if (symbol !== this.opts.symbol) return; // a replay has one symbol
    if (!this.active) {
      this.active = true;
      this.restart();
      if (this.onTicks) this.schedule(0);
    }
  }

  async unsubscribe(symbol: string): Promise<void> {
    if (symbol === this.opts.symbol) this.active = false;
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private restart() {
    this.next = 0;
    this.t0Wall = (this.opts.now ?? Date.now)();
    this.t0Rec = this.ticks[0]?.ts ?? 0;
  }

  private schedule(ms: number) {
    this.turn++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), ms);
    this.timer.unref();
  }

  private pump() {
    if (!this.active || !this.onTicks) return;
    const now = (this.opts.now ?? Date.now)();
    const speed = this.opts.speed;
    const out: Tick[] = [];
    const limit = speed > 0 ? Infinity : 1000; // as fast as possible: 1,000 per turn of the event loop
    while (this.next < this.ticks.length && out.length < limit) {
      const t = this.ticks[this.next]!;
      const due = speed > 0 ? this.t0Wall + (t.ts - this.t0Rec) / speed : now;
      if (due > now) break;
      const ts = Math.max(now, this.lastTs + 1);
      this.lastTs = ts;
      out.push({ ...t, symbol: this.opts.symbol, ts, seq: ++this.seq });
      this.next++;
    }
    let taken: unknown;
    if (out.length) {
      this.stats.received += out.length;
      taken = this.onTicks(this.opts.symbol, out);
    }
    if (this.next >= this.ticks.length) {
      if (!this.opts.loop) {
        this.done = true;
        return;
      }
      this.restart();
    }
    // as fast as possible means as fast as the consumers take it: the next turn waits for this one's
    // publish (which waits while the in-memory bus's queue is full) instead of piling ticks up
    if (speed <= 0 && typeof (taken as Promise<unknown> | undefined)?.then === 'function') {
      // unless the replay stopped, or a restart scheduled anew meanwhile (schedule() counts the turns)
      const turn = this.turn;
      const next = () => this.turn === turn && this.active && this.schedule(0);
      void (taken as Promise<unknown>).then(next, next);
      return;
    }
    const t = this.ticks[this.next]!;
    const wait = speed > 0 ? this.t0Wall + (t.ts - this.t0Rec) / speed - (this.opts.now ?? Date.now)() : 0;
    this.schedule(Math.max(speed > 0 ? 1 : 0, Math.min(wait, 60_000)));
  }
}
