import { busContract } from '../../../../test/contracts/bus.contract.ts';
import { MemoryBus, partitionOf } from './memory-bus.ts';
import { describe, expect, it } from 'vitest';

let n = 0;
busContract(
  'memory',
  async () => new MemoryBus(),
  async () => `contract-${n++}`,
);

describe('memory bus partitioning', () => {
  it('is stable and spreads keys', () => {
    expect(partitionOf('BTCUSD', 8)).toBe(partitionOf('BTCUSD', 8));
    const used = new Set(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'].map((k) => partitionOf(k, 8)));
    expect(used.size).toBeGreaterThan(3);
  });
});
