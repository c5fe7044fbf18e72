import { BullmqQueue } from '@algotrade/adapters/queue-bullmq/bullmq-queue';
import { queueContract } from '../contracts/queue.contract.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

queueContract(
  'bullmq',
  async () => new BullmqQueue(SERVICES.redis, { prefix: uniqueName('jobs') }),
  () => uniqueName('q'),
);
