import { spawn, type ChildProcess } from 'node:child_process';
import { decodeLedger } from '@algotrade/adapters';
import { newLedger } from '@algotrade/core';
import { templateById } from '@algotrade/strategy';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES, tempDir, uniqueName } from '../helpers/env.ts';

/**
 * Two forward-test instances in one Kafka consumer group share the symbols' partitions, each running
 * the sessions of its symbols. SIGKILL one: Kafka moves its partitions to the other, which loads
 * those sessions afresh from PostgreSQL and carries on within 30 s; no trade is lost or doubled and
 * every ledger still matches its trades.
 */
const tmp = tempDir();
const base = 23_500 + Math.floor(Math.random() * 1000);
const tag = Math.random().toString(36).slice(2, 6).toUpperCase();
// enough symbols that both members of the group hold some partitions (8 partitions, keyed by symbol)
const symbols = Array.from({ length: 12 }, (_, i) => `FO${tag}${String.fromCharCode(65 + i)}`);
const common = {
  DATABASE_URL: SERVICES.postgres,
  REDIS_URL: SERVICES.redis,
  KAFKA_BROKERS: SERVICES.kafka,
  KAFKA_CLIENT_ID: uniqueName('failover'),
  JWT_SECRET: 'failover-secret-failover-secret-failover',
  DATA_DIR: tmp.dir,
  LOG_LEVEL: process.env.FAILOVER_LOG_LEVEL ?? 'warn',
  SIM_SYMBOLS: symbols.join(','),
  SIM_TICKS_PER_SECOND: '10',
  FT_EQUITY_INTERVAL_MS: '500',
  FT_HANDOVER_MS: '3000',
};
interface Proc {
  name: string;
  port: number;
  proc: ChildProcess;
  out: () => string;
}
const procs: Proc[] = [];

function launch(name: string, port: number, args: string[]): Proc {
  const proc = spawn(process.execPath, ['bin/algotrade.mjs', ...args], {
    env: { ...process.env, ...common, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  const p = { name, port, proc, out: () => out };
  procs.push(p);
  return p;
}

async function healthy(p: Proc, ms = 90_000) {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${p.port}/health`)).ok) return;
    } catch {
      /* not yet */
    }
    if (p.proc.exitCode !== null) throw new Error(`${p.name} exited: ${p.out()}`);
    if (Date.now() - t0 > ms) throw new Error(`${p.name} did not answer /health: ${p.out()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How many of this test's symbols the instance runs (the shared broker may carry other symbols). */
async function activeSymbols(p: Proc): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
  const mine = [...text.matchAll(/^forward_test_symbols_active\{symbol="([^"]+)"\} 1$/gm)].map((m) => m[1]!);
  return mine.filter((s) => symbols.includes(s)).length;
}

describe('forward-test failover between two instances of one consumer group (Kafka, PostgreSQL)', () => {
  const db = new pg.Client({ connectionString: SERVICES.postgres });
  const sessionIds: string[] = [];
  let a: Proc;
  let b: Proc;

  beforeAll(async () => {
    await db.connect();
    // sessions exist before the instances start: each instance loads them and runs those whose
    // symbol's partition it holds
    const user = await db.query<{ id: string }>(
      `insert into users (email, password_hash) values ($1, 'x') returning id`,
      [`${uniqueName('failover')}@x.io`],
    );
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'fast')!.data = { period: 2 };
    graph.nodes.find((n) => n.id === 'slow')!.data = { period: 4 };
    const config = {
      startingBalance: 100_000,
      feeRate: 0.001,
      feeFixed: 0,
      slippageBps: 1,
      allowShort: false,
      wholeUnits: false,
      risk: {},
      evaluation: { mode: 'tick' },
    };
    for (const symbol of symbols) {
      const r = await db.query<{ id: string }>(
        `insert into forward_test_sessions (user_id, strategy_snapshot, symbol, config, status, state, started_at)
         values ($1, $2, $3, $4, 'running', $5, now()) returning id`,
        [
          user.rows[0]!.id,
          JSON.stringify({ graph }),
          symbol,
          JSON.stringify(config),
          JSON.stringify(newLedger(config)),
        ],
      );
      sessionIds.push(r.rows[0]!.id);
    }
    const md = launch('market-data', base, ['serve', 'market-data']);
    a = launch('forward-test-a', base + 1, ['serve', 'forward-test']);
    b = launch('forward-test-b', base + 2, ['serve', 'forward-test']);
    for (const p of [md, a, b]) await healthy(p);
  }, 180_000);

  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
    const t0 = Date.now();
    while (procs.some((p) => p.proc.exitCode === null && p.proc.signalCode === null) && Date.now() - t0 < 20_000)
      await new Promise((r) => setTimeout(r, 100));
    const hung = procs.filter((p) => p.proc.exitCode === null && p.proc.signalCode === null);
    for (const p of hung) p.proc.kill('SIGKILL');
    await db.query(`update forward_test_sessions set status = 'stopped' where id = any($1)`, [sessionIds]);
    // the database is shared with other suites: leave none of this run's symbols subscribed
    await db.query(`update symbols set active = false where symbol = any($1)`, [symbols]);
    await db.end();
    tmp.remove();
    // every process drains and exits by itself on SIGTERM
    expect(hung.map((p) => `${p.name}: ${p.out().slice(-500)}`)).toEqual([]);
  }, 60_000);

  it("moves a killed instance's sessions to the other within 30 s; nothing lost or doubled", async () => {
    // both instances run some of the symbols, together all of them
    const t0 = Date.now();
    let split: number[] = [0, 0];
    while (Date.now() - t0 < 90_000) {
      split = [await activeSymbols(a), await activeSymbols(b)];
      if (split[0]! > 0 && split[1]! > 0 && split[0]! + split[1]! === symbols.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(JSON.stringify({ symbolsPerInstance: split, afterMs: Date.now() - t0 }));
    expect(split[0]! > 0 && split[1]! > 0, `symbols per instance: ${split}`).toBe(true);
    expect(split[0]! + split[1]!).toBe(symbols.length);
    // every session trades
    const tradesPer = async () =>
      new Map(
        (
          await db.query<{ session_id: string; n: string }>(
            `select session_id, count(*) n from trades where session_id = any($1) group by session_id`,
            [sessionIds],
          )
        ).rows.map((r) => [r.session_id, Number(r.n)]),
      );
    await expect.poll(async () => (await tradesPer()).size, { timeout: 60_000, interval: 500 }).toBe(symbols.length);

    const [victim, survivor] = split[0]! >= split[1]! ? [a, b] : [b, a];
    const before = await tradesPer();
    victim.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => victim.proc.once('exit', r));

    // every session gets equity points again (its ledger marked by the survivor) and the survivor
    // runs every symbol
    const since = new Date(killedAt + 1000);
    let movedAfter = -1;
    while (Date.now() - killedAt < 45_000) {
      const r = await db.query<{ n: string }>(
        `select count(distinct session_id) n from chart_data where session_id = any($1) and ts > $2`,
        [sessionIds, since],
      );
      if (Number(r.rows[0]!.n) === symbols.length && (await activeSymbols(survivor)) === symbols.length) {
        movedAfter = Date.now() - killedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(JSON.stringify({ bench: 'failover', metric: 'sessions_moved_after_ms', value: movedAfter }));
    expect(movedAfter, survivor.out()).toBeGreaterThan(0);
    expect(movedAfter).toBeLessThan(30_000);
    const stage = (name: string) => console.log(JSON.stringify({ stage: name, sinceKillMs: Date.now() - killedAt }));
    stage('moved');
    // and they keep trading
    await expect
      .poll(
        async () => {
          const now = await tradesPer();
          return sessionIds.filter((id) => (now.get(id) ?? 0) > (before.get(id) ?? 0)).length;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(symbols.length);

    stage('trading');
    // nothing doubled: one trade per signal per session
    const dup = await db.query(
      `select session_id, signal_id from trades where session_id = any($1) group by session_id, signal_id having count(*) > 1`,
      [sessionIds],
    );
    expect(dup.rows).toEqual([]);
    // nothing lost: once the survivor has drained (SIGTERM), every ledger's fill count, fees and
    // realised PnL are exactly its trades'
    survivor.proc.kill('SIGTERM');
    const exited = await Promise.race([
      new Promise((r) => (survivor.proc.exitCode !== null ? r(true) : survivor.proc.once('exit', () => r(true)))),
      new Promise((r) => setTimeout(() => r(false), 15_000)),
    ]);
    stage('drained');
    expect(exited, `the survivor did not drain on SIGTERM: ${survivor.out()}`).toBe(true);
    // the session row's own ledger: the periodic saves' binary column (migration 8), else its state
    const stored = await db.query<{
      id: string;
      state: { fills: number; fees: number; realizedPnl: number };
      marks: Buffer | null;
    }>(`select id, state, marks from forward_test_sessions where id = any($1)`, [sessionIds]);
    const rows = stored.rows.map((r) => ({ id: r.id, state: r.marks ? decodeLedger(r.marks) : r.state }));
    expect(rows.length).toBe(sessionIds.length);
    for (const row of rows) {
      const t = await db.query<{ n: string; fees: string; pnl: string }>(
        `select count(*) n, coalesce(sum(fee), 0) fees, coalesce(sum(realized_pnl), 0) pnl from trades where session_id = $1`,
        [row.id],
      );
      const { n, fees, pnl } = t.rows[0]!;
      expect(row.state.fills).toBe(Number(n));
      expect(Math.abs(row.state.fees - Number(fees))).toBeLessThan(0.01);
      expect(Math.abs(row.state.realizedPnl - Number(pnl))).toBeLessThan(0.01);
    }
  }, 300_000);
});
