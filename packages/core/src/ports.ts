import type { Tick } from './types.ts';

/** The JSON envelope every bus message travels in. `id` is unique and used for de-duplication. */
export interface Envelope<T = unknown> {
  id: string;
  type: string;
  /** epoch ms when published */
  ts: number;
  key: string;
  data: T;
}

export type Handler<T = unknown> = (msg: Envelope<T>) => Promise<void> | void;

export interface SubscribeOptions {
  /** Consumers in one group share the work; each group sees every message. */
  group: string;
  /** Attempts before a message is parked on `<topic>.dlq` (default 5). */
  maxAttempts?: number;
  /** Start from the oldest retained message when the group is new (default: only new messages). */
  fromBeginning?: boolean;
  /**
   * Skip an id this group has already seen (default true). A handler that is idempotent on its own
   * (it checks a database key) may turn this off: the group then keeps no ids, which at thousands of
   * messages a second is megabytes of strings the garbage collector would copy and promote.
   */
  dedupe?: boolean;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface EventBus {
  readonly kind: string;
  publish<T>(topic: string, key: string, type: string, data: T, id?: string): Promise<Envelope<T>>;
  /** Publishes several messages at once; a message without an id gets a new one. */
  publishMany?(topic: string, messages: { key: string; type: string; data: unknown; id?: string }[]): Promise<void>;
  subscribe<T>(topic: string, opts: SubscribeOptions, handler: Handler<T>): Promise<Subscription>;
  /**
   * Consumer lag of this process's subscriptions: per topic and group, the messages published and not
   * yet handled (Kafka: the partitions' end offsets less the group's committed offsets, over the
   * partitions this process holds).
   */
  consumerLag(): Promise<ConsumerLag[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerLag {
  topic: string;
  group: string;
  lag: number;
}

export interface WindowStore {
  readonly kind: string;
  append(symbol: string, ticks: Tick[]): Promise<void>;
  /** Newest first, at most `limit`. */
  latest(symbol: string, limit: number): Promise<Tick[]>;
  /** The same newest-first ticks as a JSON array in the HTTP wire form (see tickToJson). */
  latestJson(symbol: string, limit: number): Promise<string>;
  /** Oldest first, ticks with fromMs <= ts <= toMs. */
  range(symbol: string, fromMs: number, toMs: number): Promise<Tick[]>;
  size(symbol: string): Promise<number>;
  capacity(symbol: string): number;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ObjectStore {
  readonly kind: string;
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface JobContext<T = unknown> {
  id: string;
  data: T;
  /** 1 on the first run, 2 on the retry after a crash or failure */
  attempt: number;
  progress(p: number): Promise<void>;
  /** aborted when the job is cancelled */
  signal: AbortSignal;
}

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'cancelled' | 'unknown';

/** A durable job queue: jobs retried once after a worker crash or failure, then failed. */
export interface JobQueue {
  readonly kind: string;
  add<T>(queue: string, data: T, opts?: { jobId?: string }): Promise<string>;
  process<T>(
    queue: string,
    handler: (job: JobContext<T>) => Promise<unknown>,
    opts?: { concurrency?: number },
  ): Promise<void>;
  cancel(queue: string, jobId: string): Promise<boolean>;
  state(queue: string, jobId: string): Promise<{ state: JobState; progress: number; error?: string }>;
  counts(queue: string): Promise<{ waiting: number; active: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
