import pg from 'pg';
import { percentile, report } from './harness.ts';
import { startServer } from './server.ts';

// An order by hand on a paper session (POST /api/forward-tests/:id/orders), end to end: the platform in
// its own process (`algotrade start`, the simulated feed on), a session whose strategy never enters by
// itself on BTCUSD, then N rounds of a buy of one lot and a close, each request timed at the client until
// its answer (the fill committed, the session read back). The baseline, alternated with them in the same
// run: GET of the same session (the same auth, routing and view, no order). Each round also places a
// buy limit far under the market (it rests, saved on the session's row), moves it (PATCH .../open-orders/:id,
// its price changed in place on the row) and cancels it, timed alike. Embedded (PGlite), and with
// BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test) on PostgreSQL in a scratch database.
const N = Number(process.env.MANUAL_ORDER_ROUNDS ?? 200);
const graph = {
  version: 1,
  nodes: [
    { id: 'close', type: 'price.close', data: {}, position: { x: 0, y: 0 } },
    { id: 'never', type: 'constant', data: { value: 1e12 }, position: { x: 0, y: 0 } },
    { id: 'up', type: 'logic.greater', data: {}, position: { x: 0, y: 0 } },
    { id: 'buy', type: 'action.buy', data: {}, position: { x: 0, y: 0 } },
  ],
  edges: [
    { id: 'e1', source: 'close', sourceHandle: 'value', target: 'up', targetHandle: 'a' },
    { id: 'e2', source: 'never', sourceHandle: 'value', target: 'up', targetHandle: 'b' },
    { id: 'e3', source: 'up', sourceHandle: 'value', target: 'buy', targetHandle: 'trigger' },
  ],
};

async function measure(label: string, env: Record<string, string>) {
  const server = await startServer({ ...env, MARKET_FEED: 'simulator' });
  try {
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const r = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };
    const { accessToken: token } = await call('POST', '/api/auth/register', undefined, {
      email: `bench-${Date.now()}@x.io`,
      password: 'password123',
    });
    const strategy = await call('POST', '/api/strategies', token, { name: 'by hand', graph });
    const session = await call('POST', '/api/forward-tests', token, { strategyId: strategy.id, symbol: 'BTCUSD' });
    const url = `/api/forward-tests/${session.id}`;
    // the symbol's first ticks: an order needs a price
    for (let i = 0; ; i++) {
      try {
        await call('POST', `${url}/orders`, token, { action: 'buy', sizing: 'fixed_qty', amount: 0.001 });
        await call('POST', `${url}/orders`, token, { action: 'close' });
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const orders: number[] = [];
    const reads: number[] = [];
    const rests: number[] = [];
    const moves: number[] = [];
    const cancels: number[] = [];
    const timed = async (into: number[], fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < N; i++) {
      await timed(orders, () =>
        call('POST', `${url}/orders`, token, { action: 'buy', sizing: 'fixed_qty', amount: 0.001 }),
      );
      await timed(reads, () => call('GET', url, token));
      await timed(orders, () => call('POST', `${url}/orders`, token, { action: 'close' }));
      await timed(reads, () => call('GET', url, token));
      // a buy limit far under the market (it rests: saved on the row), moved, then cancelled
      let open: { id: string } | undefined;
      await timed(rests, async () => {
        open = (
          await call('POST', `${url}/orders`, token, {
            action: 'buy',
            sizing: 'fixed_qty',
            amount: 0.001,
            type: 'limit',
            price: 1,
          })
        ).open;
      });
      await timed(reads, () => call('GET', url, token));
      await timed(moves, () => call('PATCH', `${url}/open-orders/${open!.id}`, token, { price: 2 }));
      await timed(cancels, () => call('DELETE', `${url}/open-orders/${open!.id}`, token));
    }
    const after = await call('GET', url, token);
    if (after.trades !== 2 * N + 2) throw new Error(`expected ${2 * N + 2} fills, the session has ${after.trades}`);
    report({
      bench: 'manual-order',
      metric: `${label}_order_by_hand_p50_ms`,
      value: percentile(orders, 50),
      unit: 'ms',
      baseline: percentile(reads, 50),
      ratio: Number((percentile(orders, 50) / percentile(reads, 50)).toFixed(2)),
      p99: Number(percentile(orders, 99).toFixed(3)),
      baselineP99: Number(percentile(reads, 99).toFixed(3)),
      orders: orders.length,
    });
    for (const [what, list] of [
      ['resting_order_placed', rests],
      ['resting_order_moved', moves],
      ['resting_order_cancelled', cancels],
    ] as const)
      report({
        bench: 'manual-order',
        metric: `${label}_${what}_p50_ms`,
        value: percentile(list, 50),
        unit: 'ms',
        baseline: percentile(reads, 50),
        ratio: Number((percentile(list, 50) / percentile(reads, 50)).toFixed(2)),
        p99: Number(percentile(list, 99).toFixed(3)),
        requests: list.length,
      });
  } finally {
    await server.stop();
  }
}

await measure('embedded', {});
const pgUrl = process.env.BENCH_PG_URL;
if (pgUrl) {
  const db = `manual_order_${process.pid}`;
  const admin = async (q: string) => {
    const c = new pg.Client(pgUrl);
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await admin(`create database ${db}`);
  try {
    const u = new URL(pgUrl);
    u.pathname = `/${db}`;
    await measure('postgres', { DATABASE_URL: u.toString(), JWT_SECRET: 'b'.repeat(40) });
  } finally {
    await admin(`drop database if exists ${db} with (force)`);
  }
}
