import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, orderText, ORDER_SIZINGS } from '../../web/orders.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { buysAbove } from '../helpers/graphs.ts';
import { until } from '../helpers/wait.ts';

// A paper session's order form (web/orders.js): the bodies it builds from what is typed, held to what the
// real API takes, and its words for what an order did, from the API's own answers.
const T0 = Date.UTC(2026, 0, 5, 12);
let t: TestApp;
let auth: { authorization: string };
let id: string;
/** the body the form sends for what was typed */
const bodyOf = (v: { action: string; sizing: string; amount: string }) => {
  const out = orderBody(v);
  if ('error' in out) throw new Error(out.error);
  return out.body;
};
const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  t = await startTestApp({});
  auth = (await t.user()).auth;
  // a strategy that never enters by itself: every fill is the form's
  const graph = buysAbove(1e12);
  const strategyId = (await call('POST', '/api/strategies', { name: 'by hand', graph })).json().id;
  id = (await call('POST', '/api/forward-tests', { strategyId, symbol: 'FORMUSD', allowShort: true })).json().id;
  const ts = T0 + 1000;
  await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'FORMUSD', 'ticks', {
    symbol: 'FORMUSD',
    ticks: [{ ts, price: 250, size: 1, bid: 249.9, ask: 250.1, seq: 1 }],
  });
  const engine = t.ctx.shared.forwardTestEngine as { quote(s: string): { ts: number } | undefined };
  await until(async () => engine.quote('FORMUSD')?.ts === ts);
});
afterAll(async () => t.stop());

describe("a paper session's order form", () => {
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
});
