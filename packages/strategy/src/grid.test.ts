import { describe, expect, it } from 'vitest';
import { expandGrid, gridCombos, gridSize, gridVariants, rangeValues, sampleGrid, type ParamGrid } from './grid.ts';
import { templateById } from './templates.ts';

const key = (c: object) => JSON.stringify(c);

describe('parameter grids: ranges and random samples', () => {
  it('writes a range out as values, exactly at decimal steps, and refuses ranges it cannot', () => {
    expect(rangeValues('a.b', { from: 5, to: 20, step: 5 })).toEqual([5, 10, 15, 20]);
    expect(rangeValues('a.b', { from: 0.1, to: 0.5, step: 0.1 })).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(rangeValues('a.b', { from: 1, to: 2, step: 0.25 })).toEqual([1, 1.25, 1.5, 1.75, 2]);
    expect(rangeValues('a.b', { from: 3, to: 10, step: 4 })).toEqual([3, 7]); // `to` not on a step: left out
    expect(() => rangeValues('a.b', { from: 5, to: 1, step: 1 })).toThrow(/a.b: a range needs from <= to/);
    expect(() => rangeValues('a.b', { from: 0, to: 1, step: 0 })).toThrow(/step above 0/);
    expect(() => rangeValues('a.b', { from: 1, to: 20_000, step: 1 })).toThrow(/20000 values; at most 10000/);
    expect(expandGrid({ 'f.period': { from: 2, to: 6, step: 2 }, 's.kind': ['a', 'b'] })).toEqual({
      'f.period': [2, 4, 6],
      's.kind': ['a', 'b'],
    });
  });

  it('draws distinct points of the grid, the same for the same seed, in grid order', () => {
    const grid: ParamGrid = expandGrid({
      'fast.period': { from: 2, to: 50, step: 1 },
      'slow.period': { from: 20, to: 200, step: 5 },
    });
    expect(gridSize(grid)).toBe(49 * 37);
    const all = gridCombos(grid).map(key);
    const s = sampleGrid(grid, 100, 7);
    expect(s).toHaveLength(100);
    expect(new Set(s.map(key)).size).toBe(100);
    const idx = s.map((c) => all.indexOf(key(c)));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    expect(sampleGrid(grid, 100, 7)).toEqual(s);
    expect(sampleGrid(grid, 100, 8)).not.toEqual(s);
    // no more points than asked: the whole grid, in order
    expect(sampleGrid({ 'a.b': [1, 2], 'c.d': [3] }, 5, 1)).toEqual(gridCombos({ 'a.b': [1, 2], 'c.d': [3] }));
  });

  it('gives every point the same chance (4,000 draws of 5 of 20: each point within 25 % of 1,000)', () => {
    const grid: ParamGrid = { 'a.x': [1, 2, 3, 4], 'b.y': [1, 2, 3, 4, 5] };
    const hits = new Map<string, number>();
    for (let seed = 0; seed < 4000; seed++)
      for (const c of sampleGrid(grid, 5, seed)) hits.set(key(c), (hits.get(key(c)) ?? 0) + 1);
    expect(hits.size).toBe(20);
    for (const n of hits.values()) expect(Math.abs(n - 1000)).toBeLessThan(250);
  });

  it('samples grids far too large to write out (10^20 points) point by point, still distinct and in the grid', () => {
    const grid: ParamGrid = Object.fromEntries(
      Array.from({ length: 10 }, (_, k) => [`n${k}.p`, Array.from({ length: 100 }, (_, i) => i)]),
    );
    const s = sampleGrid(grid, 500, 3);
    expect(s).toHaveLength(500);
    expect(new Set(s.map(key)).size).toBe(500);
    for (const c of s.slice(0, 20)) for (const [k, v] of Object.entries(c)) expect(grid[k]).toContain(v);
    expect(sampleGrid(grid, 500, 3)).toEqual(s);
  });

  it('a grid over the limit is refused, pointing to a sample', () => {
    const g = templateById('sma-crossover')!.graph;
    expect(() =>
      gridVariants(g, expandGrid({ 'fast.period': { from: 1, to: 40, step: 1 }, 'slow.period': [30, 40] }), 50),
    ).toThrow(/80 combinations; at most 50 \(or ask for a random sample of them\)/);
  });

  it("searches risk nodes like any node: a time exit's minutes and a cooldown's kind", () => {
    const g = structuredClone(templateById('sma-crossover')!.graph);
    const at = { x: 0, y: 0 };
    g.nodes.push(
      { id: 'hold', type: 'risk.time_exit', data: {}, position: at },
      { id: 'cool', type: 'risk.cooldown', data: {}, position: at },
    );
    const grid = expandGrid({ 'hold.minutes': { from: 30, to: 90, step: 30 }, 'cool.after': ['any', 'loss', 'stop'] });
    const variants = gridVariants(g, grid, 50);
    expect(variants.map((v) => [v.plan.risk.timeExitMs, v.plan.risk.cooldown!.after])).toEqual(
      [1_800_000, 3_600_000, 5_400_000].flatMap((ms) => ['any', 'loss', 'stop'].map((a) => [ms, a])),
    );
    // a value the parameter does not take is refused, naming the point
    expect(() => gridVariants(g, expandGrid({ 'cool.after': ['never'] }), 50)).toThrow(/does not compile/);
  });
});
