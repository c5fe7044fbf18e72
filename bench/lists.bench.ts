import {
  backtestsRepo,
  forwardTestsRepo,
  LISTED_BACKTEST_COLUMNS,
  parseCursor,
  type DbHandle,
} from '@algotrade/adapters';
import { sql } from 'kysely';
import { alternated, reportAgainst } from './harness.ts';
import { onEachDatabase } from './databases.ts';

// The lists a page at a time (GET /api/backtests, /api/backtests/sweeps, /api/forward-tests): one user
// with 20,000 backtests, 100 sweeps of 100 backtests and 5,000 paper sessions, beside another user with
// as many backtests. A page of 50 read by its cursor at the start and 10,000 rows deep, against the same
// page read with OFFSET (what a page number would cost), and the sweeps' page of 50 against a page of
// runs, and a page found by words of the runs' names; 20 reads each, alternated, medians of five. On PGlite (a scratch directory) and, with
// BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test), on PostgreSQL in a scratch schema.
const RUNS = 20_000;
const SWEEPS = 100;
const POINTS = 100;
const SESSIONS = 5_000;
const PAGE = 50;
const DEPTH = 10_000;
const READS = 20;

async function fill(h: DbHandle, email: string, sweeps: boolean): Promise<string> {
  const db = h.db;
  const user = await db
    .insertInto('users')
    .values({ email, password_hash: 'x' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`insert into backtest_results (user_id, strategy_snapshot, symbol, interval, parameters, status, metrics, created_at, name)
    select ${user.id}, '{}'::jsonb, 'GOOG', '1d', '{}'::jsonb, 'done',
      jsonb_build_object('sharpe', random(), 'trades', 10), now() - make_interval(secs => i), 'run ' || i
    from generate_series(1, ${RUNS}) i`.execute(db);
  if (sweeps) {
    await sql`insert into backtest_results (user_id, strategy_snapshot, symbol, interval, parameters, status, metrics, created_at, sweep_id, sweep_seq)
      select ${user.id}, '{}'::jsonb, 'GOOG', '1d',
        jsonb_build_object('combo', jsonb_build_object('n', i), 'rankBy', 'sharpe', 'minTrades', 5), 'done',
        jsonb_build_object('sharpe', random(), 'trades', (i % 10)), now() - make_interval(secs => s * ${POINTS} + i),
        ('00000000-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid, i
      from generate_series(1, ${SWEEPS}) s, generate_series(1, ${POINTS}) i`.execute(db);
    await sql`insert into forward_test_sessions (user_id, strategy_snapshot, symbol, config, status, created_at)
      select ${user.id}, '{}'::jsonb, 'BTCUSD', '{}'::jsonb, 'stopped', now() - make_interval(secs => i)
      from generate_series(1, ${SESSIONS}) i`.execute(db);
  }
  await sql`analyze`.execute(db);
  return user.id;
}

async function measure(label: string, h: DbHandle) {
  const userId = await fill(h, `lists-bench-${Date.now()}@x.io`, true);
  await fill(h, `lists-bench-other-${Date.now()}@x.io`, false);
  const repo = backtestsRepo(h.db);
  const sessions = forwardTestsRepo(h.db);
  // the cursor of the row DEPTH deep (the page before it ends there)
  const deep = await repo.page(userId, { limit: DEPTH });
  const before = parseCursor(deep.next!)!;
  const deepSessions = await sessions.page(userId, { limit: SESSIONS / 2 });
  const sessionsBefore = parseCursor(deepSessions.next!)!;
  const offsetPage = (offset: number) =>
    h.db
      .selectFrom('backtest_results')
      .select(LISTED_BACKTEST_COLUMNS)
      .where('user_id', '=', userId)
      .where('sweep_id', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(offset)
      .limit(PAGE)
      .execute();
  const times = (fn: () => Promise<unknown>) => async () => {
    for (let i = 0; i < READS; i++) await fn();
  };
  const [first, deepMs, offsetMs, offset0Ms, sweepsMs, sessionsFirst, sessionsDeep, wordsMs] = await alternated([
    times(() => repo.page(userId, { limit: PAGE })),
    times(() => repo.page(userId, { limit: PAGE, before })),
    times(() => offsetPage(DEPTH)),
    times(() => offsetPage(0)),
    times(() => repo.sweeps(userId, { limit: PAGE })),
    times(() => sessions.page(userId, { limit: PAGE })),
    times(() => sessions.page(userId, { limit: PAGE, before: sessionsBefore })),
    // words of a name: every run of the user read to find the 11 called "run 1999…" (no index on names)
    times(() => repo.page(userId, { limit: PAGE, q: 'RUN 1999' })),
  ]);
  const per = (ms: number) => ms / READS;
  reportAgainst('lists', `${label}_backtests_page_of_${PAGE}_10000_deep_ms`, per(deepMs!), per(offsetMs!), {
    against: `the same page by OFFSET ${DEPTH}`,
  });
  reportAgainst('lists', `${label}_backtests_first_page_of_${PAGE}_ms`, per(first!), per(offset0Ms!), {
    against: 'the same page by OFFSET 0',
  });
  reportAgainst('lists', `${label}_sweeps_page_of_${PAGE}_ms`, per(sweepsMs!), per(first!), {
    against: `the first page of ${PAGE} backtests`,
    sweeps: SWEEPS,
    backtestsEach: POINTS,
  });
  reportAgainst('lists', `${label}_backtests_named_like_ms`, per(wordsMs!), per(first!), {
    against: `the first page of ${PAGE} backtests`,
    rowsRead: RUNS + SWEEPS * POINTS,
  });
  reportAgainst('lists', `${label}_sessions_page_of_${PAGE}_2500_deep_ms`, per(sessionsDeep!), per(sessionsFirst!), {
    against: 'the first page of sessions',
  });
}

await onEachDatabase('lists', measure);
