import type { ColumnType, Generated, JSONColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** numeric columns travel as strings so no precision is lost on the way in or out */
type Numeric = ColumnType<string, string | number, string | number>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  created_at: Generated<Date>;
}
export interface RefreshTokensTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: string;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  replaced_by: string | null;
  created_at: Generated<Date>;
}
export interface SymbolsTable {
  symbol: string;
  provider: string;
  asset_class: 'crypto' | 'stock' | 'fx';
  base: string;
  quote: string;
  active: boolean;
  created_at: Generated<Date>;
}
export interface CandlesTable {
  symbol: string;
  interval: string;
  ts: Timestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}
export interface StrategiesTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  description: Generated<string>;
  graph: JSONColumnType<object, string, string>;
  graph_version: Generated<number>;
  graph_hash: string;
  compilation_report: JSONColumnType<object, string | null, string | null> | null;
  /** the number of the latest strategy_versions row */
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export interface StrategyVersionsTable {
  strategy_id: string;
  version: number;
  name: string;
  graph: JSONColumnType<object, string, string>;
  graph_hash: string;
  created_at: Generated<Date>;
}
export interface ForwardTestSessionsTable {
  id: Generated<string>;
  user_id: string;
  strategy_id: string | null;
  strategy_snapshot: JSONColumnType<object, string, string>;
  symbol: string;
  config: JSONColumnType<object, string, string>;
  status: 'created' | 'running' | 'paused' | 'stopped' | 'failed';
  failure_reason: string | null;
  state: ColumnType<object, string | undefined, string>;
  /** the ledger as the last periodic save left it (encodeLedger), newer than `state` when set (migration 8) */
  marks: Uint8Array | null;
  /** the fill count of `marks` */
  marks_fills: number | null;
  /** the limit or stop order resting on the session's ticks, as its engine last saved it (migration 16) */
  resting: JSONColumnType<object, string | null, string | null> | null;
  /** limit and stop orders placed by hand, resting on its ticks (migration 20; null: none) */
  open_orders: JSONColumnType<object, string | null, string | null> | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  started_at: Timestamp | null;
  stopped_at: Timestamp | null;
}
/** each change of a paper session's status (migration 19) */
export interface SessionEventsTable {
  id: Generated<string>;
  session_id: string;
  user_id: string;
  status: string;
  /** the status before it (none for its creation) */
  was: string | null;
  reason: string | null;
  /** the market time it happened at: the tick or fill that caused it, or the symbol's latest tick */
  market_ts: Timestamp | null;
  /** the wall clock */
  at: Generated<Date>;
}
/** a view of the filled rows of session_orders (migration 3): read only */
export interface TradesTable {
  id: string;
  user_id: string;
  session_id: string;
  signal_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  quantity: Numeric;
  price: Numeric;
  fee: Numeric;
  slippage: Numeric;
  realized_pnl: Numeric;
  ts: Timestamp;
  /** the fill's number in its session (migration 7 adds it to the view): trades list in this order */
  fill_seq: number;
  /** what the order came from: an action node's id or a rule such as stop_loss (migration 15) */
  source: string;
}
export interface ChartDataTable {
  session_id: string;
  ts: Timestamp;
  equity: Numeric;
  cash: Numeric;
  position_value: Numeric;
  price: Numeric | null;
}
export interface SessionOrdersTable {
  session_id: string;
  signal_id: string;
  user_id: string;
  action: 'buy' | 'sell' | 'close';
  source: string;
  status: 'filled' | 'refused' | 'noop';
  reason: string | null;
  quantity: Numeric | null;
  price: Numeric | null;
  latency_ms: number | null;
  ts: Timestamp;
  symbol: string | null;
  side: 'buy' | 'sell' | null;
  fee: Numeric | null;
  slippage: Numeric | null;
  realized_pnl: Numeric | null;
  /** the session's fill number (1, 2, ...) for a filled order; unique per session */
  fill_seq: number | null;
  /** the session's ledger right after this fill, as orders logged before migration 6 carry it (jsonb array) */
  state: ColumnType<object, string, string> | null;
  /** the session's ledger right after this fill (binary, see encodeLedger), from migration 6 */
  ledger: Uint8Array | null;
  /** stored for orders logged before migration 7; the trades view computes the others' ids */
  trade_id: string | null;
}
export interface BacktestResultsTable {
  id: Generated<string>;
  user_id: string;
  strategy_id: string | null;
  strategy_snapshot: JSONColumnType<object, string, string>;
  sweep_id: string | null;
  /** an adaptive sweep's backtests: their number in the order proposed (unique within the sweep) */
  sweep_seq: number | null;
  /** what its user calls it and notes of it (migration 22) */
  name: string | null;
  note: string | null;
  symbol: string;
  interval: string;
  parameters: JSONColumnType<object, string, string>;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  progress: Generated<number>;
  metrics: JSONColumnType<object, string | null, string | null> | null;
  error: string | null;
  artifact_key: string | null;
  created_at: Generated<Date>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}
export interface AlertsTable {
  id: Generated<string>;
  user_id: string;
  kind: 'price_above' | 'price_below' | 'session_drawdown' | 'session_status' | 'strategy_signal';
  symbol: string | null;
  session_id: string | null;
  params: ColumnType<object, string | undefined, string>;
  status: Generated<'active' | 'triggered'>;
  message: string | null;
  triggered_at: Timestamp | null;
  /** how many times it fired (a repeating alert fires again; see migration 14) */
  trigger_count: Generated<number>;
  /** the time of the event (a tick's) that last fired it: a repeating alert's cooldown counts from it */
  event_at: Timestamp | null;
  created_at: Generated<Date>;
}
export interface WebhooksTable {
  id: Generated<string>;
  user_id: string;
  url: string;
  events: string[];
  format: Generated<'json' | 'slack' | 'discord' | 'telegram'>;
  /** Telegram: the chat the bot posts to */
  chat_id: string | null;
  secret: string;
  description: string | null;
  active: Generated<boolean>;
  created_at: Generated<Date>;
}
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhook_id: string;
  event_id: string;
  event: string;
  payload: ColumnType<object, string, string>;
  status: Generated<'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  response_status: number | null;
  error: string | null;
  next_attempt_at: Generated<Date>;
  created_at: Generated<Date>;
  finished_at: Timestamp | null;
}
export interface ApiTokensTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  read_only: Generated<boolean>;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: Generated<Date>;
}
export interface SchemaMigrationsTable {
  id: number;
  name: string;
  applied_at: Generated<Date>;
}

export interface Database {
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  symbols: SymbolsTable;
  candles: CandlesTable;
  strategies: StrategiesTable;
  strategy_versions: StrategyVersionsTable;
  forward_test_sessions: ForwardTestSessionsTable;
  session_events: SessionEventsTable;
  trades: TradesTable;
  chart_data: ChartDataTable;
  session_orders: SessionOrdersTable;
  backtest_results: BacktestResultsTable;
  alerts: AlertsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  api_tokens: ApiTokensTable;
  schema_migrations: SchemaMigrationsTable;
}
