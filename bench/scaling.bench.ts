import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { alternated, reportAgainst } from './harness.ts';

// Adding to positions and partial exits in a backtest: 1,000,000 one-minute bars through the
// rsi-scale-in template (25 % of the equity on each RSI dip, up to four entries; half closed at 60, the
// rest at 70; a 10 % stop), beside the same graph with one entry and whole closes (the actions as they
// were before either option: the baseline), alternated in the same process.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const graph = templateById('rsi-scale-in')!.graph;
const plain = structuredClone(graph);
for (const n of plain.nodes) {
  if (n.type === 'action.buy') n.data = { ...n.data, maxEntries: 1 };
  if (n.type === 'action.close') n.data = { ...n.data, percent: 100 };
}
const plan = compileGraph(graph).plan!;
const plainPlan = compileGraph(plain).plan!;
const options = { cash: 1_000_000, feeRate: 0.001 };
const counts = { trades: 0, partialExits: 0, tradesWithSeveralEntries: 0, baselineTrades: 0 };
const [ms, baseMs, bareMs, bareBaseMs] = await alternated([
  () => {
    const r = runBacktest(plan, bars, options);
    counts.trades = r.trades.length;
    counts.partialExits = r.trades.filter((t) => t.exitReason === 'take-half').length;
    counts.tradesWithSeveralEntries = r.trades.filter((t) => (t.entries ?? 1) > 1).length;
  },
  () => (counts.baselineTrades = runBacktest(plainPlan, bars, options).trades.length),
  // without the trades' MAE and MFE (a pass over each trade's bars after the run; every part of a
  // position scans the bars from its entry): the simulation alone
  () => runBacktest(plan, bars, { ...options, excursions: false }),
  () => runBacktest(plainPlan, bars, { ...options, excursions: false }),
]);
reportAgainst('scaling', 'backtest_1m_bars_scale_in_partial_exits_ms', ms!, baseMs!, counts);
reportAgainst('scaling', 'backtest_1m_bars_scale_in_partial_exits_no_excursions_ms', bareMs!, bareBaseMs!);

// Each addition 1.5 times the entry before it (addScale): the same template with its entries at 10, 15,
// 22.5 and 33.75 % of the equity, against the template at 10 % each (addScale 1), without excursions.
const sized = (addScale: number) => {
  const g = structuredClone(graph);
  for (const n of g.nodes) if (n.type === 'action.buy') n.data = { ...n.data, amount: 10, addScale };
  return compileGraph(g).plan!;
};
const scaledPlan = sized(1.5);
const evenPlan = sized(1);
const sizes = { trades: 0, baselineTrades: 0 };
const [scaledMs, evenMs] = await alternated([
  () => (sizes.trades = runBacktest(scaledPlan, bars, { ...options, excursions: false }).trades.length),
  () => (sizes.baselineTrades = runBacktest(evenPlan, bars, { ...options, excursions: false }).trades.length),
]);
reportAgainst('scaling', 'backtest_1m_bars_scale_in_add_scale_ms', scaledMs!, evenMs!, {
  ...sizes,
  baselineIs: 'the same entries at one size (addScale 1)',
});
