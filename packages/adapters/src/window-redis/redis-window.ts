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
 * Sliding windows on Redis Streams: XADD with approximate MAXLEN trimming and EXPIRE in one Lua
 * script per batch of ticks (XADD does not refresh the TTL), reads with XREVRANGE + - COUNT n. Each entry holds the
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
    // a batch of ticks in one command: XADD per tick inside Redis, then EXPIRE (101 commands for a
    // message of 100 ticks cost the client far more than the server)
    this.redis.defineCommand('appendWindow', {
      numberOfKeys: 1,
      lua: `local key, cap = KEYS[1], ARGV[1]
for i = 3, #ARGV, 2 do
  redis.call('XADD', key, 'MAXLEN', '~', cap, '*', 'j', ARGV[i], 't', ARGV[i + 1])
end
redis.call('EXPIRE', key, ARGV[2])
return (#ARGV - 2) / 2`,
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
    const cap = this.capacity(symbol);
    const run = (this.redis as unknown as WindowCommands).appendWindow;
    const calls: Promise<number>[] = [];
    for (let i = 0; i < ticks.length; i += APPEND_CHUNK) {
      const end = Math.min(ticks.length, i + APPEND_CHUNK);
      const args: (string | number)[] = [cap, this.opts.ttlSeconds];
      for (let k = i; k < end; k++) args.push(tickToJson(ticks[k]!), ticks[k]!.ts);
      calls.push(run.call(this.redis, key, ...args));
    }
    await Promise.all(calls);
  }
  async latestJson(symbol: string, limit: number): Promise<string> {
    const latest = (this.redis as unknown as WindowCommands).latestWindowJson;
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

interface WindowCommands {
  latestWindowJson(key: string, count: number): Promise<string>;
  appendWindow(key: string, ...args: (string | number)[]): Promise<number>;
}

/** ticks per append script call (bounds the time one call holds Redis) */
const APPEND_CHUNK = 500;

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
