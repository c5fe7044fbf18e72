import {
  compileGraph,
  EnginePool,
  firstTradingBar,
  generateCandles,
  runBacktest,
  runPortfolio,
  templateById,
  toColumns,
  type LegRunner,
} from '@algotrade/strategy';
import { median, report } from './harness.ts';

// A portfolio backtest of the SMA crossover over 8 symbols of 250,000 one-minute bars each (2 M bars).
// Baseline, in the same process: the 8 plain backtests one after another, inline (what the legs cost
// without the merging). Then the same portfolio with its legs on a 2-thread engine pool, the service's
// embedded path. Alternated, median of three.
const legsN = 8;
const n = 250_000;
const graph = templateById('sma-crossover')!.graph;
const plan = compileGraph(graph).plan!;
const legs = Array.from({ length: legsN }, (_, i) => ({
  symbol: `S${i}`,
  weight: 1 / legsN,
  bars: toColumns(generateCandles(n, 100 + i)),
}));
const options = { cash: 100_000, feeRate: 0.001 };
const more = { firstTradingBar: () => firstTradingBar(plan) };
const inline: LegRunner = async (bars, o, onProgress) => runBacktest(plan, bars, { ...o, onProgress });
const pool = new EnginePool(2);
const keepAlive = setInterval(() => {}, 1000); // the pool's threads do not hold the process open
const pooled: LegRunner = (bars, o, onProgress) => pool.run(graph, bars, o, onProgress);
await runPortfolio(legs, options, pooled, { ...more, parallel: 2 }); // threads started and warmed

const plainMs: number[] = [];
const inlineMs: number[] = [];
const poolMs: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  for (const l of legs) runBacktest(plan, l.bars, { ...options, cash: options.cash / legsN });
  plainMs.push(performance.now() - t0);
  t0 = performance.now();
  await runPortfolio(legs, options, inline, more);
  inlineMs.push(performance.now() - t0);
  t0 = performance.now();
  await runPortfolio(legs, options, pooled, { ...more, parallel: 2 });
  poolMs.push(performance.now() - t0);
}

// Limits on the summed equity (a paper portfolio's portfolioRisk): a drawdown stop at half the free run's
// deepest drawdown costs one run of the legs more; a daily loss that pauses until the next day one run
// more for each time it is reached (its limit: the free run's fifth worst day). Alternated with the free
// portfolio inline, median of three.
const free = await runPortfolio(legs, options, inline, more);
let peak = options.cash;
let deepest = 0;
const dayLoss = new Map<number, number>();
let dayStart = options.cash;
let day = -1;
for (let k = 0; k < free.ts.length; k++) {
  const e = free.equity[k]!;
  peak = Math.max(peak, e);
  deepest = Math.max(deepest, ((peak - e) / peak) * 100);
  const d = Math.floor(free.ts[k]! / 86_400_000);
  if (d !== day) [day, dayStart] = [d, e];
  dayLoss.set(d, Math.max(dayLoss.get(d) ?? 0, ((dayStart - e) / dayStart) * 100));
}
const drawdown = { maxDrawdownPct: deepest / 2 };
const daily = { maxDailyLossPct: [...dayLoss.values()].sort((a, b) => b - a)[4]!, resumeNextDay: true };
const freeMs: number[] = [];
const ddMs: number[] = [];
const dailyMs: number[] = [];
let halts = { dd: 0, daily: 0 };
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  await runPortfolio(legs, options, inline, more);
  freeMs.push(performance.now() - t0);
  t0 = performance.now();
  const a = await runPortfolio(legs, options, inline, { ...more, limits: drawdown });
  ddMs.push(performance.now() - t0);
  t0 = performance.now();
  const b = await runPortfolio(legs, options, inline, { ...more, limits: daily });
  dailyMs.push(performance.now() - t0);
  halts = { dd: a.halts!.length, daily: b.halts!.length };
}
for (const [name, ms, limitPct, n] of [
  ['drawdown_stop', ddMs, drawdown.maxDrawdownPct, halts.dd],
  ['daily_loss_resume', dailyMs, daily.maxDailyLossPct, halts.daily],
] as const)
  report({
    bench: 'portfolio',
    metric: `portfolio_8x250k_ms_${name}`,
    value: median(ms),
    unit: 'ms',
    baseline: median(freeMs),
    baselineIs: 'the same portfolio inline without limits',
    ratio: Number((median(ms) / median(freeMs)).toFixed(2)),
    limitPct: Number(limitPct.toFixed(2)),
    halts: n,
    runsOfTheLegs: n + 1,
  });
await pool.close();
clearInterval(keepAlive);
report({
  bench: 'portfolio',
  metric: 'portfolio_8x250k_ms_inline',
  value: median(inlineMs),
  unit: 'ms',
  baseline: median(plainMs),
  baselineIs: 'the 8 legs as plain backtests one after another, inline',
  mergeShare: Number(((median(inlineMs) - median(plainMs)) / median(inlineMs)).toFixed(3)),
  bars: legsN * n,
});
report({
  bench: 'portfolio',
  metric: 'portfolio_8x250k_ms_pool2',
  value: median(poolMs),
  unit: 'ms',
  baseline: median(inlineMs),
  baselineIs: 'the same portfolio inline, one thread',
  speedup: Number((median(inlineMs) / median(poolMs)).toFixed(2)),
  barsPerSecond: Math.round((legsN * n) / (median(poolMs) / 1000)),
});
