import { compileGraph, generateCandles, runBacktest, templateById, toColumns } from '@algotrade/strategy';
import { aggregated } from '../test/helpers/freqtrade.ts';
import { exitWhen, gatedBy, withAtrRules } from '../test/helpers/graphs.ts';
import { alternated, reportAgainst } from './harness.ts';

// The risk rules' cost in a backtest: 1,000,000 one-minute bars through the SMA(10/30) crossover with a
// 1 % stop loss, a 4-hour time exit and a 30-minute cooldown after any exit, beside the plain crossover
// (the baseline), alternated in the same process. Then rules at a distance: a 2 × ATR(14) stop and a
// 3 × ATR chandelier exit (the ATR evaluated, each position keeping its signal bar's), beside the same
// rules at fixed percents (1 % stop, 1.5 % trailing stop). Then a detail timeframe, a take-profit ladder,
// a strategy reading its own position (evaluated one bar at a time) against the same trades computed in blocks.
const N = 1_000_000;
const minutes = generateCandles(N, 42);
const bars = toColumns(minutes);
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
/**
 * `plan` alternated against `base` on the bars (each with its `own` options over the common ones), reported
 * with both runs' trade counts and fees paid
 */
async function againstTrades(
  metric: string,
  plan: typeof plain,
  base: typeof plain,
  more: object = {},
  own: { plan?: object; base?: object } = {},
) {
  const runs = [
    { trades: 0, fees: 0 },
    { trades: 0, fees: 0 },
  ];
  const note = (k: number, r: ReturnType<typeof runBacktest>) => {
    runs[k] = { trades: r.trades.length, fees: Math.round(r.totalFees * 100) / 100 };
  };
  const [ms, baseMs] = await alternated([
    () => note(0, runBacktest(plan, bars, { ...options, ...own.plan })),
    () => note(1, runBacktest(base, bars, { ...options, ...own.base })),
  ]);
  reportAgainst('risk-rules', metric, ms!, baseMs!, {
    ...more,
    trades: runs[0]!.trades,
    baselineTrades: runs[1]!.trades,
    fees: runs[0]!.fees,
    baselineFees: runs[1]!.fees,
  });
}
await againstTrades('backtest_1m_bars_stop_time_exit_cooldown_ms', ruled.plan, plain);

const atr = compileGraph(
  withAtrRules(crossover, [
    ['stop', 'risk.stop_distance', { multiplier: 2 }],
    ['trail', 'risk.trailing_distance', { multiplier: 3 }],
  ]),
);
if (!atr.plan) throw new Error(JSON.stringify(atr.report.errors));
const percents = [
  { id: 'stop', type: 'risk.stop_loss', data: { percent: 1 }, position: at },
  { id: 'trail', type: 'risk.trailing_stop', data: { percent: 1.5 }, position: at },
];
// the baseline computes the same ATR (feeding nothing), so the ratio is the distances' own cost
const withAtr = withAtrRules(crossover, []);
const pctAtr = compileGraph({ ...withAtr, nodes: [...withAtr.nodes, ...percents] }).plan!;
const pct = compileGraph({ ...crossover, nodes: [...crossover.nodes, ...percents] }).plan!;
const counts = [0, 0, 0];
const [atrMs, pctAtrMs, pctMs] = await alternated([
  () => (counts[0] = runBacktest(atr.plan!, bars, options).trades.length),
  () => (counts[1] = runBacktest(pctAtr, bars, options).trades.length),
  () => (counts[2] = runBacktest(pct, bars, options).trades.length),
]);
reportAgainst('risk-rules', 'backtest_1m_bars_atr_stop_and_trail_ms', atrMs!, pctAtrMs!, {
  baselineIs: 'the same rules at percents, the same ATR computed',
  trades: counts[0],
  baselineTrades: counts[1],
  percentRulesWithoutAtrMs: pctMs,
});

// A detail timeframe: 200,000 five-minute bars (from the million minutes) with a 0.3 % stop and target
// checked on their one-minute bars, against the five-minute bars alone.
const five = toColumns(aggregated(minutes, 300_000));
const tight = compileGraph({
  ...crossover,
  nodes: [
    ...crossover.nodes,
    { id: 'stop', type: 'risk.stop_loss', data: { percent: 0.3 }, position: at },
    { id: 'target', type: 'risk.take_profit', data: { percent: 0.3 }, position: at },
  ],
}).plan!;
const targets = [0, 0];
const [detailMs, barsMs] = await alternated([
  () =>
    (targets[0] = runBacktest(tight, five, { ...options, detail: bars }).trades.filter(
      (t) => t.exitReason === 'take_profit',
    ).length),
  () => (targets[1] = runBacktest(tight, five, options).trades.filter((t) => t.exitReason === 'take_profit').length),
]);
reportAgainst('risk-rules', 'backtest_5m_bars_with_1m_detail_ms', detailMs!, barsMs!, {
  bars: five.length,
  detailBars: N,
  baselineIs: 'the five-minute bars alone',
  targetExits: targets[0],
  baselineTargetExits: targets[1],
});

// A take-profit ladder (three steps: half at 0.3 %, a quarter at 0.6 %, the rest at 0.9 %) on the million
// one-minute bars, against a partial take profit of half the position at 0.3 % (the rest left to run, so
// both keep positions open past the first target: the ratio is the further steps' cost), and beside one
// take profit of the whole position at 0.3 %.
const withTarget = (node: { id: string; type: string; data: Record<string, number | string> }) =>
  compileGraph({ ...crossover, nodes: [...crossover.nodes, { ...node, position: at }] }).plan!;
const ladder = withTarget({
  id: 'ladder',
  type: 'risk.take_profit_ladder',
  data: { pct1: 0.3, share1: 50, pct2: 0.6, share2: 25, pct3: 0.9, share3: 25 },
});
const half = withTarget({ id: 'target', type: 'risk.take_profit', data: { percent: 0.3, sharePct: 50 } });
const whole = withTarget({ id: 'target', type: 'risk.take_profit', data: { percent: 0.3 } });
const steps = [0, 0, 0];
const targetExits = (plan: typeof whole, k: number) => () =>
  (steps[k] = runBacktest(plan, bars, options).trades.filter((t) => t.exitReason === 'take_profit').length);
const [ladderMs, halfMs, wholeMs] = await alternated([
  targetExits(ladder, 0),
  targetExits(half, 1),
  targetExits(whole, 2),
]);
reportAgainst('risk-rules', 'backtest_1m_bars_take_profit_ladder_ms', ladderMs!, halfMs!, {
  baselineIs: 'one partial take profit (half the position at the first step), the rest left to run',
  ladderExits: steps[0],
  baselineTargetExits: steps[1],
  wholeTargetMs: wholeMs,
  wholeTargetExits: steps[2],
});

// A cooldown after three losing trades within two hours (freqtrade's StoplossGuard, counting losses: the
// exits' times kept and pruned at each), against the same cooldown after three losses in a row (a
// counter), on the million one-minute bars.
const guarded = (data: Record<string, number>) =>
  withTarget({ id: 'cool', type: 'risk.cooldown', data: { minutes: 60, after: 'loss', count: 3, ...data } });
await againstTrades('backtest_1m_bars_cooldown_within_window_ms', guarded({ withinMinutes: 120 }), guarded({}), {
  baselineIs: 'the same cooldown after three losses in a row',
});

// Limit entries resting five bars (validBars), 0.2 % under the signal close, against the same limit
// orders valid for the next bar only, on the million one-minute bars, shorts allowed.
const limitEntries = (validBars: number) => {
  const g = structuredClone(crossover);
  for (const n of g.nodes)
    if (n.type === 'action.buy' || n.type === 'action.sell')
      n.data = { ...n.data, orderType: 'limit', offsetPct: 0.2, validBars };
  return compileGraph(g).plan!;
};
await againstTrades('backtest_1m_bars_limit_entries_resting_5_bars_ms', limitEntries(5), limitEntries(1), {
  baselineIs: 'the same limit orders valid for the next bar only',
});

// Maker and taker fees: the same limit orders valid for a bar, those filled at their level paying a
// maker's 0.02 % (the rest the 0.1 % fee), against all of them at 0.1 %: what the choice of rate costs a bar.
await againstTrades(
  'backtest_1m_bars_limit_entries_maker_fee_ms',
  limitEntries(1),
  limitEntries(1),
  { baselineIs: "the same orders, every fill at the taker's fee" },
  { plan: { makerFeeRate: 0.0002 } },
);

// An exchange's lot size (0.01) and minimum order value (10) on the plain crossover: every entry rounded
// to a step and checked against the minimum, against the default 1e-8 rounding. Without fees, so the
// equity stays above the minimum (with them the crossover loses it all on these bars).
await againstTrades(
  'backtest_1m_bars_lot_size_min_notional_ms',
  plain,
  plain,
  { baselineIs: 'the same crossover in steps of 1e-8, without a minimum' },
  { plan: { qtyStep: 0.01, minNotional: 10, feeRate: 0 }, base: { feeRate: 0 } },
);

// A short's borrow rate (5 % a year, paid at the funding times with a funding rate of 0.01 %), against
// the funding rate alone, on the plain crossover with shorts.
await againstTrades(
  'backtest_1m_bars_short_borrow_rate_ms',
  plain,
  plain,
  { baselineIs: 'the same crossover paying the funding rate alone' },
  { plan: { fundingRatePct: 0.01, borrowRatePct: 5 }, base: { fundingRatePct: 0.01 } },
);

// A strategy reading its own position (the Position node): the crossover whose buys are gated by "not
// long" makes the same trades as the plain one (checked here), but is evaluated one bar at a time between
// the bars' fills instead of in blocks of 256 before them: the ratio is that evaluation's cost. And the
// same with exits by profit (3 % up or 2 % down).
const gated = compileGraph(gatedBy(structuredClone(crossover), 'buy', 'long', false)).plan!;
const exits = compileGraph(
  exitWhen(gatedBy(structuredClone(crossover), 'buy', 'long', false), [
    ['profit_pct', '>', 3],
    ['profit_pct', '<', -2],
  ]),
).plan!;
const same = [0, 0, 0];
const [gatedMs, blockMs, exitsMs] = await alternated([
  () => (same[0] = runBacktest(gated, bars, options).trades.length),
  () => (same[1] = runBacktest(plain, bars, options).trades.length),
  () => (same[2] = runBacktest(exits, bars, options).trades.length),
]);
if (same[0] !== same[1]) throw new Error(`the gated crossover made ${same[0]} trades, the plain one ${same[1]}`);
reportAgainst('risk-rules', 'backtest_1m_bars_position_aware_ms', gatedMs!, blockMs!, {
  baselineIs: 'the same trades from the plain crossover, evaluated in blocks',
  trades: same[0],
  withProfitExitsMs: exitsMs,
  withProfitExitsTrades: same[2],
});

// A paper session's risk limits in the backtest (docs/backtesting.md#risk-limits): the equity marked at
// each bar's open and close, the limits as a stop within each bar, the caps and the order rate on each
// entry. Set where no limit is reached on these bars (the same trades as without, checked here), so the
// ratio is the checks' cost over the whole run; without fees, which over 11,000 trades would take the
// equity down 99.9 % and end the run at the drawdown limit.
const limits = {
  maxDrawdownPct: 99.9,
  maxDailyLossPct: 99.9,
  maxPositionPct: 1_000,
  maxOrdersPerMinute: 10,
};
const both = [0, 0];
const noFees = { ...options, feeRate: 0 };
const [limitsMs, freeMs] = await alternated([
  () => (both[0] = runBacktest(plain, bars, { ...noFees, risk: limits }).trades.length),
  () => (both[1] = runBacktest(plain, bars, noFees).trades.length),
]);
if (both[0] !== both[1]) throw new Error(`with limits ${both[0]} trades, without ${both[1]}`);
reportAgainst('risk-rules', 'backtest_1m_bars_risk_limits_ms', limitsMs!, freeMs!, {
  baselineIs: 'the same run without the limits',
  trades: both[0],
  limits,
});
