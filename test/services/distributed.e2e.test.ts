import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { templateById } from '@algotrade/strategy';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SERVICES, tempDir, uniqueName } from '../helpers/env.ts';

/**
 * The distributed topology for real: the gateway and every service as its own OS process
 * (`algotrade serve <service>`), plus a separate backtest worker process, on the real PostgreSQL,
 * Redis and Kafka. Everything below goes through the gateway only.
 */
const tmp = tempDir();
const base = 21_000 + Math.floor(Math.random() * 2000);
const names = ['market-data', 'strategy', 'forward-test', 'backtest', 'notification', 'analytics'] as const;
const port = (name: string) => (name === 'gateway' ? base : base + 1 + names.indexOf(name as (typeof names)[number]));
const url = (name: string) => `http://127.0.0.1:${port(name)}`;
const symbol = `E2E${Math.random().toString(36).slice(2, 6).toUpperCase()}USD`;
const common = {
  DATABASE_URL: SERVICES.postgres,
  REDIS_URL: SERVICES.redis,
  KAFKA_BROKERS: SERVICES.kafka,
  KAFKA_CLIENT_ID: uniqueName('e2e'),
  JWT_SECRET: 'e2e-secret-e2e-secret-e2e-secret-e2e-secret',
  DATA_DIR: tmp.dir,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_MINUTE: '100000',
  SIM_SYMBOLS: symbol,
  SIM_TICKS_PER_SECOND: '20',
  FT_EQUITY_INTERVAL_MS: '500',
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', // the webhook receiver below is on this machine
  ...Object.fromEntries(names.map((n) => [`${n.toUpperCase().replace('-', '_')}_URL`, url(n)])),
};
const procs: { name: string; proc: ChildProcess; out: () => string }[] = [];

function launch(name: string, args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, ['bin/algotrade.mjs', ...args], {
    env: { ...process.env, ...common, PORT: String(port(name)), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  procs.push({ name, proc, out: () => out });
}

async function healthy(name: string, ms = 90_000) {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${url(name)}/health`)).ok) return;
    } catch {
      /* not yet */
    }
    const p = procs.find((x) => x.name === name)!;
    if (p.proc.exitCode !== null) throw new Error(`${name} exited: ${p.out()}`);
    if (Date.now() - t0 > ms) throw new Error(`${name} did not answer /health: ${p.out()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('distributed: every service in its own process on PostgreSQL, Redis and Kafka', () => {
  beforeAll(async () => {
    for (const n of names) launch(n, ['serve', n], n === 'backtest' ? { BACKTEST_WORKER: '0' } : {});
    // two worker processes: an adaptive sweep's proposals race between them
    launch('worker', ['worker']);
    launch('worker-2', ['worker']);
    launch('gateway', ['serve', 'gateway'], { MARKET_FEED: 'none' });
    for (const n of [...names, 'gateway']) await healthy(n);
  }, 180_000);
  afterAll(async () => {
    // the database is shared with other suites: leave nothing running on this run's symbol
    const db = new pg.Client({ connectionString: SERVICES.postgres });
    await db.connect();
    await db.query(`update forward_test_sessions set status = 'stopped' where symbol = $1 and status = 'running'`, [
      symbol,
    ]);
    await db.query(`update symbols set active = false where symbol = $1`, [symbol]);
    await db.end();
    for (const p of procs) p.proc.kill('SIGTERM');
    const t0 = Date.now();
    while (procs.some((p) => p.proc.exitCode === null && p.proc.signalCode === null) && Date.now() - t0 < 20_000)
      await new Promise((r) => setTimeout(r, 100));
    const hung = procs.filter((p) => p.proc.exitCode === null && p.proc.signalCode === null);
    for (const p of hung) p.proc.kill('SIGKILL');
    tmp.remove();
    // every process drains and exits by itself on SIGTERM
    expect(hung.map((p) => `${p.name}: ${p.out().slice(-500)}`)).toEqual([]);
  }, 60_000);

  it('survives SIGKILL of the forward-test process during heavy trading: resumes, nothing lost or doubled', async () => {
    const gw = url('gateway');
    const reg = await fetch(`${gw}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${uniqueName('kill')}@x.io`, password: 'password123' }),
    });
    const { accessToken } = (await reg.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${gw}${path}`, {
        method,
        headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    };
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((n) => n.id === 'fast')!.data = { period: 2 };
    g.nodes.find((n) => n.id === 'slow')!.data = { period: 3 };
    const strat = await api<{ id: string }>('POST', '/api/strategies', { name: 'churn', graph: g });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (await api<{ id: string }>('POST', '/api/forward-tests', { strategyId: strat.id, symbol, feeRate: 0.001 })).id,
      );
    type T = { id: string; signalId: string; side: string; quantity: number; fee: number; realizedPnl: number };
    const trades = (id: string) => api<T[]>('GET', `/api/forward-tests/${id}/trades?limit=10000`);
    const total = async () => (await Promise.all(ids.map(trades))).reduce((a, t) => a + t.length, 0);
    const waitTotal = async (n: number) => {
      const t0 = Date.now();
      while ((await total()) < n && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 250));
    };
    await waitTotal(30);
    const seen = new Map<string, string[]>();
    for (const id of ids)
      seen.set(
        id,
        (await trades(id)).map((t) => t.id),
      );
    const ft = procs.find((p) => p.name === 'forward-test')!;
    ft.proc.kill('SIGKILL');
    await new Promise((r) => ft.proc.once('exit', r));
    procs.splice(procs.indexOf(ft), 1);
    launch('forward-test', ['serve', 'forward-test']);
    await healthy('forward-test');
    const after = await total();
    await waitTotal(after + 10);
    expect(await total()).toBeGreaterThanOrEqual(after + 10);
    for (const id of ids) {
      expect((await api<{ status: string }>('GET', `/api/forward-tests/${id}`)).status).toBe('running');
      await api('POST', `/api/forward-tests/${id}/stop`);
    }
    for (const id of ids) {
      const list = await trades(id);
      const now = new Set(list.map((t) => t.id));
      for (const tid of seen.get(id)!) expect(now.has(tid)).toBe(true);
      expect(new Set(list.map((t) => t.signalId)).size).toBe(list.length);
      const s = await api<{ startingBalance: number; balance: number; cash: number; position: unknown }>(
        'GET',
        `/api/forward-tests/${id}`,
      );
      const realized = list.reduce((a, t) => a + t.realizedPnl, 0);
      const fees = list.reduce((a, t) => a + t.fee, 0);
      expect(s.position).toBeNull();
      expect(Math.abs(s.startingBalance + realized - fees - s.balance)).toBeLessThan(0.005);
      expect(Math.abs(s.cash - s.balance)).toBeLessThan(0.005);
    }
  }, 180_000);

  it('registers, paper-trades with trades over the WebSocket, backtests on a worker process, searches adaptively on two, reads analytics', async () => {
    const gw = url('gateway');
    const reg = await fetch(`${gw}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${uniqueName('e2e')}@x.io`, password: 'password123' }),
    });
    expect(reg.status).toBe(201);
    const { accessToken } = (await reg.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const api = async <T>(method: string, path: string, body?: unknown, type = 'application/json'): Promise<T> => {
      const r = await fetch(`${gw}${path}`, {
        method,
        headers: body === undefined ? auth : { ...auth, 'content-type': type },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    };

    // a fast strategy from the SMA-crossover template, so it trades within seconds
    const tpl = await api<{ id: string; graph: unknown }>('POST', '/api/strategies/templates/sma-crossover');
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((n) => n.id === 'fast')!.data = { period: 2 };
    g.nodes.find((n) => n.id === 'slow')!.data = { period: 4 };
    const fast = await api<{ id: string }>('POST', '/api/strategies', { name: 'fast', graph: g });
    await api('POST', `/api/market/symbols/${symbol}/subscribe`);

    // a webhook for fills and finished backtests, received on a real local socket
    const received: { event: string; body: string; signature: string }[] = [];
    const rx = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({
          event: String(req.headers['x-algotrade-event']),
          body,
          signature: String(req.headers['x-algotrade-signature']),
        });
        res.end();
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    const hook = await api<{ id: string; secret: string }>('POST', '/api/webhooks', {
      url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`,
      events: ['trade', 'backtest.done'],
    });

    // forward test; its trades arrive over the gateway's WebSocket from the notification service
    const ft = await api<{ id: string; status: string }>('POST', '/api/forward-tests', {
      strategyId: fast.id,
      symbol,
      feeRate: 0.001,
    });
    expect(ft.status).toBe('running');
    const ws = new WebSocket(`${gw.replace('http', 'ws')}/ws?token=${accessToken}`);
    const frames: { type: string; channel?: string; data?: Record<string, unknown> }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channel: `session:${ft.id}` }));
    const t0 = Date.now();
    while (!frames.some((f) => f.type === 'trade') && Date.now() - t0 < 60_000)
      await new Promise((r) => setTimeout(r, 200));
    const trade = frames.find((f) => f.type === 'trade');
    expect(trade, `frames: ${JSON.stringify(frames.slice(-3))}`).toBeDefined();
    expect(trade).toMatchObject({ channel: `session:${ft.id}`, data: { sessionId: ft.id, symbol } });
    ws.close();
    const trades = await api<unknown[]>('GET', `/api/forward-tests/${ft.id}/trades`);
    expect(trades.length).toBeGreaterThanOrEqual(1);

    // a backtest on imported history, processed by the separate worker process (BullMQ on Redis)
    const csv = readFileSync(new URL('../fixtures/backtesting-py/GOOG.csv', import.meta.url), 'utf8');
    const imp = await api<{ imported: number }>(
      'POST',
      '/api/market/history/import?symbol=GOOG&interval=1d',
      csv,
      'text/csv',
    );
    expect(imp.imported).toBe(2148);
    const bt = await api<{ id: string }>('POST', '/api/backtests', {
      strategyId: tpl.id,
      symbol: 'GOOG',
      interval: '1d',
      startingBalance: 10_000,
      allowShort: true,
    });
    let status = '';
    const t1 = Date.now();
    while (status !== 'done' && status !== 'failed' && Date.now() - t1 < 60_000) {
      status = (await api<{ status: string }>('GET', `/api/backtests/${bt.id}`)).status;
      await new Promise((r) => setTimeout(r, 250));
    }
    const res = await api<{ status: string; metrics: { trades: number; sharpe: number } }>(
      'GET',
      `/api/backtests/${bt.id}`,
    );
    expect(res).toMatchObject({ status: 'done', metrics: { trades: 66 } });
    expect(res.metrics.sharpe).toBeCloseTo(0.5806232244485349, 10);
    // the list a page at a time through the gateway: the next page's Link passed on as the service wrote it
    const bt2 = await api<{ id: string }>('POST', '/api/backtests', {
      strategyId: tpl.id,
      symbol: 'GOOG',
      interval: '1d',
    });
    const page1 = await fetch(`${gw}/api/backtests?limit=1`, { headers: auth });
    expect(((await page1.json()) as { id: string }[]).map((x) => x.id)).toEqual([bt2.id]);
    const link = /^<([^>]+)>; rel="next"$/.exec(page1.headers.get('link') ?? '')![1]!;
    const page2 = await fetch(`${gw}${link}`, { headers: auth });
    expect(((await page2.json()) as { id: string }[]).map((x) => x.id)).toEqual([bt.id]);
    expect(page2.headers.get('link')).toBeNull();

    // the webhook got both kinds of event, signed (Kafka to the notification process, deliveries in PostgreSQL)
    const t2 = Date.now();
    const got = (e: string) => received.filter((r) => r.event === e);
    while ((!got('trade').length || !got('backtest.done').length) && Date.now() - t2 < 30_000)
      await new Promise((r) => setTimeout(r, 200));
    rx.close();
    expect(JSON.parse(got('trade')[0]!.body)).toMatchObject({ event: 'trade', data: { sessionId: ft.id, symbol } });
    expect(JSON.parse(got('backtest.done')[0]!.body)).toMatchObject({ data: { backtestId: bt.id } });
    for (const r of received) {
      const [, ts, sig] = /^t=(\d+),v1=(\w+)$/.exec(r.signature)!;
      expect(sig).toBe(createHmac('sha256', hook.secret).update(`${ts}.${r.body}`).digest('hex'));
    }
    const log = await api<{ status: string; error: string | null }[]>('GET', `/api/webhooks/${hook.id}/deliveries`);
    expect(log.filter((d) => d.status === 'failed')).toEqual([]);
    expect(log.filter((d) => d.status === 'delivered').length).toBeGreaterThanOrEqual(2);

    // analytics reports, from the analytics process
    const an = await api<{ report: { var95Pct: number; trades: number } }>('GET', `/api/analytics/backtests/${bt.id}`);
    expect(an.report.trades).toBe(66);
    expect(an.report.var95Pct).toBeGreaterThan(0);
    const pf = await api<{ sessions: number; perSession: { id: string }[] }>('GET', '/api/analytics/portfolio');
    expect(pf.perSession.map((s) => s.id)).toContain(ft.id);
    await api('POST', `/api/forward-tests/${ft.id}/stop`);

    // an adaptive sweep (TPE) on the two worker processes: each proposes the next points as its backtests
    // end; every number of the sweep is taken once in PostgreSQL, every point is distinct; and the same
    // seed proposes the same points again, number by number, whichever worker ends which backtest first
    type Sweep = { done: number; created: number; total: number; ranked: { combo: object }[]; convergence: unknown[] };
    const adaptiveSweep = async () => {
      const sweep = await api<{ sweepId: string; ids: string[] }>('POST', '/api/backtests/sweep', {
        strategyId: tpl.id,
        symbol: 'GOOG',
        interval: '1d',
        startingBalance: 10_000,
        params: { 'fast.period': { from: 2, to: 30, step: 1 }, 'slow.period': { from: 35, to: 200, step: 5 } },
        sample: { method: 'tpe', count: 16, startup: 4, parallel: 4, seed: 5 },
      });
      expect(sweep.ids).toHaveLength(4);
      let sw = await api<Sweep>('GET', `/api/backtests/sweeps/${sweep.sweepId}`);
      const t3 = Date.now();
      while (sw.done < 16 && Date.now() - t3 < 90_000) {
        await new Promise((r) => setTimeout(r, 250));
        sw = await api<Sweep>('GET', `/api/backtests/sweeps/${sweep.sweepId}`);
      }
      expect(sw).toMatchObject({ done: 16, created: 16, total: 16 });
      expect(new Set(sw.ranked.map((x) => JSON.stringify(x.combo))).size).toBe(16);
      expect(sw.convergence).toHaveLength(16);
      const db = new pg.Client({ connectionString: SERVICES.postgres });
      await db.connect();
      const rows = await db.query<{ sweep_seq: number; parameters: { combo: object } }>(
        'select sweep_seq, parameters from backtest_results where sweep_id = $1 order by sweep_seq',
        [sweep.sweepId],
      );
      await db.end();
      expect(rows.rows.map((r) => r.sweep_seq)).toEqual(Array.from({ length: 16 }, (_, i) => i));
      return rows.rows.map((r) => JSON.stringify(r.parameters.combo));
    };
    const first = await adaptiveSweep();
    expect(await adaptiveSweep()).toEqual(first);

    // the gateway sees every downstream
    const health = (await (await fetch(`${gw}/health/detailed`)).json()) as {
      dependencies: Record<string, { status: string }>;
    };
    for (const n of names) expect(health.dependencies[n], n).toMatchObject({ status: 'ok' });
  }, 180_000);
});
