import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { tempDir } from '../../../../test/helpers/env.ts';
import { alwaysBuying } from '../../../../test/helpers/graphs.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { isPrivateAddress } from './webhooks.ts';

/** A receiver on a real local socket: records each request, answers with the next status queued (else 200). */
async function receiver() {
  const got: { path: string; headers: IncomingHttpHeaders; body: string; at: number }[] = [];
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      res.statusCode = answers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  return { got, answers, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('outgoing webhooks', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const call = (u: typeof a, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  const deliveries = async (id: string) => (await call(a, 'GET', `/api/webhooks/${id}/deliveries`)).json();
  const hook = async (path: string, extra: object = {}) => {
    const r = await call(a, 'POST', '/api/webhooks', { url: rx.url(path), ...extra });
    expect(r.statusCode, r.body).toBe(201);
    return r.json();
  };

  beforeAll(async () => {
    // retries 50 and 100 ms apart here (10 s, 1 min, ... by default); local receivers allowed
    t = await startTestApp({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_DELAYS_MS: '50,100' });
    a = await t.user();
    b = await t.user();
    rx = await receiver();
  });
  afterAll(async () => {
    await t.stop();
    await rx.close();
  });

  it('sends a fired alert once, signed with the secret shown at creation', async () => {
    const w = await hook('/alerts', { events: ['alert'], description: 'phone' });
    expect(w).toMatchObject({ events: ['alert'], format: 'json', active: true, description: 'phone' });
    expect(w.secret).toMatch(/^whsec_[\w-]{32}$/);
    expect(w.secretHint).toBe(`…${w.secret.slice(-4)}`);
    // the secret is never shown again
    expect((await call(a, 'GET', `/api/webhooks/${w.id}`)).json()).not.toHaveProperty('secret');
    expect(JSON.stringify((await call(a, 'GET', '/api/webhooks')).json())).not.toContain(w.secret);

    const alert = (await call(a, 'POST', '/api/alerts', { kind: 'price_above', symbol: 'WHUSD', price: 100 })).json();
    const ticks = [{ ts: Date.now(), price: 101, size: 1 }];
    await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'WHUSD', 'ticks', { symbol: 'WHUSD', ticks });
    await until(() => rx.got.some((g) => g.path === '/alerts'));
    const req = rx.got.find((g) => g.path === '/alerts')!;
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({
      event: 'alert',
      message: expect.stringMatching(/^Alert: WHUSD rose to 101 \(level 100\)$/),
      data: { alertId: alert.id, kind: 'price_above', symbol: 'WHUSD', price: 101, level: 100 },
    });
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'x-algotrade-event': 'alert',
      'x-algotrade-delivery': body.id,
    });
    // what a receiver does: recompute the HMAC over "<t>.<body>" with the secret
    const [, ts, sig] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-algotrade-signature']))!;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    expect(sig).toBe(createHmac('sha256', w.secret).update(`${ts}.${req.body}`).digest('hex'));
    await until(async () => (await deliveries(w.id))[0]?.status === 'delivered');
    expect((await deliveries(w.id))[0]).toMatchObject({ event: 'alert', attempts: 1, responseStatus: 200 });
  });

  it('makes one delivery of a bus message seen twice, and none for events the webhook did not ask for', async () => {
    const w = await hook('/backtests', { events: ['backtest.done'] });
    const data = {
      backtestId: 'b0000000-0000-4000-8000-000000000001',
      userId: a.id,
      metrics: { returnPct: 12.5, sharpe: 1.1, trades: 7 },
    };
    for (let i = 0; i < 2; i++)
      await t.rt.bus.publish(
        TOPICS.realtimeUpdates.name,
        `backtest:${data.backtestId}`,
        'backtest.done',
        data,
        'same-message-id',
      );
    await t.rt.bus.publish(TOPICS.realtimeUpdates.name, 'backtest:x', 'backtest.failed', { ...data, error: 'no' });
    // another user's backtest is not this user's event
    await t.rt.bus.publish(TOPICS.realtimeUpdates.name, 'backtest:y', 'backtest.done', { ...data, userId: b.id });
    await until(async () => (await deliveries(w.id))[0]?.status === 'delivered');
    await new Promise((r) => setTimeout(r, 300));
    const got = rx.got.filter((g) => g.path === '/backtests');
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body).message).toBe('Backtest b0000000 done: return 12.50 %, Sharpe 1.10, 7 trades');
    expect(await deliveries(w.id)).toHaveLength(1);
  });

  it('tells of a sweep once, at its end, and not of each of its backtests', async () => {
    const w = await hook('/sweeps', { events: ['backtest.done', 'sweep.done'] });
    const sweepId = 'c0000000-0000-4000-8000-000000000002';
    // one of the sweep's backtests: on its own channel and the sweep's, neither delivered
    const one = { backtestId: 'b0000000-0000-4000-8000-000000000009', userId: a.id, sweepId, metrics: { sharpe: 1 } };
    await t.rt.bus.publish(TOPICS.realtimeUpdates.name, `backtest:${one.backtestId}`, 'backtest.done', one);
    await t.rt.bus.publish(TOPICS.realtimeUpdates.name, `sweep:${sweepId}`, 'backtest.done', one);
    const end = {
      sweepId,
      userId: a.id,
      // what its user called it: said before its id
      name: 'Fast periods',
      total: 6,
      done: 5,
      failed: 1,
      rankBy: 'sharpe',
      best: { backtestId: one.backtestId, combo: { 'fast.period': 10, 'slow.period': 30 }, sharpe: 1.234 },
      robust: {
        backtestId: 'b0000000-0000-4000-8000-000000000008',
        combo: { 'fast.period': 15, 'slow.period': 30 },
        sharpe: 1.1,
        withNeighbours: 0.95,
        neighbours: 3,
      },
    };
    // sent by the two workers that ended its last two backtests: one delivery
    for (let i = 0; i < 2; i++)
      await t.rt.bus.publish(
        TOPICS.realtimeUpdates.name,
        `sweep:${sweepId}`,
        'sweep.done',
        end,
        `sweep.done:${sweepId}`,
      );
    await until(async () => (await deliveries(w.id))[0]?.status === 'delivered');
    await new Promise((r) => setTimeout(r, 300));
    const got = rx.got.filter((g) => g.path === '/sweeps');
    expect(got.map((g) => JSON.parse(g.body).message)).toEqual([
      'Sweep "Fast periods" (c0000000) done: 5 backtests (1 failed), best sharpe 1.23 with fast.period=10, slow.period=30; ' +
        'most robust fast.period=15, slow.period=30 (1.10, 0.95 with its 3 neighbours)',
    ]);
    expect(await deliveries(w.id)).toHaveLength(1);
  });

  it("tells of a paper session's pauses and resumes: a limit's with its reason, the user's by hand, not its start", async () => {
    const w = await hook('/pauses', { events: ['session.paused', 'session.resumed'] });
    const strategyId = (await call(a, 'POST', '/api/strategies', { name: 'always long', graph: alwaysBuying() })).json()
      .id;
    const r = await call(a, 'POST', '/api/forward-tests', { strategyId, symbol: 'WHPA', risk: { maxDailyLossPct: 3 } });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id;
    const session = async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    const T = Date.UTC(2026, 0, 5, 12);
    let n = 0;
    const tick = (price: number) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'WHPA', 'ticks', {
        symbol: 'WHPA',
        ticks: [{ ts: T + ++n * 1000, price, size: 1, seq: n }],
      });
    await until(async () => {
      await tick(100);
      return (await session()).position !== null;
    });
    await tick(96); // 4 % down all in: the daily loss pauses it
    await until(async () => (await session()).status === 'paused');
    expect((await call(a, 'POST', `/api/forward-tests/${id}/resume`)).statusCode).toBe(200);
    await until(async () => {
      const d = await deliveries(w.id);
      return d.length === 2 && d.every((x: { status: string }) => x.status === 'delivered');
    });
    const sent = rx.got.filter((g) => g.path === '/pauses').map((g) => JSON.parse(g.body));
    expect(sent.map((x) => [x.event, x.message])).toEqual([
      ['session.paused', `Session ${id.slice(0, 8)} paused: risk limit: max_daily_loss`],
      ['session.resumed', `Session ${id.slice(0, 8)} resumed by hand`],
    ]);
    expect(sent[0].data).toMatchObject({ sessionId: id, from: 'running', to: 'paused' });
    expect(sent[1].data).toMatchObject({ sessionId: id, from: 'paused', to: 'running' });
  });

  it('retries 5xx and timeouts with the configured waits, then gives up and says why', async () => {
    const w = await hook('/flaky', { events: ['session.stopped'] });
    rx.answers.push(500, 503);
    const stop = (sessionId: string, id: string) =>
      t.rt.bus.publish(
        TOPICS.forwardTestEvents.name,
        sessionId,
        'session.stopped',
        { sessionId, userId: a.id, reason: 'by the user' },
        id,
      );
    await stop('s1', 'stop-1');
    await until(async () => (await deliveries(w.id))[0]?.status === 'delivered');
    const d = (await deliveries(w.id))[0];
    expect(d).toMatchObject({
      attempts: 3,
      responseStatus: 200,
      error: null, // delivered: the earlier attempts' errors are over
      message: 'Session s1 stopped: by the user',
    });
    const times = rx.got.filter((g) => g.path === '/flaky').map((g) => g.at);
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(50); // the first wait
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(100); // the second

    rx.answers.push(502, 502, 502);
    await stop('s2', 'stop-2');
    await until(async () => (await deliveries(w.id))[0]?.status === 'failed');
    expect((await deliveries(w.id))[0]).toMatchObject({
      attempts: 3,
      responseStatus: 502,
      error: 'gave up after 3 attempts: the receiver answered 502',
    });
  });

  it('ends at once on a 4xx, turns the webhook off on 410, and reports a receiver that is not there', async () => {
    const w = await hook('/gone', { events: ['session.failed'] });
    const fail = (id: string) =>
      t.rt.bus.publish(TOPICS.forwardTestEvents.name, 's3', 'session.failed', { sessionId: 's3', userId: a.id }, id);
    rx.answers.push(400);
    await fail('f-1');
    await until(async () => (await deliveries(w.id))[0]?.status === 'failed');
    expect((await deliveries(w.id))[0]).toMatchObject({ attempts: 1, responseStatus: 400 });
    rx.answers.push(410);
    await fail('f-2');
    await until(async () => (await call(a, 'GET', `/api/webhooks/${w.id}`)).json().active === false);
    // off: later events are not sent there
    await fail('f-3');
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got.filter((g) => g.path === '/gone')).toHaveLength(2);

    // a port nothing listens on: one a server had, now closed
    const gone = await receiver();
    await gone.close();
    const dead = (await call(a, 'POST', '/api/webhooks', { url: gone.url('/x') })).json();
    const ping = await call(a, 'POST', `/api/webhooks/${dead.id}/test`);
    expect(ping.statusCode).toBe(202);
    await until(async () => (await deliveries(dead.id))[0]?.status === 'failed');
    expect((await deliveries(dead.id))[0].error).toMatch(
      /^gave up after 3 attempts: could not reach 127\.0\.0\.1:\d+: ECONNREFUSED$/,
    );
  });

  it('speaks Slack, Discord and Telegram, and sends a test on demand', async () => {
    const slack = await hook('/slack', { format: 'slack', events: ['trade'] });
    const discord = await hook('/discord', { format: 'discord', events: ['trade'] });
    // Telegram: the bot's sendMessage URL (its token in the path) and a chat
    const telegram = await hook('/bot123456:SECRETTOKENabcd/sendMessage', {
      format: 'telegram',
      chatId: '-1001234567890',
      events: ['trade'],
    });
    expect(telegram.url).toMatch(/\/bot…abcd\/sendMessage$/); // the token is not shown again
    expect(JSON.stringify((await call(a, 'GET', '/api/webhooks')).json())).not.toContain('SECRETTOKEN');
    const trade = {
      sessionId: 'abcdef12-0000',
      userId: a.id,
      symbol: 'BTCUSD',
      side: 'buy',
      quantity: 0.5,
      price: 43000,
      realizedPnl: 0,
    };
    await t.rt.bus.publish(TOPICS.tradeExecutions.name, trade.sessionId, 'trade', trade);
    await until(() => rx.got.some((g) => g.path === '/slack') && rx.got.some((g) => g.path === '/discord'));
    expect(JSON.parse(rx.got.find((g) => g.path === '/slack')!.body)).toEqual({
      text: 'BUY 0.5 BTCUSD at 43000 (session abcdef12)',
    });
    expect(JSON.parse(rx.got.find((g) => g.path === '/discord')!.body)).toEqual({
      content: 'BUY 0.5 BTCUSD at 43000 (session abcdef12)',
    });
    await until(() => rx.got.some((g) => g.path.endsWith('/sendMessage')));
    expect(JSON.parse(rx.got.find((g) => g.path.endsWith('/sendMessage'))!.body)).toEqual({
      chat_id: '-1001234567890',
      text: 'BUY 0.5 BTCUSD at 43000 (session abcdef12)',
      disable_web_page_preview: true,
    });
    const r = await call(a, 'POST', `/api/webhooks/${slack.id}/test`);
    expect(r.json()).toMatchObject({ event: 'ping', status: 'pending' });
    await until(() => rx.got.filter((g) => g.path === '/slack').length === 2);
    expect(JSON.parse(rx.got.filter((g) => g.path === '/slack')[1]!.body)).toEqual({ text: 'AlgoTrade webhook test' });
    void discord;
  });

  it('checks what it is given, and keeps each user to their own webhooks', async () => {
    const bad = async (body: object) => (await call(a, 'POST', '/api/webhooks', body)).json().error;
    expect((await bad({ url: 'ftp://example.com/x' })).message).toMatch(/http:\/\/ or https:\/\//);
    expect((await bad({ url: 'https://me:pw@example.com/x' })).message).toMatch(/no user name or password/);
    expect((await bad({ url: 'https://example.com/x', events: ['everything'] })).code).toBe('VALIDATION_FAILED');
    expect((await bad({ url: 'https://example.com/x', events: [] })).code).toBe('VALIDATION_FAILED');
    expect((await bad({ url: 'https://example.com/x', format: 'telegram' })).message).toBe(
      'a Telegram webhook needs chatId: the chat its bot posts to',
    );
    expect((await bad({ url: 'https://example.com/x', chatId: '42' })).message).toMatch(/chatId is for Telegram/);
    expect((await bad({ url: 'https://example.com/x', format: 'telegram', chatId: 'me; drop' })).code).toBe(
      'VALIDATION_FAILED',
    );
    const w = (await call(a, 'POST', '/api/webhooks', { url: 'https://example.com/hook' })).json();
    for (const [m, p] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/test'],
      ['GET', '/deliveries'],
    ] as const)
      expect((await call(b, m, `/api/webhooks/${w.id}${p}`)).statusCode, `${m} ${p}`).toBe(404);
    expect((await call(b, 'GET', '/api/webhooks')).json()).toEqual([]);
    expect((await call(a, 'DELETE', `/api/webhooks/${w.id}`)).statusCode).toBe(204);
    expect((await call(a, 'GET', `/api/webhooks/${w.id}`)).statusCode).toBe(404);
    // at most 20 each
    const c = await t.user();
    for (let i = 0; i < 20; i++)
      expect((await call(c, 'POST', '/api/webhooks', { url: `https://example.com/${i}` })).statusCode).toBe(201);
    expect((await call(c, 'POST', '/api/webhooks', { url: 'https://example.com/21' })).json().error.message).toBe(
      'at most 20 webhooks per user; delete one first',
    );
  });
});

describe('webhooks to private addresses', () => {
  it('are refused by default, with the setting that allows them', async () => {
    const t = await startTestApp({ WEBHOOK_RETRY_DELAYS_MS: '50' });
    try {
      const a = await t.user();
      const w = (
        await t.app.inject({
          method: 'POST',
          url: '/api/webhooks',
          headers: a.auth,
          payload: { url: 'http://127.0.0.1:9/x' },
        })
      ).json();
      await t.app.inject({ method: 'POST', url: `/api/webhooks/${w.id}/test`, headers: a.auth });
      const log = async () =>
        (await t.app.inject({ url: `/api/webhooks/${w.id}/deliveries`, headers: a.auth })).json()[0];
      await until(async () => (await log()).status === 'failed');
      expect(await log()).toMatchObject({
        attempts: 1, // no retry can help
        error:
          '127.0.0.1 is a private or loopback address (127.0.0.1); set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow',
      });
    } finally {
      await t.stop();
    }
  });

  it('covers loopback, private, link-local (cloud metadata), CGNAT and their IPv6 forms', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect(isPrivateAddress(ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(isPrivateAddress(ip), ip).toBe(false);
  });
});

describe('a delivery pending when the platform stops', () => {
  it('is sent by the next start, from the database', async () => {
    const dir = tempDir();
    // a port for the receiver, free now: the receiver is not there yet
    const probe = await receiver();
    const port = Number(new URL(probe.url('/')).port);
    await probe.close();
    const env = { DATA_DIR: dir.dir, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_RETRY_DELAYS_MS: '1500' };
    const first = await startTestApp(env);
    const a = await first.user('restart@test.io');
    const call = (t: TestApp, url: string, method: 'GET' | 'POST' = 'GET', payload?: object) =>
      t.app.inject({ method, url, headers: a.auth, ...(payload ? { payload } : {}) });
    const w = (await call(first, '/api/webhooks', 'POST', { url: `http://127.0.0.1:${port}/late` })).json();
    await call(first, `/api/webhooks/${w.id}/test`, 'POST');
    const log = async (t: TestApp) => (await call(t, `/api/webhooks/${w.id}/deliveries`)).json()[0];
    await until(async () => !!(await log(first))?.error?.includes('ECONNREFUSED')); // the first attempt failed
    expect(await log(first)).toMatchObject({ status: 'pending', attempts: 1 });
    await first.stop();

    // the receiver comes up on that port, then the platform starts again on the same data
    const got: string[] = [];
    const server = createServer((req, res) => (got.push(req.url ?? ''), res.end())).listen(port, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const second = await startTestApp(env);
    try {
      await until(async () => (await log(second))?.status === 'delivered', 15_000);
      expect(await log(second)).toMatchObject({ attempts: 2, responseStatus: 200, event: 'ping' });
      expect(got).toEqual(['/late']);
    } finally {
      await second.stop();
      server.close();
      dir.remove();
    }
  }, 30_000);
});
