import { templateById } from '@algotrade/strategy';
import { graphHash } from '@algotrade/strategy';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import { SERVICES } from '../helpers/env.ts';
import { appsOnRedis } from '../helpers/redis-apps.ts';

describe('compile reports cached in Redis by graph hash', () => {
  const { apps, redis } = appsOnRedis();

  it('a report compiled by one instance is served to another from Redis', async () => {
    const env = { REDIS_URL: SERVICES.redis, JWT_SECRET: 'y'.repeat(40), MARKET_FEED: 'none' };
    const one = await startTestApp(env);
    const two = await startTestApp(env);
    apps.push(one, two);
    const g = structuredClone(templateById('macd-signal-cross')!.graph);
    g.nodes.find((n) => n.id === 'macd')!.data = { fast: 7, slow: 19, signal: 5 + Math.floor(Math.random() * 50) };
    const key = `algotrade:compile:${graphHash(g)}`;
    await redis.del(key);
    const u1 = await one.user();
    const r1 = (
      await one.app.inject({ method: 'POST', url: '/api/strategies/compile', headers: u1.auth, payload: { graph: g } })
    ).json();
    expect(r1.ok).toBe(true);
    expect(JSON.parse((await redis.get(key))!)).toEqual(r1);
    expect(await redis.ttl(key)).toBeGreaterThan(80_000);
    const u2 = await two.user();
    const r2 = (
      await two.app.inject({ method: 'POST', url: '/api/strategies/compile', headers: u2.auth, payload: { graph: g } })
    ).json();
    expect(r2).toEqual(r1);
  });
});
