import { TOPICS } from '@algotrade/core';
import { templateById } from '@algotrade/strategy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { aboveOtherSma, alwaysBuying, buysAbove, gatedBy, withAtrRules } from '../../../../test/helpers/graphs.ts';
import { until } from '../../../../test/helpers/wait.ts';
import type { ForwardTestEngine } from './engine.ts';
import { startSessionRunner, type SessionRunner } from './session-runner.ts';

/**
 * The same sessions on the same ticks behave identically whether their strategies run in the
 * engine's thread, on the worker-thread runner pool, or in runner processes of their own (here the
 * runner code in this process, talking to the engine only through the bus and the database).
 */
type Kind = 'inline' | 'pool' | 'external';
describe('forward testing runners: in-process, worker-thread pool and remote runners agree', () => {
  const apps: Record<Kind, TestApp> = {} as never;
  const runners: SessionRunner[] = [];
  beforeAll(async () => {
    apps.inline = await startTestApp({ FT_RUNNER: 'inline' });
    apps.pool = await startTestApp({ FT_RUNNER: 'pool', FT_RUNNER_THREADS: '2' });
    apps.external = await startTestApp({ FT_RUNNER: 'external' });
  });
  afterAll(async () => {
    for (const r of runners) await r.stop();
    for (const a of Object.values(apps)) await a?.stop();
  });

  async function run(kind: Kind) {
    const t = apps[kind];
    const u = await t.user();
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    const ids: string[] = [];
    // three graphs: the SMA template, a fast variant with a stop loss, and a 2/5 crossover on 1-minute candles
    const fast = structuredClone(templateById('sma-crossover')!.graph);
    fast.nodes.find((n) => n.id === 'fast')!.data = { period: 3 };
    fast.nodes.find((n) => n.id === 'slow')!.data = { period: 7 };
    fast.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 1 }, position: { x: 0, y: 0 } });
    const candles = structuredClone(templateById('sma-crossover')!.graph);
    candles.nodes.find((n) => n.id === 'fast')!.data = { period: 2 };
    candles.nodes.find((n) => n.id === 'slow')!.data = { period: 5 };
    // the fourth runs the first's strategy: in-process and on the pool the two share one evaluator; the
    // fifth reads another symbol: long while EQUSD's close is above the SMA(3) of EQREF's
    const pair = aboveOtherSma('EQREF');
    // the sixth: the fast variant with rules at a distance (1 × ATR stop, 1.5 × target, sized by 2 % at
    // risk): on the pool, what they read comes back from the thread with the action
    const atr = withAtrRules(structuredClone(fast), [
      ['sld', 'risk.stop_distance', { multiplier: 1 }],
      ['tpd', 'risk.target_distance', { multiplier: 1.5 }],
    ]);
    atr.nodes = atr.nodes.filter((n) => n.id !== 'sl');
    for (const n of atr.nodes) if (n.type === 'action.buy') n.data = { sizing: 'risk_pct', amount: 2 };
    // the seventh reads its own position: buys while the fast SMA is above the slow one (up to 3 entries)
    // but only while not long, so it never adds; on the pool it runs in the engine's thread
    const level = structuredClone(fast);
    level.nodes = level.nodes.filter((n) => n.id !== 'sl');
    for (const n of level.nodes) {
      if (n.id === 'up') n.type = 'logic.greater';
      if (n.id === 'down') n.type = 'logic.less';
      if (n.id === 'buy') n.data = { sizing: 'pct_equity', amount: 30, maxEntries: 3 };
    }
    // the eighth: the 1-minute candles' crossover turning round (shorts allowed) with a 0.5 % stop: a
    // candle's action goes before the stops of the tick that closes it, in every runner
    const turning = structuredClone(candles);
    turning.nodes.push({ id: 'sl', type: 'risk.stop_loss', data: { percent: 0.5 }, position: { x: 0, y: 0 } });
    const graphs = [
      templateById('sma-crossover')!.graph,
      fast,
      candles,
      templateById('sma-crossover')!.graph,
      pair,
      atr,
      gatedBy(level, 'buy', 'long', false),
      turning,
      // the ninth never enters by itself: an order by hand opens its position, its 1 % stop closes it
      buysAbove(1e12, [['sl', 'risk.stop_loss', { percent: 1 }]]),
      // the tenth: a buy limit by hand resting under the market opens its position when a tick reaches it
      buysAbove(1e12, [['sl', 'risk.stop_loss', { percent: 1 }]]),
    ];
    for (const [i, graph] of graphs.entries()) {
      const sid = (await call('POST', '/api/strategies', { name: `g${i}`, graph })).json().id;
      const body = { strategyId: sid, symbol: 'EQUSD', feeRate: 0.001, slippageBps: 1 };
      ids.push(
        (
          await call(
            'POST',
            '/api/forward-tests',
            i === 2
              ? { ...body, evaluation: { mode: 'candle', interval: '1m' } }
              : i === 7
                ? { ...body, allowShort: true, evaluation: { mode: 'candle', interval: '1m' } }
                : body,
          )
        ).json().id,
      );
    }
    if (kind === 'external') for (const id of ids) runners.push(await startSessionRunner(t.rt, id));
    // the same deterministic stream for all: a wave with noise and a crash
    const T0 = Date.UTC(2026, 0, 5, 12);
    for (let k = 0; k < 1200; k += 40) {
      const ticks = [];
      const ref = [];
      for (let i = k; i < k + 40; i++) {
        const p = 100 + 6 * Math.sin(i / 15) + 2 * Math.sin(i * 1.7) - (i > 900 && i < 950 ? (i - 900) * 0.2 : 0);
        ticks.push({ ts: T0 + i * 5000, price: p, size: 1, bid: p - 0.02, ask: p + 0.02, seq: i });
        ref.push({ ts: T0 + i * 5000 - 1000, price: 100 + 4 * Math.sin(i / 9), size: 1, seq: i });
      }
      // the other symbol's ticks of the same seconds first, each runner taking them before EQUSD's
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'EQREF', 'ticks', { symbol: 'EQREF', ticks: ref });
      await new Promise((r) => setTimeout(r, 20));
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'EQUSD', 'ticks', { symbol: 'EQUSD', ticks });
      // let the runner answer and the fills commit before the next ticks, as a live feed would
      await new Promise((r) => setTimeout(r, 40));
      if (k === 400) {
        // an order by hand on the ninth, at the quote of this batch's last tick
        const engine = t.ctx.shared.forwardTestEngine as ForwardTestEngine;
        await until(async () => engine.quote('EQUSD')?.ts === T0 + (k + 39) * 5000);
        const r = await call('POST', `/api/forward-tests/${ids[8]}/orders`, {
          action: 'buy',
          sizing: 'fixed_qty',
          amount: 10,
        });
        expect(r.statusCode).toBe(201);
        const rest = await call('POST', `/api/forward-tests/${ids[9]}/orders`, {
          action: 'buy',
          sizing: 'fixed_qty',
          amount: 10,
          type: 'limit',
          price: 97,
        });
        expect(rest.statusCode).toBe(201);
      }
    }
    const trades: unknown[][] = [];
    for (const id of ids) {
      let last = -1;
      await until(async () => {
        const n = (await call('GET', `/api/forward-tests/${id}/trades`)).json().length;
        const same = n === last;
        last = n;
        if (!same) await new Promise((r) => setTimeout(r, 300));
        return same;
      });
      const list = (await call('GET', `/api/forward-tests/${id}/trades`)).json();
      trades.push(
        list.map((x: { side: string; quantity: number; price: number; ts: string; source: string }) => [
          x.side,
          x.quantity,
          x.price,
          x.ts,
          x.source,
        ]),
      );
    }
    return trades;
  }

  it('gives the same trades, tick for tick', async () => {
    const [inline, pool, external] = await Promise.all([run('inline'), run('pool'), run('external')]);
    expect(inline.map((t) => t.length).every((n) => n >= 2)).toBe(true);
    // the pair strategy traded on the other symbol's ticks: not as the crossovers did
    expect(inline[4]).not.toEqual(inline[0]);
    // the rules at a distance closed some of the sixth's positions
    const sources = new Set((inline[5] as unknown[][]).map((t) => t[4]));
    expect(sources.has('stop_loss') || sources.has('take_profit')).toBe(true);
    // the position-gated strategy never bought twice in a row
    const sides = (inline[6] as unknown[][]).map((t) => t[0]);
    expect(sides.length).toBeGreaterThanOrEqual(4);
    expect(sides.some((x, i) => x === 'buy' && sides[i - 1] === 'buy')).toBe(false);
    // the eighth turned round: a sell after a buy closed the long and opened a short in one fill
    const turned = inline[7] as [string, number][];
    expect(turned.some(([side, q], i) => i > 0 && side !== turned[i - 1]![0] && q > turned[i - 1]![1])).toBe(true);
    // the ninth: the order by hand, then the strategy's stop closing it
    expect((inline[8] as unknown[][]).map((x) => [x[0], x[4]])).toEqual([
      ['buy', 'manual'],
      ['sell', 'stop_loss'],
    ]);
    // the tenth: its resting limit filled at 97 or under, a maker's fill; then its stop closed it
    const tenth = inline[9] as [string, number, number, string, string][];
    expect(tenth.slice(0, 2).map((x) => [x[0], x[4]])).toEqual([
      ['buy', 'manual'],
      ['sell', 'stop_loss'],
    ]);
    expect(tenth[0]![2]).toBeLessThanOrEqual(97);
    expect(pool).toEqual(inline);
    expect(external).toEqual(inline);
    // sharing an evaluator changes nothing: the two sessions of one strategy trade alike
    for (const trades of [inline, pool, external]) expect(trades[3]).toEqual(trades[0]);
    // the remote runners published the signals (all but the order by hand); the engine only executed them
    const signalled = (inline.flat() as unknown[][]).filter((x) => x[4] !== 'manual').length;
    expect(runners.reduce((n, r) => n + r.published(), 0)).toBeGreaterThanOrEqual(signalled);
  });

  it('a runner process trades under limits changed while it runs: a tightened drawdown stop stops it on its next tick', async () => {
    const t = apps.external;
    const u = await t.user();
    const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    const sid = (await call('POST', '/api/strategies', { name: 'long remote', graph: alwaysBuying() })).json().id;
    const id = (
      await call('POST', '/api/forward-tests', { strategyId: sid, symbol: 'RLUSD', risk: { maxDrawdownPct: 50 } })
    ).json().id;
    runners.push(await startSessionRunner(t.rt, id));
    const T = Date.UTC(2026, 0, 8, 10);
    let seq = 0;
    const publish = (price: number) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'RLUSD', 'ticks', {
        symbol: 'RLUSD',
        ticks: [{ ts: T + ++seq * 1000, price, size: 1, seq }],
      });
    const view = async () => (await call('GET', `/api/forward-tests/${id}`)).json();
    await publish(100);
    await until(async () => (await view()).position !== null);
    await publish(97);
    await until(async () => (await view()).maxDrawdownPct > 2.9);
    expect((await view()).status).toBe('running');
    expect((await call('PATCH', `/api/forward-tests/${id}`, { risk: { maxDrawdownPct: 2 } })).statusCode).toBe(200);
    // the runner re-reads its row when told; its next tick's mark is past the new limit
    await until(async () => {
      await publish(97);
      return (await view()).status === 'stopped';
    });
    expect((await view()).failureReason).toMatch(/^risk limit: max_drawdown/);
  });

  it("a runner process's resting order: saved on the session's row, shown in its view and its pushes, kept by a restarted runner", async () => {
    const t = apps.external;
    const u = await t.user();
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    // always wants to buy, by a limit order 20 % under the price, on 1-hour candles (it rests the hour)
    const graph = alwaysBuying({ orderType: 'limit', offsetPct: 20 });
    const sid = (await call('POST', '/api/strategies', { name: 'resting remote', graph })).json().id;
    const id = (
      await call('POST', '/api/forward-tests', {
        strategyId: sid,
        symbol: 'RRUSD',
        evaluation: { mode: 'candle', interval: '1h' },
      })
    ).json().id;
    const first = await startSessionRunner(t.rt, id);
    runners.push(first);
    // the session's live pushes (the WebSocket's source), as the engine publishes them
    const pushed: { restingOrder: unknown }[] = [];
    const sub = await t.rt.bus.subscribe<{ sessionId: string; restingOrder: unknown }>(
      TOPICS.portfolioUpdates.name,
      { group: 'test-resting-pushes' },
      (m) => {
        if (m.data.sessionId === id) pushed.push(m.data);
      },
    );
    const T = Date.UTC(2026, 0, 7, 10);
    const publish = (ms: number, price: number) =>
      t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'RRUSD', 'ticks', {
        symbol: 'RRUSD',
        ticks: [{ ts: T + ms, price, size: 1, bid: price, ask: price, seq: ms }],
      });
    // the first hour's candle closes with the first tick of the next: the action fires and the order rests
    await publish(0, 100);
    await publish(3_600_000, 100);
    const view = async () => (await call('GET', `/api/forward-tests/${id}`)).json();
    await until(async () => (await view()).restingOrder !== null);
    expect((await view()).restingOrder).toMatchObject({ nodeId: 'buy', action: 'buy', orderType: 'limit', level: 80 });
    // the engine's next push of the session's figures carries it too (the runner, not the engine, holds it)
    await publish(3_600_500, 100);
    await until(() => pushed.some((p) => p.restingOrder !== null), 15_000);
    expect(pushed.find((p) => p.restingOrder !== null)!.restingOrder).toEqual((await view()).restingOrder);
    // a new runner (the first stopped, as its pod would be replaced) rests it again: a tick under it fills it
    await first.stop();
    const second = await startSessionRunner(t.rt, id);
    runners.push(second);
    await publish(3_660_000, 79);
    await until(async () => (await call('GET', `/api/forward-tests/${id}/trades`)).json().length === 1);
    expect((await call('GET', `/api/forward-tests/${id}/trades`)).json()[0]).toMatchObject({ side: 'buy', price: 80 });
    // filled: the runner cleared it, and a later push says so
    const n = pushed.length;
    await until(async () => {
      await publish(3_700_000 + pushed.length, 81);
      return pushed.length > n && pushed.at(-1)!.restingOrder === null;
    }, 15_000);
    await sub.close();
  });
});
