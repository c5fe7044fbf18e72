import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { until } from '../../../../test/helpers/wait.ts';

/**
 * The fast lane answers plain `latest` reads before Fastify's hook chain. Everything here goes over a
 * real socket (inject() would bypass the server and so the lane), and each lane answer is compared
 * with Fastify's own answer to the same request (inject() runs the full hook chain).
 */
describe('fast lane for GET /api/market/symbols/:symbol/latest', () => {
  let t: TestApp;
  let base: string;
  let u: Awaited<ReturnType<TestApp['user']>>;
  const SYM = 'ZZLANEUSD';
  const url = (q = '?limit=3') => `/api/market/symbols/${SYM}/latest${q}`;
  const lane = () => t.ctx.lane.answered;

  /** a real request, and whether the lane answered it */
  const get = async (path: string, headers: Record<string, string> = u.auth) => {
    const before = lane();
    const r = await fetch(base + path, { headers });
    return { r, body: await r.text(), viaLane: lane() > before };
  };

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '1000' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.app.server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
    u = await t.user();
    const ts = Date.UTC(2024, 0, 2, 10, 0);
    await t.rt.bus.publish('market-data-updates', SYM, 'ticks', {
      symbol: SYM,
      ticks: [1, 2, 3, 4, 5].map((i) => ({ ts: ts + i * 1000, price: 100 + i, size: 1, bid: 99 + i, ask: 101 + i })),
    });
    // listed by the ingest, and known to the route once Fastify has found it in the database
    await until(async () => (await t.app.inject({ url: url(), headers: u.auth })).statusCode === 200);
  });
  afterAll(() => t.stop());

  it("answers a plain read with Fastify's status, body and headers", async () => {
    const { r, body, viaLane } = await get(url(), { ...u.auth, 'x-request-id': 'lane-parity-1' });
    expect(viaLane).toBe(true);
    const f = await t.app.inject({ url: url(), headers: { ...u.auth, 'x-request-id': 'lane-parity-1' } });
    expect(r.status).toBe(f.statusCode);
    expect(body).toBe(f.body);
    expect(JSON.parse(body).ticks.map((x: { price: number }) => x.price)).toEqual([105, 104, 103]);
    const fromLane = Object.fromEntries(r.headers);
    const fromFastify = Object.fromEntries(Object.entries(f.headers).map(([k, v]) => [k, String(v)]));
    // what the HTTP server adds itself, its own way on a real socket
    const drop = (...keys: string[]) => {
      for (const k of keys) {
        delete fromLane[k];
        delete fromFastify[k];
      }
    };
    drop('date', 'connection', 'keep-alive');
    // the two requests are counted one after the other: the same limit and window, one fewer left
    expect(Number(fromFastify['x-ratelimit-remaining'])).toBe(Number(fromLane['x-ratelimit-remaining']) - 1);
    expect(
      Math.abs(Number(fromFastify['x-ratelimit-reset']) - Number(fromLane['x-ratelimit-reset'])),
    ).toBeLessThanOrEqual(1);
    drop('x-ratelimit-remaining', 'x-ratelimit-reset');
    expect(fromLane).toEqual(fromFastify);
    expect(fromLane['x-request-id']).toBe('lane-parity-1');
  });

  it('gives each answer a request id of its own when the caller sends none', async () => {
    const a = await get(url());
    const b = await get(url());
    expect([a.viaLane, b.viaLane]).toEqual([true, true]);
    expect(a.r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.r.headers.get('x-request-id')).not.toBe(b.r.headers.get('x-request-id'));
  });

  it('reads the default limit, and a lower-case symbol, like the route does', async () => {
    const d = await get(url(''));
    expect(d.viaLane).toBe(true);
    expect(JSON.parse(d.body).ticks).toHaveLength(5);
    const lower = await get(`/api/market/symbols/${SYM.toLowerCase()}/latest?limit=2`);
    expect(lower.viaLane).toBe(true);
    expect(JSON.parse(lower.body)).toMatchObject({ symbol: SYM, ticks: [{ price: 105 }, { price: 104 }] });
  });

  it('follows the window: a new tick is in the next answer', async () => {
    await t.rt.bus.publish('market-data-updates', SYM, 'ticks', {
      symbol: SYM,
      ticks: [{ ts: Date.UTC(2024, 0, 2, 10, 1), price: 200, size: 1 }],
    });
    await until(async () => JSON.parse((await get(url('?limit=1'))).body).ticks[0].price === 200);
    const r = await get(url('?limit=1'));
    expect(r.viaLane).toBe(true);
  });

  it('hands everything but the plain case to Fastify, which answers as before', async () => {
    const cases: [string, Record<string, string>, number][] = [
      [url('?limit=0'), u.auth, 400],
      [url('?limit=abc'), u.auth, 400],
      [url('?limit=5000'), u.auth, 400], // over the window's size
      [url('?limit=2&x=1'), u.auth, 200], // another parameter: Fastify parses the query
      ['/api/market/symbols/NOPEUSD/latest', u.auth, 404],
      [url(), {}, 401],
      [url(), { authorization: 'Bearer not.a.token' }, 401],
      [url(), { ...u.auth, origin: 'https://app.example' }, 200], // CORS: Fastify adds the origin headers
    ];
    for (const [path, headers, status] of cases) {
      const got = await get(path, headers);
      expect({ path, status: got.r.status, viaLane: got.viaLane }).toEqual({ path, status, viaLane: false });
      const f = await t.app.inject({ url: path, headers });
      expect(got.body).toBe(f.body);
    }
    const cors = await get(url(), { ...u.auth, origin: 'https://app.example' });
    expect(cors.r.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const head = await fetch(base + url(), { method: 'HEAD', headers: u.auth });
    expect(head.status).toBe(200);
  });

  it('writes the header names as Fastify does, letter case included', async () => {
    const other = await t.user();
    const names = (path: string) =>
      new Promise<string[]>((resolve, reject) =>
        http
          .get(base + path, { headers: other.auth }, (res) => {
            res.resume();
            resolve(res.rawHeaders.filter((_, i) => i % 2 === 0).sort());
          })
          .on('error', reject),
      );
    // a new token: the first answer is Fastify's (over the same socket path), the second the lane's
    const before = lane();
    const fromFastify = await names(url());
    expect(lane()).toBe(before);
    const fromLane = await names(url());
    expect(lane()).toBe(before + 1);
    expect(fromLane).toEqual(fromFastify);
    expect(fromLane).toContain('X-Frame-Options');
  });

  it('serves a token first seen by Fastify from then on (the signature is checked once)', async () => {
    const other = await t.user();
    // the registration answer's token is new to the memo: the first read verifies it in Fastify
    const first = await get(url(), other.auth);
    const second = await get(url(), other.auth);
    expect([first.r.status, second.r.status]).toEqual([200, 200]);
    expect(second.viaLane).toBe(true);
  });

  it("leaves a window store failure to Fastify's 503, counting the request once", async () => {
    const windows = t.rt.windows;
    const real = windows.latestJson;
    const remaining = (r: Response) => Number(r.headers.get('x-ratelimit-remaining'));
    const before = await get(url());
    windows.latestJson = () => Promise.reject(new Error('connection refused'));
    let failed: Awaited<ReturnType<typeof get>>;
    try {
      failed = await get(url());
    } finally {
      windows.latestJson = real;
    }
    expect(failed.r.status).toBe(503);
    expect(JSON.parse(failed.body).error).toMatchObject({ code: 'TEMPORARILY_UNAVAILABLE' });
    const after = await get(url());
    expect([before.viaLane, failed.viaLane, after.viaLane]).toEqual([true, false, true]);
    // the failed request took one place, not two
    expect(remaining(after.r)).toBe(remaining(before.r) - 2);
  });

  it('records its answers in the latency metric under the route', async () => {
    const count = async () => {
      const m = (await t.app.inject({ url: '/metrics' })).body;
      const line = m
        .split('\n')
        .find(
          (l) =>
            l.startsWith('http_request_duration_seconds_count') &&
            l.includes('route="/api/market/symbols/:symbol/latest"') &&
            l.includes('status="200"'),
        );
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    const answers = async () =>
      Number(/^http_fast_lane_answers_total (\d+)$/m.exec((await t.app.inject({ url: '/metrics' })).body)?.[1]);
    const before = await count();
    const answeredBefore = await answers();
    expect(answeredBefore).toBe(t.ctx.lane.answered);
    for (let i = 0; i < 3; i++) expect((await get(url())).viaLane).toBe(true);
    expect(await count()).toBe(before + 3);
    expect(await answers()).toBe(answeredBefore + 3);
  });
});

describe('fast lane and the rate limit', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '5' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    await t.rt.bus.publish('market-data-updates', 'ZZRATEUSD', 'ticks', {
      symbol: 'ZZRATEUSD',
      ticks: [{ ts: Date.UTC(2024, 0, 2), price: 1, size: 1 }],
    });
  });
  afterAll(() => t.stop());

  it("counts the lane's answers and Fastify's against one limit, then answers 429", async () => {
    const u = await t.user();
    const path = '/api/market/symbols/ZZRATEUSD/latest?limit=1';
    await until(async () => (await t.app.inject({ url: path, headers: u.auth })).statusCode === 200);
    // one request counted above; four left, through the lane, then refusals with Retry-After
    const got: { status: number; remaining: string | null; viaLane: boolean }[] = [];
    for (let i = 0; i < 6; i++) {
      const before = t.ctx.lane.answered;
      const r = await fetch(base + path, { headers: u.auth });
      got.push({
        status: r.status,
        remaining: r.headers.get('x-ratelimit-remaining'),
        viaLane: t.ctx.lane.answered > before,
      });
      if (r.status === 429) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      } else await r.arrayBuffer();
    }
    expect(got.map((g) => [g.status, g.remaining, g.viaLane])).toEqual([
      [200, '3', true],
      [200, '2', true],
      [200, '1', true],
      [200, '0', true],
      [429, '0', false],
      [429, '0', false],
    ]);
    // the refused ones went through Fastify, so another route is refused too: one count per user
    expect((await t.app.inject({ url: '/api/market/symbols', headers: u.auth })).statusCode).toBe(429);
  });
});

describe('fast lane switched off', () => {
  it('leaves every request to Fastify (HTTP_FAST_LANE=false), with the same answers', async () => {
    const t = await startTestApp({ HTTP_FAST_LANE: 'false' });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
      const u = await t.user();
      await t.rt.bus.publish('market-data-updates', 'ZZOFFUSD', 'ticks', {
        symbol: 'ZZOFFUSD',
        ticks: [{ ts: Date.UTC(2024, 0, 2), price: 7, size: 1 }],
      });
      const path = '/api/market/symbols/ZZOFFUSD/latest';
      await until(async () => (await fetch(base + path, { headers: u.auth })).status === 200);
      for (let i = 0; i < 3; i++) {
        const r = await fetch(base + path, { headers: u.auth });
        expect(((await r.json()) as { ticks: { price: number }[] }).ticks[0]!.price).toBe(7);
      }
      expect(t.ctx.lane.answered).toBe(0);
    } finally {
      await t.stop();
    }
  });
});
