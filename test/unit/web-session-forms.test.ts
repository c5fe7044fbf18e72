import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moveBody, openOrderText, orderBody, orderText, ORDER_SIZINGS, ORDER_TYPES } from '../../web/orders.js';
import { EDITABLE_LIMITS, portfolioRiskPatch, sessionPatch } from '../../web/run-settings.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { buysAbove } from '../helpers/graphs.ts';
import { until } from '../helpers/wait.ts';

// A paper session's page forms, held to the real API: the order form (web/orders.js: the bodies it builds
// from what is typed, its words for what an order did) and the name-and-limits form (sessionPatch).
const T0 = Date.UTC(2026, 0, 5, 12);
let t: TestApp;
let auth: { authorization: string };
let id: string;
/** the body the form sends for what was typed */
const bodyOf = (v: Parameters<typeof orderBody>[0]) => {
  const out = orderBody(v);
  if ('error' in out) throw new Error(out.error);
  return out.body;
};
const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  t = await startTestApp({});
  auth = (await t.user()).auth;
  // a strategy that never enters by itself: every fill is the form's
  const graph = buysAbove(1e12);
  const strategyId = (await call('POST', '/api/strategies', { name: 'by hand', graph })).json().id;
  id = (
    await call('POST', '/api/forward-tests', {
      strategyId,
      symbol: 'FORMUSD',
      allowShort: true,
      risk: { maxOrderQty: 1000, maxDrawdownPct: 40 },
    })
  ).json().id;
  const ts = T0 + 1000;
  await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'FORMUSD', 'ticks', {
    symbol: 'FORMUSD',
    ticks: [{ ts, price: 250, size: 1, bid: 249.9, ask: 250.1, seq: 1 }],
  });
  const engine = t.ctx.shared.forwardTestEngine as { quote(s: string): { ts: number } | undefined };
  await until(async () => engine.quote('FORMUSD')?.ts === ts);
});
afterAll(async () => t.stop());

describe("a paper session's page forms", () => {
  it('builds only bodies the API takes, and refuses what the API would', async () => {
    const typed: { action: string; sizing: string; amount: string }[] = [];
    for (const action of ['buy', 'sell', 'close'])
      for (const [sizing] of ORDER_SIZINGS)
        for (const amount of ['', '0', '-3', '12.5', '100', '150', 'abc', ' 7 '])
          typed.push({ action, sizing, amount });
    let sent = 0;
    for (const v of typed) {
      const out = orderBody(v);
      if ('error' in out) {
        // what the form keeps back, the API would refuse too, or it means nothing (a close of 0 %)
        expect(out.error.length).toBeGreaterThan(10);
        continue;
      }
      // the schema's verdict only: a body the form sends is never a 400 (a fill, a refusal or a no-op)
      const r = await call('POST', `/api/forward-tests/${id}/orders`, out.body);
      expect(r.statusCode, `${JSON.stringify(v)} -> ${JSON.stringify(out.body)}: ${r.body}`).not.toBe(400);
      expect([200, 201, 409, 422]).toContain(r.statusCode);
      sent++;
    }
    expect(sent).toBeGreaterThan(30);
    // what it refuses: as the API does
    for (const [v, body] of [
      [
        { action: 'buy', sizing: 'pct_equity', amount: '150' },
        { action: 'buy', sizing: 'pct_equity', amount: 150 },
      ],
      [
        { action: 'buy', sizing: 'fixed_qty', amount: '0' },
        { action: 'buy', sizing: 'fixed_qty', amount: 0 },
      ],
      [
        { action: 'close', sizing: 'all', amount: '150' },
        { action: 'close', percent: 150 },
      ],
      [
        { action: 'close', sizing: 'all', amount: '-3' },
        { action: 'close', percent: -3 },
      ],
    ] as const) {
      expect('error' in orderBody(v)).toBe(true);
      expect((await call('POST', `/api/forward-tests/${id}/orders`, body)).statusCode).toBe(400);
    }
    expect(orderBody({ action: 'close', sizing: 'units', amount: ' 40 ' })).toEqual({
      body: { action: 'close', percent: 40 },
    });
    expect(orderBody({ action: 'close', sizing: 'units', amount: '100' })).toEqual({ body: { action: 'close' } });
    expect(orderBody({ action: 'hold', sizing: 'all', amount: '' })).toEqual({ error: 'no such order: hold' });
  });

  it('says what an order did, from its fill', async () => {
    await call('POST', `/api/forward-tests/${id}/close-position`);
    const r = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '3' }),
    );
    expect(r.statusCode).toBe(201);
    const answer = r.json();
    expect(answer.trade).toMatchObject({ side: 'buy', quantity: 3, source: 'manual' });
    expect(orderText(answer)).toMatch(/^Bought 3 FORMUSD at 250\.1 \(fee 0\), .+\.$/);
    const sold = (
      await call('POST', `/api/forward-tests/${id}/orders`, bodyOf({ action: 'close', sizing: 'all', amount: '' }))
    ).json();
    expect(orderText(sold)).toMatch(/^Sold 3 FORMUSD at 249\.9 \(fee 0\), /);
    // the session's fills are the form's, each once
    const trades = (await call('GET', `/api/forward-tests/${id}/trades?order=desc&limit=2`)).json();
    expect(trades.map((x: { signalId: string }) => x.signalId)).toEqual([sold.trade.signalId, answer.trade.signalId]);
  });

  it('builds limit and stop orders the API takes, and says what rests', async () => {
    let sent = 0;
    const sentTypes = new Set<string>();
    for (const [type] of ORDER_TYPES)
      for (const price of ['', '0', '240', '260', 'x'])
        for (const trailPercent of ['', '0', '3', '60'])
          for (const validMinutes of ['', '0', '1.5', '30', '200000'])
            for (const action of ['buy', 'close']) {
              const out = orderBody({
                action,
                sizing: 'fixed_qty',
                amount: action === 'buy' ? '1' : '',
                type,
                price,
                trailPercent,
                validMinutes,
              });
              if ('error' in out) {
                expect(out.error.length).toBeGreaterThan(10);
                continue;
              }
              if (type === 'market') continue; // sent above
              const r = await call('POST', `/api/forward-tests/${id}/orders`, out.body);
              expect(r.statusCode, `${JSON.stringify(out.body)}: ${r.body}`).not.toBe(400);
              expect([200, 201, 409, 422]).toContain(r.statusCode);
              sent++;
              sentTypes.add(type);
            }
    expect(sent).toBeGreaterThan(4);
    expect([...sentTypes].sort()).toEqual(['limit', 'stop', 'trailing_stop']);
    // a market order takes no price: what is typed there is not sent
    expect(orderBody({ action: 'buy', sizing: 'all', amount: '', type: 'market', price: '10' })).toEqual({
      body: { action: 'buy', sizing: 'all' },
    });
    for (const [v, body] of [
      [
        { action: 'buy', sizing: 'all', amount: '', type: 'limit', price: '' },
        { action: 'buy', sizing: 'all', type: 'limit' },
      ],
      [
        { action: 'buy', sizing: 'all', amount: '', type: 'stop', price: '270', validMinutes: '0' },
        { action: 'buy', sizing: 'all', type: 'stop', price: 270, validMinutes: 0 },
      ],
    ] as const) {
      expect('error' in orderBody(v)).toBe(true);
      expect((await call('POST', `/api/forward-tests/${id}/orders`, body)).statusCode).toBe(400);
    }
    // what rests, in words, as placed
    for (const o of (await call('GET', `/api/forward-tests/${id}/open-orders`)).json())
      expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${o.id}`)).statusCode).toBe(204);
    const r = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '2', type: 'limit', price: '240', validMinutes: '30' }),
    );
    expect(r.statusCode).toBe(201);
    expect(orderText(r.json())).toMatch(/^Resting: buy 2 units, limit at 240, until .+\.$/);
    const [rests] = (await call('GET', `/api/forward-tests/${id}/open-orders`)).json();
    expect(openOrderText(rests)).toBe(orderText(r.json()).slice('Resting: '.length, -1));
    // moved to a price typed beside it: what the form keeps back, the API refuses too
    for (const typed of ['', 'abc', '-3', '0', '240']) expect('error' in moveBody(typed, rests), typed).toBe(true);
    for (const price of [-3, 0])
      expect((await call('PATCH', `/api/forward-tests/${id}/open-orders/${rests.id}`, { price })).statusCode).toBe(400);
    const moved = await call(
      'PATCH',
      `/api/forward-tests/${id}/open-orders/${rests.id}`,
      (moveBody(' 238.5 ', rests) as { body: object }).body,
    );
    expect(moved.statusCode).toBe(200);
    expect(openOrderText(moved.json().open)).toMatch(/^buy 2 units, limit at 238\.5, until .+ \(amended\)$/);
    expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${rests.id}`)).statusCode).toBe(204);
    // a trailing stop: in words, and moved by its trail % (its price follows)
    const trailing = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '1', type: 'trailing_stop', trailPercent: '4' }),
    );
    expect(trailing.statusCode).toBe(201);
    const low = trailing.json().open.extreme;
    expect(orderText(trailing.json())).toBe(
      `Resting: buy 1 units, trailing stop at ${Number((low * 1.04).toPrecision(8))} (4 % over the low of ${low}), until cancelled.`,
    );
    for (const typed of ['', '0', '4', '51'])
      expect('error' in moveBody(typed, trailing.json().open), typed).toBe(true);
    const retrailed = await call(
      'PATCH',
      `/api/forward-tests/${id}/open-orders/${trailing.json().open.id}`,
      (moveBody('6', trailing.json().open) as { body: object }).body,
    );
    expect(openOrderText(retrailed.json().open)).toMatch(/^buy 1 units, trailing stop at .+ \(6 % over the low of /);
    expect(retrailed.json().open.price).toBeCloseTo(low * 1.06, 9);
    expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${trailing.json().open.id}`)).statusCode).toBe(
      204,
    );
    // a bracket: typed on a buy it is sent, on a close it is kept back (the API refuses it too)
    const bracketOnClose = orderBody({ action: 'close', sizing: 'all', amount: '', stopLoss: '200' });
    expect('error' in bracketOnClose).toBe(true);
    expect((await call('POST', `/api/forward-tests/${id}/orders`, { action: 'close', stopLoss: 200 })).statusCode).toBe(
      400,
    );
    expect('error' in orderBody({ action: 'buy', sizing: 'all', amount: '', takeProfit: '-5' })).toBe(true);
    const entry = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '1', stopLoss: '200', takeProfit: ' 300 ' }),
    );
    expect(entry.statusCode).toBe(201);
    const closes = (await call('GET', `/api/forward-tests/${id}/open-orders`)).json();
    expect(closes.map(openOrderText)).toEqual([
      'close all (sell), stop at 200, a bracket, until cancelled',
      'close all (sell), limit at 300, a bracket, until cancelled',
    ]);
    for (const o of closes)
      expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${o.id}`)).statusCode).toBe(204);
    await call('POST', `/api/forward-tests/${id}/close-position`);
    // a resting entry's bracket, in words
    const r2 = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '1', type: 'limit', price: '200', takeProfit: '260' }),
    );
    expect(orderText(r2.json())).toBe('Resting: buy 1 units, limit at 200, then take profit 260, until cancelled.');
    // a trail % on a buy of another type: its bracket's trailing stop; on a close, kept back (the API
    // refuses it too)
    const r3 = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '1', type: 'limit', price: '199', trailPercent: '3' }),
    );
    expect(r3.json().open.trailingStopPercent).toBe(3);
    expect(orderText(r3.json())).toBe('Resting: buy 1 units, limit at 199, then a 3 % trailing stop, until cancelled.');
    expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${r3.json().open.id}`)).statusCode).toBe(204);
    expect('error' in orderBody({ action: 'close', sizing: 'all', amount: '', trailPercent: '3' })).toBe(true);
    // a one-cancels-the-other group: for resting orders, a name the API takes
    for (const [v, body] of [
      [
        { action: 'buy', sizing: 'all', amount: '', ocoGroup: 'g1' },
        { action: 'buy', sizing: 'all', ocoGroup: 'g1' },
      ],
      [
        { action: 'buy', sizing: 'all', amount: '', type: 'limit', price: '100', ocoGroup: 'g 1' },
        { action: 'buy', sizing: 'all', type: 'limit', price: 100, ocoGroup: 'g 1' },
      ],
    ] as const) {
      expect('error' in orderBody(v)).toBe(true);
      expect((await call('POST', `/api/forward-tests/${id}/orders`, body)).statusCode).toBe(400);
    }
    const grouped = await call(
      'POST',
      `/api/forward-tests/${id}/orders`,
      bodyOf({ action: 'buy', sizing: 'fixed_qty', amount: '1', type: 'limit', price: '150', ocoGroup: ' g1 ' }),
    );
    expect(grouped.json().open.ocoGroup).toBe('g1');
    expect(orderText(grouped.json())).toBe(
      'Resting: buy 1 units, limit at 150, one cancels the other in g1, until cancelled.',
    );
    expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${grouped.json().open.id}`)).statusCode).toBe(
      204,
    );
    expect(
      (await call('POST', `/api/forward-tests/${id}/orders`, { action: 'close', trailingStopPercent: 3 })).statusCode,
    ).toBe(400);
    expect((await call('DELETE', `/api/forward-tests/${id}/open-orders/${r2.json().open.id}`)).statusCode).toBe(204);
  });

  it("changes the session's name and limits as typed, keeping the limits the form does not offer", async () => {
    const risk = (await call('GET', `/api/forward-tests/${id}`)).json().config.risk;
    const typed = {
      name: ' Form test ',
      maxDrawdownPct: '12.5',
      maxDailyLossPct: '3',
      maxPositionPct: '',
      maxOrdersPerMinute: '20',
      resumeNextDay: 'on',
    };
    const r = await call('PATCH', `/api/forward-tests/${id}`, sessionPatch(risk, typed, true));
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ name: 'Form test' });
    expect(r.json().config.risk).toEqual({
      maxOrderQty: 1000,
      maxDrawdownPct: 12.5,
      maxDailyLossPct: 3,
      maxOrdersPerMinute: 20,
      resumeNextDay: true,
    });
    // emptied: no name, no limits the form offers; resumeNextDay goes with the daily loss
    const cleared = Object.fromEntries([
      ['name', ''],
      ['resumeNextDay', 'on'],
      ...EDITABLE_LIMITS.map(([k]) => [k, '']),
    ]);
    const again = await call('PATCH', `/api/forward-tests/${id}`, sessionPatch(r.json().config.risk, cleared, true));
    expect(again.json()).toMatchObject({ name: null, config: { risk: { maxOrderQty: 1000 } } });
    expect(again.json().config.risk).toEqual({ maxOrderQty: 1000 });
    // every field the form offers is one the API's schema takes
    for (const [k] of EDITABLE_LIMITS)
      expect((await call('PATCH', `/api/forward-tests/${id}`, sessionPatch({}, { [k]: '5' }, true))).statusCode).toBe(
        200,
      );
    // each change kept in order, the last 100: the six above, then 100 more
    const changes = async () => (await call('GET', `/api/forward-tests/${id}`)).json().config.riskChanges;
    expect((await changes()).map((c: { risk: object }) => c.risk)).toEqual([
      { maxOrderQty: 1000, maxDrawdownPct: 12.5, maxDailyLossPct: 3, maxOrdersPerMinute: 20, resumeNextDay: true },
      { maxOrderQty: 1000 },
      ...EDITABLE_LIMITS.map(([k]) => ({ [k]: 5 })),
    ]);
    for (let i = 1; i <= 100; i++) await call('PATCH', `/api/forward-tests/${id}`, { risk: { maxOrdersPerMinute: i } });
    const last = await changes();
    expect(last).toHaveLength(100);
    expect(last.map((c: { risk: { maxOrdersPerMinute: number } }) => c.risk.maxOrdersPerMinute)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // a stopped session: its name only
    await call('POST', `/api/forward-tests/${id}/stop`);
    const named = sessionPatch({}, { name: 'done', maxDrawdownPct: '5' }, false);
    expect(named).toEqual({ name: 'done' });
    expect((await call('PATCH', `/api/forward-tests/${id}`, named)).json()).toMatchObject({
      name: 'done',
      status: 'stopped',
    });
  });

  it("sets a paper portfolio's limits on the sum as typed, none when both are empty", async () => {
    const strategyId = (await call('GET', `/api/forward-tests/${id}`)).json().strategyId;
    const pf = (
      await call('POST', '/api/forward-tests/portfolio', { strategyId, symbols: ['FORMA', 'FORMB'], start: false })
    ).json();
    const url = `/api/forward-tests/portfolios/${pf.id}`;
    const set = await call(
      'PATCH',
      url,
      portfolioRiskPatch({ maxDrawdownPct: '20', maxDailyLossPct: '4', resumeNextDay: 'on' }),
    );
    expect(set.statusCode).toBe(200);
    expect(set.json().portfolioRisk).toEqual({ maxDrawdownPct: 20, maxDailyLossPct: 4, resumeNextDay: true });
    // a next day without a daily loss means nothing: left out
    expect(portfolioRiskPatch({ maxDrawdownPct: '20', maxDailyLossPct: '', resumeNextDay: 'on' })).toEqual({
      portfolioRisk: { maxDrawdownPct: 20 },
    });
    const none = await call('PATCH', url, portfolioRiskPatch({ maxDrawdownPct: ' ', maxDailyLossPct: '' }));
    expect(none.json().portfolioRisk).toBeNull();
    for (const leg of none.json().sessions)
      expect((await call('GET', `/api/forward-tests/${leg.id}`)).json().config.portfolio).not.toHaveProperty('risk');
  });
});
