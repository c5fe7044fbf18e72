import { busContract } from '../../../../test/contracts/bus.contract.ts';
import { MemoryBus, partitionOf } from './memory-bus.ts';
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

describe('memory bus partitioning', () => {
  it('is stable and spreads keys', () => {
    expect(partitionOf('BTCUSD', 8)).toBe(partitionOf('BTCUSD', 8));
    const used = new Set(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'].map((k) => partitionOf(k, 8)));
    expect(used.size).toBeGreaterThan(3);
  });
});
