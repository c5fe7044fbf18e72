import { KafkaBus } from '@algotrade/adapters/bus-kafka/kafka-bus';
import { Admin } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { busContract } from '../contracts/bus.contract.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

const brokers = SERVICES.kafka.split(',');
const admin = new Admin({ clientId: 'contract-admin', bootstrapBrokers: brokers });
afterAll(() => admin.close());

busContract(
  'kafka',
  async () => new KafkaBus({ brokers, clientId: uniqueName('contract') }),
  async (partitions) => {
    const t = uniqueName('contract');
    await admin.createTopics({ topics: [t, `${t}.dlq`], partitions, replicas: 1 });
    return t;
  },
  1500,
);

describe('kafka topic setup', () => {
  it('creates every topic of the design with its partitions and retention, idempotently', async () => {
    const bus = new KafkaBus({ brokers, clientId: uniqueName('setup') });
    try {
      await bus.setupTopics();
      const again = await bus.setupTopics();
      expect(again.created).toEqual([]);
      const meta = await admin.metadata({
        topics: ['market-data-updates', 'strategy-signals', 'trade-executions.dlq'],
      });
      expect(meta.topics.get('market-data-updates')?.partitionsCount).toBe(8);
      expect(meta.topics.get('strategy-signals')?.partitionsCount).toBe(4);
      expect(meta.topics.get('trade-executions.dlq')?.partitionsCount).toBe(1);
    } finally {
      await bus.close();
    }
  });
});
