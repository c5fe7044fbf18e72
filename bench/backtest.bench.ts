import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { candlesFromCsvBytes } from '@algotrade/adapters';
import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import * as dataForge from 'data-forge';
import { analyze, backtest } from 'grademark';
import { median, report, timeRuns } from './harness.ts';

const N = 1_000_000;
const candles = generateCandles(N, 42);
const graph = templateById('sma-crossover')!.graph;
const plan = compileGraph(graph).plan!;
const opts = { cash: 100_000, feeRate: 0.001 };

// 1. engine + statistics from candles in memory: as columns (the engine's format), and from
//    an array of candle objects (conversion included)
const columns = toColumns(candles);
const mem = await timeRuns(() => runBacktest(plan, columns, opts), 7, 2);
const res = runBacktest(plan, columns, opts);
report({
  bench: 'backtest',
  metric: 'sma_crossover_1m_bars_in_memory_ms',
  value: median(mem),
  unit: 'ms',
  bars: N,
  trades: res.trades.length,
});
const memObj = await timeRuns(() => runBacktest(plan, toColumns(candles), opts), 5, 1);
report({
  bench: 'backtest',
  metric: 'sma_crossover_1m_bars_from_candle_objects_ms',
  value: median(memObj),
  unit: 'ms',
  bars: N,
});

// 2. end to end from a CSV file: read, parse, run, statistics
const dir = mkdtempSync(path.join(tmpdir(), 'bt-bench-'));
const file = path.join(dir, 'bars.csv');
// prices written to 6 decimals, as exchanges quote them (not 17-digit float noise)
const f6 = (x: number) => x.toFixed(6);
writeFileSync(
  file,
  'ts,open,high,low,close,volume\n' +
    candles.map((c) => `${c.ts},${f6(c.open)},${f6(c.high)},${f6(c.low)},${f6(c.close)},${c.volume}`).join('\n'),
);
const fromCsv = await timeRuns(
  async () => {
    const parsed = await candlesFromCsvBytes(readFileSync(file));
    return runBacktest(plan, parsed.columns, opts);
  },
  5,
  1,
);
report({ bench: 'backtest', metric: 'sma_crossover_1m_bars_from_csv_ms', value: median(fromCsv), unit: 'ms', bars: N });
rmSync(dir, { recursive: true, force: true });

// 3. the same strategy in grademark (an established JS backtester), same bars, same run
const PEER_N = Number(process.env.BENCH_PEER_BARS ?? 100_000);
const peerBars = candles
  .slice(0, PEER_N)
  .map((c) => ({ time: new Date(c.ts), open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }));
type B = (typeof peerBars)[number] & { fast: number; slow: number };
const sma = (xs: number[], n: number) => {
  const out = new Array<number>(xs.length).fill(NaN);
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i]! - (i >= n ? xs[i - n]! : 0);
    if (i >= n - 1) out[i] = s / n;
  }
  return out;
};
const peerRun = () => {
  const series = new dataForge.DataFrame<number, (typeof peerBars)[number]>(peerBars);
  const trades = backtest<(typeof peerBars)[number], B, object, number>(
    {
      lookbackPeriod: 2,
      prepIndicators: ({ inputSeries }) => {
        const closes = inputSeries.getSeries('close').toArray() as number[];
        const f = sma(closes, 10);
        const s = sma(closes, 30);
        return inputSeries.withSeries({
          fast: new dataForge.Series(f),
          slow: new dataForge.Series(s),
        }) as unknown as dataForge.IDataFrame<number, B>;
      },
      entryRule: (enter, { lookback }) => {
        const [a, b] = lookback.toArray();
        if (a && b && a.fast <= a.slow && b.fast > b.slow) enter();
      },
      exitRule: (exit, { lookback }) => {
        const [a, b] = lookback.toArray();
        if (a && b && a.fast >= a.slow && b.fast < b.slow) exit();
      },
    },
    series as never,
  );
  return analyze(100_000, trades);
};
const peerMs = median(await timeRuns(peerRun, 1, 0));
const oursSameBars = toColumns(candles.slice(0, PEER_N));
const oursMs = median(await timeRuns(() => runBacktest(plan, oursSameBars, opts), 5, 1));
report({
  bench: 'backtest',
  metric: `sma_crossover_${PEER_N}_bars_ours_ms`,
  value: oursMs,
  unit: 'ms',
  baseline: peerMs,
  peer: 'grademark',
});
report({ bench: 'backtest', metric: 'speedup_vs_grademark', value: peerMs / oursMs, unit: 'ratio', bars: PEER_N });
