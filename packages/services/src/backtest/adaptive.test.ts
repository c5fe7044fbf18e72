import type { SweepPoint } from '@algotrade/adapters';
import { seededRandom } from '@algotrade/core';
import { expandGrid, sampleGrid, type Combo } from '@algotrade/strategy';
import { describe, expect, it } from 'vitest';
import { proposalsOf, type AdaptiveSearch } from './adaptive.ts';

const grid = expandGrid({ 'f.period': { from: 2, to: 40, step: 1 }, 's.period': { from: 20, to: 200, step: 10 } });
/** a score with one broad hill and noise: what the search climbs */
const sharpeOf = (c: Combo) => {
  const f = Number(c['f.period']);
  const s = Number(c['s.period']);
  return 2 - ((f - 12) / 10) ** 2 - ((s - 90) / 60) ** 2 + 0.1 * Math.sin(f * s);
};

/**
 * An adaptive sweep run to its end as the workers run it: the random start queued at once, then after
 * each backtest ends (the unfinished one `pick` chooses, standing in for whichever worker is quicker)
 * the proposals queued. Each point's combination by number, and the most that ran at once.
 */
function runSweep(search: AdaptiveSearch, pick: (unfinished: number) => number) {
  const rows: SweepPoint[] = sampleGrid(grid, search.startup, search.seed).map((combo, i) => ({
    id: `b${i}`,
    status: 'queued',
    sweepSeq: i,
    parameters: { combo },
    metrics: null,
  }));
  let most = rows.length;
  for (let guard = 0; guard < 10 * search.count; guard++) {
    const open = rows.filter((r) => r.status === 'queued');
    if (!open.length) break;
    const r = open[pick(open.length)]!;
    r.status = 'done';
    r.metrics = { sharpe: sharpeOf(r.parameters.combo as Combo), trades: 10 };
    for (const { seq, combo } of proposalsOf(rows, search, grid, 'sharpe'))
      rows.push({ id: `b${seq}`, status: 'queued', sweepSeq: seq, parameters: { combo }, metrics: null });
    most = Math.max(most, rows.filter((x) => x.status === 'queued').length);
  }
  return {
    combos: rows.sort((a, b) => a.sweepSeq! - b.sweepSeq!).map((r) => JSON.stringify(r.parameters.combo)),
    most,
    open: rows.filter((r) => r.status === 'queued').length,
  };
}

describe("an adaptive sweep's proposals", () => {
  const search = (parallel: number): AdaptiveSearch => ({
    method: 'tpe',
    count: 40,
    seed: 9,
    of: 39 * 19,
    startup: 8,
    parallel,
  });

  it('are the same for a seed whichever backtests end first, with any parallel', () => {
    for (const parallel of [1, 3, 6]) {
      const inOrder = runSweep(search(parallel), () => 0);
      expect(inOrder.combos).toHaveLength(40);
      expect(new Set(inOrder.combos).size).toBe(40);
      expect(inOrder.open).toBe(0);
      // the newest first, and at random (five orders): the same points, number by number
      const newest = runSweep(search(parallel), (n) => n - 1);
      expect(newest.combos, `parallel ${parallel}, newest first`).toEqual(inOrder.combos);
      for (const seed of [1, 2, 3, 4, 5]) {
        const rand = seededRandom(seed);
        const shuffled = runSweep(search(parallel), (n) => Math.floor(rand() * n));
        expect(shuffled.combos, `parallel ${parallel}, order ${seed}`).toEqual(inOrder.combos);
        // never more than parallel running past the start
        expect(shuffled.most).toBeLessThanOrEqual(Math.max(8, parallel));
      }
      // in order, parallel are kept running
      if (parallel > 1) expect(inOrder.most).toBe(Math.max(8, parallel));
    }
  });

  it('climb: the search finds better points than its random start', () => {
    const { combos } = runSweep(search(3), () => 0);
    const scores = combos.map((c) => sharpeOf(JSON.parse(c) as Combo));
    expect(Math.max(...scores.slice(8))).toBeGreaterThan(Math.max(...scores.slice(0, 8)));
  });

  it('stop once a backtest was cancelled, and wait for the whole random start', () => {
    const rows: SweepPoint[] = sampleGrid(grid, 4, 1).map((combo, i) => ({
      id: `b${i}`,
      status: 'done',
      sweepSeq: i,
      parameters: { combo },
      metrics: { sharpe: i, trades: 5 },
    }));
    const s = { ...search(2), startup: 4 };
    expect(proposalsOf(rows, s, grid, 'sharpe').map((p) => p.seq)).toEqual([4, 5]);
    rows[1]!.status = 'running';
    expect(proposalsOf(rows, s, grid, 'sharpe')).toEqual([]);
    // once it shows ended (failed counts: it scores last), the sweep goes on
    rows[1]!.status = 'failed';
    expect(proposalsOf(rows, s, grid, 'sharpe')).toHaveLength(2);
    rows[1]!.status = 'cancelled';
    expect(proposalsOf(rows, s, grid, 'sharpe')).toEqual([]);
  });
});
