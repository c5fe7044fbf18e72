import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { SERVICES } from '../helpers/env.ts';

describe('rate limits on Redis hold across gateway replicas', () => {
  const apps: TestApp[] = [];
  const redis = new Redis(SERVICES.redis);
  afterAll(async () => {
    for (const a of apps) await a.stop();
    await redis.quit();
  });

  it("counts one user's requests to two replicas against one limit, with 429 and Retry-After past it", async () => {
    // the same secret, so a token from one replica is good on the other; a high anonymous limit, so the
    // registration (counted by IP, a key other suites share) is never the one refused
    const env = {
      REDIS_URL: SERVICES.redis,
      JWT_SECRET: 'r'.repeat(40),
      RATE_LIMIT_PER_MINUTE: '6',
      RATE_LIMIT_ANON_PER_MINUTE: '100000',
    };
    const one = await startTestApp(env);
    const two = await startTestApp(env);
    apps.push(one, two);
    const u = await one.user(); // a new user: a key of its own in Redis
    const codes: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 12; i++) {
      const r = await (i % 2 ? two : one).app.inject({ url: '/api/strategies', headers: u.auth });
      codes.push(r.statusCode);
      if (r.statusCode === 429) retryAfter ??= r.headers['retry-after'] as string | undefined;
    }
    // six answered in all, whichever replica took them; the rest refused by both
    expect(codes.filter((c) => c !== 429)).toHaveLength(6);
    expect(codes.slice(6)).toEqual([429, 429, 429, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // the count lives in Redis, under the user's key
    const keys = await redis.keys(`algotrade-rl:u:${u.id}`);
    expect(keys).toHaveLength(1);
    expect(Number(await redis.get(keys[0]!))).toBe(12);
  });
});
