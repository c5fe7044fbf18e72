import { queueContract } from '../../../../test/contracts/queue.contract.ts';
import { MemoryQueue } from './memory-queue.ts';

let n = 0;
queueContract(
  'memory',
  async () => new MemoryQueue(),
  () => `q${n++}`,
);
