import {
  checkStrategy,
  compileGraph,
  generateCandles,
  runBacktest,
  templateById,
  toColumns,
} from '@algotrade/strategy';
import { alternated, report } from './harness.ts';

// The strategy check (look-ahead at 60 cut bars, every bar one at a time, warm-up at 9 starts × 20 points)
// of the MACD template over 100,000 one-minute bars (the API's largest), beside a plain backtest of the
// same bars in the same run. The cut runs dominate: each evaluates the series up to its bar again.
const N = 100_000;
const bars = toColumns(generateCandles(N, 42));
const plan = compileGraph(templateById('macd-signal-cross')!.graph).plan!;
let lookaheadOk = true;
const [ms, baseMs] = await alternated(
  [
    async () => {
      const r = await checkStrategy(plan, bars);
      lookaheadOk &&= r.lookahead.ok && r.live.ok;
    },
    () => runBacktest(plan, bars, { cash: 10_000 }),
  ],
  3,
);
if (!lookaheadOk) throw new Error('the check found a difference: the benchmark measures a passing check');
report({
  bench: 'check',
  metric: 'strategy_check_100k_bars_ms',
  value: ms,
  unit: 'ms',
  baseline: baseMs,
  ratio: Number((ms / baseMs).toFixed(1)),
});
