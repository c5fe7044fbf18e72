import type { Tick, WindowStore } from '@algotrade/core';
import { tickToJson } from '@algotrade/core';
import { Redis } from 'ioredis';

export interface RedisWindowOptions {
  url: string;
  size: number;
  overrides?: Record<string, number>;
  ttlSeconds: number;
  /** key prefix, so test runs and deployments can share one Redis */
  prefix?: string;
}

/** Stream key of a symbol; the symbol is the hash tag so all of its keys share one cluster slot. */
export const windowKey = (symbol: string, prefix = 'market'): string => `${prefix}:{${symbol}}`;

/**
 * Sliding windows on Redis Streams: XADD with approximate MAXLEN trimming and EXPIRE in one
 * pipeline (XADD does not refresh the TTL), reads with XREVRANGE + - COUNT n. Each entry holds the
 * tick's wire JSON in field `j`, so reads return it without re-encoding; `latestJson` joins them in a
 * Lua script (EVALSHA), so a read is one bulk string to parse.
 */
export class RedisWindowStore implements WindowStore {
  readonly kind = 'redis';
  readonly redis: Redis;
  constructor(private readonly opts: RedisWindowOptions) {
    this.redis = new Redis(opts.url, {
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // keep trying to reconnect in the background; callers see errors (503) meanwhile
      retryStrategy: (n) => Math.min(n * 100, 2000),
    });
    this.redis.on('error', () => {});
    // the newest n entries' JSON joined inside Redis: one bulk string to parse instead of n entries
    this.redis.defineCommand('latestWindowJson', {
      numberOfKeys: 1,
      lua: `local rows = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[1])
local out = {}
for i, r in ipairs(rows) do out[i] = r[2][2] end
return '[' .. table.concat(out, ',') .. ']'`,
    });
  }
  capacity(symbol: string): number {
    return this.opts.overrides?.[symbol] ?? this.opts.size;
  }
  private key(symbol: string): string {
    return windowKey(symbol, this.opts.prefix);
  }
  async append(symbol: string, ticks: Tick[]): Promise<void> {
    if (ticks.length === 0) return;
    const key = this.key(symbol);
    const cap = String(this.capacity(symbol));
    const p = this.redis.pipeline();
    for (const t of ticks) p.xadd(key, 'MAXLEN', '~', cap, '*', 'j', tickToJson(t), 't', String(t.ts));
    p.expire(key, this.opts.ttlSeconds);
    const res = await p.exec();
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
  }
  async latestJson(symbol: string, limit: number): Promise<string> {
    const latest = (this.redis as unknown as LatestJsonCommand).latestWindowJson;
    return latest.call(this.redis, this.key(symbol), Math.min(limit, this.capacity(symbol)));
  }
  async latest(symbol: string, limit: number): Promise<Tick[]> {
    return (JSON.parse(await this.latestJson(symbol, limit)) as WireTick[]).map((w) => fromWire(symbol, w));
  }
  async range(symbol: string, fromMs: number, toMs: number): Promise<Tick[]> {
    // entries carry their tick time in field t; stream ids are arrival times, so filter on t
    const rows = await this.redis.xrange(this.key(symbol), '-', '+');
    const out: Tick[] = [];
    for (const [, f] of rows) {
      const ts = Number(f[3]);
      if (ts >= fromMs && ts <= toMs) out.push(fromWire(symbol, JSON.parse(f[1]!) as WireTick));
    }
    return out;
  }
  async size(symbol: string): Promise<number> {
    return Math.min(await this.redis.xlen(this.key(symbol)), this.capacity(symbol));
  }
  async ping(): Promise<void> {
    await this.redis.ping();
  }
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

interface LatestJsonCommand {
  latestWindowJson(key: string, count: number): Promise<string>;
}

interface WireTick {
  ts: string;
  price: number;
  size: number;
  bid?: number;
  ask?: number;
  seq?: number;
}
function fromWire(symbol: string, w: WireTick): Tick {
  const t: Tick = { symbol, ts: Date.parse(w.ts), price: w.price, size: w.size };
  if (w.bid !== undefined) t.bid = w.bid;
  if (w.ask !== undefined) t.ask = w.ask;
  if (w.seq !== undefined) t.seq = w.seq;
  return t;
}
