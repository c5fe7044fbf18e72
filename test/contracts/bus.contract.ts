import type { Envelope, EventBus } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.ts';

/**
 * The event-bus contract, shared by the in-memory and Kafka adapters. `topic()` returns a fresh topic
 * name (Kafka creates it with `partitions`); `settle` is how long a new consumer needs to join.
 */
export function busContract(
  name: string,
  make: () => Promise<EventBus>,
  topic: (partitions: number) => Promise<string>,
  settleMs = 0,
) {
  describe(`event bus contract: ${name}`, () => {
    let bus: EventBus;
    beforeAll(async () => {
      bus = await make();
    });
    afterAll(() => bus?.close());
    const settle = () => new Promise((r) => setTimeout(r, settleMs));

    it("reports each group's lag (published and not yet handled) until its handler catches up", async () => {
      const t = await topic(2);
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let handled = 0;
      const slow = await bus.subscribe(t, { group: 'lagging' }, async () => {
        await gate;
        handled++;
      });
      const quick = await bus.subscribe(t, { group: 'quick' }, () => {});
      await settle();
      const lagOf = async (group: string) =>
        (await bus.consumerLag()).find((l) => l.topic === t && l.group === group)?.lag;
      expect(await lagOf('lagging')).toBe(0);
      for (let i = 0; i < 20; i++) await bus.publish(t, `K${i % 4}`, 'n', { i });
      await until(async () => (await lagOf('lagging')) === 20 && (await lagOf('quick')) === 0);
      open();
      await until(() => handled === 20);
      await until(async () => (await lagOf('lagging')) === 0);
      await slow.close();
      await quick.close();
      // a closed subscription is no longer this process's to report
      expect(await lagOf('lagging')).toBeUndefined();
    });

    it('round-trips the envelope, dates and decimal strings', async () => {
      const t = await topic(1);
      const got: Envelope[] = [];
      const sub = await bus.subscribe(t, { group: 'g1' }, (m) => void got.push(m));
      await settle();
      const at = new Date('2024-05-06T07:08:09.123Z');
      const sent = await bus.publish(t, 'BTCUSD', 'tick', {
        at,
        price: '65000.12345678',
        n: 3,
        big: 12345678901234567890n,
      });
      await until(() => got.length === 1);
      expect(got[0]).toEqual({
        id: sent.id,
        type: 'tick',
        ts: sent.ts,
        key: 'BTCUSD',
        data: { at, price: '65000.12345678', n: 3, big: 12345678901234567890n },
      });
      expect(got[0]!.data).toMatchObject({ at: expect.any(Date) });
      await sub.close();
    });

    it('keeps the order of one key across partitions and delivers every message once per group', async () => {
      const t = await topic(4);
      const a: string[] = [];
      const b: string[] = [];
      const s1 = await bus.subscribe(t, { group: 'ga' }, (m) => void a.push(`${m.key}:${(m.data as { i: number }).i}`));
      const s2 = await bus.subscribe(t, { group: 'gb' }, (m) => void b.push(`${m.key}:${(m.data as { i: number }).i}`));
      await settle();
      const keys = ['K1', 'K2', 'K3', 'K4', 'K5'];
      for (let i = 0; i < 40; i++) await bus.publish(t, keys[i % 5]!, 'n', { i });
      await until(() => a.length === 40 && b.length === 40);
      for (const got of [a, b]) {
        expect(new Set(got).size).toBe(40);
        for (const k of keys) {
          const seq = got.filter((x) => x.startsWith(`${k}:`)).map((x) => Number(x.split(':')[1]));
          expect(seq).toEqual([...seq].sort((x, y) => x - y));
        }
      }
      await s1.close();
      await s2.close();
    });

    it('shares a group between consumers: each message is handled by exactly one of them', async () => {
      const t = await topic(4);
      const seen = new Map<number, number>();
      const count = (m: Envelope) =>
        void seen.set((m.data as { i: number }).i, (seen.get((m.data as { i: number }).i) ?? 0) + 1);
      const s1 = await bus.subscribe(t, { group: 'shared' }, count);
      const s2 = await bus.subscribe(t, { group: 'shared' }, count);
      await settle();
      await settle();
      for (let i = 0; i < 60; i++) await bus.publish(t, `k${i}`, 'n', { i });
      await until(() => seen.size === 60);
      await new Promise((r) => setTimeout(r, 200));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      await s1.close();
      await s2.close();
    });

    it('de-duplicates a redelivered id', async () => {
      const t = await topic(1);
      const got: unknown[] = [];
      const sub = await bus.subscribe(t, { group: 'dedupe' }, (m) => void got.push(m.data));
      await settle();
      await bus.publish(t, 'k', 'n', { x: 1 }, 'same-id');
      await bus.publish(t, 'k', 'n', { x: 2 }, 'same-id');
      await bus.publish(t, 'k', 'n', { x: 3 }, 'other-id');
      await until(() => got.length >= 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual([{ x: 1 }, { x: 3 }]);
      await sub.close();
    });

    it('publishes many at once, keeping the ids given (de-duplicated like single publishes)', async () => {
      const t = await topic(2);
      const got: Envelope[] = [];
      const sub = await bus.subscribe(t, { group: 'many' }, (m) => void got.push(m));
      await settle();
      await bus.publishMany!(t, [
        { key: 'a', type: 'n', data: { x: 1 }, id: 'many-1' },
        { key: 'b', type: 'n', data: { x: 2 } },
        { key: 'a', type: 'n', data: { x: 3 }, id: 'many-1' },
      ]);
      await until(() => got.length >= 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(got.map((m) => m.data)).toEqual(expect.arrayContaining([{ x: 1 }, { x: 2 }]));
      expect(got).toHaveLength(2);
      expect(got.find((m) => m.key === 'a')!.id).toBe('many-1');
      expect(got.find((m) => m.key === 'b')!.id).not.toBe('many-1');
      await sub.close();
    });

    it('leaves de-duplication to the handler when the group turns it off', async () => {
      const t = await topic(1);
      const got: unknown[] = [];
      const sub = await bus.subscribe(t, { group: 'no-dedupe', dedupe: false }, (m) => void got.push(m.data));
      await settle();
      await bus.publish(t, 'k', 'n', { x: 1 }, 'again-id');
      await bus.publish(t, 'k', 'n', { x: 2 }, 'again-id');
      await until(() => got.length >= 2);
      expect(got).toEqual([{ x: 1 }, { x: 2 }]);
      await sub.close();
    });

    it('retries a failing handler with back-off, then parks the message on <topic>.dlq', async () => {
      const t = await topic(1);
      let attempts = 0;
      const ok: unknown[] = [];
      const dead: Envelope[] = [];
      const dlq = await bus.subscribe(
        `${t}.dlq`,
        { group: 'dlq-reader', fromBeginning: true },
        (m) => void dead.push(m),
      );
      const sub = await bus.subscribe(t, { group: 'flaky', maxAttempts: 3 }, (m) => {
        if ((m.data as { poison?: boolean }).poison) {
          attempts++;
          throw new Error('cannot handle this');
        }
        ok.push(m.data);
      });
      await settle();
      await bus.publish(t, 'k', 'n', { poison: true });
      await bus.publish(t, 'k', 'n', { fine: true });
      await until(() => dead.length === 1 && ok.length === 1);
      expect(attempts).toBe(3);
      expect(dead[0]!.data).toMatchObject({
        topic: t,
        error: 'cannot handle this',
        attempts: 3,
        message: { data: { poison: true } },
      });
      await sub.close();
      await dlq.close();
    });

    it('a new group can start from the oldest retained message', async () => {
      const t = await topic(1);
      await bus.publish(t, 'k', 'n', { early: 1 });
      await bus.publish(t, 'k', 'n', { early: 2 });
      const got: unknown[] = [];
      const sub = await bus.subscribe(t, { group: 'late', fromBeginning: true }, (m) => void got.push(m.data));
      await until(() => got.length === 2);
      expect(got).toEqual([{ early: 1 }, { early: 2 }]);
      await sub.close();
    });
  });
}
