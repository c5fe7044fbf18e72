import { gaussian, seededRandom } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { sampleGrid } from './grid.ts';
import { paramImportance } from './importance.ts';

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
