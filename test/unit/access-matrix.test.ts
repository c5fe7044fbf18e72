import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';

/**
 * Isolation: for every /api route with an id parameter, user B gets 404 on user A's rows. The route
 * list comes from the app itself, so a new route with an id fails here until its resource is mapped.
 */
describe('access matrix: another user never reaches a row by its id', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  const ids: Record<string, string> = {};
  let walkForwardId = '';
  let portfolioId = '';

  beforeAll(async () => {
    // history downloads go to a closed local port: they fail at once, and their job rows still exist
    t = await startTestApp({ EXCHANGE_API_URL: 'http://127.0.0.1:1' });
    a = await t.user();
    b = await t.user();
    await t.importGoog(a.auth);
    await t.importGoog(a.auth, 'GOOGL');
    ids.strategies = (
      await t.app.inject({ method: 'POST', url: '/api/strategies/templates/sma-crossover', headers: a.auth })
    ).json().id;
    ids.backtests = (
      await t.app.inject({
        method: 'POST',
        url: '/api/backtests',
        headers: a.auth,
        payload: { strategyId: ids.strategies, symbol: 'GOOG' },
      })
    ).json().id;
    ids['forward-tests'] = (
      await t.app.inject({
        method: 'POST',
        url: '/api/forward-tests',
        headers: a.auth,
        payload: { strategyId: ids.strategies, symbol: 'BTCUSD' },
      })
    ).json().id;
    ids.alerts = (
      await t.app.inject({
        method: 'POST',
        url: '/api/alerts',
        headers: a.auth,
        payload: { kind: 'price_above', symbol: 'BTCUSD', price: 1e9 },
      })
    ).json().id;
    ids['analytics/sessions'] = ids['forward-tests'];
    ids['forward-tests/portfolios'] = (
      await t.app.inject({
        method: 'POST',
        url: '/api/forward-tests/portfolio',
        headers: a.auth,
        payload: { strategyId: ids.strategies, symbols: ['BTCUSD', 'ETHUSD'], start: false },
      })
    ).json().id;
    ids['auth/tokens'] = (
      await t.app.inject({ method: 'POST', url: '/api/auth/tokens', headers: a.auth, payload: { name: 'script' } })
    ).json().id;
    ids.webhooks = (
      await t.app.inject({
        method: 'POST',
        url: '/api/webhooks',
        headers: a.auth,
        payload: { url: 'https://example.com/hook' },
      })
    ).json().id;
    ids['market/history/downloads'] = (
      await t.app.inject({
        method: 'POST',
        url: '/api/market/history/download',
        headers: a.auth,
        payload: { exchange: 'coinbaseexchange', market: 'BTC/USD', since: '2024-01-01' },
      })
    ).json().id;
    const sweep = await t.app.inject({
      method: 'POST',
      url: '/api/backtests/sweep',
      headers: a.auth,
      // two combinations: a sweep's overfitting figures need two finished backtests
      payload: { strategyId: ids.strategies, symbol: 'GOOG', params: { 'fast.period': [5, 10] } },
    });
    ids['backtests/sweeps'] = sweep.json().sweepId;
    const sweepIds: string[] = sweep.json().ids;
    // a walk-forward is a backtest row too; its own view needs one (a single run answers 404 there)
    walkForwardId = (
      await t.app.inject({
        method: 'POST',
        url: '/api/backtests/walk-forward',
        headers: a.auth,
        payload: { strategyId: ids.strategies, symbol: 'GOOG', params: { 'fast.period': [5] }, folds: 2 },
      })
    ).json().id;
    // a portfolio backtest likewise, over two symbols
    portfolioId = (
      await t.app.inject({
        method: 'POST',
        url: '/api/backtests/portfolio',
        headers: a.auth,
        payload: { strategyId: ids.strategies, symbols: ['GOOG', 'GOOGL'] },
      })
    ).json().id;
    // let the jobs finish so every sub-resource (trades, report...) exists for A
    for (const id of [ids.backtests, walkForwardId, portfolioId, ...sweepIds])
      for (let i = 0; i < 200; i++) {
        const s = (await t.app.inject({ url: `/api/backtests/${id}`, headers: a.auth })).json().status;
        if (s === 'done') break;
        await new Promise((r) => setTimeout(r, 50));
      }
    ids['analytics/backtests'] = ids.backtests!;
  });
  afterAll(() => t.stop());

  const VALID_BODIES: Record<string, object> = {
    'POST /api/forward-tests/:id/orders': { action: 'close' },
    'PATCH /api/forward-tests/:id/open-orders/:orderId': { price: 100 },
    'PATCH /api/forward-tests/:id': { name: 'not yours' },
    'PATCH /api/backtests/:id': { name: 'not yours' },
    'PATCH /api/backtests/sweeps/:id': { name: 'not yours' },
    'PATCH /api/forward-tests/portfolios/:id': { portfolioRisk: null },
  };

  it('covers every /api route with an :id and answers 404 to user B (and 2xx to A on reads)', async () => {
    const withId = t.routes.filter(
      (r) => r.url.startsWith('/api/') && r.url.includes(':') && r.method !== 'HEAD' && r.method !== 'OPTIONS',
    );
    expect(withId.length).toBeGreaterThan(8);
    const unmapped: string[] = [];
    for (const r of withId) {
      const m = /^\/api\/(.+?)\/:(\w+)(\/.*)?$/.exec(r.url);
      const resource = m?.[1];
      if (!m || m[2] === 'symbol' || m[2] === 'templateId') continue; // shared market data and public templates
      const id = r.url.endsWith('/walk-forward')
        ? walkForwardId
        : r.url.endsWith('/portfolio')
          ? portfolioId
          : ids[resource!];
      if (!id) {
        unmapped.push(`${r.method} ${r.url}`);
        continue;
      }
      // a second parameter (a strategy's version, a paper portfolio's verb) takes a value the owner's row has
      const url = r.url.replace(`:${m[2]}`, id).replace(':version', '1').replace(':verb', 'pause');
      const asB = await t.app.inject({
        method: r.method as 'GET',
        url,
        headers: b.auth,
        // a body its schema takes, where it needs one (an order by hand), so only the id is wrong
        ...(r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH'
          ? { payload: VALID_BODIES[`${r.method} ${r.url}`] ?? {} }
          : {}),
      });
      expect(asB.statusCode, `${r.method} ${url} as another user`).toBe(404);
      if (r.method === 'GET') {
        const asA = await t.app.inject({ url, headers: a.auth });
        expect(asA.statusCode, `${r.method} ${url} as the owner`).toBeLessThan(300);
      }
    }
    expect(unmapped, 'routes with an id that this matrix does not know yet').toEqual([]);
    // B's lists never show A's rows
    expect((await t.app.inject({ url: '/api/strategies', headers: b.auth })).json()).toEqual([]);
    expect((await t.app.inject({ url: '/api/backtests', headers: b.auth })).json()).toEqual([]);
    expect((await t.app.inject({ url: '/api/forward-tests', headers: b.auth })).json()).toEqual([]);
    expect((await t.app.inject({ url: '/api/forward-tests/portfolios', headers: b.auth })).json()).toEqual([]);
  });
});
