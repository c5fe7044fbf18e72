import fc from 'fast-check';
import { checkStrategy, compileGraph, generateCandles, templateById, toColumns } from '@algotrade/strategy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';

describe('strategy service', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  beforeAll(async () => {
    t = await startTestApp();
    a = await t.user();
    b = await t.user();
  });
  afterAll(() => t.stop());

  const req = (u: typeof a, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload !== undefined ? { payload: payload as object } : {}) });

  it('lists node types with ports and JSON-Schema params, and the templates', async () => {
    const types = (await req(a, 'GET', '/api/strategies/node-types')).json();
    expect(types.length).toBeGreaterThanOrEqual(25);
    expect(types.find((x: { type: string }) => x.type === 'indicator.rsi')).toMatchObject({
      category: 'indicator',
      inputs: [{ name: 'value', kind: 'number' }],
      params: { type: 'object', properties: { period: { type: 'integer', default: 14, minimum: 1 } } },
    });
    const tpl = (await req(a, 'GET', '/api/strategies/templates')).json();
    expect(tpl.map((x: { id: string }) => x.id)).toEqual(
      expect.arrayContaining([
        'sma-crossover',
        'ema-crossover',
        'rsi-mean-reversion',
        'rsi-scale-in',
        'macd-signal-cross',
        'bollinger-breakout',
        'donchian-breakout',
        'supertrend-follow',
      ]),
    );
  });

  it('compiles (200 with ok=false for invalid graphs) and previews series and signals', async () => {
    const good = await req(a, 'POST', '/api/strategies/compile', { graph: templateById('sma-crossover')!.graph });
    expect(good.json()).toMatchObject({ ok: true, warmup: 30, order: expect.arrayContaining(['close', 'buy']) });
    const bad = await req(a, 'POST', '/api/strategies/compile', {
      graph: { nodes: [{ id: 'n', type: 'nope' }], edges: [] },
    });
    expect(bad.statusCode).toBe(200);
    expect(bad.json().errors[0]).toMatchObject({ nodeId: 'n', code: 'UNKNOWN_NODE_TYPE' });
    const candles = generateCandles(200, 5).map((c) => ({ ...c, ts: new Date(c.ts).toISOString() }));
    const p = (
      await req(a, 'POST', '/api/strategies/preview', { graph: templateById('sma-crossover')!.graph, candles })
    ).json();
    expect(p.ok).toBe(true);
    expect(p.series.slow.value).toHaveLength(200);
    expect(p.series.slow.value[28]).toBeNull();
    expect(typeof p.series.slow.value[29]).toBe('number');
    expect(p.signals.every((s: { action: string }) => ['buy', 'sell'].includes(s.action))).toBe(true);
  });

  it("checks a strategy on stored candles: no look-ahead, the same one bar at a time, each value's warm-up", async () => {
    expect((await t.importGoog(a.auth, 'GOOGCHK')).imported).toBe(2148);
    const graph = templateById('rsi-mean-reversion')!.graph;
    const res = await req(a, 'POST', '/api/strategies/check', { graph, symbol: 'googchk', interval: '1d' });
    expect(res.statusCode).toBe(200);
    const r = res.json();
    // the same check as the engine's over the same stored bars
    const stored = (await req(a, 'GET', '/api/market/symbols/GOOGCHK/candles?interval=1d&limit=5000')).json();
    const rows = (stored.candles ?? stored) as {
      ts: string;
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
    }[];
    const cols = toColumns(rows.map((c) => ({ ...c, ts: Date.parse(c.ts) })).sort((x, y) => x.ts - y.ts));
    const direct = await checkStrategy(compileGraph(graph).plan!, cols);
    expect(r).toMatchObject({ ok: true, bars: cols.length, declaredWarmup: 15 });
    expect(r.lookahead).toEqual({ ok: true, barsChecked: 60, mismatches: [] });
    expect(r.live).toMatchObject({ ok: true, barsChecked: cols.length, mismatches: [] });
    expect(r.warmup).toEqual(JSON.parse(JSON.stringify(direct.warmup)));
    // RSI(14) moves by more than 0.1 % of its size between 16 bars of history and all of it
    const rsi = r.warmup.outputs.find((o: { nodeId: string }) => o.nodeId === 'rsi');
    expect(rsi.diffPct[0]).toBeGreaterThan(0.1);
    expect(rsi.settledBars).toBeGreaterThan(16);
    // chosen starts and a looser tolerance
    const loose = (
      await req(a, 'POST', '/api/strategies/check', {
        graph,
        symbol: 'GOOGCHK',
        interval: '1d',
        starts: [16, 50, 200],
        tolerancePct: 5,
      })
    ).json();
    expect(loose.warmup.starts).toEqual([16, 50, 200]);
    expect(loose.warmup.tolerancePct).toBe(5);
    // a saved strategy by its id: the caller's is checked as its graph is, another user's is not found
    const c = await t.user();
    const saved = (await req(c, 'POST', '/api/strategies', { name: 'rsi', graph })).json();
    const byId = (who: typeof a, extra: object = {}) =>
      req(who, 'POST', '/api/strategies/check', { strategyId: saved.id, symbol: 'GOOGCHK', interval: '1d', ...extra });
    const mine = await byId(c);
    expect(mine.statusCode, mine.body).toBe(200);
    expect(mine.json().warmup).toEqual(r.warmup);
    const theirs = await byId(b);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json().error.message).toMatch(/strategy/);
    expect((await byId(c, { graph })).json().error.message).toBe('give either a graph or a strategyId');
    // a graph that does not compile: its errors, as the compile route gives them
    const bad = (
      await req(a, 'POST', '/api/strategies/check', {
        graph: { nodes: [{ id: 'n', type: 'nope' }], edges: [] },
        symbol: 'GOOGCHK',
      })
    ).json();
    expect(bad.ok).toBe(false);
    expect(bad.errors[0]).toMatchObject({ nodeId: 'n', code: 'UNKNOWN_NODE_TYPE' });
    // bad requests are 400s that say what is wrong
    for (const [body, words] of [
      [{ graph }, /candles or a symbol/],
      [{ symbol: 'GOOGCHK' }, /give a graph or a strategyId/],
      [{ graph, symbol: 'NOSUCH', interval: '1d' }, /fewer than two stored 1d candles of NOSUCH/],
      [{ graph, symbol: 'GOOGCHK', starts: [0] }, /starts/],
      [{ graph, symbol: 'GOOGCHK', starts: [] }, /starts/],
      [{ graph, symbol: 'GOOGCHK', cuts: 0 }, /cuts/],
      [{ graph, symbol: 'GOOGCHK', tolerancePct: -1 }, /tolerancePct/],
      [{ graph, candles: [{ ts: 1, open: 1, high: 1, low: 1, close: 1 }] }, /at least two candles/],
    ] as const) {
      const x = await req(a, 'POST', '/api/strategies/check', body);
      expect(x.statusCode, JSON.stringify(body)).toBe(400);
      expect(x.json().error.message).toMatch(words);
    }
  });

  it('creates, reads, updates and deletes strategies scoped to the caller; others get 404', async () => {
    const created = await req(a, 'POST', '/api/strategies', {
      name: 'mine',
      graph: templateById('ema-crossover')!.graph,
    });
    expect(created.statusCode).toBe(201);
    const s = created.json();
    expect(s).toMatchObject({ name: 'mine', compilationReport: { ok: true } });
    expect(s.graph.version).toBe(1);
    const fromTpl = await req(a, 'POST', '/api/strategies/templates/rsi-mean-reversion');
    expect(fromTpl.statusCode).toBe(201);

    expect((await req(a, 'GET', `/api/strategies/${s.id}`)).statusCode).toBe(200);
    expect((await req(a, 'GET', '/api/strategies')).json()).toHaveLength(2);
    for (const [m, body] of [['GET'], ['PUT', { name: 'stolen' }], ['DELETE']] as const)
      expect((await req(b, m, `/api/strategies/${s.id}`, body)).statusCode, `${m} by another user`).toBe(404);
    expect((await req(b, 'GET', '/api/strategies')).json()).toEqual([]);
    expect((await req(a, 'GET', '/api/strategies/not-a-uuid')).statusCode).toBe(404);

    const renamed = await req(a, 'PUT', `/api/strategies/${s.id}`, {
      name: 'renamed',
      graph: templateById('sma-crossover')!.graph,
    });
    expect(renamed.json()).toMatchObject({ name: 'renamed', compilationReport: { warmup: 30 } });
    expect((await req(a, 'DELETE', `/api/strategies/${s.id}`)).statusCode).toBe(204);
    expect((await req(a, 'GET', `/api/strategies/${s.id}`)).statusCode).toBe(404);
  });

  it('keeps a version for each save that changes behaviour; lists, reads and restores them; others get 404', async () => {
    const g1 = templateById('sma-crossover')!.graph;
    const s = (await req(a, 'POST', '/api/strategies', { name: 'versioned', graph: g1 })).json();
    expect(s.version).toBe(1);
    // moving a node and renaming change no behaviour: still version 1
    const moved = structuredClone(g1);
    moved.nodes[0]!.position = { x: 999, y: 999 };
    expect((await req(a, 'PUT', `/api/strategies/${s.id}`, { name: 'versioned!', graph: moved })).json().version).toBe(
      1,
    );
    // another period does: version 2, then 3
    const g2 = structuredClone(g1);
    g2.nodes.find((n) => n.id === 'fast')!.data = { period: 5 };
    expect((await req(a, 'PUT', `/api/strategies/${s.id}`, { graph: g2 })).json().version).toBe(2);
    const g3 = structuredClone(g1);
    g3.nodes.find((n) => n.id === 'fast')!.data = { period: 7 };
    expect((await req(a, 'PUT', `/api/strategies/${s.id}`, { graph: g3 })).json().version).toBe(3);

    const list = (await req(a, 'GET', `/api/strategies/${s.id}/versions`)).json();
    expect(list.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(list[2]).toMatchObject({ name: 'versioned', graphHash: s.graphHash });
    expect(list[0].graph).toBeUndefined(); // the list is light: a version's graph comes on its own
    const v2 = (await req(a, 'GET', `/api/strategies/${s.id}/versions/2`)).json();
    expect(v2.graph.nodes.find((n: { id: string }) => n.id === 'fast').data).toEqual({ period: 5 });

    // restoring version 2 makes version 4 with its graph; restoring the latest again adds nothing
    const restored = (await req(a, 'POST', `/api/strategies/${s.id}/versions/2/restore`)).json();
    expect(restored.version).toBe(4);
    expect(restored.graphHash).toBe(v2.graphHash);
    expect(restored.graph.nodes.find((n: { id: string }) => n.id === 'fast').data).toEqual({ period: 5 });
    expect((await req(a, 'POST', `/api/strategies/${s.id}/versions/4/restore`)).json().version).toBe(4);

    // a backtest and a session record the version they ran
    await t.importGoog(a.auth);
    const bt = (await req(a, 'POST', '/api/backtests', { strategyId: s.id, symbol: 'GOOG' })).json();
    expect((await req(a, 'GET', `/api/backtests/${bt.id}`)).json().parameters.strategyVersion).toBe(4);
    const session = (
      await req(a, 'POST', '/api/forward-tests', { strategyId: s.id, symbol: 'BTCUSD', start: false })
    ).json();
    expect(session.config.strategyVersion).toBe(4);

    for (const url of [`/api/strategies/${s.id}/versions`, `/api/strategies/${s.id}/versions/1`])
      expect((await req(b, 'GET', url)).statusCode).toBe(404);
    expect((await req(b, 'POST', `/api/strategies/${s.id}/versions/1/restore`)).statusCode).toBe(404);
    expect((await req(a, 'GET', `/api/strategies/${s.id}/versions/99`)).statusCode).toBe(404);
    expect((await req(a, 'GET', `/api/strategies/${s.id}/versions/0`)).statusCode).toBe(400);
    // versions go with their strategy
    expect((await req(a, 'DELETE', `/api/strategies/${s.id}`)).statusCode).toBe(204);
    expect((await req(a, 'GET', `/api/strategies/${s.id}/versions`)).statusCode).toBe(404);
    const left = await t.rt.db.db
      .selectFrom('strategy_versions')
      .select('version')
      .where('strategy_id', '=', s.id)
      .execute();
    expect(left).toEqual([]);
  });

  it('saving publishes the compile result on strategy-compilations', async () => {
    const seen: unknown[] = [];
    const sub = await t.rt.bus.subscribe('strategy-compilations', { group: 'test' }, (m) => void seen.push(m.data));
    const s = (await req(a, 'POST', '/api/strategies/templates/sma-crossover')).json();
    await new Promise((r) => setTimeout(r, 20));
    await sub.close();
    expect(seen).toEqual([
      expect.objectContaining({ strategyId: s.id, report: expect.objectContaining({ ok: true }) }),
    ]);
  });

  it('never answers 500 to any JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/api/strategies', '/api/strategies/compile', '/api/strategies/preview'),
        fc.jsonValue(),
        async (url, body) => {
          const r = await t.app.inject({
            method: 'POST',
            url,
            headers: { ...a.auth, 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          expect(r.statusCode, `${url} ${JSON.stringify(body)} -> ${r.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
