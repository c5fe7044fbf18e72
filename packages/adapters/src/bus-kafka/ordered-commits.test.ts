import { describe, expect, it } from 'vitest';
import { CommitThrottle, OrderedCommits } from './ordered-commits.ts';

describe('Kafka commit bookkeeping', () => {
  it('commits the longest finished prefix per partition', () => {
    const c = new OrderedCommits<string>();
    const a = c.start(0, 'a');
    const b = c.start(0, 'b');
    const x = c.start(1, 'x');
    expect(c.finish(0, b)).toBeUndefined(); // a is still running
    expect(c.finish(0, a)).toBe('b');
    expect(c.finish(1, x)).toBe('x');
  });

  it('flush waits for slow commits on several partitions without starving the event loop', async () => {
    const t = new CommitThrottle<{ partition: number; offset: number; commit(): Promise<void> }>();
    const committed: string[] = [];
    const msg = (partition: number, offset: number, ms: number) => ({
      partition,
      offset,
      commit: () => new Promise<void>((r) => setTimeout(() => (committed.push(`${partition}:${offset}`), r()), ms)),
    });
    t.commit(msg(0, 1, 30));
    t.commit(msg(1, 1, 5)); // a fast partition finishing first must not make flush spin
    t.commit(msg(0, 2, 10)); // superseded while 0:1 is in flight: only the newest is committed next
    t.commit(msg(0, 3, 10));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await t.flush();
    clearInterval(timer);
    expect(committed).toEqual(['1:1', '0:1', '0:3']);
    expect(ticks).toBeGreaterThan(5); // timers kept running during the flush
  });

  it('commits a partition at most once an interval, the newest offset, and flush does not wait it out', async () => {
    const t = new CommitThrottle<{ partition: number; offset: number; commit(): Promise<void> }>(200);
    const committed: [string, number][] = [];
    const t0 = Date.now();
    const msg = (partition: number, offset: number) => ({
      partition,
      offset,
      commit: async () => void committed.push([`${partition}:${offset}`, Date.now() - t0]),
    });
    t.commit(msg(0, 1)); // idle partition: at once
    t.commit(msg(0, 2));
    t.commit(msg(0, 3)); // 2 and 3 wait for the interval; only the newest goes
    t.commit(msg(1, 1)); // another partition is not held back by partition 0
    await new Promise((r) => setTimeout(r, 50));
    expect(committed.map((c) => c[0])).toEqual(['0:1', '1:1']);
    await new Promise((r) => setTimeout(r, 250));
    expect(committed.map((c) => c[0])).toEqual(['0:1', '1:1', '0:3']);
    expect(committed[2]![1]).toBeGreaterThanOrEqual(190);
    t.commit(msg(0, 4)); // within the interval after 0:3: waits, unless flushed
    const f0 = Date.now();
    await t.flush();
    expect(Date.now() - f0).toBeLessThan(100);
    expect(committed.map((c) => c[0])).toEqual(['0:1', '1:1', '0:3', '0:4']);
  });
});
