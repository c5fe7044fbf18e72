import { writeFileSync } from 'node:fs';
import {
  foldsTable,
  gridSize,
  haltSpans,
  inlineRunner,
  RANK_BY,
  renderReport,
  viewBars,
  statsRows,
  walkForward,
  type Graph,
} from '@algotrade/strategy';
import { int, progressBar, UsageError } from './args.ts';
import { portfolioLimitsOf, RUN_FLAGS } from './backtest.command.ts';
import {
  adaptiveFlags,
  checkGridValues,
  gridCommandArgs,
  loadGridData,
  portfolioJson,
  portfolioLine,
  printTable,
  searchVariants,
} from './grid-flags.ts';

const SPEC = {
  ...RUN_FLAGS,
  grid: 'string',
  folds: 'string',
  oos: 'string',
  anchored: 'boolean',
  pick: 'string',
  'rank-by': 'string',
  weights: 'string',
  tpe: 'boolean',
  startup: 'string',
  'min-trades': 'string',
  sample: 'string',
  seed: 'string',
  report: 'string',
  json: 'boolean',
} as const;

const USAGE =
  'usage: algotrade walk-forward --strategy <template|file.json> --data <file.csv|SYMBOL>\n' +
  '         --grid "fast.period=5,10,20; slow.period=20..60:10" [--folds 5] [--oos 25] [--anchored] [--pick best|robust]\n' +
  `         [--rank-by ${RANK_BY.join('|')}] [--min-trades 20] [--sample 200 [--seed 1] [--tpe [--startup 10]]] [--from ...] [--to ...] [--interval 1d] [--cash 100000]\n` +
  '         [--fee 0.001] [--fee-fixed 0] [--maker-fee 0.0002] [--slippage 5] [--short] [--on-close] [--asset stock|crypto]\n' +
  '         [--qty-step 0.001] [--min-notional 5] [--borrow-rate 3]\n' +
  '         [--leverage 5] [--maintenance-margin 0.5] [--funding 0.01] [--detail <finer.csv|1m>]\n' +
  '         [--report out.html] [--json]\n' +
  '       a portfolio: --data GOOG.csv,BTCUSD.csv [--weights 3,1] (each window a portfolio backtest of them)\n' +
  '                    [--portfolio-drawdown 20] [--portfolio-daily-loss 5 [--resume-next-day]] (limits on its summed equity)';

const fmt = (x: unknown, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-');

/** --pick: each fold's pick in sample, the best (the default) or the best with its neighbours. */
function pickFlag(v: string | boolean | undefined): { pick?: 'robust' } {
  if (v === undefined || v === 'best') return {};
  if (v === 'robust') return { pick: 'robust' };
  throw new UsageError(`--pick: "best" or "robust", not ${JSON.stringify(String(v))}`);
}

/** `algotrade walk-forward`: optimise on each in-sample window, test on the next; print the folds and the chained result. */
export async function walkForwardCommand(argv: string[]): Promise<number> {
  const args = gridCommandArgs(argv, SPEC, USAGE);
  if (!args) return 2;
  const { flags, options, grid, rankBy, minTrades } = args;
  const spec = {
    folds: int(flags.folds, 'folds', 5, 2, 20),
    outOfSamplePct: int(flags.oos, 'oos', 25, 5, 50),
    anchored: !!flags.anchored,
    rankBy,
    ...(minTrades ? { minTrades } : {}),
    ...pickFlag(flags.pick),
  };
  const tpe = adaptiveFlags(flags);
  // a portfolio (--data with commas): its legs' merged times as the series, each window a portfolio backtest
  const loaded = await loadGridData(flags);
  if (!loaded) return 1;
  const { strategy, cols, data, asset, detail, legs, portfolio } = loaded;
  // an adaptive search in each window (--tpe), a random sample of the grid (--sample), or every point
  if (tpe) checkGridValues(loaded.graph as Graph, grid);
  const variants = tpe ? [] : searchVariants(flags, loaded.graph as Graph, grid);
  const points = tpe ? { graph: loaded.graph as Graph, grid, search: tpe } : variants;
  const perWindow = tpe ? Math.min(tpe.count, gridSize(grid)) : variants.length;
  const bar = flags.json ? undefined : progressBar('walk-forward');
  const t0 = performance.now();
  let res;
  try {
    res = await walkForward(
      points,
      cols,
      { ...options, wholeUnits: asset === 'stock', ...(detail ? { detail } : {}) },
      // the grid the points come from (a robust pick's neighbours), not printed with the spec
      { ...spec, grid },
      portfolio?.run ?? inlineRunner(),
      (p) => void bar?.update(p),
    );
  } catch (e) {
    bar?.done();
    if ((e as { code?: string }).code === 'UNPROCESSABLE') throw new UsageError((e as Error).message);
    throw e;
  }
  bar?.done();
  const ms = performance.now() - t0;
  if (flags.json) {
    console.log(
      JSON.stringify({ spec, ...portfolioJson(legs), ...res }, (_k, v) =>
        typeof v === 'number' && !Number.isFinite(v) ? null : v,
      ),
    );
  } else {
    // the report's table of the folds, as text (with risk limits: what they did in each out-of-sample window)
    const { head, rows } = foldsTable(res.folds, rankBy);
    if (legs) console.log(portfolioLine(legs, 'each window shares its equity out by these weights again'));
    printTable(head, rows);
    console.log('\nout of sample, the folds chained:');
    const stats = statsRows(res.stats);
    const sw = Math.max(...stats.map(([k]) => k.length));
    for (const [k, v] of stats) console.log(`  ${k.padEnd(sw)}  ${v}`);
    console.log(`\nwalk-forward efficiency  ${fmt(res.efficiency)} (out-of-sample / in-sample annualised return)`);
    console.log(
      `picks                    ${res.chosen.map((c) => `${JSON.stringify(c.combo)} ×${c.folds}`).join(', ')}`,
    );
    console.log(
      `full-period pick         ${JSON.stringify(res.fullPeriod.combo)}: ${rankBy} ${fmt(res.fullPeriod.stats[rankBy])}, ` +
        `return ${fmt(res.fullPeriod.stats.returnPct)} % (in sample: optimistic)`,
    );
    for (const warning of res.warnings) console.log(`warning: ${warning}`);
    const runs = perWindow * (spec.folds + 1) + spec.folds;
    const what = tpe ? `an adaptive search of ${perWindow} points in each window` : `${perWindow} combinations`;
    console.error(`\n${cols.length} bars, ${what}, ${runs} backtests in ${ms.toFixed(0)} ms`);
  }
  if (flags.report) {
    const first = cols.length - res.equity.ts.length;
    const oos = viewBars(cols, first, cols.length);
    writeFileSync(
      String(flags.report),
      renderReport({
        title: `${strategy} on ${data}: walk-forward, out of sample`,
        time: oos.ts,
        open: oos.open,
        high: oos.high,
        low: oos.low,
        close: oos.close,
        equity: res.equity.equity,
        trades: res.trades,
        stats: res.stats,
        tables: [foldsTable(res.folds, rankBy)],
        // the times the limits (a portfolio's on its summed equity) stopped or paused trading, shaded
        halted: haltSpans(
          portfolioLimitsOf(flags) ?? options.risk ?? {},
          res.folds.flatMap((f) => f.limits?.halts ?? []),
        ),
      }),
    );
    console.error(`report written to ${flags.report}`);
  }
  return 0;
}
