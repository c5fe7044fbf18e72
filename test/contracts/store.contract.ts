import type { ObjectStore } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The object-store contract: filesystem and S3 behave the same. */
export function storeContract(name: string, make: () => Promise<ObjectStore>) {
  describe(`object store contract: ${name}`, () => {
    let s: ObjectStore;
    const key = (k: string) => `contract/${Date.now()}-${Math.random().toString(36).slice(2)}/${k}`;
    beforeAll(async () => {
      s = await make();
    });
    afterAll(() => s?.close());

    it('puts, gets and deletes text and binary objects under nested keys', async () => {
      const k = key('backtests/abc/trades.json');
      await s.put(k, JSON.stringify({ a: [1, 2, 3] }), 'application/json');
      expect(JSON.parse(new TextDecoder().decode((await s.get(k))!))).toEqual({ a: [1, 2, 3] });
      const bin = new Uint8Array(300_000).map((_, i) => i % 251);
      const kb = key('equity.bin');
      await s.put(kb, bin);
      expect(Buffer.from((await s.get(kb))!).equals(Buffer.from(bin))).toBe(true);
      await s.delete(k);
      expect(await s.get(k)).toBeNull();
      await s.delete(k); // deleting again is fine
    });

    it('overwrites and answers null for missing keys', async () => {
      const k = key('x.txt');
      await s.put(k, 'one');
      await s.put(k, 'two');
      expect(new TextDecoder().decode((await s.get(k))!)).toBe('two');
      expect(await s.get(key('missing'))).toBeNull();
      await s.ping();
    });
  });
}
