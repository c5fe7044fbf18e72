import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import type { TestApp } from './app.ts';
import { SERVICES } from './env.ts';

/**
 * For a service suite on Redis: a list for the test apps it starts and a Redis client to look at
 * what they stored, all stopped and closed after the suite.
 */
export function appsOnRedis(): { apps: TestApp[]; redis: Redis } {
  const apps: TestApp[] = [];
  const redis = new Redis(SERVICES.redis);
  afterAll(async () => {
    for (const a of apps) await a.stop();
    await redis.quit();
  });
  return { apps, redis };
}
