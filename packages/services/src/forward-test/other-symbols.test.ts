import { describe, expect, it } from 'vitest';
import { OtherSymbolBars } from './other-symbols.ts';

const M = 60_000;
const T = Date.UTC(2026, 0, 5, 12);
const row = (bars: OtherSymbolBars, evaluation: Parameters<OtherSymbolBars['read']>[1], at: number) => {
  const out = new Float64Array(5);
  bars.read(['ETHUSD'], evaluation, at, out);
  return [...out];
};

describe("another symbol's live bars", () => {
  const candle = { mode: 'candle', intervalMs: M } as const;
  const tick = { mode: 'tick' } as const;

  it('gives its last tick (tick mode), and its candle of the same minute, else its last before (candle mode)', () => {
    const bars = new OtherSymbolBars();
    bars.push('ETHUSD', [{ ts: T, price: 10, size: 1 }]); // not watched: kept nowhere
    bars.watch(['ETHUSD'], candle);
    bars.watch(['ETHUSD'], tick);
    expect(row(bars, tick, 0).every(Number.isNaN)).toBe(true);
    expect(row(bars, candle, T).every(Number.isNaN)).toBe(true);
    bars.push('ETHUSD', [
      { ts: T + 1000, price: 10, size: 1 },
      { ts: T + 2000, price: 12, size: 2 },
      { ts: T + 3000, price: 9, size: 1 },
    ]);
    expect(row(bars, tick, 0)).toEqual([9, 9, 9, 9, 1]);
    // the strategy's 12:00 candle closing: the other's 12:00 candle so far
    expect(row(bars, candle, T)).toEqual([10, 12, 9, 9, 4]);
    // an earlier strategy candle: nothing of the other's at or before it
    expect(row(bars, candle, T - M).every(Number.isNaN)).toBe(true);
    // the other moves into 12:01: its 12:00 candle is closed and still the one for a 12:00 strategy candle
    bars.push('ETHUSD', [{ ts: T + M + 5000, price: 11, size: 3 }]);
    expect(row(bars, candle, T)).toEqual([10, 12, 9, 9, 4]);
    expect(row(bars, candle, T + M)).toEqual([11, 11, 11, 11, 3]);
    // a gap: a strategy candle at 12:05 carries the other's last (12:01)
    expect(row(bars, candle, T + 5 * M)).toEqual([11, 11, 11, 11, 3]);
  });

  it('keeps a symbol while anyone watches it, and a window seeds it only when no live tick came', () => {
    const bars = new OtherSymbolBars();
    bars.watch(['ETHUSD'], tick);
    bars.watch(['ETHUSD'], tick);
    bars.seed('ETHUSD', [{ ts: T, price: 5, size: 1 }]);
    expect(row(bars, tick, 0)).toEqual([5, 5, 5, 5, 1]);
    bars.push('ETHUSD', [{ ts: T + 1000, price: 6, size: 1 }]);
    bars.seed('ETHUSD', [{ ts: T, price: 5, size: 1 }]); // older than what it has: ignored
    expect(row(bars, tick, 0)).toEqual([6, 6, 6, 6, 1]);
    bars.unwatch(['ETHUSD']);
    expect(row(bars, tick, 0)).toEqual([6, 6, 6, 6, 1]);
    bars.unwatch(['ETHUSD']);
    expect(row(bars, tick, 0).every(Number.isNaN)).toBe(true);
  });
});
