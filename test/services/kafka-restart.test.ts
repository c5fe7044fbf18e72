import { spawn } from 'node:child_process';
import { KafkaBus } from '@algotrade/adapters/bus-kafka/kafka-bus';
import type { Envelope } from '@algotrade/core';
import { Admin } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICES, uniqueName } from '../helpers/env.ts';

/**
 * The Kafka broker restarts under a publisher and a consumer group (the broker of
 * `npm run services -- up`, stopped and started again by the same script): publishes made while it is
 * down wait for it instead of failing, the consumer reconnects by itself, and every message published
 * arrives; none is lost.
 */
const key = uniqueName('restart');
// a topic of its own, so no service ever reads the probes
const topic = 'test-restart-probe';

function restartBroker(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['scripts/services/services.sh', 'kafka-restart'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('Kafka broker restart', () => {
  const bus = new KafkaBus({ brokers: [SERVICES.kafka], clientId: uniqueName('restart') });
  afterAll(async () => {
    await bus.close();
  });

  it('publishers wait and consumers reconnect: every message arrives', async () => {
    const got = new Set<number>();
    let ready = false;
    const admin = new Admin({ clientId: uniqueName('restart-admin'), bootstrapBrokers: [SERVICES.kafka] });
    if (!(await admin.listTopics()).includes(topic))
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }).catch(() => undefined);
    await admin.close();
    const sub = await bus.subscribe<{ n: number }>(
      topic,
      { group: uniqueName('restart-group') },
      async (m: Envelope<{ n: number }>) => {
        if (m.key !== key) return;
        if (m.data.n === 0) ready = true;
        else got.add(m.data.n);
      },
    );
    // the group starts at the latest offset once it has joined: numbered messages only after it reads
    while (!ready) {
      await bus.publish(topic, key, 'probe', { n: 0 });
      await new Promise((r) => setTimeout(r, 200));
    }
    let n = 0;
    let failures = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        try {
          await bus.publish(topic, key, 'probe', { n: ++n });
        } catch {
          failures++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // flowing before the restart
    await expect.poll(() => got.size, { timeout: 30_000 }).toBeGreaterThan(20);
    const t0 = Date.now();
    const r = await restartBroker();
    expect(r.code, r.out).toBe(0);
    const downMs = Date.now() - t0;
    // flowing after it
    const after = n;
    await expect.poll(() => Math.max(0, ...got), { timeout: 60_000 }).toBeGreaterThan(after + 20);
    publishing = false;
    await publisher;
    await expect.poll(() => got.size, { timeout: 60_000, interval: 250 }).toBe(n);
    console.log(JSON.stringify({ bench: 'kafka-restart', metric: 'broker_restart_ms', value: downMs, published: n }));
    expect(failures).toBe(0);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    await sub.close();
  }, 240_000);
});
