import type { ConsumerLag, Envelope, EventBus, Handler, SubscribeOptions, Subscription } from '@algotrade/core';
import { allTopics, decodeEnvelope, dlqTopic, encodeEnvelope, envelopeIds } from '@algotrade/core';
import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  IncrementalAlterConfigOperationTypes,
  Producer,
  stringDeserializers,
  stringSerializers,
  type Message,
} from '@platformatic/kafka';
import { RecentIds } from '../bus-memory/dedupe.ts';
import { deliverWithRetry } from '../bus-memory/retry.ts';
import { CommitThrottle, OrderedCommits } from './ordered-commits.ts';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** handler calls in flight per subscription; order is kept per key (default 64) */
  concurrency?: number;
  onMalformed?: (topic: string, err: Error) => void;
  /** how long a publish keeps retrying while the broker is unreachable (default 60 s) */
  publishTimeoutMs?: number;
  /**
   * least time between two offset commits of one partition (default 200 ms); a crash redelivers up to
   * this much more of what was handled (at-least-once either way)
   */
  commitIntervalMs?: number;
}

const DLQ_RETENTION_MS = 7 * 86_400_000;
type KafkaMessage = { topic: string; key: string; value: string };

/**
 * Event bus on Apache Kafka (@platformatic/kafka). Keys pick partitions, so one key keeps its order;
 * consumer groups share partitions; offsets are committed only after handling (at-least-once) and
 * handlers see each id once per subscription; failures retry with back-off, then go to `<topic>.dlq`.
 */
export class KafkaBus implements EventBus {
  /** ids of the envelopes this bus publishes without one given */
  private readonly nextId = envelopeIds();
  readonly kind = 'kafka';
  private readonly producer: Producer<string, string, string, string>;
  private readonly subs = new Set<{ close(): Promise<void>; lag(): Promise<ConsumerLag> }>();
  private closed = false;
  constructor(private readonly opts: KafkaBusOptions) {
    this.producer = new Producer({
      clientId: `${opts.clientId}-producer`,
      bootstrapBrokers: opts.brokers,
      serializers: stringSerializers,
      acks: -1,
      retries: 10,
      retryDelay: 250,
      timeout: 10_000,
    });
  }

  private admin(): Admin {
    return new Admin({
      clientId: `${this.opts.clientId}-admin`,
      bootstrapBrokers: this.opts.brokers,
      retries: 5,
      retryDelay: 500,
    });
  }

  /** Creates or updates every topic of docs/topics.md and its DLQ (partitions grow, retention set). Idempotent. */
  async setupTopics(): Promise<{ created: string[]; updated: string[] }> {
    const admin = this.admin();
    const created: string[] = [];
    const updated: string[] = [];
    try {
      const existing = new Set(await admin.listTopics());
      const specs = allTopics().flatMap((t) => [
        t,
        { name: dlqTopic(t.name), partitions: 1, retentionMs: DLQ_RETENTION_MS },
      ]);
      for (const t of specs) {
        const configs = [{ name: 'retention.ms', value: String(t.retentionMs) }];
        if (!existing.has(t.name)) {
          try {
            await admin.createTopics({ topics: [t.name], partitions: t.partitions, replicas: 1, configs });
            created.push(t.name);
            continue;
          } catch (e) {
            if (
              !/already exists/i.test(
                String((e as Error).message) + JSON.stringify((e as { errors?: unknown }).errors ?? ''),
              )
            )
              throw e;
          }
        }
        const meta = await admin.metadata({ topics: [t.name] });
        const have = meta.topics.get(t.name)?.partitionsCount ?? t.partitions;
        if (have < t.partitions) await admin.createPartitions({ topics: [{ name: t.name, count: t.partitions }] });
        await admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: t.name,
              configs: configs.map((c) => ({ ...c, configOperation: IncrementalAlterConfigOperationTypes.SET })),
            },
          ],
        });
        updated.push(t.name);
      }
    } finally {
      await admin.close();
    }
    return { created, updated };
  }

  async publish<T>(topic: string, key: string, type: string, data: T, id?: string): Promise<Envelope<T>> {
    const env: Envelope<T> = { id: id ?? this.nextId(), type, ts: Date.now(), key, data };
    await this.send([{ topic, key, value: encodeEnvelope(env) }]);
    return env;
  }

  async publishMany(
    topic: string,
    messages: { key: string; type: string; data: unknown; id?: string }[],
  ): Promise<void> {
    const ts = Date.now();
    await this.send(
      messages.map((m) => ({
        topic,
        key: m.key,
        value: encodeEnvelope({ id: m.id ?? this.nextId(), type: m.type, ts, key: m.key, data: m.data }),
      })),
    );
  }

  async subscribe<T>(topic: string, opts: SubscribeOptions, handler: Handler<T>): Promise<Subscription> {
    // across consumer generations: a redelivery after a reconnect is skipped (unless the handler is idempotent)
    const seen = opts.dedupe === false ? undefined : new RecentIds();
    const keyTails = new Map<string, Promise<void>>();
    const limit = this.opts.concurrency ?? 64;
    const maxAttempts = opts.maxAttempts ?? 5;
    type Msg = Message<string, string, string, string>;

    const handleOne = async (msg: Msg) => {
      let env: Envelope;
      try {
        env = decodeEnvelope(msg.value);
      } catch (e) {
        // malformed: counted and parked, never retried and never blocks the partition
        this.opts.onMalformed?.(topic, e as Error);
        await this.send([
          {
            topic: dlqTopic(topic),
            key: msg.key ?? '',
            value: JSON.stringify({ topic, error: (e as Error).message, raw: msg.value }),
          },
        ]).catch(() => {});
        return;
      }
      if (seen && !seen.add(env.id)) return;
      await deliverWithRetry(this, topic, env, handler as Handler, maxAttempts);
    };

    /**
     * One consumer generation: a consumer, its stream and its pump. When the stream fails (the broker
     * went away for longer than the client's own retries), the next generation starts from the
     * committed offsets; handlers in flight finish, and what they could not commit is redelivered.
     */
    const generation = async () => {
      const consumer = new Consumer({
        // one Kafka group per (group, topic): a port-level group may span topics, and a Kafka group whose
        // members subscribe to different topics never delivered here (members kept rebalancing)
        groupId: kafkaGroupId(opts.group, topic),
        clientId: `${this.opts.clientId}-${opts.group}`,
        bootstrapBrokers: this.opts.brokers,
        deserializers: stringDeserializers,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        rebalanceTimeout: 15_000,
        maxWaitTime: 50,
        retries: 10,
        retryDelay: 500,
      });
      let stream: Awaited<ReturnType<typeof consumer.consume>>;
      try {
        stream = await consumer.consume({
          topics: [topic],
          mode: 'committed',
          fallbackMode: opts.fromBeginning ? 'earliest' : 'latest',
          autocommit: false,
          maxWaitTime: 50,
        });
      } catch (e) {
        await (consumer.close as (force: boolean) => Promise<void>)(true).catch(() => {});
        throw e;
      }
      const commits = new OrderedCommits<Msg>();
      const committer = new CommitThrottle<Msg>(this.opts.commitIntervalMs ?? 200);
      let inFlight = 0;
      let wake: (() => void) | null = null;
      const pump = (async () => {
        for await (const msg of stream as AsyncIterable<Msg>) {
          while (inFlight >= limit) await new Promise<void>((r) => (wake = r));
          inFlight++;
          const entry = commits.start(msg.partition, msg);
          const key = msg.key ?? '';
          const prev = keyTails.get(key) ?? Promise.resolve();
          const run = prev.then(() => handleOne(msg));
          const tail = run.then(async () => {
            inFlight--;
            if (keyTails.get(key) === tail) keyTails.delete(key);
            const ready = commits.finish(msg.partition, entry);
            if (ready !== undefined) committer.commit(ready);
            const w = wake;
            wake = null;
            w?.();
          });
          keyTails.set(key, tail);
        }
      })();
      const stop = async () => {
        await stream.close().catch(() => {});
        await Promise.allSettled([...keyTails.values()]);
        await committer.flush();
        await (consumer.close as (force: boolean) => Promise<void>)(true).catch(() => {});
        await pump.catch(() => {});
      };
      // end offsets less the committed ones, over the partitions this consumer holds (-1: not held)
      const lag = async () => {
        const byTopic = await consumer.getLag({ topics: [topic] });
        let n = 0n;
        for (const l of byTopic.get(topic) ?? []) if (l > 0n) n += l;
        return Number(n);
      };
      return { pump, stop, lag };
    };

    let current = await generation();
    let closing = false;
    // supervise: a generation whose stream fails is replaced, with back-off, until the subscription closes
    const supervisor = (async () => {
      let delay = 500;
      for (;;) {
        await current.pump.catch(() => undefined);
        if (closing) return;
        await current.stop();
        for (;;) {
          if (closing) return;
          await new Promise((r) => setTimeout(r, delay));
          if (closing) return;
          try {
            const next = await generation();
            current = next;
            delay = 500;
            if (closing) return await next.stop(); // closed while it was joining
            break;
          } catch {
            delay = Math.min(delay * 2, 5000);
          }
        }
      }
    })();

    const sub = {
      close: async () => {
        closing = true;
        this.subs.delete(sub);
        await current.stop();
        await supervisor;
      },
      lag: async (): Promise<ConsumerLag> => ({ topic, group: opts.group, lag: await current.lag() }),
    };
    this.subs.add(sub);
    return sub;
  }

  /**
   * Publishes made in the same event-loop turn go out as one produce request (many tiny requests
   * congest the client: a feed of a hundred symbols at 20 ticks/s is 2,000 of them a second).
   */
  private pending: { messages: KafkaMessage[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private send(messages: KafkaMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ messages, resolve, reject }) === 1) setImmediate(() => void this.flushSends());
    });
  }
  private async flushSends(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.sendWithRetry(batch.flatMap((b) => b.messages));
      for (const b of batch) b.resolve();
    } catch (e) {
      if (batch.length === 1) return batch[0]!.reject(e);
      // one bad message (say, an unknown topic) must not fail the others: send each publish alone
      await Promise.all(
        batch.map((b) =>
          this.sendWithRetry(b.messages).then(
            () => b.resolve(),
            (err: unknown) => b.reject(err),
          ),
        ),
      );
    }
  }

  /**
   * Sends with the client's own retries, and beyond them keeps trying with back-off for up to
   * `publishTimeoutMs` (default 60 s): a broker restart delays publishers instead of failing them.
   * Errors the client marks as not retriable (an unknown topic, a message too large) fail at once.
   */
  private async sendWithRetry(messages: KafkaMessage[]): Promise<void> {
    const deadline = Date.now() + (this.opts.publishTimeoutMs ?? 60_000);
    let delay = 250;
    for (;;) {
      try {
        await this.producer.send({ messages });
        return;
      } catch (e) {
        if ((e as { canRetry?: boolean }).canRetry === false) throw e;
        if (this.closed || Date.now() + delay > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  async ping(): Promise<void> {
    await this.producer.metadata({ topics: [] });
  }

  /** Each subscription asks the broker for its partitions' end offsets; one that cannot answer is left out. */
  async consumerLag(): Promise<ConsumerLag[]> {
    const byGroup = new Map<string, ConsumerLag>();
    for (const r of await Promise.allSettled([...this.subs].map((s) => s.lag()))) {
      if (r.status !== 'fulfilled') continue;
      const k = `${r.value.topic}\0${r.value.group}`;
      const had = byGroup.get(k);
      if (had) had.lag += r.value.lag;
      else byGroup.set(k, { ...r.value });
    }
    return [...byGroup.values()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    await this.producer.close();
  }
}

/** The Kafka consumer group behind a port-level group on one topic. */
export const kafkaGroupId = (group: string, topic: string): string => `${group}.${topic}`;
