import { forwardTestsRepo, type DbHandle } from '@algotrade/adapters';
import { newLedger } from '@algotrade/core';
import { sql } from 'kysely';
import { alternated, reportAgainst } from './harness.ts';
import { onEachDatabase } from './databases.ts';

// What a paper session's timeline costs its lifecycle writes: each creation and each change of status
// now adds its timeline row in the same statement (session_events, migration 19). Measured against the
// statements as they were before it (the bare insert and update), alternated in one process, medians of
// five: 500 sessions created, then 500 pause-and-resume pairs (1,000 changes). On PGlite (a scratch
// directory) and, with BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test), on PostgreSQL in a scratch schema.
const N = 500;
const cfg = {
  startingBalance: 1000,
  feeRate: 0.001,
  feeFixed: 0,
  slippageBps: 0,
  allowShort: false,
  wholeUnits: false,
};

async function measure(label: string, h: DbHandle) {
  const db = h.db;
  const repo = forwardTestsRepo(db);
  const user = await db
    .insertInto('users')
    .values({ email: `timeline-bench-${Date.now()}@x.io`, password_hash: 'x' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const row = {
    userId: user.id,
    strategyId: null,
    snapshot: { graph: {} },
    symbol: 'BTCUSD',
    config: cfg,
    state: newLedger(cfg),
  };
  const created: string[] = [];
  const bare: string[] = [];
  const [createMs, createBaseMs] = await alternated([
    async () => {
      for (let i = 0; i < N; i++) created.push((await repo.create(row)).id);
    },
    async () => {
      for (let i = 0; i < N; i++)
        bare.push(
          (
            await db
              .insertInto('forward_test_sessions')
              .values({
                user_id: row.userId,
                strategy_id: null,
                strategy_snapshot: JSON.stringify(row.snapshot),
                symbol: row.symbol,
                config: JSON.stringify(row.config),
                status: 'created',
                state: JSON.stringify(row.state),
              })
              .returningAll()
              .executeTakeFirstOrThrow()
          ).id,
        );
    },
  ]);
  reportAgainst('session-timeline', `${label}_create_500_sessions_ms`, createMs!, createBaseMs!, {
    perSessionUs: Math.round((createMs! / N) * 1000),
    baselinePerSessionUs: Math.round((createBaseMs! / N) * 1000),
  });
  const ids = created.slice(0, N);
  const baseIds = bare.slice(0, N);
  const [changeMs, changeBaseMs] = await alternated([
    async () => {
      for (const id of ids) {
        await repo.setStatus(id, 'paused', { marketTs: Date.now() });
        await repo.setStatus(id, 'running', { reason: null, marketTs: Date.now() });
      }
    },
    async () => {
      // the update as it was before the timeline
      for (const id of baseIds)
        for (const status of ['paused', 'running'] as const)
          await db
            .updateTable('forward_test_sessions')
            .set({
              status,
              updated_at: sql`now()`,
              ...(status === 'running' ? { failure_reason: null, started_at: sql`coalesce(started_at, now())` } : {}),
            } as never)
            .where('id', '=', id)
            .execute();
    },
  ]);
  reportAgainst('session-timeline', `${label}_1000_status_changes_ms`, changeMs!, changeBaseMs!, {
    perChangeUs: Math.round((changeMs! / (2 * N)) * 1000),
    baselinePerChangeUs: Math.round((changeBaseMs! / (2 * N)) * 1000),
  });
}

await onEachDatabase('timeline', measure);
