import { spawn, type ChildProcess } from 'node:child_process';
import { TOPICS } from '@algotrade/core';
import { templateById } from '@algotrade/strategy';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

/**
 * `algotrade runner --session <id>` as its own OS process (what a Kubernetes runner Job runs), on the
 * real PostgreSQL and Kafka: the forward-test service (FT_RUNNER=external) does not evaluate the
 * strategy; the runner process reads the ticks from Kafka and publishes the signals the service fills.
 */
const symbol = `RUN${Math.random().toString(36).slice(2, 6).toUpperCase()}USD`;
const real = {
  DATABASE_URL: SERVICES.postgres,
  KAFKA_BROKERS: SERVICES.kafka,
  KAFKA_CLIENT_ID: uniqueName('runner'),
  JWT_SECRET: 'runner-secret-runner-secret-runner-secret',
};

function runner(args: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['bin/algotrade.mjs', 'runner', ...args], {
    env: { ...process.env, ...real, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-8000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-8000)));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, exit };
}

describe('strategy runner process (algotrade runner --session)', () => {
  let t: TestApp;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    t = await startTestApp({ ...real, FT_RUNNER: 'external', FT_EQUITY_INTERVAL_MS: '500' });
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    const db = new pg.Client({ connectionString: SERVICES.postgres });
    await db.connect();
    await db.query(`update forward_test_sessions set status = 'stopped' where symbol = $1`, [symbol]);
    await db.query(`update symbols set active = false where symbol = $1`, [symbol]);
    await db.end();
    await t?.stop();
  });

  it('trades a session from its own process and exits when the session stops', async () => {
    const u = await t.user();
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'fast')!.data = { period: 3 };
    graph.nodes.find((n) => n.id === 'slow')!.data = { period: 7 };
    const sid = (await call('POST', '/api/strategies', { name: 'runner', graph })).json().id;
    const ft = (await call('POST', '/api/forward-tests', { strategyId: sid, symbol, feeRate: 0.001 })).json();
    expect(ft.status).toBe('running');

    const r = runner(['--session', ft.id]);
    procs.push(r.proc);
    const t0 = Date.now();
    while (!r.out().includes('strategy runner started')) {
      if (r.proc.exitCode !== null) throw new Error(`runner exited: ${r.out()}`);
      if (Date.now() - t0 > 60_000) throw new Error(`runner did not start: ${r.out()}`);
      await new Promise((res) => setTimeout(res, 100));
    }

    // a wave until the runner's signals have become trades (the consumer group joins meanwhile)
    let trades: { side: string; quantity: number; price: number }[] = [];
    for (let i = 0; trades.length < 4; i += 20) {
      if (Date.now() - t0 > 90_000) throw new Error(`no trades: ${r.out()}`);
      const ticks = [];
      for (let k = i; k < i + 20; k++) {
        const p = 100 + 5 * Math.sin(k / 6);
        ticks.push({ ts: Date.now() - 20 + (k - i), price: p, size: 1, bid: p - 0.01, ask: p + 0.01, seq: k });
      }
      await t.rt.bus.publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', { symbol, ticks });
      await new Promise((res) => setTimeout(res, 100));
      trades = (await call('GET', `/api/forward-tests/${ft.id}/trades`)).json();
    }
    expect(trades[0]!.side).toBe('buy');

    // stopping the session ends the runner (a Job completes)
    expect((await call('POST', `/api/forward-tests/${ft.id}/stop`)).statusCode).toBe(200);
    const code = await Promise.race([r.exit, new Promise((res) => setTimeout(() => res('timeout'), 30_000))]);
    expect(code, r.out()).toBe(0);
    expect(r.out()).toMatch(/strategy runner ending/);
    // flat after the stop, the ledger reconciles: starting balance + realised PnL - fees = cash
    const v = (await call('GET', `/api/forward-tests/${ft.id}`)).json();
    expect(v.status).toBe('stopped');
    expect(v.position).toBeNull();
    expect(Math.abs(v.cash - v.balance)).toBeLessThan(0.005);
    expect(v.cash).not.toBe(v.startingBalance);
  });

  it('refuses a session that does not exist, with a reason and exit code 1', async () => {
    const r = runner(['--session', '00000000-0000-4000-8000-000000000000']);
    procs.push(r.proc);
    expect(await r.exit).toBe(1);
    expect(r.out()).toMatch(/no forward-test session 00000000/);
    const bad = runner(['--session', 'nope']);
    procs.push(bad.proc);
    expect(await bad.exit).toBe(2);
    expect(bad.out()).toMatch(/usage: algotrade runner --session/);
  });
});
