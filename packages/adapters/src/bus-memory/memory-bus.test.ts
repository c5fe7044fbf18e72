import { busContract } from '../../../../test/contracts/bus.contract.ts';
import { DEFAULT_MEMORY_QUEUE, envelopeIds, TOPICS } from '@algotrade/core';
import { RecentIds } from './dedupe.ts';
import { MemoryBus, partitionOf } from './memory-bus.ts';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';

let n = 0;
busContract(
  'memory',
  async () => new MemoryBus(),
  async () => `contract-${n++}`,
);

describe('memory bus retention', () => {
  const replay = async (bus: MemoryBus, published: number) => {
    for (let i = 0; i < published; i++) await bus.publish('retain-test', 'k', 'n', { i });
    const got: number[] = [];
    const sub = await bus.subscribe<{ i: number }>('retain-test', { group: 'late', fromBeginning: true }, (m) => {
      got.push(m.data.i);
    });
    await new Promise((r) => setTimeout(r, 50));
    await sub.close();
    await bus.close();
    return got;
  };
  it('replays the newest `retain` messages to a new group, in order', async () => {
    expect(await replay(new MemoryBus(5), 23)).toEqual([18, 19, 20, 21, 22]);
    expect(await replay(new MemoryBus(5), 3)).toEqual([0, 1, 2]);
  });
  it('keeps nothing with retain 0', async () => {
    expect(await replay(new MemoryBus(0), 10)).toEqual([]);
  });
});

describe('memory bus bounded queues', () => {
  const tick = () => new Promise((r) => setTimeout(r, 20));

  it("makes publishers wait while a group's partition queue is full, until it is half empty, and loses nothing", async () => {
    const bus = new MemoryBus(0);
    const topic = TOPICS.marketDataUpdates.name;
    const limit = TOPICS.marketDataUpdates.memoryQueue;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const got: number[] = [];
    const sub = await bus.subscribe<{ i: number }>(topic, { group: 'slow' }, async (m) => {
      await gate;
      got.push(m.data.i);
    });
    const total = limit + 10;
    // one key, so one partition; `consumedWhenSettled` is how far the consumer was when each publish resolved
    const consumedWhenSettled: number[] = new Array(total);
    const pubs = Array.from({ length: total }, (_, i) =>
      bus.publish(topic, 'BTCUSD', 'ticks', { i }).then(() => (consumedWhenSettled[i] = got.length)),
    );
    await tick();
    // the messages that found room resolved at once; the one that filled the queue and those after it wait
    expect(consumedWhenSettled.filter((x) => x !== undefined)).toHaveLength(limit - 1);
    expect(got).toHaveLength(0);
    expect(bus.lag(topic, 'slow')).toBe(total - 1); // one is in the handler
    open();
    await Promise.all(pubs);
    // the waiting ones resolved only once the consumer had taken the queue down to half
    for (let i = limit - 1; i < total; i++) expect(consumedWhenSettled[i]).toBeGreaterThanOrEqual(total - limit / 2);
    await tick();
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    await sub.close();
    await bus.close();
  });

  it('lets a publish that filled two queues go on when the second has emptied while it waited for the first', async () => {
    // a publishMany that fills two partitions' queues waits for each in turn; the faster one may have
    // drained and gone idle by then, and nothing would be left to wake a wait that started afterwards
    const bus = new MemoryBus(0);
    const topic = TOPICS.marketDataUpdates.name;
    const { memoryQueue: limit, partitions } = TOPICS.marketDataUpdates;
    const keys = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];
    const slowKey = keys[0]!;
    const fastKey = keys.find((k) => partitionOf(k, partitions) !== partitionOf(slowKey, partitions))!;
    const got = new Map<string, number>();
    const sub = await bus.subscribe(topic, { group: 'g' }, async (m) => {
      if (m.key === slowKey) await new Promise((r) => setTimeout(r, 1));
      got.set(m.key, (got.get(m.key) ?? 0) + 1);
    });
    const batch = (key: string) => Array.from({ length: limit }, (_, i) => ({ key, type: 't', data: { i } }));
    // the slow key's queue fills first, so it is waited for first
    const published = bus.publishMany(topic, [...batch(slowKey), ...batch(fastKey)]).then(() => 'published');
    const timeout = new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3000).unref());
    expect(await Promise.race([published, timeout])).toBe('published');
    // and nothing is lost: the slow queue's last messages take a timer each
    for (let t = 0; t < 300 && (got.get(slowKey) ?? 0) < limit; t++) await new Promise((r) => setTimeout(r, 10));
    expect(got.get(slowKey)).toBe(limit);
    expect(got.get(fastKey)).toBe(limit);
    await sub.close();
    await bus.close();
  });

  it('lets go of each message once it is handled, while later ones still wait', async () => {
    // a queue that never empties (a consumer behind a fast producer) must not keep what it handled
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const bus = new MemoryBus(0);
    const topic = TOPICS.marketDataUpdates.name;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const handled: number[] = [];
    const sub = await bus.subscribe<{ i: number }>(topic, { group: 'g' }, async (m) => {
      handled.push(m.data.i);
      if (m.data.i > 0) await gate;
    });
    let first: WeakRef<object> | undefined;
    await (async () => {
      const data = { i: 0, ticks: Array.from({ length: 100 }, (_, j) => ({ price: j })) };
      first = new WeakRef(data);
      await bus.publish(topic, 'BTCUSD', 'ticks', data);
    })();
    for (let i = 1; i <= 5; i++) await bus.publish(topic, 'BTCUSD', 'ticks', { i });
    await tick();
    expect(handled).toEqual([0, 1]); // the second is in its handler, four wait behind it
    expect(bus.lag(topic, 'g')).toBe(4);
    gc();
    expect(first!.deref()).toBeUndefined();
    open();
    await tick();
    expect(handled).toEqual([0, 1, 2, 3, 4, 5]);
    await sub.close();
    await bus.close();
  });

  it('bounds each group on its own, waits for none without a group, and holds other topics to the default', async () => {
    const bus = new MemoryBus(0);
    const topic = TOPICS.marketDataUpdates.name;
    const limit = TOPICS.marketDataUpdates.memoryQueue;
    // no group yet: nothing queues, nothing waits
    await Promise.all(Array.from({ length: limit * 2 }, () => bus.publish(topic, 'K', 't', {})));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const fast = await bus.subscribe(topic, { group: 'fast' }, () => {});
    const slow = await bus.subscribe(topic, { group: 'slow' }, () => gate);
    let settled = 0;
    const pubs = Array.from({ length: limit + 5 }, () => bus.publish(topic, 'K', 't', {}).then(() => settled++));
    await tick();
    expect(settled).toBe(limit - 1); // the fast group keeps up; the slow one holds the rest
    open();
    await Promise.all(pubs);
    // a topic without its own bound takes DEFAULT_MEMORY_QUEUE before anyone waits
    let hold!: () => void;
    const held = new Promise<void>((r) => (hold = r));
    const events = await bus.subscribe(TOPICS.tradeExecutions.name, { group: 'slow' }, () => held);
    let done = 0;
    const many = Array.from({ length: 1000 }, () =>
      bus.publish(TOPICS.tradeExecutions.name, 'session', 'fill', {}).then(() => done++),
    );
    await tick();
    expect(done).toBe(1000);
    expect(DEFAULT_MEMORY_QUEUE).toBeGreaterThan(1000);
    hold();
    await Promise.all(many);
    for (const s of [fast, slow, events]) await s.close();
    await bus.close();
  });
});

describe('memory bus partitioning', () => {
  it('is stable and spreads keys', () => {
    expect(partitionOf('BTCUSD', 8)).toBe(partitionOf('BTCUSD', 8));
    const used = new Set(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'].map((k) => partitionOf(k, 8)));
    expect(used.size).toBeGreaterThan(3);
  });
});

describe('recent ids', () => {
  it("remembers the bus's own ids as numbers exactly as it remembers other ids as strings", () => {
    const ids = envelopeIds();
    const asNumbers = new RecentIds(1000, ids.prefix);
    const asStrings = new RecentIds(1000);
    let seed = 1;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const made: string[] = [];
    let repeats = 0;
    for (let i = 0; i < 50_000; i++) {
      // a new id, or one of the last 900 again (a redelivery within the window)
      const again = made.length > 0 && rnd() < 0.3;
      const id = again ? made[made.length - 1 - Math.floor(rnd() * Math.min(900, made.length))]! : ids();
      if (!again) made.push(id);
      else repeats++;
      const x = asNumbers.add(id);
      expect(x).toBe(asStrings.add(id));
      expect(x).toBe(!again);
    }
    expect(repeats).toBeGreaterThan(10_000);
    // the bus's own ids took the numeric path: no strings kept
    expect(asNumbers.stringsKept).toBe(0);
    expect(asStrings.stringsKept).toBe(1000);
    // ids older than the window are forgotten by both
    expect(asNumbers.add(made[0]!)).toBe(true);
    expect(asStrings.add(made[0]!)).toBe(true);
    // and ids of other publishers take the string path
    expect(asNumbers.add('other-id')).toBe(true);
    expect(asNumbers.add('other-id')).toBe(false);
  });

  it('skips a message published again with an id the bus made for an earlier one', async () => {
    const bus = new MemoryBus();
    const got: { id: string; data: unknown }[] = [];
    const sub = await bus.subscribe('own-ids', { group: 'g' }, (m) => void got.push({ id: m.id, data: m.data }));
    const first = await bus.publish('own-ids', 'k', 'n', { x: 1 });
    await bus.publish('own-ids', 'k', 'n', { x: 2 }, first.id);
    await bus.publish('own-ids', 'k', 'n', { x: 3 });
    await new Promise((r) => setTimeout(r, 50));
    expect(got.map((m) => m.data)).toEqual([{ x: 1 }, { x: 3 }]);
    expect(got[0]!.id.startsWith(bus.ids.prefix)).toBe(true);
    await sub.close();
    await bus.close();
  });
});
