import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { tempDir } from '../helpers/env.ts';

/**
 * Redis goes away for 10 s under a running platform (windows, rate limits, job queue and compile
 * cache on Redis): window reads answer 503 with a reason (never 500, never a hang), the process keeps
 * serving what does not need Redis, and everything recovers by itself when Redis returns.
 * A Redis server of its own (the shared one on 6379 stays up for the other suites).
 */
const port = 16_400 + Math.floor(Math.random() * 1000);
const dir = tempDir('redis-outage-');
const symbol = 'OUTAGEUSD';
let redis: ChildProcess | undefined;

async function startRedis(): Promise<void> {
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.dir],
    {
      stdio: 'ignore',
    },
  );
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const p = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      p.on('exit', () => resolve(out.includes('PONG')));
    });
    if (ok) return;
    if (Date.now() - t0 > 10_000) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopRedis(): Promise<void> {
  const p = redis!;
  p.kill('SIGKILL');
  if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
}

describe('Redis outage', () => {
  let t: TestApp;
  let auth: { authorization: string };
  const latest = async () => {
    const t0 = Date.now();
    const r = await t.app.inject({ url: `/api/market/symbols/${symbol}/latest?limit=5`, headers: auth });
    return { status: r.statusCode, body: r.json(), ms: Date.now() - t0 };
  };

  beforeAll(async () => {
    await startRedis();
    t = await startTestApp({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      // the simulated feed keeps flowing through the outage
      MARKET_FEED: 'simulator',
      SIM_SYMBOLS: symbol,
      SIM_TICKS_PER_SECOND: '20',
      JWT_SECRET: 'outage-secret-outage-secret-outage-secret',
    });
    expect(t.rt.windows.kind).toBe('redis');
    auth = (await t.user()).auth;
  });
  afterAll(async () => {
    await t?.stop().catch(() => undefined);
    if (redis && redis.exitCode === null) redis.kill('SIGKILL');
    dir.remove();
  });

  it('answers 503 while Redis is down and recovers by itself when it returns', async () => {
    await expect.poll(async () => (await latest()).body?.ticks?.length, { timeout: 10_000 }).toBe(5);

    await stopRedis();
    const outage = Date.now();
    const statuses: number[] = [];
    while (Date.now() - outage < 10_000) {
      const r = await latest();
      statuses.push(r.status);
      expect(r.ms).toBeLessThan(5000); // a failing read fails fast, it does not hang
      if (r.status === 503) expect(r.body.error.message).toMatch(/window store is unavailable/);
      // what does not need Redis still works
      expect((await t.app.inject({ url: '/health' })).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(statuses).not.toContain(500);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(statuses.length / 2);

    await startRedis(); // an empty Redis: the windows refill from the live feed
    const back = Date.now();
    await expect
      .poll(
        async () => {
          const r = await latest();
          return r.status === 200 && Date.parse(r.body.ticks?.[0]?.ts) > back;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    console.log(JSON.stringify({ recoveredAfterMs: Date.now() - back }));
  });
});
