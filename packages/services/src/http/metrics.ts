import type { CheckpointStats, FeedStats, OrderJournal } from '@algotrade/adapters';
import type { ConsumerLag } from '@algotrade/core';
import type { FastifyInstance } from 'fastify';
import client from 'prom-client';

/** One Prometheus registry per app: HTTP latency per route plus the business metrics services add. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const http = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // what the gauges below read when /metrics is scraped, set by whichever service owns the thing measured
  const sources: MetricSources = {};
  const m = {
    registry,
    http,
    sources,
    activeSessions: new client.Gauge({
      name: 'forward_test_active_sessions',
      help: 'running paper-trading sessions',
      registers: [registry],
    }),
    activeSymbols: new client.Gauge({
      name: 'forward_test_symbols_active',
      help: 'symbols whose ticks this forward-test instance received recently (the ones it runs), by symbol',
      labelNames: ['symbol'] as const,
      registers: [registry],
    }),
    compiles: new client.Counter({
      name: 'strategy_compiles_total',
      help: 'strategy compilations by outcome',
      labelNames: ['ok'] as const,
      registers: [registry],
    }),
    tradeLatency: new client.Histogram({
      name: 'trade_execution_latency_seconds',
      help: 'tick-to-fill latency',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    commitDuration: new client.Histogram({
      name: 'forward_test_commit_seconds',
      help: 'forward-test group commit of a batch of orders (one lane)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    commitOrders: new client.Histogram({
      name: 'forward_test_commit_orders',
      help: 'orders in one forward-test group commit',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    busLag: new client.Gauge({
      name: 'bus_consumer_lag',
      help: "messages published and not yet handled, per topic and consumer group (this process's subscriptions)",
      labelNames: ['topic', 'group'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const l of await read(sources.busLag)) this.set({ topic: l.topic, group: l.group }, l.lag);
      },
    }),
    windowSize: new client.Gauge({
      name: 'market_window_size',
      help: 'ticks held per symbol window',
      labelNames: ['symbol'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const w of await read(sources.windowSizes)) this.set({ symbol: w.symbol }, w.size);
      },
    }),
    ticksIngested: new client.Counter({
      name: 'market_ticks_ingested_total',
      help: 'ticks written to windows',
      registers: [registry],
    }),
    malformed: new client.Counter({
      name: 'market_messages_malformed_total',
      help: 'feed or bus messages rejected as malformed',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    candlesDropped: new client.Counter({
      name: 'market_candles_dropped_total',
      help: 'closed candles given up on: more were waiting for the database than the ingest keeps',
      registers: [registry],
    }),
    queueDepth: new client.Gauge({
      name: 'job_queue_depth',
      help: 'jobs waiting or running',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const q of await read(sources.queueDepth)) {
          this.set({ queue: q.queue, state: 'waiting' }, q.waiting);
          this.set({ queue: q.queue, state: 'active' }, q.active);
        }
      },
    }),
    backtests: new client.Counter({
      name: 'backtest_jobs_total',
      help: 'backtest jobs by outcome',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new client.Counter({
      name: 'webhook_delivery_attempts_total',
      help: 'outgoing webhook attempts by outcome (delivered, retry, failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    wsConnections: new client.Gauge({
      name: 'websocket_connections',
      help: 'open WebSocket connections',
      registers: [registry],
    }),
    wsPushRound: new client.Histogram({
      name: 'websocket_push_round_seconds',
      help: 'time to hand one push to every subscriber of its channel (the last one gets it this much after the first)',
      labelNames: ['kind'] as const,
      buckets: [0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    wsSlowDropped: new client.Counter({
      name: 'websocket_slow_clients_dropped_total',
      help: 'clients closed with 4008 because their send buffer overflowed',
      registers: [registry],
    }),
  };
  return m;
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Readings taken at scrape time; a service sets the ones it owns (nothing set: the gauge is empty). */
export interface MetricSources {
  busLag?: () => Promise<ConsumerLag[]>;
  windowSizes?: () => Promise<{ symbol: string; size: number }[]>;
  queueDepth?: () => Promise<{ queue: string; waiting: number; active: number }[]>;
}

/** a source's rows, or none when it is unset or fails (a scrape must not fail with Redis or Kafka away) */
async function read<T>(source: (() => Promise<T[]>) | undefined): Promise<T[]> {
  if (!source) return [];
  try {
    return await source();
  } catch {
    return [];
  }
}

export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.http.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/**
 * Gauges that read their value when /metrics is scraped, registered once per registry (a second call
 * for the same registry, whose first gauge is already there, does nothing).
 */
function readGauges(metrics: Metrics, gauges: [name: string, help: string, read: () => number][]): void {
  if (metrics.registry.getSingleMetric(gauges[0]![0])) return;
  for (const [name, help, read] of gauges)
    new client.Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read());
      },
    });
}

/**
 * The live feed's counts (simulator, replay, Coinbase, Finnhub; see FeedStats), read when /metrics is
 * scraped: messages turned into ticks, malformed messages skipped, reconnects, trade-id gaps seen and the
 * venue's error messages. Once per registry.
 */
export function installFeedMetrics(metrics: Metrics, provider: string, stats: FeedStats): void {
  readGauges(metrics, [
    [
      'market_feed_ticks_received',
      `ticks the ${provider} feed delivered since the process started`,
      () => stats.received,
    ],
    [
      'market_feed_malformed',
      `messages of the ${provider} feed that were not valid and were skipped`,
      () => stats.malformed,
    ],
    ['market_feed_reconnects', `times the ${provider} feed reconnected (each resubscribes)`, () => stats.reconnects],
    ['market_feed_gaps', `gaps in the ${provider} feed's trade ids (trades missed)`, () => stats.gaps],
    ['market_feed_errors', `error messages the ${provider} feed's venue sent`, () => stats.errors],
  ]);
}

/**
 * The embedded database's checkpoints (PGlite only: see Checkpointer), read from `stats` when /metrics
 * is scraped. Once per registry.
 */
export function installCheckpointMetrics(metrics: Metrics, stats: CheckpointStats): void {
  readGauges(metrics, [
    [
      'embedded_db_checkpoints',
      'checkpoints the platform issued to PGlite since the database opened',
      () => stats.count,
    ],
    [
      'embedded_db_checkpoint_last_seconds',
      'how long the last PGlite checkpoint held the database (statements wait meanwhile)',
      () => stats.lastMs / 1000,
    ],
    [
      'embedded_db_checkpoint_max_seconds',
      'the longest PGlite checkpoint since the database opened',
      () => stats.maxMs / 1000,
    ],
  ]);
}

/**
 * The forward-test order journal of the embedded database (see OrderJournal), read when /metrics is
 * scraped: rows written to it and not yet copied into the order log, records written, and chunks that
 * met rows already copied. Once per registry.
 */
export function installOrderJournalMetrics(metrics: Metrics, journal: OrderJournal): void {
  readGauges(metrics, [
    [
      'forward_test_journal_pending_rows',
      'orders in the order journal not yet copied into the order log (reads of the order log wait for them)',
      () => journal.pendingRows,
    ],
    [
      'forward_test_journal_records',
      'group commits written to the order journal since the database opened',
      () => journal.stats.records,
    ],
    [
      'forward_test_journal_conflicts',
      'journal chunks that met rows already in the order log and were copied skipping them',
      () => journal.stats.conflicts,
    ],
  ]);
}

/**
 * Requests the fast lane answered (the rest of `http_request_duration_seconds` went through Fastify's
 * hooks), read from the lane when /metrics is scraped. Once per registry.
 */
export function installFastLaneMetrics(metrics: Metrics, answered: () => number): void {
  if (metrics.registry.getSingleMetric('http_fast_lane_answers_total')) return;
  let reported = 0;
  new client.Counter({
    name: 'http_fast_lane_answers_total',
    help: "requests answered by the fast lane before Fastify's hook chain (plain GET latest reads)",
    registers: [metrics.registry],
    collect() {
      const now = answered();
      this.inc(now - reported);
      reported = now;
    },
  });
}
