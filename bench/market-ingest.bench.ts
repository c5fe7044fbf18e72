import { createLogger, type Runtime } from '@algotrade/adapters';
import { MemoryWindowStore } from '@algotrade/adapters/window-memory/memory-window';
import { MemoryBus } from '@algotrade/adapters/bus-memory/memory-bus';
import type { EventBus, WindowStore } from '@algotrade/core';
import { createMetrics, type ServiceContext } from '@algotrade/services';
import { MarketIngest } from '@algotrade/services/market-data/ingest';
import { percentile, report } from './harness.ts';

// Ticks through the real ingest path: publish on market-data-updates (batches of 100 ticks per
// symbol) -> MarketIngest (validation, candles, last price) -> window store. Throughput, and the
// end-to-end latency from publish to the window write, per message. Kafka -> Redis runs twice: as
// fast as possible (throughput; its latency is a backlog's) and paced at a fixed offered rate.
async function run(
  label: string,
  bus: EventBus,
  windows: WindowStore,
  total: number,
  rate?: number,
  batch = 100,
  reported = true,
) {
  const rt = { bus, windows, log: createLogger({ logLevel: 'silent' }) } as unknown as Runtime;
  const ctx = {
    rt,
    metrics: createMetrics(),
    services: [],
    onClose: () => {},
    shared: {},
  } as unknown as ServiceContext;
  const ingest = new MarketIngest(ctx);
  const lat: number[] = [];
  const group = `bench-${Date.now()}`;
  const sub = await bus.subscribe('market-data-updates', { group }, async (m) => {
    await ingest.handle(m.data);
    lat.push(Date.now() - (m.data as { sentAt: number }).sentAt);
  });
  await new Promise((r) => setTimeout(r, bus.kind === 'kafka' ? 3000 : 10)); // let the consumer join
  const symbols = Array.from({ length: 10 }, (_, i) => `BENCH${i}`);
  const msgs = total / batch;
  const t0 = performance.now();
  let ts = Date.now();
  // a feed publishes what it received in one go: 20 messages (2,000 ticks) per produce request
  const perSend = 20;
  const pubs: Promise<unknown>[] = [];
  for (let k = 0; k < msgs; k += perSend) {
    const out = [];
    for (let m = k; m < Math.min(msgs, k + perSend); m++) {
      const symbol = symbols[m % symbols.length]!;
      const ticks = Array.from({ length: batch }, (_, j) => ({
        ts: ts++,
        price: 100 + (j % 7),
        size: 1,
        bid: 99.5,
        ask: 100.5,
        seq: m * batch + j,
      }));
      out.push({ key: symbol, type: 'ticks', data: { symbol, ticks, sentAt: Date.now() } });
    }
    pubs.push(bus.publishMany!('market-data-updates', out));
    if (rate) {
      // paced: the next 2,000 ticks are due when the rate says so (a live feed, not a backlog)
      const due = t0 + ((k + perSend) * batch * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (pubs.length >= 8) await Promise.all(pubs.splice(0));
    } else if (pubs.length >= 8) await Promise.all(pubs.splice(0));
  }
  await Promise.all(pubs);
  while (ingest.ingested < total) await new Promise((r) => setTimeout(r, 5));
  const secs = (performance.now() - t0) / 1000;
  await sub.close();
  if (!reported) return;
  const name = rate ? `${label}_at_${rate}_per_s` : label;
  report({
    bench: 'market-ingest',
    metric: `${name}_ticks_per_s`,
    value: total / secs,
    unit: 'ticks/s',
    ticks: total,
    ...(rate ? { offered: rate } : {}),
  });
  report({ bench: 'market-ingest', metric: `${name}_e2e_p50_ms`, value: percentile(lat, 50), unit: 'ms' });
  report({ bench: 'market-ingest', metric: `${name}_e2e_p99_ms`, value: percentile(lat, 99), unit: 'ms' });
}

// steady state: 200,000 ticks first (not reported) so the JIT has compiled the path, as in a service
// that has been running; then the measured million
const mem = new MemoryBus(0);
const ring = new MemoryWindowStore({ size: 1000, ttlSeconds: 86_400 });
await run('embedded_memory_bus_to_ring_buffer', mem, ring, 200_000, undefined, 100, false);
await run('embedded_memory_bus_to_ring_buffer', mem, ring, 1_000_000);
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
  // as fast as the publisher can (a backlog: throughput), then paced at BENCH_KAFKA_RATE (latency)
  await run('kafka_to_redis_streams', bus, w, Number(process.env.BENCH_KAFKA_TICKS ?? 300_000));
  const rate = Number(process.env.BENCH_KAFKA_RATE ?? 100_000);
  await run('kafka_to_redis_streams', bus, w, rate * Number(process.env.BENCH_KAFKA_SECONDS ?? 10), rate);
  await bus.close();
  await w.close();
} catch (e) {
  console.error(`kafka -> redis run skipped (npm run services -- up first): ${(e as Error).message}`);
} finally {
  clearInterval(keepAlive);
}
