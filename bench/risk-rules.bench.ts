import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { alternated, reportAgainst } from './harness.ts';

// The risk rules' cost in a backtest: 1,000,000 one-minute bars through the SMA(10/30) crossover with a
// 1 % stop loss, a 4-hour time exit and a 30-minute cooldown after any exit, beside the plain crossover
// (the baseline), alternated in the same process.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const crossover = templateById('sma-crossover')!.graph;
const at = { x: 0, y: 0 };
const ruled = compileGraph({
  ...crossover,
  nodes: [
    ...crossover.nodes,
    { id: 'stop', type: 'risk.stop_loss', data: { percent: 1 }, position: at },
    { id: 'hold', type: 'risk.time_exit', data: { minutes: 240 }, position: at },
    { id: 'cool', type: 'risk.cooldown', data: { minutes: 30, after: 'any' }, position: at },
  ],
});
if (!ruled.plan) throw new Error(JSON.stringify(ruled.report.errors));
const plain = compileGraph(crossover).plan!;
const options = { cash: 10_000, allowShort: true, feeRate: 0.001 };
const trades = [0, 0];
const [ms, baseMs] = await alternated([
  () => (trades[0] = runBacktest(ruled.plan!, bars, options).trades.length),
  () => (trades[1] = runBacktest(plain, bars, options).trades.length),
]);
reportAgainst('risk-rules', 'backtest_1m_bars_stop_time_exit_cooldown_ms', ms!, baseMs!, {
  trades: trades[0],
  baselineTrades: trades[1],
});
