import { comboVariants, expandGrid, runBacktest, sampleGrid, templateById, type Graph } from '@algotrade/strategy';
import { startTestApp } from '../test/helpers/app.ts';
import { backtestingPyBars } from '../test/helpers/goog.ts';
import { alternated, report, reportAgainst } from './harness.ts';

// A sweep through the service, as a user runs one (embedded: PGlite, the in-process queue, the engine
// pool, results in files): 300 points of the RSI mean-reversion grid at random on GOOG's 2,148 daily
// bars, from the request to its last backtest done. Beside it, in the same run: the same 300 points as
// 300 plain backtests (each reads its candles from the database, as every backtest of a sweep did
// before the fortieth session), an adaptive search (TPE) of 300, the engine alone on those points, and
// (forty-first session) the same random sweep over a portfolio of two symbols (GOOG's bars twice):
// every point a portfolio backtest of two legs.
const N = 300;
// the plain backtests are 300 requests a round: no rate limit in the way
const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '1000000' });
const u = await t.user();
await t.importGoog(u.auth);
await t.importGoog(u.auth, 'GOOG2');
const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
  const r = await t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
  if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
  return r.json();
};
const graph = templateById('rsi-mean-reversion')!.graph as Graph;
const params = {
  'rsi.period': { from: 2, to: 30, step: 1 },
  'low.value': { from: 10, to: 45, step: 5 },
  'high.value': { from: 55, to: 90, step: 5 },
  'stop.percent': { from: 2, to: 14, step: 2 },
};
const base = { symbol: 'GOOG', interval: '1d', startingBalance: 10_000, feeRate: 0.001 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seed = 0;

/** Waits until `n` backtests of the sweep or of the ids have ended (a count in the database, not the API). */
async function ended(n: number, of: { sweepId: string } | { ids: string[] }) {
  const db = t.rt.db.db;
  for (;;) {
    let q = db
      .selectFrom('backtest_results')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', 'in', ['done', 'failed']);
    q = 'sweepId' in of ? q.where('sweep_id', '=', of.sweepId) : q.where('id', 'in', of.ids);
    if (Number((await q.executeTakeFirstOrThrow()).n) >= n) return;
    await sleep(50);
  }
}

/** A sweep from its request to its last backtest ended. */
async function sweep(sample: object, where: object = {}) {
  const r = await call('POST', '/api/backtests/sweep', { ...base, ...where, graph, params, rankBy: 'sharpe', sample });
  await ended(N, { sweepId: r.sweepId });
}

/** The sweep's points as plain backtests, from the first request to the last one ended. */
async function plain() {
  const variants = comboVariants(graph, sampleGrid(expandGrid(params), N, ++seed));
  const ids: string[] = [];
  for (const v of variants) ids.push((await call('POST', '/api/backtests', { ...base, graph: v.graph })).id);
  await ended(N, { ids });
}

const bars = backtestingPyBars('GOOG.csv');
const engine = () => {
  for (const v of comboVariants(graph, sampleGrid(expandGrid(params), N, 1)))
    runBacktest(v.plan, bars, { cash: 10_000, feeRate: 0.001 });
};

const portfolio = { symbol: undefined, symbols: ['GOOG', 'GOOG2'] };
const [sweepMs, plainMs, tpeMs, engineMs, portfolioMs] = await alternated(
  [
    () => sweep({ count: N, seed: ++seed }),
    plain,
    () => sweep({ method: 'tpe', count: N, seed: ++seed }),
    engine,
    () => sweep({ count: N, seed: ++seed }, portfolio),
  ],
  3,
);
reportAgainst('sweep-service', 'random_sweep_300_goog_1d_ms', sweepMs, plainMs, {
  baselineIs: 'the same number of plain backtests',
  backtestsPerS: Math.round((N / sweepMs) * 1000),
});
reportAgainst('sweep-service', 'tpe_sweep_300_goog_1d_ms', tpeMs, sweepMs, { baselineIs: 'the random sweep' });
reportAgainst('sweep-service', 'portfolio_sweep_300_two_legs_ms', portfolioMs, sweepMs, {
  baselineIs: 'the random sweep on one symbol',
});
report({
  bench: 'sweep-service',
  metric: 'engine_alone_300_goog_1d_ms',
  value: engineMs,
  unit: 'ms',
  shareOfSweep: Number((engineMs / sweepMs).toFixed(3)),
});
await t.stop();
