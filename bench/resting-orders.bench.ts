import { createRuntime, loadConfig } from '@algotrade/adapters';
import { newLedger, seededRandom, type Tick } from '@algotrade/core';
import { createMetrics } from '@algotrade/services';
import { ForwardTestEngine } from '@algotrade/services/forward-test/engine';
import { readOpenOrders, type OpenOrder } from '@algotrade/services/forward-test/open-orders';
import { CompileCache, templateById } from '@algotrade/strategy';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tickSettings } from '../test/helpers/sessions.ts';
import { percentile, report } from './harness.ts';

// What resting orders by hand cost on the tick path: N running paper sessions on one symbol (the
// SMA-crossover template, evaluated on every tick, in-process runner, embedded runtime), each tick
// dispatched and timed. Blocks of 50 ticks take turns: the sessions holding no resting order (the
// baseline), each holding K buy limits far under the market (checked on every tick, never reached), and
// each holding K buy trailing stops 50 % over the low (following every new low, never reached).
// Reported: the dispatch time per session and tick, each way, in the same run.
const N = Number(process.env.RESTING_BENCH_SESSIONS ?? 2000);
const K = Number(process.env.RESTING_BENCH_ORDERS ?? 5);
const TICKS = Number(process.env.RESTING_BENCH_TICKS ?? 4000);

const dir = mkdtempSync(path.join(tmpdir(), 'resting-bench-'));
const rt = await createRuntime(
  loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', MARKET_FEED: 'none', NODE_ENV: 'test' }),
);
try {
  const db = rt.db.db;
  const user = await db
    .insertInto('users')
    .values({ email: 'resting@x.io', password_hash: 'x' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const config = { ...tickSettings(100_000, 0.001), slippageBps: 1 };
  const snapshot = JSON.stringify({ graph: templateById('sma-crossover')!.graph });
  for (let i = 0; i < N; i += 1000)
    await db
      .insertInto('forward_test_sessions')
      .values(
        Array.from({ length: Math.min(1000, N - i) }, () => ({
          user_id: user.id,
          strategy_id: null,
          strategy_snapshot: snapshot,
          symbol: 'RESTUSD',
          config: JSON.stringify(config),
          status: 'running' as const,
          state: JSON.stringify(newLedger(config)),
        })),
      )
      .execute();
  const engine = new ForwardTestEngine(rt, createMetrics(), new CompileCache(), { runner: 'inline' });
  await engine.start();
  const sessions = [...engine.sessions.values()];
  // as a restart reads them from the row
  const orders: OpenOrder[] = readOpenOrders(
    Array.from({ length: K }, (_, k) => ({
      id: `bench-${k}`,
      clientOrderId: null,
      action: 'buy',
      side: 'buy',
      type: 'limit',
      price: 1 + k,
      sizing: 'fixed_qty',
      amount: 1,
      placedAt: new Date().toISOString(),
      until: null,
    })),
  );
  const rnd = seededRandom(3);
  let price = 100;
  // each session's own (a trailing stop moves in its session's list)
  const trailing = (): OpenOrder[] =>
    readOpenOrders(orders.map((o) => ({ ...o, type: 'trailing_stop', trailPercent: 50, extreme: price })));
  const BLOCKS = ['none', 'resting', 'trailing'] as const;
  const times: Record<(typeof BLOCKS)[number], number[]> = { none: [], resting: [], trailing: [] };
  for (let i = 0; i < TICKS; i++) {
    const block = BLOCKS[Math.floor(i / 50) % BLOCKS.length]!;
    if (i % 50 === 0)
      for (const s of sessions) s.openOrders = block === 'none' ? [] : block === 'resting' ? orders : trailing();
    price *= 1 + (rnd() - 0.5) * 0.002;
    const t: Tick = {
      symbol: 'RESTUSD',
      ts: Date.UTC(2026, 0, 5) + i * 1000,
      price,
      size: 1,
      bid: price - 0.01,
      ask: price + 0.01,
      seq: i,
    };
    const t0 = performance.now();
    engine.dispatch('RESTUSD', [t]);
    times[block].push(performance.now() - t0);
    // let the crossovers' fills commit between ticks, as a live feed's gaps would
    if (i % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  const perNs = (ms: number) => Number(((ms * 1e6) / N).toFixed(1));
  const none = percentile(times.none, 50);
  for (const [block, what] of [
    ['resting', 'resting'],
    ['trailing', 'trailing_stops'],
  ] as const) {
    const with_ = percentile(times[block], 50);
    report({
      bench: 'resting-orders',
      metric: `dispatch_per_session_tick_with_${K}_${what}_ns`,
      value: perNs(with_),
      unit: 'ns',
      baseline: perNs(none),
      ratio: Number((with_ / none).toFixed(3)),
      sessions: N,
      ticks: TICKS,
      p99: perNs(percentile(times[block], 99)),
      baselineP99: perNs(percentile(times.none, 99)),
    });
  }
  await engine.close();
} finally {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
}
