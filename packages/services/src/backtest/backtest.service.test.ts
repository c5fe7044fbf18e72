import { readFileSync } from 'node:fs';
import { deflatedSharpe, momentsOf, pboCscv, returnsOf, sharpeOf, TOPICS } from '@algotrade/core';
import {
  comboVariants,
  compileGraph,
  paramInteractions,
  runBacktest,
  scoreOf,
  templateById,
  type Combo,
} from '@algotrade/strategy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { tightCrossover, viaOtherSymbol } from '../../../../test/helpers/graphs.ts';
import { freqtradeMinutes } from '../../../../test/helpers/freqtrade.ts';
import { googBars } from '../../../../test/helpers/goog.ts';
import { bruteFront } from '../../../../test/helpers/pareto.ts';
import { candlesRepo, symbolsRepo, type BacktestRow } from '@algotrade/adapters';
import { resumeStalledSearches } from './adaptive.ts';
import { candlesOf, queueBacktest, sweepCandles } from './worker.ts';

describe('backtest service', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  const call = (u: typeof a, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  const waitDone = (u: typeof a, id: string) =>
    until(async () =>
      ['done', 'failed', 'cancelled'].includes((await call(u, 'GET', `/api/backtests/${id}`)).json().status),
    );

  beforeAll(async () => {
    t = await startTestApp();
    a = await t.user();
    b = await t.user();
    expect((await t.importGoog(a.auth)).imported).toBe(2148);
  });
  afterAll(() => t.stop());
  /** a crossover's grid of 29 × 34 = 986 points on GOOG's daily bars, ranked by Sharpe */
  const bigGrid = () => ({
    graph: templateById('sma-crossover')!.graph,
    symbol: 'GOOG',
    interval: '1d',
    startingBalance: 10_000,
    params: { 'fast.period': { from: 2, to: 30, step: 1 }, 'slow.period': { from: 35, to: 200, step: 5 } },
    rankBy: 'sharpe',
  });

  it('queues, reports progress, and stores the golden SMA crossover result', async () => {
    const strat = (await call(a, 'POST', '/api/strategies/templates/sma-crossover')).json();
    const r = await call(a, 'POST', '/api/backtests', {
      strategyId: strat.id,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      allowShort: true,
    });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({ id: expect.any(String), status: 'queued' });
    const id = r.json().id;
    await waitDone(a, id);
    const res = (await call(a, 'GET', `/api/backtests/${id}`)).json();
    expect(res).toMatchObject({ status: 'done', progress: 1, metrics: { trades: 66 } });
    expect(res.metrics.returnPct).toBeCloseTo(414.2298999999996, 8);
    expect(res.metrics.sharpe).toBeCloseTo(0.5806232244485349, 10);
    // the analytics report: the stored statistics plus VaR/CVaR, skew, streaks... from the stored results
    const an = (await call(a, 'GET', `/api/analytics/backtests/${id}`)).json();
    expect(an.report.sharpe).toBeCloseTo(0.5806232244485349, 10);
    expect(an.report).toMatchObject({ returnsBasis: 'period', trades: 66 });
    expect(an.report.longTrades + an.report.shortTrades).toBe(66);
    expect(an.report.cvar95Pct).toBeGreaterThanOrEqual(an.report.var95Pct);
    expect((await call(b, 'GET', `/api/analytics/backtests/${id}`)).statusCode).toBe(404);
    // Monte Carlo over its 66 trades: the run's own figures from its trades, and the spread of others
    const mc = (await call(a, 'GET', `/api/analytics/backtests/${id}/monte-carlo?runs=2000&seed=5`)).json();
    expect(mc).toMatchObject({ method: 'bootstrap', runs: 2000, seed: 5, trades: 66 });
    expect(mc.actual.returnPct).toBeCloseTo(414.2298999999996, 6); // start + the trades' PnL, as backtesting.py
    // trade to trade it dips less than bar to bar (backtesting.py's -47.98 %)
    expect(mc.actual.maxDrawdownPct).toBeGreaterThan(-47.99);
    expect(mc.returnPct.p5).toBeLessThan(mc.returnPct.p50);
    expect(mc.probabilityOfLoss).toBeGreaterThanOrEqual(0);
    const shuffled = (
      await call(a, 'GET', `/api/analytics/backtests/${id}/monte-carlo?method=shuffle&runs=100`)
    ).json();
    expect(shuffled.returnPct.p5).toBeCloseTo(mc.actual.returnPct, 6);
    expect((await call(a, 'GET', `/api/analytics/backtests/${id}/monte-carlo?runs=5`)).statusCode).toBe(400);
    expect((await call(b, 'GET', `/api/analytics/backtests/${id}/monte-carlo`)).statusCode).toBe(404);
    const trades = (await call(a, 'GET', `/api/backtests/${id}/trades`)).json();
    expect(trades).toHaveLength(66);
    // each trade's excursions, and the report's mean and extremes of them
    const maes = trades.map((t: { mae: number }) => t.mae);
    expect(maes.every((x: number) => x <= 0)).toBe(true);
    expect(an.report.avgMaePct).toBeCloseTo((maes.reduce((s: number, x: number) => s + x, 0) / 66) * 100, 9);
    expect(an.report.worstMaePct).toBeCloseTo(Math.min(...maes) * 100, 9);
    expect(an.report.bestMfePct).toBeCloseTo(Math.max(...trades.map((t: { mfe: number }) => t.mfe)) * 100, 9);
    expect(trades[0]).toMatchObject({ size: -55, entryPrice: 180.36, entryTime: '2004-11-29T00:00:00.000Z' });
    // the same trades as CSV, for a spreadsheet
    const csv = await call(a, 'GET', `/api/backtests/${id}/trades?format=csv`);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe(`attachment; filename="backtest-${id}-trades.csv"`);
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines).toHaveLength(67);
    const head = lines[0]!.split(',');
    expect(head).toEqual(expect.arrayContaining(['size', 'entryTime', 'entryPrice', 'exitPrice', 'pnl', 'fees']));
    const first = Object.fromEntries(lines[1]!.split(',').map((v, i) => [head[i], v]));
    expect(first).toMatchObject({ size: '-55', entryPrice: '180.36', entryTime: '2004-11-29T00:00:00.000Z' });
    const eqCsv = (await call(a, 'GET', `/api/backtests/${id}/equity?format=csv`)).body.trimEnd().split('\r\n');
    expect(eqCsv[0]).toBe('ts,equity,drawdownPct');
    expect(eqCsv).toHaveLength(2149);
    expect((await call(a, 'GET', `/api/backtests/${id}/trades?format=xml`)).statusCode).toBe(400);
    const eq = (await call(a, 'GET', `/api/backtests/${id}/equity`)).json();
    expect(eq).toHaveLength(2148);
    expect(eq.at(-1).equity).toBeCloseTo(51422.99, 6);
    const html = await call(a, 'GET', `/api/backtests/${id}/report`);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('<svg');
    expect(html.body).toContain('Sharpe Ratio');
    expect(html.body).not.toMatch(/<script|https?:\/\//);
    // what closed each trade: the crossover's sell and buy nodes (it reverses), and the end of the data
    expect(new Set(trades.map((t: { exitReason: string }) => t.exitReason))).toEqual(new Set(['buy', 'sell', 'end']));
    expect(html.body).toContain('<th>Closed by</th>');
    expect(an.report.exits.map((e: { reason: string }) => e.reason).sort()).toEqual(['buy', 'end', 'sell']);

    // another user sees none of it
    for (const path of ['', '/trades', '/equity', '/report'])
      expect((await call(b, 'GET', `/api/backtests/${id}${path}`)).statusCode).toBe(404);
    expect((await call(b, 'POST', `/api/backtests/${id}/cancel`)).statusCode).toBe(404);
    expect((await call(b, 'DELETE', `/api/backtests/${id}`)).statusCode).toBe(404);
    expect((await call(b, 'POST', '/api/backtests', { strategyId: strat.id, symbol: 'GOOG' })).statusCode).toBe(404);
  });

  it('fails with a readable error when there is no history, and validates requests', async () => {
    const r = await call(a, 'POST', '/api/backtests', {
      graph: templateById('ema-crossover')!.graph,
      symbol: 'NOHIST',
      interval: '1d',
    });
    await waitDone(a, r.json().id);
    const res = (await call(a, 'GET', `/api/backtests/${r.json().id}`)).json();
    expect(res.status).toBe('failed');
    expect(res.error).toMatch(/no 1d candles for NOHIST/);
    expect((await call(a, 'POST', '/api/backtests', { symbol: 'GOOG' })).statusCode).toBe(400);
    expect(
      (await call(a, 'POST', '/api/backtests', { graph: { nodes: [], edges: [] }, symbol: 'GOOG' })).json().error.code,
    ).toBe('VALIDATION_FAILED');
    expect(
      (
        await call(a, 'POST', '/api/backtests', {
          graph: templateById('ema-crossover')!.graph,
          symbol: 'GOOG',
          feeRate: 5,
        })
      ).statusCode,
    ).toBe(400);
  });

  it('checks stops and targets on a detail timeframe: 5-minute bars, their 1-minute candles', async () => {
    const u = await t.user();
    const csv = ['ts,open,high,low,close,volume', ...freqtradeMinutes().map((c) => Object.values(c).join(','))];
    const imp = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=DETAILBTC&interval=1m',
      headers: { ...u.auth, 'content-type': 'text/csv' },
      payload: csv.join('\n'),
    });
    expect(imp.json().imported).toBe(2000);
    // the fast crossover with a 0.3 % stop and target: a 5-minute bar often reaches both
    const graph = tightCrossover(0.3, 0.3);
    const body = { graph, symbol: 'DETAILBTC', interval: '5m', startingBalance: 10_000, allowShort: true };
    const exits = async (extra: object) => {
      const id = (await call(u, 'POST', '/api/backtests', { ...body, ...extra })).json().id;
      await waitDone(u, id);
      expect((await call(u, 'GET', `/api/backtests/${id}`)).json()).toMatchObject({
        status: 'done',
        parameters: expect.objectContaining(extra),
      });
      const trades = (await call(u, 'GET', `/api/backtests/${id}/trades`)).json() as { exitReason: string }[];
      return trades.filter((x) => x.exitReason === 'take_profit').length;
    };
    // the bars alone assume the stop came first when both were reached; the minutes know
    expect(await exits({ detailInterval: '1m' })).toBeGreaterThan(await exits({}));
    // a detail that is not finer, or does not divide the bars: 400, naming both
    for (const [interval, detailInterval] of [
      ['5m', '15m'],
      ['5m', '5m'],
      ['15m', '1h'],
    ]) {
      const r = await call(u, 'POST', '/api/backtests', { ...body, interval, detailInterval });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.message).toMatch(/detailInterval: .* must be finer than the interval/);
    }
    // no finer candles stored: the backtest fails saying so
    const none = (
      await call(u, 'POST', '/api/backtests', { ...body, symbol: 'GOOG', interval: '1d', detailInterval: '1h' })
    ).json();
    await waitDone(u, none.id);
    expect((await call(u, 'GET', `/api/backtests/${none.id}`)).json().error).toMatch(/no 1h candles for GOOG .*detail/);
  });

  it('sweeps a parameter grid and ranks the results', async () => {
    // four crossovers on GOOG's daily bars, ranked by return
    const small = {
      graph: templateById('sma-crossover')!.graph,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      params: { 'fast.period': [5, 10], 'slow.period': [20, 30] },
      rankBy: 'returnPct',
    };
    // its end, announced once on the bus (what webhooks and the sweep's channel take)
    const ends: { id: string; data: Record<string, unknown> }[] = [];
    const sub = await t.rt.bus.subscribe(TOPICS.realtimeUpdates.name, { group: 'sweep-end-test' }, async (m) => {
      if (m.type === 'sweep.done') ends.push({ id: m.id, data: m.data as Record<string, unknown> });
    });
    const r = await call(a, 'POST', '/api/backtests/sweep', small);
    expect(r.statusCode).toBe(202);
    const { sweepId, jobs } = r.json();
    expect(jobs).toBe(4);
    await until(async () => (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json().done === 4);
    const s = (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json();
    expect(s.ranked.map((x: { rank: number }) => x.rank)).toEqual([1, 2, 3, 4]);
    const scores = s.ranked.map((x: { returnPct: number }) => x.returnPct);
    expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));
    expect(s.ranked.map((x: { combo: object }) => x.combo)).toEqual(
      expect.arrayContaining([{ 'fast.period': 10, 'slow.period': 30 }]),
    );
    expect((await call(b, 'GET', `/api/backtests/sweeps/${sweepId}`)).statusCode).toBe(404);
    await until(() => ends.some((e) => e.data.sweepId === sweepId));
    await sub.close();
    const mine = ends.filter((e) => e.data.sweepId === sweepId);
    expect(new Set(mine.map((e) => e.id))).toEqual(new Set([`sweep.done:${sweepId}`]));
    expect(mine[0]!.data).toMatchObject({
      userId: a.id,
      total: 4,
      done: 4,
      failed: 0,
      rankBy: 'returnPct',
      best: { backtestId: s.ranked[0].id, combo: s.ranked[0].combo, returnPct: s.ranked[0].returnPct },
    });
    // and the point best with its neighbours, as the sweep's page has it
    expect(mine[0]!.data.robust).toMatchObject({
      backtestId: s.robust.id,
      combo: s.robust.combo,
      neighbours: 2,
      returnPct: s.robust.returnPct,
    });
    expect((mine[0]!.data.robust as { withNeighbours: number }).withNeighbours).toBeCloseTo(s.robust.withNeighbours, 9);
    // the ranking as a CSV file: a line a backtest, in rank order, its parameters then its figures
    const csv = (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}?format=csv`)).body.trimEnd().split('\r\n');
    expect(csv).toHaveLength(5);
    const head = csv[0]!.split(',');
    expect(head.slice(0, 5)).toEqual(['rank', 'backtestId', 'fast.period', 'slow.period', 'returnPct']);
    expect(head).toContain('tooFewTrades');
    csv.slice(1).forEach((line, i) => {
      const row = Object.fromEntries(line.split(',').map((v, k) => [head[k], v]));
      expect(row).toMatchObject({
        rank: String(i + 1),
        backtestId: s.ranked[i].id,
        pareto: String(!!s.ranked[i].pareto),
      });
      expect(Number(row.returnPct)).toBe(s.ranked[i].returnPct);
      expect(Number(row['fast.period'])).toBe(s.ranked[i].combo['fast.period']);
    });
    // the Pareto front (return against drawdown by default): the backtests no other beats on both
    type P = { id: string; metrics: Record<string, number>; pareto?: boolean };
    const frontOf = (all: P[], x: string, y: string) => bruteFront(all, (p) => p.metrics, x, y).map((p) => p.id);
    expect(s.pareto).toEqual({
      x: 'returnPct',
      y: 'maxDrawdownPct',
      ids: frontOf(s.ranked, 'returnPct', 'maxDrawdownPct'),
    });
    expect(s.pareto.ids.length).toBeGreaterThan(0);
    expect(
      s.ranked
        .filter((x: P) => x.pareto)
        .map((x: P) => x.id)
        .sort(),
    ).toEqual([...s.pareto.ids].sort());
    const sc = (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}?pareto=sharpe,calmar`)).json();
    expect(sc.pareto).toEqual({ x: 'sharpe', y: 'calmar', ids: frontOf(s.ranked, 'sharpe', 'calmar') });
    for (const q of ['sharpe', 'sharpe,sharpe', 'ghost,sharpe', 'sharpe,calmar,sqn']) {
      const bad = await call(a, 'GET', `/api/backtests/sweeps/${sweepId}?pareto=${q}`);
      expect(bad.statusCode, q).toBe(400);
      expect(bad.json().error.message, q).toContain('two different measures');
    }
    // each point among its neighbours (one step in one parameter: here the two points that share a value
    // with it), and the point best with its neighbours
    type Pl = { id: string; rank: number; combo: Record<string, number>; returnPct: number; plateau: object };
    const one = (p: Pl, q: Pl) => Object.keys(p.combo).filter((k) => p.combo[k] !== q.combo[k]).length === 1;
    const expected = (s.ranked as Pl[]).map((p) => {
      const around = (s.ranked as Pl[]).filter((q) => one(p, q)).map((q) => q.returnPct);
      const sum = around.reduce((x, y) => x + y, 0);
      return { neighbours: 2, mean: sum / 2, worst: Math.min(...around), withNeighbours: (sum + p.returnPct) / 3 };
    });
    (s.ranked as Pl[]).forEach((p, i) => {
      expect(p.plateau).toMatchObject({ neighbours: 2 });
      for (const k of ['mean', 'worst', 'withNeighbours'] as const)
        expect((p.plateau as Record<string, number>)[k]).toBeCloseTo(expected[i]![k], 9);
    });
    const robustAt = expected.reduce((b, e, i) => (e.withNeighbours > expected[b]!.withNeighbours ? i : b), 0);
    expect(s.robust).toMatchObject({ id: s.ranked[robustAt].id, rank: robustAt + 1, combo: s.ranked[robustAt].combo });
    // what the return depends on: each parameter's share of its spread, largest first
    type Imp = { key: string; share: number; groups: number; best: string };
    expect(s.importance.map((p: Imp) => p.key).sort()).toEqual(['fast.period', 'slow.period']);
    for (const p of s.importance as Imp[]) expect(p).toMatchObject({ groups: 2, share: expect.any(Number) });
    expect(s.importance[0].share).toBeGreaterThanOrEqual(s.importance[1].share);
    expect(s.importance.every((p: Imp) => p.share >= 0 && p.share <= 1)).toBe(true);
    // how overfit its best is: PBO over the four backtests' returns, as computed from their equity curves
    const of = await call(a, 'GET', `/api/backtests/sweeps/${sweepId}/overfitting`);
    expect(of.statusCode, of.body).toBe(200);
    const o = of.json();
    const curves = [];
    for (const x of s.ranked) curves.push((await call(a, 'GET', `/api/backtests/${x.id}/equity`)).json());
    const rets = curves.map((c: { equity: number }[]) => returnsOf(c.map((p) => p.equity)));
    const ref = pboCscv(rets, 16);
    expect(o).toMatchObject({ trials: 4, bars: 2147, blocks: 16, blockBars: 134, splits: 12_870 });
    expect(o.pbo).toBeCloseTo(ref.pbo, 12);
    expect(o.logits.counts.reduce((x: number, y: number) => x + y, 0)).toBe(12_870);
    const sharpes = rets.map((r: Float64Array) => sharpeOf(momentsOf(r)));
    const at = sharpes.indexOf(Math.max(...sharpes));
    expect(o.best.id).toBe(s.ranked[at].id);
    expect(o.best.dsr).toBeCloseTo(deflatedSharpe(rets[at]!, sharpes).dsr, 12);
    expect(o.best.dsr).toBeLessThan(o.best.psr);
    expect((await call(a, 'GET', `/api/backtests/sweeps/${sweepId}/overfitting?blocks=6`)).json().splits).toBe(20);
    expect((await call(a, 'GET', `/api/backtests/sweeps/${sweepId}/overfitting?blocks=5`)).statusCode).toBe(400);
    expect((await call(b, 'GET', `/api/backtests/sweeps/${sweepId}/overfitting`)).statusCode).toBe(404);
    // with minTrades, a combination of fewer closed trades ranks last, marked so
    type R = { combo: object; metrics: { trades: number }; returnPct: number; tooFewTrades?: boolean };
    const counts = s.ranked.map((x: R) => x.metrics.trades).sort((x: number, y: number) => x - y);
    const minTrades = counts[2];
    const few = await call(a, 'POST', '/api/backtests/sweep', { ...small, minTrades });
    const fewId = few.json().sweepId;
    await until(async () => (await call(a, 'GET', `/api/backtests/sweeps/${fewId}`)).json().done === 4);
    const f = (await call(a, 'GET', `/api/backtests/sweeps/${fewId}`)).json();
    expect(f.minTrades).toBe(minTrades);
    const enough = (x: R) => x.metrics.trades >= minTrades;
    const firsts = f.ranked.filter(enough);
    expect(f.ranked.slice(0, firsts.length)).toEqual(firsts);
    expect(firsts.map((x: R) => x.returnPct)).toEqual(s.ranked.filter(enough).map((x: R) => x.returnPct));
    for (const x of f.ranked) expect(!!x.tooFewTrades).toBe(!enough(x));
    // the front is of those with enough trades
    expect(f.pareto.ids).toEqual(frontOf(f.ranked.filter(enough), 'returnPct', 'maxDrawdownPct'));
    expect(
      (
        await call(a, 'POST', '/api/backtests/sweep', {
          graph: templateById('sma-crossover')!.graph,
          symbol: 'GOOG',
          params: { 'fast.period': [5] },
          minTrades: -1,
        })
      ).statusCode,
    ).toBe(400);
    const bad = await call(a, 'POST', '/api/backtests/sweep', {
      graph: templateById('sma-crossover')!.graph,
      symbol: 'GOOG',
      params: { 'ghost.period': [1] },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('searches a grid too large to run at random: ranges, a seeded sample, the same points again for the seed', async () => {
    const body = bigGrid();
    // 29 × 34 = 986 points: more than a sweep runs, so it says how to search them
    const whole = await call(a, 'POST', '/api/backtests/sweep', body);
    expect(whole.statusCode).toBe(400);
    expect(whole.json().error.message).toMatch(/986 combinations; at most 500 \(or ask for a random sample/);
    const r = await call(a, 'POST', '/api/backtests/sweep', { ...body, sample: { count: 12 } });
    expect(r.statusCode).toBe(202);
    const { sweepId, jobs, sample } = r.json();
    expect(jobs).toBe(12);
    expect(sample).toMatchObject({ count: 12, of: 986, seed: expect.any(Number) });
    await until(async () => (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json().done === 12);
    const s = (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json();
    expect(s.sample).toEqual(sample);
    const combos = s.ranked.map((x: { combo: object }) => JSON.stringify(x.combo));
    expect(new Set(combos).size).toBe(12);
    for (const x of s.ranked) {
      expect(x.combo['fast.period']).toBeGreaterThanOrEqual(2);
      expect(x.combo['slow.period'] % 5).toBe(0);
    }
    // the seed it chose draws the same points again
    const again = await call(a, 'POST', '/api/backtests/sweep', { ...body, sample: { count: 12, seed: sample.seed } });
    await until(async () => (await call(a, 'GET', `/api/backtests/sweeps/${again.json().sweepId}`)).json().done === 12);
    const s2 = (await call(a, 'GET', `/api/backtests/sweeps/${again.json().sweepId}`)).json();
    expect(s2.ranked.map((x: { combo: object }) => JSON.stringify(x.combo)).sort()).toEqual([...combos].sort());
    expect(s2.ranked.map((x: { sharpe: number }) => x.sharpe)).toEqual(
      s.ranked.map((x: { sharpe: number }) => x.sharpe),
    );
    // a walk-forward searches the same way
    const wf = await call(a, 'POST', '/api/backtests/walk-forward', {
      ...body,
      folds: 3,
      sample: { count: 6, seed: 5 },
    });
    expect(wf.statusCode).toBe(202);
    expect(wf.json()).toMatchObject({ combinations: 6, backtests: 6 * 4 + 3, sample: { count: 6, seed: 5, of: 986 } });
    await waitDone(a, wf.json().id);
    const picked = (await call(a, 'GET', `/api/backtests/${wf.json().id}/walk-forward`)).json();
    const row = (await call(a, 'GET', `/api/backtests/${wf.json().id}`)).json();
    expect(row.parameters.walkForward.combos).toHaveLength(6);
    const drawn = row.parameters.walkForward.combos.map((c: object) => JSON.stringify(c));
    for (const f of picked.folds) expect(drawn).toContain(JSON.stringify(f.chosen));
    // ranges that make no sense are 400s naming the key
    for (const params of [
      { 'fast.period': { from: 10, to: 2, step: 1 } },
      { 'fast.period': { from: 1, to: 100_000, step: 1 } },
      { 'fast.period': { from: 1, to: 5, step: 0 } },
      { 'fast.period': { from: 1, to: 5 } },
    ]) {
      const bad = await call(a, 'POST', '/api/backtests/sweep', { ...body, params, sample: { count: 3 } });
      expect(bad.statusCode, JSON.stringify(params)).toBe(400);
    }
    expect((await call(a, 'POST', '/api/backtests/sweep', { ...body, sample: { count: 501 } })).statusCode).toBe(400);
  });

  it("runs a sweep's backtests on one read of its candles: history changing meanwhile waits for the next sweep", async () => {
    await t.importGoog(a.auth, 'SWC');
    const rowOf = (sweepId: string | null) =>
      ({ sweepId, symbol: 'SWC', interval: '1d', parameters: {} }) as unknown as BacktestRow;
    const sweep = '5ee00000-0000-4000-8000-0000000000c1';
    const first = await sweepCandles(t.rt, rowOf(sweep));
    expect(first).toHaveLength(2148);
    // the history changes (here: its last year deleted) while the sweep runs
    const cut = first[first.length - 252]!.ts;
    await t.rt.db.db.deleteFrom('candles').where('symbol', '=', 'SWC').where('ts', '>=', new Date(cut)).execute();
    // the sweep's next backtests read what its first one did; a plain backtest and a new sweep read the change
    expect(await sweepCandles(t.rt, rowOf(sweep))).toBe(first);
    expect(await sweepCandles(t.rt, rowOf(null))).toHaveLength(2148 - 252);
    expect(await sweepCandles(t.rt, rowOf('5ee00000-0000-4000-8000-0000000000c2'))).toHaveLength(2148 - 252);
    // candles of another interval are their own read
    expect((await sweepCandles(t.rt, rowOf(sweep), 'SWC', '1w')).length).toBeLessThan(400);
  });

  it('runs every backtest of a sweep on the bars closed when it was asked for, however long it runs', async () => {
    // one-minute candles up to the minute now being built, as the live feed stores them
    const minute = 60_000;
    const now = Date.now();
    const open = Math.floor(now / minute) * minute;
    const bar = (ts: number, close: number) => ({ ts, open: close, high: close + 1, low: close - 1, close, volume: 1 });
    await symbolsRepo(t.rt.db.db).upsert({
      symbol: 'SWA',
      provider: 'csv',
      assetClass: 'crypto',
      base: 'SWA',
      quote: 'USD',
      active: true,
    });
    await candlesRepo(t.rt.db.db).upsert(
      'SWA',
      '1m',
      Array.from({ length: 30 }, (_, k) => bar(open - (29 - k) * minute, 100 + k)),
    );
    const sweep = await call(a, 'POST', '/api/backtests/sweep', {
      graph: templateById('sma-crossover')!.graph,
      symbol: 'SWA',
      interval: '1m',
      params: { 'fast.period': [2, 3] },
    });
    expect(sweep.statusCode, sweep.body).toBe(202);
    const { sweepId, ids } = sweep.json();
    const asOf = (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json().asOf;
    expect(Date.parse(asOf)).toBeGreaterThanOrEqual(now);
    const rows = await Promise.all(
      ids.map((id: string) =>
        t.rt.db.db.selectFrom('backtest_results').select('parameters').where('id', '=', id).executeTakeFirstOrThrow(),
      ),
    );
    for (const r of rows) expect((r.parameters as { asOf: string }).asOf).toBe(asOf);
    const row = { sweepId, symbol: 'SWA', interval: '1m', parameters: { asOf } } as unknown as BacktestRow;
    // the minute still being built when the sweep was asked for is left out, and so is what comes after
    const cut = Math.floor(Date.parse(asOf) / minute) * minute;
    await candlesRepo(t.rt.db.db).upsert('SWA', '1m', [bar(cut, 500), bar(cut + minute, 501)]);
    const before = Array.from({ length: 30 }, (_, k) => open - (29 - k) * minute).filter((ts) => ts < cut);
    expect(before.length).toBeGreaterThanOrEqual(29);
    expect((await candlesOf(t.rt, row)).map((c) => c.ts)).toEqual(before);
    // coarser bars built on read: the five minutes still being built are left out
    const five = await candlesOf(t.rt, row, 'SWA', '5m');
    expect(five.at(-1)!.ts).toBe(Math.floor(Date.parse(asOf) / (5 * minute)) * 5 * minute - 5 * minute);
    // a `to` of its own wins; a plain backtest reads it all
    const to = new Date(open - 10 * minute).toISOString();
    expect(await candlesOf(t.rt, { ...row, parameters: { asOf, to } })).toHaveLength(20);
    expect(await candlesOf(t.rt, { ...row, sweepId: null, parameters: {} })).toHaveLength(before.length + 2);
  });

  it('says which pairs of parameters explain more of the measure together than each alone', async () => {
    const r = await call(a, 'POST', '/api/backtests/sweep', {
      graph: templateById('rsi-mean-reversion')!.graph,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      params: { 'rsi.period': [7, 14, 21], 'low.value': [25, 35], 'high.value': [65, 75] },
      rankBy: 'returnPct',
    });
    expect(r.statusCode, r.body).toBe(202);
    const get = async () => (await call(a, 'GET', `/api/backtests/sweeps/${r.json().sweepId}`)).json();
    await until(async () => (await get()).done === 12, 60_000);
    const s = await get();
    type Run = { combo: Combo; metrics: Record<string, number> };
    const all = paramInteractions(
      s.ranked.map((x: Run) => ({ combo: x.combo, score: scoreOf(x.metrics, 'returnPct') })),
    );
    // each pair's cells were run twice (over the third parameter's values): all three pairs measured
    expect(all.map((x) => x.cells).sort()).toEqual([4, 6, 6]);
    const want = all.filter((x) => x.share > 0).slice(0, 5);
    expect(s.interactions.map((x: { keys: string[] }) => x.keys)).toEqual(want.map((x) => x.keys));
    s.interactions.forEach((x: { share: number }, i: number) => expect(x.share).toBeCloseTo(want[i]!.share, 9));
  });

  it('sweeps a portfolio: each point the portfolio backtest of its combination, as it runs alone', async () => {
    await t.importGoog(a.auth, 'PFA');
    const graph = templateById('sma-crossover')!.graph;
    const where = { symbols: ['GOOG', 'PFA'], weights: [3, 1], interval: '1d', startingBalance: 10_000 };
    const params = { 'fast.period': [5, 10], 'slow.period': [20, 40] };
    const r = await call(a, 'POST', '/api/backtests/sweep', { graph, ...where, params, rankBy: 'sharpe' });
    expect(r.statusCode, r.body).toBe(202);
    const { sweepId } = r.json();
    const get = async () => (await call(a, 'GET', `/api/backtests/sweeps/${sweepId}`)).json();
    await until(async () => (await get()).done === 4, 60_000);
    const s = await get();
    expect(s.portfolio).toEqual({ symbols: ['GOOG', 'PFA'], weights: [0.75, 0.25] });
    for (const x of [s.ranked[0], s.ranked[3]]) {
      const [variant] = comboVariants(graph, [x.combo]);
      const one = await call(a, 'POST', '/api/backtests/portfolio', { graph: variant!.graph, ...where });
      expect(one.statusCode, one.body).toBe(202);
      await waitDone(a, one.json().id);
      const alone = (await call(a, 'GET', `/api/backtests/${one.json().id}`)).json();
      expect(alone.metrics).toEqual(x.metrics);
      // and the sweep's point has the portfolio's breakdown
      const legs = (await call(a, 'GET', `/api/backtests/${x.id}/portfolio`)).json();
      expect(legs.spec).toEqual(s.portfolio);
    }
    expect(s.ranked[0].metrics.sharpe).toBeGreaterThanOrEqual(s.ranked[3].metrics.sharpe);
    // how overfit its best is: over the four portfolios' summed returns
    const of = await call(a, 'GET', `/api/backtests/sweeps/${sweepId}/overfitting?blocks=4`);
    expect(of.statusCode, of.body).toBe(200);
    expect(of.json()).toMatchObject({ trials: 4, blocks: 4, splits: 6 });
    expect((await call(b, 'GET', `/api/backtests/sweeps/${sweepId}`)).statusCode).toBe(404);
    // what it cannot be is a 400 saying so
    for (const [extra, message] of [
      [{ symbol: 'GOOG' }, /a symbol, or symbols for a portfolio sweep/],
      [{ symbols: undefined }, /a symbol, or symbols for a portfolio sweep/],
      [{ symbols: ['GOOG', 'GOOG'] }, /each symbol once/],
      [{ weights: [1] }, /one weight per symbol/],
      [{ detailInterval: '1h' }, /a portfolio sweep has none/],
    ] as const) {
      const bad = await call(a, 'POST', '/api/backtests/sweep', { graph, ...where, params, ...extra });
      expect(bad.statusCode, JSON.stringify(extra)).toBe(400);
      expect(bad.json().error.message).toMatch(message);
    }
  });

  it('searches adaptively (TPE): a random start, then points proposed from the results, the same again for a seed', async () => {
    const body = bigGrid();
    const sweep = async (sample: object) => {
      const r = await call(a, 'POST', '/api/backtests/sweep', { ...body, sample });
      expect(r.statusCode, r.body).toBe(202);
      return r.json();
    };
    const get = async (id: string) => (await call(a, 'GET', `/api/backtests/sweeps/${id}`)).json();
    const first = await sweep({ method: 'tpe', count: 20, seed: 11, startup: 6, parallel: 1 });
    // the random start is queued at once; the rest come as results do
    expect(first).toMatchObject({
      jobs: 20,
      sample: { method: 'tpe', count: 20, seed: 11, of: 986, startup: 6, parallel: 1 },
    });
    expect(first.ids).toHaveLength(6);
    await until(async () => (await get(first.sweepId)).done === 20, 60_000);
    const s = await get(first.sweepId);
    expect(s).toMatchObject({ total: 20, created: 20, done: 20, progress: 1, sample: first.sample });
    const combos = s.ranked.map((x: { combo: object }) => JSON.stringify(x.combo));
    expect(new Set(combos).size).toBe(20);
    for (const x of s.ranked) {
      expect(x.combo['fast.period']).toBeGreaterThanOrEqual(2);
      expect(x.combo['fast.period']).toBeLessThanOrEqual(30);
      expect(x.combo['slow.period'] % 5).toBe(0);
    }
    // the best score backtest by backtest, in the order proposed: never falls, ends at the ranking's best
    const conv = s.convergence as { n: number; score: number; best: number }[];
    expect(conv.map((c) => c.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < 20; i++) expect(conv[i]!.best).toBeGreaterThanOrEqual(conv[i - 1]!.best);
    expect(conv[19]!.best).toBe(s.ranked[0].sharpe);
    // its CSV numbers each backtest in the order proposed
    const lines = (await call(a, 'GET', `/api/backtests/sweeps/${first.sweepId}?format=csv`)).body
      .trimEnd()
      .split('\r\n');
    expect(lines[0]!.split(',').slice(0, 3)).toEqual(['rank', 'n', 'backtestId']);
    expect(
      lines
        .slice(1)
        .map((l) => Number(l.split(',')[1]))
        .sort((x, y) => x - y),
    ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // the start is the random search's points for the seed; one at a time, the same seed proposes the same points
    const random = await sweep({ count: 6, seed: 11 });
    await until(async () => (await get(random.sweepId)).done === 6);
    const startOf = (x: { ranked: { combo: object }[] }) => x.ranked.map((r) => JSON.stringify(r.combo));
    expect(combos).toEqual(expect.arrayContaining(startOf(await get(random.sweepId))));
    const again = await sweep({ method: 'tpe', count: 20, seed: 11, startup: 6, parallel: 1 });
    await until(async () => (await get(again.sweepId)).done === 20, 60_000);
    const s2 = await get(again.sweepId);
    expect(s2.convergence).toEqual(s.convergence);
    expect(startOf(s2).sort()).toEqual([...combos].sort());
    // another user sees no such sweep and cannot stop it
    expect((await call(b, 'GET', `/api/backtests/sweeps/${first.sweepId}`)).statusCode).toBe(404);
    expect((await call(b, 'POST', `/api/backtests/sweeps/${first.sweepId}/cancel`)).statusCode).toBe(404);
    // stopped: what is queued is cancelled and nothing more is proposed
    const long = await sweep({ method: 'tpe', count: 200, seed: 3, startup: 4, parallel: 1 });
    await until(async () => (await get(long.sweepId)).done >= 6, 60_000);
    const stop = await call(a, 'POST', `/api/backtests/sweeps/${long.sweepId}/cancel`);
    expect(stop.statusCode).toBe(200);
    expect(stop.json().cancelled).toBeGreaterThanOrEqual(1);
    const stopped = await get(long.sweepId);
    await new Promise((r) => setTimeout(r, 300));
    const later = await get(long.sweepId);
    expect(later.created).toBeLessThanOrEqual(stopped.created + 1);
    expect(later.total).toBe(later.created);
    // a search left short of its count with nothing to run (a worker crashed between a result and its
    // proposals: here its last three backtests deleted) goes on at the service's check, from its last number:
    // one at a time, it proposes the very points it had
    const short = await sweep({ method: 'tpe', count: 8, seed: 5, startup: 4, parallel: 1 });
    await until(async () => (await get(short.sweepId)).done === 8, 60_000);
    // each backtest's combination, by number
    const combosOf = async (id: string) =>
      (
        await t.rt.db.db
          .selectFrom('backtest_results')
          .select(['sweep_seq', 'parameters'])
          .where('sweep_id', '=', id)
          .orderBy('sweep_seq')
          .execute()
      ).map((r) => JSON.stringify((r.parameters as { combo: object }).combo));
    const before = await combosOf(short.sweepId);
    await t.rt.db.db
      .deleteFrom('backtest_results')
      .where('sweep_id', '=', short.sweepId)
      .where('sweep_seq', '>=', 5)
      .execute();
    expect(await get(short.sweepId)).toMatchObject({ created: 5, done: 5, total: 8 });
    expect(await resumeStalledSearches(t.rt, queueBacktest(t.rt))).toBeGreaterThanOrEqual(1);
    await until(async () => (await get(short.sweepId)).done === 8, 60_000);
    expect(await combosOf(short.sweepId)).toEqual(before);
    expect(new Set(before).size).toBe(8);
    // what it cannot do is a 400 saying so
    const bad = async (extra: object, message: RegExp) => {
      const r = await call(a, 'POST', '/api/backtests/sweep', { ...body, ...extra });
      expect(r.statusCode, JSON.stringify(extra)).toBe(400);
      expect(r.json().error.message).toMatch(message);
    };
    await bad({ sample: { count: 10, startup: 4 } }, /startup and parallel belong to an adaptive search/);
    await bad({ sample: { count: 10, method: 'tpe', parallel: 0 } }, /parallel/);
    await bad({ params: { 'fast.period': [5, 9000] }, sample: { count: 2, method: 'tpe' } }, /9000/);
    // a walk-forward searches each window adaptively: 6 backtests proposed in each of 3 windows and over all bars
    const wf = await call(a, 'POST', '/api/backtests/walk-forward', {
      ...body,
      folds: 3,
      sample: { count: 6, method: 'tpe', seed: 4, startup: 3 },
    });
    expect(wf.statusCode, wf.body).toBe(202);
    expect(wf.json()).toMatchObject({
      combinations: 6,
      backtests: 6 * 4 + 3,
      sample: { method: 'tpe', count: 6, seed: 4, startup: 3, of: 986 },
    });
    await waitDone(a, wf.json().id);
    const res = (await call(a, 'GET', `/api/backtests/${wf.json().id}/walk-forward`)).json();
    expect(res.spec.search).toEqual(wf.json().sample);
    expect(res.folds).toHaveLength(3);
    for (const f of res.folds) {
      expect(f.chosen['fast.period']).toBeGreaterThanOrEqual(2);
      expect(f.chosen['slow.period'] % 5).toBe(0);
    }
    expect((await call(a, 'GET', `/api/backtests/${wf.json().id}`)).json().status).toBe('done');
    const wfBad = await call(a, 'POST', '/api/backtests/walk-forward', { ...body, sample: { count: 6, startup: 3 } });
    expect(wfBad.statusCode).toBe(400);
    expect(wfBad.json().error.message).toMatch(/startup belongs to an adaptive search/);
  });

  it('runs a walk-forward: picks in sample, tests out of sample, chains the windows into one result', async () => {
    const strat = (await call(a, 'POST', '/api/strategies/templates/sma-crossover')).json();
    const body = {
      strategyId: strat.id,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      allowShort: true,
      feeRate: 0.001,
      params: { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] },
      folds: 4,
      outOfSamplePct: 25,
    };
    const r = await call(a, 'POST', '/api/backtests/walk-forward', body);
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'queued', combinations: 6, folds: 4, backtests: 6 * 5 + 4 });
    const id = r.json().id;
    await waitDone(a, id);
    const row = (await call(a, 'GET', `/api/backtests/${id}`)).json();
    expect(row).toMatchObject({ status: 'done', progress: 1, kind: 'walk-forward' });
    expect(row.parameters.walkForward).toMatchObject({
      folds: 4,
      outOfSamplePct: 25,
      anchored: false,
      rankBy: 'sharpe',
    });
    expect((await call(a, 'GET', '/api/backtests')).json().find((x: { id: string }) => x.id === id).kind).toBe(
      'walk-forward',
    );

    const wf = (await call(a, 'GET', `/api/backtests/${id}/walk-forward`)).json();
    expect(wf.folds).toHaveLength(4);
    expect(wf.lookback).toBe(491); // 10 × 49 + 1: the SMA(50)'s first value is on bar 49
    expect(wf.fullPeriod.combo).toEqual(expect.objectContaining({ 'fast.period': expect.any(Number) }));
    // each fold's pick is one of the grid's points, tested on the window right after the bars it was picked on
    for (const [i, f] of wf.folds.entries()) {
      expect(body.params['fast.period']).toContain(f.chosen['fast.period']);
      expect(Date.parse(f.outOfSample.from)).toBeGreaterThan(Date.parse(f.inSample.to));
      if (i > 0) expect(f.startEquity).toBeCloseTo(wf.folds[i - 1].endEquity, 9);
    }
    // the chained out-of-sample run is the backtest's result: equity, trades, statistics, report
    const eq = (await call(a, 'GET', `/api/backtests/${id}/equity`)).json();
    expect(eq[0].ts).toBe(wf.folds[0].outOfSample.from);
    expect(eq.at(-1).ts).toBe(wf.folds[3].outOfSample.to);
    const trades = (await call(a, 'GET', `/api/backtests/${id}/trades`)).json();
    expect(trades).toHaveLength(row.metrics.trades);
    const pnl = trades.reduce((s: number, t: { pnl: number }) => s + t.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(eq.at(-1).equity * 100));
    expect(eq.at(-1).equity).toBeCloseTo(wf.folds[3].endEquity, 9);
    const html = await call(a, 'GET', `/api/backtests/${id}/report`);
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('<svg');
    // the folds are in the report too, each pick as the API has it
    expect(html.body).toContain('Walk-forward folds (each pick made in sample, traded out of sample)');
    for (const f of wf.folds)
      expect(html.body).toContain(
        `<td>fast.period=${f.chosen['fast.period']} slow.period=${f.chosen['slow.period']}</td>`,
      );
    expect(html.body).not.toMatch(/<script/);

    // a single run has no walk-forward view; another user sees nothing
    const single = (await call(a, 'POST', '/api/backtests', { strategyId: strat.id, symbol: 'GOOG' })).json();
    expect((await call(a, 'GET', `/api/backtests/${single.id}/walk-forward`)).json().error.message).toMatch(
      /not a walk-forward/,
    );
    expect((await call(b, 'GET', `/api/backtests/${id}/walk-forward`)).statusCode).toBe(404);
    expect((await call(b, 'POST', '/api/backtests/walk-forward', body)).statusCode).toBe(404);

    // each fold's pick the most robust (the best with its neighbours), kept in the spec; a pick of neither is a 400
    const robust = (await call(a, 'POST', '/api/backtests/walk-forward', { ...body, pick: 'robust' })).json();
    await waitDone(a, robust.id);
    const rw = (await call(a, 'GET', `/api/backtests/${robust.id}/walk-forward`)).json();
    expect(rw.spec).toMatchObject({ pick: 'robust', folds: 4 });
    expect(rw.folds).toHaveLength(4);
    // the pick in sample is never better than the best's there
    rw.folds.forEach((f: { inSampleStats: { sharpe: number } }, i: number) =>
      expect(f.inSampleStats.sharpe).toBeLessThanOrEqual(wf.folds[i].inSampleStats.sharpe),
    );
    expect(wf.spec.pick).toBeUndefined();
    // over a random sample of the grid, neighbours are the grid's: a point qualifies with two run (of
    // the two or three the grid gives it), and with none qualifying each fold takes the best, saying so
    const sampled = (
      await call(a, 'POST', '/api/backtests/walk-forward', { ...body, pick: 'robust', sample: { count: 3, seed: 7 } })
    ).json();
    await waitDone(a, sampled.id);
    const sw = (await call(a, 'GET', `/api/backtests/${sampled.id}/walk-forward`)).json();
    const drawn = sw.spec.combos as Record<string, number>[];
    const axis: Record<string, number[]> = { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] };
    const step = (p: Record<string, number>, q: Record<string, number>) => {
      const d = Object.keys(axis).filter((k) => p[k] !== q[k]);
      return d.length === 1 && Math.abs(axis[d[0]!]!.indexOf(p[d[0]!]!) - axis[d[0]!]!.indexOf(q[d[0]!]!)) === 1;
    };
    const possible = (p: Record<string, number>) =>
      Object.keys(axis).reduce((n, k) => n + (axis[k]!.indexOf(p[k]!) % (axis[k]!.length - 1) === 0 ? 1 : 2), 0);
    const qualifies = drawn.some((p) => drawn.filter((q) => step(p, q)).length >= Math.min(2, possible(p)));
    // seed 7 draws no fast.period 10: by the sample's own values, 5 and 20 would be neighbours and one
    // point would qualify; by the grid's, none does
    expect(drawn.some((p) => p['fast.period'] === 10)).toBe(false);
    expect(qualifies).toBe(false);
    for (const f of sw.folds as { note?: string }[])
      expect(
        f.note === 'no combination had two neighbours run in sample: the best was taken, not the most robust',
      ).toBe(!qualifies);
    const bad = await call(a, 'POST', '/api/backtests/walk-forward', { ...body, pick: 'luckiest' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/pick/);
  });

  it('runs a portfolio backtest: one strategy over several symbols, each leg its own backtest, summed', async () => {
    const imp = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=BTCUSD&interval=1d',
      headers: { ...a.auth, 'content-type': 'text/csv' },
      payload: readFileSync(new URL('../../../../test/fixtures/backtesting-py/BTCUSD.csv', import.meta.url), 'utf8'),
    });
    expect(imp.statusCode).toBe(200);
    const strat = (await call(a, 'POST', '/api/strategies/templates/sma-crossover')).json();
    const common = { strategyId: strat.id, interval: '1d', startingBalance: 10_000, feeRate: 0.001 };
    const r = await call(a, 'POST', '/api/backtests/portfolio', {
      ...common,
      symbols: ['goog', 'BTCUSD'],
      weights: [3, 1],
    });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'queued', symbols: ['GOOG', 'BTCUSD'], weights: [0.75, 0.25] });
    const id = r.json().id;
    await waitDone(a, id);
    const row = (await call(a, 'GET', `/api/backtests/${id}`)).json();
    expect(row).toMatchObject({ status: 'done', kind: 'portfolio', symbol: 'GOOG,BTCUSD' });

    // each leg is what a plain backtest of that symbol with its share of the balance gives
    const pf = (await call(a, 'GET', `/api/backtests/${id}/portfolio`)).json();
    expect(pf.legs.map((l: { symbol: string; startingBalance: number }) => [l.symbol, l.startingBalance])).toEqual([
      ['GOOG', 7500],
      ['BTCUSD', 2500],
    ]);
    for (const leg of pf.legs) {
      const one = (
        await call(a, 'POST', '/api/backtests', { ...common, symbol: leg.symbol, startingBalance: leg.startingBalance })
      ).json();
      await waitDone(a, one.id);
      const m = (await call(a, 'GET', `/api/backtests/${one.id}`)).json().metrics;
      expect(leg.finalEquity).toBeCloseTo(m.equityFinal, 6);
      expect(leg.stats.trades).toBe(m.trades);
    }
    expect(pf.correlation.symbols).toEqual(['GOOG', 'BTCUSD']);
    expect(pf.correlation.matrix[0][0]).toBe(1);
    // the money reconciles over both legs: the balance plus every trade's PnL, to the cent
    const trades = (await call(a, 'GET', `/api/backtests/${id}/trades`)).json();
    expect(new Set(trades.map((x: { symbol: string }) => x.symbol))).toEqual(new Set(['GOOG', 'BTCUSD']));
    const eq = (await call(a, 'GET', `/api/backtests/${id}/equity`)).json();
    const pnl = trades.reduce((acc: number, x: { pnl: number }) => acc + x.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(eq.at(-1).equity * 100));
    expect(eq.at(-1).equity).toBeCloseTo(pf.legs[0].finalEquity + pf.legs[1].finalEquity, 6);
    // the report and the risk analytics read it like any backtest
    const html = await call(a, 'GET', `/api/backtests/${id}/report`);
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('Buy and hold of the same allocation');
    expect(html.body).toContain('<td>BTCUSD</td><td>25.0%</td>');
    expect((await call(a, 'GET', `/api/analytics/backtests/${id}`)).json().report.trades).toBe(trades.length);

    // what it refuses, and whose it is
    const bad = async (body: object) => {
      const x = await call(a, 'POST', '/api/backtests/portfolio', { ...common, ...body });
      expect(x.statusCode).toBe(400);
      return x.json().error.message as string;
    };
    expect(await bad({ symbols: ['GOOG'] })).toMatch(/symbols/);
    expect(await bad({ symbols: ['GOOG', 'goog'] })).toMatch(/each symbol once/);
    expect(await bad({ symbols: ['GOOG', 'BTCUSD'], weights: [1] })).toMatch(/one weight per symbol/);
    expect(await bad({ symbols: ['GOOG', 'BTCUSD'], weights: [1, -1] })).toMatch(/weights/);
    const missing = (
      await call(a, 'POST', '/api/backtests/portfolio', { ...common, symbols: ['GOOG', 'NOPE'] })
    ).json();
    await waitDone(a, missing.id);
    expect((await call(a, 'GET', `/api/backtests/${missing.id}`)).json()).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no 1d candles for NOPE/),
    });
    const single = (await call(a, 'POST', '/api/backtests', { strategyId: strat.id, symbol: 'GOOG' })).json();
    expect((await call(a, 'GET', `/api/backtests/${single.id}/portfolio`)).statusCode).toBe(404);
    expect((await call(b, 'GET', `/api/backtests/${id}/portfolio`)).statusCode).toBe(404);
    expect(
      (await call(b, 'POST', '/api/backtests/portfolio', { ...common, symbols: ['GOOG', 'BTCUSD'] })).statusCode,
    ).toBe(404);

    // a walk-forward over the same portfolio: each window's backtests portfolio backtests of both legs
    const wfBody = {
      ...common,
      symbols: ['GOOG', 'BTCUSD'],
      weights: [3, 1],
      params: { 'fast.period': [5, 10, 20], 'slow.period': [30, 50] },
      folds: 3,
    };
    const wr = await call(a, 'POST', '/api/backtests/walk-forward', wfBody);
    expect(wr.statusCode).toBe(202);
    expect(wr.json()).toMatchObject({ combinations: 6, symbols: ['GOOG', 'BTCUSD'], weights: [0.75, 0.25] });
    await waitDone(a, wr.json().id);
    const wrow = (await call(a, 'GET', `/api/backtests/${wr.json().id}`)).json();
    expect(wrow).toMatchObject({ status: 'done', kind: 'walk-forward', symbol: 'GOOG,BTCUSD' });
    const wf = (await call(a, 'GET', `/api/backtests/${wr.json().id}/walk-forward`)).json();
    expect(wf.portfolio).toEqual({ symbols: ['GOOG', 'BTCUSD'], weights: [0.75, 0.25] });
    expect(wf.folds).toHaveLength(3);
    const wTrades = (await call(a, 'GET', `/api/backtests/${wr.json().id}/trades`)).json();
    expect(new Set(wTrades.map((x: { symbol: string }) => x.symbol))).toEqual(new Set(['GOOG', 'BTCUSD']));
    for (const f of wf.folds) {
      const [from, to] = [Date.parse(f.outOfSample.from), Date.parse(f.outOfSample.to)];
      const inFold = wTrades.filter((x: { entryTime: string }) => Date.parse(x.entryTime) >= from);
      const mine = inFold.filter((x: { entryTime: string }) => Date.parse(x.entryTime) <= to);
      expect(mine).toHaveLength(f.outOfSampleStats.trades);
      // each window ends with its start plus its trades' PnL, to the cent
      const foldPnl = mine.reduce((acc: number, x: { pnl: number }) => acc + x.pnl, 0);
      expect(Math.round((f.startEquity + foldPnl) * 100)).toBe(Math.round(f.endEquity * 100));
      // and what each leg made of its share: its own trades' PnL
      for (const leg of f.legs as { symbol: string; startEquity: number; endEquity: number; trades: number }[]) {
        const own = mine.filter((x: { symbol: string }) => x.symbol === leg.symbol);
        expect(leg.trades).toBe(own.length);
        const legPnl = own.reduce((acc: number, x: { pnl: number }) => acc + x.pnl, 0);
        expect(Math.round((leg.startEquity + legPnl) * 100)).toBe(Math.round(leg.endEquity * 100));
      }
    }
    const wEq = (await call(a, 'GET', `/api/backtests/${wr.json().id}/equity`)).json();
    const wPnl = wTrades.reduce((acc: number, x: { pnl: number }) => acc + x.pnl, 0);
    expect(Math.round((10_000 + wPnl) * 100)).toBe(Math.round(wEq.at(-1).equity * 100));
    // its report: the folds, and as the price the allocation held over the out-of-sample bars (kept for
    // the report, not sent with the summary)
    expect(wf.basket).toBeUndefined();
    const wHtml = await call(a, 'GET', `/api/backtests/${wr.json().id}/report`);
    expect(wHtml.statusCode).toBe(200);
    expect(wHtml.body).toContain('Buy and hold of the same allocation');
    expect(wHtml.body).toContain('Walk-forward folds (each pick made in sample, traded out of sample)');
    expect((await call(a, 'GET', `/api/backtests/${wr.json().id}/portfolio`)).json().error.message).toMatch(
      /walk-forward over a portfolio/,
    );
    expect((await call(b, 'GET', `/api/backtests/${wr.json().id}/walk-forward`)).statusCode).toBe(404);
    const wBad = async (body: object) => {
      const x = await call(a, 'POST', '/api/backtests/walk-forward', { ...wfBody, ...body });
      expect(x.statusCode).toBe(400);
      return x.json().error.message as string;
    };
    expect(await wBad({ symbol: 'GOOG' })).toMatch(/a symbol, or symbols for a portfolio walk-forward/);
    expect(await wBad({ weights: [1] })).toMatch(/one weight per symbol/);
    expect(await wBad({ detailInterval: '1h' })).toMatch(/a portfolio walk-forward has none/);
  });

  it('gives each symbol of a portfolio its own lot size and minimum order value (symbolRules), each leg as it runs alone', async () => {
    await t.importGoog(a.auth, 'PFR');
    const graph = templateById('sma-crossover')!.graph;
    const common = { graph, interval: '1d', startingBalance: 10_000, feeRate: 0.001, qtyStep: 5 };
    const where = { ...common, symbols: ['GOOG', 'PFR'], symbolRules: { pfr: { qtyStep: 0.25, minNotional: 100 } } };
    const rules = { PFR: { qtyStep: 0.25, minNotional: 100 } };
    const r = await call(a, 'POST', '/api/backtests/portfolio', where);
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json()).toMatchObject({ symbols: ['GOOG', 'PFR'], weights: [0.5, 0.5], rules });
    await waitDone(a, r.json().id);
    const pf = (await call(a, 'GET', `/api/backtests/${r.json().id}/portfolio`)).json();
    expect(pf.spec.rules).toEqual(rules);
    // each leg: a plain backtest of its symbol with its share and its rules (GOOG the run's lots of 5)
    for (const leg of pf.legs) {
      const own = leg.symbol === 'PFR' ? rules.PFR : {};
      const one = await call(a, 'POST', '/api/backtests', {
        ...common,
        ...own,
        symbol: leg.symbol,
        startingBalance: 5_000,
      });
      await waitDone(a, one.json().id);
      const m = (await call(a, 'GET', `/api/backtests/${one.json().id}`)).json().metrics;
      expect(leg.finalEquity).toBeCloseTo(m.equityFinal, 6);
      expect(leg.stats.trades).toBe(m.trades);
    }
    const trades: { symbol: string; size: number }[] = (
      await call(a, 'GET', `/api/backtests/${r.json().id}/trades`)
    ).json();
    const sizes = (s: string) => trades.filter((x) => x.symbol === s).map((x) => Math.abs(x.size));
    expect(sizes('GOOG').length).toBeGreaterThan(5);
    expect(sizes('GOOG').every((q) => q % 5 === 0)).toBe(true);
    expect(sizes('PFR').every((q) => (q * 4) % 1 === 0)).toBe(true);
    expect(sizes('PFR').some((q) => q % 1 !== 0)).toBe(true);
    // a sweep over the portfolio keeps them for each point
    const sw = await call(a, 'POST', '/api/backtests/sweep', { ...where, params: { 'fast.period': [5, 10] } });
    expect(sw.statusCode, sw.body).toBe(202);
    await until(
      async () => (await call(a, 'GET', `/api/backtests/sweeps/${sw.json().sweepId}`)).json().done === 2,
      60_000,
    );
    const s = (await call(a, 'GET', `/api/backtests/sweeps/${sw.json().sweepId}`)).json();
    expect(s.portfolio.rules).toEqual(rules);
    const point = s.ranked.find((x: { combo: Record<string, number> }) => x.combo['fast.period'] === 10);
    const whole = (await call(a, 'GET', `/api/backtests/${r.json().id}`)).json().metrics;
    expect(point.metrics.equityFinal).toBeCloseTo(whole.equityFinal, 6);
    // what it cannot be is a 400 saying so
    for (const [extra, message] of [
      [{ symbolRules: { NOPE: { qtyStep: 1 } } }, /NOPE is not among the symbols/],
      [{ symbolRules: { PFR: {} } }, /give qtyStep, minNotional or both/],
      [{ symbolRules: { PFR: { qtyStep: 0 } } }, /qtyStep/],
      [{ symbolRules: { 'P R': { qtyStep: 1 } } }, /symbolRules/],
    ] as const) {
      const bad = await call(a, 'POST', '/api/backtests/portfolio', { ...where, ...extra });
      expect(bad.statusCode, JSON.stringify(extra)).toBe(400);
      expect(bad.json().error.message).toMatch(message);
    }
    const one = await call(a, 'POST', '/api/backtests/sweep', {
      ...common,
      symbol: 'GOOG',
      symbolRules: rules,
      params: { 'fast.period': [5, 10] },
    });
    expect(one.statusCode).toBe(400);
    expect(one.json().error.message).toMatch(/give symbols/);
  });

  it("applies a paper portfolio's limits on the summed equity (portfolioRisk) to a portfolio backtest and its sweep", async () => {
    await t.importGoog(a.auth, 'PFL');
    const graph = templateById('sma-crossover')!.graph;
    const where = { graph, interval: '1d', startingBalance: 10_000, feeRate: 0.001, symbols: ['GOOG', 'PFL'] };
    const run = async (extra: object) => {
      const r = await call(a, 'POST', '/api/backtests/portfolio', { ...where, ...extra });
      expect(r.statusCode, r.body).toBe(202);
      await waitDone(a, r.json().id);
      return (await call(a, 'GET', `/api/backtests/${r.json().id}`)).json();
    };
    const free = await run({});
    const eq: { ts: string; equity: number }[] = (await call(a, 'GET', `/api/backtests/${free.id}/equity`)).json();
    // the first close whose summed equity is 10 % under its peak
    let peak = 10_000;
    const k = eq.findIndex((x) => (peak = Math.max(peak, x.equity)) * 0.9 >= x.equity);
    expect(k).toBeGreaterThan(0);
    const row = await run({ portfolioRisk: { maxDrawdownPct: 10 } });
    expect(row.parameters.portfolio.risk).toEqual({ maxDrawdownPct: 10 });
    expect(row.metrics.limits.halts).toEqual([{ time: eq[k]!.ts, limit: 'max_drawdown', pct: expect.any(Number) }]);
    expect(row.metrics.limits.halts[0].pct).toBeGreaterThanOrEqual(10);
    const trades: { exitReason: string; entryTime: string; pnl: number }[] = (
      await call(a, 'GET', `/api/backtests/${row.id}/trades`)
    ).json();
    expect(trades.filter((x) => x.exitReason === 'portfolio_max_drawdown').length).toBeGreaterThan(0);
    expect(trades.every((x) => x.entryTime <= eq[k]!.ts)).toBe(true);
    expect(row.metrics.equityFinal).toBeCloseTo(10_000 + trades.reduce((acc, x) => acc + x.pnl, 0), 6);
    // its report: the table named by the portfolio's limits, the halt shaded from that close to the end on
    // the three charts (1,040 units wide from 50)
    const html = (await call(a, 'GET', `/api/backtests/${row.id}/report`)).body;
    expect(html).toContain('<h2>Risk limits: maxDrawdownPct 10</h2>');
    expect(html).toMatch(/class="stop"><title>stop at -10%</);
    // the legs' own drawdown stop is not drawn on the summed equity's drawdown
    const legs = await run({ risk: { maxDrawdownPct: 50 } });
    const legsHtml = (await call(a, 'GET', `/api/backtests/${legs.id}/report`)).body;
    expect(legsHtml).toContain('<svg');
    expect(legsHtml).not.toContain('class="stop"');
    const bands = [...html.matchAll(/<rect x="([\d.]+)" y="0" width="([\d.]+)" [^>]*class="halt"><title>([^<]*)</g)];
    expect(bands).toHaveLength(3);
    for (const m of bands) {
      expect(Number(m[1])).toBeCloseTo(50 + (1040 * k) / (eq.length - 1), 1);
      expect(Number(m[1]) + Number(m[2])).toBeCloseTo(1090, 1);
      expect(m[3]).toBe(`trading stopped: drawdown (${eq[k]!.ts.slice(0, 16).replace('T', ' ')})`);
    }
    // a sweep over the portfolio: its point of the same parameters is that backtest
    const sw = await call(a, 'POST', '/api/backtests/sweep', {
      ...where,
      portfolioRisk: { maxDrawdownPct: 10 },
      params: { 'fast.period': [5, 10] },
    });
    expect(sw.statusCode, sw.body).toBe(202);
    const sid = sw.json().sweepId;
    await until(async () => (await call(a, 'GET', `/api/backtests/sweeps/${sid}`)).json().done === 2, 60_000);
    const s = (await call(a, 'GET', `/api/backtests/sweeps/${sid}`)).json();
    expect(s.portfolio.risk).toEqual({ maxDrawdownPct: 10 });
    const point = s.ranked.find((x: { combo: Record<string, number> }) => x.combo['fast.period'] === 10);
    expect(point.metrics.equityFinal).toBeCloseTo(row.metrics.equityFinal, 6);
    // what it cannot be is a 400 saying so
    const bad = async (url: string, body: object) => {
      const x = await call(a, 'POST', url, body);
      expect(x.statusCode, JSON.stringify(body)).toBe(400);
      return x.json().error.message as string;
    };
    expect(await bad('/api/backtests/portfolio', { ...where, portfolioRisk: {} })).toMatch(
      /give maxDrawdownPct, maxDailyLossPct or both/,
    );
    expect(await bad('/api/backtests/portfolio', { ...where, portfolioRisk: { maxDrawdownPct: 0 } })).toMatch(
      /portfolioRisk/,
    );
    const grid = { params: { 'fast.period': [5, 10] }, portfolioRisk: { maxDrawdownPct: 10 } };
    expect(await bad('/api/backtests/sweep', { ...where, symbols: undefined, symbol: 'GOOG', ...grid })).toMatch(
      /a portfolio's limits: give symbols/,
    );
    // a walk-forward over the portfolio: each window applies them afresh, each fold says what they did
    const wr = await call(a, 'POST', '/api/backtests/walk-forward', { ...where, ...grid, folds: 2 });
    expect(wr.statusCode, wr.body).toBe(202);
    await waitDone(a, wr.json().id);
    const wf = (await call(a, 'GET', `/api/backtests/${wr.json().id}/walk-forward`)).json();
    expect(wf.portfolio.risk).toEqual({ maxDrawdownPct: 10 });
    expect(wf.folds).toHaveLength(2);
    for (const f of wf.folds) {
      expect(f.limits.refused).toEqual({});
      for (const x of f.limits.halts) expect(x).toMatchObject({ limit: 'max_drawdown', pct: expect.any(Number) });
    }
  });

  it("backtests a strategy that reads another symbol's bars: loaded, aligned, and the same trades as reading its own", async () => {
    // GOOG's history again under a second name: the SMA crossover reading "GOOGX"'s closes, run on GOOG,
    // trades exactly as the plain crossover (backtesting.py's 66 trades)
    expect((await t.importGoog(a.auth, 'GOOGX')).imported).toBe(2148);
    const graph = viaOtherSymbol(templateById('sma-crossover')!.graph, 'googx');
    const strat = (await call(a, 'POST', '/api/strategies', { name: 'crossover on GOOGX', graph })).json();
    expect(strat.compilationReport).toMatchObject({ ok: true });
    const common = { strategyId: strat.id, interval: '1d', startingBalance: 10_000, allowShort: true };
    const r = (await call(a, 'POST', '/api/backtests', { ...common, symbol: 'GOOG' })).json();
    await waitDone(a, r.id);
    const res = (await call(a, 'GET', `/api/backtests/${r.id}`)).json();
    expect(res).toMatchObject({ status: 'done', metrics: { trades: 66 } });
    expect(res.metrics.returnPct).toBeCloseTo(414.2298999999996, 8);
    // a walk-forward loads it the same way (its folds run on the pool's threads on views of the series)
    const wf = (
      await call(a, 'POST', '/api/backtests/walk-forward', {
        ...common,
        symbol: 'GOOG',
        params: { 'fast.period': [5, 10], 'slow.period': [30] },
        folds: 3,
      })
    ).json();
    await waitDone(a, wf.id);
    expect((await call(a, 'GET', `/api/backtests/${wf.id}`)).json()).toMatchObject({ status: 'done' });
    // the preview on stored candles draws it: the other symbol's close on every bar
    const pv = (
      await call(a, 'POST', '/api/strategies/preview', { graph, symbol: 'GOOG', interval: '1d', limit: 50 })
    ).json();
    const closeNode = graph.nodes.find((n) => n.type === 'symbol.bar')!.id;
    const own = (await call(a, 'GET', '/api/market/symbols/GOOG/candles?interval=1d&limit=50')).json();
    expect(pv.series[closeNode].close).toEqual(own.map((c: { close: number }) => c.close));
    // a symbol with no history: the backtest fails saying which and what to do; the preview is a 422
    const missing = viaOtherSymbol(templateById('sma-crossover')!.graph, 'NOPEUSD');
    const s2 = (await call(a, 'POST', '/api/strategies', { name: 'no data', graph: missing })).json();
    const f = (await call(a, 'POST', '/api/backtests', { ...common, strategyId: s2.id, symbol: 'GOOG' })).json();
    await waitDone(a, f.id);
    const failed = (await call(a, 'GET', `/api/backtests/${f.id}`)).json();
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('NOPEUSD');
    expect(failed.error).toContain('import');
    const pv2 = await call(a, 'POST', '/api/strategies/preview', { graph: missing, symbol: 'GOOG', interval: '1d' });
    expect(pv2.statusCode).toBe(422);
    expect(pv2.json().error.message).toContain('NOPEUSD');
  });

  it("charges a maker's fee rate on limit orders filled at their level: the engine's trades, kept in the parameters, 400s for bad ones", async () => {
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'all', orderType: 'limit', offsetPct: 0.3 };
    const common = { graph, symbol: 'GOOG', interval: '1d', startingBalance: 10_000, feeRate: 0.001 };
    const r = (await call(a, 'POST', '/api/backtests', { ...common, makerFeeRate: 0.0002 })).json();
    await waitDone(a, r.id);
    const res = (await call(a, 'GET', `/api/backtests/${r.id}`)).json();
    expect(res).toMatchObject({ status: 'done', parameters: { feeRate: 0.001, makerFeeRate: 0.0002 } });
    const sym = (await call(a, 'GET', '/api/market/symbols/GOOG')).json();
    const opts = { cash: 10_000, feeRate: 0.001, wholeUnits: sym.assetClass === 'stock' };
    const own = runBacktest(compileGraph(graph).plan!, googBars(), { ...opts, makerFeeRate: 0.0002 });
    const trades = (await call(a, 'GET', `/api/backtests/${r.id}/trades`)).json() as { fees: number; size: number }[];
    expect(trades.map((x) => [x.size, x.fees])).toEqual(own.trades.map((x) => [x.size, x.fees]));
    // less paid than at the taker's rate throughout
    const taker = runBacktest(compileGraph(graph).plan!, googBars(), opts);
    const paid = (list: { fees: number }[]) => list.reduce((sum, x) => sum + x.fees, 0);
    expect(paid(trades)).toBeLessThan(paid(taker.trades));
    for (const makerFeeRate of [-0.002, 0.5, 'low'])
      expect((await call(a, 'POST', '/api/backtests', { ...common, makerFeeRate })).statusCode).toBe(400);
  });

  it("trades in an exchange's lot size and holds back entries under its minimum order value: the engine's trades, the count in the metrics", async () => {
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 10.3 };
    const common = { graph, symbol: 'GOOG', interval: '1d', startingBalance: 10_000, feeRate: 0.001 };
    const exchange = { qtyStep: 0.25, minNotional: 4000 };
    const r = (await call(a, 'POST', '/api/backtests', { ...common, ...exchange })).json();
    await waitDone(a, r.id);
    const res = (await call(a, 'GET', `/api/backtests/${r.id}`)).json();
    expect(res).toMatchObject({ status: 'done', parameters: exchange });
    const own = runBacktest(compileGraph(graph).plan!, googBars(), { cash: 10_000, feeRate: 0.001, ...exchange });
    expect(res.metrics.limits.refused).toEqual({ MIN_NOTIONAL: own.risk!.refused.MIN_NOTIONAL });
    expect(own.risk!.refused.MIN_NOTIONAL).toBeGreaterThan(3);
    const trades = (await call(a, 'GET', `/api/backtests/${r.id}/trades`)).json() as { size: number }[];
    expect(trades.map((x) => x.size)).toEqual(own.trades.map((x) => x.size));
    expect(trades.every((x) => x.size === 10.25)).toBe(true);
    // the report lists them
    const html = (await call(a, 'GET', `/api/backtests/${r.id}/report`)).body;
    expect(html).toContain('Orders refused');
    expect(html).toContain(`${own.risk!.refused.MIN_NOTIONAL} entries refused: MIN_NOTIONAL`);
    for (const bad of [{ qtyStep: 0 }, { qtyStep: -1 }, { minNotional: -5 }, { qtyStep: 'lot' }, { borrowRatePct: -1 }])
      expect((await call(a, 'POST', '/api/backtests', { ...common, ...bad })).statusCode).toBe(400);
  });

  it("applies a paper session's risk limits: the engine's trades with them, what they did in the metrics, 400s for bad ones", async () => {
    const graph = templateById('sma-crossover')!.graph;
    const common = { graph, symbol: 'GOOG', interval: '1d', startingBalance: 10_000, feeRate: 0.001 };
    const risk = { maxDrawdownPct: 12, maxPositionPct: 50 };
    const r = (await call(a, 'POST', '/api/backtests', { ...common, risk })).json();
    await waitDone(a, r.id);
    const res = (await call(a, 'GET', `/api/backtests/${r.id}`)).json();
    expect(res).toMatchObject({ status: 'done', parameters: { risk } });
    // the engine's own run on the same bars and options (GOOG imported as a stock: whole shares)
    const bars = googBars();
    const sym = (await call(a, 'GET', '/api/market/symbols/GOOG')).json();
    const own = runBacktest(compileGraph(graph).plan!, bars, {
      cash: 10_000,
      feeRate: 0.001,
      wholeUnits: sym.assetClass === 'stock',
      risk,
    });
    const halt = own.risk!.halts[0]!;
    expect(res.metrics.trades).toBe(own.trades.length);
    expect(res.metrics.limits).toEqual({
      halts: [{ time: new Date(halt.time).toISOString(), limit: 'max_drawdown', pct: halt.pct }],
      refused: {},
    });
    const trades = (await call(a, 'GET', `/api/backtests/${r.id}/trades`)).json();
    expect(trades.at(-1)).toMatchObject({ exitReason: 'max_drawdown', exitTime: new Date(halt.time).toISOString() });
    expect(trades.at(-1).exitPrice).toBeCloseTo(own.trades.at(-1)!.exitPrice, 9);
    // the report shows them too
    const html = (await call(a, 'GET', `/api/backtests/${r.id}/report`)).body;
    expect(html).toContain('Risk limits: maxDrawdownPct 12, maxPositionPct 50');
    expect(html).toContain(
      `<td>${new Date(halt.time).toISOString().slice(0, 10)}</td><td>trading stopped: drawdown</td>`,
    );
    // each entry at most half of the equity
    for (const x of trades) expect(x.size * x.entryPrice).toBeLessThanOrEqual(own.stats.equityPeak / 2 + 1e-6);
    // a backtest without limits has none in its metrics
    const plain = (await call(a, 'POST', '/api/backtests', { ...common, risk: {} })).json();
    await waitDone(a, plain.id);
    const p = (await call(a, 'GET', `/api/backtests/${plain.id}`)).json();
    expect(p.metrics.limits).toBeUndefined();
    expect(p.parameters.risk).toBeUndefined();
    // sweeps and walk-forwards take them for each backtest they run
    const wf = (
      await call(a, 'POST', '/api/backtests/walk-forward', {
        ...common,
        risk: { maxDailyLossPct: 3, resumeNextDay: true },
        params: { 'fast.period': [5, 10], 'slow.period': [30] },
        folds: 3,
      })
    ).json();
    await waitDone(a, wf.id);
    const wt = (await call(a, 'GET', `/api/backtests/${wf.id}/trades`)).json();
    expect(wt.some((x: { exitReason: string }) => x.exitReason === 'max_daily_loss')).toBe(true);
    // each fold says what they did: a halt for each such exit of its window
    const folds = (await call(a, 'GET', `/api/backtests/${wf.id}/walk-forward`)).json().folds as {
      outOfSample: { from: string; to: string };
      limits: { halts: { time: string; limit: string }[]; refused: object };
    }[];
    const haltTimes = folds.flatMap((f) => f.limits.halts.map((h) => h.time)).sort();
    const exitTimes = wt
      .filter((x: { exitReason: string }) => x.exitReason === 'max_daily_loss')
      .map((x: { exitTime: string }) => new Date(x.exitTime).toISOString())
      .sort();
    expect(haltTimes).toEqual(exitTimes);
    // bad limits: a 400 naming the field
    for (const bad of [{ maxDrawdownPct: 0 }, { maxDrawdownPct: 150 }, { maxOrdersPerMinute: 1.5 }, { stop: 1 }]) {
      const x = await call(a, 'POST', '/api/backtests', { ...common, risk: bad });
      expect(x.statusCode).toBe(400);
      expect(x.json().error.message).toMatch(/risk/);
    }
  });

  it('refuses a walk-forward it cannot run, saying why', async () => {
    const graph = templateById('sma-crossover')!.graph;
    const post = (extra: object) =>
      call(a, 'POST', '/api/backtests/walk-forward', {
        graph,
        symbol: 'GOOG',
        params: { 'fast.period': [5] },
        ...extra,
      });
    expect((await post({ folds: 1 })).statusCode).toBe(400);
    expect((await post({ outOfSamplePct: 60 })).statusCode).toBe(400);
    const big = await post({
      params: { 'fast.period': [...Array(100).keys()].map((i) => i + 2), 'slow.period': [30, 40, 50, 60, 70, 80, 90] },
      folds: 20,
    });
    expect(big.json().error.message).toMatch(/700 combinations over 20 folds make 14720 backtests; at most 5000/);
    expect((await post({ params: { 'fast.period': [0] } })).json().error.message).toMatch(/does not compile/);
    // too little history for the windows: the job fails with the sizes
    const r = await post({ from: '2004-08-19', to: '2004-09-30', folds: 20, outOfSamplePct: 5 });
    expect(r.statusCode).toBe(202);
    await waitDone(a, r.json().id);
    const row = (await call(a, 'GET', `/api/backtests/${r.json().id}`)).json();
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/30 bars make out-of-sample windows of 0 bars/);
  });
});
