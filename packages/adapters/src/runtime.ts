import type { EventBus, JobQueue, ObjectStore, WindowStore } from '@algotrade/core';
import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';
import { openDatabase, type DbHandle } from './db/connect.ts';
import { MemoryBus } from './bus-memory/memory-bus.ts';
import { MemoryWindowStore } from './window-memory/memory-window.ts';
import { FsObjectStore } from './store-fs/fs-store.ts';

/** Everything a service needs, built from the configuration; `close()` releases it in reverse order. */
export interface Runtime {
  config: Readonly<Config>;
  log: Logger;
  db: DbHandle;
  bus: EventBus;
  windows: WindowStore;
  store: ObjectStore;
  queue: JobQueue;
  close(): Promise<void>;
}

export function createLogger(cfg: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: cfg.logLevel, base: { app: 'algotrade' } });
}

export async function createBus(cfg: Config): Promise<EventBus> {
  if (cfg.bus.backend === 'memory') return new MemoryBus(cfg.bus.retain);
  const { KafkaBus } = await import('./bus-kafka/kafka-bus.ts');
  const bus = new KafkaBus({ brokers: cfg.bus.brokers, clientId: cfg.bus.clientId });
  await bus.setupTopics();
  return bus;
}

export async function createWindows(cfg: Config): Promise<WindowStore> {
  const w = cfg.windows;
  if (w.backend === 'memory')
    return new MemoryWindowStore({ size: w.size, overrides: w.overrides, ttlSeconds: w.ttlSeconds });
  const { RedisWindowStore } = await import('./window-redis/redis-window.ts');
  return new RedisWindowStore({ url: w.redisUrl!, size: w.size, overrides: w.overrides, ttlSeconds: w.ttlSeconds });
}

export async function createStore(cfg: Config): Promise<ObjectStore> {
  if (cfg.store.backend === 'fs') return new FsObjectStore(cfg.store.dir);
  const { S3ObjectStore } = await import('./store-s3/s3-store.ts');
  const s = new S3ObjectStore(cfg.store);
  await s.ensureBucket();
  return s;
}

export async function createQueue(cfg: Config): Promise<JobQueue> {
  if (cfg.queue.backend === 'memory') {
    const { MemoryQueue } = await import('./queue-memory/memory-queue.ts');
    return new MemoryQueue();
  }
  const { BullmqQueue } = await import('./queue-bullmq/bullmq-queue.ts');
  return new BullmqQueue(cfg.queue.redisUrl);
}

export async function createRuntime(config: Readonly<Config>, log = createLogger(config)): Promise<Runtime> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const db = await openDatabase(config.db, { log });
    closers.push(() => db.close());
    const bus = await createBus(config);
    closers.push(() => bus.close());
    const windows = await createWindows(config);
    closers.push(() => windows.close());
    const store = await createStore(config);
    closers.push(() => store.close());
    const queue = await createQueue(config);
    closers.push(() => queue.close());
    return {
      config,
      log,
      db,
      bus,
      windows,
      store,
      queue,
      close: async () => {
        for (const c of closers.reverse()) await c().catch((e) => log.warn({ err: e }, 'close failed'));
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => {});
    throw e;
  }
}
