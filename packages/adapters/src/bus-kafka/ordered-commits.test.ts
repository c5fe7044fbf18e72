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
});
