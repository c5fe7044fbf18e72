import { seededRandom } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { sampleGrid, type Combo, type ParamGrid } from './grid.ts';
import {
  adaptiveSearch,
  categoricalDensity,
  comboKey,
  goodCount,
  numericDensity,
  proposalRandom,
  proposeTpe,
} from './tpe.ts';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sum = (f: (i: number) => number, m: number) => range(0, m - 1).reduce((s, i) => s + f(i), 0);

describe('adaptive search (TPE)', () => {
  it("splits good from the rest as Optuna's default gamma does", () => {
    expect([1, 10, 11, 60, 250, 251, 1000].map(goodCount)).toEqual([1, 1, 2, 6, 25, 25, 25]);
  });

  it('fits densities that sum to 1, peak at the points, and keep every value possible', () => {
    const d = numericDensity(50, [10, 12, 40]);
    expect(sum((i) => d.pmf(i), 50)).toBeCloseTo(1, 6);
    expect(d.pmf(11)).toBeGreaterThan(d.pmf(25));
    expect(Math.min(...range(0, 49).map((i) => d.pmf(i)))).toBeGreaterThanOrEqual(1 / 50 / 4);
    const c = categoricalDensity(3, [1, 1, 2]);
    expect(sum((i) => c.pmf(i), 3)).toBeCloseTo(1, 12);
    expect(c.pmf(1)).toBeCloseTo((1 / 3 + 2) / 4, 12);
    // draws follow the density
    const rand = seededRandom(4);
    const counts = new Array(50).fill(0);
    for (let k = 0; k < 20_000; k++) counts[d.sample(rand)]++;
    for (const i of [0, 11, 25, 40]) expect(counts[i] / 20_000).toBeCloseTo(d.pmf(i), 2);
  });

  it('proposes points of the grid not yet taken, and none when every point is', async () => {
    const grid: ParamGrid = { 'a.n': [20, 5, 10], 'b.kind': ['sma', 'ema'] };
    const trials = await adaptiveSearch(grid, 50, 1, (c) => (c['a.n'] as number) + (c['b.kind'] === 'ema' ? 1 : 0), 2);
    expect(trials).toHaveLength(6);
    expect(new Set(trials.map((t) => comboKey(grid, t.combo))).size).toBe(6);
    const taken = new Set(trials.map((t) => comboKey(grid, t.combo)));
    expect(proposeTpe(grid, trials, taken, seededRandom(1))).toBeNull();
    // a point's key does not depend on the order of its keys
    expect(comboKey(grid, { 'b.kind': 'ema', 'a.n': 5 })).toBe(comboKey(grid, { 'a.n': 5, 'b.kind': 'ema' }));
  });

  it('is the same for a seed: the same start as a random search, then the same proposals', async () => {
    const grid: ParamGrid = { 'a.x': range(0, 99), 'b.y': range(0, 99) };
    const f = (c: Combo) => -(((c['a.x'] as number) - 70) ** 2) - ((c['b.y'] as number) - 20) ** 2;
    const one = await adaptiveSearch(grid, 30, 9, f);
    const two = await adaptiveSearch(grid, 30, 9, f);
    expect(two).toEqual(one);
    expect(one.slice(0, 10).map((t) => t.combo)).toEqual(sampleGrid(grid, 10, 9));
    expect((await adaptiveSearch(grid, 30, 10, f)).map((t) => t.combo)).not.toEqual(one.map((t) => t.combo));
    // a proposal depends on the seed, the point's number and the history only
    const taken = new Set(one.map((t) => comboKey(grid, t.combo)));
    expect(proposeTpe(grid, one, taken, proposalRandom(9, 30))).toEqual(
      proposeTpe(grid, one, taken, proposalRandom(9, 30)),
    );
  });

  it('finds better points than a random search of the same size (30 seeds, three kinds of surface)', async () => {
    const surfaces: [string, ParamGrid, (c: Combo) => number][] = [
      [
        'one peak',
        { x: range(0, 99), y: range(0, 99) },
        (c) => -(((c.x as number) - 70) ** 2 + ((c.y as number) - 20) ** 2),
      ],
      [
        'four parameters',
        { a: range(0, 49), b: range(0, 49), c: range(0, 49), d: range(0, 49) },
        (c) =>
          -(
            ((c.a as number) - 10) ** 2 +
            ((c.b as number) - 40) ** 2 +
            ((c.c as number) - 25) ** 2 +
            ((c.d as number) - 5) ** 2
          ),
      ],
      [
        'Branin (three optima) and a category',
        { x: range(0, 150), y: range(0, 150), k: ['sma', 'ema', 'wma'] },
        (c) => {
          const x1 = -5 + (c.x as number) / 10;
          const x2 = (c.y as number) / 10;
          const b =
            (x2 - (5.1 / (4 * Math.PI ** 2)) * x1 ** 2 + (5 / Math.PI) * x1 - 6) ** 2 +
            10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1);
          return -b - (c.k === 'ema' ? 0 : 0.5);
        },
      ],
    ];
    for (const [name, grid, f] of surfaces) {
      let wins = 0;
      let tpe = 0;
      let random = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const t = Math.max(...(await adaptiveSearch(grid, 60, seed, f)).map((x) => x.score));
        const r = Math.max(...sampleGrid(grid, 60, seed).map(f));
        tpe += t / 30;
        random += r / 30;
        if (t > r) wins++;
      }
      expect(tpe, name).toBeGreaterThan(random);
      expect(wins, name).toBeGreaterThanOrEqual(20);
    }
  });

  it('scores a failed or undefined run last and still proposes', async () => {
    const grid: ParamGrid = { x: range(0, 20) };
    const trials = await adaptiveSearch(grid, 12, 2, (c) => ((c.x as number) % 2 ? NaN : (c.x as number)));
    expect(trials.filter((t) => t.score === -Infinity).length).toBeGreaterThan(0);
    expect(trials).toHaveLength(12);
  });
});
