import { createRuntime, forwardTestsRepo, loadConfig, usersRepo, type Runtime } from '@algotrade/adapters';
import type { Tick } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/env.ts';
import { runningSession } from '../../../../test/helpers/sessions.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { ForwardTestEngine } from './engine.ts';
import type { RunnerPool } from './runner-pool.ts';

/**
 * On the worker-thread pool, the ticks of several symbols that arrive together come back from the
 * threads one symbol at a time; a commit lane waits for the pool's batches in flight (up to poolHoldMs
 * after its oldest signal's tick) and commits their fills together.
 */
describe('forward testing on the worker-thread pool: fills of ticks that arrive together commit together', () => {
  // a runtime without the services: no other engine executes the signals these engines publish
  const tmp = tempDir();
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime(
      loadConfig({ DATA_DIR: tmp.dir, LOG_LEVEL: 'silent', MARKET_FEED: 'none', NODE_ENV: 'test' }),
    );
  });
  afterAll(async () => {
    await rt.close();
    tmp.remove();
  });

  // a slow fall, then a sharp rise: SMA(10) crosses above SMA(30) on the same tick for every symbol
  const price = (i: number) => (i < 40 ? 100 - i * 0.1 : 96 + (i - 40));

  async function setUp(symbols: string[], poolHoldMs?: number) {
    const u = (await usersRepo(rt.db.db).create(`hold${Date.now()}${Math.random()}@x.io`, 'h'))!;
    const repo = forwardTestsRepo(rt.db.db);
    const engine = new ForwardTestEngine(rt, undefined, undefined, {
      runner: 'pool',
      threads: 2,
      commitLanes: 1,
      ...(poolHoldMs !== undefined ? { poolHoldMs } : {}),
    });
    const pool = (engine as unknown as { pool: RunnerPool }).pool;
    await pool.ready;
    for (const symbol of symbols)
      for (let k = 0; k < 3; k++) {
        const row = await runningSession(rt.db.db, u.id, symbol, 10_000);
        await engine.load((await repo.get(row.id))!);
      }
    return { engine, pool };
  }

  /** every symbol's tick i dispatched in one go (as aligned feeds deliver them), round after round */
  async function feed(engine: ForwardTestEngine, symbols: string[], from: number, to: number) {
    const T0 = Date.UTC(2026, 0, 7, 9);
    for (let i = from; i < to; i++) {
      const before = engine.stats.ticks;
      for (const symbol of symbols) {
        const p = price(i);
        const tick: Tick = { symbol, ts: T0 + i * 1000, price: p, size: 1, bid: p - 0.01, ask: p + 0.01, seq: i };
        engine.dispatch(symbol, [tick]);
      }
      // the threads have answered and the ledgers seen the ticks
      await until(() => engine.stats.ticks === before + symbols.length);
    }
  }

  it('commits the crossover fills of four symbols in one group commit', async () => {
    const symbols = ['HOLDA', 'HOLDB', 'HOLDC', 'HOLDD'];
    // a hold far above the threads' answer times (15 ms by default), so a slow machine cannot split the round
    const { engine } = await setUp(symbols, 1000);
    try {
      await feed(engine, symbols, 0, 50);
      await until(() => engine.stats.fills === 12);
      // one round of ticks with fills in it, one lane: one commit for all twelve
      expect(engine.commits).toHaveLength(1);
      expect(engine.stats.signals).toBe(12);
    } finally {
      await engine.close();
    }
  });

  it('does not wait for a slow batch past poolHoldMs: the others commit first', async () => {
    const symbols = ['SLOWA', 'SLOWB', 'SLOWC', 'SLOWD'];
    const { engine, pool } = await setUp(symbols, 40);
    // from the rise on, the last symbol's batches take 400 ms in the threads
    let slow = false;
    const ticks = pool.ticks.bind(pool);
    pool.ticks = async (symbol, batch) => {
      if (slow && symbol === 'SLOWD') await new Promise((r) => setTimeout(r, 400));
      return ticks(symbol, batch);
    };
    try {
      await feed(engine, symbols, 0, 40);
      slow = true;
      await feed(engine, symbols, 40, 50);
      await until(() => engine.stats.fills === 12);
      expect(engine.commits).toHaveLength(2);
      const lat = [...engine.latencies].sort((a, b) => a - b);
      // nine fills committed within the hold (and the commit), long before the slow symbol's three
      expect(lat[8]).toBeLessThan(300);
      expect(lat[9]).toBeGreaterThanOrEqual(400);
    } finally {
      await engine.close();
    }
  });
});
