import { backtestsRepo, type NewBacktest } from '@algotrade/adapters';
import { TOPICS } from '@algotrade/core';
import { templateById } from '@algotrade/strategy';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { artifactKeyOf, BACKTEST_QUEUE } from './worker.ts';

// The lists of backtests, sweeps and paper sessions: newest first, a page at a time (the next page in
// a Link header), filtered; a sweep's backtests apart from the other runs.
describe('lists of runs', () => {
  let t: TestApp;
  type User = Awaited<ReturnType<TestApp['user']>>;
  let b: User;
  const call = (u: User, method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  const repo = () => backtestsRepo(t.rt.db.db);
  const row = (u: User, extra: Partial<NewBacktest> = {}): NewBacktest => ({
    userId: u.id,
    strategyId: null,
    snapshot: { nodes: [], edges: [] },
    symbol: 'GOOG',
    interval: '1d',
    parameters: {},
    ...extra,
  });
  /** every page of a list, following the Link headers from `url`; the pages' lengths too */
  const allPages = async (u: User, url: string) => {
    const ids: string[] = [];
    const sizes: number[] = [];
    for (let next: string | null = url; next;) {
      const r = await call(u, 'GET', next);
      expect(r.statusCode).toBe(200);
      const page = r.json() as { id?: string; sweepId?: string }[];
      sizes.push(page.length);
      ids.push(...page.map((x) => x.id ?? x.sweepId!));
      const link = r.headers.link as string | undefined;
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
    }
    return { ids, sizes };
  };

  beforeAll(async () => {
    t = await startTestApp();
    b = await t.user();
  });
  afterAll(() => t.stop());

  it('pages through the backtests newest first, each once, rows made in the same instant included', async () => {
    const u = await t.user();
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await repo().create(row(u))).id);
    // four of them made in the same microsecond: the id decides between them
    await sql`update backtest_results set created_at = '2026-12-01T10:00:00.123456Z' where id = any(${sql.val(`{${made.slice(1, 5).join(',')}}`)}::uuid[])`.execute(
      t.rt.db.db,
    );
    const expected = (
      await sql<{
        id: string;
      }>`select id from backtest_results where user_id = ${u.id} order by created_at desc, id desc`.execute(t.rt.db.db)
    ).rows.map((r) => r.id);
    const { ids, sizes } = await allPages(u, '/api/backtests?limit=3');
    expect(ids).toEqual(expected);
    expect(sizes).toEqual([3, 3, 1]);
    // one page of all: no Link
    const whole = await call(u, 'GET', '/api/backtests?limit=7');
    expect(whole.json()).toHaveLength(7);
    expect(whole.headers.link).toBeUndefined();
    // the Link keeps the filters it was asked with
    const first = await call(u, 'GET', '/api/backtests?limit=2&status=queued&symbol=goog');
    expect(first.headers.link).toMatch(
      /^<\/api\/backtests\?limit=2&status=queued&symbol=goog&before=\d+\.[0-9a-f-]{36}>; rel="next"$/,
    );
    // a row deleted after its page was read moves nothing
    const page1 = first.json().map((x: { id: string }) => x.id);
    await repo().delete(page1[1], u.id);
    const next = /^<([^>]+)>/.exec(first.headers.link as string)![1]!;
    expect((await call(u, 'GET', next)).json().map((x: { id: string }) => x.id)).toEqual(expected.slice(2, 4));
    // nothing of another user's, and a cursor that is not one is a 400 naming it
    expect((await call(b, 'GET', next)).json()).toEqual([]);
    for (const bad of ['x', '12.not-a-uuid', `1.${randomUUID()}x`, `${'9'.repeat(18)}.${randomUUID()}`]) {
      const r = await call(u, 'GET', `/api/backtests?before=${encodeURIComponent(bad)}`);
      expect(r.statusCode).toBe(400);
      expect(r.json().error.message).toMatch(/before/);
    }
    // every run as a CSV, across the pages the server reads for it (over 500 rows)
    await sql`insert into backtest_results (user_id, strategy_snapshot, symbol, interval, parameters, status, metrics, created_at, name)
      select ${u.id}, '{}'::jsonb, 'GOOG', '1d', jsonb_build_object('combo', jsonb_build_object('n', i)), 'done',
        jsonb_build_object('sharpe', i / 100.0, 'trades', i), now() - make_interval(days => 30, secs => i), 'bulk ' || i
      from generate_series(1, 600) i`.execute(t.rt.db.db);
    const csv = await call(u, 'GET', '/api/backtests?format=csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trimEnd().split('\r\n');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 4)).toEqual(['id', 'createdAt', 'name', 'kind']);
    expect(header).toEqual(expect.arrayContaining(['sharpe', 'trades', 'returnPct', 'combo', 'note']));
    const body = lines.slice(1).map((l) => l.split(','));
    expect(body).toHaveLength(606);
    expect(new Set(body.map((x) => x[0])).size).toBe(606);
    // newest first: the six made above, then the 600 from a month ago, bulk 1 first
    expect(body.slice(0, 6).map((x) => x[0])).toEqual(expected.filter((x) => x !== page1[1]));
    const at = (k: string) => header.indexOf(k);
    expect([body[6]![at('name')], body[6]![at('sharpe')], body[6]![at('trades')]]).toEqual(['bulk 1', '0.01', '1']);
    expect(csv.headers.link).toBeUndefined();
    // the filters hold for the file too
    const few = await call(u, 'GET', '/api/backtests?format=csv&q=bulk%2059');
    expect(
      few.body
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',')[at('name')]),
    ).toEqual([
      'bulk 59',
      'bulk 590',
      'bulk 591',
      'bulk 592',
      'bulk 593',
      'bulk 594',
      'bulk 595',
      'bulk 596',
      'bulk 597',
      'bulk 598',
      'bulk 599',
    ]);
    expect((await call(b, 'GET', '/api/backtests?format=csv')).body.trimEnd().split('\r\n')).toHaveLength(1);
    for (const q of ['limit=0', 'limit=501', 'kind=other', 'status=over', 'symbol=a%20b', 'unknown=1', 'format=xml'])
      expect((await call(u, 'GET', `/api/backtests?${q}`)).statusCode).toBe(400);
  });

  it("filters the backtests by kind, symbol, strategy and status; a sweep's only when asked", async () => {
    const u = await t.user();
    const strategyId = (await call(u, 'POST', '/api/strategies/templates/sma-crossover')).json().id;
    const single = await repo().create(row(u, { strategyId }));
    const other = await repo().create(row(u, { symbol: 'BTCUSD', interval: '1h' }));
    const portfolio = await repo().create(
      row(u, {
        symbol: 'GOOG,BTCUSD',
        parameters: { portfolio: { symbols: ['GOOG', 'BTCUSD'], weights: [0.5, 0.5] } },
      }),
    );
    const wf = await repo().create(row(u, { parameters: { walkForward: { folds: 4 } } }));
    const sweepId = randomUUID();
    const points = [
      await repo().create(row(u, { sweepId, parameters: { combo: { n: 1 } } })),
      // a sweep over a portfolio: listed as the sweep's, not as a portfolio backtest
      await repo().create(
        row(u, {
          sweepId,
          symbol: 'GOOG,BTCUSD',
          parameters: { combo: { n: 2 }, portfolio: { symbols: ['GOOG', 'BTCUSD'] } },
        }),
      ),
    ];
    await repo().update(other.id, { status: 'failed', error: 'no candles' });
    const ids = async (q: string) =>
      ((await call(u, 'GET', `/api/backtests${q}`)).json() as { id: string }[]).map((x) => x.id).sort();
    const sorted = (...xs: { id: string }[]) => xs.map((x) => x.id).sort();
    expect(await ids('')).toEqual(sorted(single, other, portfolio, wf));
    expect(await ids('?kind=sweep')).toEqual(sorted(...points));
    expect(await ids('?kind=single')).toEqual(sorted(single, other));
    expect(await ids('?kind=portfolio')).toEqual(sorted(portfolio));
    expect(await ids('?kind=walk-forward')).toEqual(sorted(wf));
    // a portfolio's symbols count: BTCUSD is in it
    expect(await ids('?symbol=btcusd')).toEqual(sorted(other, portfolio));
    expect(await ids('?symbol=BTCUSD&kind=sweep')).toEqual(sorted(points[1]!));
    expect(await ids(`?strategyId=${strategyId}`)).toEqual(sorted(single));
    expect(await ids('?strategyId=not-an-id')).toEqual([]);
    expect(await ids('?status=failed')).toEqual(sorted(other));
    // each with its shape: the point over a portfolio is a portfolio backtest of the sweep
    const kinds = (await call(u, 'GET', '/api/backtests?kind=sweep'))
      .json()
      .map((x: { kind: string; sweepId: string }) => [x.kind, x.sweepId]);
    expect(kinds).toEqual([
      ['portfolio', sweepId],
      ['sweep', sweepId],
    ]);
  });

  it("lists the sweeps with their progress and their best point, as each sweep's ranking has it", async () => {
    const u = await t.user();
    expect((await t.importGoog(u.auth)).imported).toBe(2148);
    // a real grid sweep of four on GOOG's daily bars, ranked by return
    const r = await call(u, 'POST', '/api/backtests/sweep', {
      graph: templateById('sma-crossover')!.graph,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      params: { 'fast.period': [5, 10], 'slow.period': [20, 30] },
      rankBy: 'returnPct',
    });
    expect(r.statusCode).toBe(202);
    const grid = r.json().sweepId as string;
    await until(async () => (await call(u, 'GET', `/api/backtests/sweeps/${grid}`)).json().done === 4);
    const ranking = (await call(u, 'GET', `/api/backtests/sweeps/${grid}`)).json();

    // a sweep made row by row: ranked by Sharpe with at least 5 trades, so the highest Sharpe (3 trades)
    // ranks last and the best is the 1.2; one failed, one without a Sharpe, one still queued
    const made = randomUUID();
    const parameters = (n: number) => ({ combo: { n }, rankBy: 'sharpe', minTrades: 5, sample: { count: 5, seed: 1 } });
    const mk = async (n: number, status: 'done' | 'failed' | null, metrics?: object) => {
      const x = await repo().create(row(u, { sweepId: made, parameters: parameters(n) }));
      if (status) await repo().update(x.id, { status, ...(metrics ? { metrics } : {}), finishedAt: new Date() });
      return x;
    };
    await mk(1, 'done', { sharpe: 2.5, trades: 3 });
    const best = await mk(2, 'done', { sharpe: 1.2, trades: 6 });
    await mk(3, 'done', { sharpe: 0.4, trades: 9 });
    await mk(4, 'done', { sharpe: null, trades: 0 });
    await mk(5, 'failed');
    await mk(6, null);

    const list = (await call(u, 'GET', '/api/backtests/sweeps')).json();
    expect(list.map((s: { sweepId: string }) => s.sweepId)).toEqual([made, grid]);
    const [m, g] = list;
    expect(g).toMatchObject({
      strategyId: null,
      symbol: 'GOOG',
      interval: '1d',
      method: 'grid',
      rankBy: 'returnPct',
      status: 'done',
      total: 4,
      done: 4,
      failed: 0,
      queued: 0,
      progress: 1,
      best: {
        backtestId: ranking.ranked[0].id,
        combo: ranking.ranked[0].combo,
        returnPct: ranking.ranked[0].returnPct,
      },
    });
    expect(Date.parse(g.finishedAt)).toBeGreaterThanOrEqual(Date.parse(g.createdAt));
    expect(m).toMatchObject({ method: 'random', rankBy: 'sharpe', minTrades: 5, status: 'running', total: 6 });
    expect(m).toMatchObject({
      done: 4,
      failed: 1,
      queued: 1,
      progress: 5 / 6,
      best: { backtestId: best.id, sharpe: 1.2 },
    });
    expect(m.finishedAt).toBeUndefined();
    // the same best as the sweep's own ranking
    expect((await call(u, 'GET', `/api/backtests/sweeps/${made}`)).json().ranked[0].id).toBe(best.id);

    // a page at a time, by symbol; another user sees none of them
    expect((await allPages(u, '/api/backtests/sweeps?limit=1')).ids).toEqual([made, grid]);
    expect((await call(u, 'GET', '/api/backtests/sweeps?symbol=BTCUSD')).json()).toEqual([]);
    expect((await call(b, 'GET', '/api/backtests/sweeps')).json()).toEqual([]);
    expect((await call(u, 'GET', '/api/backtests/sweeps?limit=201')).statusCode).toBe(400);
  });

  it('deletes a sweep with its backtests and their results files, those running as it goes included', async () => {
    const u = await t.user();
    expect((await t.importGoog(u.auth)).imported).toBe(2148);
    const sweep = (params: object) =>
      call(u, 'POST', '/api/backtests/sweep', {
        graph: templateById('sma-crossover')!.graph,
        symbol: 'GOOG',
        interval: '1d',
        params,
      });
    const stored = async (ids: string[]) =>
      (await Promise.all(ids.map((id) => t.rt.store.get(artifactKeyOf(id))))).filter((x) => x !== null).length;
    const done = (await sweep({ 'fast.period': [5, 10], 'slow.period': [20, 30] })).json();
    await until(async () => (await call(u, 'GET', `/api/backtests/sweeps/${done.sweepId}`)).json().done === 4);
    expect(await stored(done.ids)).toBe(4);
    // not another user's to delete
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/backtests/sweeps/${done.sweepId}`, headers: b.auth }))
        .statusCode,
    ).toBe(404);
    expect((await call(u, 'GET', `/api/backtests/sweeps/${done.sweepId}`)).statusCode).toBe(200);
    const del = () => t.app.inject({ method: 'DELETE', url: `/api/backtests/sweeps/${done.sweepId}`, headers: u.auth });
    expect((await del()).statusCode).toBe(204);
    expect((await call(u, 'GET', `/api/backtests/sweeps/${done.sweepId}`)).statusCode).toBe(404);
    for (const id of done.ids) expect((await call(u, 'GET', `/api/backtests/${id}`)).statusCode).toBe(404);
    expect(await stored(done.ids)).toBe(0);
    expect((await call(u, 'GET', '/api/backtests/sweeps')).json()).toEqual([]);
    expect((await del()).statusCode).toBe(404);

    // sixteen points, deleted at once: those running when it went leave nothing behind when they end
    const running = (await sweep({ 'fast.period': [3, 5, 8, 10], 'slow.period': [20, 30, 40, 50] })).json();
    await until(async () => (await call(u, 'GET', `/api/backtests/${running.ids[0]}`)).json().status !== 'queued');
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/backtests/sweeps/${running.sweepId}`, headers: u.auth }))
        .statusCode,
    ).toBe(204);
    await until(async () => {
      const states = await Promise.all(running.ids.map((id: string) => t.rt.queue.state(BACKTEST_QUEUE, id)));
      return states.every((s) => s.state !== 'waiting' && s.state !== 'active');
    });
    const left = await sql<{
      n: string;
    }>`select count(*) as n from backtest_results where sweep_id = ${running.sweepId}`.execute(t.rt.db.db);
    expect(Number(left.rows[0]!.n)).toBe(0);
    expect(await stored(running.ids)).toBe(0);
  });

  it('names and notes a backtest and a sweep, and finds them by their words', async () => {
    const u = await t.user();
    expect((await t.importGoog(u.auth)).imported).toBe(2148);
    const patch = (who: User, url: string, payload: object) =>
      t.app.inject({ method: 'PATCH', url, headers: who.auth, payload });
    const graph = templateById('sma-crossover')!.graph;
    const run = { graph, symbol: 'GOOG', interval: '1d' };
    const one = await call(u, 'POST', '/api/backtests', { ...run, name: ' Breakout v2 ', note: 'after the 50% cut' });
    expect(one.statusCode, one.body).toBe(202);
    const id = one.json().id;
    expect((await call(u, 'GET', `/api/backtests/${id}`)).json()).toMatchObject({
      name: 'Breakout v2',
      note: 'after the 50% cut',
    });
    const plain = (await call(u, 'POST', '/api/backtests', run)).json().id;
    // its end on the bus (what webhooks and the page take) carries its name
    const ends: Record<string, unknown>[] = [];
    const sub = await t.rt.bus.subscribe(TOPICS.realtimeUpdates.name, { group: 'named-end-test' }, async (m) => {
      if (m.type === 'backtest.done') ends.push(m.data as Record<string, unknown>);
    });
    const told = (await call(u, 'POST', '/api/backtests', { ...run, name: 'Told by name' })).json().id;
    await until(() => ends.some((e) => e.backtestId === told));
    await sub.close();
    expect(ends.find((e) => e.backtestId === told)).toMatchObject({ name: 'Told by name', userId: u.id });
    expect((await call(u, 'GET', `/api/backtests/${plain}`)).json()).toMatchObject({ name: null, note: null });
    // renamed, its note cleared; absent keeps
    const r = await patch(u, `/api/backtests/${id}`, { name: 'Breakout v3' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ id, name: 'Breakout v3', note: 'after the 50% cut', symbol: 'GOOG' });
    expect((await patch(u, `/api/backtests/${id}`, { note: null })).json()).toMatchObject({
      name: 'Breakout v3',
      note: null,
    });
    await patch(u, `/api/backtests/${plain}`, { note: 'Plain, 100% in' });
    for (const [body, code] of [
      [{}, 400],
      [{ name: '' }, 400],
      [{ name: 'x'.repeat(201) }, 400],
      [{ colour: 'red' }, 400],
    ] as const)
      expect((await patch(u, `/api/backtests/${id}`, body)).statusCode).toBe(code);
    expect((await patch(b, `/api/backtests/${id}`, { name: 'mine now' })).statusCode).toBe(404);
    expect((await call(u, 'GET', `/api/backtests/${id}`)).json().name).toBe('Breakout v3');

    // a sweep named for all its backtests, an adaptive one's proposed points too
    const sw = await call(u, 'POST', '/api/backtests/sweep', {
      ...run,
      name: 'Fast periods',
      params: { 'fast.period': [3, 5, 8, 10, 13, 21], 'slow.period': [30, 50] },
      sample: { method: 'tpe', count: 5, startup: 2, seed: 3 },
    });
    expect(sw.statusCode, sw.body).toBe(202);
    const sweepId = sw.json().sweepId;
    await until(async () => (await call(u, 'GET', `/api/backtests/sweeps/${sweepId}`)).json().done === 5);
    const points = (await call(u, 'GET', '/api/backtests?kind=sweep&q=fast%20PERIODS')).json();
    expect(points).toHaveLength(5);
    expect((await call(u, 'GET', `/api/backtests/sweeps/${sweepId}`)).json().name).toBe('Fast periods');
    const renamed = await patch(u, `/api/backtests/sweeps/${sweepId}`, { name: 'Fast only' });
    expect(renamed.json()).toEqual({ sweepId, name: 'Fast only' });
    expect((await call(u, 'GET', '/api/backtests/sweeps')).json().map((x: { name: string }) => x.name)).toEqual([
      'Fast only',
    ]);
    expect((await call(u, 'GET', '/api/backtests?kind=sweep&q=fast%20only')).json()).toHaveLength(5);
    expect((await patch(b, `/api/backtests/sweeps/${sweepId}`, { name: 'x' })).statusCode).toBe(404);
    expect((await patch(u, `/api/backtests/sweeps/${randomUUID()}`, { name: 'x' })).statusCode).toBe(404);
    expect((await call(u, 'GET', '/api/backtests/sweeps?q=nothing')).json()).toEqual([]);

    // words in a name or a note, case aside; % and _ are only themselves
    const found = async (q: string) =>
      ((await call(u, 'GET', `/api/backtests?q=${encodeURIComponent(q)}`)).json() as { id: string }[]).map((x) => x.id);
    expect(await found('breakout')).toEqual([id]);
    expect(await found('plain')).toEqual([plain]);
    expect(await found('%')).toEqual([plain]);
    expect(await found('_')).toEqual([]);
    expect(await found('0% in')).toEqual([plain]);
    expect((await call(b, 'GET', '/api/backtests?q=breakout')).json()).toEqual([]);
    expect((await call(u, 'GET', `/api/backtests?q=${'x'.repeat(201)}`)).statusCode).toBe(400);
  });

  it('pages through the paper sessions and filters them', async () => {
    const u = await t.user();
    const strategyId = (await call(u, 'POST', '/api/strategies/templates/sma-crossover')).json().id;
    const made: { id: string; symbol: string; status: string }[] = [];
    for (const symbol of ['AAAUSD', 'BBBUSD', 'AAAUSD', 'CCCUSD', 'AAAUSD']) {
      const r = await call(u, 'POST', '/api/forward-tests', { strategyId, symbol, start: false });
      expect(r.statusCode).toBe(201);
      made.push(r.json());
    }
    const newest = made.map((s) => s.id).reverse();
    const { ids, sizes } = await allPages(u, '/api/forward-tests?limit=2');
    expect(ids).toEqual(newest);
    expect(sizes).toEqual([2, 2, 1]);
    expect(
      ((await call(u, 'GET', '/api/forward-tests?symbol=aaausd')).json() as { id: string }[]).map((x) => x.id),
    ).toEqual(
      made
        .filter((s) => s.symbol === 'AAAUSD')
        .map((s) => s.id)
        .reverse(),
    );
    await call(u, 'POST', `/api/forward-tests/${made[1]!.id}/start`);
    const running = (await call(u, 'GET', '/api/forward-tests?status=running')).json();
    expect(running.map((x: { id: string }) => x.id)).toEqual([made[1]!.id]);
    expect((await call(u, 'GET', `/api/forward-tests?strategyId=${strategyId}&limit=1`)).headers.link).toMatch(
      /rel="next"/,
    );
    expect((await call(b, 'GET', '/api/forward-tests')).json()).toEqual([]);
    expect((await call(u, 'GET', '/api/forward-tests?status=asleep')).statusCode).toBe(400);
    expect((await call(u, 'GET', '/api/forward-tests?before=nope')).statusCode).toBe(400);
  });
});
