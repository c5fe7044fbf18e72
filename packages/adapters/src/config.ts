import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SYMBOL_PATTERN } from '@algotrade/core';

/**
 * One typed configuration. Environment variables (optionally a JSON file named by CONFIG_FILE, whose
 * keys are the same variable names) are validated here, defaults resolved here, and the result frozen.
 * No variables at all means every adapter is embedded and state lives under DATA_DIR.
 */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `a URL starting with ${protocols.map((p) => p + '//').join(' or ')}`,
  );

export const SERVICE_NAMES = [
  'gateway',
  'market-data',
  'strategy',
  'forward-test',
  'backtest',
  'notification',
  'analytics',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export const SEED_PORTS: Record<ServiceName, number> = {
  gateway: 8000,
  'market-data': 8001,
  strategy: 8002,
  'forward-test': 8003,
  backtest: 8004,
  notification: 8005,
  analytics: 8006,
};

/** The variable holding a service's URL for the distributed gateway: `market-data` -> `MARKET_DATA_URL`. */
export const serviceUrlVar = (name: ServiceName): string => `${name.toUpperCase().replace('-', '_')}_URL`;

/** When PGlite is checkpointed unless configured (docs/operations.md; see db/checkpointer.ts). */
export const DEFAULT_CHECKPOINT_POLICY = { walMb: 256, seconds: 300 } as const;

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(0, 65535).optional(),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATA_DIR: z.string().min(1).default('./data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
    PGLITE_THREAD: z.enum(['main', 'worker']).default('main'),
    FT_ORDER_JOURNAL: z.enum(['on', 'off']).default('on'),
    PGLITE_CHECKPOINT_WAL_MB: int(1, 1_000_000).default(DEFAULT_CHECKPOINT_POLICY.walMb),
    PGLITE_CHECKPOINT_SECONDS: int(1, 86_400).default(DEFAULT_CHECKPOINT_POLICY.seconds),
    REDIS_URL: url(['redis:', 'rediss:']).optional(),
    KAFKA_BROKERS: z
      .string()
      .regex(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/, 'a comma-separated list of host:port')
      .optional(),
    KAFKA_CLIENT_ID: z.string().default('algotrade'),
    BUS_MEMORY_RETAIN: int(0, 1_000_000).default(100),
    S3_ENDPOINT: url(['http:', 'https:']).optional(),
    S3_BUCKET: z.string().min(3).default('algotrade'),
    S3_REGION: z.string().default('us-east-1'),
    S3_ACCESS_KEY_ID: z.string().default('local'),
    S3_SECRET_ACCESS_KEY: z.string().default('local'),
    JWT_SECRET: z.string().optional(),
    JWT_ACCESS_TTL_SECONDS: int(30, 86_400).default(900),
    REFRESH_TTL_DAYS: int(1, 365).default(30),
    CORS_ORIGINS: z.string().default('*'),
    RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(600),
    HTTP_FAST_LANE: bool.default(true),
    RATE_LIMIT_ANON_PER_MINUTE: int(1, 1_000_000).default(300),
    RATE_LIMIT_REPLICAS: int(1, 1000).default(4),
    BODY_LIMIT_BYTES: int(1024, 512 * 1024 * 1024).default(20 * 1024 * 1024),
    /** a user's open WebSocket connections on one instance beyond which a new one is closed (4429) */
    WS_MAX_CONNECTIONS_PER_USER: int(1, 1_000_000).default(32),
    /** longest a request may take to arrive, headers and body (a client trickling bytes is cut off); 0: no limit */
    HTTP_REQUEST_TIMEOUT_MS: int(0, 3_600_000).default(120_000),
    WINDOW_SIZE: int(1, 1_000_000).default(1000),
    WINDOW_SIZE_OVERRIDES: z
      .string()
      .regex(/^([A-Z0-9._:-]+=\d+)(,[A-Z0-9._:-]+=\d+)*$/i, 'a list like BTCUSD=5000,ETHUSD=2000')
      .optional(),
    WINDOW_TTL_SECONDS: int(1, 30 * 86_400).default(86_400),
    MARKET_FEED: z.enum(['simulator', 'replay', 'coinbase', 'finnhub', 'none']).default('simulator'),
    /** the symbols a feed streams from the start (default: SIM_SYMBOLS for the simulator, a venue's own for the others) */
    FEED_SYMBOLS: z
      .string()
      .regex(/^[A-Za-z0-9._:-]+(,[A-Za-z0-9._:-]+)*$/, 'a list like BTCUSD,ETHUSD')
      .optional(),
    COINBASE_WS_URL: z.url().optional(),
    COINBASE_CHANNELS: z.enum(['ticker', 'matches', 'ticker,matches']).default('ticker'),
    FINNHUB_TOKEN: z.string().min(1).optional(),
    FINNHUB_WS_URL: z.url().optional(),
    /** the venue Finnhub's crypto symbols come from (BTCUSDT is subscribed as BINANCE:BTCUSDT) */
    FINNHUB_CRYPTO_VENUE: z
      .string()
      .regex(/^[A-Z]+$/, 'a venue like BINANCE')
      .default('BINANCE'),
    REPLAY_FILE: z.string().min(1).optional(),
    REPLAY_SYMBOL: z.string().regex(SYMBOL_PATTERN, 'a symbol like GOOG or BTCUSD').optional(),
    REPLAY_SPEED: z.coerce.number().min(0).max(1e9).default(1),
    REPLAY_LOOP: bool.default(false),
    /** history downloads (CCXT): send every exchange REST call here instead (a proxy or gateway) */
    EXCHANGE_API_URL: z.url().optional(),
    FT_EQUITY_INTERVAL_MS: int(50, 3_600_000).default(5000),
    FT_RUNNER: z.enum(['inline', 'pool', 'external', 'kubernetes']).default('inline'),
    FT_RUNNER_THREADS: int(1, 256).optional(),
    FT_COMMIT_LANES: int(1, 16).optional(),
    FT_POOL_HOLD_MS: int(0, 1000).optional(),
    FT_HANDOVER_MS: int(1000, 600_000).default(10_000),
    FT_PORTFOLIO_CHECK_MS: int(50, 3_600_000).default(1000),
    K8S_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes namespace name')
      .default('algotrade'),
    K8S_RUNNER_IMAGE: z.string().min(1).default('algotrade:latest'),
    K8S_RUNNER_CPU: z
      .string()
      .regex(/^\d+(\.\d+)?m?$/, 'a CPU quantity like 250m or 1')
      .default('250m'),
    K8S_RUNNER_MEMORY: z
      .string()
      .regex(/^\d+(Ki|Mi|Gi)$/, 'a memory quantity like 256Mi or 1Gi')
      .default('256Mi'),
    PRICE_PUSH_INTERVAL_MS: int(0, 60_000).default(100),
    SWEEP_CHECK_MS: int(100, 3_600_000).default(30_000),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool.default(false),
    WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(5000),
    WEBHOOK_RETRY_DELAYS_MS: z
      .string()
      .regex(/^\d+(,\d+){0,9}$/, 'a list of up to ten delays in ms like 10000,60000,300000')
      .default('10000,60000,300000,1800000,7200000'),
    SIM_SYMBOLS: z.string().default('BTCUSD,ETHUSD,SOLUSD,AAPL,MSFT'),
    SIM_SEED: int(0, 2 ** 31).default(42),
    SIM_TICKS_PER_SECOND: int(0, 100_000).default(5),
    SHUTDOWN_TIMEOUT_MS: int(100, 120_000).default(4000),
    METRICS_ENABLED: bool.default(true),
    ...Object.fromEntries(
      SERVICE_NAMES.filter((s) => s !== 'gateway').map((s) => [serviceUrlVar(s), url(['http:', 'https:']).optional()]),
    ),
  })
  .strict();

export interface Config {
  env: 'development' | 'production' | 'test';
  port?: number;
  host: string;
  dataDir: string;
  logLevel: string;
  /** true when no real service is configured: everything in one process on embedded adapters */
  embedded: boolean;
  /** PGlite runs on the main thread (default) or in a worker thread of its own (`PGLITE_THREAD=worker`) */
  db:
    | {
        backend: 'pglite';
        dir: string;
        thread?: 'main' | 'worker';
        /** when PGlite is checkpointed (PGLITE_CHECKPOINT_WAL_MB, PGLITE_CHECKPOINT_SECONDS) */
        checkpoint?: { walMb: number; seconds: number };
        /** forward-test group commits go to the order journal first (FT_ORDER_JOURNAL, default on; db/order-journal.ts) */
        orderJournal?: boolean;
      }
    | { backend: 'postgres'; url: string };
  bus: { backend: 'memory'; retain: number } | { backend: 'kafka'; brokers: string[]; clientId: string };
  windows: {
    backend: 'memory' | 'redis';
    redisUrl?: string;
    size: number;
    overrides: Record<string, number>;
    ttlSeconds: number;
  };
  queue: { backend: 'memory' } | { backend: 'bullmq'; redisUrl: string };
  store:
    | { backend: 'fs'; dir: string }
    | { backend: 's3'; endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  redisUrl?: string;
  auth: { secret?: string; accessTtlSeconds: number; refreshTtlDays: number };
  http: {
    corsOrigins: string[] | '*';
    ratePerMinute: number;
    anonRatePerMinute: number;
    /** gateway replicas sharing the Redis limits (see sharedCountStore) */
    rateLimitReplicas: number;
    bodyLimit: number;
    /** ms for a whole request to arrive (0: no limit) */
    requestTimeoutMs: number;
    /** WebSocket connections per user and instance */
    wsConnectionsPerUser: number;
    /** plain `latest` reads answered before Fastify's hook chain (see FastLane) */
    fastLane: boolean;
  };
  feed: {
    kind: 'simulator' | 'replay' | 'coinbase' | 'finnhub' | 'none';
    symbols: string[];
    seed: number;
    ticksPerSecond: number;
    /** CSV replay: file of ticks (ts, price[, size, bid, ask]) or candles (ts, open, high, low, close, volume) */
    replay?: { file: string; symbol: string; speed: number; loop: boolean };
    /** Coinbase Exchange's WebSocket feed (its public one unless `url`) */
    coinbase?: { url?: string; channels: ('ticker' | 'matches')[] };
    /** Finnhub's WebSocket trades; crypto pairs are subscribed on `cryptoVenue` (BINANCE:BTCUSDT) */
    finnhub?: { token: string; url?: string; cryptoVenue: string };
    /** history downloads: every exchange REST call goes here (operator setting; users cannot choose it) */
    exchangeApiUrl?: string;
  };
  forwardTest: {
    equityIntervalMs: number;
    runner: 'inline' | 'pool' | 'external' | 'kubernetes';
    threads?: number;
    /** group commits at once (default 2 on PostgreSQL, 1 on PGlite) */
    commitLanes?: number;
    /** worker-thread pool: how long a group commit may wait for the pool's batches in flight (ms; default 15 on PostgreSQL, 0 on PGlite) */
    poolHoldMs?: number;
    /** with Kafka: a symbol silent this long, then back, moved here from another instance */
    handoverMs: number;
    /** how often paper portfolios' limits on their summed equity are checked (ms) */
    portfolioCheckMs: number;
    /** FT_RUNNER=kubernetes: where and how runner Jobs run */
    kubernetes: { namespace: string; image: string; cpu: string; memory: string };
  };
  /** least time between two live price pushes of one symbol (WebSocket prices:<symbol>) */
  pricePushIntervalMs: number;
  /** how often the backtest service looks for adaptive sweeps that stopped short of their count (ms) */
  sweepCheckMs: number;
  /** outgoing webhooks: private and loopback addresses allowed, one attempt's limit, the waits between attempts */
  webhooks: { allowPrivateNetworks: boolean; timeoutMs: number; retryDelaysMs: number[] };
  serviceUrls: Partial<Record<ServiceName, string>>;
  shutdownTimeoutMs: number;
  metricsEnabled: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KNOWN_PREFIXES = ['ALGOTRADE_'];

/** Reads the variables this schema knows (and rejects unknown ALGOTRADE_* ones, which are typos). */
function pickEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const keys = Object.keys(envSchema.shape);
  const out: Record<string, string> = {};
  for (const k of keys) if (env[k] !== undefined && env[k] !== '') out[k] = env[k]!;
  for (const k of Object.keys(env))
    if (KNOWN_PREFIXES.some((p) => k.startsWith(p)))
      throw new ConfigError(
        `${k} is not a configuration variable AlgoTrade knows; expected one of ${keys.join(', ')}.`,
      );
  return out;
}

const expectation = (m: string): string => {
  const s = m.replace(/^(Invalid input|Invalid option|Too big|Too small|Invalid string): /, '');
  return s.startsWith('expected') ? s : `expected ${s}`;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  let raw = pickEnv(env);
  if (env.CONFIG_FILE) {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(readFileSync(env.CONFIG_FILE, 'utf8'));
    } catch (e) {
      throw new ConfigError(`CONFIG_FILE could not be read as JSON (${(e as Error).message}).`);
    }
    raw = { ...Object.fromEntries(Object.entries(file).map(([k, v]) => [k, String(v)])), ...raw };
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'configuration');
    const msg =
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.join(', ')} is not a known configuration key`
        : `${name} is invalid: ${expectation(issue.message)} (got ${JSON.stringify(raw[name])})`;
    throw new ConfigError(`${msg}.`);
  }
  const e = parsed.data as z.infer<typeof envSchema> & Record<string, string | undefined>;
  if (e.MARKET_FEED === 'replay' && (!e.REPLAY_FILE || !e.REPLAY_SYMBOL))
    throw new ConfigError('MARKET_FEED=replay needs REPLAY_FILE (a CSV of ticks or candles) and REPLAY_SYMBOL.');
  if (e.MARKET_FEED === 'finnhub' && !e.FINNHUB_TOKEN)
    throw new ConfigError('MARKET_FEED=finnhub needs FINNHUB_TOKEN (an API key from finnhub.io).');
  const list = (v: string) =>
    v
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);
  const dataDir = path.resolve(e.DATA_DIR);
  const overrides: Record<string, number> = {};
  for (const pair of e.WINDOW_SIZE_OVERRIDES?.split(',') ?? []) {
    const [sym, n] = pair.split('=');
    overrides[sym!.toUpperCase()] = Number(n);
  }
  const serviceUrls: Partial<Record<ServiceName, string>> = {};
  for (const s of SERVICE_NAMES) {
    const v = e[serviceUrlVar(s)];
    if (v) serviceUrls[s] = v;
  }
  const cfg: Config = {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    dataDir,
    logLevel: e.LOG_LEVEL,
    embedded: !e.DATABASE_URL && !e.REDIS_URL && !e.KAFKA_BROKERS && !e.S3_ENDPOINT,
    db: e.DATABASE_URL
      ? { backend: 'postgres', url: e.DATABASE_URL }
      : {
          backend: 'pglite',
          dir: path.join(dataDir, 'pglite'),
          thread: e.PGLITE_THREAD,
          checkpoint: { walMb: e.PGLITE_CHECKPOINT_WAL_MB, seconds: e.PGLITE_CHECKPOINT_SECONDS },
          orderJournal: e.FT_ORDER_JOURNAL === 'on',
        },
    bus: e.KAFKA_BROKERS
      ? { backend: 'kafka', brokers: e.KAFKA_BROKERS.split(','), clientId: e.KAFKA_CLIENT_ID }
      : { backend: 'memory', retain: e.BUS_MEMORY_RETAIN },
    windows: {
      backend: e.REDIS_URL ? 'redis' : 'memory',
      redisUrl: e.REDIS_URL,
      size: e.WINDOW_SIZE,
      overrides,
      ttlSeconds: e.WINDOW_TTL_SECONDS,
    },
    queue: e.REDIS_URL ? { backend: 'bullmq', redisUrl: e.REDIS_URL } : { backend: 'memory' },
    store: e.S3_ENDPOINT
      ? {
          backend: 's3',
          endpoint: e.S3_ENDPOINT,
          bucket: e.S3_BUCKET,
          region: e.S3_REGION,
          accessKeyId: e.S3_ACCESS_KEY_ID,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY,
        }
      : { backend: 'fs', dir: path.join(dataDir, 'objects') },
    redisUrl: e.REDIS_URL,
    auth: { secret: e.JWT_SECRET, accessTtlSeconds: e.JWT_ACCESS_TTL_SECONDS, refreshTtlDays: e.REFRESH_TTL_DAYS },
    http: {
      corsOrigins: e.CORS_ORIGINS === '*' ? '*' : e.CORS_ORIGINS.split(',').map((s) => s.trim()),
      ratePerMinute: e.RATE_LIMIT_PER_MINUTE,
      anonRatePerMinute: e.RATE_LIMIT_ANON_PER_MINUTE,
      rateLimitReplicas: e.RATE_LIMIT_REPLICAS,
      bodyLimit: e.BODY_LIMIT_BYTES,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      wsConnectionsPerUser: e.WS_MAX_CONNECTIONS_PER_USER,
      fastLane: e.HTTP_FAST_LANE,
    },
    feed: {
      kind: e.MARKET_FEED,
      symbols:
        e.MARKET_FEED === 'replay' && e.REPLAY_SYMBOL
          ? [e.REPLAY_SYMBOL.toUpperCase()]
          : list(
              e.FEED_SYMBOLS ??
                (e.MARKET_FEED === 'coinbase'
                  ? 'BTCUSD,ETHUSD'
                  : e.MARKET_FEED === 'finnhub'
                    ? 'AAPL,MSFT'
                    : e.SIM_SYMBOLS),
            ),
      seed: e.SIM_SEED,
      ticksPerSecond: e.SIM_TICKS_PER_SECOND,
      ...(e.EXCHANGE_API_URL ? { exchangeApiUrl: e.EXCHANGE_API_URL } : {}),
      ...(e.MARKET_FEED === 'replay'
        ? {
            replay: {
              file: path.resolve(e.REPLAY_FILE!),
              symbol: e.REPLAY_SYMBOL!.toUpperCase(),
              speed: e.REPLAY_SPEED,
              loop: e.REPLAY_LOOP,
            },
          }
        : {}),
      ...(e.MARKET_FEED === 'coinbase'
        ? {
            coinbase: {
              ...(e.COINBASE_WS_URL ? { url: e.COINBASE_WS_URL } : {}),
              channels: e.COINBASE_CHANNELS.split(',') as ('ticker' | 'matches')[],
            },
          }
        : {}),
      ...(e.MARKET_FEED === 'finnhub'
        ? {
            finnhub: {
              token: e.FINNHUB_TOKEN!,
              ...(e.FINNHUB_WS_URL ? { url: e.FINNHUB_WS_URL } : {}),
              cryptoVenue: e.FINNHUB_CRYPTO_VENUE,
            },
          }
        : {}),
    },
    forwardTest: {
      equityIntervalMs: e.FT_EQUITY_INTERVAL_MS,
      runner: e.FT_RUNNER,
      handoverMs: e.FT_HANDOVER_MS,
      portfolioCheckMs: e.FT_PORTFOLIO_CHECK_MS,
      ...(e.FT_RUNNER_THREADS ? { threads: e.FT_RUNNER_THREADS } : {}),
      ...(e.FT_COMMIT_LANES ? { commitLanes: e.FT_COMMIT_LANES } : {}),
      ...(e.FT_POOL_HOLD_MS !== undefined ? { poolHoldMs: e.FT_POOL_HOLD_MS } : {}),
      kubernetes: {
        namespace: e.K8S_NAMESPACE,
        image: e.K8S_RUNNER_IMAGE,
        cpu: e.K8S_RUNNER_CPU,
        memory: e.K8S_RUNNER_MEMORY,
      },
    },
    pricePushIntervalMs: e.PRICE_PUSH_INTERVAL_MS,
    sweepCheckMs: e.SWEEP_CHECK_MS,
    webhooks: {
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryDelaysMs: e.WEBHOOK_RETRY_DELAYS_MS.split(',').map(Number),
    },
    serviceUrls,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    metricsEnabled: e.METRICS_ENABLED,
  };
  if (cfg.auth.secret !== undefined && cfg.auth.secret.length < 32)
    throw new ConfigError('JWT_SECRET is too weak: expected at least 32 characters.');
  return Object.freeze(cfg);
}
