import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-flags.ts';

describe('a grid as typed on the command line', () => {
  it('reads lists, ranges and text values', () => {
    expect(parseGrid('fast.period=5,10,20; slow.period=30..60:10\nbuy.sizing=all,pct_equity')).toEqual({
      'fast.period': [5, 10, 20],
      'slow.period': [30, 40, 50, 60],
      'buy.sizing': ['all', 'pct_equity'],
    });
    expect(parseGrid('rsi.period=10..12')).toEqual({ 'rsi.period': [10, 11, 12] });
    // decimal steps do not drift, and repeats count once
    expect(parseGrid('bb.stddev=1..2:0.1')['bb.stddev']).toEqual([1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2]);
    expect(parseGrid('a.b=1,1,2')).toEqual({ 'a.b': [1, 2] });
  });
  it('refuses what it cannot read, saying what', () => {
    expect(() => parseGrid('')).toThrow(/names no parameter/);
    expect(() => parseGrid('period=5')).toThrow(/"period=5" is not node.param=value/);
    expect(() => parseGrid('a.b=1; a.b=2')).toThrow(/names a.b twice/);
    expect(() => parseGrid('a.b=5..1')).toThrow(/a.b: a range needs from <= to and a step above 0/);
    expect(() => parseGrid('a.b=1..2:0')).toThrow(/a range needs from <= to and a step above 0/);
    expect(() => parseGrid('a.b=1..100000')).toThrow(/a.b: the range gives 100000 values; at most 10000/);
    expect(() => parseGrid('a.b=,')).toThrow(/a.b has no values/);
  });
});
