/**
 * Ordered SQL migrations, applied at start inside one transaction each and recorded in
 * schema_migrations. Never edit a shipped migration: add the next one.
 *
 * Time-ordered tables (trades, chart_data, candles) carry their time column in the primary key so
 * they can be turned into range-partitioned tables on PostgreSQL (docs/database.md).
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  password_hash text not null,
  created_at timestamptz not null default now()
);
create unique index users_email_lower on users (lower(email));

create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  family_id uuid not null,
  token_hash text not null unique,
  expires_at timestamptz not null,
  revoked_at timestamptz,
  replaced_by uuid,
  created_at timestamptz not null default now()
);
create index refresh_tokens_user on refresh_tokens (user_id);
create index refresh_tokens_family on refresh_tokens (family_id);

create table symbols (
  symbol text primary key,
  provider text not null,
  asset_class text not null check (asset_class in ('crypto','stock','fx')),
  base text not null,
  quote text not null,
  active boolean not null default false,
  created_at timestamptz not null default now()
);

create table candles (
  symbol text not null references symbols(symbol) on delete cascade,
  interval text not null,
  ts timestamptz not null,
  open double precision not null,
  high double precision not null,
  low double precision not null,
  close double precision not null,
  volume double precision not null,
  primary key (symbol, interval, ts)
);

create table strategies (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  name text not null,
  description text not null default '',
  graph jsonb not null,
  graph_version integer not null default 1,
  graph_hash text not null,
  compilation_report jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index strategies_user on strategies (user_id, updated_at desc);

create table forward_test_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  strategy_id uuid references strategies(id) on delete set null,
  strategy_snapshot jsonb not null,
  symbol text not null,
  config jsonb not null,
  status text not null check (status in ('created','running','paused','stopped','failed')),
  failure_reason text,
  state jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  stopped_at timestamptz
);
create index forward_test_sessions_user on forward_test_sessions (user_id, created_at desc);
create index forward_test_sessions_running on forward_test_sessions (status) where status = 'running';

create table trades (
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  session_id uuid not null references forward_test_sessions(id) on delete cascade,
  signal_id text not null,
  symbol text not null,
  side text not null check (side in ('buy','sell')),
  quantity numeric(38,12) not null,
  price numeric(38,12) not null,
  fee numeric(38,8) not null,
  slippage numeric(38,8) not null default 0,
  realized_pnl numeric(38,8) not null default 0,
  ts timestamptz not null,
  primary key (id, ts),
  unique (session_id, signal_id, ts)
);
create index trades_session on trades (session_id, ts);
create index trades_user on trades (user_id, ts desc);

create table portfolio_positions (
  session_id uuid not null references forward_test_sessions(id) on delete cascade,
  user_id uuid not null references users(id) on delete cascade,
  symbol text not null,
  quantity numeric(38,12) not null,
  avg_price numeric(38,12) not null,
  realized_pnl numeric(38,8) not null default 0,
  updated_at timestamptz not null default now(),
  primary key (session_id, symbol)
);
create index portfolio_positions_user on portfolio_positions (user_id);

create table chart_data (
  session_id uuid not null references forward_test_sessions(id) on delete cascade,
  ts timestamptz not null,
  equity numeric(38,8) not null,
  cash numeric(38,8) not null,
  position_value numeric(38,8) not null,
  primary key (session_id, ts)
);

create table backtest_results (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  strategy_id uuid references strategies(id) on delete set null,
  strategy_snapshot jsonb not null,
  sweep_id uuid,
  symbol text not null,
  interval text not null,
  parameters jsonb not null,
  status text not null check (status in ('queued','running','done','failed','cancelled')),
  progress double precision not null default 0,
  metrics jsonb,
  error text,
  artifact_key text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index backtest_results_user on backtest_results (user_id, created_at desc);
create index backtest_results_sweep on backtest_results (sweep_id) where sweep_id is not null;

create table alerts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  kind text not null check (kind in ('price_above','price_below','session_drawdown','session_status')),
  symbol text,
  session_id uuid references forward_test_sessions(id) on delete cascade,
  params jsonb not null default '{}'::jsonb,
  status text not null default 'active' check (status in ('active','triggered')),
  message text,
  triggered_at timestamptz,
  created_at timestamptz not null default now()
);
create index alerts_user on alerts (user_id, created_at desc);
create index alerts_active_symbol on alerts (symbol) where status = 'active';
`,
  },
  {
    id: 2,
    name: 'forward-test orders (fills and refusals, the idempotency record) and prices on equity points',
    sql: `
create table session_orders (
  session_id uuid not null references forward_test_sessions(id) on delete cascade,
  signal_id text not null,
  user_id uuid not null references users(id) on delete cascade,
  action text not null check (action in ('buy','sell','close')),
  source text not null,
  status text not null check (status in ('filled','refused','noop')),
  reason text,
  quantity numeric(38,12),
  price numeric(38,12),
  latency_ms double precision,
  ts timestamptz not null,
  primary key (session_id, signal_id)
);
create index session_orders_session_ts on session_orders (session_id, ts);
alter table chart_data add column price numeric(38,12);
`,
  },
  {
    id: 3,
    name: 'order log: an order row carries its fill, its fill number and the ledger after it; trades become a view of it',
    sql: `
alter table session_orders
  add column symbol text,
  add column side text check (side in ('buy','sell')),
  add column fee numeric(38,8),
  add column slippage numeric(38,8),
  add column realized_pnl numeric(38,8),
  add column fill_seq integer,
  add column state jsonb,
  add column trade_id uuid not null default gen_random_uuid();
-- fills recorded before the order log (migration 1) get an order row
insert into session_orders (session_id, signal_id, user_id, action, source, status, quantity, price, ts)
  select t.session_id, t.signal_id, t.user_id, t.side, 'migrated', 'filled', t.quantity, t.price, t.ts
  from trades t
  where not exists (select 1 from session_orders o where o.session_id = t.session_id and o.signal_id = t.signal_id);
update session_orders o set symbol = t.symbol, side = t.side, fee = t.fee, slippage = t.slippage,
    realized_pnl = t.realized_pnl, trade_id = t.id, quantity = t.quantity, price = t.price, ts = t.ts
  from trades t where t.session_id = o.session_id and t.signal_id = o.signal_id;
update session_orders o set fill_seq = n.k
  from (select session_id, signal_id, row_number() over (partition by session_id order by ts, signal_id) as k
        from session_orders where status = 'filled') n
  where n.session_id = o.session_id and n.signal_id = o.signal_id;
-- one writer per fill number: two instances planning from the same ledger cannot both commit
create unique index session_orders_fill_seq on session_orders (session_id, fill_seq);
-- the session already belongs to the user (and cascades); one foreign-key check per row less
alter table session_orders drop constraint if exists session_orders_user_id_fkey;
drop table trades;
drop table portfolio_positions;
create view trades as
  select trade_id as id, user_id, session_id, signal_id, symbol, side, quantity, price, fee, slippage, realized_pnl, ts
  from session_orders where status = 'filled';
`,
  },
  {
    id: 4,
    name: 'no per-row foreign-key checks on the two hot forward-test tables; a trigger deletes their rows with the session',
    sql: `
-- Every order and equity point used to run a foreign-key check against its session: a lookup and a
-- row lock (FOR KEY SHARE) on forward_test_sessions per inserted row, which also made the group commits
-- meet the ledger saves that update those very rows. The rows are written only by the execution engine
-- for sessions it has loaded; deleting a session still deletes them, in the same transaction.
alter table session_orders drop constraint if exists session_orders_session_id_fkey;
alter table chart_data drop constraint if exists chart_data_session_id_fkey;
create function forward_test_session_rows_delete() returns trigger language plpgsql as $$
begin
  delete from session_orders where session_id = old.id;
  delete from chart_data where session_id = old.id;
  return old;
end $$;
create trigger forward_test_session_rows_delete after delete on forward_test_sessions
  for each row execute function forward_test_session_rows_delete();
`,
  },
  {
    id: 5,
    name: 'session rows leave half of each page free, so saving a ledger is a heap-only update',
    sql: `
-- The engine saves ledgers (state) of thousands of sessions at a time. On full pages every save wrote
-- a new row version elsewhere and three index entries for it, and the table bloated by a copy of
-- itself every few saves. With room on the page the new version stays there, no index changes
-- (a HOT update), and the old one is pruned when the page fills: 1,000 saves took 18-20 ms instead
-- of 28-29 ms, and 60,000 of them left the table at 39 MB instead of 109 MB. Pages written from now on
-- keep the room; VACUUM FULL forward_test_sessions applies it to the old ones.
alter table forward_test_sessions set (fillfactor = 50);
`,
  },
  {
    id: 6,
    name: 'a filled order carries its ledger in binary (ledger bytea) instead of a jsonb array',
    sql: `
-- Every fill writes an order row with the session's ledger after it, for crash recovery. As a jsonb
-- array of 22 numbers it took about 390 of a row's 620 bytes, jsonb keeping each number as a decimal,
-- and parsing it was the largest part of the server's work per row. As 21+ float64 (encodeLedger) it
-- takes 172 bytes: inserting 500 orders took 7.8 ms instead of 11.0 ms and wrote 843 bytes of WAL per
-- row instead of 1,069. Orders logged before keep their jsonb state, which reads still take.
alter table session_orders add column ledger bytea;
`,
  },
  {
    id: 7,
    name: 'order log: two per-row costs less (trade ids computed by the trades view; no index on (session_id, ts))',
    sql: `
-- Every group commit inserts one order row per execution, and on a 2-core machine the server's part was
-- 20-40 us a row, most of it index entries and defaults: with 5,000-row binary COPYs, the (session_id,
-- ts) index cost 4-5 us a row and drawing a random trade_id 3-4 us. Reads no longer need either:
-- - a trade's id is computed from what identifies its order (session and signal); rows stored before
--   keep the id they have (those of the trades table before migration 3 included);
-- - trades list in fill order, on (session_id, fill_seq); a position's time is its last fill's, read on
--   the same index; the orders listing takes the session's rows by the primary key and sorts them.
alter table session_orders alter column trade_id drop default, alter column trade_id drop not null;
create or replace view trades as
  select coalesce(trade_id, md5(session_id::text || '/' || signal_id)::uuid) as id, user_id, session_id, signal_id,
    symbol, side, quantity, price, fee, slippage, realized_pnl, ts, fill_seq
  from session_orders where status = 'filled';
drop index session_orders_session_ts;
`,
  },
  {
    id: 8,
    name: "periodic ledger saves go to binary columns (marks, marks_fills) instead of the session's jsonb state",
    sql: `
-- The engine saves the ledgers of a tenth of its sessions at a time, for their marks (peak, drawdown,
-- exposure, last price). Written to the jsonb state, each save made the server parse every ledger's
-- JSON: 1,000 ledgers took 50-90 ms on PGlite under load, the longest statement the engine issued. They
-- now go to marks, in the order log's binary form (encodeLedger), with their fill count beside them.
-- A lifecycle change still writes state, and clears marks; a read takes marks when it is set.
alter table forward_test_sessions add column marks bytea, add column marks_fills int;
`,
  },
  {
    id: 9,
    name: 'outgoing webhooks and their deliveries',
    sql: `
create table webhooks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  url text not null,
  events text[] not null,
  format text not null default 'json' check (format in ('json','slack','discord')),
  secret text not null,
  description text,
  active boolean not null default true,
  created_at timestamptz not null default now()
);
create index webhooks_user on webhooks (user_id, created_at desc);
-- one row per event and webhook (unique: a bus message delivered twice makes one delivery), kept as a
-- log; a pending row is due at next_attempt_at, and a sender claims it by moving that forward
create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  webhook_id uuid not null references webhooks(id) on delete cascade,
  event_id text not null,
  event text not null,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending','delivered','failed')),
  attempts int not null default 0,
  response_status int,
  error text,
  next_attempt_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (webhook_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_log on webhook_deliveries (webhook_id, created_at desc);
`,
  },
  {
    id: 10,
    name: 'Telegram webhooks: a chat id',
    sql: `
alter table webhooks add column chat_id text;
alter table webhooks drop constraint webhooks_format_check;
alter table webhooks add constraint webhooks_format_check check (format in ('json','slack','discord','telegram'));
`,
  },
  {
    id: 11,
    name: 'API tokens: long-lived bearer tokens for scripts, full or read-only',
    sql: `
create table api_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  name text not null,
  token_hash text not null unique,
  prefix text not null,
  read_only boolean not null default false,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index api_tokens_user on api_tokens (user_id, created_at desc);
`,
  },
  {
    id: 12,
    name: 'strategy versions: every saved change of behaviour kept, numbered per strategy',
    sql: `
alter table strategies add column version integer not null default 1;
create table strategy_versions (
  strategy_id uuid not null references strategies(id) on delete cascade,
  version integer not null,
  name text not null,
  graph jsonb not null,
  graph_hash text not null,
  created_at timestamptz not null default now(),
  primary key (strategy_id, version)
);
insert into strategy_versions (strategy_id, version, name, graph, graph_hash, created_at)
  select id, 1, name, graph, graph_hash, updated_at from strategies;
`,
  },
  {
    id: 13,
    name: "strategy alerts: a strategy's signal on a symbol, without trading",
    sql: `
alter table alerts drop constraint alerts_kind_check;
alter table alerts add constraint alerts_kind_check
  check (kind in ('price_above','price_below','session_drawdown','session_status','strategy_signal'));
`,
  },
  {
    id: 14,
    name: 'repeating alerts: how often an alert fired, and the time of the event that last fired it',
    sql: `
alter table alerts add column trigger_count integer not null default 0;
alter table alerts add column event_at timestamptz;
update alerts set trigger_count = 1 where status = 'triggered';
`,
  },
  {
    id: 15,
    name: "trades show what each order came from (an action node or a rule): a closed trade's exit reason",
    sql: `
create or replace view trades as
  select coalesce(trade_id, md5(session_id::text || '/' || signal_id)::uuid) as id, user_id, session_id, signal_id,
    symbol, side, quantity, price, fee, slippage, realized_pnl, ts, fill_seq, source
  from session_orders where status = 'filled';
`,
  },
  {
    id: 16,
    name: "a paper session's resting limit or stop order, kept across restarts",
    sql: `alter table forward_test_sessions add column resting jsonb;`,
  },
  {
    id: 17,
    name: "an adaptive sweep's backtests numbered in the order proposed, each number taken once",
    sql: `
alter table backtest_results add column sweep_seq integer;
create unique index backtest_results_sweep_seq on backtest_results (sweep_id, sweep_seq);
`,
  },
  {
    id: 18,
    name: "the adaptive sweeps' backtests indexed apart: the stalled-sweep check reads them alone",
    sql: `
create index backtest_results_tpe_sweep on backtest_results (sweep_id, finished_at)
  where parameters -> 'sample' ->> 'method' = 'tpe';
`,
  },
  {
    id: 19,
    name: "a paper session's timeline: each change of its status, when (market time and wall clock) and why",
    sql: `
create table session_events (
  id bigint generated always as identity primary key,
  session_id uuid not null references forward_test_sessions(id) on delete cascade,
  user_id uuid not null,
  status text not null,
  was text,
  reason text,
  market_ts timestamptz,
  at timestamptz not null default now()
);
create index session_events_session on session_events (session_id, id);
-- the sessions from before: their creation, their first start, and where they stand now
insert into session_events (session_id, user_id, status, at)
  select id, user_id, 'created', created_at from forward_test_sessions order by created_at;
insert into session_events (session_id, user_id, status, was, at)
  select id, user_id, 'running', 'created', started_at from forward_test_sessions
  where started_at is not null order by started_at;
insert into session_events (session_id, user_id, status, was, reason, at)
  select id, user_id, status, case when started_at is null then 'created' else 'running' end, failure_reason,
    coalesce(stopped_at, updated_at)
  from forward_test_sessions where status in ('paused', 'stopped', 'failed') order by updated_at;
`,
  },
  {
    id: 20,
    name: "a paper session's limit and stop orders placed by hand, resting until they fill, lapse or are cancelled",
    sql: `alter table forward_test_sessions add column open_orders jsonb;`,
  },
  {
    id: 21,
    name: "a user's sweeps listed from an index of their backtests (each sweep's first creation time)",
    sql: `create index backtest_results_user_sweeps on backtest_results (user_id, sweep_id, created_at)
  where sweep_id is not null;`,
  },
  {
    id: 22,
    name: 'a backtest named and noted by its user (a sweep names each of its backtests)',
    sql: `alter table backtest_results add column name text, add column note text;`,
  },
];
