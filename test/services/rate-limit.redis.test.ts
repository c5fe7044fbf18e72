import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import { SERVICES } from '../helpers/env.ts';
import { appsOnRedis } from '../helpers/redis-apps.ts';

describe('rate limits on Redis hold across gateway replicas', () => {
  const { apps, redis } = appsOnRedis();
  /**
   * Two replicas on one Redis with the same secret (a token from one is good on the other) and a high
   * anonymous limit (the registration is counted by IP, a key other suites share), and a new user:
   * a key of its own in Redis.
   */
  const replicas = async (env: Record<string, string>) => {
    const all = { REDIS_URL: SERVICES.redis, JWT_SECRET: 'r'.repeat(40), RATE_LIMIT_ANON_PER_MINUTE: '100000', ...env };
    const one = await startTestApp(all);
    const two = await startTestApp(all);
    apps.push(one, two);
    return { one, two, u: await one.user() };
  };

  it("counts one user's requests to two replicas against one limit, with 429 and Retry-After past it", async () => {
    const { one, two, u } = await replicas({ RATE_LIMIT_PER_MINUTE: '6' });
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
    // the count lives in Redis, under the user's key: with a limit this small every request asks Redis
    expect(Number(await redis.get(`algotrade-rl:u:${u.id}`))).toBe(12);
    expect(await redis.pttl(`algotrade-rl:u:${u.id}`)).toBeGreaterThan(50_000);
  });

  it('answers most requests from blocks reserved in Redis, and never lets the replicas past the limit', async () => {
    const { one, two, u } = await replicas({ RATE_LIMIT_PER_MINUTE: '200', RATE_LIMIT_REPLICAS: '2' });
    const calls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    // bursts of ten to each replica in turn, concurrently within a burst
    const codes: number[] = [];
    for (let b = 0; b < 30; b++) {
      const app = b % 2 ? two : one;
      const rs = await Promise.all(
        Array.from({ length: 10 }, () => app.app.inject({ url: '/api/strategies', headers: u.auth })),
      );
      codes.push(...rs.map((r) => r.statusCode));
    }
    const answered = codes.filter((c) => c !== 429).length;
    // never past the limit; refused early at most by what the other replica reserved and did not use
    expect(answered).toBeLessThanOrEqual(200);
    expect(answered).toBeGreaterThanOrEqual(190);
    expect(codes.filter((c) => c !== 429 && c !== 200)).toEqual([]);
    // every answered request holds a place reserved in Redis
    expect(Number(await redis.get(`algotrade-rl:u:${u.id}`))).toBeGreaterThanOrEqual(answered);
    // far from the limit a replica answers from its block: far fewer round trips than requests
    const used = (await calls()) - before;
    expect(used).toBeLessThan(100);
  });
});
