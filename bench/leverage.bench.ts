import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { alternated, reportAgainst } from './harness.ts';

// Leverage's cost in a backtest: 1,000,000 one-minute bars through the SMA(10/30) crossover, long and
// short, 1,000 of margin a trade at 100x (each bar's low or high checked against the position's
// liquidation price, 0.5 % away, so some are liquidated), beside the same run without leverage (the
// baseline), alternated in the same process. Equal margins keep the account alive, so both make about
// as many trades.
const N = 1_000_000;
const bars = toColumns(generateCandles(N, 42));
const graph = structuredClone(templateById('sma-crossover')!.graph);
for (const n of graph.nodes)
  if (n.type === 'action.buy' || n.type === 'action.sell') n.data = { sizing: 'fixed_cash', amount: 1_000 };
const plan = compileGraph(graph).plan!;
const options = { cash: 1_000_000, allowShort: true };
const counts = { trades: 0, liquidations: 0, baselineTrades: 0 };
let funded = 0;
const [ms, fundedMs, baseMs] = await alternated([
  () => {
    const r = runBacktest(plan, bars, { ...options, leverage: 100 });
    counts.trades = r.trades.length;
    counts.liquidations = r.trades.filter((t) => t.exitReason === 'liquidation').length;
  },
  // the same with funding (0.01 % every 8 hours): a check of each bar's time against the funding times
  () =>
    (funded = runBacktest(plan, bars, { ...options, leverage: 100, fundingRatePct: 0.01 }).trades.filter(
      (t) => t.funding,
    ).length),
  () => (counts.baselineTrades = runBacktest(plan, bars, options).trades.length),
]);
reportAgainst('leverage', 'backtest_1m_bars_100x_liquidation_checks_ms', ms!, baseMs!, counts);
reportAgainst('leverage', 'backtest_1m_bars_100x_with_funding_ms', fundedMs!, baseMs!, { tradesPayingFunding: funded });
