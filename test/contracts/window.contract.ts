import type { Tick, WindowStore } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface WindowFactory {
  make(opts: { size: number; overrides?: Record<string, number>; ttlSeconds: number }): Promise<WindowStore>;
  /** makes the store see `seconds` of idleness (a fake clock in memory, a real wait in Redis) */
  idle(store: WindowStore, seconds: number): Promise<void>;
}

const ticks = (symbol: string, n: number, t0 = Date.UTC(2024, 0, 1)): Tick[] =>
  Array.from({ length: n }, (_, i) => ({
    symbol,
    ts: t0 + i * 1000,
    price: 100 + i,
    size: 1 + (i % 3),
    ...(i % 2 ? { bid: 99 + i, ask: 101 + i } : {}),
    seq: i,
  }));

/** The sliding-window contract, shared by the in-memory ring buffer and Redis Streams. */
export function windowContract(name: string, f: WindowFactory) {
  describe(`window store contract: ${name}`, () => {
    let w: WindowStore;
    const sym = (s: string) => `${s}${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
    beforeAll(async () => {
      w = await f.make({ size: 50, overrides: {}, ttlSeconds: 3600 });
    });
    afterAll(() => w?.close());

    it('reads the newest N, newest first, with every field', async () => {
      const s = sym('BTC');
      await w.append(s, ticks(s, 10));
      const got = await w.latest(s, 3);
      expect(got.map((t) => t.price)).toEqual([109, 108, 107]);
      expect(got[0]).toEqual({
        symbol: s,
        ts: Date.UTC(2024, 0, 1) + 9000,
        price: 109,
        size: 1 + (9 % 3),
        bid: 108,
        ask: 110,
        seq: 9,
      });
      expect(got[1]).toEqual({ symbol: s, ts: Date.UTC(2024, 0, 1) + 8000, price: 108, size: 1 + (8 % 3), seq: 8 });
      expect(JSON.parse(await w.latestJson(s, 2))).toEqual([
        { ts: '2024-01-01T00:00:09.000Z', price: 109, size: 1, bid: 108, ask: 110, seq: 9 },
        { ts: '2024-01-01T00:00:08.000Z', price: 108, size: 3, seq: 8 },
      ]);
      expect(await w.latest(sym('NONE'), 5)).toEqual([]);
    });

    it('repeated reads see each append at once, whatever limit they ask for', async () => {
      const s = sym('REP');
      const all = ticks(s, 6);
      await w.append(s, all.slice(0, 3));
      const prices = async (n: number) =>
        (JSON.parse(await w.latestJson(s, n)) as { price: number }[]).map((t) => t.price);
      expect(await prices(2)).toEqual([102, 101]);
      expect(await prices(2)).toEqual([102, 101]);
      expect(await prices(3)).toEqual([102, 101, 100]);
      await w.append(s, all.slice(3, 4));
      expect(await prices(3)).toEqual([103, 102, 101]);
      expect(await prices(2)).toEqual([103, 102]);
      await w.append(s, all.slice(4));
      expect(await prices(2)).toEqual([105, 104]);
      expect(await w.latestJson(sym('NONE'), 5)).toBe('[]');
    });

    it('trims to the window size (per-symbol override too) and counts what it holds', async () => {
      const s = sym('ETH');
      for (let i = 0; i < 5; i++) await w.append(s, ticks(s, 40, Date.UTC(2024, 0, 1) + i * 40_000));
      expect(await w.size(s)).toBe(50);
      const latest = await w.latest(s, 1000);
      expect(latest).toHaveLength(50);
      expect(latest[0]!.ts).toBe(Date.UTC(2024, 0, 1) + 4 * 40_000 + 39_000);
      const o = await f.make({ size: 50, overrides: { SMALL: 5 }, ttlSeconds: 3600 });
      try {
        await o.append('SMALL', ticks('SMALL', 30));
        expect(o.capacity('SMALL')).toBe(5);
        expect((await o.latest('SMALL', 100)).map((t) => t.seq)).toEqual([29, 28, 27, 26, 25]);
      } finally {
        await o.close();
      }
    });

    it('reads a time range oldest first', async () => {
      const s = sym('SOL');
      await w.append(s, ticks(s, 20));
      const r = await w.range(s, Date.UTC(2024, 0, 1) + 5000, Date.UTC(2024, 0, 1) + 8000);
      expect(r.map((t) => t.seq)).toEqual([5, 6, 7, 8]);
    });

    it('expires a symbol after it was idle longer than the TTL', async () => {
      const short = await f.make({ size: 10, ttlSeconds: 1 });
      try {
        const s = sym('EXP');
        await short.append(s, ticks(s, 3));
        expect(await short.size(s)).toBe(3);
        await f.idle(short, 2);
        expect(await short.latest(s, 10)).toEqual([]);
      } finally {
        await short.close();
      }
    });
  });
}
