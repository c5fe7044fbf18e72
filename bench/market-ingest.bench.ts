import { createLogger, type Runtime } from '@algotrade/adapters';
import { MemoryWindowStore } from '@algotrade/adapters/window-memory/memory-window';
import { MemoryBus } from '@algotrade/adapters/bus-memory/memory-bus';
import type { EventBus, WindowStore } from '@algotrade/core';
import { createMetrics, type ServiceContext } from '@algotrade/services';
import { MarketIngest } from '@algotrade/services/market-data/ingest';
import { kafkaFeedProcess, publishFeed, type FeedPlan } from './feed-publisher.ts';
import { median, percentile, report } from './harness.ts';

// Ticks through the real ingest path: publish on market-data-updates (batches of 100 ticks per
// symbol) -> MarketIngest (validation, candles, last price) -> window store. Throughput, and the
// end-to-end latency from publish to the window write, per message. Kafka -> Redis runs as fast as
// possible (throughput; its latency is a backlog's) and paced at a fixed offered rate, its feed in a
// process of its own (bench/feed-publisher.ts).
async function run(
  label: string,
  bus: EventBus,
  windows: WindowStore,
  feed: (plan: FeedPlan) => Promise<void>,
  total: number,
  /**
   * rate: ticks a second offered (as fast as possible without); suffix: added to the metric names;
   * repeats: measured runs (the throughput reported is their median, each run's in `runs`, and the
   * latencies are pooled)
   */
  o: { rate?: number; suffix?: string; unreported?: boolean; repeats?: number } = {},
) {
  const { rate } = o;
  const rt = { bus, windows, log: createLogger({ logLevel: 'silent' }) } as unknown as Runtime;
  const ctx = {
    rt,
    metrics: createMetrics(),
    services: [],
    onClose: () => {},
    shared: {},
  } as unknown as ServiceContext;
  const lat: number[] = [];
  // publish -> the handler called (the bus's part of the end-to-end latency)
  const delivered: number[] = [];
  const perSecond: number[] = [];
  for (let r = 0; r < (o.repeats ?? 1); r++) {
    const ingest = new MarketIngest(ctx);
    const group = `bench-${Date.now()}-${r}`;
    const sub = await bus.subscribe('market-data-updates', { group }, async (m) => {
      const { sentAt } = m.data as { sentAt: number };
      delivered.push(Date.now() - sentAt);
      await ingest.handle(m.data);
      lat.push(Date.now() - sentAt);
    });
    await new Promise((r) => setTimeout(r, bus.kind === 'kafka' ? 3000 : 10)); // let the consumer join
    const t0 = performance.now();
    await feed({ total, batch: 100, ts: Date.now(), ...(rate ? { rate } : {}) });
    while (ingest.ingested < total) await new Promise((r) => setTimeout(r, 5));
    perSecond.push(total / ((performance.now() - t0) / 1000));
    await sub.close();
  }
  if (o.unreported) return;
  const name = (rate ? `${label}_at_${rate}_per_s` : label) + (o.suffix ?? '');
  report({
    bench: 'market-ingest',
    metric: `${name}_ticks_per_s`,
    value: median(perSecond),
    unit: 'ticks/s',
    ticks: total,
    ...(perSecond.length > 1 ? { runs: perSecond.map(Math.round) } : {}),
    ...(rate ? { offered: rate } : {}),
  });
  report({ bench: 'market-ingest', metric: `${name}_e2e_p50_ms`, value: percentile(lat, 50), unit: 'ms' });
  report({
    bench: 'market-ingest',
    metric: `${name}_e2e_p99_ms`,
    value: percentile(lat, 99),
    unit: 'ms',
    deliveredP50: percentile(delivered, 50),
    deliveredP99: percentile(delivered, 99),
  });
}

// steady state: 200,000 ticks first (not reported) so the JIT has compiled the path, as in a service
// that has been running; then the measured million, three times (the first of them still runs partly
// on code the JIT has not finished with: 1.9-2.5 M ticks/s on 2026-12-02, later ones 4-8 M)
const mem = new MemoryBus(0);
const ring = new MemoryWindowStore({ size: 1000, ttlSeconds: 86_400 });
const memFeed = (plan: FeedPlan) => publishFeed(mem, plan);
await run('embedded_memory_bus_to_ring_buffer', mem, ring, memFeed, 200_000, { unreported: true });
await run('embedded_memory_bus_to_ring_buffer', mem, ring, memFeed, 1_000_000, { repeats: 3 });
await mem.close();

const brokers = process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
// the Kafka client's sockets do not hold the event loop open on their own
const keepAlive = setInterval(() => {}, 1000);
try {
  const { KafkaBus } = await import('@algotrade/adapters/bus-kafka/kafka-bus');
  const { RedisWindowStore } = await import('@algotrade/adapters/window-redis/redis-window');
  const bus = new KafkaBus({ brokers: brokers.split(','), clientId: `bench-${Date.now()}`, concurrency: 256 });
  await bus.setupTopics();
  const w = new RedisWindowStore({ url: redisUrl, size: 1000, ttlSeconds: 3600, prefix: 'bench-market' });
  // the feed publishes from a process of its own (BENCH_KAFKA_FEED=inline: from this one, as before
  // 2026-12-02), so this process is the ingesting instance alone
  const child = process.env.BENCH_KAFKA_FEED === 'inline' ? undefined : await kafkaFeedProcess(brokers);
  const feed = child ? (plan: FeedPlan) => child.run(plan) : (plan: FeedPlan) => publishFeed(bus, plan);
  try {
    // as fast as the feed can (a backlog: throughput), then paced at BENCH_KAFKA_RATE (latency): first
    // BENCH_KAFKA_WARMUP_SECONDS (default 10) reported apart as `_warmup`, then the measured stretch. A
    // broker started just before compiles its hot paths over its first minute of load (its CPU for the
    // same 10 s at 100,000 ticks/s fell from 13.4 to 4.6 s over four runs in a row).
    await run('kafka_to_redis_streams', bus, w, feed, Number(process.env.BENCH_KAFKA_TICKS ?? 300_000));
    const rate = Number(process.env.BENCH_KAFKA_RATE ?? 100_000);
    const warm = Number(process.env.BENCH_KAFKA_WARMUP_SECONDS ?? 10);
    if (warm > 0) await run('kafka_to_redis_streams', bus, w, feed, rate * warm, { rate, suffix: '_warmup' });
    await run('kafka_to_redis_streams', bus, w, feed, rate * Number(process.env.BENCH_KAFKA_SECONDS ?? 10), { rate });
  } finally {
    await child?.stop();
  }
  await bus.close();
  await w.close();
} catch (e) {
  console.error(`kafka -> redis run skipped (npm run services -- up first): ${(e as Error).message}`);
} finally {
  clearInterval(keepAlive);
}
