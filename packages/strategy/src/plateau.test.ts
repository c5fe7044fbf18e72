import { describe, expect, it } from 'vitest';
import { expandGrid, type Combo } from './grid.ts';
import { mostRobust, neighbourhood, plateausOf, sweepStanding } from './plateau.ts';

describe('neighbours and plateaus of a parameter search', () => {
  it('finds the points one step away: the next lower and higher number, every other category', () => {
    const grid = { 'a.period': [20, 5, 10], 'b.kind': ['x', 'y', 'z'] };
    const key = (c: Combo) => `${c['a.period']}${c['b.kind']}`;
    expect(neighbourhood(grid)({ 'a.period': 10, 'b.kind': 'x' }).map(key).sort()).toEqual(['10y', '10z', '20x', '5x']);
    // at an edge there is one number step
    expect(neighbourhood(grid)({ 'a.period': 20, 'b.kind': 'y' }).map(key).sort()).toEqual(['10y', '20x', '20z']);
  });

  it('tells a plateau from a spike: the best alone, and the best with its neighbours', () => {
    // 5 × 5: a spike of 10 at (1, 1) among zeros, a plateau of 5 around (4, 4) among 4s
    const grid = expandGrid({ 'f.period': { from: 1, to: 5, step: 1 }, 's.period': { from: 1, to: 5, step: 1 } });
    const score = (f: number, s: number) =>
      f === 1 && s === 1 ? 10 : f >= 3 && s >= 3 ? (f === 4 && s === 4 ? 5 : 4) : 0;
    const trials = grid['f.period']!.flatMap((f) =>
      grid['s.period']!.map((s) => ({ combo: { 'f.period': f, 's.period': s } as Combo, score: score(+f, +s) })),
    );
    const plateaus = plateausOf(grid, trials);
    const at = (f: number, s: number) =>
      trials.findIndex((t) => t.combo['f.period'] === f && t.combo['s.period'] === s);
    // the spike: two neighbours (a corner), both 0
    expect(plateaus[at(1, 1)]).toEqual({ neighbours: 2, mean: 0, worst: 0, withNeighbours: 10 / 3 });
    // the plateau's top: four neighbours of 4
    expect(plateaus[at(4, 4)]).toEqual({ neighbours: 4, mean: 4, worst: 4, withNeighbours: (5 + 16) / 5 });
    // the most robust is on the plateau, not the spike: (4, 5), an edge, whose three neighbours are 4, 4
    // and 5 (4.25 with them; (4, 4) is 4.2 with its four; the spike 3.33 with its two)
    expect(plateaus[at(4, 5)]!.withNeighbours).toBe(17 / 4);
    expect(mostRobust(grid, trials, plateaus)).toBe(at(4, 5));
    // a neighbour not run, or without a score, is left out; a point without a score has no plateau
    const sparse = trials.filter((t) => !(t.combo['f.period'] === 4 && t.combo['s.period'] === 5));
    sparse[at(3, 4)] = { ...sparse[at(3, 4)]!, score: -Infinity };
    const p = plateausOf(grid, sparse);
    expect(p[at(3, 4)]).toBeNull();
    expect(p[sparse.findIndex((t) => t.combo['f.period'] === 4 && t.combo['s.period'] === 4)]).toEqual({
      neighbours: 2,
      mean: 4,
      worst: 4,
      withNeighbours: 13 / 3,
    });
    // with fewer neighbours run than asked for (at most as many as it has), a point does not qualify:
    // (4, 4) has two of four here, and (5, 4), 4 with 4, 4 and 5 around it, is the most robust left
    const where = (f: number, s: number) =>
      sparse.findIndex((t) => t.combo['f.period'] === f && t.combo['s.period'] === s);
    expect(mostRobust(grid, sparse, p, 2)).toBe(where(4, 4));
    expect(mostRobust(grid, sparse, p, 3)).toBe(where(5, 4));
    expect(p[where(5, 4)]!.withNeighbours).toBe(17 / 4);
  });

  it("scores a sweep's runs by its measure, on its grid or the values its runs took", () => {
    // a sample of three from a grid of 5, 10, 15: 10 was not drawn, so on the grid 5 and 15 are not neighbours
    const runs = [
      { combo: { 'a.period': 5 }, stats: { sharpe: 1, trades: 9 } },
      { combo: { 'a.period': 15 }, stats: { sharpe: 2, trades: 9 } },
      { combo: { 'a.period': 20 }, stats: { sharpe: 3, trades: 2 } },
    ];
    const grid = { 'a.period': [5, 10, 15, 20] };
    const on = sweepStanding(runs, grid, 'sharpe');
    expect(on.plateaus.map((p) => p?.neighbours)).toEqual([0, 1, 1]);
    expect(on.plateaus[1]!.withNeighbours).toBe(2.5);
    expect(on.robustAt).toBe(2);
    // without the grid, 5, 15 and 20 are one step apart
    const taken = sweepStanding(runs, undefined, 'sharpe');
    expect(taken.plateaus.map((p) => p?.neighbours)).toEqual([1, 2, 1]);
    expect(taken.robustAt).toBe(2);
    // with minTrades 5 the last run scores nothing: it has no plateau, and is no one's neighbour
    const few = sweepStanding(runs, grid, 'sharpe', 5);
    expect(few.plateaus[2]).toBeNull();
    expect(few.plateaus[1]).toEqual({ neighbours: 0, mean: null, worst: null, withNeighbours: 2 });
    expect(few.robustAt).toBe(-1);
  });
});
