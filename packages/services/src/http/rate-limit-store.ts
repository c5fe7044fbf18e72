import type { Redis } from 'ioredis';

type Callback = (err: Error | null, res?: { current: number; ttl: number }) => void;

interface Block {
  /** the count the next request answered from this block is (its place among the key's reservations) */
  next: number;
  /** the last place of this block within the limit (next > last: used up) */
  last: number;
  /** the key's count in Redis when the block was reserved (every replica's reservations) */
  total: number;
  max: number;
  /** when the window ends (Date.now() time) */
  resetAt: number;
}

export interface SharedCountOptions {
  /** key prefix in Redis */
  prefix: string;
  /**
   * Gateway replicas counting against the same limits: a replica reserves at most half of
   * 1/replicas of what the limit has left at a time, so requests spread over the replicas are not
   * refused early by much (reserved and unused counts are lost when the window ends).
   */
  replicas: number;
}

const RESERVE = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}`;

type ReserveCommand = (key: string, n: number, windowMs: number) => Promise<[number, number]>;

/**
 * A @fastify/rate-limit store whose counts live in Redis (one key per caller and window, INCRBY and
 * PEXPIRE, like the plugin's own Redis store) without a Redis round trip for most requests: a replica
 * reserves a block of requests in Redis and answers from it in process until it is used up. Every
 * request answered is one reserved in Redis, so the replicas together never pass the limit; what a
 * replica reserved and did not use counts as used until the window ends, so a caller spread over the
 * replicas may be refused a little early. Blocks shrink as the limit nears (to one request: then every
 * request asks Redis, as before). Redis being away fails the count and the plugin's skipOnError lets
 * the request through.
 */
export function sharedCountStore(redis: Redis, o: SharedCountOptions) {
  if (!(redis as unknown as { rateLimitReserve?: unknown }).rateLimitReserve)
    redis.defineCommand('rateLimitReserve', { numberOfKeys: 1, lua: RESERVE });
  const reserve: ReserveCommand = (key, n, windowMs) =>
    (redis as unknown as { rateLimitReserve: ReserveCommand }).rateLimitReserve(o.prefix + key, n, windowMs);
  const blocks = new Map<string, Block>();
  /** requests waiting for a reservation in flight for their key: one Redis call serves them all */
  const waiting = new Map<string, Callback[]>();
  let swept = Date.now();
  const taking = (key: string): Callback[] => {
    const cbs = waiting.get(key) ?? [];
    waiting.delete(key);
    return cbs;
  };

  return class SharedCountStore {
    incr(key: string, cb: Callback, timeWindow: number, max: number): void {
      const now = Date.now();
      if (now - swept > timeWindow) {
        swept = now;
        for (const [k, b] of blocks) if (now >= b.resetAt) blocks.delete(k);
      }
      const b = blocks.get(key);
      if (b && now < b.resetAt && b.next <= b.last && b.max === max) {
        cb(null, { current: b.next++, ttl: b.resetAt - now });
        return;
      }
      const queued = waiting.get(key);
      if (queued) {
        queued.push(cb);
        return;
      }
      waiting.set(key, [cb]);
      // a block sized from what the limit had left when this replica last asked (one at first)
      const known = b && now < b.resetAt ? b.total : max;
      const size = Math.max(1, Math.floor((max - known) / (2 * o.replicas)));
      reserve(key, size, timeWindow).then(
        ([total, ttl]) => {
          // the block is places total-size+1 .. total among the key's reservations; those past the
          // limit are nobody's. The waiting requests take its places in turn; past the limit they are
          // refused, and any the block is too small for reserve again
          const first = total - size + 1;
          const block: Block = { next: first, last: Math.min(total, max), total, max, resetAt: Date.now() + ttl };
          blocks.set(key, block);
          for (const c of taking(key)) {
            if (block.next <= block.last) c(null, { current: block.next++, ttl });
            else if (first > max) c(null, { current: first, ttl });
            else this.incr(key, c, timeWindow, max);
          }
        },
        (e: Error) => {
          for (const c of taking(key)) c(e);
        },
      );
    }
    child(): SharedCountStore {
      return this; // no route here has limits of its own
    }
  };
}

/**
 * The in-process store (one process, no Redis): a fixed window per key from its first request, as
 * the plugin's own LocalStore counts, kept as an instance the fast lane can count in too. Expired
 * windows are swept once per window; past `maxKeys` keys the window opened longest ago is dropped
 * (as LocalStore's LRU of 5,000 drops its least recent), so callers inventing keys cannot grow it
 * without bound.
 */
export class LocalCountStore {
  private windows = new Map<string, { current: number; resetAt: number }>();
  private swept = Date.now();

  constructor(private readonly maxKeys = 100_000) {}

  incr(key: string, cb: Callback, timeWindow: number): void {
    const now = Date.now();
    if (now - this.swept > timeWindow) {
      this.swept = now;
      for (const [k, w] of this.windows) if (now >= w.resetAt) this.windows.delete(k);
    }
    let w = this.windows.get(key);
    if (!w || now >= w.resetAt) {
      // a new window goes to the end of the map's order: the first key is the oldest window
      this.windows.delete(key);
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      w = { current: 0, resetAt: now + timeWindow };
      this.windows.set(key, w);
    }
    w.current++;
    cb(null, { current: w.current, ttl: w.resetAt - now });
  }

  /** keys held (for tests) */
  get size(): number {
    return this.windows.size;
  }

  child(): LocalCountStore {
    return this; // no route here has limits of its own
  }
}
