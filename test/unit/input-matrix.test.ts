import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';

/**
 * Bad input, everywhere: every route of the OpenAPI document gets odd route parameters, odd query
 * values, bodies that are not JSON objects, and each of its body fields set in turn to an odd value
 * (wrong types, huge and special numbers, NUL and unpaired surrogates, long and nested values) on top
 * of a body that is otherwise valid, so the odd field reaches the code behind the schema. No answer may
 * be a 5xx, and every 4xx carries `{error:{code,message}}`. The route list comes from the app, so a new
 * route is covered as it lands.
 */
const odd: unknown[] = [
  null,
  true,
  -1,
  0,
  -0,
  1.5,
  1e308,
  -1e308,
  9007199254740993,
  '',
  'x',
  'A'.repeat(5000),
  '1e999',
  'NaN',
  '2024-13-45',
  '../../etc/passwd',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '💥',
  [],
  [1, 2],
  {},
  { a: { b: { c: [] } } },
];
const oddIds = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  "'; drop table users; --",
  'A'.repeat(3000),
  '%00',
  'a%00b',
  '%F0%9F%92%A5',
  '%ED%A0%80', // an unpaired surrogate, percent-encoded
  'null',
  '-1',
];
const notObjects = ['not json', '{"a":', '[]', 'null', '1', '"s"', '{}', '{"__proto__":{"x":1}}'];

describe('input matrix: bad input gets a 4xx with a message, never a 5xx', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  const ids: Record<string, string> = {};
  let graph: unknown;

  beforeAll(async () => {
    t = await startTestApp({
      EXCHANGE_API_URL: 'http://127.0.0.1:1', // history downloads fail at once, locally
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_ANON_PER_MINUTE: '1000000',
    });
    a = await t.user();
    await t.importGoog(a.auth);
    const s = (
      await t.app.inject({ method: 'POST', url: '/api/strategies/templates/sma-crossover', headers: a.auth })
    ).json();
    ids.strategies = s.id;
    graph = s.graph;
    const post = async (url: string, payload: object) =>
      (await t.app.inject({ method: 'POST', url, headers: a.auth, payload })).json().id as string;
    ids.backtests = await post('/api/backtests', { strategyId: s.id, symbol: 'GOOG' });
    ids['forward-tests'] = await post('/api/forward-tests', { strategyId: s.id, symbol: 'BTCUSD' });
    ids.alerts = await post('/api/alerts', { kind: 'price_above', symbol: 'BTCUSD', price: 1e9 });
    ids.webhooks = await post('/api/webhooks', { url: 'https://example.com/hook' });
    ids['auth/tokens'] = await post('/api/auth/tokens', { name: 'script' });
    ids['analytics/sessions'] = ids['forward-tests'];
    ids['analytics/backtests'] = ids.backtests;
    for (let i = 0; i < 200; i++) {
      const st = (await t.app.inject({ url: `/api/backtests/${ids.backtests}`, headers: a.auth })).json().status;
      if (st === 'done') break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }, 60_000);
  afterAll(() => t.stop());

  it('covers every route of the OpenAPI document', async () => {
    // a valid body per route that takes one, so that one odd field at a time gets past the others
    const valid: Record<string, Record<string, unknown>> = {
      'POST /api/auth/register': { email: 'matrix@x.io', password: 'password123' },
      'POST /api/auth/login': { email: 'matrix@x.io', password: 'password123' },
      'POST /api/auth/refresh': { refreshToken: a.refreshToken },
      'POST /api/auth/logout': { refreshToken: 'no-such-token' },
      'POST /api/market/history/download': { exchange: 'coinbaseexchange', market: 'BTC/USD', since: '2024-01-01' },
      'POST /api/strategies/compile': { graph },
      'POST /api/strategies/preview': { graph, symbol: 'GOOG', interval: '1d' },
      'POST /api/strategies/check': {
        graph,
        candles: [1, 2, 3].map((k) => ({ ts: k * 86_400_000, open: k, high: k, low: k, close: k })),
      },
      'POST /api/strategies/': { name: 'x', graph },
      'PUT /api/strategies/{id}': { name: 'x', graph },
      'POST /api/strategies/templates/{templateId}': { name: 'x' },
      'POST /api/forward-tests/': { strategyId: ids.strategies, symbol: 'BTCUSD' },
      'PATCH /api/forward-tests/{id}': { name: 'renamed' },
      'PATCH /api/backtests/{id}': { name: 'renamed' },
      'PATCH /api/backtests/sweeps/{id}': { name: 'renamed' },
      'POST /api/forward-tests/{id}/clone': { start: false },
      'PATCH /api/forward-tests/portfolios/{id}': { portfolioRisk: { maxDrawdownPct: 50 } },
      'POST /api/forward-tests/{id}/orders': { action: 'buy', sizing: 'pct_equity', amount: 10 },
      'PATCH /api/forward-tests/{id}/open-orders/{orderId}': { price: 100 },
      'POST /api/forward-tests/portfolio': { strategyId: ids.strategies, symbols: ['BTCUSD', 'ETHUSD'], start: false },
      'POST /api/backtests/': { strategyId: ids.strategies, symbol: 'GOOG' },
      'POST /api/backtests/sweep': { strategyId: ids.strategies, symbol: 'GOOG', params: { 'fast.period': [5] } },
      'POST /api/backtests/walk-forward': {
        strategyId: ids.strategies,
        symbol: 'GOOG',
        params: { 'fast.period': [5] },
        folds: 2,
      },
      'POST /api/backtests/portfolio': { strategyId: ids.strategies, symbols: ['GOOG', 'BTCUSD'] },
      'POST /api/alerts/': { kind: 'price_above', symbol: 'BTCUSD', price: 1e9 },
      'POST /api/auth/tokens/': { name: 'script', scope: 'read', expiresInDays: 30 },
      'POST /api/webhooks/': { url: 'https://example.com/hook', events: ['alert'], format: 'json' },
    };
    const doc = (await t.app.inject({ url: '/docs/json' })).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { in: string; name: string }[];
            requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
          }
        >
      >;
    };
    const failures: string[] = [];
    const statuses: Record<number, number> = {};
    let withBody = 0;
    const send = async (method: string, url: string, payload?: string, type = 'application/json') => {
      const r = await t.app.inject({
        method: method as 'GET',
        url,
        headers: { ...a.auth, ...(payload === undefined ? {} : { 'content-type': type }) },
        ...(payload === undefined ? {} : { payload }),
      });
      statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
      const what = `${method} ${url.slice(0, 100)} ${payload?.slice(0, 160) ?? ''} -> ${r.statusCode} ${r.body.slice(0, 200)}`;
      if (r.statusCode >= 500) failures.push(what);
      else if (r.statusCode >= 400) {
        const e = (r.json() as { error?: { code?: unknown; message?: unknown } }).error;
        if (typeof e?.code !== 'string' || typeof e.message !== 'string' || e.message.length === 0)
          failures.push(`no {error:{code,message}}: ${what}`);
      }
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const M = method.toUpperCase();
        const resource = /^\/api\/(.+?)\/\{/.exec(path)?.[1] ?? '';
        const url = path.replace(/\{(\w+)\}/g, (_m, name: string) =>
          name === 'symbol' ? 'GOOG' : name === 'templateId' ? 'sma-crossover' : (ids[resource] ?? 'none'),
        );
        if (M !== 'DELETE' && path.includes('{'))
          for (const v of oddIds)
            await send(
              M,
              path.replace(/\{(\w+)\}/g, () => v),
            );
        for (const q of (op.parameters ?? []).filter((p) => p.in === 'query')) {
          for (const v of odd) {
            const s = typeof v === 'string' ? v : JSON.stringify(v);
            await send(M, `${url}?${q.name}=${s === '\ud800' ? '%ED%A0%80' : encodeURIComponent(s)}`);
          }
          await send(M, `${url}?${q.name}=1&${q.name}=2`);
        }
        if (M !== 'POST' && M !== 'PUT' && M !== 'PATCH') continue;
        for (const raw of notObjects) await send(M, url, raw);
        const base = valid[`${M} ${path}`];
        const fields = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
        if (fields.length > 0 && !base) failures.push(`no valid body for ${M} ${path}: add one to this test`);
        if (fields.length > 0) withBody++;
        for (const f of fields) for (const v of odd) await send(M, url, JSON.stringify({ ...base, [f]: v }));
      }
    }
    expect(withBody).toBeGreaterThan(10);
    expect(statuses[400]).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
  }, 120_000);

  it('refuses text the database cannot hold with a 400 naming the field, and keeps other Unicode', async () => {
    const name = async (n: string) =>
      t.app.inject({ method: 'POST', url: '/api/strategies', headers: a.auth, payload: { name: n, graph } });
    for (const [n, message] of [
      ['a\u0000b', 'body.name: text may not contain the NUL character (U+0000)'],
      ['a\ud800b', 'body.name: text may not contain an unpaired UTF-16 surrogate'],
    ]) {
      const r = await name(n!);
      expect(r.statusCode).toBe(400);
      expect(r.json().error).toMatchObject({ code: 'VALIDATION_FAILED', message });
    }
    // in a property name, deep in the graph, in the query string
    const deep = JSON.parse(JSON.stringify(graph));
    deep.nodes[0].data = { ...deep.nodes[0].data, ['k\u0000']: 1 };
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/strategies',
      headers: a.auth,
      payload: { name: 'n', graph: deep },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toMatch(
      /^body\.graph\.nodes\.0\.data\.k\u0000: property name: text may not contain the NUL/,
    );
    // the router's own answer to a path that is not UTF-8 has the same body, and a request id
    const u = await t.app.inject({ url: '/api/strategies/%ED%A0%80', headers: a.auth });
    expect(u.statusCode).toBe(400);
    expect(u.json().error).toEqual({
      code: 'BAD_REQUEST',
      message: 'the path /api/strategies/%ED%A0%80 is not valid percent-encoded UTF-8',
    });
    expect(u.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const q = await t.app.inject({ url: '/api/market/symbols?q=a%00b', headers: a.auth });
    expect(q.statusCode).toBe(400);
    expect(q.json().error.message).toBe('querystring.q: text may not contain the NUL character (U+0000)');
    // paired surrogates (an emoji) and other scripts are text like any other, stored and read back
    const ok = await name('ß · 日本 · 💥');
    expect(ok.statusCode).toBe(201);
    const back = await t.app.inject({ url: `/api/strategies/${ok.json().id}`, headers: a.auth });
    expect(back.json().name).toBe('ß · 日本 · 💥');
  });

  it('refuses a time no date can hold', async () => {
    for (const since of [1e308, -1e308, 9007199254740992]) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/market/history/download',
        headers: a.auth,
        payload: { exchange: 'coinbaseexchange', market: 'BTC/USD', since },
      });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.message).toMatch(/^body\.since: not a time a date can hold/);
    }
    const c = await t.app.inject({ url: '/api/market/symbols/GOOG/candles?interval=1d&from=1e308', headers: a.auth });
    expect(c.statusCode).toBe(400);
  });
});
