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
});
