import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalCountStore } from './rate-limit-store.ts';

const count = (s: LocalCountStore, key: string, windowMs = 60_000) => {
  let got: { current: number; ttl: number } | undefined;
  s.incr(
    key,
    (err, res) => {
      if (err) throw err;
      got = res;
    },
    windowMs,
  );
  if (!got) throw new Error('not answered synchronously');
  return got;
};

describe('LocalCountStore', () => {
  afterEach(() => vi.useRealTimers());

  it('counts per key in a fixed window from its first request, then starts again', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const s = new LocalCountStore();
    expect(count(s, 'u:a')).toEqual({ current: 1, ttl: 60_000 });
    vi.advanceTimersByTime(10_000);
    expect(count(s, 'u:a')).toEqual({ current: 2, ttl: 50_000 });
    expect(count(s, 'u:b')).toEqual({ current: 1, ttl: 60_000 });
    vi.advanceTimersByTime(50_000);
    expect(count(s, 'u:a')).toEqual({ current: 1, ttl: 60_000 });
    expect(count(s, 'u:b')).toEqual({ current: 2, ttl: 10_000 });
  });

  it('sweeps expired windows, and past its key limit drops the oldest window', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const s = new LocalCountStore(3);
    for (const k of ['a', 'b', 'c']) count(s, k);
    count(s, 'a'); // counting does not make a window younger
    count(s, 'd');
    expect(s.size).toBe(3);
    // 'a' was dropped: it starts again; 'b' (now the oldest) was dropped to make room for it
    expect(count(s, 'a').current).toBe(1);
    expect(count(s, 'c').current).toBe(2);
    expect(count(s, 'b').current).toBe(1);
    vi.advanceTimersByTime(61_000);
    count(s, 'e');
    expect(s.size).toBe(1);
  });
});
