import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EventBus } from '@algotrade/core';

/**
 * The ingest benchmark's feed: batches of `batch` ticks over ten symbols on market-data-updates, 20
 * messages (2,000 ticks) per publish as a feed hands over what it received in one go, each message
 * stamped with the time it was built (`sentAt`). As fast as the bus takes them, or paced at `rate`
 * ticks a second (a live feed, not a backlog).
 */
export interface FeedPlan {
  total: number;
  rate?: number;
  batch: number;
  /** first tick time; each tick is 1 ms after the one before */
  ts: number;
}

export async function publishFeed(bus: EventBus, plan: FeedPlan): Promise<void> {
  const symbols = Array.from({ length: 10 }, (_, i) => `BENCH${i}`);
  const { total, rate, batch } = plan;
  const msgs = total / batch;
  const t0 = performance.now();
  let ts = plan.ts;
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
      const due = t0 + ((k + perSend) * batch * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (pubs.length >= 8) await Promise.all(pubs.splice(0));
  }
  await Promise.all(pubs);
}

/**
 * A Kafka feed in a process of its own, as a feed and the instance that ingests it are measured apart
 * (the load generator off the measured event loop, as in the HTTP benchmarks). `run` resolves when
 * every message of the plan is acknowledged by the broker.
 */
export async function kafkaFeedProcess(brokers: string): Promise<{
  run(plan: FeedPlan): Promise<void>;
  stop(): Promise<void>;
}> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FEED_BROKERS: brokers },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`feed process exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(String(m));
      });
    });
  const ready = await next();
  if (ready !== 'ready') throw new Error(`feed process: ${ready}`);
  return {
    async run(plan) {
      const done = next();
      child.send(plan);
      const r = await done;
      if (r !== 'done') throw new Error(`feed process: ${r}`);
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.send('stop');
      await exited;
    },
  };
}

if (process.argv[2] === 'child') {
  const { KafkaBus } = await import('@algotrade/adapters/bus-kafka/kafka-bus');
  const bus = new KafkaBus({ brokers: process.env.FEED_BROKERS!.split(','), clientId: `bench-feed-${process.pid}` });
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await bus.ping();
    process.send!('ready');
  } catch (e) {
    // said, then gone: a feed that cannot publish must not keep the benchmark's process waiting on it
    process.send!(`cannot reach Kafka: ${(e as Error).message}`, () => process.exit(1));
  }
  process.on('message', (m: FeedPlan | 'stop') => {
    if (m === 'stop') {
      clearInterval(keepAlive);
      void bus.close().then(() => process.exit(0));
      return;
    }
    publishFeed(bus, m).then(
      () => process.send!('done'),
      (e: unknown) => process.send!(`publishing failed: ${(e as Error).message}`),
    );
  });
}
