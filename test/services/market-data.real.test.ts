import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

describe('market data on Kafka + Redis (the same build, two variables)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      KAFKA_BROKERS: SERVICES.kafka,
      REDIS_URL: SERVICES.redis,
      KAFKA_CLIENT_ID: uniqueName('md'),
      JWT_SECRET: 'x'.repeat(40),
      MARKET_FEED: 'simulator',
      SIM_SYMBOLS: 'BTCUSD',
      SIM_TICKS_PER_SECOND: '50',
    });
  });
  afterAll(() => t?.stop());

  it('fills GET /latest from simulated ticks through Kafka into Redis Streams', async () => {
    expect(t.rt.bus.kind).toBe('kafka');
    expect(t.rt.windows.kind).toBe('redis');
    const u = await t.user();
    const t0 = Date.now();
    let ticks: { ts: string; price: number }[] = [];
    while (Date.now() - t0 < 30_000) {
      const r = await t.app.inject({ url: '/api/market/symbols/BTCUSD/latest?limit=100', headers: u.auth });
      expect(r.statusCode).toBe(200);
      ticks = r.json().ticks;
      if (ticks.length >= 20) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ticks.length).toBeGreaterThanOrEqual(20);
    const ts = ticks.map((x) => Date.parse(x.ts));
    expect(ts).toEqual([...ts].sort((a, b) => b - a));
    const health = (await t.app.inject({ url: '/health/detailed' })).json();
    expect(health.dependencies).toMatchObject({
      eventBus: { backend: 'kafka', status: 'ok' },
      windowStore: { backend: 'redis', status: 'ok' },
    });
  });
});
