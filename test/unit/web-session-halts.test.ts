import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionHaltSpans } from '../../web/limits.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { alwaysBuying } from '../helpers/graphs.ts';
import { until } from '../helpers/wait.ts';

// A paper session's page shades the times its limits stopped or paused it (web/limits.js), from the
// fills the real engine records: an always-long strategy, its symbols' prices moved by ticks on the bus.
const T0 = Date.UTC(2026, 0, 5, 12);
const DAY = 86_400_000;
let t: TestApp;
let auth: { authorization: string };
let strategyId: string;
let seq = 0;
beforeAll(async () => {
  t = await startTestApp({ FT_PORTFOLIO_CHECK_MS: '100' });
  auth = (await t.user()).auth;
  strategyId = (
    await t.app.inject({
      method: 'POST',
      url: '/api/strategies',
      headers: auth,
      payload: { name: 'always long', graph: alwaysBuying() },
    })
  ).json().id;
});
afterAll(async () => t.stop());

const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
/** one tick of `symbol` at `price`, `days` after T0 */
const tick = (symbol: string, price: number, days = 0) =>
  t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
    symbol,
    ticks: [{ ts: T0 + days * DAY + ++seq * 1000, price, size: 1, seq }],
  });
const session = async (id: string) => (await call('GET', `/api/forward-tests/${id}`)).json();
const fills = async (id: string) => (await call('GET', `/api/forward-tests/${id}/trades`)).json();

describe("a paper session's halts on its charts (sessionHaltSpans)", () => {
  it('its own drawdown stop: from its close to the end', async () => {
    const r = await call('POST', '/api/forward-tests', { strategyId, symbol: 'SHDD', risk: { maxDrawdownPct: 5 } });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id;
    await until(async () => {
      await tick('SHDD', 100);
      return (await session(id)).position !== null;
    });
    await tick('SHDD', 90); // 10 % down, all in: the stop
    await until(async () => (await session(id)).status === 'stopped');
    const f = await fills(id);
    expect(f.map((x: { source: string }) => x.source)).toEqual(['buy', 'max_drawdown']);
    expect(sessionHaltSpans(f, await session(id))).toEqual([
      { from: Date.parse(f[1].ts), until: Infinity, label: expect.stringMatching(/^Trading stopped: drawdown \(/) },
    ]);
  });

  it("its paper portfolio's daily loss: to the next UTC day with resumeNextDay, else while it lasts, and at its time only once resumed by hand", async () => {
    for (const resumeNextDay of [true, false]) {
      const symbols = resumeNextDay ? ['SHRA', 'SHRB'] : ['SHPA', 'SHPB'];
      const r = await call('POST', '/api/forward-tests/portfolio', {
        strategyId,
        symbols,
        startingBalance: 20_000,
        portfolioRisk: { maxDailyLossPct: 3, resumeNextDay },
      });
      expect(r.statusCode, r.body).toBe(201);
      const pf = r.json();
      const ids: string[] = pf.sessions.map((x: { id: string }) => x.id);
      await until(async () => {
        for (const s of symbols) await tick(s, 100);
        return (await Promise.all(ids.map(session))).every((s) => s.position !== null);
      });
      await tick(symbols[0]!, 92); // 4 % of the sum: both paused, their positions closed
      await until(async () => (await Promise.all(ids.map(session))).every((s) => s.status === 'paused'));
      for (const id of ids) {
        const f = await fills(id);
        const at = Date.parse(f.find((x: { source: string }) => x.source === 'portfolio_max_daily_loss').ts);
        expect(sessionHaltSpans(f, await session(id))).toEqual([
          {
            from: at,
            until: resumeNextDay ? (Math.floor(at / DAY) + 1) * DAY : Infinity,
            label: resumeNextDay
              ? expect.stringMatching(/^Portfolio: Paused for the day: daily loss \(/)
              : expect.stringMatching(/^Portfolio: Trading ended: daily loss \(/),
          },
        ]);
      }
      if (resumeNextDay) continue;
      // resumed by hand: when it ended is not kept, so the pause is marked at its time only
      expect((await call('POST', `/api/forward-tests/portfolios/${pf.id}/resume`)).statusCode).toBe(200);
      for (const id of ids) {
        const s = await session(id);
        expect(s.status).toBe('running');
        const [span] = sessionHaltSpans(await fills(id), s);
        expect(span!.until).toBe(span!.from);
      }
    }
  });
});
