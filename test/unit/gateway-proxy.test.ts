import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRuntime, loadConfig, SERVICE_NAMES, type Runtime } from '@algotrade/adapters';
import { buildApp, type App } from '@algotrade/services';
import { gatewayKey, resolveJwtSecret } from '@algotrade/services/http/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tempDir } from '../helpers/env.ts';

/**
 * The distributed gateway: the services run in another server (sharing the database, as separate
 * processes would), the gateway only authenticates and forwards. A plain HTTP server stands in for the
 * analytics service to show exactly which headers arrive downstream.
 */
describe('gateway forwarding to remote services', () => {
  const tmp = tempDir();
  let rt: Runtime;
  let services: App;
  let gateway: App;
  let gw: string;
  let echo: Server;
  let svcUrl: string;
  const seen: IncomingHttpHeaders[] = [];
  const listen = async (a: App) => {
    await a.app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    rt = await createRuntime(
      loadConfig({ DATA_DIR: tmp.dir, LOG_LEVEL: 'silent', MARKET_FEED: 'none', NODE_ENV: 'test' }),
    );
    services = await buildApp(rt, { services: SERVICE_NAMES.filter((s) => s !== 'gateway'), name: 'services' });
    svcUrl = await listen(services);
    echo = createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/analytics/broken' || req.url === '/api/analytics/broken-big') {
        // the service dies in the middle of its answer: headers and part of the body, then the socket goes
        const big = req.url === '/api/analytics/broken-big';
        res.writeHead(200, big ? {} : { 'content-length': '1000' });
        res.write('[1,2,3');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (req.url === '/api/analytics/big') {
        // larger than the gateway reads whole: it streams through, chunked
        res.write('[');
        for (let i = 0; i < 300_000; i++) res.write(i ? ',12345' : '12345');
        res.end(']');
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(JSON.stringify({ path: req.url, method: req.method, bodyBytes: n })));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const urls = {
      'market-data': svcUrl,
      strategy: svcUrl,
      'forward-test': svcUrl,
      backtest: svcUrl,
      notification: svcUrl,
      analytics: echoUrl,
    };
    gateway = await buildApp({ ...rt, config: { ...rt.config, serviceUrls: urls } }, { services: ['gateway'] });
    gw = await listen(gateway);
  });
  afterAll(async () => {
    await gateway.close();
    await services.close();
    echo.close();
    await rt.close();
    tmp.remove();
  });

  const register = async (email: string) => {
    const r = await fetch(`${gw}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'password123' }),
    });
    expect(r.status).toBe(201);
    const b = (await r.json()) as { user: { id: string }; accessToken: string };
    return { id: b.user.id, token: b.accessToken, h: { authorization: `Bearer ${b.accessToken}` } };
  };

  it('forwards every service prefix, keeps users isolated, and passes request id and user downstream', async () => {
    const a = await register('a@gw.io');
    const b = await register('b@gw.io');
    const created = await fetch(`${gw}/api/strategies/templates/sma-crossover`, { method: 'POST', headers: a.h });
    expect(created.status).toBe(201);
    const s = (await created.json()) as { id: string };
    expect((await fetch(`${gw}/api/strategies/${s.id}`, { headers: a.h })).status).toBe(200);
    expect((await fetch(`${gw}/api/strategies/${s.id}`, { headers: b.h })).status).toBe(404);
    expect((await fetch(`${gw}/api/strategies`)).status).toBe(401);
    // a validation error comes back from the service as it is
    const bad = await fetch(`${gw}/api/forward-tests`, {
      method: 'POST',
      headers: { ...a.h, 'content-type': 'application/json' },
      body: JSON.stringify({ strategyId: s.id, symbol: 'BTCUSD', startingBalance: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    for (const path of ['/api/market/symbols', '/api/backtests', '/api/alerts', '/api/forward-tests'])
      expect((await fetch(`${gw}${path}`, { headers: a.h })).status, path).toBe(200);
    // what the downstream receives
    const r = await fetch(`${gw}/api/analytics/portfolio?x=1`, { headers: { ...a.h, 'x-request-id': 'trace-42' } });
    expect(await r.json()).toEqual({ path: '/api/analytics/portfolio?x=1', method: 'GET', bodyBytes: 0 });
    expect(r.headers.get('x-request-id')).toBe('trace-42');
    expect(seen.at(-1)).toMatchObject({
      'x-request-id': 'trace-42',
      'x-user-id': a.id,
      authorization: a.h.authorization,
    });
  });

  it('serves the browser app itself (a service alone does not)', async () => {
    const page = await fetch(`${gw}/app/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('src="app.js"');
    expect((await fetch(`${svcUrl}/app/`)).status).toBe(404);
  });

  it('handles edge concerns once: the gateway adds security headers and counts limits, services trust its key only', async () => {
    const a = await register('edge@gw.io');
    const key = gatewayKey(resolveJwtSecret(rt.config));
    // through the gateway: its security, CORS and rate-limit headers; a forged key is replaced
    const r = await fetch(`${gw}/api/analytics/portfolio`, { headers: { ...a.h, 'x-algotrade-gateway': 'forged' } });
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-ratelimit-limit')).not.toBeNull();
    expect(seen.at(-1)!['x-algotrade-gateway']).toBe(key);
    const viaGw = await fetch(`${gw}/api/market/symbols`, { headers: a.h });
    expect(viaGw.status).toBe(200);
    expect(viaGw.headers.get('strict-transport-security')).toMatch(/max-age/);
    // a service called with the gateway's key leaves those to the gateway (and does not count the call)
    const trusted = await fetch(`${svcUrl}/api/market/symbols`, { headers: { ...a.h, 'x-algotrade-gateway': key } });
    expect(trusted.status).toBe(200);
    expect(trusted.headers.get('x-frame-options')).toBeNull();
    expect(trusted.headers.get('x-ratelimit-limit')).toBeNull();
    // without it, or with a wrong one of the same length, a service is its own edge
    for (const h of [{}, { 'x-algotrade-gateway': 'x'.repeat(key.length) }] as Record<string, string>[]) {
      const direct = await fetch(`${svcUrl}/api/market/symbols`, { headers: { ...a.h, ...h } });
      expect(direct.status).toBe(200);
      expect(direct.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(direct.headers.get('x-ratelimit-limit')).not.toBeNull();
    }
  });

  it("answers plain latest reads the gateway forwards in the service's fast lane, as Fastify would", async () => {
    const a = await register('lane@gw.io');
    const key = gatewayKey(resolveJwtSecret(rt.config));
    await rt.bus.publish('market-data-updates', 'ZZGWUSD', 'ticks', {
      symbol: 'ZZGWUSD',
      ticks: [1, 2, 3].map((i) => ({ ts: Date.UTC(2024, 0, 2, 10, 0, i), price: 10 + i, size: 1 })),
    });
    const path = '/api/market/symbols/ZZGWUSD/latest?limit=2';
    // the first read finds the symbol (Fastify, in the service) and verifies the token there
    let first: Response | undefined;
    for (let i = 0; i < 100 && first?.status !== 200; i++) {
      first = await fetch(`${gw}${path}`, { headers: a.h });
      if (first.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(first!.status).toBe(200);
    const before = services.ctx.lane.answered;
    const r = await fetch(`${gw}${path}`, { headers: { ...a.h, 'x-request-id': 'lane-gw-1' } });
    expect(services.ctx.lane.answered).toBe(before + 1);
    expect(((await r.json()) as { ticks: { price: number }[] }).ticks.map((t) => t.price)).toEqual([13, 12]);
    // the gateway's own edge headers, the caller's request id
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('x-ratelimit-limit')).not.toBeNull();
    expect(r.headers.get('x-request-id')).toBe('lane-gw-1');
    // straight to the service with the key: the same headers as Fastify gives (no security or limit
    // headers: those are the gateway's), and a wrong key is Fastify's to answer
    const h = { ...a.h, 'x-algotrade-gateway': key, 'x-request-id': 'lane-gw-2' };
    const direct = await fetch(`${svcUrl}${path}`, { headers: h });
    expect(services.ctx.lane.answered).toBe(before + 2);
    const f = await services.app.inject({ url: path, headers: h });
    expect(await direct.text()).toBe(f.body);
    const lane = Object.fromEntries(direct.headers);
    const fastify = Object.fromEntries(Object.entries(f.headers).map(([k, v]) => [k, String(v)]));
    for (const k of ['date', 'connection', 'keep-alive']) {
      delete lane[k];
      delete fastify[k];
    }
    expect(lane).toEqual(fastify);
    expect(lane['x-frame-options']).toBeUndefined();
    const wrong = await fetch(`${svcUrl}${path}`, { headers: { ...h, 'x-algotrade-gateway': 'x'.repeat(key.length) } });
    expect(wrong.status).toBe(200);
    expect(wrong.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(services.ctx.lane.answered).toBe(before + 2);
  });

  it('streams request bodies and large answers through, whatever their content type', async () => {
    const a = await register('body@gw.io');
    const csv = 'ts,open,high,low,close,volume\n'.repeat(50_000);
    const up = await fetch(`${gw}/api/analytics/upload`, {
      method: 'POST',
      headers: { ...a.h, 'content-type': 'text/csv' },
      body: csv,
    });
    expect(await up.json()).toEqual({ path: '/api/analytics/upload', method: 'POST', bodyBytes: csv.length });
    const big = await fetch(`${gw}/api/analytics/big`, { headers: a.h });
    expect(big.status).toBe(200);
    const arr = (await big.json()) as number[];
    expect(arr).toHaveLength(300_000);
    expect(arr.every((x) => x === 12345)).toBe(true);
  });

  it('a service that dies in the middle of an answer breaks that answer off, never the gateway', async () => {
    const a = await register('broken@gw.io');
    for (const path of ['broken', 'broken-big']) {
      // the client sees a failed answer (the connection ends before the body does), not a 200 it trusts
      const failed = await fetch(`${gw}/api/analytics/${path}`, { headers: a.h })
        .then((r) => r.text())
        .then(
          () => false,
          () => true,
        );
      expect(failed).toBe(true);
    }
    // and the gateway goes on serving
    const ok = await fetch(`${gw}/api/analytics/ping`, { headers: a.h });
    expect(await ok.json()).toMatchObject({ path: '/api/analytics/ping', method: 'GET' });
  });

  it('forwards WebSocket connections to the notification service', async () => {
    const a = await register('ws@gw.io');
    const ws = new WebSocket(`${gw.replace('http', 'ws')}/ws?token=${a.token}`);
    const frames: { type: string; channel?: string }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'user' }));
    for (let i = 0; i < 100 && !frames.some((f) => f.type === 'subscribed'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(frames).toContainEqual(expect.objectContaining({ type: 'subscribed', channel: 'user' }));
    ws.close();
  });

  it('reports every downstream with its latency in /health/detailed, and degrades when one is down', async () => {
    const h = (await (await fetch(`${gw}/health/detailed`)).json()) as {
      status: string;
      dependencies: Record<string, { status: string; latencyMs: number }>;
    };
    expect(h.status).toBe('ok');
    for (const name of ['market-data', 'strategy', 'forward-test', 'backtest', 'notification', 'analytics'])
      expect(h.dependencies[name], name).toMatchObject({ status: 'ok', latencyMs: expect.any(Number) });
    echo.close();
    echo.closeAllConnections();
    const down = await fetch(`${gw}/health/detailed`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; dependencies: Record<string, { status: string }> };
    expect(body.status).toBe('degraded');
    expect(body.dependencies.analytics!.status).toBe('down');
    expect(body.dependencies.strategy!.status).toBe('ok');
    // a call to the missing service is a 503 that names it, never a 500
    const a = await register('down@gw.io');
    const r = await fetch(`${gw}/api/analytics/portfolio`, { headers: a.h });
    expect(r.status).toBe(503);
    const err = (await r.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('TEMPORARILY_UNAVAILABLE');
    expect(err.error.message).toMatch(/analytics service is unavailable/);
  });
});
