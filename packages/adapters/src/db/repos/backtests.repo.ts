import { sql } from 'kysely';
import type { Db } from '../connect.ts';
import { type Cursor, microsOf, newestPage, ofStrategy } from './cursor.ts';
import { isUuid } from './strategies.repo.ts';

export type BacktestStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface BacktestRow {
  id: string;
  userId: string;
  strategyId: string | null;
  sweepId: string | null;
  /** an adaptive sweep's backtests: their number in the order proposed */
  sweepSeq: number | null;
  /** what its user calls it, and notes of it */
  name: string | null;
  note: string | null;
  strategySnapshot: unknown;
  symbol: string;
  interval: string;
  parameters: Record<string, unknown>;
  status: BacktestStatus;
  progress: number;
  metrics: Record<string, unknown> | null;
  error: string | null;
  artifactKey: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A sweep's backtest as sweepPoints reads it. */
export type SweepPoint = Pick<BacktestRow, 'id' | 'status' | 'sweepSeq' | 'parameters' | 'metrics'>;

type Raw = Record<string, unknown>;
const iso = (d: unknown) => (d ? new Date(d as string).toISOString() : null);
const toRow = (r: Raw): BacktestRow => ({
  id: r.id as string,
  userId: r.user_id as string,
  strategyId: (r.strategy_id as string) ?? null,
  sweepId: (r.sweep_id as string) ?? null,
  sweepSeq: (r.sweep_seq as number) ?? null,
  name: (r.name as string) ?? null,
  note: (r.note as string) ?? null,
  strategySnapshot: r.strategy_snapshot,
  symbol: r.symbol as string,
  interval: r.interval as string,
  parameters: r.parameters as Record<string, unknown>,
  status: r.status as BacktestStatus,
  progress: r.progress as number,
  metrics: (r.metrics as Record<string, unknown>) ?? null,
  error: (r.error as string) ?? null,
  artifactKey: (r.artifact_key as string) ?? null,
  createdAt: iso(r.created_at)!,
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
});

export interface NewBacktest {
  userId: string;
  strategyId: string | null;
  sweepId?: string | null;
  sweepSeq?: number | null;
  name?: string | null;
  note?: string | null;
  snapshot: unknown;
  symbol: string;
  interval: string;
  parameters: unknown;
}

/** A backtest row, queued; null when its sweep already has one with its sweepSeq. */
async function insert(db: Db, row: NewBacktest): Promise<BacktestRow | null> {
  const r = await db
    .insertInto('backtest_results')
    .values({
      user_id: row.userId,
      strategy_id: row.strategyId,
      sweep_id: row.sweepId ?? null,
      sweep_seq: row.sweepSeq ?? null,
      name: row.name ?? null,
      note: row.note ?? null,
      strategy_snapshot: JSON.stringify(row.snapshot),
      symbol: row.symbol,
      interval: row.interval,
      parameters: JSON.stringify(row.parameters),
      status: 'queued',
    })
    .onConflict((oc) => oc.columns(['sweep_id', 'sweep_seq']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return r ? toRow(r as Raw) : null;
}

/** What a page of the caller's backtests is filtered by (see page). */
export interface BacktestFilter {
  limit: number;
  before?: Cursor;
  kind?: 'single' | 'portfolio' | 'walk-forward' | 'sweep';
  symbol?: string;
  strategyId?: string;
  status?: BacktestStatus;
  /** words in its name or note (case aside) */
  q?: string;
}

/** A sweep as the list of sweeps tells it (see sweeps). */
export interface SweepSummaryRow {
  sweepId: string;
  strategyId: string | null;
  /** its name (one of its backtests'; a sweep's are named together) */
  name: string | null;
  symbol: string;
  interval: string;
  /** its first backtest's parameters: what the sweep ranks by, its sample or search, its portfolio */
  parameters: Record<string, unknown>;
  counts: Record<BacktestStatus, number>;
  createdAt: string;
  /** when its last backtest to end ended */
  lastFinishedAt: string | null;
  /** its best finished backtest by its measure (`value`), or null while none ranks */
  best: { id: string; combo: unknown; value: number } | null;
}

/** a backtest whose name or note holds `q`, case aside (LIKE's own characters taken as they are) */
const mentions = (q: string) => {
  const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`(name ilike ${like} or note ilike ${like})`;
};

/** a backtest of the symbol, alone or as one of a portfolio's (stored `GOOG,BTCUSD`) */
const hasSymbol = (symbol: string) =>
  sql<boolean>`(symbol = ${symbol} or ${symbol} = any(string_to_array(symbol, ',')))`;

/** A backtest's columns as lists read them: all but its strategy snapshot (get has it). */
export const LISTED_BACKTEST_COLUMNS = [
  'id',
  'user_id',
  'strategy_id',
  'sweep_id',
  'sweep_seq',
  'name',
  'note',
  'symbol',
  'interval',
  'parameters',
  'status',
  'progress',
  'metrics',
  'error',
  'artifact_key',
  'created_at',
  'started_at',
  'finished_at',
] as const;

/** The caller's backtests as lists read them: without their strategy snapshots (get has them). */
const listed = (db: Db, userId: string) =>
  db.selectFrom('backtest_results').select(LISTED_BACKTEST_COLUMNS).where('user_id', '=', userId);

export const backtestsRepo = (db: Db) => ({
  async create(row: NewBacktest): Promise<BacktestRow> {
    return (await insert(db, row))!;
  },
  /**
   * As create; with a sweepSeq, null when the sweep already has a backtest of that number (two
   * workers proposing an adaptive sweep's next point at once: one of them makes it).
   */
  createOnce: (row: NewBacktest): Promise<BacktestRow | null> => insert(db, row),
  /** scoped to the owner; with userId undefined only for the worker, which acts for the owner */
  async get(id: string, userId?: string): Promise<BacktestRow | null> {
    if (!isUuid(id)) return null;
    let q = db.selectFrom('backtest_results').selectAll().where('id', '=', id);
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    const r = await q.executeTakeFirst();
    return r ? toRow(r as Raw) : null;
  },
  /**
   * The caller's backtests, newest first, without their strategy snapshots (a list shows none, and a
   * sweep's hundreds of rows each carry the whole graph): `strategySnapshot` is undefined; get() has it.
   */
  async list(userId: string, opts: { sweepId?: string; limit?: number } = {}): Promise<BacktestRow[]> {
    let q = listed(db, userId);
    if (opts.sweepId)
      q = isUuid(opts.sweepId)
        ? q.where('sweep_id', '=', opts.sweepId)
        : q.where('id', '=', '00000000-0000-0000-0000-000000000000');
    const rows = await q
      .orderBy('created_at', 'desc')
      .limit(opts.limit ?? 200)
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  /**
   * A page of the caller's backtests, newest first (as list, without strategy snapshots), filtered,
   * and the cursor of the next page (null on the last). `kind` as the API names it: a sweep's backtests
   * are `sweep` whatever they run; without a kind, a sweep's backtests are left out (a sweep of 300
   * would bury every other run; `sweeps` lists the sweeps).
   */
  async page(userId: string, f: BacktestFilter): Promise<{ rows: BacktestRow[]; next: string | null }> {
    let q = listed(db, userId).select(microsOf('created_at').as('cursor_us'));
    const wf = sql<boolean>`parameters -> 'walkForward' is not null`;
    const pf = sql<boolean>`parameters -> 'portfolio' is not null`;
    if (f.kind === 'sweep') q = q.where('sweep_id', 'is not', null);
    else {
      q = q.where('sweep_id', 'is', null);
      if (f.kind === 'walk-forward') q = q.where(wf);
      else if (f.kind === 'portfolio') q = q.where(pf).where(sql<boolean>`not ${wf}`);
      else if (f.kind === 'single') q = q.where(sql<boolean>`not ${pf}`).where(sql<boolean>`not ${wf}`);
    }
    if (f.symbol !== undefined) q = q.where(hasSymbol(f.symbol));
    if (f.strategyId !== undefined) q = q.where(ofStrategy('strategy_id', f.strategyId));
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    if (f.q !== undefined) q = q.where(mentions(f.q));
    const { rows, next } = await newestPage<typeof q, Raw & { id: string; cursor_us: string }>(
      q,
      'created_at',
      'id',
      f.limit,
      f.before,
    );
    return { rows: rows.map(toRow), next };
  },
  /**
   * A page of the caller's sweeps, newest first (by their first backtest's creation, then the sweep's
   * id: the cursor's), each with its backtests counted by status and its best one by the sweep's own
   * measure, as the sweep's ranking has it (see scoreOf: a backtest of fewer closed trades than
   * `minTrades`, or without the measure, ranks last; null while none ranks). Read in steps: the page's
   * sweeps from an index of the user's sweep backtests (migration 21); their counts, beside one row of
   * each (what every backtest of a sweep shares: strategy, symbol, name, ranking); then the best of
   * each, one query per ranking on the page (usually one).
   */
  async sweeps(
    userId: string,
    f: { limit: number; before?: Cursor; symbol?: string; strategyId?: string; q?: string },
  ): Promise<{ rows: SweepSummaryRow[]; next: string | null }> {
    // a sweep's backtests share its symbol and strategy, so filtering them filters the sweeps
    let heads = db
      .selectFrom('backtest_results')
      .select(['sweep_id as id', sql<string>`min(created_at)`.as('first')])
      .where('user_id', '=', userId)
      .where('sweep_id', 'is not', null)
      .groupBy('sweep_id');
    if (f.symbol !== undefined) heads = heads.where(hasSymbol(f.symbol));
    if (f.strategyId !== undefined) heads = heads.where(ofStrategy('strategy_id', f.strategyId));
    if (f.q !== undefined) heads = heads.where(mentions(f.q));
    const q = db.selectFrom(heads.as('h')).select(['h.id', 'h.first', microsOf('h.first').as('cursor_us')]);
    const { rows: page, next } = await newestPage<typeof q, { id: string; first: string; cursor_us: string }>(
      q,
      'h.first',
      'h.id',
      f.limit,
      f.before,
    );
    if (!page.length) return { rows: [], next };
    const sweepIds = sql<boolean>`sweep_id = any(${sql.val(`{${page.map((h) => h.id).join(',')}}`)}::uuid[])`;
    const [counts, ones] = await Promise.all([
      db
        .selectFrom('backtest_results')
        .select([
          'sweep_id',
          'status',
          (e) => e.fn.countAll<string>().as('n'),
          (e) => e.fn.max('finished_at').as('last'),
        ])
        .where('user_id', '=', userId)
        .where(sweepIds)
        .groupBy(['sweep_id', 'status'])
        .execute(),
      // one backtest of each: what they all share (the combination aside)
      db
        .selectFrom('backtest_results')
        .distinctOn('sweep_id')
        .select(['sweep_id', 'strategy_id', 'name', 'symbol', 'interval', 'parameters'])
        .where('user_id', '=', userId)
        .where(sweepIds)
        .orderBy('sweep_id')
        .execute(),
    ]);
    const shared = new Map(ones.map((o) => [o.sweep_id!, o]));
    // each sweep's best, its measure and fewest trades as keys of the query (one query per ranking)
    const rankings = new Map<string, { rankBy: string; minTrades: number; ids: string[] }>();
    for (const h of page) {
      const p = (shared.get(h.id)?.parameters ?? {}) as Record<string, unknown>;
      const rankBy = String(p.rankBy ?? 'sharpe');
      const minTrades = Number(p.minTrades ?? 0);
      const key = `${minTrades} ${rankBy}`;
      if (!rankings.has(key)) rankings.set(key, { rankBy, minTrades, ids: [] });
      rankings.get(key)!.ids.push(h.id);
    }
    const bestOf = new Map<string, { id: string; combo: unknown; value: number }>();
    for (const { rankBy, minTrades, ids } of rankings.values()) {
      const measure = sql`metrics -> ${rankBy}::text`;
      const best = await db
        .selectFrom('backtest_results')
        .distinctOn('sweep_id')
        .select([
          'sweep_id',
          'id',
          sql<unknown>`parameters -> 'combo'`.as('combo'),
          sql<number>`${measure}`.as('value'),
        ])
        .where('user_id', '=', userId)
        .where(sql<boolean>`sweep_id = any(${sql.val(`{${ids.join(',')}}`)}::uuid[])`)
        .where('status', '=', 'done')
        .where(sql<boolean>`jsonb_typeof(${measure}) = 'number'`)
        .$if(minTrades > 0, (b) =>
          b.where(
            sql<boolean>`jsonb_typeof(metrics -> 'trades') = 'number' and (metrics ->> 'trades')::float8 >= ${minTrades}`,
          ),
        )
        .orderBy('sweep_id')
        // jsonb numbers order as numbers (and these are all numbers): no cast per row
        .orderBy(sql`${measure}`, 'desc')
        .orderBy('sweep_seq')
        .orderBy('created_at')
        .execute();
      for (const b of best) bestOf.set(b.sweep_id!, { id: b.id, combo: b.combo, value: Number(b.value) });
    }
    const rows = page.map((h): SweepSummaryRow => {
      const one = shared.get(h.id)!;
      const mine = counts.filter((c) => c.sweep_id === h.id);
      const n = (s: string) => Number(mine.find((c) => c.status === s)?.n ?? 0);
      const ends = mine.filter((c) => c.last).map((c) => new Date(c.last as unknown as string).getTime());
      return {
        sweepId: h.id,
        strategyId: one.strategy_id ?? null,
        name: one.name ?? null,
        symbol: one.symbol,
        interval: one.interval,
        parameters: one.parameters as Record<string, unknown>,
        counts: {
          queued: n('queued'),
          running: n('running'),
          done: n('done'),
          failed: n('failed'),
          cancelled: n('cancelled'),
        },
        createdAt: iso(h.first)!,
        lastFinishedAt: ends.length ? new Date(Math.max(...ends)).toISOString() : null,
        best: bestOf.get(h.id) ?? null,
      };
    });
    return { rows, next };
  },
  /**
   * A sweep's backtests, lean: each one's id, number, status, combination (`parameters.combo` alone)
   * and, of its metrics, only `fields` (what a ranking reads), not the rows' whole JSON; without the
   * backtests of the ids in `held` (those the caller holds already). What an adaptive search reads after
   * every result to propose the next point. `kept`: how many of `held` are still the sweep's (fewer once
   * one was deleted: what the caller holds is stale).
   */
  async sweepPoints(
    userId: string,
    sweepId: string,
    fields: readonly string[],
    held: readonly string[] = [],
  ): Promise<{ points: SweepPoint[]; kept: number }> {
    if (!isUuid(sweepId)) return { points: [], kept: 0 };
    const heldIds = sql.val(`{${held.filter(isUuid).join(',')}}`);
    const picked = sql.join(fields.map((f) => sql`${f}::text, metrics -> ${f}::text`));
    const rows = await db
      .selectFrom('backtest_results')
      .select([
        'id',
        'status',
        'sweep_seq',
        sql<unknown>`parameters -> 'combo'`.as('combo'),
        sql<Record<
          string,
          unknown
        > | null>`case when metrics is null then null else jsonb_build_object(${picked}) end`.as('metrics'),
      ])
      .where('user_id', '=', userId)
      .where('sweep_id', '=', sweepId)
      .$if(held.length > 0, (q) => q.where(sql<boolean>`not (id = any(${heldIds}::uuid[]))`))
      .execute();
    const kept = held.length
      ? Number(
          (
            await db
              .selectFrom('backtest_results')
              .select((e) => e.fn.countAll<string>().as('n'))
              .where('user_id', '=', userId)
              .where('sweep_id', '=', sweepId)
              .where(sql<boolean>`id = any(${heldIds}::uuid[])`)
              .executeTakeFirstOrThrow()
          ).n,
        )
      : 0;
    const points = rows.map((r) => ({
      id: r.id,
      status: r.status as BacktestStatus,
      sweepSeq: r.sweep_seq ?? null,
      parameters: { combo: r.combo },
      metrics: r.metrics ?? null,
    }));
    return { points, kept };
  },
  /** How many of a sweep's backtests (the caller's) are in each status; total 0 when there is no such sweep. */
  async sweepCounts(
    userId: string,
    sweepId: string,
  ): Promise<{ total: number; done: number; failed: number; cancelled: number }> {
    const out = { total: 0, done: 0, failed: 0, cancelled: 0 };
    if (!isUuid(sweepId)) return out;
    const rows = await db
      .selectFrom('backtest_results')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('user_id', '=', userId)
      .where('sweep_id', '=', sweepId)
      .groupBy('status')
      .execute();
    for (const r of rows) {
      const n = Number(r.n);
      out.total += n;
      if (r.status === 'done' || r.status === 'failed' || r.status === 'cancelled') out[r.status] += n;
    }
    return out;
  },
  async update(
    id: string,
    patch: Partial<{
      status: BacktestStatus;
      progress: number;
      metrics: unknown;
      error: string | null;
      artifactKey: string;
      startedAt: Date;
      finishedAt: Date;
    }>,
    /** leave a backtest the user cancelled as it is (a result that lands after the cancel) */
    unlessCancelled = false,
  ): Promise<boolean> {
    let q = db
      .updateTable('backtest_results')
      .set({
        ...(patch.status ? { status: patch.status } : {}),
        ...(patch.progress !== undefined ? { progress: patch.progress } : {}),
        ...(patch.metrics !== undefined ? { metrics: JSON.stringify(patch.metrics) } : {}),
        ...(patch.error !== undefined ? { error: patch.error } : {}),
        ...(patch.artifactKey ? { artifact_key: patch.artifactKey } : {}),
        ...(patch.startedAt ? { started_at: patch.startedAt } : {}),
        ...(patch.finishedAt ? { finished_at: patch.finishedAt } : {}),
      })
      .where('id', '=', id);
    if (unlessCancelled) q = q.where('status', '!=', 'cancelled');
    // false when the backtest is gone (deleted) or, unlessCancelled, was cancelled
    return (await q.executeTakeFirst()).numUpdatedRows > 0n;
  },
  /**
   * Adaptive sweeps that stopped short: fewer backtests than the search's count, none of them queued,
   * running or cancelled. For each (any user's: the service's check, not a user's query), its backtest
   * of the highest number, from which the search goes on. With `endedSince`, only the sweeps whose last
   * backtest ended since then (a periodic check: a sweep stalls when its last result is in). Reads the
   * adaptive sweeps' rows alone (their partial index).
   */
  async stalledSearches(endedSince?: Date): Promise<BacktestRow[]> {
    let stalled = db
      .selectFrom('backtest_results')
      .select('sweep_id')
      .where('sweep_id', 'is not', null)
      .where(sql<boolean>`parameters -> 'sample' ->> 'method' = 'tpe'`)
      .groupBy('sweep_id')
      .having(sql<boolean>`bool_and(status in ('done', 'failed'))`)
      .having(sql<boolean>`count(*) < max((parameters -> 'sample' ->> 'count')::int)`);
    if (endedSince) stalled = stalled.having(sql<boolean>`max(finished_at) >= ${endedSince}`);
    const rows = await db
      .selectFrom('backtest_results')
      .selectAll()
      .distinctOn('sweep_id')
      .where('sweep_id', 'in', stalled)
      .orderBy('sweep_id')
      .orderBy(sql`sweep_seq desc nulls last`)
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  async unfinished(): Promise<BacktestRow[]> {
    const rows = await db
      .selectFrom('backtest_results')
      .selectAll()
      .where('status', 'in', ['queued', 'running'])
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  /**
   * The caller's backtest named or noted anew (null clears; absent keeps; at least one of them given);
   * false when it is not theirs.
   */
  async label(id: string, userId: string, patch: { name?: string | null; note?: string | null }): Promise<boolean> {
    if (!isUuid(id)) return false;
    const r = await db
      .updateTable('backtest_results')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.note !== undefined ? { note: patch.note } : {}),
      })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  },
  /** Every backtest of the caller's sweep named anew (null clears); how many (0: no such sweep of theirs). */
  async nameSweep(userId: string, sweepId: string, name: string | null): Promise<number> {
    if (!isUuid(sweepId)) return 0;
    const r = await db
      .updateTable('backtest_results')
      .set({ name })
      .where('user_id', '=', userId)
      .where('sweep_id', '=', sweepId)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },
  /** Every backtest of the caller's sweep; their ids (none: no such sweep of theirs). */
  async deleteSweep(userId: string, sweepId: string): Promise<string[]> {
    if (!isUuid(sweepId)) return [];
    const rows = await db
      .deleteFrom('backtest_results')
      .where('user_id', '=', userId)
      .where('sweep_id', '=', sweepId)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  },
  async delete(id: string, userId: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const r = await db
      .deleteFrom('backtest_results')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  },
});
