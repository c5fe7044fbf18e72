import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { EnginePool } from './engine-pool.ts';
import { generateCandles, toColumns } from './sample-data.ts';
import { templateById } from './templates.ts';

describe('backtests on worker threads', () => {
  const pool = new EnginePool(2);
  afterAll(() => pool.close());
  const graph = templateById('sma-crossover')!.graph;
  const bars = toColumns(generateCandles(300_000, 21));

  it('gives exactly the inline result, with progress, for jobs run side by side', async () => {
    const inline = runBacktest(compileGraph(graph).plan!, bars, { cash: 50_000, feeRate: 0.001 });
    const seen: number[] = [];
    const [a, b] = await Promise.all([
      pool.run(graph, bars, { cash: 50_000, feeRate: 0.001 }, (p) => void seen.push(p)),
      pool.run(graph, bars, { cash: 50_000, feeRate: 0.001 }),
    ]);
    for (const r of [a, b]) {
      expect(r.stats).toEqual(inline.stats);
      expect(r.trades).toEqual(inline.trades);
      expect(Array.from(r.equity.subarray(-5))).toEqual(Array.from(inline.equity.subarray(-5)));
    }
    expect(seen.length).toBeGreaterThan(0);
  });

  it('carries leverage, liquidations and funding across the threads as the inline run has them', async () => {
    const o = { cash: 50_000, allowShort: true, leverage: 100, fundingRatePct: 0.01 };
    const inline = runBacktest(compileGraph(graph).plan!, bars, o);
    expect(inline.trades.some((t) => t.exitReason === 'liquidation')).toBe(true);
    expect(inline.trades.some((t) => t.funding! > 0) && inline.trades.some((t) => t.funding! < 0)).toBe(true);
    const r = await pool.run(graph, bars, o);
    expect(r.trades).toEqual(inline.trades);
    expect(r.stats).toEqual(inline.stats);
  });

  it('cancels a running job from the progress callback', async () => {
    const big = toColumns(generateCandles(2_000_000, 5));
    const r = await pool.run(graph, big, { cash: 1000 }, () => true);
    expect(r.cancelled).toBe(true);
  });

  it('starts its threads on the first run, not before, and refuses runs once closed', async () => {
    const lazy = new EnginePool(2);
    expect(lazy.started).toBe(0);
    expect(lazy.size).toBe(2);
    const small = toColumns(generateCandles(2_000, 3));
    const r = await lazy.run(graph, small, { cash: 1000 });
    expect(r.stats).toEqual(runBacktest(compileGraph(graph).plan!, small, { cash: 1000 }).stats);
    expect(lazy.started).toBe(2);
    await lazy.close();
    await expect(lazy.run(graph, small, { cash: 1000 })).rejects.toThrow(/closed/);
    expect(lazy.started).toBe(2);
  });

  it('reports a graph that does not compile', async () => {
    await expect(pool.run({ nodes: [], edges: [] }, bars, { cash: 1 })).rejects.toThrow(/does not compile/);
  });
});
