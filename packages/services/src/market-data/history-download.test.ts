import type { AddressInfo } from 'node:net';
import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { coinbaseRest, GARBAGE_TS, real, served } from '../../../../test/helpers/coinbase-rest.ts';
import { until } from '../../../../test/helpers/wait.ts';

describe('history downloads through the API (Coinbase Exchange REST replayed on a local socket)', () => {
  let t: TestApp;
  let api: ReturnType<typeof coinbaseRest>;
  const since = new Date(real[0]![0]!).toISOString();
  const end = new Date(real[real.length - 1]![0]! + 60_000).toISOString();
  beforeAll(async () => {
    api = coinbaseRest();
    await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
    t = await startTestApp({ EXCHANGE_API_URL: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await t.stop();
    api.server.close();
  });

  /** POST /api/market/history/download as `auth`, by default BTC/USD over the whole served range */
  const startDownload = (
    auth: Record<string, string>,
    payload: object = { exchange: 'coinbaseexchange', market: 'BTC/USD', since, until: end },
  ) => t.app.inject({ method: 'POST', url: '/api/market/history/download', headers: auth, payload });

  it('runs in the background with progress (API and the user channel), then the candles are there', async () => {
    const u = await t.user();
    const events: { status: string; progress: number }[] = [];
    const sub = await t.rt.bus.subscribe<{ status: string; progress: number }>(
      TOPICS.userNotifications.name,
      { group: 'download-test' },
      (m) => {
        if (m.key === u.id && m.type === 'history.download') events.push(m.data);
      },
    );
    const started = await startDownload(u.auth);
    expect(started.statusCode).toBe(202);
    expect(started.json()).toMatchObject({ status: 'running', symbol: 'BTCUSD', timeframe: '1m', progress: 0 });
    const id = started.json().id as string;
    let job: Record<string, unknown> = {};
    await until(async () => {
      job = (await t.app.inject({ url: `/api/market/history/downloads/${id}`, headers: u.auth })).json();
      return job.status !== 'running';
    });
    const expected = served.filter((c) => c[0] !== GARBAGE_TS);
    expect(job).toMatchObject({ status: 'done', progress: 1, stored: expected.length, malformed: 1, error: null });
    const candles = (
      await t.app.inject({
        url: `/api/market/symbols/BTCUSD/candles?interval=1m&from=${since}&to=${end}&limit=5000`,
        headers: u.auth,
      })
    ).json() as { ts: string; open: number; close: number }[];
    expect(candles.length).toBe(expected.length);
    expect([candles[0]!.open, candles[0]!.close]).toEqual([expected[0]![1], expected[0]![4]]);
    // the user's channel saw it start, move on and finish
    await until(() => events.some((e) => e.status === 'done'));
    expect(events[0]).toMatchObject({ status: 'running', progress: 0 });
    expect(events.filter((e) => e.status === 'running').length).toBeGreaterThan(2);
    expect(events.every((e, i) => i === 0 || e.progress >= events[i - 1]!.progress)).toBe(true);
    expect((await t.app.inject({ url: '/api/market/history/downloads', headers: u.auth })).json()[0].id).toBe(id);
    await sub.close();
  });

  it('refuses bad requests with 400 and reports what the exchange refuses as a failed job', async () => {
    const u = await t.user();
    const post = (payload: object) => startDownload(u.auth, payload);
    const ok = { exchange: 'coinbaseexchange', market: 'BTC/USD', since };
    const bad = [
      { ...ok, exchange: 'nosuchexchange' },
      { ...ok, exchange: 'Coinbase Exchange' },
      { ...ok, market: 'BTCUSD' },
      { ...ok, timeframe: '2m' },
      { ...ok, since: 'yesterday' },
      { ...ok, until: since, since: end },
      { exchange: 'coinbaseexchange', market: 'BTC/USD' },
    ];
    for (const p of bad) {
      const r = await post(p);
      expect(r.statusCode, JSON.stringify(p)).toBe(400);
      expect(r.json().error.message.length).toBeGreaterThan(5);
    }
    expect((await post({ ...ok, exchange: 'nosuchexchange' })).json().error.message).toMatch(/unknown exchange/);
    const r = await post({ ...ok, market: 'DOGE/EUR', until: end });
    expect(r.statusCode).toBe(202);
    let job: Record<string, unknown> = {};
    await until(async () => {
      job = (await t.app.inject({ url: `/api/market/history/downloads/${r.json().id}`, headers: u.auth })).json();
      return job.status !== 'running';
    });
    expect(job).toMatchObject({ status: 'failed', stored: 0 });
    expect(job.error).toMatch(/no market 'DOGE\/EUR'/);
    expect(
      (
        await t.app.inject({
          url: '/api/market/history/downloads/00000000-0000-4000-8000-000000000000',
          headers: u.auth,
        })
      ).statusCode,
    ).toBe(404);
  });

  it('runs at most two downloads per user at once (429 for a third), and they still finish', async () => {
    const u = await t.user();
    const post = () => startDownload(u.auth);
    api.slow.ms = 150;
    try {
      const [a, b] = [await post(), await post()];
      expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
      const third = await post();
      expect(third.statusCode).toBe(429);
      expect(third.json().error.message).toMatch(/at most 2 downloads/);
      // another user is not held back by this one's downloads
      const v = await t.user();
      const other = await startDownload(v.auth);
      expect(other.statusCode).toBe(202);
      api.slow.ms = 0;
      for (const [id, who] of [
        [a.json().id, u],
        [b.json().id, u],
        [other.json().id, v],
      ] as const)
        await until(
          async () =>
            (await t.app.inject({ url: `/api/market/history/downloads/${id}`, headers: who.auth })).json().status ===
            'done',
        );
    } finally {
      api.slow.ms = 0;
    }
  });
});
