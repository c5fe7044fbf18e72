import { gaussian, seededRandom } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { sampleGrid } from './grid.ts';
import { paramImportance, paramInteractions, sweepEffects } from './importance.ts';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("a sweep's parameters by how much of the scores' spread each explains (ω²)", () => {
  it('credits the parameter the score depends on, not the ones it does not', () => {
    const rand = seededRandom(3);
    const grid = { x: range(0, 99), y: range(0, 99), kind: ['sma', 'ema', 'wma'] };
    const points = sampleGrid(grid, 300, 1).map((c) => ({
      combo: c,
      score: -(((c.x as number) - 70) ** 2) / 100 + 0.5 * gaussian(rand),
    }));
    const imp = paramImportance(points);
    expect(imp.map((p) => p.key)).toEqual(['x', 'y', 'kind']);
    expect(imp[0]!.share).toBeGreaterThan(0.9);
    expect(imp[1]!.share).toBeLessThan(0.05);
    expect(imp[2]).toMatchObject({ share: 0, groups: 3 });
    // 100 values in 8 ranges of about equal counts; the best range holds 70
    expect(imp[0]!.groups).toBe(8);
    const [lo, hi] = imp[0]!.best.split('..').map(Number);
    expect(lo).toBeLessThanOrEqual(70);
    expect(hi).toBeGreaterThanOrEqual(70);
  });

  it('credits a category when the score depends on it, and leaves points without a score out', () => {
    const rand = seededRandom(8);
    const grid = { n: range(1, 5), kind: ['sma', 'ema', 'wma'] };
    const points = sampleGrid(grid, 15, 1).flatMap((c) => [
      { combo: c, score: (c.kind === 'ema' ? 2 : 0) + 0.1 * gaussian(rand) },
      { combo: c, score: -Infinity },
    ]);
    const imp = paramImportance(points);
    expect(imp[0]).toMatchObject({ key: 'kind', best: 'ema', groups: 3 });
    expect(imp[0]!.share).toBeGreaterThan(0.9);
    expect(imp.find((p) => p.key === 'n')).toMatchObject({ groups: 5, best: expect.any(String) });
    expect(paramImportance(points.slice(0, 4))).toEqual([]);
  });
});

describe("pairs of a sweep's parameters by how much more they explain together (paramInteractions)", () => {
  const grid = { a: range(0, 7), b: range(0, 7), c: range(0, 4) };
  const full = () => grid.a.flatMap((a) => grid.b.flatMap((b) => grid.c.map((c) => ({ a, b, c }))));

  it('finds an interaction neither parameter shows alone: a score that depends on both sides of a line', () => {
    const rand = seededRandom(5);
    // +1 where a and b are on the same side of 4, -1 where not: no main effect at all
    const points = full().map((combo) => ({
      combo,
      score: (combo.a < 4 === combo.b < 4 ? 1 : -1) + 0.2 * gaussian(rand),
    }));
    expect(paramImportance(points).every((p) => p.share < 0.05)).toBe(true);
    const pairs = paramInteractions(points);
    expect(pairs.map((p) => p.keys.join(' × '))).toEqual(['a × b', 'a × c', 'b × c']);
    expect(pairs[0]).toMatchObject({ cells: 64 });
    expect(pairs[0]!.share).toBeGreaterThan(0.9);
    expect(pairs[1]!.share).toBeLessThan(0.02);
    // what a sweep reports: the same figures, the pairs above nothing alone
    const effects = sweepEffects(points);
    expect(effects.importance).toEqual(paramImportance(points));
    expect(effects.interactions).toEqual(pairs.filter((p) => p.share > 0));
    expect(effects.interactions[0]!.keys).toEqual(['a', 'b']);
  });

  it('gives none to parameters that only add up, and none where every cell was run once', () => {
    const rand = seededRandom(6);
    const additive = full().map((combo) => ({ combo, score: combo.a + 2 * combo.b + gaussian(rand) }));
    expect(
      paramImportance(additive)
        .slice(0, 2)
        .map((p) => p.key),
    ).toEqual(['b', 'a']);
    for (const p of paramInteractions(additive)) expect(p.share, p.keys.join(' × ')).toBeLessThan(0.02);
    // a grid of two parameters run once at each point: no spread within a cell to tell from noise
    const once = grid.a.flatMap((a) => grid.b.map((b) => ({ combo: { a, b }, score: a < 4 === b < 4 ? 1 : -1 })));
    expect(paramInteractions(once)).toEqual([]);
    expect(paramInteractions([])).toEqual([]);
  });
});
