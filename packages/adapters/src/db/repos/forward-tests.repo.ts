import type { Fill, LedgerState } from '@algotrade/core';
import { sql, type RawBuilder } from 'kysely';
import { endianness } from 'node:os';
import type { Db, DbHandle } from '../connect.ts';
import { CopyWriter } from '../copy-binary.ts';
import { orderJournalOf } from '../order-journal.ts';
import { isUuid } from './strategies.repo.ts';
import { type Cursor, microsOf, newestPage, ofStrategy } from './cursor.ts';

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
  /** the limit or stop order resting on its ticks when its engine last saved it (null: none) */
  resting: unknown;
  /** its limit and stop orders placed by hand, resting (as saved; [] none) */
  openOrders: unknown[];
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
  /** what the order came from: an action node's id, or a rule (stop_loss, take_profit, max_drawdown, ...) */
  source: string;
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

/** One change of a paper session's status, as its timeline lists it (session_events, migration 19). */
export interface SessionEventRow {
  status: string;
  /** the status before (null: its creation) */
  was: string | null;
  /** why, when a rule or a failure caused it (a risk limit's, say); null for the user's own */
  reason: string | null;
  /** the market time it happened at (the tick or fill that caused it, else the symbol's latest tick); null when there was none */
  ts: string | null;
  /** the wall clock */
  at: string;
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
  /** the session's ledger once the batch is applied (written with a lifecycle change) */
  state: LedgerState;
  /** a fill's number in its session (the ledger's fill count right after it) */
  fillSeq?: number;
  /** the ledger right after this fill, encoded (LedgerLog.put or encodeLedger): the order log row carries it */
  ledgerAfter?: Uint8Array;
  /** a lifecycle change the execution causes (risk limits) */
  newStatus?: SessionStatus;
  failureReason?: string;
}

/**
 * Some sessions' stored ledgers moved on since they were read (another writer), so nothing of the batch
 * was written: reload `sessionIds` (every session of the batch; the database does not say which one
 * conflicted) and plan again.
 */
export class StaleLedgerError extends Error {
  constructor(readonly sessionIds: string[]) {
    super(`stale ledgers for ${sessionIds.length} session(s): reload and retry`);
    this.name = 'StaleLedgerError';
  }
}

type Raw = Record<string, unknown>;
/**
 * The ledger's fields in the order the order log stores them (without their keys). Orders logged from
 * migration 3 to 5 carry `state` as the jsonb array `[1, ...the first 20 fields, recentOrders]`
 * (packLedger, now written only by tests of those rows); later ones carry `ledger`, the binary form
 * (encodeLedger: format 2 with the first 20 fields, format 3 with the cooldown's, format 4 with all).
 * Session rows keep the object
 * form. Reads take any of them; a field a format lacks takes newLedger's value.
 */
const LEDGER_KEYS_V2 = [
  'cash',
  'qty',
  'avgPrice',
  'realizedPnl',
  'fees',
  'fills',
  'closedTrades',
  'wins',
  'grossProfit',
  'grossLoss',
  'entryTs',
  'entryFees',
  'lastPrice',
  'lastTs',
  'firstTs',
  'peakEquity',
  'maxDrawdownPct',
  'exposureMs',
  'day',
  'dayStartEquity',
] as const;
const LEDGER_KEYS_V3 = [...LEDGER_KEYS_V2, 'cooldownUntil'] as const;
const LEDGER_KEYS_V4 = [...LEDGER_KEYS_V3, 'funding', 'entryFunding', 'fundedTo'] as const;
const LEDGER_KEYS_V5 = [...LEDGER_KEYS_V4, 'entries'] as const;
/** where the funding paid in all sits in the binary ledger (formats 4 and later) */
const FUNDING_FIELD = LEDGER_KEYS_V4.indexOf('funding');
const LEDGER_KEYS_V6 = [...LEDGER_KEYS_V5, 'targetTaken'] as const;
const LEDGER_KEYS_V7 = [...LEDGER_KEYS_V6, 'stopDist', 'targetDist', 'trailDist'] as const;
const LEDGER_KEYS = [...LEDGER_KEYS_V7, 'coolStreak'] as const;
/**
 * the fields of each binary ledger format, by its format byte (6 to 9 written: see writeLedger); format 9
 * is format 8's fields, then the cooldown window's exit times (their count, then each)
 */
const LEDGER_FORMATS: Readonly<Record<number, readonly (keyof LedgerState)[]>> = {
  2: LEDGER_KEYS_V2,
  3: LEDGER_KEYS_V3,
  4: LEDGER_KEYS_V4,
  5: LEDGER_KEYS_V5,
  6: LEDGER_KEYS_V6,
  7: LEDGER_KEYS_V7,
  8: LEDGER_KEYS,
  9: LEDGER_KEYS,
};
type MissingLedgerKey = Exclude<keyof LedgerState, 'recentOrders' | 'coolTimes' | (typeof LEDGER_KEYS)[number]>;
// fails to compile when LedgerState gains a field that LEDGER_KEYS does not list
const everyLedgerKey: [MissingLedgerKey] extends [never] ? true : MissingLedgerKey = true;
void everyLedgerKey;

export function packLedger(l: LedgerState): unknown[] {
  const out: unknown[] = [1];
  for (const k of LEDGER_KEYS_V2) out.push(l[k]);
  out.push(l.recentOrders);
  return out;
}

export function unpackLedger(x: unknown): Partial<LedgerState> {
  if (!Array.isArray(x)) return (x ?? {}) as Partial<LedgerState>;
  if (x[0] !== 1 || x.length !== LEDGER_KEYS_V2.length + 2) throw new Error(`unknown stored ledger format ${x[0]}`);
  const l: Record<string, unknown> = {};
  LEDGER_KEYS_V2.forEach((k, i) => (l[k] = x[i + 1]));
  l.recentOrders = x[LEDGER_KEYS_V2.length + 1];
  l.cooldownUntil = 0;
  l.funding = l.entryFunding = l.fundedTo = 0;
  l.entries = l.qty ? 1 : 0;
  l.targetTaken = 0;
  l.stopDist = l.targetDist = l.trailDist = 0;
  l.coolStreak = 0;
  l.coolTimes = [];
  return l as Partial<LedgerState>;
}

/**
 * The ledger a filled order carries in `session_orders.ledger` (migration 6): a format byte, then the
 * fields of its format and the recent order times as little-endian float64. Format 9 (257 bytes and up)
 * while a Cooldown node with a window (`withinMinutes`) keeps the times of exits toward its count: format
 * 8's fields, their count and the times. Format 8 (249 bytes and up) while a Cooldown node's run of
 * exits toward its count is under way, else format 7 (241 bytes and up)
 * when the position keeps distances for rules at a distance, else format 6 (217 bytes and up), its first
 * 26 fields: most positions have none, and an order row is written per fill. Formats read: 5 before the
 * partial take profit's flag (209), 4 before the entry count (201), 3 before the funding fields (177), 2
 * before the cooldown's (169). The
 * jsonb array it replaces took about 390 bytes (jsonb keeps each number as a decimal), and parsing it
 * was most of the server's work for an order row. Numbers come back bit for bit (-0, NaN and all).
 */
const fieldsOf = (l: LedgerState) =>
  l.coolStreak || l.coolTimes.length
    ? LEDGER_KEYS.length
    : l.stopDist || l.targetDist || l.trailDist
      ? LEDGER_KEYS_V7.length
      : LEDGER_KEYS_V6.length;
/** the doubles after the fields: the window's exit times with their count (format 9), the recent orders */
const listsOf = (l: LedgerState) => (l.coolTimes.length ? 1 + l.coolTimes.length : 0) + l.recentOrders.length;
const encodedLedgerSize = (l: LedgerState) => 1 + 8 * (fieldsOf(l) + listsOf(l));
/** writes the binary ledger into `b` at `at` (encodedLedgerSize(l) bytes) */
function writeLedger(l: LedgerState, b: Buffer, at: number): void {
  const fields = fieldsOf(l);
  const times = l.coolTimes;
  b[at] = times.length ? 9 : fields === LEDGER_KEYS.length ? 8 : fields === LEDGER_KEYS_V7.length ? 7 : 6;
  const n = fields + listsOf(l);
  if (!LITTLE_ENDIAN) {
    let o = at + 1;
    for (const k of LEDGER_KEYS.slice(0, fields)) o = b.writeDoubleLE(l[k], o);
    if (times.length) for (const t of [times.length, ...times]) o = b.writeDoubleLE(t, o);
    for (const t of l.recentOrders) o = b.writeDoubleLE(t, o);
    return;
  }
  // the doubles go into a scratch Float64Array (this machine's order is the format's), then one copy: a
  // checked writeDoubleLE per field was most of this function's time. Named reads, in LEDGER_KEYS'
  // order (ledger-format.test.ts decodes by LEDGER_KEYS): a keyed read l[k] boxed every double.
  if (n > ledgerScratch.length) {
    ledgerScratch = new Float64Array(2 * n);
    ledgerBytes = Buffer.from(ledgerScratch.buffer);
  }
  const f = ledgerScratch;
  f[0] = l.cash;
  f[1] = l.qty;
  f[2] = l.avgPrice;
  f[3] = l.realizedPnl;
  f[4] = l.fees;
  f[5] = l.fills;
  f[6] = l.closedTrades;
  f[7] = l.wins;
  f[8] = l.grossProfit;
  f[9] = l.grossLoss;
  f[10] = l.entryTs;
  f[11] = l.entryFees;
  f[12] = l.lastPrice;
  f[13] = l.lastTs;
  f[14] = l.firstTs;
  f[15] = l.peakEquity;
  f[16] = l.maxDrawdownPct;
  f[17] = l.exposureMs;
  f[18] = l.day;
  f[19] = l.dayStartEquity;
  f[20] = l.cooldownUntil;
  f[21] = l.funding;
  f[22] = l.entryFunding;
  f[23] = l.fundedTo;
  f[24] = l.entries;
  f[25] = l.targetTaken;
  f[26] = l.stopDist;
  f[27] = l.targetDist;
  f[28] = l.trailDist;
  f[29] = l.coolStreak;
  // formats 6 and 7 end before the distances or the run: what follows overwrites them
  let i = fields;
  if (times.length) {
    f[i++] = times.length;
    for (const t of times) f[i++] = t;
  }
  for (const t of l.recentOrders) f[i++] = t;
  ledgerBytes.copy(b, at + 1, 0, 8 * n);
}
const LITTLE_ENDIAN = endianness() === 'LE';
let ledgerScratch = new Float64Array(64);
let ledgerBytes = Buffer.from(ledgerScratch.buffer);
// the unrolled writer above names 30 fields: this fails to compile when LEDGER_KEYS has another number
const ledgerKeyCount: (typeof LEDGER_KEYS)['length'] extends 30 ? true : never = true;
void ledgerKeyCount;
export function encodeLedger(l: LedgerState): Buffer {
  const b = Buffer.allocUnsafe(encodedLedgerSize(l));
  writeLedger(l, b, 0);
  return b;
}

/**
 * Ledgers encoded one after another into a shared buffer: what a batch of fills carries to the order log
 * (each fill's ledger as it left it), as a view per fill instead of a copied LedgerState each (a copy was
 * 20 boxed numbers and an array, about 450 bytes of garbage per fill).
 */
export class LedgerLog {
  private buf: Buffer;
  private o = 0;
  constructor(bytes = 4096) {
    this.buf = Buffer.allocUnsafe(bytes);
  }
  /** `l` encoded as the order log stores it, in a view that stays valid (a full buffer is replaced, not reused) */
  put(l: LedgerState): Uint8Array {
    const n = encodedLedgerSize(l);
    if (this.o + n > this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.max(2 * this.buf.length, n));
      this.o = 0;
    }
    writeLedger(l, this.buf, this.o);
    const v = this.buf.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
}

/** the order log's columns, in the order both ways of writing it (JSON document, binary COPY) send them */
export const ORDER_COLUMNS =
  'session_id, signal_id, user_id, action, source, status, reason, quantity, price, latency_ms, ts, symbol, side, fee, slippage, realized_pnl, fill_seq, ledger';

/**
 * Executions as binary COPY rows of session_orders (ORDER_COLUMNS), the same values the JSON document
 * carries: numbers as their shortest decimals (rounded by the columns' scales on the server), times to
 * the millisecond, the ledger after a fill in its binary form.
 */
export function orderCopyData(es: readonly Execution[]): CopyWriter {
  const w = new CopyWriter(256 + es.length * 420);
  for (const e of es) {
    const f = e.fill;
    w.row(18);
    w.uuid(e.sessionId);
    w.text(e.signalId);
    w.uuid(e.userId);
    w.text(e.action);
    w.text(e.source);
    w.text(e.status);
    w.textOrNull(e.reason);
    w.numericOrNull(f?.quantity);
    w.numericOrNull(f?.price);
    if (e.latencyMs === undefined || !Number.isFinite(e.latencyMs)) w.null();
    else w.float8(e.latencyMs || 0); // -0 as JSON writes it
    w.timestamptz(f?.ts ?? e.ts);
    w.textOrNull(f ? e.symbol : null);
    w.textOrNull(f?.side);
    w.numericOrNull(f?.fee);
    w.numericOrNull(f?.slippage);
    w.numericOrNull(f?.realizedPnl);
    if (f) {
      w.int4(e.fillSeq!);
      w.bytes(e.ledgerAfter!);
    } else {
      w.null();
      w.null();
    }
  }
  return w;
}

/** An equity point of a session (chart_data). */
export interface EquityPoint {
  sessionId: string;
  ts: number;
  equity: number;
  cash: number;
  positionValue: number;
  price: number;
}

const EQUITY_COLUMNS = 'session_id, ts, equity, cash, position_value, price';

/** Equity points as binary COPY rows of chart_data (EQUITY_COLUMNS). */
export function equityCopyData(points: readonly EquityPoint[]): CopyWriter {
  const w = new CopyWriter(256 + points.length * 96);
  for (const p of points) {
    w.row(6);
    w.uuid(p.sessionId);
    w.timestamptz(p.ts);
    w.numeric(p.equity);
    w.numeric(p.cash);
    w.numeric(p.positionValue);
    w.numeric(p.price);
  }
  return w;
}

export function decodeLedger(b: Uint8Array): LedgerState {
  const n = (b.length - 1) / 8;
  // format 2 (before the cooldown's field), 3 (before the funding fields), 4 (before the entry count), 5
  // (before the partial take profit's flag), 6 (before the rules at a distance), 7 (before the cooldown's
  // run of exits), 8 (before the window's exit times) or 9
  const keys = LEDGER_FORMATS[b[0]!];
  if (!keys || !Number.isInteger(n) || n < keys.length)
    throw new Error(`unknown stored ledger format (first byte ${b[0]}, ${b.length} bytes)`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const l: Record<string, unknown> = {};
  keys.forEach((k, i) => (l[k] = v.getFloat64(1 + 8 * i, true)));
  let i = keys.length;
  const times: number[] = [];
  if (b[0] === 9) {
    const k = v.getFloat64(1 + 8 * i++, true);
    if (!Number.isInteger(k) || k < 1 || i + k > n)
      throw new Error(`unknown stored ledger format (format 9 with ${k} exit times in ${b.length} bytes)`);
    for (let j = 0; j < k; j++) times.push(v.getFloat64(1 + 8 * i++, true));
  }
  l.coolTimes = times;
  const recent: number[] = [];
  for (; i < n; i++) recent.push(v.getFloat64(1 + 8 * i, true));
  l.recentOrders = recent;
  l.cooldownUntil ??= 0;
  l.funding ??= 0;
  l.entryFunding ??= 0;
  l.fundedTo ??= 0;
  // before the entry count, an open position had one entry (nothing added to positions)
  l.entries ??= l.qty ? 1 : 0;
  l.targetTaken ??= 0;
  l.stopDist ??= 0;
  l.targetDist ??= 0;
  l.trailDist ??= 0;
  l.coolStreak ??= 0;
  return l as unknown as LedgerState;
}

/** rows per chunk of a journal record: the order journal copies one chunk per statement, after a quiet moment */
const JOURNAL_CHUNK = 250;
/** journaled rows waiting to be copied beyond which a commit waits for the copying to catch up */
const JOURNAL_BACKLOG = 50_000;

/** A duplicate key: PostgreSQL's unique_violation. */
const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === '23505';

/**
 * The fill count of a session row's own ledger, in SQL (alias `f`): the last periodic save's (marks)
 * when set, else the row's state.
 */
const rowFills = sql<number>`coalesce(f.marks_fills, (f.state->>'fills')::int, 0)`;

/**
 * A session's ledger: the newest logged fill's when it is newer than the row's own, else the last
 * periodic save's (marks), else the row's state (see `sessions()` below).
 */
function sessionLedger(r: Raw): Partial<LedgerState> {
  if (r.order_ledger) return decodeLedger(r.order_ledger as Uint8Array);
  if (r.order_state) return unpackLedger(r.order_state);
  if (r.marks) return decodeLedger(r.marks as Uint8Array);
  return unpackLedger(r.state);
}

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
  state: sessionLedger(r),
  resting: r.resting ?? null,
  openOrders: Array.isArray(r.open_orders) ? r.open_orders : [],
  createdAt: iso(r.created_at)!,
  updatedAt: iso(r.updated_at)!,
  startedAt: iso(r.started_at),
  stoppedAt: iso(r.stopped_at),
});

/** Executions as one JSON document expanded into order rows by the server: one statement, one parameter. */
function jsonInsert(es: readonly Execution[]) {
  const doc = JSON.stringify(
    es.map((e) => ({
      session_id: e.sessionId,
      signal_id: e.signalId,
      user_id: e.userId,
      action: e.action,
      source: e.source,
      status: e.status,
      reason: e.reason ?? null,
      quantity: e.fill?.quantity ?? null,
      price: e.fill?.price ?? null,
      latency_ms: e.latencyMs ?? null,
      ts: new Date(e.fill?.ts ?? e.ts).toISOString(),
      symbol: e.fill ? e.symbol : null,
      side: e.fill?.side ?? null,
      fee: e.fill?.fee ?? null,
      slippage: e.fill?.slippage ?? null,
      realized_pnl: e.fill?.realizedPnl ?? null,
      fill_seq: e.fill ? e.fillSeq : null,
      ledger: e.fill ? Buffer.from(e.ledgerAfter!).toString('base64') : null,
    })),
  );
  return sql`
    insert into session_orders (${sql.raw(ORDER_COLUMNS)})
    select session_id, signal_id, user_id, action, source, status, reason, quantity, price, latency_ms, ts,
      symbol, side, fee, slippage, realized_pnl, fill_seq, decode(ledger, 'base64')
    from json_to_recordset(${doc}::json) as x(session_id uuid, signal_id text, user_id uuid, action text,
      source text, status text, reason text, quantity numeric, price numeric, latency_ms float8, ts timestamptz,
      symbol text, side text, fee numeric, slippage numeric, realized_pnl numeric, fill_seq int, ledger text)`;
}

/**
 * The sessions' new status (and ledger) that risk limits set, written with the orders that caused them,
 * each change on the session's timeline (session_events) at the time of the order that caused it. The
 * rows are locked first (in id order) and read as the last change committed left them, as setStatus
 * does: a change someone else made meanwhile is not written again.
 */
/**
 * A list of changes of limits (a jsonb array expression, null: none yet) with one more: `{at: now(), risk:
 * change}` (a JSON text), the last 100 kept, oldest first.
 */
const withChange = (list: RawBuilder<unknown>, change: string | null) =>
  sql`(select coalesce(jsonb_agg(k.x order by k.n), '[]'::jsonb) from (
    select e.x, e.n from jsonb_array_elements(coalesce(${list}, '[]'::jsonb)
      || jsonb_build_array(jsonb_build_object('at', now(), 'risk', ${change}::jsonb))) with ordinality as e(x, n)
    order by e.n desc limit 100) k)`;

function haltUpdate(hs: readonly Execution[]) {
  const col = <T>(f: (e: Execution) => T) => hs.map(f);
  return sql`with v as (
      select * from unnest(${col((e) => e.sessionId)}::uuid[], ${col((e) => JSON.stringify(e.state))}::jsonb[],
        ${col((e) => e.newStatus!)}::text[], ${col((e) => e.failureReason ?? null)}::text[],
        ${col((e) => new Date(e.fill?.ts ?? e.ts).toISOString())}::timestamptz[]) as v(id, state, status, reason, market_ts)),
    prev as (select f.id, f.status as was from forward_test_sessions f join v on v.id = f.id
      order by f.id for update of f),
    u as (update forward_test_sessions f set state = v.state, marks = null, marks_fills = null,
      updated_at = now(), status = v.status,
      failure_reason = coalesce(v.reason, f.failure_reason),
      stopped_at = case when v.status in ('stopped', 'failed') then now() else f.stopped_at end,
      open_orders = case when v.status in ('stopped', 'failed') then null else f.open_orders end
    from v join prev on prev.id = v.id where f.id = v.id returning f.id, f.user_id, f.status)
    insert into session_events (session_id, user_id, status, was, reason, market_ts)
    select u.id, u.user_id, u.status, prev.was, v.reason, v.market_ts
    from u join prev on prev.id = u.id join v on v.id = u.id where prev.was is distinct from u.status`;
}

/**
 * @param opts.withConnection the database handle's own connections (DbHandle.withConnection): with them
 * the order log is written with binary COPY, without them as one JSON document expanded by the server.
 */
export const forwardTestsRepo = (db: Db, opts: { withConnection?: DbHandle['withConnection'] } = {}) => {
  /** every read of the order log first waits for the order journal (if any) to be copied into it */
  const settled = async () => {
    const j = orderJournalOf(db);
    if (j?.pendingRows) await j.drained();
  };
  /**
   * Sessions with their ledgers. A session's ledger is the newest of the row's own snapshot and the one
   * carried by its newest filled order: fills commit one order row each (the order log), and the row's
   * `state` is written behind (periodic marks, lifecycle changes), so it may lag the log by a few fills.
   * Orders logged before migration 6 carry it as a jsonb array (`state`), later ones as `ledger`.
   */
  const sessions = () =>
    db
      .selectFrom('forward_test_sessions as f')
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('session_orders as o')
            .select(['o.ledger', 'o.state'])
            .whereRef('o.session_id', '=', 'f.id')
            .where('o.fill_seq', '>', rowFills)
            .orderBy('o.fill_seq', 'desc')
            .limit(1)
            .as('o'),
        (join) => join.onTrue(),
      )
      .select([
        'f.id',
        'f.user_id',
        'f.strategy_id',
        'f.strategy_snapshot',
        'f.symbol',
        'f.config',
        'f.status',
        'f.failure_reason',
        'f.created_at',
        'f.updated_at',
        'f.started_at',
        'f.stopped_at',
        'f.state',
        'f.marks',
        'f.resting',
        'f.open_orders',
        'o.ledger as order_ledger',
        'o.state as order_state',
      ]);
  /** Several sessions' timelines as one (a paper portfolio's), in the order the changes were written. */
  const eventsOf = async (
    sessionIds: readonly string[],
    limit = 1000,
  ): Promise<(SessionEventRow & { sessionId: string })[]> => {
    if (!sessionIds.length) return [];
    const rows = await db
      .selectFrom('session_events')
      .select(['session_id', 'status', 'was', 'reason', 'market_ts', 'at'])
      .where('session_id', 'in', sessionIds)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      sessionId: r.session_id,
      status: r.status,
      was: r.was,
      reason: r.reason,
      ts: iso(r.market_ts),
      at: iso(r.at)!,
    }));
  };
  return {
    async create(row: {
      userId: string;
      strategyId: string | null;
      snapshot: unknown;
      symbol: string;
      config: unknown;
      state: LedgerState;
    }): Promise<SessionRow> {
      // the session and the first event of its timeline, in one statement
      const r = await db
        .with('s', (q) =>
          q
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
            .returningAll(),
        )
        .with('e', (q) =>
          q
            .insertInto('session_events')
            .columns(['session_id', 'user_id', 'status', 'at'])
            .expression((eb) => eb.selectFrom('s').select(['s.id', 's.user_id', 's.status', 's.created_at'])),
        )
        .selectFrom('s')
        .selectAll()
        .executeTakeFirstOrThrow();
      return toRow(r as Raw);
    },
    /** scoped to the owner; userId undefined only for the engine, which acts for the owner */
    async get(id: string, userId?: string): Promise<SessionRow | null> {
      if (!isUuid(id)) return null;
      await settled();
      let q = sessions().where('f.id', '=', id);
      if (userId !== undefined) q = q.where('f.user_id', '=', userId);
      const r = await q.executeTakeFirst();
      return r ? toRow(r as Raw) : null;
    },
    /**
     * Changes what a session's config says of its name and its own risk limits (`name` null: none;
     * `risk` replaces them whole), scoped to the owner. False: not theirs.
     */
    async updateConfig(id: string, userId: string, patch: { name?: string | null; risk?: object }): Promise<boolean> {
      if (!isUuid(id)) return false;
      const set: Record<string, unknown> = {};
      const drop: string[] = [];
      if (patch.name === null) drop.push('name');
      else if (patch.name !== undefined) set.name = patch.name;
      if (patch.risk !== undefined) set.risk = patch.risk;
      // each change of its limits kept in its config's riskChanges, oldest first: when, and what they became
      // (the last 100)
      const change = patch.risk !== undefined ? JSON.stringify(patch.risk) : null;
      const r = await sql`update forward_test_sessions set updated_at = now(),
          config = (config - ${drop}::text[]) || ${JSON.stringify(set)}::jsonb || case when ${change}::jsonb is null
            then '{}'::jsonb
            else jsonb_build_object('riskChanges', ${withChange(sql`config->'riskChanges'`, change)}) end
          where id = ${id} and user_id = ${userId}`.execute(db);
      return Number(r.numAffectedRows ?? 0) > 0;
    },
    /**
     * Sets a paper portfolio's limits on its summed equity (each of its sessions' `config.portfolio.risk`;
     * null: none), scoped to the owner, and keeps the change in `config.portfolio.riskChanges`, oldest
     * first: when, and what they became (null: none; the last 100). The sessions changed (none: not theirs).
     */
    async setPortfolioRisk(userId: string, portfolioId: string, risk: object | null): Promise<number> {
      const change = JSON.stringify(risk);
      const r = await sql`update forward_test_sessions set updated_at = now(), config = jsonb_set(
          case when ${risk === null} then config #- '{portfolio,risk}'
            else jsonb_set(config, '{portfolio,risk}', ${change}::jsonb) end,
          '{portfolio,riskChanges}', ${withChange(sql`config->'portfolio'->'riskChanges'`, change)})
        where user_id = ${userId} and config->'portfolio'->>'id' = ${portfolioId}`.execute(db);
      return Number(r.numAffectedRows ?? 0);
    },
    /** Several sessions by id, in one query (ids that are not sessions are left out). */
    async getMany(ids: readonly string[]): Promise<SessionRow[]> {
      const valid = ids.filter(isUuid);
      if (!valid.length) return [];
      await settled();
      return (await sessions().where('f.id', 'in', valid).execute()).map((r) => toRow(r as Raw));
    },
    /**
     * A page of the caller's sessions, newest first, filtered, and the cursor of the next page (null
     * on the last; see cursor.ts).
     */
    async page(
      userId: string,
      f: { limit: number; before?: Cursor; status?: SessionRow['status']; symbol?: string; strategyId?: string },
    ): Promise<{ rows: SessionRow[]; next: string | null }> {
      await settled();
      let q = sessions().select(microsOf('f.created_at').as('cursor_us')).where('f.user_id', '=', userId);
      if (f.status !== undefined) q = q.where('f.status', '=', f.status);
      if (f.symbol !== undefined) q = q.where('f.symbol', '=', f.symbol);
      if (f.strategyId !== undefined) q = q.where(ofStrategy('f.strategy_id', f.strategyId));
      const { rows, next } = await newestPage<typeof q, Raw & { id: string; cursor_us: string }>(
        q,
        'f.created_at',
        'f.id',
        f.limit,
        f.before,
      );
      return { rows: rows.map(toRow), next };
    },
    async list(userId: string, limit = 500): Promise<SessionRow[]> {
      await settled();
      const rows = await sessions()
        .where('f.user_id', '=', userId)
        .orderBy('f.created_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => toRow(r as Raw));
    },
    /** The user's sessions of a paper portfolio (`config.portfolio.id`), in the order of its symbols. */
    async portfolio(userId: string, portfolioId: string): Promise<SessionRow[]> {
      await settled();
      const rows = await sessions()
        .where('f.user_id', '=', userId)
        .where(sql<string>`f.config->'portfolio'->>'id'`, '=', portfolioId)
        .orderBy(sql`(f.config->'portfolio'->>'leg')::int`)
        .execute();
      return rows.map((r) => toRow(r as Raw));
    },
    /**
     * The paper portfolios with a limit on their summed equity (`config.portfolio.risk`) that have a
     * running session: the ones the forward-test service watches.
     */
    async guardedPortfolios(): Promise<{ userId: string; portfolioId: string }[]> {
      await settled();
      const rows = await db
        .selectFrom('forward_test_sessions')
        .select([sql<string>`user_id`.as('userId'), sql<string>`config->'portfolio'->>'id'`.as('portfolioId')])
        .distinct()
        .where('status', '=', 'running')
        .where(sql`config->'portfolio'->'risk'`, 'is not', null)
        .execute();
      return rows.map((r) => ({ userId: String(r.userId), portfolioId: String(r.portfolioId) }));
    },
    /** every running session (resumed at start-up) */
    async running(): Promise<SessionRow[]> {
      await settled();
      const rows = await sessions().where('f.status', '=', 'running').execute();
      return rows.map((r) => toRow(r as Raw));
    },
    /** Paused sessions whose failure reason begins with one of these (a risk limit's pause). */
    async pausedBy(reasons: readonly string[]): Promise<SessionRow[]> {
      await settled();
      const rows = await sessions()
        .where('f.status', '=', 'paused')
        .where((eb) => eb.or(reasons.map((r) => eb('f.failure_reason', 'like', `${r.replace(/[\\%_]/g, '\\$&')}%`))))
        .execute();
      return rows.map((r) => toRow(r as Raw));
    },
    /** Running sessions on one symbol (an instance taking a symbol's stream over loads them fresh). */
    async runningOn(symbol: string): Promise<SessionRow[]> {
      await settled();
      const rows = await sessions().where('f.status', '=', 'running').where('f.symbol', '=', symbol).execute();
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
    /**
     * A session's status (a lifecycle change, or the same status with a newer ledger), with its failure
     * `reason` (undefined: kept). A change is added to its timeline (session_events) in the same statement,
     * with why (`eventReason`, else `reason`; none: the user's own) and the market time it happened at
     * (`marketTs`, ms), when known.
     */
    async setStatus(
      id: string,
      status: SessionStatus,
      opts: { reason?: string | null; eventReason?: string; state?: LedgerState; marketTs?: number | null } = {},
    ): Promise<void> {
      const why = opts.eventReason ?? opts.reason ?? null;
      await db
        // the row locked first, and read as the last change committed left it: two writers making the same
        // change at once (two instances, or a timer and a request) write one timeline row, the second
        // seeing the first's status (read committed returns the newest version of a row it waited for)
        .with('prev', (q) =>
          q.selectFrom('forward_test_sessions').select(['id', 'status as was']).where('id', '=', id).forUpdate(),
        )
        .with('u', (q) =>
          q
            .updateTable('forward_test_sessions')
            .set({
              status,
              updated_at: sql`now()`,
              ...(opts.reason !== undefined ? { failure_reason: opts.reason } : {}),
              // a lifecycle change writes the engine's ledger, newer than the last periodic save's
              ...(opts.state ? { state: JSON.stringify(opts.state), marks: null, marks_fills: null } : {}),
              ...(status === 'running' ? { started_at: sql`coalesce(started_at, now())` } : {}),
              // a session stopped or failed: its orders by hand resting are cancelled with it
              ...(status === 'stopped' || status === 'failed' ? { stopped_at: sql`now()`, open_orders: null } : {}),
            } as never)
            // after prev's lock: the update reads prev, so runs once the row is locked
            .from('prev')
            .whereRef('forward_test_sessions.id', '=', 'prev.id')
            .returning([
              'forward_test_sessions.id as id',
              'forward_test_sessions.user_id as user_id',
              'forward_test_sessions.status as status',
            ]),
        )
        .insertInto('session_events')
        .columns(['session_id', 'user_id', 'status', 'was', 'reason', 'market_ts'])
        .expression((eb) =>
          eb
            .selectFrom('u')
            .innerJoin('prev', 'prev.id', 'u.id')
            .select([
              'u.id',
              'u.user_id',
              'u.status',
              'prev.was',
              sql<string | null>`${why}::text`.as('reason'),
              sql<Date | null>`${opts.marketTs != null ? new Date(opts.marketTs).toISOString() : null}::timestamptz`.as(
                'market_ts',
              ),
            ])
            .where(sql<boolean>`prev.was is distinct from u.status`),
        )
        .execute();
    },
    eventsOf,
    /** A session's timeline: each change of its status, oldest first (at most `limit`). */
    async events(sessionId: string, limit = 1000): Promise<SessionEventRow[]> {
      return (await eventsOf([sessionId], limit)).map(({ sessionId: _s, ...e }) => e);
    },
    /**
     * Saves ledgers' marks (peak, drawdown, exposure, last price) in one statement per 5,000, in binary
     * (encodeLedger) to the rows' `marks` (migration 8), sent as hex text (PGlite's own bytea array
     * parameters are hex-encoded a byte at a time in JavaScript). A saved ledger never replaces one
     * with more fills: an execution's own transaction always wins over a periodic save.
     */
    async saveStates(states: readonly { id: string; state: LedgerState }[]): Promise<void> {
      for (let i = 0; i < states.length; i += 5000) {
        const chunk = states.slice(i, i + 5000);
        await sql`update forward_test_sessions f set marks = decode(v.marks, 'hex'), marks_fills = v.fills
          from unnest(${chunk.map((x) => x.id)}::uuid[], ${chunk.map((x) => x.state.fills)}::int[],
            ${chunk.map((x) => encodeLedger(x.state).toString('hex'))}::text[]) as v(id, fills, marks)
          where f.id = v.id and ${rowFills} <= v.fills`.execute(db);
      }
    },
    /**
     * Saves sessions' resting limit or stop orders (null: none) as they are now, in one statement: the
     * engine writes each change as it happens, so a restart finds the order still resting.
     */
    async saveResting(items: readonly { id: string; resting: object | null }[]): Promise<void> {
      if (!items.length) return;
      await sql`update forward_test_sessions f set resting = v.resting::jsonb
        from unnest(${items.map((x) => x.id)}::uuid[], ${items.map((x) => (x.resting ? JSON.stringify(x.resting) : null))}::text[])
          as v(id, resting)
        where f.id = v.id`.execute(db);
    },
    /**
     * Changes a session's resting orders placed by hand in one statement: `add` appended, those whose
     * `id` is in `remove` taken out (none left: null). Only the change is written, so two writers changing
     * the list at once (two instances) both keep theirs. Not once it has stopped or failed (a stop cancels
     * them). Whether it changed the row.
     */
    async changeOpenOrders(id: string, add: readonly object[], remove: readonly string[]): Promise<boolean> {
      const r = await sql`update forward_test_sessions set open_orders = (
          select jsonb_agg(e.x order by e.n) from jsonb_array_elements(
            coalesce(open_orders, '[]'::jsonb) || ${JSON.stringify(add)}::jsonb) with ordinality as e(x, n)
          where not (e.x->>'id' = any(${remove as string[]}::text[])))
        where id = ${id} and status not in ('stopped', 'failed')`.execute(db);
      return Number(r.numAffectedRows ?? 0) > 0;
    },
    /**
     * Puts `next` in place of the resting order whose id is `orderId`, where it stands in the list, in one
     * statement; nothing when that order is no longer there (filled, lapsed or cancelled meanwhile, through
     * this instance or another), so an amend never brings back an order that is gone. Not once the session
     * has stopped or failed. Whether it changed the row.
     */
    async replaceOpenOrder(id: string, orderId: string, next: object): Promise<boolean> {
      const r = await sql`update forward_test_sessions set open_orders = (
          select jsonb_agg(case when e.x->>'id' = ${orderId} then ${JSON.stringify(next)}::jsonb else e.x end
            order by e.n)
          from jsonb_array_elements(open_orders) with ordinality as e(x, n))
        where id = ${id} and status not in ('stopped', 'failed')
          and open_orders @> jsonb_build_array(jsonb_build_object('id', ${orderId}::text))`.execute(db);
      return Number(r.numAffectedRows ?? 0) > 0;
    },
    /**
     * Moves trailing stops' extremes on their sessions' rows in one statement: each order's `extreme`
     * becomes the better of the one given and the one kept (the higher for a sell, the lower for a buy),
     * so a save that lands after a later one never moves a stop back. An order no longer resting is left
     * out; nothing once its session has stopped or failed. (Readers work its price out from the extreme.)
     */
    async saveTrails(items: readonly { sessionId: string; orderId: string; extreme: number }[]): Promise<void> {
      if (!items.length) return;
      await sql`update forward_test_sessions f set open_orders = (
          select jsonb_agg(case when v.extreme is null then e.x else e.x || jsonb_build_object('extreme',
            case when e.x->>'side' = 'sell' then greatest((e.x->>'extreme')::float8, v.extreme)
              else least((e.x->>'extreme')::float8, v.extreme) end) end order by e.n)
          from jsonb_array_elements(f.open_orders) with ordinality as e(x, n)
          left join unnest(${items.map((x) => x.sessionId)}::uuid[], ${items.map((x) => x.orderId)}::text[],
            ${items.map((x) => x.extreme)}::float8[]) as v(session_id, order_id, extreme)
            on v.session_id = f.id and v.order_id = e.x->>'id' and e.x->>'type' = 'trailing_stop')
        where f.id = any(${[...new Set(items.map((x) => x.sessionId))]}::uuid[]) and f.open_orders is not null
          and f.status not in ('stopped', 'failed')`.execute(db);
    },
    async delete(id: string, userId: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      await settled(); // the session's journaled orders go in first, so the delete takes them too
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
      await settled();
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
     * Many executions in one transaction (group commit): one order row each, in one statement whatever
     * the batch size. A filled order carries its fill, its fill number and the ledger right after it,
     * so the order log alone is enough to rebuild every ledger; the sessions' own state is written
     * behind. All or nothing: returns how many order rows went in (every one of them), or, when a signal
     * was executed before or a fill number was taken first (two instances planning from the same
     * ledger), rolls the batch back with StaleLedgerError naming the sessions to reload.
     *
     * With an order journal (embedded database) and `writer` its sole writer, a batch without lifecycle
     * changes is written to the journal instead and copied into the order log behind (db/order-journal.ts).
     */
    async executeMany(es: Execution[], o: { writer?: object } = {}): Promise<number> {
      if (!es.length) return 0;
      for (const e of es)
        if (e.fill && (e.fillSeq === undefined || e.ledgerAfter === undefined))
          throw new Error(`execution ${e.signalId}: a fill needs its fill number and the ledger after it`);
      // lifecycle changes caused by risk limits commit with the orders that caused them; one statement
      // is all-or-nothing by itself, so only a batch with such changes needs a transaction
      const halts = new Map<string, Execution>();
      for (const e of es) if (e.newStatus) halts.set(e.sessionId, e);
      const j = orderJournalOf(db);
      if (j && o.writer && !halts.size && j.sole(o.writer)) {
        // a backlog the copying cannot work off (a load the database cannot keep up with) waits here
        if (j.pendingRows > JOURNAL_BACKLOG) await j.drained();
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < es.length; i += JOURNAL_CHUNK)
          chunks.push(orderCopyData(es.slice(i, i + JOURNAL_CHUNK)).end());
        j.append(chunks, es.length);
        return es.length;
      }
      // written directly: after what the journal holds, so a clash with it shows here
      if (j?.pendingRows) await j.drained();
      try {
        if (opts.withConnection)
          await opts.withConnection(async (c) => {
            const copy = async () => {
              const rows = await c.copyIn(`session_orders (${ORDER_COLUMNS})`, orderCopyData(es));
              if (rows !== es.length) throw new Error(`the order log took ${rows} of ${es.length} rows`);
            };
            if (!halts.size) return copy();
            await c.query('begin');
            try {
              await copy();
              const q = haltUpdate([...halts.values()]).compile(db);
              await c.query(q.sql, q.parameters);
              await c.query('commit');
            } catch (e) {
              await c.query('rollback').catch(() => undefined); // a broken connection is dropped by withConnection
              throw e;
            }
          });
        else if (!halts.size) await jsonInsert(es).execute(db);
        else
          await db.transaction().execute(async (trx) => {
            await jsonInsert(es).execute(trx);
            await haltUpdate([...halts.values()]).execute(trx);
          });
      } catch (e) {
        // a signal executed before (a redelivery, or a tick another instance already acted on) or a fill
        // number already taken: some plan assumed a ledger that is not the stored one. Nothing was written;
        // the caller reloads the batch's sessions from the database and plans again.
        if (isUniqueViolation(e)) throw new StaleLedgerError([...new Set(es.map((x) => x.sessionId))]);
        throw e;
      }
      return es.length;
    },

    /** A session's fills in the order they were applied (its ledger's order), or newest first (`order: 'desc'`). */
    async trades(
      sessionId: string,
      opts: { limit?: number; offset?: number; order?: 'asc' | 'desc'; signalId?: string } = {},
    ): Promise<TradeRow[]> {
      await settled();
      let q = db.selectFrom('trades').selectAll().where('session_id', '=', sessionId);
      if (opts.signalId !== undefined) q = q.where('signal_id', '=', opts.signalId);
      const rows = await q
        .orderBy('fill_seq', opts.order ?? 'asc')
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
        source: r.source,
      }));
    },
    /**
     * The session's funding paid in all once each fill was applied, read from the ledger each filled order
     * carries (the binary ledger's funding field, from format 4; 0 in the formats before it), in the order
     * of `trades`: what rebuilds each round trip's funding from the fills (core's roundTrips).
     */
    async fundingAfterFills(sessionId: string, limit = 1000): Promise<number[]> {
      await settled();
      const rows = await sql<{ fmt: number | null; f: Uint8Array | null }>`select get_byte(ledger, 0) as fmt,
          substring(ledger from ${2 + 8 * FUNDING_FIELD} for 8) as f
        from session_orders where session_id = ${sessionId} and status = 'filled' order by fill_seq limit ${limit}`.execute(
        db,
      );
      return rows.rows.map((r) =>
        r.f && r.fmt !== null && r.fmt >= 4 && r.f.byteLength === 8
          ? new DataView(r.f.buffer, r.f.byteOffset, 8).getFloat64(0, true)
          : 0,
      );
    },
    /** sums straight from the stored trades, for reconciliation */
    async totals(sessionId: string): Promise<{ trades: number; realizedPnl: number; fees: number; qty: number }> {
      await settled();
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
    async orders(
      sessionId: string,
      opts: { limit?: number; status?: string; signalId?: string } = {},
    ): Promise<OrderRow[]> {
      await settled();
      let q = db.selectFrom('session_orders').selectAll().where('session_id', '=', sessionId);
      if (opts.signalId !== undefined) q = q.where('signal_id', '=', opts.signalId);
      if (opts.status) q = q.where('status', '=', opts.status as 'filled');
      const rows = await q
        .orderBy('ts', 'desc')
        .orderBy('signal_id', 'desc') // one batch's refusals share a time; signal ids carry their tick
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
    /** The session's position, from its ledger (none before its first fill). */
    /** The session's position, from its ledger as just read (`get`) and the time of its last fill. */
    async positions(session: Pick<SessionRow, 'id' | 'symbol' | 'state'>) {
      const l = session.state;
      if (!l.fills) return [];
      await settled();
      // the last fill's time: the one with the highest fill number, on (session_id, fill_seq)
      const r = await sql<{ updated_at: unknown }>`
      select o.ts as updated_at from session_orders o
      where o.session_id = ${session.id}::uuid and o.fill_seq is not null order by o.fill_seq desc limit 1`.execute(db);
      return [
        {
          symbol: session.symbol,
          quantity: l.qty ?? 0,
          avgPrice: l.avgPrice ?? 0,
          realizedPnl: l.realizedPnl ?? 0,
          updatedAt: iso(r.rows[0]?.updated_at)!,
        },
      ];
    },
    /**
     * Equity points, 5,000 to a statement. A point a session already has (same session and time: the
     * first flush after a restart, two instances during a handover) is skipped. With a raw connection the
     * points go in by binary COPY, about twice as fast as the JSON document; COPY cannot skip a duplicate,
     * so a chunk that meets one (a unique violation: nothing of it was written) goes again as the JSON
     * document, which does.
     */
    async insertEquity(points: readonly EquityPoint[]): Promise<void> {
      for (let i = 0; i < points.length; i += 5000) {
        const chunk = points.slice(i, i + 5000);
        if (opts.withConnection) {
          try {
            const rows = await opts.withConnection((c) =>
              c.copyIn(`chart_data (${EQUITY_COLUMNS})`, equityCopyData(chunk)),
            );
            if (rows !== chunk.length) throw new Error(`chart_data took ${rows} of ${chunk.length} points`);
            continue;
          } catch (e) {
            if (!isUniqueViolation(e)) throw e;
          }
        }
        const doc = JSON.stringify(
          chunk.map((p) => ({
            session_id: p.sessionId,
            ts: new Date(p.ts).toISOString(),
            equity: p.equity,
            cash: p.cash,
            position_value: p.positionValue,
            price: p.price,
          })),
        );
        await sql`insert into chart_data (${sql.raw(EQUITY_COLUMNS)})
          select * from json_to_recordset(${doc}::json) as x(session_id uuid, ts timestamptz, equity numeric,
            cash numeric, position_value numeric, price numeric)
          on conflict (session_id, ts) do nothing`.execute(db);
      }
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
  };
};

export type ForwardTestsRepo = ReturnType<typeof forwardTestsRepo>;
