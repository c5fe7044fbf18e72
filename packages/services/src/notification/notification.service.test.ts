import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NAMES } from '@algotrade/adapters';
import { TOPICS } from '@algotrade/core';
import { buildApp } from '@algotrade/services';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { aboveBelow, alwaysBuying, exitWhen, buysAbove, gatedBy, graphOf } from '../../../../test/helpers/graphs.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { MAX_CHANNELS_PER_CONNECTION, textFrame } from './notification.service.ts';

type Frame = { channel?: string; type: string; data?: Record<string, unknown>; ts: string };

/** A WebSocket client that records frames and can wait for one matching a predicate. */
async function connect(base: string, token?: string) {
  const ws = new WebSocket(`${base}/ws${token ? `?token=${token}` : ''}`);
  const frames: Frame[] = [];
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  const waitFor = async (pred: (f: Frame) => boolean, ms = 15_000) => {
    const t0 = Date.now();
    for (;;) {
      const f = frames.find(pred);
      if (f) return f;
      if (Date.now() - t0 > ms) throw new Error(`no frame matched; got ${JSON.stringify(frames.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { ws, frames, closed, waitFor, send: (o: object) => ws.send(JSON.stringify(o)) };
}

describe('textFrame', () => {
  it('frames text that a WebSocket client reads back, for every length encoding', async () => {
    for (const n of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
      const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
      const got = await new Promise<{ data: string; binary: boolean }>((resolve, reject) => {
        // ws's own frame parser (exported at run time, absent from its type definitions)
        const { Receiver } = WebSocket as unknown as {
          Receiver: new (o: { isServer: boolean }) => NodeJS.EventEmitter & { write(b: Buffer): void };
        };
        const r = new Receiver({ isServer: false });
        r.on('message', (d: Buffer, binary: boolean) => resolve({ data: d.toString(), binary }));
        r.on('error', reject);
        r.write(textFrame(Buffer.from(text)));
      });
      expect(got).toEqual({ data: text, binary: false });
    }
  });
});

describe('notifications WebSocket', () => {
  let t: TestApp;
  let base: string;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  const token = (u: typeof a) => u.auth.authorization.slice('Bearer '.length);
  /** a connection of `u` subscribed to its `user` channel */
  /** one user's API request, by inject */
  const call = (u: typeof a, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  const onUserChannel = async (u: typeof a) => {
    const c = await connect(base, token(u));
    c.send({ op: 'subscribe', channel: 'user' });
    await c.waitFor((f) => f.type === 'subscribed');
    return c;
  };
  beforeAll(async () => {
    t = await startTestApp({ MARKET_FEED: 'simulator', SIM_SYMBOLS: 'BTCUSD', SIM_TICKS_PER_SECOND: '50' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    a = await t.user();
    b = await t.user();
  });
  afterAll(() => t.stop());

  const metric = async (name: string) => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  };

  it('drops a client that stops reading (4008) while the others get every push', async () => {
    const dropped0 = await metric('websocket_slow_clients_dropped_total');
    const rounds0 = await metric('websocket_push_round_seconds_count\\{kind="user"\\}');
    const [slow, fast] = await Promise.all([onUserChannel(a), onUserChannel(b)]);
    slow.ws.pause(); // stops reading its socket: the server's send buffer for it grows
    const blob = 'x'.repeat(60_000);
    for (let i = 0; i < 300; i++) {
      await t.rt.bus.publish(TOPICS.userNotifications.name, a.id, 'bulk', { i, blob });
      await t.rt.bus.publish(TOPICS.userNotifications.name, b.id, 'bulk', { i, blob });
      // the fast client shares this process's event loop with the publisher: wait for it to read each
      // tenth push, so only the paused client's buffer can grow (on a loaded machine the fast one could
      // otherwise fall 1 MiB behind too, and be dropped as well)
      if (i % 10 === 9) await fast.waitFor((f) => f.type === 'bulk' && f.data?.i === i);
    }
    const last = await fast.waitFor((f) => f.type === 'bulk' && f.data?.i === 299);
    expect(last.channel).toBe('user');
    expect(fast.frames.filter((f) => f.type === 'bulk')).toHaveLength(300);
    slow.ws.resume();
    expect(await slow.closed).toBe(4008);
    expect(slow.frames.filter((f) => f.type === 'bulk').length).toBeLessThan(300);
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    fast.ws.close();
    // operators see the drop, and every push round timed (600 pushes on the user channel, at least)
    expect(await metric('websocket_slow_clients_dropped_total')).toBe(dropped0 + 1);
    expect(await metric('websocket_push_round_seconds_count\\{kind="user"\\}')).toBeGreaterThanOrEqual(rounds0 + 600);
  });

  it('bounds what one client holds: connections per user, channels per connection, messages a second', async () => {
    const u = await t.user();
    const conns = [];
    // WS_MAX_CONNECTIONS_PER_USER (32 by default)
    for (let i = 0; i < t.rt.config.http.wsConnectionsPerUser; i++) conns.push(await connect(base, token(u)));
    const over = await connect(base, token(u));
    expect(await over.closed).toBe(4429);
    expect((await connect(base, token(b))).ws.readyState).toBe(WebSocket.OPEN); // another user is not held back
    conns.pop()!.ws.close(); // a closed one makes room
    await new Promise((r) => setTimeout(r, 100));
    const again = await connect(base, token(u));
    const c = conns[0]!;
    // channels: the cap, then a refusal; an unsubscribe makes room. Sent within the message budget (a
    // burst of 100, then 20 a second)
    for (let i = 0; i < MAX_CHANNELS_PER_CONNECTION; i++) {
      if (i >= 100 && i % 20 === 0) await new Promise((r) => setTimeout(r, 1050));
      c.send({ op: 'subscribe', channel: `prices:CAP${i}` });
    }
    await c.waitFor(
      (f) => f.type === 'subscribed' && f.channel === `prices:CAP${MAX_CHANNELS_PER_CONNECTION - 1}`,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    c.send({ op: 'subscribe', channel: 'prices:ONEMORE' });
    const full = await c.waitFor((f) => f.type === 'error' && f.channel === 'prices:ONEMORE');
    expect(full.data).toMatchObject({ code: 'TOO_MANY_CHANNELS' });
    c.send({ op: 'unsubscribe', channel: 'prices:CAP0' });
    c.send({ op: 'subscribe', channel: 'prices:ONEMORE' });
    await c.waitFor((f) => f.type === 'subscribed' && f.channel === 'prices:ONEMORE');
    // messages: a burst of 100 passes, the rest of a flood is refused
    const d = conns[1]!;
    for (let i = 0; i < 150; i++) d.send({ op: 'ping' });
    await until(() => d.frames.length >= 150);
    expect(d.frames.filter((f) => f.type === 'pong').length).toBeGreaterThanOrEqual(100);
    expect(d.frames.filter((f) => f.type === 'pong').length).toBeLessThan(110);
    expect(d.frames.find((f) => f.type === 'error')?.data).toMatchObject({ code: 'RATE_LIMITED' });
    for (const x of [...conns, again]) x.ws.close();
  }, 120_000);

  it('refuses a connection without a valid token', async () => {
    const c = await connect(base);
    expect(await c.closed).toBe(4401);
    const bad = await connect(base, 'not-a-jwt');
    expect(await bad.closed).toBe(4401);
  });

  it('streams live prices to subscribers of prices:<symbol>', async () => {
    const c = await connect(base, token(a));
    c.send({ op: 'subscribe', channel: 'prices:BTCUSD' });
    await c.waitFor((f) => f.type === 'subscribed' && f.channel === 'prices:BTCUSD');
    const p = await c.waitFor((f) => f.channel === 'prices:BTCUSD' && f.type === 'price');
    expect(p.data).toMatchObject({ symbol: 'BTCUSD', price: expect.any(Number) });
    c.send({ op: 'nonsense' });
    await c.waitFor((f) => f.type === 'error' && (f.data as { code: string }).code === 'BAD_MESSAGE');
    c.ws.close();
  });

  it("pushes a backtest's progress to its owner and refuses another user's backtest channel", async () => {
    await t.importGoog(a.auth);
    const strat = (
      await t.app.inject({ method: 'POST', url: '/api/strategies/templates/sma-crossover', headers: a.auth })
    ).json();
    // queue it while the owner is already listening: subscribe first to the id returned
    const owner = await connect(base, token(a));
    const other = await connect(base, token(b));
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/backtests',
      headers: a.auth,
      payload: { strategyId: strat.id, symbol: 'GOOG', interval: '1d' },
    });
    const id = r.json().id as string;
    owner.send({ op: 'subscribe', channel: `backtest:${id}` });
    other.send({ op: 'subscribe', channel: `backtest:${id}` });
    const refused = await other.waitFor((f) => f.type === 'error');
    expect(refused).toMatchObject({ channel: `backtest:${id}`, data: { code: 'NOT_FOUND' } });
    // either the live event or, when the job finished before the subscription, the status snapshot
    const done = await owner.waitFor(
      (f) =>
        f.channel === `backtest:${id}` &&
        (f.type === 'backtest.done' || (f.type === 'backtest.status' && f.data?.status === 'done')),
    );
    expect(done.data).toMatchObject({ status: 'done', progress: 1, metrics: { trades: expect.any(Number) } });
    expect(other.frames.some((f) => f.channel === `backtest:${id}` && f.type !== 'error')).toBe(false);
    owner.ws.close();
    other.ws.close();
  });

  it("follows a sweep's backtests on one channel: a snapshot on joining, then each one's end; others refused", async () => {
    const strat = (
      await t.app.inject({ method: 'POST', url: '/api/strategies/templates/sma-crossover', headers: a.auth })
    ).json();
    const owner = await connect(base, token(a));
    const other = await connect(base, token(b));
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/backtests/sweep',
      headers: a.auth,
      payload: {
        strategyId: strat.id,
        symbol: 'GOOG',
        interval: '1d',
        params: { 'fast.period': [5, 8, 10, 12, 15, 20] },
      },
    });
    const { sweepId, ids } = r.json() as { sweepId: string; ids: string[] };
    owner.send({ op: 'subscribe', channel: `sweep:${sweepId}` });
    other.send({ op: 'subscribe', channel: `sweep:${sweepId}` });
    expect(await other.waitFor((f) => f.type === 'error')).toMatchObject({
      channel: `sweep:${sweepId}`,
      data: { code: 'NOT_FOUND', message: `sweep ${sweepId} not found` },
    });
    const snap = await owner.waitFor((f) => f.type === 'sweep.status');
    expect(snap.data).toMatchObject({ total: 6 });
    // what ended before the join is in the snapshot, every end after it comes as an event: together, all six
    const ends = () =>
      new Set(
        owner.frames
          .filter((f) => f.channel === `sweep:${sweepId}` && f.type === 'backtest.done')
          .map((f) => f.data!.backtestId),
      );
    await until(() => (snap.data!.done as number) + ends().size >= 6);
    for (const id of ends()) expect(ids).toContain(id);
    for (const f of owner.frames.filter((x) => x.channel === `sweep:${sweepId}` && x.type === 'backtest.done'))
      expect(f.data).toMatchObject({ sweepId, status: 'done', metrics: { trades: expect.any(Number) } });
    // a channel for an id that is no sweep of the caller's
    owner.send({ op: 'subscribe', channel: `sweep:${strat.id}` });
    await owner.waitFor((f) => f.type === 'error' && f.channel === `sweep:${strat.id}`);
    expect(other.frames.some((f) => f.channel === `sweep:${sweepId}` && f.type !== 'error')).toBe(false);
    owner.ws.close();
    other.ws.close();
  });

  it("fires alerts once on the owner's user channel: a price level, a session stopping", async () => {
    const [owner, other] = await Promise.all([onUserChannel(a), onUserChannel(b)]);
    let last = 0;
    for (let i = 0; i < 100 && !last; i++) {
      last = (await call(a, 'GET', '/api/market/symbols/BTCUSD')).json().lastPrice ?? 0;
      if (!last) await new Promise((r) => setTimeout(r, 50));
    }
    expect(last).toBeGreaterThan(0);
    const bad = await call(a, 'POST', '/api/alerts', { kind: 'price_sideways', symbol: 'BTCUSD', price: 1 });
    expect(bad.statusCode).toBe(400);
    const above = (
      await call(a, 'POST', '/api/alerts', { kind: 'price_above', symbol: 'btcusd', price: last / 2 })
    ).json();
    const below = (
      await call(a, 'POST', '/api/alerts', { kind: 'price_below', symbol: 'BTCUSD', price: last / 2 })
    ).json();
    expect(above).toMatchObject({ kind: 'price_above', symbol: 'BTCUSD', status: 'active' });
    const hit = await owner.waitFor((f) => f.type === 'alert' && f.data?.alertId === above.id);
    expect(hit).toMatchObject({ channel: 'user', data: { kind: 'price_above', symbol: 'BTCUSD', level: last / 2 } });
    expect((await call(a, 'GET', `/api/alerts/${above.id}`)).json()).toMatchObject({
      status: 'triggered',
      message: expect.stringContaining('BTCUSD rose to'),
    });
    expect((await call(a, 'GET', `/api/alerts/${below.id}`)).json().status).toBe('active');
    // a session stopping
    const strat = (await call(a, 'POST', '/api/strategies/templates/sma-crossover')).json();
    const ft = (await call(a, 'POST', '/api/forward-tests', { strategyId: strat.id, symbol: 'BTCUSD' })).json();
    expect((await call(b, 'POST', '/api/alerts', { kind: 'session_status', sessionId: ft.id })).statusCode).toBe(404);
    const st = (await call(a, 'POST', '/api/alerts', { kind: 'session_status', sessionId: ft.id })).json();
    await call(a, 'POST', `/api/forward-tests/${ft.id}/stop`);
    const stopped = await owner.waitFor((f) => f.type === 'alert' && f.data?.alertId === st.id);
    expect(stopped.data).toMatchObject({ kind: 'session_status', status: 'stopped', sessionId: ft.id });
    // pushed once, and only to the owner
    await new Promise((r) => setTimeout(r, 300));
    expect(owner.frames.filter((f) => f.type === 'alert' && f.data?.alertId === above.id)).toHaveLength(1);
    expect(other.frames.some((f) => f.type === 'alert')).toBe(false);
    // private: another user's alert is 404 and never listed
    expect((await call(b, 'GET', `/api/alerts/${below.id}`)).statusCode).toBe(404);
    expect((await call(b, 'DELETE', `/api/alerts/${below.id}`)).statusCode).toBe(404);
    expect((await call(b, 'GET', '/api/alerts')).json()).toEqual([]);
    expect((await call(a, 'GET', '/api/alerts')).json()).toHaveLength(3);
    expect((await call(a, 'DELETE', `/api/alerts/${below.id}`)).statusCode).toBe(204);
    owner.ws.close();
    other.ws.close();
  });

  it("fires a strategy alert on the strategy's first signal, warmed on the symbol's history, without trading", async () => {
    const owner = await onUserChannel(a);
    let seq = 0;
    const publish = (symbol: string, prices: number[]) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
        symbol,
        ticks: prices.map((price) => ({ ts: Date.UTC(2026, 0, 5, 12) + ++seq * 1000, price, size: 1, seq })),
      });
    // buy while the SMA(3) of the price is above 150: true from the first live tick only if the alert
    // was warmed on the three ticks already in the window (else from the third)
    const graph = graphOf(
      [
        ['close', 'price.close'],
        ['sma', 'indicator.sma', { period: 3 }],
        ['level', 'constant', { value: 150 }],
        ['above', 'logic.greater'],
        ['buy', 'action.buy'],
      ],
      [
        ['close', 'value', 'sma', 'value'],
        ['sma', 'value', 'above', 'a'],
        ['level', 'value', 'above', 'b'],
        ['above', 'value', 'buy', 'trigger'],
      ],
    );
    const strat = (await call(a, 'POST', '/api/strategies', { name: 'SMA above 150', graph })).json();
    await publish('SIGUSD', [100, 200, 200]);
    await until(async () => (await t.rt.windows.latest('SIGUSD', 3)).length === 3);
    expect(
      (await call(b, 'POST', '/api/alerts', { kind: 'strategy_signal', strategyId: strat.id, symbol: 'SIGUSD' }))
        .statusCode,
    ).toBe(404);
    const made = await call(a, 'POST', '/api/alerts', {
      kind: 'strategy_signal',
      strategyId: strat.id,
      symbol: 'sigusd',
    });
    expect(made.statusCode).toBe(201);
    const alert = made.json();
    expect(alert).toMatchObject({ kind: 'strategy_signal', symbol: 'SIGUSD', status: 'active' });
    expect(alert.params).toMatchObject({ strategyId: strat.id, name: 'SMA above 150', evaluation: { mode: 'tick' } });
    expect(alert.params.graph).toBeUndefined();
    // its warm-up (the window's three ticks) never fires it; the first live tick does
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(a, 'GET', `/api/alerts/${alert.id}`)).json().status).toBe('active');
    await publish('SIGUSD', [201, 202, 203]);
    const hit = await owner.waitFor((f) => f.type === 'alert' && f.data?.alertId === alert.id);
    expect(hit.data).toMatchObject({
      kind: 'strategy_signal',
      symbol: 'SIGUSD',
      action: 'buy',
      nodeId: 'buy',
      price: 201,
    });
    expect((await call(a, 'GET', `/api/alerts/${alert.id}`)).json()).toMatchObject({
      status: 'triggered',
      message: 'SMA above 150 on SIGUSD: buy signal at 201',
    });
    // once, and no session or order anywhere
    await publish('SIGUSD', [204]);
    await new Promise((r) => setTimeout(r, 300));
    expect(owner.frames.filter((f) => f.type === 'alert' && f.data?.alertId === alert.id)).toHaveLength(1);
    expect(
      (await call(a, 'GET', '/api/forward-tests')).json().filter((s: { symbol: string }) => s.symbol === 'SIGUSD'),
    ).toEqual([]);
    owner.ws.close();
  });

  it('fires a repeating alert on each new crossing, never within its cooldown; a strategy alert on each change of signal', async () => {
    const owner = await onUserChannel(a);
    const t0 = Date.UTC(2026, 0, 6, 9);
    let seq = 0;
    /** ticks at t0 + the given seconds */
    const publish = (symbol: string, ticks: [sec: number, price: number][]) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
        symbol,
        ticks: ticks.map(([sec, price]) => ({ ts: t0 + sec * 1000, price, size: 1, seq: ++seq })),
      });
    const pushed = (id: string) => owner.frames.filter((f) => f.type === 'alert' && f.data?.alertId === id);
    const envelopes: string[] = [];
    const sub = await t.rt.bus.subscribe(TOPICS.userNotifications.name, { group: 'repeat-test' }, async (m) => {
      envelopes.push(m.id);
    });

    // bad combinations are 400s that say why
    const noRepeat = await call(a, 'POST', '/api/alerts', {
      kind: 'price_above',
      symbol: 'REPUSD',
      price: 100,
      cooldownSeconds: 10,
    });
    expect(noRepeat.statusCode).toBe(400);
    expect(noRepeat.json().error.message).toContain('repeat');
    for (const statuses of [[], ['running'], ['paused', 'paused']]) {
      const badStatuses = await call(a, 'POST', '/api/alerts', {
        kind: 'session_status',
        sessionId: '00000000-0000-4000-8000-000000000000',
        statuses,
      });
      expect(badStatuses.statusCode, JSON.stringify(statuses)).toBe(400);
    }

    const made = await call(a, 'POST', '/api/alerts', {
      kind: 'price_above',
      symbol: 'REPUSD',
      price: 100,
      repeat: 'every',
      cooldownSeconds: 10,
    });
    expect(made.statusCode).toBe(201);
    const rep = made.json();
    expect(rep).toMatchObject({ params: { price: 100, repeat: 'every', cooldownSeconds: 10 }, triggerCount: 0 });
    const once = (await call(a, 'POST', '/api/alerts', { kind: 'price_above', symbol: 'REPUSD', price: 100 })).json();
    expect(once.params.repeat).toBeUndefined();

    await publish('REPUSD', [
      [1, 90],
      [2, 101], // fires both
      [3, 102], // still above: no new crossing
      [4, 95], // back below: the repeating alert re-arms
      [5, 103], // a new crossing, but 3 s after the last firing (cooldown 10 s)
      [13, 104], // still armed and 11 s after: fires again
      [14, 105],
    ]);
    await until(() => pushed(rep.id).length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(pushed(rep.id).map((f) => [f.data?.price, f.data?.count])).toEqual([
      [101, 1],
      [104, 2],
    ]);
    expect(pushed(once.id).map((f) => f.data?.price)).toEqual([101]);
    expect((await call(a, 'GET', `/api/alerts/${rep.id}`)).json()).toMatchObject({
      status: 'active',
      triggerCount: 2,
      message: 'REPUSD rose to 104 (level 100)',
    });
    expect((await call(a, 'GET', `/api/alerts/${once.id}`)).json()).toMatchObject({
      status: 'triggered',
      triggerCount: 1,
    });
    // each firing is its own event (a webhook delivers each): distinct message ids
    await until(() => envelopes.filter((id) => id.startsWith(`alert:${rep.id}`)).length === 2);
    expect(envelopes.filter((id) => id.startsWith(`alert:${rep.id}`))).toEqual([
      `alert:${rep.id}:1`,
      `alert:${rep.id}:2`,
    ]);

    // a strategy alert with two actions: buy above 150, sell below; fires on each change of signal
    const graph = aboveBelow(
      [
        ['close', 'price.close'],
        ['level', 'constant', { value: 150 }],
      ],
      [],
      ['close', 'value'],
      ['level', 'value'],
    );
    /** a repeating strategy alert on `symbol` for a strategy saved with this graph, warmed (an empty window) */
    const repeatingAlert = async (name: string, g: object, symbol: string) => {
      const strat = (await call(a, 'POST', '/api/strategies', { name, graph: g })).json();
      const alert = (
        await call(a, 'POST', '/api/alerts', { kind: 'strategy_signal', strategyId: strat.id, symbol, repeat: 'every' })
      ).json();
      await new Promise((r) => setTimeout(r, 300)); // its warm-up (an empty window)
      return alert;
    };
    const sig = await repeatingAlert('Level 150', graph, 'REPSIG');
    expect(sig.params).toMatchObject({ repeat: 'every', cooldownSeconds: 0 });
    await publish('REPSIG', [
      [1, 200], // buy
      [2, 210], // buy again: no change
      [3, 100], // sell
      [4, 90],
      [5, 160], // buy
    ]);
    await until(() => pushed(sig.id).length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(pushed(sig.id).map((f) => [f.data?.action, f.data?.price])).toEqual([
      ['buy', 200],
      ['sell', 100],
      ['buy', 160],
    ]);
    expect((await call(a, 'GET', `/api/alerts/${sig.id}`)).json()).toMatchObject({
      status: 'active',
      triggerCount: 3,
      params: { lastAction: 'buy' },
    });

    // a strategy reading its own position (buy while not long, close once more than 5 % up) reads the
    // position its signals make: without it the alert would see flat forever, buy on every tick, never close
    const pos = await repeatingAlert(
      'Buy flat, take 5 %',
      exitWhen(gatedBy(alwaysBuying(), 'buy', 'long', false), [['profit_pct', '>', 5]]),
      'POSSIG',
    );
    await publish('POSSIG', [
      [1, 100], // buy: long from 100
      [2, 103], // 3 % up: held
      [3, 106], // 6 % up: close
      [4, 104], // flat: buy again, from 104
      [5, 108], // 3.8 % up: held
      [6, 110], // 5.8 % up: close
    ]);
    await until(() => pushed(pos.id).length >= 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(pushed(pos.id).map((f) => [f.data?.action, f.data?.price])).toEqual([
      ['buy', 100],
      ['close', 106],
      ['buy', 104],
      ['close', 110],
    ]);
    await sub.close();
    owner.ws.close();
  });

  it("fires a session status alert on each pause when asked (a limit's with its reason, yours), and once on its end by default", async () => {
    const owner = await onUserChannel(a);
    const strat = (await call(a, 'POST', '/api/strategies', { name: 'long', graph: alwaysBuying() })).json();
    const ft = (await call(a, 'POST', '/api/forward-tests', { strategyId: strat.id, symbol: 'PAUSEALERT' })).json();
    const every = (
      await call(a, 'POST', '/api/alerts', {
        kind: 'session_status',
        sessionId: ft.id,
        statuses: ['paused'],
        repeat: 'every',
      })
    ).json();
    expect(every.params).toMatchObject({ statuses: ['paused'], repeat: 'every' });
    const onEnd = (await call(a, 'POST', '/api/alerts', { kind: 'session_status', sessionId: ft.id })).json();
    expect(onEnd.params.statuses).toEqual(['stopped', 'failed']);
    const fired = (id: string) => owner.frames.filter((f) => f.type === 'alert' && f.data?.alertId === id);
    for (let i = 1; i <= 2; i++) {
      expect((await call(a, 'POST', `/api/forward-tests/${ft.id}/pause`)).statusCode).toBe(200);
      await until(() => fired(every.id).length === i);
      await call(a, 'POST', `/api/forward-tests/${ft.id}/resume`);
    }
    expect(fired(every.id).map((f) => f.data)).toMatchObject([
      { status: 'paused', reason: null, message: `session ${ft.id} paused by hand`, count: 1 },
      { status: 'paused', count: 2 },
    ]);
    expect(fired(onEnd.id)).toHaveLength(0);
    await call(a, 'POST', `/api/forward-tests/${ft.id}/stop`);
    await until(() => fired(onEnd.id).length === 1);
    expect(fired(onEnd.id)[0]!.data).toMatchObject({ status: 'stopped' });
    // the pause alert does not fire on a stop, and stays active (it repeats)
    await new Promise((r) => setTimeout(r, 200));
    expect(fired(every.id)).toHaveLength(2);
    expect((await call(a, 'GET', `/api/alerts/${every.id}`)).json()).toMatchObject({
      status: 'active',
      triggerCount: 2,
    });
    expect((await call(a, 'GET', `/api/alerts/${onEnd.id}`)).json().status).toBe('triggered');
    owner.ws.close();
  });

  it('evaluates the ticks that arrive while a strategy alert warms up, after its warm-up, in order', async () => {
    const owner = await onUserChannel(a);
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: a.auth, ...(payload ? { payload } : {}) });
    const graph = buysAbove(150);
    const strat = (await call('POST', '/api/strategies', { name: 'Early', graph })).json();
    // the window read of its warm-up is slow (a Redis far away): held until the live ticks are out, then
    // it gives the first of them only, as a read that raced the feed would
    const windows = t.rt.windows;
    const latest = windows.latest.bind(windows);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    windows.latest = async (symbol, n) => {
      if (symbol !== 'WARMUSD') return latest(symbol, n);
      await held;
      return (await latest(symbol, 3)).slice(-1);
    };
    try {
      const made = (
        await call('POST', '/api/alerts', { kind: 'strategy_signal', strategyId: strat.id, symbol: 'WARMUSD' })
      ).json();
      const ts = Date.UTC(2026, 0, 7, 12);
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'WARMUSD', 'ticks', {
        symbol: 'WARMUSD',
        ticks: [
          { ts, price: 100, size: 1, seq: 1 },
          { ts: ts + 1000, price: 160, size: 1, seq: 2 },
          { ts: ts + 2000, price: 170, size: 1, seq: 3 },
        ],
      });
      await until(async () => (await latest('WARMUSD', 3)).length === 3);
      release();
      const hit = await owner.waitFor((f) => f.type === 'alert' && f.data?.alertId === made.id);
      // the first tick came with the warm-up, not again; the second is the first live one above 150
      expect(hit.data).toMatchObject({ action: 'buy', price: 160, tickTs: new Date(ts + 1000).toISOString() });
    } finally {
      windows.latest = latest;
    }
    owner.ws.close();
  });

  it("fires a strategy alert reading another symbol on that symbol's live ticks", async () => {
    const owner = await onUserChannel(a);
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: a.auth, ...(payload ? { payload } : {}) });
    // buy when ALTA's close is above ALTB's
    const graph = graphOf(
      [
        ['close', 'price.close'],
        ['b', 'symbol.bar', { symbol: 'ALTB' }],
        ['above', 'logic.greater'],
        ['buy', 'action.buy'],
      ],
      [
        ['close', 'value', 'above', 'a'],
        ['b', 'close', 'above', 'b'],
        ['above', 'value', 'buy', 'trigger'],
      ],
    );
    const strat = (await call('POST', '/api/strategies', { name: 'A over B', graph })).json();
    let n = 0;
    const tick = (symbol: string, price: number) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
        symbol,
        ticks: [{ ts: Date.UTC(2026, 0, 8) + ++n * 1000, price, size: 1, seq: n }],
      });
    await tick('ALTB', 100);
    await until(async () => (await t.rt.windows.latest('ALTB', 1)).length === 1);
    const alert = (
      await call('POST', '/api/alerts', { kind: 'strategy_signal', strategyId: strat.id, symbol: 'ALTA' })
    ).json();
    await new Promise((r) => setTimeout(r, 300)); // its warm-up (ALTB's window: 100)
    await tick('ALTA', 90); // below 100
    await new Promise((r) => setTimeout(r, 100));
    await tick('ALTB', 80);
    await new Promise((r) => setTimeout(r, 100));
    await tick('ALTA', 95); // above 80: fires
    const hit = await owner.waitFor((f) => f.type === 'alert' && f.data?.alertId === alert.id);
    expect(hit.data).toMatchObject({ action: 'buy', price: 95 });
    owner.ws.close();
  });
});

describe('notifications WebSocket when the database fails', () => {
  it('tells the client to retry and keeps serving, instead of ending the process', async () => {
    const t = await startTestApp();
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      const u = await t.user();
      const c = await connect(base, u.auth.authorization.slice('Bearer '.length));
      // a session's ownership check reads the database, which is now gone for real
      await t.rt.db.close();
      c.send({ op: 'subscribe', channel: 'session:00000000-0000-4000-8000-000000000000' });
      const e = await c.waitFor((f) => f.type === 'error');
      expect(e.data).toMatchObject({ code: 'TEMPORARILY_UNAVAILABLE' });
      c.send({ op: 'ping' });
      await c.waitFor((f) => f.type === 'pong');
      c.send({ op: 'subscribe', channel: 'prices:BTCUSD' }); // needs no database
      await c.waitFor((f) => f.type === 'subscribed' && f.channel === 'prices:BTCUSD');
      c.ws.close();
    } finally {
      await t.stop().catch(() => {}); // the database is closed already
    }
  });
});

describe('a strategy alert reading its position, across a restart', () => {
  it('goes on from the position its signals made: the next instance closes it in profit, not buys again', async () => {
    const t = await startTestApp();
    let again: Awaited<ReturnType<typeof buildApp>> | undefined;
    try {
      const u = await t.user();
      const call = (app: typeof t.app, method: 'GET' | 'POST', url: string, payload?: object) =>
        app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
      const got: Record<string, unknown>[] = [];
      const sub = await t.rt.bus.subscribe(TOPICS.userNotifications.name, { group: 'restart-test' }, async (m) => {
        got.push(m.data as Record<string, unknown>);
      });
      let seq = 0;
      const t0 = Date.UTC(2026, 0, 7, 9);
      const publish = (ticks: [sec: number, price: number][]) =>
        t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'RESSIG', 'ticks', {
          symbol: 'RESSIG',
          ticks: ticks.map(([sec, price]) => ({ ts: t0 + sec * 1000, price, size: 1, seq: ++seq })),
        });
      // buy while flat, close once more than 5 % up
      const graph = exitWhen(gatedBy(alwaysBuying(), 'buy', 'long', false), [['profit_pct', '>', 5]]);
      const strat = (await call(t.app, 'POST', '/api/strategies', { name: 'Buy flat, take 5 %', graph })).json();
      const alert = (
        await call(t.app, 'POST', '/api/alerts', {
          kind: 'strategy_signal',
          strategyId: strat.id,
          symbol: 'RESSIG',
          repeat: 'every',
        })
      ).json();
      await new Promise((r) => setTimeout(r, 300)); // its warm-up (an empty window)
      await publish([[1, 100]]); // buy: long from 100
      await until(() => got.length >= 1);
      await until(async () => (await call(t.app, 'GET', `/api/alerts/${alert.id}`)).json().params.position?.qty === 1);
      expect((await call(t.app, 'GET', `/api/alerts/${alert.id}`)).json().params.position).toEqual({
        qty: 1,
        entryPrice: 100,
        entryTs: t0 + 1000,
        entries: 1,
      });

      // the service restarts (the same database): the alert is loaded again, warmed, and reads long from 100
      await t.close();
      again = await buildApp(t.rt, { services: SERVICE_NAMES });
      await new Promise((r) => setTimeout(r, 300));
      await publish([
        [2, 103], // 3 % up: held
        [3, 106], // 6 % up: close (a flat alert would buy here instead)
      ]);
      await until(() => got.length >= 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(got.map((d) => [d.action, d.price])).toEqual([
        ['buy', 100],
        ['close', 106],
      ]);
      await until(
        async () => (await call(again!.app, 'GET', `/api/alerts/${alert.id}`)).json().params.position?.qty === 0,
      );
      await sub.close();
    } finally {
      await again?.close();
      await t.rt.close();
    }
  });
});
