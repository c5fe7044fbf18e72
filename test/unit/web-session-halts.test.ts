import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityText, portfolioHaltSpans, sessionHaltSpans, timelineRows } from '../../web/limits.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { timelineSpans } from '@algotrade/strategy';
import { alwaysBuying } from '../helpers/graphs.ts';
import { until } from '../helpers/wait.ts';

// A paper session's timeline (GET /api/forward-tests/:id/events: each change of its status, when and
// why), and its page's shading of the times it was stopped or paused (web/limits.js), from what the real
// engine records: an always-long strategy, its symbols' prices moved by ticks on the bus.
const T0 = Date.UTC(2026, 0, 5, 12);
const DAY = 86_400_000;
let t: TestApp;
let auth: { authorization: string };
let strategyId: string;
let seq = 0;
beforeAll(async () => {
  t = await startTestApp({ FT_PORTFOLIO_CHECK_MS: '100', FT_EQUITY_INTERVAL_MS: '100' });
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
/** each symbol's latest tick time */
const last = new Map<string, number>();
/** one tick of `symbol` at `price`, `days` after T0; its time */
const tick = async (symbol: string, price: number, days = 0) => {
  const ts = T0 + days * DAY + ++seq * 1000;
  last.set(symbol, ts);
  await t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
    symbol,
    ticks: [{ ts, price, size: 1, seq }],
  });
  return ts;
};
/** one tick, once the engine has it as the symbol's quote */
const seenTick = async (symbol: string, price: number) => {
  const ts = await tick(symbol, price);
  const engine = t.ctx.shared.forwardTestEngine as { quote(s: string): { ts: number } | undefined };
  await until(async () => engine.quote(symbol)?.ts === ts);
  return ts;
};
const session = async (id: string) => (await call('GET', `/api/forward-tests/${id}`)).json();
const fills = async (id: string) => (await call('GET', `/api/forward-tests/${id}/trades`)).json();
type Event = { status: string; was: string | null; reason: string | null; ts: string | null; at: string };
const events = async (id: string): Promise<Event[]> => (await call('GET', `/api/forward-tests/${id}/events`)).json();
const iso = (ms: number) => new Date(ms).toISOString();
/** once the session's equity series has a point at market time `ts` */
const markedAt = (id: string, ts: number) =>
  until(async () =>
    (await call('GET', `/api/forward-tests/${id}/equity`)).json().some((p: { ts: string }) => p.ts === iso(ts)),
  );
/** the HTML report's bands' titles */
const bandTitles = (html: string) => [...html.matchAll(/class="halt"><title>([^<]*)<\/title>/g)].map((m) => m[1]);
/** spans without their labels' times (the page writes them in the reader's locale, the report in UTC) */
const plain = (spans: { from: number; until: number; label: string }[]) =>
  spans.map((x) => ({ ...x, label: x.label.replace(/ \(.*\)$/, '') }));
/** the report's spans (timelineSpans) are the page's, for a session and for a paper portfolio */
const sameAsPage = async (id: string) => {
  const s = await session(id);
  const ev = await events(id);
  expect(
    plain(timelineSpans(ev, { risk: s.config.risk ?? {}, portfolioRisk: s.config.portfolio?.risk ?? {} })),
  ).toEqual(plain(sessionHaltSpans(ev, s)));
};
const sourceTs = (f: { source: string; ts: string }[], source: string) => f.find((x) => x.source === source)!.ts;

describe("a paper session's timeline, and the times it did not trade on its charts (sessionHaltSpans)", () => {
  it('by hand: each start, pause, resume and stop at its market time; a span for the pause and one for the stop', async () => {
    const r = await call('POST', '/api/forward-tests', { strategyId, symbol: 'TLHA', start: false });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id;
    const first = await seenTick('TLHA', 100); // a tick before it starts: its start's market time
    expect((await call('POST', `/api/forward-tests/${id}/start`)).statusCode).toBe(200);
    const a = await seenTick('TLHA', 101);
    await until(async () => (await session(id)).position !== null);
    await markedAt(id, a); // a point of its equity there, for its report's chart
    expect((await call('POST', `/api/forward-tests/${id}/pause`)).statusCode).toBe(200);
    const b = await seenTick('TLHA', 99); // paused: no trading, the symbol's clock moves on
    expect((await call('POST', `/api/forward-tests/${id}/resume`)).statusCode).toBe(200);
    const c = await seenTick('TLHA', 102);
    await markedAt(id, c); // and one after the pause
    expect((await call('POST', `/api/forward-tests/${id}/stop`)).statusCode).toBe(200);
    const ev = await events(id);
    expect(ev.map((e) => [e.was, e.status, e.reason])).toEqual([
      [null, 'created', null],
      ['created', 'running', null],
      ['running', 'paused', null],
      ['paused', 'running', null],
      ['running', 'stopped', null],
    ]);
    // market times: the symbol's latest tick when each was done
    expect(ev.map((e) => e.ts)).toEqual([null, iso(first), iso(a), iso(b), iso(c)]);
    expect(sessionHaltSpans(ev, await session(id))).toEqual([
      { from: a, until: b, label: expect.stringMatching(/^Paused by hand \(/) },
      { from: c, until: Infinity, label: expect.stringMatching(/^Stopped by hand \(/) },
    ]);
    expect(timelineRows(ev).map((x) => [x.change, x.why])).toEqual([
      ['created', ''],
      ['created → running', 'by hand'],
      ['running → paused', 'by hand'],
      ['paused → running', 'by hand'],
      ['running → stopped', 'by hand'],
    ]);
    // its HTML report shades the same times
    await sameAsPage(id);
    const report = await call('GET', `/api/forward-tests/${id}/equity?format=html`);
    expect(report.statusCode, report.body.slice(0, 300)).toBe(200);
    const html = report.body;
    // each band on its price, equity and drawdown charts
    const titles = bandTitles(html);
    expect(titles).toHaveLength(6);
    expect([...new Set(titles)]).toEqual([
      expect.stringMatching(/^Paused by hand \(/),
      expect.stringMatching(/^Stopped by hand \(/),
    ]);
    // its analytics say how much of its life it traded: from its start to its stop, less the pause
    const an = (await call('GET', `/api/analytics/sessions/${id}`)).json();
    expect(an.activity).toEqual({
      startedAt: first,
      lifeMs: c - first,
      runningMs: a - first + (c - b),
      runningPct: ((a - first + (c - b)) / (c - first)) * 100,
      halts: 2,
      byReason: [{ reason: 'by hand', count: 2 }],
    });
    expect(activityText(an.activity)).toBe(
      `Trading ${an.activity.runningPct.toFixed(1)} % of the time since its start; stopped trading 2 times: 2 × by hand.`,
    );
    // as a CSV file too, and only as many as asked
    const csv = await call('GET', `/api/forward-tests/${id}/events?format=csv`);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.split('\r\n')[0]).toBe('status,was,reason,ts,at');
    expect((await call('GET', `/api/forward-tests/${id}/events?limit=2`)).json()).toEqual(ev.slice(0, 2));
    expect((await call('GET', `/api/forward-tests/${id}/events?limit=0`)).statusCode).toBe(400);
  });

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
    const ev = await events(id);
    expect(ev.at(-1)).toMatchObject({
      was: 'running',
      status: 'stopped',
      reason: 'risk limit: max_drawdown',
      ts: f[1].ts,
    });
    expect(sessionHaltSpans(ev, await session(id))).toEqual([
      { from: Date.parse(f[1].ts), until: Infinity, label: expect.stringMatching(/^Trading stopped: drawdown \(/) },
    ]);
    await sameAsPage(id);
  });

  it("its paper portfolio's daily loss: until a new day's tick resumes it with resumeNextDay, else until resumed by hand", async () => {
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
      const label = resumeNextDay
        ? /^Portfolio: Paused for the day: daily loss \(/
        : /^Portfolio: Paused: daily loss \(/;
      const at: number[] = [];
      for (const id of ids) {
        at.push(Date.parse(sourceTs(await fills(id), 'portfolio_max_daily_loss')));
        expect(sessionHaltSpans(await events(id), await session(id))).toEqual([
          { from: at.at(-1), until: Infinity, label: expect.stringMatching(label) },
        ]);
      }
      let back: number[];
      if (resumeNextDay) {
        // the next day's first tick of each symbol resumes its session, at that tick
        back = [];
        for (let i = 0; i < symbols.length; i++) {
          back.push(await tick(symbols[i]!, 100, 1));
          await until(async () => (await session(ids[i]!)).status === 'running');
        }
      } else {
        expect((await call('POST', `/api/forward-tests/portfolios/${pf.id}/resume`)).statusCode).toBe(200);
        // by hand: at each symbol's latest tick
        back = symbols.map((s) => last.get(s)!);
      }
      for (let i = 0; i < ids.length; i++) {
        const ev = await events(ids[i]!);
        expect(ev.at(-1)).toMatchObject({
          was: 'paused',
          status: 'running',
          reason: resumeNextDay ? expect.stringMatching(/^a new UTC day/) : null,
          ts: iso(back[i]!),
        });
        expect(sessionHaltSpans(ev, await session(ids[i]!))).toEqual([
          { from: at[i], until: back[i], label: expect.stringMatching(label) },
        ]);
        await sameAsPage(ids[i]!);
      }
      // the portfolio's timeline: its sessions', in the order made, each with its symbol
      const pev = (await call('GET', `/api/forward-tests/portfolios/${pf.id}/events`)).json();
      expect(
        pev
          .filter((e: { status: string }) => e.status === 'paused')
          .map((e: { symbol: string }) => e.symbol)
          .sort(),
      ).toEqual([...symbols].sort());
      expect(pev).toHaveLength((await events(ids[0]!)).length + (await events(ids[1]!)).length);
      // its page's span: from the latest of its sessions' pauses (each at its own symbol's tick) until the
      // first of them trades again
      expect(portfolioHaltSpans(pev, pf.portfolioRisk)).toEqual([
        { from: Math.max(...at), until: back[0], label: expect.stringMatching(label) },
      ]);
      // its HTML report's spans are its page's
      expect(plain(timelineSpans(pev, { portfolioRisk: pf.portfolioRisk }))).toEqual(
        plain(portfolioHaltSpans(pev, pf.portfolioRisk)),
      );
      if (resumeNextDay) {
        // its HTML report shades it, once its summed equity has a point after the pause (a tick after the
        // one that resumed each session marks it)
        const after = await tick(symbols[0]!, 101, 1);
        await until(async () => {
          await new Promise((r) => setTimeout(r, 50));
          const pts = (await call('GET', `/api/forward-tests/portfolios/${pf.id}/equity`)).json();
          return pts.some((p: { ts: string }) => Date.parse(p.ts) >= after);
        });
        const html = (await call('GET', `/api/forward-tests/portfolios/${pf.id}/equity?format=html`)).body;
        expect([...new Set(bandTitles(html))]).toEqual([expect.stringMatching(label)]);
      }
    }
  });
});
