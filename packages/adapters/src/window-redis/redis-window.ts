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
  /** keep `latest` answers in process memory, invalidated by Redis (client tracking); default true */
  cacheReads?: boolean;
}

/** Stream key of a symbol; the symbol is the hash tag so all of its keys share one cluster slot. */
export const windowKey = (symbol: string, prefix = 'market'): string => `${prefix}:{${symbol}}`;

/**
 * Sliding windows on Redis Streams: XADD per tick, then XTRIM (approximate MAXLEN) and EXPIRE, in one
 * Lua script per batch of ticks (XADD does not refresh the TTL), reads with XREVRANGE + - COUNT n. Each
 * entry holds the tick's wire JSON in field `j`, so reads return it without re-encoding; `latestJson`
 * has a Lua script (EVALSHA) put them on lines of one bulk string, so a read is one string to split.
 *
 * Reads are cached in process with Redis's server-assisted client-side caching: the read connection
 * turns CLIENT TRACKING on (NOLOOP), redirecting invalidations to a second connection subscribed to
 * `__redis__:invalidate`; Redis announces every change another client makes to a key this process has
 * read (an append by another writer, expiry, deletion), and the entry is dropped. A read still in
 * flight when its key changes is not cached; while either connection is down nothing is cached and
 * reads go to Redis (and fail there during an outage). Many strategies polling one symbol then cost
 * one Redis read per change of the window made elsewhere.
 *
 * The process's own appends keep a cached entry up to date instead of dropping it (write-through): the
 * new ticks go in front and the entry is trimmed to its length, so the market-data process that ingests
 * a symbol answers its `latest` from memory, never behind Redis. The append script reads the key again
 * after writing (which keeps the key tracked for this client: a write ends tracking) and returns the id
 * of the entry that was newest before it wrote; if that is not the id the cached entry ends at, another
 * writer got in between and the entry is dropped.
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
    // the newest n entries' JSON, one a line (tick JSON has no raw newline), after the newest entry's id:
    // one bulk string to parse instead of n entries
    this.redis.defineCommand('latestWindowLines', {
      numberOfKeys: 1,
      lua: `local rows = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[1])
local out = {rows[1] and rows[1][1] or ''}
for i, r in ipairs(rows) do out[i + 1] = r[2][2] end
return table.concat(out, '\\n')`,
    });
    // a batch of ticks in one command: XADD per tick inside Redis, then one XTRIM and EXPIRE (101
    // commands for a message of 100 ticks cost the client far more than the server). The ticks travel as
    // one argument, each tick's JSON on a line of its own (tick JSON has no newline): 100 arguments cost
    // the client more than one, and a plain string.find is cheaper in Lua than a pattern. Each redis.call
    // costs the server about 1 us beyond the command's own work, and each argument more, so an XADD
    // carries only the entry (no MAXLEN: one XTRIM per batch trims the same, inside the same script).
    // With ARGV[4] = 1 (the process caches the key) it answers the id that was newest before and the
    // id now newest, and reads the key last, so the process stays tracked for it (see the class comment)
    this.redis.defineCommand('appendWindow', {
      numberOfKeys: 1,
      lua: `local key, cap, s = KEYS[1], ARGV[1], ARGV[3]
local call, find, sub = redis.call, string.find, string.sub
local before = ''
if ARGV[4] == '1' then
  local top = call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  before = top[1] and top[1][1] or ''
end
local id, pos = before, 1
while true do
  local nl = find(s, '\\n', pos, true)
  if not nl then break end
  id = call('XADD', key, '*', 'j', sub(s, pos, nl - 1))
  pos = nl + 1
end
call('XTRIM', key, 'MAXLEN', '~', cap)
call('EXPIRE', key, ARGV[2])
if ARGV[4] == '1' then call('XLEN', key) end
return {before, id}`,
    });
  }
  // ---- client-side cache (see the class comment) ----
  private inval?: Redis;
  private invalId?: number;
  private tracking = false;
  private epoch = 0;
  /** per key: the newest entries' JSON, newest first, and the stream id of the newest */
  private readonly cache = new Map<string, CachedWindow>();
  private readonly versions = new Map<string, number>();
  /** reads answered from the cache, and from Redis */
  readonly reads = { cached: 0, redis: 0 };

  /** one Redis read per key at a time: concurrent misses share it (no herd after each append) */
  private readonly inflight = new Map<string, { count: number; p: Promise<string> }>();

  private dropKey(key: string): void {
    this.cache.delete(key);
    this.inflight.delete(key); // readers arriving after a change do not join a read from before it
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
  }

  /** started by the first read: a process that only appends needs no second connection */
  private track(): void {
    const inval = new Redis(this.opts.url, {
      connectionName: 'algotrade-window-invalidations', // visible in CLIENT LIST
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (n) => Math.min(n * 100, 2000),
      autoResubscribe: false, // re-subscribed by hand: the client id is read first
    });
    this.inval = inval;
    inval.on('error', () => {});
    const off = () => {
      this.tracking = false;
      this.epoch++;
      this.cache.clear();
    };
    for (const c of [this.redis, inval]) {
      c.on('close', off);
      c.on('end', off);
    }
    inval.on('messageBuffer', (_channel: Buffer, keys: Buffer | Buffer[] | null) => {
      if (!keys) return off(); // FLUSHALL / FLUSHDB: everything goes
      for (const k of Array.isArray(keys) ? keys : [keys]) this.dropKey(k.toString());
    });
    const enable = async () => {
      const epoch = this.epoch;
      try {
        await this.redis.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(this.invalId), 'NOLOOP');
        if (epoch === this.epoch && inval.status === 'ready' && this.redis.status === 'ready') this.tracking = true;
      } catch {
        // no caching until the next reconnect
      }
    };
    inval.on('ready', async () => {
      try {
        this.invalId = Number(await inval.client('ID'));
        await inval.subscribe('__redis__:invalidate');
      } catch {
        return;
      }
      if (this.redis.status === 'ready') await enable();
    });
    this.redis.on('ready', () => {
      if (this.invalId !== undefined && inval.status === 'ready') void enable();
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
    // our own reads see this append at once: a cached entry takes the new ticks in front (it is then
    // ahead of Redis until the script runs), anything else is dropped
    const entry = this.tracking ? this.cache.get(key) : undefined;
    this.dropKey(key);
    const json = ticks.map(tickToJson);
    if (entry) {
      const { keep } = entry;
      const lines: string[] = [];
      for (let k = json.length - 1; k >= 0 && lines.length < keep; k--) lines.push(json[k]!);
      for (let k = 0; k < entry.lines.length && lines.length < keep; k++) lines.push(entry.lines[k]!);
      this.cache.set(key, { lines, keep, id: entry.id });
    }
    const run = (this.redis as unknown as WindowCommands).appendWindow;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < ticks.length; i += APPEND_CHUNK) {
      const end = Math.min(ticks.length, i + APPEND_CHUNK);
      const lines = jsonLines(json, i, end);
      const call = run.call(this.redis, key, cap, this.opts.ttlSeconds, lines, entry ? 1 : 0);
      calls.push(
        call.then(
          ([before, after]) => {
            if (entry) this.appended(key, before, after);
          },
          (e: unknown) => {
            this.dropKey(key); // the entry may hold ticks Redis does not
            throw e;
          },
        ),
      );
    }
    await Promise.all(calls);
  }

  /**
   * One append script's answer: the entry ends at its id, unless someone else wrote in between. (Answers
   * come in the order the appends were sent, and a read sent after an append is answered after it, so
   * an entry here, if any, holds this append.)
   */
  private appended(key: string, before: string, after: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    if (entry.id !== before) return this.dropKey(key);
    entry.id = after;
  }
  async latestJson(symbol: string, limit: number): Promise<string> {
    if (!this.inval && this.opts.cacheReads !== false) this.track();
    const key = this.key(symbol);
    const count = Math.min(limit, this.capacity(symbol));
    if (this.tracking) {
      const hit = this.cache.get(key);
      // fewer lines than it keeps: the entry holds the whole window
      if (hit && (hit.lines.length >= count || hit.lines.length < hit.keep)) {
        this.reads.cached++;
        return jsonOf(hit, count);
      }
    }
    // a read fails at once while Redis is away (the caller answers 503), rather than wait in the
    // offline queue for reconnection attempts; appends still queue to ride out a blip
    if (this.redis.status !== 'ready') throw new Error(`Redis is not connected (${this.redis.status})`);
    const shared = this.inflight.get(key);
    if (shared && shared.count === count) return shared.p;
    const { epoch, tracking } = this;
    const version = this.versions.get(key) ?? 0;
    const latest = (this.redis as unknown as WindowCommands).latestWindowLines;
    const p = latest.call(this.redis, key, count).then(
      (text) => {
        this.reads.redis++;
        if (this.inflight.get(key)?.p === p) this.inflight.delete(key);
        const lines = text.split('\n');
        const id = lines.shift()!;
        if (id === '') lines.length = 0; // no such key
        const entry: CachedWindow = { lines, keep: count, id };
        // cached only if tracking covered the whole read and no change of the key came meanwhile
        if (tracking && this.tracking && epoch === this.epoch && (this.versions.get(key) ?? 0) === version)
          this.cache.set(key, entry);
        return jsonOf(entry, count);
      },
      (e: unknown) => {
        if (this.inflight.get(key)?.p === p) this.inflight.delete(key);
        throw e;
      },
    );
    this.inflight.set(key, { count, p });
    return p;
  }
  async latest(symbol: string, limit: number): Promise<Tick[]> {
    return (JSON.parse(await this.latestJson(symbol, limit)) as WireTick[]).map((w) => fromWire(symbol, w));
  }
  async range(symbol: string, fromMs: number, toMs: number): Promise<Tick[]> {
    // stream ids are arrival times, so filter on the ticks' own times (field j's JSON; entries written
    // before 2026-12-02 also carry them in a field t, now unused)
    const rows = await this.redis.xrange(this.key(symbol), '-', '+');
    const out: Tick[] = [];
    for (const [, f] of rows) {
      const t = fromWire(symbol, JSON.parse(f[1]!) as WireTick);
      if (t.ts >= fromMs && t.ts <= toMs) out.push(t);
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
    await this.inval?.quit().catch(() => this.inval?.disconnect());
  }
}

interface WindowCommands {
  /** the newest entry's id ('' when there is none), then each entry's JSON, newest first, by lines */
  latestWindowLines(key: string, count: number): Promise<string>;
  /**
   * `lines`: each tick's JSON followed by a newline. With `track` 1 it answers the newest id before and
   * after ('' when there was none) and reads the key at the end; with 0 only the id after.
   */
  appendWindow(
    key: string,
    cap: number,
    ttlSeconds: number,
    lines: Buffer,
    track: 0 | 1,
  ): Promise<[before: string, after: string]>;
}

/** a window's newest entries as this process last knew them (read from Redis, then its own appends) */
interface CachedWindow {
  /** entries' JSON, newest first: the newest `keep`, or all of them when there are fewer */
  lines: string[];
  keep: number;
  /** stream id of the newest entry Redis has confirmed ('' for none) */
  id: string;
  /** `lines` joined as a JSON array of its first `jsonCount`, made on the first read that needs it */
  json?: string;
  jsonCount?: number;
}

/**
 * `json[from..to)`, each followed by a newline, written straight into one Buffer. The Buffer's bytes live
 * outside the JavaScript heap, and no string is built for the batch: sent as one string (joined, then
 * concatenated again by the Redis client) the batch's strings outlived two young-generation collections
 * and were promoted, 9.5 % of all this process allocated at 100,000 ticks/s, against 3.5 % this way.
 */
function jsonLines(json: string[], from: number, to: number): Buffer {
  let n = 0;
  for (let k = from; k < to; k++) n += Buffer.byteLength(json[k]!) + 1;
  const buf = Buffer.allocUnsafe(n);
  let off = 0;
  for (let k = from; k < to; k++) {
    off += buf.write(json[k]!, off);
    buf[off++] = 10;
  }
  return buf;
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

/** the entry's newest `count` as a JSON array, made once per change of the entry and count */
function jsonOf(entry: CachedWindow, count: number): string {
  if (entry.json === undefined || entry.jsonCount !== count) {
    entry.json = `[${(entry.lines.length > count ? entry.lines.slice(0, count) : entry.lines).join(',')}]`;
    entry.jsonCount = count;
  }
  return entry.json;
}
