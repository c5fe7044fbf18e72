import { createRuntime, loadConfig, type Runtime } from '@algotrade/adapters';
import { newLedger, seededRandom, type Tick } from '@algotrade/core';
import { createMetrics } from '@algotrade/services';
import { ForwardTestEngine } from '@algotrade/services/forward-test/engine';
import { CompileCache, templateById } from '@algotrade/strategy';
import { mkdtempSync, rmSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { percentile, report } from './harness.ts';

// N concurrent paper-trading sessions (SMA-crossover template, evaluated on every tick) over 10 symbols
// at 10 ticks/s per symbol, for FT_BENCH_SECONDS (default 60), on the embedded runtime (PGlite, memory
// bus), with the in-process runner and then the worker-thread pool. Tick-to-fill latency = tick
// received by the runner -> fill committed.
const SECONDS = Number(process.env.FT_BENCH_SECONDS ?? 60);
const SIZES = (process.env.FT_BENCH_SESSIONS ?? '1,1000,10000').split(',').map(Number);
// Every size runs in-process, then (N > 1) on the worker-thread pool (FT_BENCH_THREADS, default all
// cores); FT_BENCH_RUNNER=inline or pool runs only that one
const RUNNERS = (process.env.FT_BENCH_RUNNER ? [process.env.FT_BENCH_RUNNER] : ['inline', 'pool']) as (
  'inline' | 'pool'
)[];
const THREADS = process.env.FT_BENCH_THREADS ? Number(process.env.FT_BENCH_THREADS) : undefined;
const SYMBOLS = Array.from({ length: 10 }, (_, i) => `FT${i}USD`);
// 'same': every session runs SMA(10/30), so all the sessions of a symbol cross on the same tick and
// each crossover is a burst of N/10 fills (the worst case for execution); 'varied': each session
// draws its periods from fast 5-15, slow 20-50 (a population of users tuning the same template), so
// the fills spread over the ticks. FT_BENCH_POPULATION=same,varied picks; by default 'same' runs for
// every size and 'varied' for the largest.
const POPULATIONS = process.env.FT_BENCH_POPULATION?.split(',') as ('same' | 'varied')[] | undefined;
// FT_BENCH_ARRIVAL: 'aligned' (default) sends every symbol's tick on the same millisecond, ten bursts a
// second (the worst case); 'staggered' gives each symbol its own phase (symbol k at k × 10 ms), as
// independent feeds arrive
const ARRIVAL = (process.env.FT_BENCH_ARRIVAL ?? 'aligned') as 'aligned' | 'staggered';
const FAST = Array.from({ length: 11 }, (_, i) => 5 + i);
const SLOW = Array.from({ length: 16 }, (_, i) => 20 + 2 * i);

async function run(n: number, RUNNER: 'inline' | 'pool', population: 'same' | 'varied') {
  const dir = mkdtempSync(path.join(tmpdir(), 'ft-bench-'));
  // FT_BENCH_PG=postgres://127.0.0.1:5432 runs on PostgreSQL (a scratch database) instead of PGlite
  const pgBase = process.env.FT_BENCH_PG;
  const dbName = `ftbench_${process.pid}_${n}_${RUNNER}_${population}`;
  if (pgBase) await adminSql(pgBase, `create database ${dbName}`);
  const rt: Runtime = await createRuntime(
    loadConfig({
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      MARKET_FEED: 'none',
      NODE_ENV: 'test',
      // settings a run may vary, taken from the environment
      ...Object.fromEntries(
        [
          'FT_COMMIT_LANES',
          'FT_POOL_HOLD_MS',
          'BUS_MEMORY_RETAIN',
          'PGLITE_THREAD',
          'FT_ORDER_JOURNAL',
          'PGLITE_CHECKPOINT_WAL_MB',
          'PGLITE_CHECKPOINT_SECONDS',
        ].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
      ),
      ...(pgBase ? { DATABASE_URL: `${pgBase}/${dbName}` } : {}),
    }),
  );
  const db = rt.db.db;
  const user = await db
    .insertInto('users')
    .values({ email: `bench${n}@x.io`, password_hash: 'x' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const graph = templateById('sma-crossover')!.graph;
  const pick = seededRandom(11);
  const snapshot = () => {
    if (population === 'same') return JSON.stringify({ graph });
    const g = structuredClone(graph);
    g.nodes.find((x) => x.id === 'fast')!.data = { period: FAST[Math.floor(pick() * FAST.length)]! };
    g.nodes.find((x) => x.id === 'slow')!.data = { period: SLOW[Math.floor(pick() * SLOW.length)]! };
    return JSON.stringify({ graph: g });
  };
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
  for (let i = 0; i < n; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      user_id: user.id,
      strategy_id: null,
      strategy_snapshot: snapshot(),
      symbol: SYMBOLS[(i + k) % SYMBOLS.length]!,
      config: JSON.stringify(config),
      status: 'running' as const,
      state: JSON.stringify(newLedger(config)),
    }));
    await db.insertInto('forward_test_sessions').values(rows).execute();
  }
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const engine = new ForwardTestEngine(rt, createMetrics(), new CompileCache(), {
    equityIntervalMs: 5000,
    runner: RUNNER,
    ...(THREADS ? { threads: THREADS } : {}),
    keepLatencies: 10_000_000, // every fill of the run (the default keeps the newest 100,000-200,000)
  });
  const threads0 = await engine.runnerHeapUsed();
  await engine.start(); // loads and activates every running session
  global.gc?.();
  // main-thread heap plus, with the pool, what the runner threads grew by
  const perSession = (process.memoryUsage().heapUsed - heap0 + (await engine.runnerHeapUsed()) - threads0) / n;

  const rnd = seededRandom(7);
  const prices = SYMBOLS.map(() => 100);
  let seq = 0;
  const dispatchMs: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  // one tick per symbol every 100 ms = 10 ticks/s per symbol, through the bus like the live feed
  let tick = 0;
  while (performance.now() < end) {
    const due = t0 + tick * 100;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    tick++;
    for (let s = 0; s < SYMBOLS.length; s++) {
      if (ARRIVAL === 'staggered' && s > 0) {
        const at = due + s * (100 / SYMBOLS.length);
        const w = at - performance.now();
        if (w > 0) await new Promise((r) => setTimeout(r, w));
      }
      const ts = Date.now();
      prices[s]! *= 1 + (rnd() - 0.5) * 0.004;
      const p = prices[s]!;
      const t: Tick = { symbol: SYMBOLS[s]!, ts, price: p, size: 1, bid: p - 0.01, ask: p + 0.01, seq: ++seq };
      const d0 = performance.now();
      engine.dispatch(SYMBOLS[s]!, [t]);
      dispatchMs.push(performance.now() - d0);
    }
  }
  // let the last fills commit
  const settle = performance.now();
  while (engine.stats.fills + engine.stats.refused < engine.stats.signals && performance.now() - settle < 30_000)
    await new Promise((r) => setTimeout(r, 20));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const lat = engine.latencies;
  const label = `n${n}_${RUNNER === 'pool' ? 'pool' : 'in_process'}${pgBase ? '_postgres' : ''}${population === 'varied' ? '_varied' : ''}${ARRIVAL === 'staggered' ? '_staggered' : ''}`;
  report({
    bench: 'forward-test',
    metric: `${label}_tick_to_fill_p50_ms`,
    value: percentile(lat, 50),
    unit: 'ms',
    fills: lat.length,
  });
  report({
    bench: 'forward-test',
    metric: `${label}_tick_to_fill_p99_ms`,
    value: percentile(lat, 99),
    unit: 'ms',
    // the later half of the run's fills alone (bigger tables, more rounds of ledger saves)
    secondHalf: percentile(lat.slice(lat.length >> 1), 99),
  });
  report({
    bench: 'forward-test',
    metric: `${label}_group_commit_p50_ms`,
    value: percentile(engine.commits, 50),
    unit: 'ms',
    p99: percentile(engine.commits, 99),
    commits: engine.commits.length,
  });
  report({
    bench: 'forward-test',
    metric: `${label}_dispatch_per_tick_p99_ms`,
    value: percentile(dispatchMs, 99),
    unit: 'ms',
    sessionsPerTick: n / SYMBOLS.length,
  });
  report({
    bench: 'forward-test',
    metric: `${label}_cpu_us_per_session_per_s`,
    value: (cpu.user + cpu.system) / n / wall,
    unit: 'µs/s',
    cpuPct: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
  });
  report({ bench: 'forward-test', metric: `${label}_heap_per_session`, value: perSession / 1024, unit: 'KB' });
  report({
    bench: 'forward-test',
    metric: `${label}_signals`,
    value: engine.stats.signals,
    unit: 'count',
    fills: engine.stats.fills,
    refused: engine.stats.refused,
    seconds: SECONDS,
    // PGlite: the checkpoints taken during the run (see docs/operations.md)
    ...(rt.db.checkpointer
      ? { checkpoints: rt.db.checkpointer.stats.count, checkpointMaxMs: Math.round(rt.db.checkpointer.stats.maxMs) }
      : {}),
    // the order journal (PGlite): group commits it took, rows still to copy in when the ticks stopped
    ...(rt.db.orderJournal
      ? { journalRecords: rt.db.orderJournal.stats.records, journalPendingAtEnd: rt.db.orderJournal.pendingRows }
      : {}),
  });
  await engine.close();
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
  if (pgBase) await adminSql(pgBase, `drop database ${dbName}`);
}

async function adminSql(base: string, q: string) {
  const c = new pg.Client({ connectionString: `${base}/postgres` });
  await c.connect();
  await c.query(q);
  await c.end();
}

const largest = Math.max(...SIZES);
for (const population of POPULATIONS ?? ['same', 'varied'])
  for (const runner of RUNNERS)
    for (const n of SIZES)
      if ((n > 1 || runner === 'inline') && (POPULATIONS || population === 'same' || n === largest))
        await run(n, runner, population);
