import type { Fill, LedgerState } from '@algotrade/core';
import { sql } from 'kysely';
import type { Db } from '../connect.ts';
import { isUuid } from './strategies.repo.ts';

export type SessionStatus = 'created' | 'running' | 'paused' | 'stopped' | 'failed';

export interface SessionRow {
  id: string;
  userId: string;
  strategyId: string | null;
  strategySnapshot: unknown;
  symbol: string;
  config: Record<string, unknown>;
  status: SessionStatus;
  failureReason: string | null;
  state: Partial<LedgerState>;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
}

export interface TradeRow {
  id: string;
  signalId: string;
  symbol: string;
  side: 'buy' | 'sell';
  quantity: number;
  price: number;
  fee: number;
  slippage: number;
  realizedPnl: number;
  ts: string;
}

export interface OrderRow {
  signalId: string;
  action: string;
  source: string;
  status: 'filled' | 'refused' | 'noop';
  reason: string | null;
  quantity: number | null;
  price: number | null;
  latencyMs: number | null;
  ts: string;
}

/** What one executed signal writes (see forwardTestsRepo.executeMany). */
export interface Execution {
  sessionId: string;
  userId: string;
  symbol: string;
  signalId: string;
  action: 'buy' | 'sell' | 'close';
  source: string;
  status: 'filled' | 'refused' | 'noop';
  reason?: string;
  fill?: Fill;
  latencyMs?: number;
  ts: number;
  /** the ledger after the fill */
  state: LedgerState;
  /** the stored ledger's fill count this execution was planned from (optimistic concurrency) */
  baseFills?: number;
  /** a lifecycle change the execution causes (risk limits) */
  newStatus?: SessionStatus;
  failureReason?: string;
}

/** Some sessions' stored ledgers moved on since they were read (another writer): reload and retry. */
export class StaleLedgerError extends Error {
  constructor(readonly sessionIds: string[]) {
    super(`stale ledgers for ${sessionIds.length} session(s): reload and retry`);
    this.name = 'StaleLedgerError';
  }
}

type Raw = Record<string, unknown>;
const iso = (d: unknown) => (d ? new Date(d as string).toISOString() : null);
const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
const toRow = (r: Raw): SessionRow => ({
  id: r.id as string,
  userId: r.user_id as string,
  strategyId: (r.strategy_id as string) ?? null,
  strategySnapshot: r.strategy_snapshot,
  symbol: r.symbol as string,
  config: r.config as Record<string, unknown>,
  status: r.status as SessionStatus,
  failureReason: (r.failure_reason as string) ?? null,
  state: r.state as Partial<LedgerState>,
  createdAt: iso(r.created_at)!,
  updatedAt: iso(r.updated_at)!,
  startedAt: iso(r.started_at),
  stoppedAt: iso(r.stopped_at),
});

export const forwardTestsRepo = (db: Db) => ({
  async create(row: {
    userId: string;
    strategyId: string | null;
    snapshot: unknown;
    symbol: string;
    config: unknown;
    state: LedgerState;
  }): Promise<SessionRow> {
    const r = await db
      .insertInto('forward_test_sessions')
      .values({
        user_id: row.userId,
        strategy_id: row.strategyId,
        strategy_snapshot: JSON.stringify(row.snapshot),
        symbol: row.symbol,
        config: JSON.stringify(row.config),
        status: 'created',
        state: JSON.stringify(row.state),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRow(r as Raw);
  },
  /** scoped to the owner; userId undefined only for the engine, which acts for the owner */
  async get(id: string, userId?: string): Promise<SessionRow | null> {
    if (!isUuid(id)) return null;
    let q = db.selectFrom('forward_test_sessions').selectAll().where('id', '=', id);
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    const r = await q.executeTakeFirst();
    return r ? toRow(r as Raw) : null;
  },
  async list(userId: string, limit = 500): Promise<SessionRow[]> {
    const rows = await db
      .selectFrom('forward_test_sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  /** every running session (resumed at start-up) */
  async running(): Promise<SessionRow[]> {
    const rows = await db.selectFrom('forward_test_sessions').selectAll().where('status', '=', 'running').execute();
    return rows.map((r) => toRow(r as Raw));
  },
  /** Running sessions on one symbol (an instance taking a symbol's stream over loads them fresh). */
  async runningOn(symbol: string): Promise<SessionRow[]> {
    const rows = await db
      .selectFrom('forward_test_sessions')
      .selectAll()
      .where('status', '=', 'running')
      .where('symbol', '=', symbol)
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await db
      .selectFrom('forward_test_sessions')
      .select(['status', db.fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  },
  async setStatus(
    id: string,
    status: SessionStatus,
    opts: { reason?: string | null; state?: LedgerState } = {},
  ): Promise<void> {
    await db
      .updateTable('forward_test_sessions')
      .set({
        status,
        updated_at: sql`now()`,
        ...(opts.reason !== undefined ? { failure_reason: opts.reason } : {}),
        ...(opts.state ? { state: JSON.stringify(opts.state) } : {}),
        ...(status === 'running' ? { started_at: sql`coalesce(started_at, now())` } : {}),
        ...(status === 'stopped' || status === 'failed' ? { stopped_at: sql`now()` } : {}),
      } as never)
      .where('id', '=', id)
      .execute();
  },
  /**
   * Saves ledgers' marks (peak, drawdown, exposure, last price) in one statement. A saved state never
   * replaces one with more fills: an execution's own transaction always wins over a periodic save.
   */
  async saveStates(states: { id: string; state: LedgerState }[]): Promise<void> {
    for (let i = 0; i < states.length; i += 500) {
      const rows = states
        .slice(i, i + 500)
        .map((s) => sql`(${s.id}::uuid, ${JSON.stringify(s.state)}::jsonb, ${s.state.fills ?? 0}::int)`);
      await sql`update forward_test_sessions f set state = v.state
        from (values ${sql.join(rows)}) as v(id, state, fills)
        where f.id = v.id and coalesce((f.state->>'fills')::int, 0) <= v.fills`.execute(db);
    }
  },
  async delete(id: string, userId: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const r = await db
      .deleteFrom('forward_test_sessions')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  },

  /** (session, signal) pairs already executed, of those given */
  async executedSignals(pairs: { sessionId: string; signalId: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < pairs.length; i += 1000) {
      const rows = pairs.slice(i, i + 1000).map((p) => sql`(${p.sessionId}::uuid, ${p.signalId}::text)`);
      const r = await sql<{ session_id: string; signal_id: string }>`select o.session_id, o.signal_id
        from session_orders o join (values ${sql.join(rows)}) as v(s, g) on o.session_id = v.s and o.signal_id = v.g`.execute(
        db,
      );
      for (const x of r.rows) out.add(`${x.session_id}|${x.signal_id}`);
    }
    return out;
  },

  /**
   * Many executions in one transaction (group commit): orders, trades, positions and ledgers with a
   * handful of statements whatever the batch size. Returns the "session|signal" keys that were new.
   */
  async executeMany(es: Execution[]): Promise<Set<string>> {
    if (!es.length) return new Set();
    return db.transaction().execute(async (trx) => {
      const applied = new Set<string>();
      // column arrays through unnest(): one statement with a dozen parameters whatever the batch size
      const col = <T>(f: (e: Execution) => T) => es.map(f);
      const rows = await sql<{ session_id: string; signal_id: string }>`
        insert into session_orders (session_id, signal_id, user_id, action, source, status, reason, quantity, price, latency_ms, ts)
        select * from unnest(${col((e) => e.sessionId)}::uuid[], ${col((e) => e.signalId)}::text[],
          ${col((e) => e.userId)}::uuid[], ${col((e) => e.action)}::text[], ${col((e) => e.source)}::text[],
          ${col((e) => e.status)}::text[], ${col((e) => e.reason ?? null)}::text[],
          ${col((e) => e.fill?.quantity ?? null)}::numeric[], ${col((e) => e.fill?.price ?? null)}::numeric[],
          ${col((e) => e.latencyMs ?? null)}::float8[], ${col((e) => new Date(e.ts).toISOString())}::timestamptz[])
        on conflict (session_id, signal_id) do nothing
        returning session_id, signal_id`.execute(trx);
      for (const r of rows.rows) applied.add(`${r.session_id}|${r.signal_id}`);
      // a signal executed before (a redelivery, or a tick another instance already acted on): the
      // session's plan assumed it would fill here, so its ledger would count it twice; roll back and
      // let the caller re-plan those sessions without it
      const conflicted = [
        ...new Set(es.filter((e) => !applied.has(`${e.sessionId}|${e.signalId}`)).map((e) => e.sessionId)),
      ];
      if (conflicted.length) throw new StaleLedgerError(conflicted);
      const done = es.filter((e) => applied.has(`${e.sessionId}|${e.signalId}`));
      const fills = done.filter((e) => e.fill);
      if (fills.length) {
        const fc = <T>(f: (e: Execution) => T) => fills.map(f);
        await sql`insert into trades (user_id, session_id, signal_id, symbol, side, quantity, price, fee, slippage, realized_pnl, ts)
          select * from unnest(${fc((e) => e.userId)}::uuid[], ${fc((e) => e.sessionId)}::uuid[],
            ${fc((e) => e.signalId)}::text[], ${fc((e) => e.symbol)}::text[], ${fc((e) => e.fill!.side)}::text[],
            ${fc((e) => e.fill!.quantity)}::numeric[], ${fc((e) => e.fill!.price)}::numeric[],
            ${fc((e) => e.fill!.fee)}::numeric[], ${fc((e) => e.fill!.slippage)}::numeric[],
            ${fc((e) => e.fill!.realizedPnl)}::numeric[], ${fc((e) => new Date(e.fill!.ts).toISOString())}::timestamptz[])`.execute(
          trx,
        );
      }
      // the last execution of each session carries its final ledger
      const last = new Map<string, Execution>();
      const lastFill = new Map<string, Execution>();
      for (const e of done) {
        last.set(e.sessionId, e);
        if (e.fill) lastFill.set(e.sessionId, e);
      }
      const pos = [...lastFill.values()];
      if (pos.length) {
        const pc = <T>(f: (e: Execution) => T) => pos.map(f);
        await sql`insert into portfolio_positions (session_id, user_id, symbol, quantity, avg_price, realized_pnl)
          select * from unnest(${pc((e) => e.sessionId)}::uuid[], ${pc((e) => e.userId)}::uuid[],
            ${pc((e) => e.symbol)}::text[], ${pc((e) => e.state.qty)}::numeric[], ${pc((e) => e.state.avgPrice)}::numeric[],
            ${pc((e) => e.state.realizedPnl)}::numeric[])
          on conflict (session_id, symbol) do update set quantity = excluded.quantity, avg_price = excluded.avg_price,
            realized_pnl = excluded.realized_pnl, updated_at = now()`.execute(trx);
      }
      const ledgers = [...last.values()];
      if (ledgers.length) {
        const lc = <T>(f: (e: Execution) => T) => ledgers.map(f);
        // optimistic concurrency: a ledger is only replaced when the stored one has the fill count this
        // batch was planned from; otherwise another writer got there first and everything rolls back
        const r = await sql<{ id: string }>`update forward_test_sessions f set state = v.state, updated_at = now(),
            status = coalesce(v.status, f.status),
            failure_reason = coalesce(v.reason, f.failure_reason),
            stopped_at = case when v.status in ('stopped', 'failed') then now() else f.stopped_at end
          from unnest(${lc((e) => e.sessionId)}::uuid[], ${lc((e) => JSON.stringify(e.state))}::jsonb[],
            ${lc((e) => e.newStatus ?? null)}::text[], ${lc((e) => e.failureReason ?? null)}::text[],
            ${lc((e) => e.baseFills ?? null)}::int[]) as v(id, state, status, reason, base)
          where f.id = v.id and (v.base is null or coalesce((f.state->>'fills')::int, 0) = v.base)
          returning f.id`.execute(trx);
        if (r.rows.length < ledgers.length) {
          const ok = new Set(r.rows.map((x) => x.id));
          throw new StaleLedgerError(ledgers.map((e) => e.sessionId).filter((id) => !ok.has(id)));
        }
      }
      return applied;
    });
  },

  async trades(sessionId: string, opts: { limit?: number; offset?: number } = {}): Promise<TradeRow[]> {
    const rows = await db
      .selectFrom('trades')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('ts')
      .orderBy('signal_id')
      .limit(opts.limit ?? 1000)
      .offset(opts.offset ?? 0)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      signalId: r.signal_id,
      symbol: r.symbol,
      side: r.side,
      quantity: Number(r.quantity),
      price: Number(r.price),
      fee: Number(r.fee),
      slippage: Number(r.slippage),
      realizedPnl: Number(r.realized_pnl),
      ts: iso(r.ts)!,
    }));
  },
  /** sums straight from the stored trades, for reconciliation */
  async totals(sessionId: string): Promise<{ trades: number; realizedPnl: number; fees: number; qty: number }> {
    const r = await db
      .selectFrom('trades')
      .select([
        db.fn.countAll<string>().as('n'),
        sql<string>`coalesce(sum(realized_pnl), 0)`.as('realized'),
        sql<string>`coalesce(sum(fee), 0)`.as('fees'),
        sql<string>`coalesce(sum(case when side = 'buy' then quantity else -quantity end), 0)`.as('qty'),
      ])
      .where('session_id', '=', sessionId)
      .executeTakeFirstOrThrow();
    return { trades: Number(r.n), realizedPnl: Number(r.realized), fees: Number(r.fees), qty: Number(r.qty) };
  },
  async orders(sessionId: string, opts: { limit?: number; status?: string } = {}): Promise<OrderRow[]> {
    let q = db.selectFrom('session_orders').selectAll().where('session_id', '=', sessionId);
    if (opts.status) q = q.where('status', '=', opts.status as 'filled');
    const rows = await q
      .orderBy('ts', 'desc')
      .limit(opts.limit ?? 500)
      .execute();
    return rows.map((r) => ({
      signalId: r.signal_id,
      action: r.action,
      source: r.source,
      status: r.status,
      reason: r.reason,
      quantity: num(r.quantity),
      price: num(r.price),
      latencyMs: r.latency_ms,
      ts: iso(r.ts)!,
    }));
  },
  async positions(sessionId: string) {
    const rows = await db.selectFrom('portfolio_positions').selectAll().where('session_id', '=', sessionId).execute();
    return rows.map((r) => ({
      symbol: r.symbol,
      quantity: Number(r.quantity),
      avgPrice: Number(r.avg_price),
      realizedPnl: Number(r.realized_pnl),
      updatedAt: iso(r.updated_at)!,
    }));
  },
  async insertEquity(
    points: { sessionId: string; ts: number; equity: number; cash: number; positionValue: number; price: number }[],
  ): Promise<void> {
    if (!points.length) return;
    for (let i = 0; i < points.length; i += 1000)
      await db
        .insertInto('chart_data')
        .values(
          points.slice(i, i + 1000).map((p) => ({
            session_id: p.sessionId,
            ts: new Date(p.ts),
            equity: p.equity,
            cash: p.cash,
            position_value: p.positionValue,
            price: p.price,
          })),
        )
        .onConflict((oc) => oc.columns(['session_id', 'ts']).doNothing())
        .execute();
  },
  async equity(
    sessionId: string,
    limit = 10_000,
  ): Promise<{ ts: number; equity: number; cash: number; positionValue: number; price: number | null }[]> {
    const rows = await db
      .selectFrom('chart_data')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('ts', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({
      ts: new Date(r.ts).getTime(),
      equity: Number(r.equity),
      cash: Number(r.cash),
      positionValue: Number(r.position_value),
      price: num(r.price),
    }));
  },
});

export type ForwardTestsRepo = ReturnType<typeof forwardTestsRepo>;
