import { candlesRepo, forwardTestsRepo, symbolsRepo } from '@algotrade/adapters';
import { TOPICS } from '@algotrade/core';
import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import {
  aboveOtherSma,
  alwaysBuying,
  buysAbove,
  exitWhen,
  gatedBy,
  graphOf,
  ladderGraph,
  withAtrRules,
} from '../../../../test/helpers/graphs.ts';
import { until } from '../../../../test/helpers/wait.ts';
import type { ForwardTestEngine } from './engine.ts';

const T0 = Date.UTC(2026, 0, 5, 12);

describe('forward testing (paper trading) on live ticks', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  let smaId: string;
  let tickNo = 0;
  const call = (u: typeof a, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  /** a wave the 10/30 SMA crossover trades on, published like the market-data feed does */
  const publishWave = async (
    symbol: string,
    n: number,
    f: (i: number) => number = (i) => 100 + 5 * Math.sin(i / 12),
  ) => {
    for (let k = 0; k < n; k += 50) {
      const ticks = [];
      for (let i = k; i < Math.min(n, k + 50); i++, tickNo++)
        ticks.push({
          ts: T0 + tickNo * 1000,
          price: f(tickNo),
          size: 1,
          bid: f(tickNo) - 0.01,
          ask: f(tickNo) + 0.01,
          seq: tickNo,
        });
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', { symbol, ticks });
    }
  };
  /**
   * A session on `symbol` whose strategy never enters by itself (every fill is an order by hand), a 0.1 %
   * fee and 1 bp of slippage, and what its tests call: an order, what rests, its trades, `at` (`n` ticks
   * at a price, each heard by the engine before the next).
   */
  const byHand = async (symbol: string) => {
    const strategyId = (await call(a, 'POST', '/api/strategies', { name: symbol, graph: buysAbove(1e12) })).json().id;
    const id: string = (
      await call(a, 'POST', '/api/forward-tests', { strategyId, symbol, feeRate: 0.001, slippageBps: 1 })
    ).json().id;
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    return {
      id,
      order: (body: object) => call(a, 'POST', `/api/forward-tests/${id}/orders`, body),
      open: async () => (await call(a, 'GET', `/api/forward-tests/${id}/open-orders`)).json(),
      trades: async () => (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json(),
      at: async (price: number, n = 1) => {
        await publishWave(symbol, n, () => price);
        await until(async () => engine.quote(symbol)?.seq === tickNo - 1);
      },
    };
  };
  const reconcile = async (id: string, u = a) => {
    const s = (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    const totals = await forwardTestsRepo(t.rt.db.db).totals(id);
    // starting balance + realised PnL - fees (- funding) = balance, from the stored trades, to the cent
    expect(Math.abs(s.startingBalance + totals.realizedPnl - totals.fees - s.funding - s.balance)).toBeLessThan(0.005);
    expect(Math.abs(s.cash + (s.position?.quantity ?? 0) * (s.position?.avgPrice ?? 0) - s.balance)).toBeLessThan(
      0.005,
    );
    expect(Math.abs(totals.qty - (s.position?.quantity ?? 0))).toBeLessThan(1e-9);
    return { s, totals };
  };

  beforeAll(async () => {
    t = await startTestApp({ FT_EQUITY_INTERVAL_MS: '100', FT_PORTFOLIO_CHECK_MS: '100' });
    a = await t.user();
    b = await t.user();
    smaId = (await call(a, 'POST', '/api/strategies/templates/sma-crossover')).json().id;
  });
  afterAll(() => t.stop());

  it('trades the SMA crossover on ticks, with fees and slippage, and the ledger reconciles', async () => {
    const r = await call(a, 'POST', '/api/forward-tests', {
      strategyId: smaId,
      symbol: 'wavusd',
      feeRate: 0.001,
      slippageBps: 2,
      // a drawdown stop the wave never reaches: its level is dashed on the chart
      risk: { maxDrawdownPct: 50 },
    });
    expect(r.statusCode).toBe(201);
    const session = r.json();
    expect(session).toMatchObject({ symbol: 'WAVUSD', status: 'running', startingBalance: 100_000, equity: 100_000 });
    await publishWave('WAVUSD', 600);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${session.id}/trades`)).json().length >= 4);
    const trades = (await call(a, 'GET', `/api/forward-tests/${session.id}/trades`)).json();
    expect(trades[0]).toMatchObject({ side: 'buy', symbol: 'WAVUSD' });
    // filled at the ask plus 2 bp of slippage; fee 0.1% of notional
    const f = trades[0];
    expect(f.fee).toBeCloseTo(f.quantity * f.price * 0.001, 6);
    expect(f.slippage).toBeGreaterThan(0);
    expect(trades.map((x: { side: string }) => x.side).slice(0, 4)).toEqual(['buy', 'sell', 'buy', 'sell']);
    // each from the action node that signalled it
    expect(trades.slice(0, 4).map((x: { source: string }) => x.source)).toEqual(['buy', 'sell', 'buy', 'sell']);
    const { s } = await reconcile(session.id);
    expect(s.trades).toBe(trades.length);
    // the same fills as CSV: a header, then one line per trade, in the same order
    const csv = (await call(a, 'GET', `/api/forward-tests/${session.id}/trades?format=csv&limit=${trades.length}`))
      .body;
    const lines = csv.trimEnd().split('\r\n');
    const head = lines[0]!.split(',');
    expect(lines).toHaveLength(trades.length + 1);
    expect(lines.slice(1).map((l) => l.split(',')[head.indexOf('side')])).toEqual(
      trades.map((x: { side: string }) => x.side),
    );
    expect(Number(lines[1]!.split(',')[head.indexOf('price')])).toBe(f.price);
    // newest first, as a long session's page reads its last fills; paged from there with offset
    const newest = (await call(a, 'GET', `/api/forward-tests/${session.id}/trades?order=desc&limit=2`)).json();
    expect(newest).toEqual(trades.slice(-2).reverse());
    const before = (await call(a, 'GET', `/api/forward-tests/${session.id}/trades?order=desc&limit=1&offset=2`)).json();
    expect(before).toEqual(trades.slice(-3, -2));
    expect((await call(a, 'GET', `/api/forward-tests/${session.id}/trades?order=newest`)).statusCode).toBe(400);
    // the equity series and the metrics from the shared statistics
    await until(async () => {
      await publishWave('WAVUSD', 5);
      await new Promise((r) => setTimeout(r, 50));
      return (await call(a, 'GET', `/api/forward-tests/${session.id}/equity`)).json().length >= 2;
    });
    const m = (await call(a, 'GET', `/api/forward-tests/${session.id}/metrics`)).json();
    expect(m.trades).toBeGreaterThanOrEqual(trades.length);
    expect(m.closedTrades).toBe(Math.floor(m.trades / 2));
    expect(m.pnl).toBeCloseTo(m.equity - 100_000, 6);
    expect(m.returnPct).toBeCloseTo(m.pnl / 1000, 6);
    expect(m.winRatePct).toBeGreaterThanOrEqual(0);
    expect(m.stats).toHaveProperty('sharpe');
    const orders = (await call(a, 'GET', `/api/forward-tests/${session.id}/orders`)).json();
    expect(orders.filter((o: { status: string }) => o.status === 'filled')).toHaveLength(trades.length);
    expect(orders[0].latencyMs).toBeGreaterThanOrEqual(0);
    // the position is the fills' sum, as of the last one, marked at the last price
    await until(async () => {
      const [pos] = (await call(a, 'GET', `/api/forward-tests/${session.id}/positions`)).json();
      const all = (await call(a, 'GET', `/api/forward-tests/${session.id}/trades`)).json();
      const qty = all.reduce(
        (q: number, x: { side: string; quantity: number }) => q + (x.side === 'buy' ? x.quantity : -x.quantity),
        0,
      );
      if (!pos || pos.updatedAt !== all.at(-1).ts) return false;
      expect(pos).toMatchObject({ symbol: 'WAVUSD', marketPrice: expect.any(Number) });
      expect(pos.quantity).toBeCloseTo(qty, 8);
      expect(pos.unrealizedPnl).toBeCloseTo(pos.quantity * (pos.marketPrice - pos.avgPrice), 6);
      return true;
    });
    // every group commit is on /metrics: as many commits as batches, at least one order each
    const prom = (await t.app.inject({ url: '/metrics' })).body;
    const count = (name: string) => Number(new RegExp(`^${name}_count (\\d+)`, 'm').exec(prom)?.[1] ?? NaN);
    expect(count('forward_test_commit_seconds')).toBeGreaterThan(0);
    expect(count('forward_test_commit_orders')).toBe(count('forward_test_commit_seconds'));
    expect(Number(/^forward_test_commit_orders_sum (\d+)/m.exec(prom)?.[1])).toBeGreaterThanOrEqual(orders.length);
    // analytics: the full report of this session and the portfolio over the user's sessions
    const an = (await call(a, 'GET', `/api/analytics/sessions/${session.id}`)).json();
    expect(an.report).toMatchObject({ returnsBasis: 'point', trades: m.closedTrades });
    expect(an.report.var95Pct).toEqual(expect.any(Number));
    expect(an.report.cvar95Pct).toBeGreaterThanOrEqual(an.report.var95Pct);
    // excursions from the prices the equity was sampled at: never in the trade's favour for the MAE
    expect(an.report.worstMaePct).toBeLessThanOrEqual(an.report.avgMaePct);
    expect(an.report.avgMaePct).toBeLessThanOrEqual(0);
    expect(an.report.bestMfePct).toBeGreaterThanOrEqual(an.report.avgMfePct);
    expect(an.report.avgMfePct).toBeGreaterThanOrEqual(0);
    // its round trips by what closed them: every long closed by the sell node's signal
    expect(an.report.exits).toEqual([expect.objectContaining({ reason: 'sell', trades: m.closedTrades })]);
    // and by what opened them: the buy node
    expect(an.report.entries).toEqual([expect.objectContaining({ reason: 'buy', trades: m.closedTrades })]);
    const pf = (await call(a, 'GET', '/api/analytics/portfolio')).json();
    expect(pf.perSession.map((x: { id: string }) => x.id)).toContain(session.id);
    expect(pf.startingBalance).toBe(100_000 * pf.sessions);
    expect((await call(b, 'GET', `/api/analytics/sessions/${session.id}`)).statusCode).toBe(404);
    expect((await call(b, 'GET', '/api/analytics/portfolio')).json()).toMatchObject({ sessions: 0, pnl: 0 });
    const html = await call(a, 'GET', `/api/forward-tests/${session.id}/equity?format=html`);
    expect(html.headers['content-type']).toContain('text/html');
    expect(html.body).toContain('<svg');
    expect(html.body).toMatch(/class="stop"><title>stop at -50%</);
  });

  it('pauses, resumes and stops (closing the position), and refuses impossible transitions', async () => {
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'PAUSEUSD' })).json().id;
    await publishWave('PAUSEUSD', 200);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json().trades >= 1);
    expect((await call(a, 'POST', `/api/forward-tests/${id}/pause`)).json().status).toBe('paused');
    const before = (await call(a, 'GET', `/api/forward-tests/${id}`)).json().trades;
    await publishWave('PAUSEUSD', 300);
    await new Promise((r) => setTimeout(r, 200));
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json().trades).toBe(before);
    expect((await call(a, 'POST', `/api/forward-tests/${id}/start`)).statusCode).toBe(409);
    expect((await call(a, 'POST', `/api/forward-tests/${id}/resume`)).json().status).toBe('running');
    // make sure a position is open, then stop: it is closed at the market
    await until(async () => {
      await publishWave('PAUSEUSD', 20);
      return (await call(a, 'GET', `/api/forward-tests/${id}`)).json().position !== null;
    });
    const running = (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    const stopped = (await call(a, 'POST', `/api/forward-tests/${id}/stop`)).json();
    expect(stopped).toMatchObject({ status: 'stopped', position: null });
    expect(Math.abs(stopped.equity - stopped.balance)).toBeLessThan(1e-6);
    // a stopped session (read from the database) shows the same figures as a running one (the engine's)
    expect(Object.keys(stopped).sort()).toEqual(Object.keys(running).sort());
    expect(stopped).toMatchObject({
      unrealizedPnl: 0,
      winRatePct: expect.any(Number),
      exposurePct: expect.any(Number),
      updatedAt: expect.any(String),
    });
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json()).toEqual(stopped);
    await reconcile(id);
    const res = await call(a, 'POST', `/api/forward-tests/${id}/resume`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/paused/);
  });

  it('closes the position when asked, through the order log, and the strategy trades on from flat', async () => {
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'CLOSEUSD' })).json().id;
    const view = async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    expect((await call(a, 'POST', `/api/forward-tests/${id}/close-position`)).statusCode).toBe(409); // flat
    await until(async () => {
      await publishWave('CLOSEUSD', 20);
      return (await view()).position !== null;
    });
    const before = await view();
    expect((await call(b, 'POST', `/api/forward-tests/${id}/close-position`)).statusCode).toBe(404);
    const closed = await call(a, 'POST', `/api/forward-tests/${id}/close-position`);
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ status: 'running', position: null, trades: before.trades + 1 });
    const orders = (await call(a, 'GET', `/api/forward-tests/${id}/orders?status=filled`)).json();
    const manual = orders.filter((o: { source: string }) => o.source === 'manual_close');
    expect(manual).toHaveLength(1);
    expect(manual[0]).toMatchObject({ action: 'close', status: 'filled' });
    const again = await call(a, 'POST', `/api/forward-tests/${id}/close-position`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toMatch(/no position/);
    await reconcile(id);
    // the strategy is flat now: its next entry opens a position again
    await until(async () => {
      await publishWave('CLOSEUSD', 20);
      return (await view()).position !== null;
    });
    await reconcile(id);
    // a paused session can be closed too; a stopped one has nothing to close
    expect((await call(a, 'POST', `/api/forward-tests/${id}/pause`)).json().status).toBe('paused');
    expect((await call(a, 'POST', `/api/forward-tests/${id}/close-position`)).json()).toMatchObject({
      status: 'paused',
      position: null,
    });
    await reconcile(id);
    await call(a, 'POST', `/api/forward-tests/${id}/stop`);
    expect((await call(a, 'POST', `/api/forward-tests/${id}/close-position`)).statusCode).toBe(409);
  });

  it('takes orders by hand: sized as an action node, once per clientOrderId, and the strategy manages them', async () => {
    // a strategy that never enters by itself, with a 5 % stop loss
    const graph = buysAbove(1e12, [['sl', 'risk.stop_loss', { percent: 5 }]]);
    const strategyId = (await call(a, 'POST', '/api/strategies', { name: 'by hand', graph })).json().id;
    const id = (
      await call(a, 'POST', '/api/forward-tests', { strategyId, symbol: 'HANDUSD', feeRate: 0.001, slippageBps: 1 })
    ).json().id;
    const order = (body: object, u = a) => call(u, 'POST', `/api/forward-tests/${id}/orders`, body);
    const view = async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    // no price yet: refused, and the order log keeps it
    const early = await order({ action: 'buy' });
    expect(early.statusCode).toBe(422);
    expect(early.json().error).toMatchObject({ code: 'UNPROCESSABLE', details: { code: 'NO_PRICE' } });
    expect(early.json().error.details.order).toMatchObject({ source: 'manual', status: 'refused', action: 'buy' });
    await publishWave('HANDUSD', 5, () => 100);
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    await until(async () => engine.quote('HANDUSD')?.price === 100);
    // the schema's rules: 400, nothing placed
    for (const bad of [
      { action: 'buy', sizing: 'fixed_qty' },
      { action: 'buy', amount: 5 },
      { action: 'buy', sizing: 'pct_equity', amount: 150 },
      { action: 'close', amount: 1 },
      { action: 'buy', percent: 50 },
      { action: 'hold' },
      { action: 'buy', clientOrderId: 'a b' },
      { action: 'buy', sizing: 'fixed_cash', amount: -1 },
    ])
      expect((await order(bad)).statusCode, JSON.stringify(bad)).toBe(400);
    expect((await order({ action: 'buy' }, b)).statusCode).toBe(404);
    expect((await view()).trades).toBe(0);
    // 10,000 of cash: at the ask (100.01) with 1 bp of slippage, its fee within the cash
    const first = await order({ action: 'buy', sizing: 'fixed_cash', amount: 10_000, clientOrderId: 'entry-1' });
    expect(first.statusCode).toBe(201);
    const placed = first.json();
    expect(placed.order).toMatchObject({ source: 'manual', status: 'filled', action: 'buy' });
    expect(placed.trade).toMatchObject({ side: 'buy', source: 'manual', signalId: placed.order.signalId });
    expect(placed.trade.price).toBeCloseTo(100.01 * 1.0001, 9);
    expect(placed.trade.quantity * placed.trade.price + placed.trade.fee).toBeCloseTo(10_000, 4);
    expect(placed.session.position.quantity).toBe(placed.trade.quantity);
    // the strategy's own stop loss now guards it
    expect(placed.session.position.stopLoss).toBeCloseTo(placed.trade.price * 0.95, 9);
    // the same clientOrderId again: the same order, not a second one
    const again = await order({ action: 'buy', sizing: 'fixed_cash', amount: 10_000, clientOrderId: 'entry-1' });
    expect(again.statusCode).toBe(200);
    expect(again.json().trade).toEqual(placed.trade);
    expect((await view()).trades).toBe(1);
    // a buy while long adds to the position: a second entry
    const added = (await order({ action: 'buy', sizing: 'fixed_qty', amount: 10 })).json();
    expect(added.trade.quantity).toBe(10);
    expect(added.session.position.quantity).toBeCloseTo(placed.trade.quantity + 10, 9);
    expect(added.session.position.entries).toBe(2);
    // half of it closed
    const half = (await order({ action: 'close', percent: 50 })).json();
    expect(half.trade.side).toBe('sell');
    expect(half.session.position.quantity).toBeCloseTo(added.session.position.quantity / 2, 6);
    await reconcile(id);
    // the price falls 6 %: the strategy's stop closes the rest
    await publishWave('HANDUSD', 3, () => 94);
    await until(async () => (await view()).position === null);
    const trades = (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json();
    expect(trades.map((x: { source: string }) => x.source)).toEqual(['manual', 'manual', 'manual', 'stop_loss']);
    await reconcile(id);
    // a sell with nothing open and shorts off is refused; a close with nothing open does nothing
    const short = await order({ action: 'sell', sizing: 'pct_equity', amount: 50 });
    expect(short.statusCode).toBe(422);
    expect(short.json().error.details.code).toBe('SHORTS_NOT_ALLOWED');
    expect((await order({ action: 'close' })).statusCode).toBe(409);
    const refused = (await call(a, 'GET', `/api/forward-tests/${id}/orders?status=refused`)).json();
    expect(refused.map((o: { source: string }) => o.source)).toEqual(['manual', 'manual']);
    // paused: orders by hand still go through; stopped: none
    await call(a, 'POST', `/api/forward-tests/${id}/pause`);
    const paused = await order({ action: 'buy', sizing: 'pct_equity', amount: 20 });
    expect(paused.statusCode).toBe(201);
    expect(paused.json().session).toMatchObject({ status: 'paused' });
    expect(paused.json().session.position.quantity * 94).toBeLessThan(0.2 * paused.json().session.equity + 100);
    await call(a, 'POST', `/api/forward-tests/${id}/stop`);
    const stopped = await order({ action: 'buy' });
    expect(stopped.statusCode).toBe(409);
    expect(stopped.json().error.message).toMatch(/stopped/);
    await reconcile(id);
  });

  it('rests limit and stop orders by hand until a tick reaches them, they lapse or are cancelled', async () => {
    const graph = buysAbove(1e12); // never enters by itself
    const strategyId = (await call(a, 'POST', '/api/strategies', { name: 'resting', graph })).json().id;
    const id = (
      await call(a, 'POST', '/api/forward-tests', {
        strategyId,
        symbol: 'RESTUSD',
        feeRate: 0.001,
        makerFeeRate: 0.0002,
        slippageBps: 1,
      })
    ).json().id;
    const order = (body: object, u = a) => call(u, 'POST', `/api/forward-tests/${id}/orders`, body);
    const view = async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    const open = async (u = a) => (await call(u, 'GET', `/api/forward-tests/${id}/open-orders`)).json();
    const trades = async () => (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json();
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    const at = async (price: number, n = 1) => {
      await publishWave('RESTUSD', n, () => price);
      await until(async () => engine.quote('RESTUSD')?.price === price && engine.quote('RESTUSD')?.seq === tickNo - 1);
    };
    // no price yet
    expect((await order({ action: 'buy', type: 'limit', price: 95 })).json().error.details.code).toBe('NO_PRICE');
    await at(100);
    // the schema's rules
    for (const bad of [
      { action: 'buy', type: 'limit' },
      { action: 'buy', price: 95 },
      { action: 'buy', validMinutes: 5 },
      { action: 'buy', type: 'limit', price: -1 },
      { action: 'buy', type: 'stop', price: 105, validMinutes: 0 },
      { action: 'buy', type: 'trailing', price: 105 },
    ])
      expect((await order(bad)).statusCode, JSON.stringify(bad)).toBe(400);
    // refused where they stand: a stop the price has passed, a short the session does not allow, a close
    // with no position
    const passed = await order({ action: 'buy', type: 'stop', price: 99 });
    expect(passed.statusCode).toBe(422);
    expect(passed.json().error.details.code).toBe('WOULD_TRIGGER');
    expect((await order({ action: 'sell', type: 'limit', price: 101 })).json().error.details.code).toBe(
      'SHORTS_NOT_ALLOWED',
    );
    expect((await order({ action: 'close', type: 'limit', price: 101 })).statusCode).toBe(409);
    // a buy limit under the market and a buy stop over it, which lapses after a minute of market time
    const dipBody = {
      action: 'buy',
      type: 'limit',
      price: 95,
      sizing: 'fixed_cash',
      amount: 5000,
      clientOrderId: 'dip',
    };
    const dip = await order(dipBody);
    expect(dip.statusCode).toBe(201);
    expect(dip.json().open).toMatchObject({ side: 'buy', type: 'limit', price: 95, clientOrderId: 'dip', until: null });
    const again = await order(dipBody);
    expect(again.statusCode).toBe(200);
    expect(again.json().open.id).toBe(dip.json().open.id);
    const breakout = await order({
      action: 'buy',
      type: 'stop',
      price: 105,
      sizing: 'fixed_qty',
      amount: 10,
      validMinutes: 1,
    });
    expect(breakout.statusCode).toBe(201);
    expect(Date.parse(breakout.json().open.until)).toBe(T0 + (tickNo - 1) * 1000 + 60_000);
    expect((await open()).map((o: { type: string }) => o.type)).toEqual(['limit', 'stop']);
    expect((await view()).openOrders).toHaveLength(2);
    // another user's: 404
    expect((await call(b, 'GET', `/api/forward-tests/${id}/open-orders`)).statusCode).toBe(404);
    expect((await call(b, 'DELETE', `/api/forward-tests/${id}/open-orders/dip`)).statusCode).toBe(404);
    // kept on the row, so a restart finds them
    expect((await forwardTestsRepo(t.rt.db.db).get(id))!.openOrders).toHaveLength(2);
    // 96 does not reach the limit (its ask is 96.01); 94.5 does: at the ask, under its price, a maker's fee
    await at(96);
    expect(await trades()).toEqual([]);
    await at(94.5);
    await until(async () => (await trades()).length === 1);
    const [bought] = await trades();
    expect(bought).toMatchObject({ side: 'buy', source: 'manual', signalId: `${id}:manual:dip`, price: 94.51 });
    expect(bought.fee).toBeCloseTo(bought.quantity * 94.51 * 0.0002, 6); // fees kept to 8 decimals
    expect((await open()).map((o: { type: string }) => o.type)).toEqual(['stop']);
    // a minute of market time later the stop, never reached, has lapsed
    await at(100, 61);
    await until(async () => (await open()).length === 0);
    expect(await trades()).toHaveLength(1);
    // a take profit by hand on half of it, and a stop under it, cancelled by its clientOrderId
    const tp = await order({ action: 'close', type: 'limit', price: 110, percent: 50 });
    expect(tp.json().open).toMatchObject({ action: 'close', side: 'sell', percent: 50 });
    await order({ action: 'close', type: 'stop', price: 90, clientOrderId: 'guard' });
    expect((await call(a, 'DELETE', `/api/forward-tests/${id}/open-orders/guard`)).statusCode).toBe(204);
    expect((await call(a, 'DELETE', `/api/forward-tests/${id}/open-orders/guard`)).statusCode).toBe(404);
    await at(111);
    await until(async () => (await trades()).length === 2);
    const sold = (await trades())[1];
    expect(sold).toMatchObject({ side: 'sell', source: 'manual', price: 110.99 }); // the bid, over its price
    expect(sold.quantity).toBeCloseTo(bought.quantity / 2, 6);
    await reconcile(id);
    // a stop fills at the market on the tick that reaches it: the bid, with slippage, a taker's fee
    await order({ action: 'close', type: 'stop', price: 100 });
    await at(99);
    await until(async () => (await trades()).length === 3);
    const stopped = (await trades())[2];
    expect(stopped.price).toBeCloseTo(98.99 * (1 - 0.0001), 9);
    expect(stopped.fee).toBeCloseTo(stopped.quantity * stopped.price * 0.001, 6);
    expect((await view()).position).toBeNull();
    // a close lapses with its position
    await order({ action: 'buy', sizing: 'fixed_qty', amount: 1 });
    await order({ action: 'close', type: 'limit', price: 150 });
    await order({ action: 'close' });
    await at(99);
    await until(async () => (await open()).length === 0);
    // paused: it rests, and nothing fills until the session resumes
    await order({ action: 'buy', type: 'limit', price: 90, sizing: 'fixed_qty', amount: 2 });
    await order({ action: 'buy', type: 'limit', price: 50, sizing: 'fixed_qty', amount: 1, validMinutes: 1 });
    await call(a, 'POST', `/api/forward-tests/${id}/pause`);
    await at(89, 61);
    expect(await trades()).toHaveLength(5);
    // one whose minute has passed in market time is no longer listed while paused
    expect((await open()).map((o: { price: number }) => o.price)).toEqual([90]);
    expect((await view()).openOrders).toHaveLength(1);
    await call(a, 'POST', `/api/forward-tests/${id}/resume`);
    await at(89);
    await until(async () => (await trades()).length === 6);
    // a stop cancels what rests
    await order({ action: 'close', type: 'limit', price: 150 });
    await call(a, 'POST', `/api/forward-tests/${id}/stop`);
    expect((await view()).openOrders).toEqual([]);
    expect((await forwardTestsRepo(t.rt.db.db).get(id))!.openOrders).toEqual([]);
    await reconcile(id);
    const orders = (await call(a, 'GET', `/api/forward-tests/${id}/orders?status=filled`)).json();
    // newest first: the stop's close of the last position, and the six orders by hand before it
    expect(orders.map((o: { source: string }) => o.source)).toEqual(['session_stop', ...Array(6).fill('manual')]);
  });

  it('brackets an order by hand: its stop and target rest against the position once it fills, the first closing it and the other lapsing', async () => {
    const { id, order, open, trades, at } = await byHand('BRACKUSD');
    await at(100);
    // a bracket on a close is not one (400); one on the wrong side of its entry is refused (422)
    expect((await order({ action: 'close', stopLoss: 90 })).statusCode).toBe(400);
    const wrong = await order({ action: 'buy', sizing: 'fixed_qty', amount: 10, stopLoss: 105 });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json().error.details.code).toBe('INVALID_BRACKET');
    expect(
      (await order({ action: 'buy', sizing: 'fixed_qty', amount: 5, type: 'limit', price: 95, takeProfit: 94 })).json()
        .error.details.code,
    ).toBe('INVALID_BRACKET');
    expect(await trades()).toEqual([]);
    // at the market now: its stop and target rest at once
    const entry = await order({ action: 'buy', sizing: 'fixed_qty', amount: 10, stopLoss: 95, takeProfit: 110 });
    expect(entry.statusCode).toBe(201);
    const parent = entry.json().order.signalId;
    expect((await open()).map((o: object) => o)).toMatchObject([
      { action: 'close', side: 'sell', type: 'stop', price: 95, parent },
      { action: 'close', side: 'sell', type: 'limit', price: 110, parent },
    ]);
    // the target fills at the bid over it; the stop lapses with the position
    await at(111);
    await until(async () => (await trades()).length === 2);
    expect((await trades())[1]).toMatchObject({ side: 'sell', quantity: 10, price: 110.99, source: 'manual' });
    await at(111);
    await until(async () => (await open()).length === 0);
    // a resting entry's bracket rests once it fills
    const rest = await order({ action: 'buy', sizing: 'fixed_qty', amount: 5, type: 'limit', price: 98, stopLoss: 96 });
    expect(rest.json().open).toMatchObject({ type: 'limit', price: 98, stopLoss: 96 });
    await at(97.5);
    await until(async () => (await open()).length === 1 && (await open())[0].type === 'stop');
    expect((await open())[0]).toMatchObject({
      action: 'close',
      side: 'sell',
      price: 96,
      parent: `${id}:manual:${rest.json().open.id}`,
    });
    expect((await trades())[2]).toMatchObject({ side: 'buy', quantity: 5, price: 97.51 });
    // the stop fills at the market under it
    await at(95);
    await until(async () => (await trades()).length === 4);
    expect((await trades())[3].price).toBeCloseTo(94.99 * (1 - 0.0001), 9);
    await until(async () => (await open()).length === 0);
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json().position).toBeNull();
    await reconcile(id);
  });

  it("amends a resting order by hand in place: a limit moved, a bracket's stop moved to break-even, its time, size and bracket", async () => {
    const { id, order, open, trades, at } = await byHand('AMENDUSD');
    const amend = (orderId: string, body: object, u = a) =>
      call(u, 'PATCH', `/api/forward-tests/${id}/open-orders/${orderId}`, body);
    await at(100);
    const placed = await order({
      action: 'buy',
      type: 'limit',
      price: 90,
      sizing: 'fixed_qty',
      amount: 4,
      clientOrderId: 'dip',
      validMinutes: 5,
      stopLoss: 85,
    });
    const first = placed.json().open;
    // the schema's rules (400), then what does not fit this order (422 with a code)
    for (const bad of [{}, { price: -1 }, { validMinutes: 0 }, { side: 'sell' }, { percent: 0 }])
      expect((await amend('dip', bad)).statusCode, JSON.stringify(bad)).toBe(400);
    for (const [bad, code] of [
      [{ percent: 50 }, 'INVALID_AMEND'],
      [{ stopLoss: 95 }, 'INVALID_BRACKET'], // over its entry at 90
      [{ price: 84 }, 'INVALID_BRACKET'], // under its stop at 85
    ] as const) {
      const r = await amend('dip', bad);
      expect(r.statusCode, JSON.stringify(bad)).toBe(422);
      expect(r.json().error.details.code).toBe(code);
    }
    // another user's, and one that does not rest: 404
    expect((await amend('dip', { price: 91 }, b)).statusCode).toBe(404);
    expect((await amend('nothing-here', { price: 91 })).statusCode).toBe(404);
    expect((await open())[0]).toEqual(first); // nothing refused changed it
    // moved up to 97 (by its clientOrderId), 6 units, good until cancelled, its stop at 95 and a target
    const moved = await amend('dip', { price: 97, amount: 6, validMinutes: null, stopLoss: 95, takeProfit: 110 });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().open).toMatchObject({
      id: first.id,
      clientOrderId: 'dip',
      price: 97,
      amount: 6,
      until: null,
      stopLoss: 95,
      takeProfit: 110,
    });
    expect(Date.parse(moved.json().open.amendedAt)).toBeGreaterThan(0);
    expect(moved.json().session.openOrders).toEqual([moved.json().open]);
    // kept on the row, so a restart finds it amended
    expect((await forwardTestsRepo(t.rt.db.db).get(id))!.openOrders).toMatchObject([{ price: 97, amount: 6 }]);
    // it fills at its new price, past its old lapse time, with its new size; its bracket rests then
    await at(98, 400);
    expect(await trades()).toEqual([]);
    await at(96.5);
    await until(async () => (await trades()).length === 1);
    expect((await trades())[0]).toMatchObject({ side: 'buy', quantity: 6, price: 96.51 });
    await until(async () => (await open()).length === 2);
    const [stop, target] = await open();
    expect(stop).toMatchObject({ type: 'stop', price: 95, parent: `${id}:manual:dip` });
    // the stop moved up near break-even (the market is at 96.5), and refused where it would trigger now; a
    // close takes no bracket
    expect((await amend(stop.id, { price: 99 })).json().error.details.code).toBe('WOULD_TRIGGER');
    expect((await amend(stop.id, { stopLoss: 90 })).json().error.details.code).toBe('INVALID_AMEND');
    expect((await amend(stop.id, { price: 96.45 })).json().open).toMatchObject({ id: stop.id, price: 96.45 });
    // the target takes half the position now
    expect((await amend(target.id, { percent: 50 })).json().open).toMatchObject({ percent: 50, price: 110 });
    await at(96.4);
    await until(async () => (await trades()).length === 2);
    expect((await trades())[1]).toMatchObject({ side: 'sell', quantity: 6 });
    expect((await trades())[1].price).toBeCloseTo(96.39 * (1 - 0.0001), 9);
    await at(96.4);
    await until(async () => (await open()).length === 0);
    // gone (filled): 404; a stopped session's: 404
    expect((await amend(stop.id, { price: 96 })).statusCode).toBe(404);
    await order({ action: 'buy', type: 'limit', price: 80, sizing: 'fixed_qty', amount: 1, clientOrderId: 'low' });
    await call(a, 'POST', `/api/forward-tests/${id}/stop`);
    expect((await amend('low', { price: 81 })).statusCode).toBe(404);
    await reconcile(id);
  });

  it('cancels the others of a one-cancels-the-other group once one triggers, also two reached by one tick', async () => {
    const { id, order, open, trades, at } = await byHand('OCOUSD');
    await at(100);
    expect((await order({ action: 'buy', sizing: 'fixed_qty', amount: 1, ocoGroup: 'x' })).statusCode).toBe(400);
    expect(
      (await order({ action: 'buy', type: 'limit', price: 95, sizing: 'fixed_qty', amount: 1, ocoGroup: 'no spaces' }))
        .statusCode,
    ).toBe(400);
    // a breakout over 105 or a dip under 95, whichever comes first; and an order of another group
    const entry = { action: 'buy', sizing: 'fixed_qty', amount: 2 } as const;
    await order({ ...entry, type: 'stop', price: 105, ocoGroup: 'either' });
    await order({ ...entry, type: 'limit', price: 95, ocoGroup: 'either' });
    await order({ ...entry, type: 'limit', price: 50, ocoGroup: 'other' });
    expect((await open()).map((o: { ocoGroup: string }) => o.ocoGroup)).toEqual(['either', 'either', 'other']);
    await at(106);
    await until(async () => (await trades()).length === 1);
    await until(async () => (await open()).length === 1);
    expect((await open())[0]).toMatchObject({ price: 50, ocoGroup: 'other' });
    await at(94); // the dip's limit is gone: nothing more fills
    expect(await trades()).toHaveLength(1);
    // two of one group reached by one tick: the first placed fills, the other is cancelled
    await order({ action: 'close', type: 'limit', price: 110, percent: 50, ocoGroup: 'out' });
    await order({ action: 'close', type: 'limit', price: 108, ocoGroup: 'out' });
    await at(111);
    await until(async () => (await trades()).length === 2);
    await until(async () => (await open()).length === 1);
    expect((await trades())[1]).toMatchObject({ side: 'sell', quantity: 1 });
    await at(111);
    expect(await trades()).toHaveLength(2);
    await reconcile(id);
  });

  it('trails a stop by hand behind the price: it moves up with each new high, never down, and closes on the pullback', async () => {
    const { id, order, open, trades, at: tickAt } = await byHand('TRAILUSD');
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    const at = async (...prices: number[]) => {
      for (const p of prices) await tickAt(p);
    };
    await at(100);
    // the schema's rules: a trailing stop takes trailPercent and no price; trailPercent is for it alone
    for (const bad of [
      { action: 'close', type: 'trailing_stop' },
      { action: 'close', type: 'trailing_stop', trailPercent: 5, price: 95 },
      { action: 'close', type: 'trailing_stop', trailPercent: 0 },
      { action: 'close', type: 'trailing_stop', trailPercent: 51 },
      { action: 'close', type: 'stop', price: 95, trailPercent: 5 },
    ])
      expect((await order(bad)).statusCode, JSON.stringify(bad)).toBe(400);
    await order({ action: 'buy', sizing: 'fixed_qty', amount: 10 });
    const placed = await order({ action: 'close', type: 'trailing_stop', trailPercent: 5, clientOrderId: 'trail' });
    expect(placed.statusCode).toBe(201);
    expect(placed.json().open).toMatchObject({ side: 'sell', type: 'trailing_stop', trailPercent: 5, extreme: 100 });
    expect(placed.json().open.price).toBeCloseTo(95, 9);
    // up to 120: it follows (the live list at once); down to 116: it stays at 114
    await at(104, 112, 120, 118, 116);
    expect((await open())[0]).toMatchObject({ extreme: 120 });
    expect((await open())[0].price).toBeCloseTo(114, 9);
    // saved on the row with the session's flush, so a restart finds it where it got to; its push says
    // where it is (the page's list follows it)
    const pushed: { openOrders: { extreme: number }[] }[] = [];
    const sub = await t.rt.bus.subscribe<{ openOrders: { extreme: number }[] }>(
      TOPICS.portfolioUpdates.name,
      { group: 'test-trailing-push' },
      (m) => {
        if (m.key === id && m.type === 'equity') pushed.push(m.data);
      },
    );
    await at(117); // a tick after the subscription, for the flush to push
    await engine.flush();
    const [kept] = (await forwardTestsRepo(t.rt.db.db).get(id))!.openOrders as { extreme: number }[];
    expect(kept!.extreme).toBe(120);
    await until(async () => pushed.length > 0);
    expect(pushed.at(-1)!.openOrders).toMatchObject([{ type: 'trailing_stop', extreme: 120, until: null }]);
    await sub.close();
    // widened to 8 %: its price from the same high
    const wider = await call(a, 'PATCH', `/api/forward-tests/${id}/open-orders/trail`, { trailPercent: 8 });
    expect(wider.json().open.price).toBeCloseTo(110.4, 9);
    expect((await call(a, 'PATCH', `/api/forward-tests/${id}/open-orders/trail`, { price: 100 })).statusCode).toBe(422);
    await at(111, 125);
    expect((await open())[0].price).toBeCloseTo(115, 9);
    expect(await trades()).toHaveLength(1);
    // the pullback through it closes the position at the market on that tick
    await at(114.9);
    await until(async () => (await trades()).length === 2);
    expect((await trades())[1]).toMatchObject({ side: 'sell', quantity: 10, source: 'manual' });
    expect((await trades())[1].price).toBeCloseTo(114.89 * (1 - 0.0001), 9);
    await until(async () => (await open()).length === 0);
    // a bracket's trailing stop: from the entry's fill price, once it fills (a close takes none: 400)
    expect((await order({ action: 'close', trailingStopPercent: 2 })).statusCode).toBe(400);
    const entry = await order({ action: 'buy', sizing: 'fixed_qty', amount: 4, trailingStopPercent: 2 });
    const filled = entry.json().trade.price;
    const [guard] = await open();
    expect(guard).toMatchObject({ type: 'trailing_stop', side: 'sell', extreme: filled, trailPercent: 2 });
    expect(guard.parent).toBe(entry.json().order.signalId);
    await at(120, 119);
    expect((await open())[0].price).toBeCloseTo(117.6, 9);
    // a resting entry carries it until it fills; amended to 3 % meanwhile
    const dip = await order({
      action: 'buy',
      sizing: 'fixed_qty',
      amount: 1,
      type: 'limit',
      price: 118,
      trailingStopPercent: 2,
    });
    expect(dip.json().open).toMatchObject({ type: 'limit', trailingStopPercent: 2 });
    const amended = await call(a, 'PATCH', `/api/forward-tests/${id}/open-orders/${dip.json().open.id}`, {
      trailingStopPercent: 3,
    });
    expect(amended.json().open.trailingStopPercent).toBe(3);
    await at(117.8);
    await until(async () => (await open()).length === 2 && (await open())[1].trailPercent === 3);
    // the first trailing stop (at 117.6) closes the whole position on 117.5; the second lapses with it
    // on a tick after that fill
    await until(async () => {
      await at(117.5);
      return (await open()).length === 0;
    });
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json().position).toBeNull();
    await reconcile(id);
  });

  it("changes a running session's name and limits: a drawdown stop tightened past the loss stops it on the next tick", async () => {
    const strategyId = (await call(a, 'POST', '/api/strategies', { name: 'long', graph: alwaysBuying() })).json().id;
    const r = await call(a, 'POST', '/api/forward-tests', {
      strategyId,
      symbol: 'LIMUSD',
      name: 'first name',
      risk: { maxDrawdownPct: 50 },
    });
    const id = r.json().id;
    const view = async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    const patch = (body: object, u = a) =>
      t.app.inject({ method: 'PATCH', url: `/api/forward-tests/${id}`, headers: u.auth, payload: body });
    // the page hears each change
    const heard: { type: string; data: { name?: string; risk?: object } }[] = [];
    const sub = await t.rt.bus.subscribe<{ name?: string; risk?: object }>(
      TOPICS.forwardTestEvents.name,
      { group: 'test-session-updated' },
      (m) => {
        if (m.key === id && m.type === 'session.updated') heard.push({ type: m.type, data: m.data });
      },
    );
    await publishWave('LIMUSD', 3, () => 100);
    await until(async () => (await view()).position !== null);
    // 3 % down: within 50 %
    await publishWave('LIMUSD', 3, () => 97);
    await until(async () => (await view()).maxDrawdownPct > 2.9);
    expect((await view()).status).toBe('running');
    // bad bodies and another user's id: nothing changes
    for (const bad of [{}, { name: '' }, { risk: { maxDrawdownPct: 0 } }, { risk: { maxDrawdownPct: 5, extra: 1 } }])
      expect((await patch(bad)).statusCode, JSON.stringify(bad)).toBe(400);
    expect((await patch({ name: 'x' }, b)).statusCode).toBe(404);
    const renamed = await patch({ name: '  renamed  ' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({
      name: 'renamed',
      status: 'running',
      config: { risk: { maxDrawdownPct: 50 } },
    });
    // tightened to 2 %: past the 3 % it has lost, so the next tick stops it and closes the position
    const tightened = (await patch({ risk: { maxDrawdownPct: 2, maxOrdersPerMinute: 100 } })).json();
    expect(tightened.config.risk).toEqual({ maxDrawdownPct: 2, maxOrdersPerMinute: 100 });
    // each change of its limits kept, with when (a name alone is not one)
    expect(tightened.config.riskChanges).toEqual([
      { at: expect.any(String), risk: { maxDrawdownPct: 2, maxOrdersPerMinute: 100 } },
    ]);
    expect(Date.parse(tightened.config.riskChanges[0].at)).toBeGreaterThan(Date.now() - 60_000);
    expect(tightened.name).toBe('renamed');
    await publishWave('LIMUSD', 1, () => 97);
    await until(async () => (await view()).status === 'stopped');
    const stopped = await view();
    expect(stopped).toMatchObject({
      position: null,
      failureReason: expect.stringMatching(/^risk limit: max_drawdown/),
    });
    const fills = (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json();
    expect(fills.at(-1)).toMatchObject({ side: 'sell', source: 'max_drawdown' });
    const events = (await call(a, 'GET', `/api/forward-tests/${id}/events`)).json();
    expect(events.at(-1)).toMatchObject({ status: 'stopped', was: 'running', reason: stopped.failureReason });
    await reconcile(id);
    // stopped: its limits are over, its name can still change
    expect((await patch({ risk: { maxDrawdownPct: 10 } })).statusCode).toBe(409);
    expect((await patch({ name: null })).json()).toMatchObject({ name: null, status: 'stopped' });
    await until(() => heard.length === 3);
    expect(heard.map((e) => e.data)).toMatchObject([
      { name: 'renamed' },
      { risk: { maxDrawdownPct: 2, maxOrdersPerMinute: 100 } },
      { name: null },
    ]);
    await sub.close();
  });

  it('runs a session again: the same graph and settings as a new session, whatever the strategy became since', async () => {
    const strategy = (await call(a, 'POST', '/api/strategies', { name: 'again', graph: alwaysBuying() })).json();
    const first = (
      await call(a, 'POST', '/api/forward-tests', {
        strategyId: strategy.id,
        symbol: 'AGAINUSD',
        name: 'first run',
        feeRate: 0.002,
        risk: { maxDrawdownPct: 30 },
      })
    ).json();
    await publishWave('AGAINUSD', 3, () => 100);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${first.id}`)).json().trades === 1);
    await call(a, 'POST', `/api/forward-tests/${first.id}/stop`);
    // the strategy changed since: it never buys now
    const edited = await t.app.inject({
      method: 'PUT',
      url: `/api/strategies/${strategy.id}`,
      headers: a.auth,
      payload: { graph: buysAbove(1e12) },
    });
    expect(edited.json().version).toBe(strategy.version + 1);
    expect((await call(b, 'POST', `/api/forward-tests/${first.id}/clone`, {})).statusCode).toBe(404);
    expect((await call(a, 'POST', `/api/forward-tests/${first.id}/clone`, { symbol: 'X' })).statusCode).toBe(400);
    const again = await call(a, 'POST', `/api/forward-tests/${first.id}/clone`, { startingBalance: 50_000 });
    expect(again.statusCode).toBe(201);
    const s = again.json();
    expect(s).toMatchObject({
      status: 'running',
      symbol: 'AGAINUSD',
      name: 'first run (again)',
      startingBalance: 50_000,
    });
    const { name: _n, startingBalance: _b, ...same } = first.config;
    expect(s.config).toEqual({ ...same, name: 'first run (again)', startingBalance: 50_000, clonedFrom: first.id });
    // it trades the graph the first one did (it buys), not the strategy's latest (which never would)
    await publishWave('AGAINUSD', 3, () => 100);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${s.id}`)).json().trades === 1);
    expect((await call(a, 'GET', `/api/forward-tests/${s.id}`)).json().config.strategyVersion).toBe(strategy.version);
    await reconcile(s.id);
    // not started when asked, named as given
    const later = (
      await call(a, 'POST', `/api/forward-tests/${first.id}/clone`, { start: false, name: 'later' })
    ).json();
    expect(later).toMatchObject({ status: 'created', name: 'later' });
  });

  it('warms a strategy reading a higher timeframe on the stored candles before the window, ticks or candles', async () => {
    // buy once the daily SMA(2) is defined: two completed days, far more than a window holds
    const graph = graphOf(
      [
        ['day', 'timeframe.bar', { timeframe: '1d' }],
        ['sma', 'indicator.sma', { period: 2 }],
        ['zero', 'constant', { value: 0 }],
        ['up', 'logic.greater'],
        ['buy', 'action.buy'],
      ],
      [
        ['day', 'close', 'sma', 'value'],
        ['sma', 'value', 'up', 'a'],
        ['zero', 'value', 'up', 'b'],
        ['up', 'value', 'buy', 'trigger'],
      ],
    );
    const created = (await call(a, 'POST', '/api/strategies', { name: 'daily warm-up', graph })).json();
    expect(created.compilationReport).toMatchObject({ ok: true, warmupSeconds: 2 * 86_400 });
    // three days of stored one-minute candles up to the midnight before the ticks (HTFUSD only)
    const day = 86_400_000;
    const start = Math.floor(T0 / day) * day - 3 * day;
    await symbolsRepo(t.rt.db.db).upsert({
      symbol: 'HTFUSD',
      provider: 'csv',
      assetClass: 'crypto',
      base: 'HTF',
      quote: 'USD',
      active: true,
    });
    await candlesRepo(t.rt.db.db).upsert('HTFUSD', '1m', generateCandles(3 * 1440, 11, start, 60_000));
    await publishWave('HTFUSD', 2);
    await publishWave('HTFNONE', 2);
    await until(async () => (await t.rt.windows.latest('HTFNONE', 1)).length > 0);
    const open = async (symbol: string, evaluation?: object) =>
      (
        await call(a, 'POST', '/api/forward-tests', {
          strategyId: created.id,
          symbol,
          ...(evaluation ? { evaluation } : {}),
        })
      ).json().id as string;
    const ticks = await open('HTFUSD');
    const candles = await open('HTFUSD', { mode: 'candle', interval: '1m' });
    const none = await open('HTFNONE');
    const view = async (id: string) => (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
    // ticks: the first live tick completes the day before; candles: the first minute's close
    await until(async () => {
      await publishWave('HTFUSD', 20);
      await publishWave('HTFNONE', 20);
      return (await view(ticks)).position !== null && (await view(candles)).position !== null;
    });
    const first = (await call(a, 'GET', `/api/forward-tests/${ticks}/trades`)).json()[0];
    expect(first).toMatchObject({ side: 'buy' });
    expect(new Date(first.timestamp ?? first.ts).getTime()).toBeLessThan(T0 + tickNo * 1000);
    // without stored candles the same strategy has to wait two live days
    expect((await view(none)).position).toBeNull();
    expect((await view(none)).trades).toBe(0);
  });

  it("trades a strategy reading another symbol on both symbols' live ticks, warmed on both windows", async () => {
    // buy when PAIRA's close is above the SMA(3) of PAIRB's close, sell when below
    const graph = aboveOtherSma('PAIRB');
    const strat = (await call(a, 'POST', '/api/strategies', { name: 'A over B', graph })).json();
    let n = 0;
    const tick = (symbol: string, ...prices: number[]) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
        symbol,
        ticks: prices.map((price) => ({ ts: T0 + 86_400_000 + ++n * 1000, price, size: 1, seq: n })),
      });
    // the windows before the session: B at 50, then A at 40 (below: the warm-up would not buy anyway)
    await tick('PAIRB', 50, 50, 50);
    await tick('PAIRA', 40, 40, 40);
    await until(async () => (await t.rt.windows.latest('PAIRA', 3)).length === 3);
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: strat.id, symbol: 'PAIRA' })).json().id;
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${id}`)).json().status === 'running');
    await new Promise((r) => setTimeout(r, 200)); // its warm-up
    const trades = async () => (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json();
    // the first live tick of A buys: B's SMA(3) is 50 from the warm-up (without it, undefined for 3 ticks)
    await tick('PAIRA', 60);
    await until(async () => (await trades()).length === 1);
    // B's live ticks move its SMA: A at 70 is above (50, 50, 100), A at 80 below (50, 100, 100)
    await tick('PAIRB', 100, 100, 100);
    await new Promise((r) => setTimeout(r, 100));
    await tick('PAIRA', 70);
    await new Promise((r) => setTimeout(r, 100));
    await tick('PAIRA', 80);
    await until(async () => (await trades()).length === 2);
    const [buy, sell] = await trades();
    expect(buy).toMatchObject({ side: 'buy' });
    expect(buy.price).toBeCloseTo(60, 0);
    expect(sell).toMatchObject({ side: 'sell' });
    expect(sell.price).toBeCloseTo(80, 0);
    await reconcile(id);
  });

  it('marks a position as its session view does, whether the engine holds the session or not', async () => {
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'MARKUSD' })).json().id;
    await until(async () => {
      await publishWave('MARKUSD', 20);
      return (await call(a, 'GET', `/api/forward-tests/${id}`)).json().position !== null;
    });
    expect((await call(a, 'POST', `/api/forward-tests/${id}/pause`)).json().status).toBe('paused');
    const same = async () => {
      const view = (await call(a, 'GET', `/api/forward-tests/${id}`)).json();
      const [pos] = (await call(a, 'GET', `/api/forward-tests/${id}/positions`)).json();
      expect(pos.quantity).toBe(view.position.quantity);
      expect(pos.marketPrice).toBe(view.position.marketPrice);
      expect(pos.unrealizedPnl).toBeCloseTo(view.position.unrealizedPnl, 9);
      return view.position.marketPrice as number;
    };
    const held = await same();
    // the engine lets go of it, as a restart does with paused sessions (it loads the running ones), and
    // the market moves on without it
    const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
    await engine.remove(id);
    await publishWave('MARKUSD', 7);
    await until(async () => engine.quote('MARKUSD')?.price !== held);
    expect(await same()).toBe(held);
  });

  it('records refused orders with their reason and enforces the drawdown limit', async () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 1_000_000 };
    const greedy = (await call(a, 'POST', '/api/strategies', { name: 'too big', graph: g })).json().id;
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: greedy, symbol: 'REFUSD' })).json().id;
    await publishWave('REFUSD', 300);
    await until(async () =>
      (await call(a, 'GET', `/api/forward-tests/${id}/orders?status=refused`))
        .json()
        .some((o: { action: string }) => o.action === 'buy'),
    );
    // refusals of one batch share its quote's time: look for the buy among them (sells are refused too, flat)
    const refused = (await call(a, 'GET', `/api/forward-tests/${id}/orders?status=refused`))
      .json()
      .find((o: { action: string }) => o.action === 'buy');
    expect(refused).toMatchObject({ action: 'buy', source: 'buy', status: 'refused' });
    expect(refused.reason).toMatch(/needs .* but .* is available/);
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json()).toMatchObject({ trades: 0, cash: 100_000 });

    // a crash after the entry breaches a 1% drawdown limit: the position is closed and the session stops
    const dd = (
      await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'DDUSD', risk: { maxDrawdownPct: 1 } })
    ).json().id;
    await until(async () => {
      await publishWave('DDUSD', 20);
      return (await call(a, 'GET', `/api/forward-tests/${dd}`)).json().position !== null;
    });
    await publishWave('DDUSD', 5, () => 50);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${dd}`)).json().status === 'stopped');
    const s = (await call(a, 'GET', `/api/forward-tests/${dd}`)).json();
    expect(s).toMatchObject({ status: 'stopped', position: null, failureReason: 'risk limit: max_drawdown' });
    const orders = (await call(a, 'GET', `/api/forward-tests/${dd}/orders`)).json();
    expect(orders[0]).toMatchObject({ source: 'max_drawdown', status: 'filled', action: 'close' });
    const closed = (await call(a, 'GET', `/api/forward-tests/${dd}/trades`)).json();
    expect(closed.map((x: { source: string }) => x.source)).toEqual(['buy', 'max_drawdown']);
    await reconcile(dd);
  });

  it('a time exit closes a position held its minutes; a cooldown refuses the entries after it, logging the first', async () => {
    // long while the close is above its SMA(10): the buy node fires on every tick above it, so after an
    // exit in an up phase the strategy asks to enter again at once, tick after tick
    const graph = graphOf(
      [
        ['close', 'price.close'],
        ['sma', 'indicator.sma', { period: 10 }],
        ['above', 'logic.greater'],
        ['buy', 'action.buy'],
        ['hold', 'risk.time_exit', { minutes: 0.25 }],
        ['cool', 'risk.cooldown', { minutes: 0.5, after: 'any' }],
      ],
      [
        ['close', 'value', 'sma', 'value'],
        ['close', 'value', 'above', 'a'],
        ['sma', 'value', 'above', 'b'],
        ['above', 'value', 'buy', 'trigger'],
      ],
    );
    const strat = (await call(a, 'POST', '/api/strategies', { name: 'hold 15 s, cool 30 s', graph })).json();
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: strat.id, symbol: 'COOLUSD' })).json().id;
    // ticks a second apart: a wave of about 75 s, above its SMA for about half of it
    const orders = async () => ((await call(a, 'GET', `/api/forward-tests/${id}/orders`)).json() as Order[]).reverse();
    type Order = {
      signalId: string;
      action: string;
      source: string;
      status: string;
      reason: string | null;
      ts: string;
    };
    await until(async () => {
      await publishWave('COOLUSD', 10);
      return (await orders()).filter((o) => o.source === 'time_exit').length >= 4;
    }, 20_000);
    const all = await orders();
    const ms = (o: Order) => Date.parse(o.ts);
    const fills = all.filter((o) => o.status === 'filled');
    expect(fills.map((o) => o.source).slice(0, 6)).toEqual([
      'buy',
      'time_exit',
      'buy',
      'time_exit',
      'buy',
      'time_exit',
    ]);
    for (let k = 1; k < fills.length; k++) {
      const [prev, o] = [fills[k - 1]!, fills[k]!];
      // held 15 s from its entry's fill: signalled on the first tick that late (ticks a second apart; the
      // signal's id carries its tick's time), filled at the quote when it executed
      const tickTs = Number(o.signalId.split(':')[1]);
      if (o.source === 'time_exit') expect(tickTs - ms(prev)).toBeGreaterThanOrEqual(15_000);
      if (o.source === 'time_exit') expect(tickTs - ms(prev)).toBeLessThan(16_000);
      // no entry within 30 s of the exit before it
      if (o.source === 'buy') expect(ms(o) - ms(prev)).toBeGreaterThanOrEqual(30_000);
    }
    // the entries asked for in a cooldown: the first refused and logged, the rest not sent (one asked
    // while the exit was still executing is refused and logged too: at most two a cooldown)
    const refused = all.filter((o) => o.status === 'refused');
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const r of refused) {
      expect(r).toMatchObject({
        action: 'buy',
        source: 'buy',
        reason: expect.stringMatching(/^cooldown: no new position before /),
      });
      const exit = fills.filter((o) => ms(o) <= ms(r)).at(-1)!;
      expect(exit.source).toBe('time_exit');
      expect(ms(r) - ms(exit)).toBeLessThan(30_000);
      expect(refused.filter((x) => fills.filter((o) => ms(o) <= ms(x)).at(-1) === exit).length).toBeLessThanOrEqual(2);
    }
    await reconcile(id);
    // closes went out once per position, whatever the ticks between the signal and its fill
    expect(all.filter((o) => o.status === 'noop')).toEqual([]);
    // the risk report names the rule that closed them
    const an = (await call(a, 'GET', `/api/analytics/sessions/${id}`)).json();
    expect(an.report.exits[0]).toMatchObject({ reason: 'time_exit' });
  });

  /** always long: buys whenever flat (close above 0), never sells, so only a rule closes it */
  const alwaysLong = alwaysBuying();

  it('trades with leverage: positions worth 10x their margin, liquidated at the first tick past the price', async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'always long', graph: alwaysLong })).json();
    const body = { strategyId: strat.id, symbol: 'LEVUSD', startingBalance: 10_000, feeRate: 0.001, leverage: 10 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    await until(async () => {
      await publishWave('LEVUSD', 2, () => 100);
      return (await view()).position !== null;
    });
    const open = await view();
    expect(open.config).toMatchObject({ leverage: 10, maintenanceMarginPct: 0.5 });
    const { quantity, avgPrice } = open.position;
    // all of the equity locked as margin (and the fee paid on the whole value): worth ten times it
    const value = quantity * avgPrice;
    expect(value / 10 + value * 0.001).toBeLessThanOrEqual(10_000);
    expect(value / 10 + value * 0.001).toBeGreaterThan(9_999.99);
    // liquidation at avg × 0.9 / 0.995, as the view says: a fall to 92 % of the entry does not reach it, 90.3 % does
    const liq = (avgPrice * 0.9) / 0.995;
    expect(open.position.liquidationPrice).toBeCloseTo(liq, 8);
    await publishWave('LEVUSD', 3, () => avgPrice * 0.92);
    expect((await view()).position).not.toBeNull();
    const at = avgPrice * 0.903;
    expect(at).toBeLessThan(liq);
    await publishWave('LEVUSD', 1, () => at);
    const trades = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    await until(async () => (await trades()).some((x: { source: string }) => x.source === 'liquidation'));
    const fill = (await trades()).find((x: { source: string }) => x.source === 'liquidation');
    // at that tick's price exactly: no slippage, not at the bid
    expect(fill).toMatchObject({ side: 'sell', quantity });
    expect(fill.price).toBeCloseTo(at, 8);
    expect(fill.realizedPnl).toBeCloseTo(-quantity * (avgPrice - at), 6);
    // it lost most of its margin: less than all of it, more than all but the maintenance margin
    const loss = quantity * (avgPrice - at);
    expect(loss).toBeLessThan(value / 10);
    expect(value / 10 - loss).toBeLessThan(0.005 * quantity * at);
    await reconcile(id, u);
    const report = async () => (await call(u, 'GET', `/api/analytics/sessions/${id}`)).json().report;
    await until(async () => {
      await publishWave('LEVUSD', 1, () => at);
      return (await report()) !== null;
    });
    expect((await report()).exits).toContainEqual(expect.objectContaining({ reason: 'liquidation' }));

    // settings that would liquidate every position as it opens are refused, by name
    const bad = await call(u, 'POST', '/api/forward-tests', { ...body, leverage: 50, maintenanceMarginPct: 2 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/maintenance margin of 2 % is not below the initial margin of 2 %/);
    expect((await call(u, 'POST', '/api/forward-tests', { ...body, leverage: 200 })).statusCode).toBe(400);
    expect((await call(u, 'POST', '/api/forward-tests', { ...body, leverage: 0.5 })).statusCode).toBe(400);
  });

  it('adds to a position up to maxEntries and closes parts of it on live ticks; the money reconciles', async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    // below 95: buy 10 units, up to three entries; from 110 to 120: close half; above 125: close the rest
    const ladder = ladderGraph({
      dipBelow: 95,
      band: [110, 120],
      exitAbove: 125,
      buy: { sizing: 'fixed_qty', amount: 10, maxEntries: 3 },
      trimPct: 50,
    });
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'ladder', graph: ladder })).json();
    const body = { strategyId: strat.id, symbol: 'DCAUSD', startingBalance: 10_000, feeRate: 0.001 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    /** one tick at a price, then (when it should fill) until its fill is in */
    const tick = async (price: number, fillsAfter?: number) => {
      await publishWave('DCAUSD', 1, () => price);
      if (fillsAfter !== undefined) await until(async () => (await fills()).length >= fillsAfter);
    };
    await tick(100);
    await tick(94, 1);
    await tick(93, 2);
    await tick(92, 3);
    // a fourth dip is not an order: the action allows three entries
    await tick(91);
    await tick(100);
    let s = await view();
    expect(s.position.quantity).toBeCloseTo(30, 9);
    expect(s.position.entries).toBe(3);
    // the average of the three entries, at the asks (the price plus 0.01)
    expect(s.position.avgPrice).toBeCloseTo((94.01 + 93.01 + 92.01) / 3, 8);
    await tick(115, 4);
    await tick(100);
    await tick(116, 5);
    await tick(130, 6);
    const f = await fills();
    expect(f).toHaveLength(6);
    expect(f.map((x: { side: string; source: string }) => `${x.side} ${x.source}`)).toEqual([
      'buy dip',
      'buy dip',
      'buy dip',
      'sell trim',
      'sell trim',
      'sell out',
    ]);
    // half of 30, half of the 15 left, then the rest, at the bids (the price less 0.01)
    expect(f.slice(3).map((x: { quantity: number }) => x.quantity)).toEqual([15, 7.5, 7.5]);
    const avg = (94.01 + 93.01 + 92.01) / 3;
    [114.99, 115.99, 129.99].forEach((bid, k) => {
      expect(f[3 + k].price).toBeCloseTo(bid, 8);
      expect(f[3 + k].realizedPnl).toBeCloseTo(f[3 + k].quantity * (bid - avg), 6);
    });
    s = await view();
    expect(s.position).toBeNull();
    const { totals } = await reconcile(id, u);
    expect(totals.trades).toBe(6);
    // the risk report's round trips: two partial exits and the last, each with its share of the fees
    const report = async () => (await call(u, 'GET', `/api/analytics/sessions/${id}`)).json().report;
    await until(async () => {
      await publishWave('DCAUSD', 1, () => 100);
      return (await report()) !== null;
    });
    const r = await report();
    expect(Object.fromEntries(r.exits.map((e: { reason: string; trades: number }) => [e.reason, e.trades]))).toEqual({
      trim: 2,
      out: 1,
    });
    const fees = f.reduce((a: number, x: { fee: number }) => a + x.fee, 0);
    const pnl = f.reduce((a: number, x: { realizedPnl: number }) => a + x.realizedPnl, 0) - fees;
    expect(r.exits.reduce((a: number, e: { pnl: number }) => a + e.pnl, 0)).toBeCloseTo(pnl, 6);
  });

  it('rests limit orders: filled at their level, without slippage, on the tick that reaches it', async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    // always long, by a limit buy 1 % under the price at each tick (each tick's signal replaces the last)
    const graph = structuredClone(alwaysLong);
    graph.nodes.find((n) => n.type === 'action.buy')!.data = { orderType: 'limit', offsetPct: 1 };
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'limit buyer', graph })).json();
    const body = { strategyId: strat.id, symbol: 'LIMUSD', startingBalance: 10_000, feeRate: 0.001, slippageBps: 5 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    await publishWave('LIMUSD', 1, () => 100);
    await publishWave('LIMUSD', 1, () => 99.5);
    // the view shows the order resting from 99.5's signal, 1 % under it, for a minute
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    await until(async () => Math.abs(((await view()).restingOrder?.level ?? 0) - 98.505) < 1e-9);
    const resting = (await view()).restingOrder;
    expect(resting).toMatchObject({ nodeId: 'buy', action: 'buy', orderType: 'limit' });
    expect(Date.parse(resting.until) - Date.parse((await view()).updatedAt)).toBe(60_000);
    // 99.5 is not 1 % under 100; 98 is under 99.5's 98.505: filled there
    await publishWave('LIMUSD', 1, () => 98);
    await until(async () => (await fills()).length >= 1);
    const [f] = await fills();
    expect(f).toMatchObject({ side: 'buy', source: 'buy', slippage: 0 });
    expect(f.price).toBeCloseTo(99.5 * 0.99, 10);
    // filled, the order rests no more: the strategy's buy on the filling tick, after the fill, finds the
    // session long (no second entry), and so do the buys after it
    expect((await view()).restingOrder).toBeNull();
    await publishWave('LIMUSD', 1, () => 97);
    await until(async () => (await view()).position?.marketPrice === 97);
    expect((await view()).restingOrder).toBeNull();
    expect(f.quantity * f.price + f.fee).toBeLessThanOrEqual(10_000);
    expect(f.quantity * f.price + f.fee).toBeGreaterThan(9_999.99);
    await reconcile(id, u);
  });

  it("takes the strategy's action on the tick that fills a resting order, after the fill", async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    // a limit buy 1 % under the price while it is above 99; a close below 98.5
    const graph = graphOf(
      [
        ['c', 'price.close'],
        ['k99', 'constant', { value: 99 }],
        ['k985', 'constant', { value: 98.5 }],
        ['up', 'logic.greater'],
        ['down', 'logic.less'],
        ['buy', 'action.buy', { orderType: 'limit', offsetPct: 1 }],
        ['exit', 'action.close'],
      ],
      [
        ['c', 'value', 'up', 'a'],
        ['k99', 'value', 'up', 'b'],
        ['c', 'value', 'down', 'a'],
        ['k985', 'value', 'down', 'b'],
        ['up', 'value', 'buy', 'trigger'],
        ['down', 'value', 'exit', 'trigger'],
      ],
    );
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'limit in, out below', graph })).json();
    const body = { strategyId: strat.id, symbol: 'TWOUSD', startingBalance: 10_000 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    await publishWave('TWOUSD', 1, () => 100);
    await publishWave('TWOUSD', 1, () => 99.5);
    // 98 fills the buy resting at 98.505, and on that tick the close fires: both, in that order
    await publishWave('TWOUSD', 1, () => 98);
    await until(async () => (await fills()).length >= 2);
    const f = await fills();
    expect(f.map((x: { side: string; source: string }) => `${x.side} ${x.source}`)).toEqual(['buy buy', 'sell exit']);
    expect(f[0].price).toBeCloseTo(98.505, 10);
    expect(f[1].price).toBeCloseTo(97.99, 10); // at the bid
    expect(f[1].quantity).toBe(f[0].quantity);
    await reconcile(id, u);
  });

  it('takes a partial profit once a position: its share at the target, the rest left running', async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    const graph = structuredClone(alwaysLong);
    graph.nodes.push({
      id: 'tp',
      type: 'risk.take_profit',
      data: { percent: 5, sharePct: 50 },
      position: { x: 0, y: 0 },
    });
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'half at 5 %', graph })).json();
    const body = { strategyId: strat.id, symbol: 'TPUSD', startingBalance: 10_000 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    await publishWave('TPUSD', 1, () => 100);
    await until(async () => (await fills()).length >= 1);
    const [entry] = await fills();
    await publishWave('TPUSD', 1, () => 106);
    await until(async () => (await fills()).length >= 2);
    // further ticks beyond the target take nothing more
    for (const p of [107, 108, 110]) await publishWave('TPUSD', 1, () => p);
    await until(async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json().position?.marketPrice === 110);
    const f = await fills();
    expect(f).toHaveLength(2);
    expect(f[1]).toMatchObject({
      side: 'sell',
      source: 'take_profit',
      quantity: Math.floor(entry.quantity * 50e6) / 1e8,
    });
    const { s } = await reconcile(id, u);
    expect(s.position.quantity).toBeCloseTo(entry.quantity - f[1].quantity, 9);
  });

  it("scales out on a take-profit ladder: each step's share at its level, the rest left running, the money reconciled", async () => {
    const u = await t.user();
    const graph = structuredClone(alwaysLong);
    const data = { pct1: 2, share1: 40, pct2: 4, share2: 30, share3: 0 };
    graph.nodes.push({ id: 'lad', type: 'risk.take_profit_ladder', data, position: { x: 0, y: 0 } });
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'ladder', graph })).json();
    const body = { strategyId: strat.id, symbol: 'LADUSD', startingBalance: 10_000, feeRate: 0.001 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    await publishWave('LADUSD', 1, () => 100);
    await until(async () => (await fills()).length >= 1);
    const [entry] = await fills();
    expect((await view()).position.takeProfit).toBeCloseTo(entry.price * 1.02, 9);
    await publishWave('LADUSD', 1, () => 103);
    await until(async () => (await fills()).length >= 2);
    // the view shows the next step
    await until(async () => (await view()).position.takeProfit !== null);
    expect((await view()).position.takeProfit).toBeCloseTo(entry.price * 1.04, 9);
    expect((await view()).position.targetsTaken).toBe(1);
    await publishWave('LADUSD', 1, () => 105);
    await until(async () => (await fills()).length >= 3);
    // both steps taken: further ticks beyond them take nothing more
    for (const p of [107, 110]) await publishWave('LADUSD', 1, () => p);
    await until(async () => (await view()).position?.marketPrice === 110);
    const f = await fills();
    expect(f.map((x: { side: string; source: string }) => `${x.side} ${x.source}`)).toEqual([
      'buy buy',
      'sell take_profit',
      'sell take_profit',
    ]);
    // 40 % of the position, then 30 % of it (half of the 60 % left), rounded down to 1e-8
    const q1 = Math.floor(entry.quantity * 40e6) / 1e8;
    expect(f[1].quantity).toBe(q1);
    expect(f[2].quantity).toBe(Math.floor((entry.quantity - q1) * 50e6) / 1e8);
    const { s } = await reconcile(id, u);
    expect(s.position.quantity).toBeCloseTo(entry.quantity - f[1].quantity - f[2].quantity, 9);
    expect(s.position.takeProfit).toBeNull();
    expect(s.position.targetsTaken).toBe(2);
  });

  it("passes a ladder's step whose share is under one unit, as a backtest does: the next step closes the position", async () => {
    const u = await t.user();
    // one whole unit: half of it is nothing to sell
    const graph = alwaysBuying({ sizing: 'fixed_qty', amount: 1 });
    const data = { pct1: 2, share1: 50, pct2: 4, share2: 50, share3: 0 };
    graph.nodes.push({ id: 'lad', type: 'risk.take_profit_ladder', data, position: { x: 0, y: 0 } });
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'one unit, two steps', graph })).json();
    const body = { strategyId: strat.id, symbol: 'UNITUSD', startingBalance: 10_000, wholeUnits: true };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    await publishWave('UNITUSD', 1, () => 100);
    await until(async () => (await fills()).length >= 1);
    const [entry] = await fills();
    // past the first step: nothing closed, the step passed (its order logged as a no-op)
    await publishWave('UNITUSD', 1, () => 103);
    await until(async () => (await view()).position?.targetsTaken === 1);
    const noop = (await call(u, 'GET', `/api/forward-tests/${id}/orders?status=noop`)).json();
    expect(noop).toEqual([
      expect.objectContaining({ source: 'take_profit', reason: expect.stringMatching(/under one unit/) }),
    ]);
    expect((await view()).position.takeProfit).toBeCloseTo(entry.price * 1.04, 9);
    // past the second: the whole unit leaves there
    await publishWave('UNITUSD', 1, () => 105);
    await until(async () => (await fills()).length >= 2);
    const f = await fills();
    expect(
      f.slice(0, 2).map((x: { side: string; source: string; quantity: number }) => [x.side, x.source, x.quantity]),
    ).toEqual([
      ['buy', 'buy', 1],
      ['sell', 'take_profit', 1],
    ]);
    // the backtest of the same graph on those prices as bars: the same two fills
    const plan = compileGraph(graph).plan!;
    const bars = toColumns(
      [100, 103, 105].map((p, i) => ({ ts: T0 + i * 60_000, open: p, high: p, low: p, close: p, volume: 1 })),
    );
    const bt = runBacktest(plan, bars, { cash: 10_000, wholeUnits: true, fillOn: 'close' });
    expect(bt.trades[0]).toMatchObject({ size: 1, exitBar: 2, exitPrice: 105, exitReason: 'take_profit' });
    await reconcile(id, u);
  });

  it('stops and targets at a distance (2 × and 3 × an ATR): sized by the risk, shown in the view, the stop fires there', async () => {
    const u = await t.user();
    const graph = withAtrRules(
      structuredClone(alwaysLong),
      [
        ['sl', 'risk.stop_distance', { multiplier: 2 }],
        ['tp', 'risk.target_distance', { multiplier: 3 }],
      ],
      5,
    );
    for (const n of graph.nodes) if (n.type === 'action.buy') n.data = { sizing: 'risk_pct', amount: 1 };
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'atr stops', graph })).json();
    const body = { strategyId: strat.id, symbol: 'ATRUSD', startingBalance: 10_000 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    // ticks 100, 101, 100, ...: each tick a bar, its true range 1, so ATR(5) is 1 from the sixth on;
    // before it the entry has no stop to size by, so none is sent (nor refused)
    await publishWave('ATRUSD', 12, (i) => (i % 2 ? 101 : 100));
    await until(async () => (await fills()).length >= 1);
    expect((await call(u, 'GET', `/api/forward-tests/${id}/orders?status=refused`)).json()).toEqual([]);
    const s = await view();
    const avg = s.position.avgPrice;
    expect(s.position.stopLoss).toBeCloseTo(avg - 2, 9);
    expect(s.position.takeProfit).toBeCloseTo(avg + 3, 9);
    // 1 % of the equity lost at the stop, 2 under the entry (sized at the tick's price, filled at the ask)
    expect(Math.abs(s.position.quantity * 2 - 100)).toBeLessThan(0.05);
    await publishWave('ATRUSD', 1, () => avg - 2.05);
    await until(async () => (await fills()).length >= 2);
    expect((await fills())[1]).toMatchObject({ side: 'sell', source: 'stop_loss' });
    await reconcile(id, u);
  });

  it('a strategy reading its own position: closes at 2 % on its fill, then buys again from flat', async () => {
    const u = await t.user();
    // buys whenever it is not long; closes once the position is more than 2 % up on its average entry
    const graph = exitWhen(gatedBy(structuredClone(alwaysLong), 'buy', 'long', false), [['profit_pct', '>', 2]]);
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'exit in profit', graph })).json();
    const body = { strategyId: strat.id, symbol: 'POSUSD', startingBalance: 10_000, feeRate: 0.001 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const fills = async () => (await call(u, 'GET', `/api/forward-tests/${id}/trades`)).json();
    await publishWave('POSUSD', 1, () => 100);
    await until(async () => (await fills()).length >= 1);
    // bought at the ask: 2 % up is 102.0102; the bid is what the price less 0.01 is
    const [entry] = await fills();
    expect(entry).toMatchObject({ side: 'buy', price: 100.01 });
    for (const p of [101, 102, 102.01]) await publishWave('POSUSD', 1, () => p);
    await until(async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json().position?.marketPrice === 102.01);
    expect(await fills()).toHaveLength(1);
    await publishWave('POSUSD', 1, () => 102.02);
    await until(async () => (await fills()).length >= 2);
    expect((await fills())[1]).toMatchObject({ side: 'sell', source: 'exit', price: 102.01 });
    // flat again: the next tick buys
    await publishWave('POSUSD', 1, () => 102);
    await until(async () => (await fills()).length >= 3);
    expect((await fills())[2]).toMatchObject({ side: 'buy', source: 'buy' });
    await reconcile(id, u);
  });

  it('pays funding at each 8-hour funding time a position is open at, and reconciles with it', async () => {
    // a user of its own: its polling does not spend the other tests' request budget
    const u = await t.user();
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'always long', graph: alwaysLong })).json();
    const body = { strategyId: strat.id, symbol: 'FUNDUSD', startingBalance: 10_000, fundingRatePct: 0.01 };
    const id = (await call(u, 'POST', '/api/forward-tests', body)).json().id;
    const view = async () => (await call(u, 'GET', `/api/forward-tests/${id}`)).json();
    expect((await view()).config).toMatchObject({ fundingRatePct: 0.01 });
    // ticks at chosen times (this symbol's own clock): from 14:00 UTC on the day of T0
    const day = Date.UTC(2026, 0, 5);
    const H = 3_600_000;
    let seq = 0;
    const at = async (ts: number, price: number) => {
      const tick = { ts, price, size: 1, bid: price, ask: price, seq: seq++ };
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'FUNDUSD', 'ticks', { symbol: 'FUNDUSD', ticks: [tick] });
    };
    let clock = day + 14 * H;
    await until(async () => {
      await at((clock += 1000), 100);
      return (await view()).position !== null;
    });
    const { quantity } = (await view()).position;
    expect((await view()).funding).toBe(0);
    // past 16:00 at 120: one payment of 0.01 % of the position's value then
    await at(day + 16 * H + 500, 120);
    await until(async () => (await view()).funding !== 0);
    expect((await view()).funding).toBeCloseTo(quantity * 120 * 0.0001, 6);
    // to the next day's 09:00 at 80: two more (00:00 and 08:00)
    await at(day + 33 * H, 80);
    await until(async () => Math.abs((await view()).funding - quantity * (120 + 160) * 0.0001) < 1e-6);
    const s = await view();
    // the cash paid it; equity and balance count it
    expect(s.balance).toBeCloseTo(10_000 - s.fees - s.funding, 6);
    await reconcile(id, u);
    // closed by hand: the ledger still reconciles, funding in it
    expect((await call(u, 'POST', `/api/forward-tests/${id}/close-position`)).statusCode).toBe(200);
    await until(async () => (await view()).closedTrades === 1);
    await reconcile(id, u);
    // the risk report's round trip carries the funding its position paid: its PnL is the money made
    const closed = await view();
    const made = closed.realizedPnl - closed.fees - closed.funding;
    const report = async () => (await call(u, 'GET', `/api/analytics/sessions/${id}`)).json().report;
    let tickAt = day + 33 * H + 1000;
    await until(async () => {
      await at((tickAt += 1000), 80);
      return (await report()) !== null;
    });
    const exits = (await report()).exits;
    expect(exits).toHaveLength(1);
    expect(exits[0].pnl).toBeCloseTo(made, 6);
    expect(made).toBeLessThan(closed.realizedPnl - closed.fees - 0.01); // funding is in it
    const bad = await call(u, 'POST', '/api/forward-tests', { ...body, fundingRatePct: 5 });
    expect(bad.statusCode).toBe(400);
  });

  /**
   * A paper portfolio of the always-long strategy on two symbols with these limits, for a user of its own
   * (its polling does not spend the other tests' request budget), both legs entered at 100.
   */
  async function limitedPortfolio(symbols: [string, string], portfolioRisk: object) {
    const u = await t.user();
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'always long', graph: alwaysLong })).json();
    const r = await call(u, 'POST', '/api/forward-tests/portfolio', {
      strategyId: strat.id,
      symbols,
      startingBalance: 20_000,
      portfolioRisk,
    });
    expect(r.statusCode, r.body).toBe(201);
    const pf = r.json();
    expect(pf.portfolioRisk).toEqual(portfolioRisk);
    const get = async () => (await call(u, 'GET', `/api/forward-tests/portfolios/${pf.id}`)).json();
    const flat = (symbol: string, price: number) => publishWave(symbol, 1, () => price);
    await until(async () => {
      await flat(symbols[0], 100);
      await flat(symbols[1], 100);
      return (await get()).sessions.every((x: { trades: number }) => x.trades === 1);
    });
    return { u, strategyId: strat.id as string, get, flat };
  }

  it("a paper portfolio's drawdown limit on its summed equity stops every session, closing its position", async () => {
    const { u, strategyId, get, flat } = await limitedPortfolio(['DDA', 'DDB'], { maxDrawdownPct: 5 });
    // one leg down 8 %: a 4 % drawdown of the sum. Each session has no limit of its own, and the
    // portfolio's is not reached: after several checks they are all still running
    await flat('DDA', 92);
    await new Promise((res) => setTimeout(res, 600));
    expect((await get()).byStatus).toEqual({ running: 2 });
    // the other down 3 % too: 5.5 %, and every session is stopped, its position closed by the rule
    await flat('DDB', 97);
    await until(async () => (await get()).byStatus.stopped === 2);
    const after = await get();
    expect(after.returnPct).toBeLessThanOrEqual(-5);
    for (const leg of after.sessions) {
      const s = (await call(u, 'GET', `/api/forward-tests/${leg.id}`)).json();
      expect(s).toMatchObject({ status: 'stopped', position: null });
      expect(s.failureReason).toMatch(
        /^portfolio risk limit: max_drawdown \(5\.\d+ % of the summed equity, limit 5 %\)/,
      );
      const fills = (await call(u, 'GET', `/api/forward-tests/${leg.id}/trades`)).json();
      expect(fills.map((x: { source: string }) => x.source)).toEqual(['buy', 'portfolio_max_drawdown']);
      await reconcile(leg.id, u);
    }
    // its chart dashes the stop's level on the summed equity's drawdown
    const chart = await call(u, 'GET', `/api/forward-tests/portfolios/${after.id}/equity?format=html`);
    expect(chart.statusCode, chart.body).toBe(200);
    expect(chart.body).toMatch(/class="stop"><title>stop at -5%</);
    // a limit that is not a percentage, or none at all, is a 400
    for (const portfolioRisk of [{ maxDrawdownPct: 0 }, {}, { maxDailyLossPct: 101 }]) {
      const bad = await call(u, 'POST', '/api/forward-tests/portfolio', {
        strategyId,
        symbols: ['DDA', 'DDB'],
        portfolioRisk,
      });
      expect(bad.statusCode).toBe(400);
    }
  });

  it("changes a paper portfolio's limits on its summed equity while it runs: tightened, removed, set again", async () => {
    const patcher =
      (u: typeof a, id: string) =>
      (body: object, who = u) =>
        t.app.inject({ method: 'PATCH', url: `/api/forward-tests/portfolios/${id}`, headers: who.auth, payload: body });
    /** every session stopped by the portfolio's drawdown stop at 3 %, with 4.x % lost, and reconciled */
    const stoppedAt3 = async (
      u: typeof a,
      get: () => Promise<{ sessions: { id: string }[]; byStatus: Record<string, number> }>,
    ) => {
      await until(async () => (await get()).byStatus.stopped === 2);
      for (const leg of (await get()).sessions) {
        const s = (await call(u, 'GET', `/api/forward-tests/${leg.id}`)).json();
        expect(s.failureReason).toMatch(
          /^portfolio risk limit: max_drawdown \(4\.\d+ % of the summed equity, limit 3 %\)/,
        );
        expect(s.config.portfolio.risk).toEqual({ maxDrawdownPct: 3 });
        await reconcile(leg.id, u);
      }
    };
    // tightened: the guard's watch (its peak and day kept) checks the new limit
    {
      const { u, get, flat } = await limitedPortfolio(['PPA', 'PPB'], { maxDrawdownPct: 50 });
      const patch = patcher(u, (await get()).id);
      // 4.5 % of the sum down: within 50 %
      await flat('PPA', 92);
      await flat('PPB', 99);
      await new Promise((res) => setTimeout(res, 400));
      expect((await get()).byStatus).toEqual({ running: 2 });
      for (const bad of [{}, { portfolioRisk: {} }, { portfolioRisk: { maxDrawdownPct: 0 } }, { risk: {} }])
        expect((await patch(bad)).statusCode, JSON.stringify(bad)).toBe(400);
      expect((await patch({ portfolioRisk: { maxDrawdownPct: 3 } }, b)).statusCode).toBe(404);
      const tight = await patch({ portfolioRisk: { maxDrawdownPct: 3 } });
      expect(tight.statusCode).toBe(200);
      expect(tight.json().portfolioRisk).toEqual({ maxDrawdownPct: 3 });
      // the change kept, with when
      expect(tight.json().portfolioRiskChanges).toEqual([{ at: expect.any(String), risk: { maxDrawdownPct: 3 } }]);
      expect(Date.parse(tight.json().portfolioRiskChanges[0].at)).toBeGreaterThan(Date.now() - 60_000);
      await stoppedAt3(u, get);
      // ended: its limits no longer apply
      expect((await patch({ portfolioRisk: { maxDrawdownPct: 10 } })).statusCode).toBe(409);
    }
    // removed, then set again: the guard leaves it alone, then watches it afresh
    {
      const { u, get, flat } = await limitedPortfolio(['PQA', 'PQB'], { maxDrawdownPct: 3 });
      const patch = patcher(u, (await get()).id);
      const none = await patch({ portfolioRisk: null });
      expect(none.json().portfolioRisk).toBeNull();
      await flat('PQA', 92);
      await flat('PQB', 99);
      await new Promise((res) => setTimeout(res, 400));
      expect((await get()).byStatus).toEqual({ running: 2 });
      const again = (await patch({ portfolioRisk: { maxDrawdownPct: 3 } })).json();
      // both changes kept, oldest first: none, then 3 %
      expect(again.portfolioRiskChanges.map((c: { risk: unknown }) => c.risk)).toEqual([null, { maxDrawdownPct: 3 }]);
      await stoppedAt3(u, get);
    }
  });

  it("a paper portfolio's sessions each trade in their symbol's lot size (symbolRules), over the portfolio's", async () => {
    const u = await t.user();
    const strat = (await call(u, 'POST', '/api/strategies', { name: 'always long', graph: alwaysLong })).json();
    const body = { strategyId: strat.id, symbols: ['LRA', 'LRB'], startingBalance: 20_000, feeRate: 0.001 };
    const r = await call(u, 'POST', '/api/forward-tests/portfolio', {
      ...body,
      qtyStep: 0.1,
      symbolRules: { lrb: { qtyStep: 7, minNotional: 50 } },
    });
    expect(r.statusCode, r.body).toBe(201);
    const pf = r.json();
    const sessions = await Promise.all(
      pf.sessions.map(async (x: { id: string }) => (await call(u, 'GET', `/api/forward-tests/${x.id}`)).json()),
    );
    expect(sessions.map((x) => [x.symbol, x.config.qtyStep, x.config.minNotional])).toEqual([
      ['LRA', 0.1, undefined],
      ['LRB', 7, 50],
    ]);
    const get = async () => (await call(u, 'GET', `/api/forward-tests/portfolios/${pf.id}`)).json();
    await until(async () => {
      await publishWave('LRA', 1, () => 100);
      await publishWave('LRB', 1, () => 100);
      return (await get()).sessions.every((x: { trades: number }) => x.trades === 1);
    });
    // 10,000 each at the ask and a fee of 0.1 %: all it buys, rounded down to steps of 0.1 and lots of 7
    for (const [x, step] of [
      [sessions[0], 0.1],
      [sessions[1], 7],
    ] as const) {
      const [fill, ...more] = (await call(u, 'GET', `/api/forward-tests/${x.id}/trades`)).json();
      expect(more).toEqual([]);
      const lots = Math.floor(10_000 / (fill.price * 1.001) / step + 1e-9);
      expect(fill.quantity).toBe(Number((lots * step).toFixed(1)));
      expect(lots).toBeGreaterThan(10);
      await reconcile(x.id, u);
    }
    // rules for a symbol outside the portfolio, or on a single session, are 400s that say so
    const stray = await call(u, 'POST', '/api/forward-tests/portfolio', {
      ...body,
      symbolRules: { NOPE: { qtyStep: 1 } },
    });
    expect(stray.statusCode).toBe(400);
    expect(stray.json().error.message).toMatch(/NOPE is not among the symbols/);
    const single = await call(u, 'POST', '/api/forward-tests', {
      strategyId: strat.id,
      symbol: 'LRA',
      symbolRules: { LRA: { qtyStep: 1 } },
    });
    expect(single.statusCode).toBe(400);
    expect(single.json().error.message).toMatch(/symbolRules/);
  });

  it("a paper portfolio's daily loss limit on its summed equity pauses every session, closing its position", async () => {
    const { u, get, flat } = await limitedPortfolio(['DLA', 'DLB'], { maxDailyLossPct: 3 });
    // one leg down 4 %: 2 % of the sum today, under the limit
    await flat('DLA', 96);
    await new Promise((res) => setTimeout(res, 600));
    expect((await get()).byStatus).toEqual({ running: 2 });
    // down 8 %: 4 % of the sum, and both sessions pause with their positions closed by the rule
    await flat('DLA', 92);
    await until(async () => (await get()).byStatus.paused === 2);
    for (const leg of (await get()).sessions) {
      const s = (await call(u, 'GET', `/api/forward-tests/${leg.id}`)).json();
      expect(s).toMatchObject({ status: 'paused', position: null });
      expect(s.failureReason).toMatch(
        /^portfolio risk limit: max_daily_loss \([34]\.\d+ % of the summed equity today, limit 3 %\)/,
      );
      const fills = (await call(u, 'GET', `/api/forward-tests/${leg.id}/trades`)).json();
      expect(fills.map((x: { source: string }) => x.source)).toEqual(['buy', 'portfolio_max_daily_loss']);
      await reconcile(leg.id, u);
    }
  });

  it("a paper portfolio's daily loss limit with resumeNextDay: its sessions resume on their symbols' next day", async () => {
    const { u, get, flat } = await limitedPortfolio(['DRA', 'DRB'], { maxDailyLossPct: 3, resumeNextDay: true });
    await flat('DRA', 92); // 4 % of the sum: both paused, their positions closed
    await until(async () => (await get()).byStatus.paused === 2);
    // a tick of the same day on DRB leaves both paused
    const day = (symbol: string, days: number, price: number) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
        symbol,
        ticks: [{ ts: T0 + days * 86_400_000 + ++tickNo * 1000, price, size: 1, seq: tickNo }],
      });
    await day('DRB', 0, 100);
    await new Promise((res) => setTimeout(res, 300));
    expect((await get()).byStatus).toEqual({ paused: 2 });
    // DRB's first tick of the next UTC day resumes its session; DRA's stays paused until its own
    await day('DRB', 1, 100);
    await until(async () => (await get()).byStatus.running === 1);
    const legs = (await get()).sessions as { id: string; symbol: string; status: string }[];
    expect(legs.map((x) => [x.symbol, x.status])).toEqual([
      ['DRA', 'paused'],
      ['DRB', 'running'],
    ]);
    await day('DRA', 1, 92);
    await until(async () => (await get()).byStatus.running === 2);
    // each buys again on its next tick (always long), and reconciles
    await until(async () => {
      await day('DRA', 1, 92);
      await day('DRB', 1, 100);
      return (await get()).sessions.every((x: { trades: number }) => x.trades === 3);
    });
    for (const leg of legs) {
      expect((await call(u, 'GET', `/api/forward-tests/${leg.id}`)).json().failureReason).toBeNull();
      await reconcile(leg.id, u);
    }
  });

  it('runs a paper portfolio: one strategy on several symbols, each with its share, summed and driven together', async () => {
    const r = await call(a, 'POST', '/api/forward-tests/portfolio', {
      strategyId: smaId,
      symbols: ['pfa', 'PFB'],
      weights: [3, 1],
      startingBalance: 100_000,
      feeRate: 0.001,
      name: 'two legs',
    });
    expect(r.statusCode).toBe(201);
    const pf = r.json();
    expect(pf).toMatchObject({
      name: 'two legs',
      symbols: ['PFA', 'PFB'],
      startingBalance: 100_000,
      byStatus: { running: 2 },
    });
    expect(pf.sessions.map((x: { weight: number; startingBalance: number }) => [x.weight, x.startingBalance])).toEqual([
      [0.75, 75_000],
      [0.25, 25_000],
    ]);
    // each leg is a session of its own, listed with the others
    const [sa, sb] = pf.sessions.map((x: { id: string }) => x.id);
    expect((await call(a, 'GET', `/api/forward-tests/${sa}`)).json()).toMatchObject({
      symbol: 'PFA',
      status: 'running',
    });
    await publishWave('PFA', 300);
    await publishWave('PFB', 300, (i) => 50 + 3 * Math.cos(i / 9));
    await until(async () => {
      const p = (await call(a, 'GET', `/api/forward-tests/portfolios/${pf.id}`)).json();
      return p.sessions.every((x: { trades: number }) => x.trades >= 2);
    });
    // a few equity points each (written on the session's timer while it runs)
    await until(async () => {
      await publishWave('PFA', 2);
      await publishWave('PFB', 2, (i) => 50 + 3 * Math.cos(i / 9));
      await new Promise((r) => setTimeout(r, 50));
      const counts = await Promise.all(
        [sa, sb].map(async (id) => (await call(a, 'GET', `/api/forward-tests/${id}/equity`)).json().length),
      );
      return counts.every((n) => n >= 2);
    });
    // paused together, so the figures hold still while they are compared
    const paused = (await call(a, 'POST', `/api/forward-tests/portfolios/${pf.id}/pause`)).json();
    expect(paused.byStatus).toEqual({ paused: 2 });
    const legs = await Promise.all(
      [sa, sb].map(async (id) => (await call(a, 'GET', `/api/forward-tests/${id}`)).json()),
    );
    const now = (await call(a, 'GET', `/api/forward-tests/portfolios/${pf.id}`)).json();
    expect(now.equity).toBeCloseTo(legs[0].equity + legs[1].equity, 6);
    expect(now.fees).toBeCloseTo(legs[0].fees + legs[1].fees, 6);
    expect(now.returnPct).toBeCloseTo(((now.equity - 100_000) / 100_000) * 100, 9);
    // each leg's contribution is its PnL over the portfolio's money: they add up to its return
    expect(now.sessions.reduce((x: number, s: { contributionPct: number }) => x + s.contributionPct, 0)).toBeCloseTo(
      now.returnPct,
      9,
    );
    for (const leg of legs) await reconcile(leg.id);
    // the summed equity series: at its last point, each session's last stored point
    const series = (await call(a, 'GET', `/api/forward-tests/portfolios/${pf.id}/equity`)).json();
    const lastOf = async (id: string) => (await call(a, 'GET', `/api/forward-tests/${id}/equity`)).json().at(-1).equity;
    expect(series.at(-1).equity).toBeCloseTo((await lastOf(sa)) + (await lastOf(sb)), 6);
    expect(series.at(-1).buyAndHold).toBeGreaterThan(0);
    expect(now.stats).toHaveProperty('sharpe');
    const html = await call(a, 'GET', `/api/forward-tests/portfolios/${pf.id}/equity?format=html`);
    expect(html.body).toContain('Buy and hold of the same allocation');
    expect(html.body).toContain('<svg');
    expect((await call(a, 'GET', '/api/forward-tests/portfolios')).json()).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: pf.id, symbols: ['PFA', 'PFB'] })]),
    );
    // another user's view of it: 404 everywhere
    for (const [method, url] of [
      ['GET', `/api/forward-tests/portfolios/${pf.id}`],
      ['GET', `/api/forward-tests/portfolios/${pf.id}/equity`],
      ['POST', `/api/forward-tests/portfolios/${pf.id}/stop`],
      ['DELETE', `/api/forward-tests/portfolios/${pf.id}`],
    ] as const)
      expect((await call(b, method, url)).statusCode, url).toBe(404);
    expect((await call(b, 'GET', '/api/forward-tests/portfolios')).json()).toEqual([]);
    // bad bodies are 400s that say why
    for (const [body, why] of [
      [{ strategyId: smaId, symbols: ['PFA'] }, /symbols/],
      [{ strategyId: smaId, symbols: ['PFA', 'pfa'] }, /each symbol once/],
      [{ strategyId: smaId, symbols: ['PFA', 'PFB'], weights: [1] }, /one weight per symbol/],
    ] as const) {
      const bad = await call(a, 'POST', '/api/forward-tests/portfolio', body);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(why);
    }
    // resumed and stopped together (stopping closes each position), then deleted with its sessions
    expect((await call(a, 'POST', `/api/forward-tests/portfolios/${pf.id}/resume`)).json().byStatus).toEqual({
      running: 2,
    });
    const stopped = (await call(a, 'POST', `/api/forward-tests/portfolios/${pf.id}/stop`)).json();
    expect(stopped.byStatus).toEqual({ stopped: 2 });
    for (const id of [sa, sb]) expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json().position).toBeNull();
    expect((await call(a, 'DELETE', `/api/forward-tests/portfolios/${pf.id}`)).statusCode).toBe(204);
    expect((await call(a, 'GET', `/api/forward-tests/${sa}`)).statusCode).toBe(404);
    expect((await call(a, 'GET', `/api/forward-tests/portfolios/${pf.id}`)).statusCode).toBe(404);
  });

  it('applies a redelivered signal once', async () => {
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'DUPUSD' })).json().id;
    await publishWave('DUPUSD', 10);
    const sig = {
      id: `${id}:manual:1`,
      sessionId: id,
      userId: a.id,
      symbol: 'DUPUSD',
      action: 'buy',
      sizing: 'fixed_qty',
      amount: 3,
      source: 'test',
      tickTs: T0,
      price: 100,
      receivedAt: Date.now(),
    };
    for (let i = 0; i < 3; i++)
      await t.rt.bus.publish(TOPICS.strategySignals.name, id, 'signal', sig, `${sig.id}#${i}`);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${id}/orders`)).json().length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    const trades = (await call(a, 'GET', `/api/forward-tests/${id}/trades`)).json();
    expect(trades).toHaveLength(1);
    expect(trades[0]).toMatchObject({ side: 'buy', quantity: 3 });
    await reconcile(id);
  });

  it('counts and skips malformed signals from the bus; the session trades on and reconciles', async () => {
    const id = (await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'BADUSD' })).json().id;
    await publishWave('BADUSD', 10);
    const sig = {
      id: `${id}:manual:ok`,
      sessionId: id,
      userId: a.id,
      symbol: 'BADUSD',
      action: 'buy',
      sizing: 'fixed_qty',
      amount: 2,
      source: 'test',
      tickTs: T0,
      price: 100,
      receivedAt: Date.now(),
    };
    const malformed = [
      { amount: 1e308 }, // once filled, as its cost overflowed, and then refused by the order log forever
      { amount: -5 },
      { amount: '2' },
      { price: 1e300 },
      { price: 'abc' },
      { action: 'launch' },
      { sizing: 'everything' },
      { sessionId: 'not-a-uuid' },
      { tickTs: 1e300 },
      { bid: -1 },
      { maxEntries: 0 },
      { maxEntries: 2.5 },
      { maxEntries: 101 },
      { action: 'close', percent: 0 },
      { action: 'close', percent: 150 },
    ];
    const metric = async () =>
      Number(
        /market_messages_malformed_total\{source="strategy-signals"\} (\d+)/.exec(
          (await t.app.inject({ url: '/metrics' })).body,
        )?.[1] ?? 0,
      );
    const before = await metric();
    for (const [i, bad] of malformed.entries())
      await t.rt.bus.publish(TOPICS.strategySignals.name, id, 'signal', { ...sig, ...bad, id: `${id}:bad:${i}` });
    await t.rt.bus.publish(TOPICS.strategySignals.name, id, 'signal', sig);
    await until(async () => (await call(a, 'GET', `/api/forward-tests/${id}/orders`)).json().length >= 1);
    expect(await metric()).toBe(before + malformed.length);
    const orders = (await call(a, 'GET', `/api/forward-tests/${id}/orders`)).json();
    expect(orders.map((o: { signalId: string; status: string }) => [o.signalId, o.status])).toEqual([
      [sig.id, 'filled'],
    ]);
    await reconcile(id);
    // the engine goes on: a new session is made and read
    const next = await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'BADUSD' });
    expect(next.statusCode).toBe(201);
  });

  it('validates input with clear 400s and keeps sessions private (404 for another user)', async () => {
    const bad = await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'X', startingBalance: -5 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/startingBalance/);
    const unknown = await call(a, 'POST', '/api/forward-tests', {
      strategyId: smaId,
      symbol: 'X',
      marginMode: 'cross',
    });
    expect(unknown.statusCode).toBe(400);
    const id = (
      await call(a, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'PRIVUSD', start: false })
    ).json().id;
    for (const path of ['', '/trades', '/orders', '/positions', '/metrics', '/equity'])
      expect((await call(b, 'GET', `/api/forward-tests/${id}${path}`)).statusCode).toBe(404);
    for (const verb of ['start', 'pause', 'resume', 'stop'])
      expect((await call(b, 'POST', `/api/forward-tests/${id}/${verb}`)).statusCode).toBe(404);
    expect((await call(b, 'DELETE', `/api/forward-tests/${id}`)).statusCode).toBe(404);
    expect((await call(b, 'POST', '/api/forward-tests', { strategyId: smaId, symbol: 'X' })).statusCode).toBe(404);
    expect((await call(b, 'GET', '/api/forward-tests')).json()).toEqual([]);
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).json().status).toBe('created');
    expect((await call(a, 'DELETE', `/api/forward-tests/${id}`)).statusCode).toBe(204);
    expect((await call(a, 'GET', `/api/forward-tests/${id}`)).statusCode).toBe(404);
  });
});
