import { RedisWindowStore, windowKey } from '@algotrade/adapters/window-redis/redis-window';
import { describe, expect, it } from 'vitest';
import { windowContract } from '../contracts/window.contract.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

const prefix = uniqueName('test-market');
windowContract('redis', {
  make: async (o) => new RedisWindowStore({ url: SERVICES.redis, prefix, ...o }),
  idle: (_w, s) => new Promise((r) => setTimeout(r, s * 1000 + 200)),
});

describe('redis window keys', () => {
  it('use the symbol as the cluster hash tag and carry the idle TTL', async () => {
    expect(windowKey('BTCUSD')).toBe('market:{BTCUSD}');
    const w = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 10, ttlSeconds: 600 });
    try {
      await w.append('TTLSYM', [{ symbol: 'TTLSYM', ts: 1, price: 1, size: 1 }]);
      const ttl = await w.redis.ttl(windowKey('TTLSYM', prefix));
      expect(ttl).toBeGreaterThan(590);
      expect(await w.redis.type(windowKey('TTLSYM', prefix))).toBe('stream');
    } finally {
      await w.close();
    }
  });

  it('read entries written before 2026-12-02 (fields j and t) beside new ones (field j alone)', async () => {
    const w = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 10, ttlSeconds: 600 });
    const key = windowKey('OLDFMT', prefix);
    try {
      // the earlier layout, as its script wrote it: the tick's JSON in j and its time in ms in t
      for (const [ts, price] of [
        [1000, 1],
        [2000, 2],
      ])
        await w.redis.xadd(key, '*', 'j', JSON.stringify({ ts: new Date(ts).toISOString(), price, size: 1 }), 't', ts);
      await w.append('OLDFMT', [
        { symbol: 'OLDFMT', ts: 3000, price: 3, size: 1 },
        { symbol: 'OLDFMT', ts: 4000, price: 4, size: 1 },
      ]);
      const fields = await w.redis.xrevrange(key, '+', '-', 'COUNT', 1);
      expect(fields[0]![1]).toEqual(['j', '{"ts":"1970-01-01T00:00:04.000Z","price":4,"size":1}']);
      expect((await w.latest('OLDFMT', 10)).map((t) => t.price)).toEqual([4, 3, 2, 1]);
      expect((await w.range('OLDFMT', 2000, 3000)).map((t) => [t.ts, t.price])).toEqual([
        [2000, 2],
        [3000, 3],
      ]);
    } finally {
      await w.redis.del(key);
      await w.close();
    }
  });
});

describe('redis window read cache (client tracking)', () => {
  const tick = (symbol: string, i: number) => ({
    symbol,
    ts: Date.UTC(2024, 0, 1) + i * 1000,
    price: 100 + i,
    size: 1,
  });
  const newest = async (w: RedisWindowStore, s: string) =>
    (JSON.parse(await w.latestJson(s, 3)) as { price: number }[]).map((t) => t.price);
  const until = async (f: () => Promise<boolean>, ms = 3000) => {
    const t0 = Date.now();
    while (!(await f())) {
      if (Date.now() - t0 > ms) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
    return Date.now() - t0;
  };

  /** reads fail fast until a store's connection is up (the route answers 503 meanwhile) */
  const connected = async (w: RedisWindowStore) => {
    if (w.redis.status !== 'ready') await new Promise((r) => w.redis.once('ready', r));
  };

  it('answers repeated reads from memory and sees another writer at once', async () => {
    const s = `CACHE${Date.now()}`;
    const writer = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600, cacheReads: false });
    const reader = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600 });
    try {
      await writer.append(s, [tick(s, 0), tick(s, 1)]);
      await connected(reader);
      // tracking turns on once both of the reader's connections are up
      await until(async () => (await newest(reader, s), reader.reads.cached > 0));
      const before = { ...reader.reads };
      for (let i = 0; i < 50; i++) expect(await newest(reader, s)).toEqual([101, 100]);
      expect(reader.reads.cached - before.cached).toBe(50);
      expect(reader.reads.redis).toBe(before.redis);
      // another process appends: Redis invalidates the reader's entry
      await writer.append(s, [tick(s, 2)]);
      const ms = await until(async () => (await newest(reader, s))[0] === 102);
      expect(ms).toBeLessThan(1000);
      expect(await newest(reader, s)).toEqual([102, 101, 100]);
      // a different limit is a different read
      expect((JSON.parse(await reader.latestJson(s, 1)) as unknown[]).length).toBe(1);
      // the key expiring or being deleted invalidates too
      await writer.redis.del(windowKey(s, prefix));
      await until(async () => (await newest(reader, s)).length === 0);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  /** what Redis holds, read by a store that caches nothing */
  const truth = async (s: string, n: number) => {
    const plain = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600, cacheReads: false });
    await connected(plain);
    try {
      return JSON.parse(await plain.latestJson(s, n)) as unknown[];
    } finally {
      await plain.close();
    }
  };
  const prices = async (w: RedisWindowStore, s: string, n: number) =>
    (JSON.parse(await w.latestJson(s, n)) as { price: number }[]).map((t) => t.price);

  it("answers the process's own appends from memory, as Redis then holds them (trimmed to the window)", async () => {
    const s = `MIRROR${Date.now()}`;
    const w = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 5, ttlSeconds: 600 });
    try {
      await w.append(s, [tick(s, 0), tick(s, 1)]);
      await connected(w);
      await until(async () => (await prices(w, s, 5), w.reads.cached > 0));
      const fromRedis = w.reads.redis;
      let i = 2;
      for (const batch of [1, 1, 3, 1, 7]) {
        const ticks = Array.from({ length: batch }, () => tick(s, i++));
        const appended = w.append(s, ticks);
        // before Redis has answered, the process's own reads already hold the new ticks
        expect((await prices(w, s, 5))[0]).toBe(100 + i - 1);
        await appended;
        expect(JSON.parse(await w.latestJson(s, 5))).toEqual(await truth(s, 5));
        expect(await prices(w, s, 2)).toEqual([100 + i - 1, 100 + i - 2]); // a shorter read, from memory too
      }
      expect(await prices(w, s, 5)).toEqual([114, 113, 112, 111, 110]);
      expect(w.reads.redis).toBe(fromRedis); // none of those reads went to Redis
    } finally {
      await w.close();
    }
  });

  it('drops what it holds when another writer got in between its own appends', async () => {
    const s = `MIRRORX${Date.now()}`;
    const w = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600 });
    const other = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600, cacheReads: false });
    let inval: { pause(): void; resume(): void } | undefined;
    try {
      await w.append(s, [tick(s, 0)]);
      await connected(w);
      await until(async () => (await prices(w, s, 10), w.reads.cached > 0));
      await w.append(s, [tick(s, 1)]);
      // hold back Redis's invalidation messages: only the append script's answer can tell now
      inval = (w as unknown as { inval: { stream: { pause(): void; resume(): void } } }).inval.stream;
      inval.pause();
      await other.append(s, [tick(s, 50)]);
      await w.append(s, [tick(s, 2)]);
      expect(await prices(w, s, 10)).toEqual([102, 150, 101, 100]);
      inval.resume();
      inval = undefined;
      // after its own last append the process is still told of other writers
      await until(async () => (await prices(w, s, 10), w.reads.cached > 0));
      await w.append(s, [tick(s, 3)]);
      await other.append(s, [tick(s, 51)]);
      const ms = await until(async () => (await prices(w, s, 10))[0] === 151);
      expect(ms).toBeLessThan(1000);
      expect(JSON.parse(await w.latestJson(s, 10))).toEqual(await truth(s, 10));
    } finally {
      inval?.resume();
      await w.close();
      await other.close();
    }
  });

  it('stops caching when the invalidation connection drops, and serves no stale answer after', async () => {
    const s = `CACHEINV${Date.now()}`;
    const writer = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600, cacheReads: false });
    const reader = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600 });
    try {
      await writer.append(s, [tick(s, 0)]);
      await connected(reader);
      await until(async () => (await newest(reader, s), reader.reads.cached > 0));
      // kill every invalidation connection, then change the window while they are away
      const list = (await writer.redis.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((l) => l.includes('name=algotrade-window-invalidations'))
        .map((l) => /id=(\d+)/.exec(l)![1]!);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await writer.redis.client('KILL', 'ID', id);
      await writer.append(s, [tick(s, 1)]);
      // whether or not the reader has noticed yet, it must converge on the new data and keep it fresh
      await until(async () => (await newest(reader, s))[0] === 101);
      await until(async () => (await newest(reader, s), reader.reads.cached > 0)); // caching again
      await writer.append(s, [tick(s, 2)]);
      await until(async () => (await newest(reader, s))[0] === 102);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('never serves from memory while its connections are down', async () => {
    const s = `CACHEDOWN${Date.now()}`;
    const w = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 50, ttlSeconds: 600 });
    try {
      await w.append(s, [tick(s, 0)]);
      await until(async () => (await newest(w, s), w.reads.cached > 0));
      // the server drops the read connection: the cache goes with it
      const id = await w.redis.client('ID');
      const closed = new Promise((r) => w.redis.once('close', r));
      const admin = new RedisWindowStore({ url: SERVICES.redis, prefix, size: 1, ttlSeconds: 1, cacheReads: false });
      await admin.redis.client('KILL', 'ID', String(id));
      await admin.close();
      await closed;
      const cached = w.reads.cached;
      await until(async () => (await newest(w, s).catch(() => [])).length === 1);
      expect(w.reads.cached).toBe(cached);
    } finally {
      await w.close();
    }
  });
});
