import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTime, tickToJson } from './tick-json.ts';

describe('isoTime', () => {
  it('equals Date#toISOString for any time, in any order (its cached second never leaks)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }),
            fc.double({ min: -1e13, max: 1e13, noNaN: true }),
            fc.integer({ min: 1_700_000_000_000, max: 1_700_000_002_000 }),
          ),
          { minLength: 1, maxLength: 50 },
        ),
        (times) => {
          for (const t of times) expect(isoTime(t)).toBe(new Date(t).toISOString());
        },
      ),
      { numRuns: 300 },
    );
    for (const t of [0, -1, 999, 1000, -1000, -1001, 8.64e15, -8.64e15])
      expect(isoTime(t)).toBe(new Date(t).toISOString());
    expect(() => isoTime(NaN)).toThrow(RangeError);
  });

  it('encodes ticks as the wire JSON, optional fields omitted', () => {
    const t = { symbol: 'X', ts: Date.UTC(2024, 0, 1, 0, 0, 1, 7), price: 1.5, size: 2 };
    expect(JSON.parse(tickToJson(t))).toEqual({ ts: '2024-01-01T00:00:01.007Z', price: 1.5, size: 2 });
    expect(JSON.parse(tickToJson({ ...t, bid: 1, ask: 2, seq: 3 }))).toEqual({
      ts: '2024-01-01T00:00:01.007Z',
      price: 1.5,
      size: 2,
      bid: 1,
      ask: 2,
      seq: 3,
    });
  });
});
