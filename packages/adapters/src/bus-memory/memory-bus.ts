import type { ConsumerLag, Envelope, EventBus, Handler, SubscribeOptions, Subscription } from '@algotrade/core';
import { allTopics, DEFAULT_MEMORY_QUEUE, envelopeIds } from '@algotrade/core';
import { RecentIds } from './dedupe.ts';
import { deliverWithRetry } from './retry.ts';

/** djb2 over the key: stable partitioning so one key's messages keep their order. */
export function partitionOf(key: string, partitions: number): number {
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = ((h << 5) + h + key.charCodeAt(i)) | 0;
  return (h >>> 0) % partitions;
}

interface Member {
  handler: Handler;
  maxAttempts: number;
}

/**
 * One consumer group's messages on one partition, delivered one at a time in order. At `limit`
 * messages waiting it is full: publishers wait (`room`) until the consumer has taken it down to half.
 */
class PartitionQueue {
  /** queued messages from `head` on; slots before it are handled and emptied */
  private items: (Envelope | undefined)[] = [];
  private head = 0;
  private running = false;
  private waiting?: { p: Promise<void>; resolve: () => void };
  constructor(
    private readonly deliver: (m: Envelope) => Promise<void> | void,
    private readonly limit: number,
  ) {}
  /** queues a message; true when the queue is now full */
  push(m: Envelope): boolean {
    this.items.push(m);
    if (!this.running) {
      this.running = true;
      queueMicrotask(() => void this.drain());
    }
    return this.depth >= this.limit;
  }
  get depth(): number {
    return this.items.length - this.head;
  }
  /** messages not yet handled: those waiting and the one in its handler */
  get unhandled(): number {
    return this.depth + (this.delivering ? 1 : 0);
  }
  private delivering = false;
  /** at or below half its limit: where a waiting publisher may go on */
  private get halfEmpty(): boolean {
    return this.depth <= this.limit >> 1;
  }
  /**
   * resolves once the consumer has taken the queue down to half its limit: at once when it already has
   * (a publish that filled several queues waits for them one after another, and one may have emptied
   * meanwhile, with no drain left to wake a wait begun afterwards)
   */
  room(): Promise<void> {
    if (this.halfEmpty) return Promise.resolve();
    if (!this.waiting) {
      let resolve!: () => void;
      const p = new Promise<void>((r) => (resolve = r));
      this.waiting = { p, resolve };
    }
    return this.waiting.p;
  }
  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve();
  }
  private async drain(): Promise<void> {
    while (this.head < this.items.length) {
      const m = this.items[this.head]!;
      // let go of it here: a queue array that has lived long enough to be promoted would otherwise hold
      // every handled message (and its ticks) until the array is next cut down, and each young-generation
      // collection would copy them all again
      this.items[this.head++] = undefined;
      this.delivering = true;
      try {
        const r = this.deliver(m);
        if (r) await r;
      } catch {
        // only parking a message on its DLQ can fail here (the bus closed meanwhile): the queue goes on
      }
      this.delivering = false;
      if (this.waiting && this.halfEmpty) this.wake();
      if (this.head > 8192) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    }
    this.items = [];
    this.head = 0;
    this.running = false;
    this.wake();
  }
}

class Group {
  readonly members: Member[] = [];
  /** ids already delivered; none kept when the group's handlers are idempotent themselves */
  readonly seen: RecentIds | undefined;
  readonly queues: PartitionQueue[];
  constructor(
    readonly bus: MemoryBus,
    readonly topic: string,
    partitions: number,
    limit: number,
    dedupe: boolean,
  ) {
    // the ids this bus makes are remembered as numbers (a redelivery here is a publish with a given id)
    this.seen = dedupe ? new RecentIds(100_000, bus.ids.prefix) : undefined;
    this.queues = Array.from({ length: partitions }, (_, p) => new PartitionQueue((m) => this.deliver(p, m), limit));
  }
  /** a figure summed over the group's partition queues */
  count(f: (q: PartitionQueue) => number): number {
    let n = 0;
    for (const q of this.queues) n += f(q);
    return n;
  }
  private deliver(partition: number, m: Envelope): Promise<void> | void {
    if (this.members.length === 0 || (this.seen && !this.seen.add(m.id))) return;
    // partitions are spread over the group's members like Kafka's range assignor
    const member = this.members[partition % this.members.length]!;
    try {
      const r = member.handler(m);
      if (r && typeof (r as Promise<void>).then === 'function')
        return (r as Promise<void>).catch(() => this.retry(member, m));
    } catch {
      return this.retry(member, m);
    }
  }
  private retry(member: Member, m: Envelope): Promise<void> {
    // the first attempt already failed: the shared retry loop makes the rest
    return deliverWithRetry(this.bus, this.topic, m, member.handler, member.maxAttempts, undefined, 20, 1);
  }
}

interface Topic {
  partitions: number;
  /** messages one group may have waiting on one partition before publishers wait */
  limit: number;
  groups: Map<string, Group>;
  /** a short retained log, for fromBeginning subscribers */
  log: Envelope[];
}

/**
 * In-process event bus with Kafka's semantics where they matter: partitions by key (order per key),
 * consumer groups (each group sees every message once; members share partitions), at-least-once with
 * de-duplication by id, retries with back-off, then `<topic>.dlq`.
 *
 * Bounded: where Kafka keeps a lagging group's messages on disk, this bus keeps them on the heap, so a
 * publish whose message fills a group's partition queue (the topic's `memoryQueue`) resolves only once
 * that group has taken it down to half. A producer that awaits its publishes (a replay at full speed,
 * an import) then runs at its consumers' pace instead of piling its backlog onto the heap; nothing is
 * dropped, and one that does not await is not slowed.
 */
export class MemoryBus implements EventBus {
  /** ids of the envelopes this bus publishes without one given */
  readonly ids = envelopeIds();
  readonly kind = 'memory';
  private readonly topics = new Map<string, Topic>();
  private closed = false;
  /**
   * @param retain messages kept per topic for `fromBeginning` subscribers: a new group starts from the
   * newest `retain` (0: none). They stay on the heap while kept, so every message is copied out of the
   * young generation at least once: keep it small (BUS_MEMORY_RETAIN, default 100).
   */
  constructor(private readonly retain = 100) {
    for (const t of allTopics()) this.topic(t.name, t.partitions, t.memoryQueue);
  }
  private topic(name: string, partitions = 1, limit = DEFAULT_MEMORY_QUEUE): Topic {
    let t = this.topics.get(name);
    if (!t) this.topics.set(name, (t = { partitions, limit, groups: new Map(), log: [] }));
    return t;
  }
  async publish<T>(topic: string, key: string, type: string, data: T, id?: string): Promise<Envelope<T>> {
    const env: Envelope<T> = { id: id ?? this.ids(), type, ts: Date.now(), key, data };
    const full = this.route(topic, env);
    if (full) for (const q of full) await q.room();
    return env;
  }
  async publishMany(
    topic: string,
    messages: { key: string; type: string; data: unknown; id?: string }[],
  ): Promise<void> {
    const now = Date.now();
    let full: PartitionQueue[] | undefined;
    for (const m of messages)
      full = this.route(topic, { id: m.id ?? this.ids(), type: m.type, ts: now, key: m.key, data: m.data }, full);
    if (full) for (const q of full) await q.room();
  }
  /**
   * Queues the message for every group; returns `full` with the queues it leaves full added (an array
   * made only when there is one: no allocation per publish on the usual path).
   */
  private route(topic: string, env: Envelope, full?: PartitionQueue[]): PartitionQueue[] | undefined {
    if (this.closed) throw new Error('bus is closed');
    // messages are immutable once published: a handler cannot change what another group sees
    Object.freeze(env);
    const t = this.topic(topic);
    if (this.retain > 0) {
      t.log.push(env);
      if (t.log.length > this.retain * 2) t.log = t.log.slice(-this.retain);
    }
    if (t.groups.size === 0) return full;
    const p = t.partitions === 1 ? 0 : partitionOf(env.key, t.partitions);
    for (const g of t.groups.values()) {
      const q = g.queues[p]!;
      if (q.push(env) && !full?.includes(q)) (full ??= []).push(q);
    }
    return full;
  }
  async subscribe<T>(topic: string, opts: SubscribeOptions, handler: Handler<T>): Promise<Subscription> {
    const t = this.topic(topic);
    let g = t.groups.get(opts.group);
    const isNew = !g;
    if (!g) t.groups.set(opts.group, (g = new Group(this, topic, t.partitions, t.limit, opts.dedupe !== false)));
    const member: Member = { handler: handler as Handler, maxAttempts: opts.maxAttempts ?? 5 };
    g.members.push(member);
    if (isNew && opts.fromBeginning)
      for (const env of t.log.slice(-this.retain)) g.queues[partitionOf(env.key, t.partitions)]!.push(env);
    const group = g;
    return {
      close: async () => {
        const i = group.members.indexOf(member);
        if (i >= 0) group.members.splice(i, 1);
      },
    };
  }
  /** messages waiting in a group's queues (consumer lag) */
  lag(topic: string, group: string): number {
    const g = this.topics.get(topic)?.groups.get(group);
    return g ? g.count((q) => q.depth) : 0;
  }
  async consumerLag(): Promise<ConsumerLag[]> {
    const out: ConsumerLag[] = [];
    for (const [topic, t] of this.topics)
      for (const [group, g] of t.groups)
        if (g.members.length) out.push({ topic, group, lag: g.count((q) => q.unhandled) });
    return out;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}
