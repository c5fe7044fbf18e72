import type { Tick, WindowStore } from '@algotrade/core';
import { tickToJson } from '@algotrade/core';

export interface WindowOptions {
  size: number;
  overrides?: Record<string, number>;
  ttlSeconds: number;
  now?: () => number;
}

class Ring {
  readonly ticks: (Tick | undefined)[];
  readonly json: (string | undefined)[];
  next = 0;
  count = 0;
  touched = 0;
  /** ticks ever pushed: the version of the window */
  pushed = 0;
  /** the last `latestJson` answer, reused until the next push (many readers poll the same window) */
  cached?: { pushed: number; limit: number; json: string };
  constructor(readonly cap: number) {
    this.ticks = new Array(cap);
    this.json = new Array(cap);
  }
  push(t: Tick): void {
    this.ticks[this.next] = t;
    this.json[this.next] = undefined;
    this.next = this.next + 1 === this.cap ? 0 : this.next + 1;
    if (this.count < this.cap) this.count++;
    this.pushed++;
  }
  /** slot of the i-th newest tick */
  slot(i: number): number {
    const s = this.next - 1 - i;
    return s < 0 ? s + this.cap : s;
  }
}

/**
 * Per-symbol ring buffers: O(1) append, newest-N reads without copying the window, and the wire JSON
 * of each tick cached on first read so hot `latest` calls only join strings.
 */
export class MemoryWindowStore implements WindowStore {
  readonly kind = 'memory';
  private readonly rings = new Map<string, Ring>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  constructor(private readonly opts: WindowOptions) {
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }
  capacity(symbol: string): number {
    return this.opts.overrides?.[symbol] ?? this.opts.size;
  }
  private ring(symbol: string): Ring | undefined {
    const r = this.rings.get(symbol);
    if (r && this.now() - r.touched > this.opts.ttlSeconds * 1000) {
      this.rings.delete(symbol);
      return undefined;
    }
    return r;
  }
  async append(symbol: string, ticks: Tick[]): Promise<void> {
    this.appendSync(symbol, ticks);
  }
  appendSync(symbol: string, ticks: Tick[]): void {
    let r = this.ring(symbol);
    if (!r) this.rings.set(symbol, (r = new Ring(this.capacity(symbol))));
    for (let i = 0; i < ticks.length; i++) r.push(ticks[i]!);
    r.touched = this.now();
  }
  async latest(symbol: string, limit: number): Promise<Tick[]> {
    const r = this.ring(symbol);
    if (!r) return [];
    const n = Math.min(limit, r.count);
    const out = new Array<Tick>(n);
    for (let i = 0; i < n; i++) out[i] = r.ticks[r.slot(i)]!;
    return out;
  }
  /** The `ticks` array of the HTTP answer, already serialised (newest first). */
  async latestJson(symbol: string, limit: number): Promise<string> {
    const r = this.ring(symbol);
    if (!r) return '[]';
    const c = r.cached;
    if (c && c.pushed === r.pushed && c.limit === limit) return c.json;
    const n = Math.min(limit, r.count);
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const s = r.slot(i);
      parts[i] = r.json[s] ??= tickToJson(r.ticks[s]!);
    }
    const json = '[' + parts.join(',') + ']';
    r.cached = { pushed: r.pushed, limit, json };
    return json;
  }
  async range(symbol: string, fromMs: number, toMs: number): Promise<Tick[]> {
    const r = this.ring(symbol);
    if (!r) return [];
    const out: Tick[] = [];
    for (let i = 0; i < r.count; i++) {
      const t = r.ticks[r.slot(i)]!;
      if (t.ts > toMs) continue;
      if (t.ts < fromMs) break;
      out.push(t);
    }
    return out.reverse();
  }
  async size(symbol: string): Promise<number> {
    return this.ring(symbol)?.count ?? 0;
  }
  symbols(): string[] {
    return [...this.rings.keys()];
  }
  private sweep(): void {
    for (const s of [...this.rings.keys()]) this.ring(s);
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
