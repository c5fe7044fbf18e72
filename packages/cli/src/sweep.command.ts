import {
  adaptiveSearch,
  comboVariants,
  gridSize,
  haltSpans,
  limitsTable,
  measurePair,
  sweepEffects,
  sweepFront,
  sweepStanding,
  RANK_BY,
  renderReport,
  type Plateau,
  type RankBy,
  type RiskOutcome,
  runBacktest,
  scoreOf,
  type BacktestOptions,
  type BarColumns,
  type Combo,
  type CompiledPlan,
  type Graph,
} from '@algotrade/strategy';
import { writeFileSync } from 'node:fs';
import { bestDeflated, pboCscv, returnsOf, type Stats, type TradeRecord } from '@algotrade/core';
import { int, progressBar, UsageError } from './args.ts';
import { portfolioLimitsOf, RUN_FLAGS } from './backtest.command.ts';
import {
  adaptiveFlags,
  checkGridValues,
  gridCommandArgs,
  loadGridData,
  MAX_GRID,
  portfolioJson,
  portfolioLine,
  printTable,
  searchVariants,
} from './grid-flags.ts';

const SPEC = {
  ...RUN_FLAGS,
  grid: 'string',
  'rank-by': 'string',
  weights: 'string',
  'min-trades': 'string',
  sample: 'string',
  seed: 'string',
  tpe: 'boolean',
  startup: 'string',
  top: 'string',
  blocks: 'string',
  pareto: 'string',
  report: 'string',
  json: 'boolean',
} as const;

const USAGE =
  'usage: algotrade sweep --strategy <template|file.json> --data <file.csv|SYMBOL>\n' +
  '         --grid "fast.period=5,10,20; slow.period=20..60:10" [--rank-by ' +
  `${RANK_BY.join('|')}] [--min-trades 20]\n` +
  '         [--sample 200 [--seed 1] [--tpe [--startup 10]]] [--top 10] [--blocks 16] [--pareto returnPct,maxDrawdownPct]\n' +
  '         [--from ...] [--to ...] [--interval 1d]\n' +
  '         [--cash 100000] [--fee 0.001] [--fee-fixed 0] [--maker-fee 0.0002] [--slippage 5] [--short] [--on-close] [--asset stock|crypto]\n' +
  '         [--qty-step 0.001] [--min-notional 5] [--borrow-rate 3]\n' +
  '         [--leverage 5] [--maintenance-margin 0.5] [--funding 0.01] [--detail <finer.csv|1m>]\n' +
  '         [--report sweep.html] [--json]\n' +
  '       a portfolio: --data GOOG.csv,BTCUSD.csv [--weights 3,1] (each point a portfolio backtest of them)\n' +
  '                    [--portfolio-drawdown 20] [--portfolio-daily-loss 5 [--resume-next-day]] (limits on its summed equity)';

const fmt = (x: unknown, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-');
const comboText = (c: Combo) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/**
 * `algotrade sweep`: backtest the points of a parameter grid (all of them, a random sample, or an
 * adaptive search that proposes each next point from the results so far), then print the best ranked.
 */
export async function sweepCommand(argv: string[]): Promise<number> {
  const args = gridCommandArgs(argv, SPEC, USAGE);
  if (!args) return 2;
  const { flags, options, grid, rankBy, minTrades } = args;
  const top = int(flags.top, 'top', 10, 1, MAX_GRID);
  const blocks = int(flags.blocks, 'blocks', 16, 2, 32);
  if (blocks % 2) throw new UsageError('--blocks must be even: half of them are in sample');
  const pair = measurePair(String(flags.pareto ?? 'returnPct,maxDrawdownPct'));
  if ('error' in pair) throw new UsageError(`--pareto: ${pair.error}`);
  const [px, py] = pair;
  const tpe = adaptiveFlags(flags);
  // a portfolio (--data with commas): each point the portfolio backtest of its combination, over the
  // legs' merged times (portfolioWindows: one window of every bar)
  const loaded = await loadGridData(flags);
  if (!loaded) return 1;
  const { cols, asset, detail, strategy, data, legs, portfolio } = loaded;
  const graph = loaded.graph as Graph;
  const run: Omit<BacktestOptions, 'onProgress'> = {
    ...options,
    wholeUnits: asset === 'stock',
    ...(detail ? { detail } : {}),
  };
  /** one point's backtest: of the one symbol, or the portfolio's (`excursions`: the trades' too, for a report) */
  const runPoint = async (v: { graph: Graph; plan?: CompiledPlan }, excursions: boolean) =>
    portfolio
      ? portfolio.run(v.graph, cols, { from: 0, to: cols.length, statsOnly: !excursions }, { ...run, tradeFrom: 0 })
      : runBacktest(v.plan!, cols, { ...run, excursions });
  // each run's per-bar returns kept for the overfitting figures, up to 50 M of them in all
  const keepReturns = cols.length * Number(flags.sample ?? MAX_GRID) <= 50e6;
  const returns: Float64Array[] = [];
  const backtest = async (v: { graph: Graph; plan?: CompiledPlan }) => {
    const r = await runPoint(v, false);
    if (keepReturns) returns.push(returnsOf(r.equity));
    return r.stats;
  };
  const results: { combo: Combo; stats: Stats }[] = [];
  const seed = int(flags.seed, 'seed', 1, 0, 0xffffffff);
  let sample: object | undefined;
  const bar = flags.json ? undefined : progressBar(flags.tpe ? 'adaptive search' : 'sweep');
  const t0 = performance.now();
  if (tpe) {
    const { count, startup } = tpe;
    checkGridValues(graph, grid);
    await adaptiveSearch(
      grid,
      count,
      seed,
      async (combo) => {
        const stats = await backtest(comboVariants(graph, [combo])[0]!);
        results.push({ combo, stats });
        bar?.update(results.length / count);
        return scoreOf(stats, rankBy, minTrades);
      },
      startup,
    );
    sample = { method: 'tpe', count: results.length, seed, startup, of: gridSize(grid) };
  } else {
    const variants = searchVariants(flags, graph, grid);
    for (const [i, v] of variants.entries()) {
      results.push({ combo: v.combo, stats: await backtest(v) });
      bar?.update((i + 1) / variants.length);
    }
    if (flags.sample !== undefined) sample = { method: 'random', count: variants.length, seed, of: gridSize(grid) };
  }
  bar?.done();
  const ms = performance.now() - t0;
  // the best score after each backtest, in the order they ran
  let best = -Infinity;
  const convergence = results.map((r) => (best = Math.max(best, scoreOf(r.stats, rankBy, minTrades))));
  const tooFew = (s: Stats) => minTrades > 0 && s.trades < minTrades;
  const ranked = results
    .map((r, i) => ({ ...r, n: i + 1 }))
    .sort((a, b) => scoreOf(b.stats, rankBy, minTrades) - scoreOf(a.stats, rankBy, minTrades));
  const scored = results.map((r) => ({ combo: r.combo, score: scoreOf(r.stats, rankBy, minTrades) }));
  // which parameters the scores depend on, and pairs of them that explain more together than each alone
  const { importance, interactions } = sweepEffects(scored);
  const overfitting = keepReturns ? overfittingOf(returns, results, blocks) : 'over 50 M returns in all';
  // the Pareto front on the two measures, of the runs that traded enough: their places in `ranked`
  const front = sweepFront(
    ranked.map((r) => r.stats),
    px,
    py,
    minTrades,
  );
  const onFront = new Set(front);
  const rankOf = (i: number) => i + 1;
  // each run among its neighbours in the grid: a plateau or a spike; the run best with its neighbours
  const { plateaus, robustAt } = sweepStanding(
    ranked.map((r) => ({ combo: r.combo, stats: r.stats })),
    grid,
    rankBy,
    minTrades,
  );
  if (flags.report && ranked.length) {
    writeFileSync(
      String(flags.report),
      sweepReport({
        title: `${strategy} on ${data}`,
        cols,
        bestRun: await runPoint(comboVariants(graph, [ranked[0]!.combo])[0]!, true),
        // its risk limits (a portfolio's on its summed equity), whose halts it shows
        limits: portfolioLimitsOf(flags) ?? run.risk,
        rankBy,
        px,
        py,
        top,
        ranked,
        front: onFront,
        plateaus,
      }),
    );
    console.error(`report written to ${flags.report}`);
  }
  if (flags.json) {
    const clean = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
    console.log(
      JSON.stringify(
        {
          rankBy,
          ...(minTrades ? { minTrades } : {}),
          ...(sample ? { sample } : {}),
          ...portfolioJson(legs),
          ranked: ranked.map((r, i) => ({
            rank: i + 1,
            n: r.n,
            combo: r.combo,
            stats: r.stats,
            ...(tooFew(r.stats) ? { tooFewTrades: true } : {}),
            ...(onFront.has(i) ? { pareto: true } : {}),
            ...(plateaus[i] ? { plateau: plateaus[i] } : {}),
          })),
          ...(robustAt >= 0 ? { robust: { rank: rankOf(robustAt), ...plateaus[robustAt] } } : {}),
          pareto: { x: px, y: py, ranks: front.map(rankOf) },
          convergence,
          importance,
          interactions,
          overfitting,
        },
        clean,
      ),
    );
    return 0;
  }
  const rows = ranked
    .slice(0, top)
    .map((r, i) => [
      String(i + 1),
      comboText(r.combo),
      fmt(r.stats[rankBy]),
      fmt(r.stats.returnPct),
      fmt(r.stats.maxDrawdownPct),
      String(r.stats.trades),
      String(r.n),
    ]);
  const head = ['#', 'parameters', rankBy, 'return %', 'max DD %', 'trades', 'run'];
  if (legs) console.log(portfolioLine(legs, 'each run a portfolio backtest of them'));
  printTable(head, rows);
  const few = results.filter((r) => tooFew(r.stats)).length;
  if (few) console.log(`\n${few} of ${results.length} runs closed fewer than ${minTrades} trades: ranked last`);
  if (flags.tpe && ranked.length) {
    const at = convergence.findIndex((x) => x === convergence.at(-1));
    console.log(
      `\nadaptive search (TPE): the first ${Math.min(results.length, Number((sample as { startup: number }).startup))} at random, ` +
        `then each proposed from the results so far; the best found at run ${at + 1} of ${results.length}`,
    );
  }
  if (front.length) {
    console.log(
      `\nPareto front of ${px} and ${py} (no run beats these on both): ${front.length} of ${results.length} runs`,
    );
    printTable(
      ['#', 'parameters', px, py, 'trades'],
      front
        .slice(0, 2 * top)
        .map((i) => [
          String(rankOf(i)),
          comboText(ranked[i]!.combo),
          fmt(ranked[i]!.stats[px]),
          fmt(ranked[i]!.stats[py]),
          String(ranked[i]!.stats.trades),
        ]),
    );
  }
  if (robustAt >= 0 && ranked.length) {
    const around = (i: number) => {
      const p = plateaus[i];
      return p?.neighbours
        ? `its ${p.neighbours} neighbours run ${fmt(p.mean, 3)} on average (worst ${fmt(p.worst, 3)})`
        : 'none of its neighbours run';
    };
    const line = (i: number) =>
      `#${rankOf(i)} ${comboText(ranked[i]!.combo)}: ${rankBy} ${fmt(ranked[i]!.stats[rankBy], 3)}, ${around(i)}`;
    console.log(
      robustAt === 0
        ? `\nthe best also stands best with its neighbours: ${line(0)}`
        : `\nmost robust (best with its neighbours, ${fmt(plateaus[robustAt]!.withNeighbours, 3)} against ` +
            `${fmt(plateaus[0]?.withNeighbours, 3)}): ${line(robustAt)}\nthe best: ${line(0)}`,
    );
  }
  if (importance.length)
    console.log(
      `\nwhat ${rankBy} depends on: ` +
        importance.map((p) => `${p.key} ${(p.share * 100).toFixed(0)} % (best ${p.best})`).join(', '),
    );
  if (interactions.some((x) => x.share >= 0.01))
    console.log(
      `together, beyond each alone: ` +
        interactions
          .filter((x) => x.share >= 0.01)
          .map((x) => `${x.keys.join(' × ')} ${(x.share * 100).toFixed(0)} %`)
          .join(', '),
    );
  if (typeof overfitting === 'string') console.log(`\noverfitting: not measured (${overfitting})`);
  else
    console.log(
      `\noverfitting: PBO ${(overfitting.pbo * 100).toFixed(1)} % (CSCV, ${overfitting.blocks} blocks of ${overfitting.blockBars} bars, ` +
        `${overfitting.splits} splits); the best Sharpe ratio's DSR ${fmt(overfitting.best.dsr, 3)} ` +
        `(PSR ${fmt(overfitting.best.psr, 3)}) over ${overfitting.trials} runs`,
    );
  const how = flags.tpe ? 'adaptively' : flags.sample !== undefined ? 'at random' : 'every point';
  console.error(
    `\n${cols.length} bars, ${results.length} backtests (${how}, of ${gridSize(grid)} points, seed ${seed}) in ${ms.toFixed(0)} ms`,
  );
  return 0;
}

/**
 * The runs' overfitting figures (core's pboCscv and deflatedSharpe), or why there are none: fewer
 * than two runs, or too few bars for the blocks.
 */
function overfittingOf(returns: Float64Array[], results: { combo: Combo }[], blocks: number) {
  if (returns.length < 2) return 'one run';
  const bars = Math.min(...returns.map((r) => r.length));
  if (bars < 2 * blocks) return `${bars} returns: ${blocks} blocks need ${2 * blocks}`;
  const p = pboCscv(returns, blocks);
  const d = bestDeflated(returns);
  const at = d.at;
  return {
    trials: returns.length,
    blocks,
    blockBars: p.blockBars,
    splits: p.logits.length,
    pbo: p.pbo,
    meanRank: p.meanRank,
    best: { combo: results[at]!.combo, run: at + 1, psr: d.psr, dsr: d.dsr, sharpePerBar: d.sharpe },
  };
}

/**
 * A sweep's HTML report: the best run's full report (price and trades, equity, drawdown, statistics,
 * trades), with every run on the Pareto front's two measures, the best runs ranked, the front, and
 * how the best and the most robust stand among their neighbours.
 */
function sweepReport(o: {
  title: string;
  /** the bars (a portfolio's: its merged times, the allocation held as the price) and the best point's run on them */
  cols: BarColumns;
  bestRun: { equity: Float64Array; trades: TradeRecord[]; stats: Stats; risk?: RiskOutcome };
  /** the runs' risk limits (a portfolio's on its summed equity) */
  limits: { maxDrawdownPct?: number; resumeNextDay?: boolean } | undefined;
  rankBy: RankBy;
  px: RankBy;
  py: RankBy;
  top: number;
  ranked: { combo: Combo; stats: Stats; n: number }[];
  front: Set<number>;
  plateaus: (Plateau | null)[];
}): string {
  const best = o.ranked[0]!;
  const r = o.bestRun;
  const around = (i: number) => {
    const p = o.plateaus[i];
    return p?.neighbours ? `${fmt(p.mean, 3)} (${p.neighbours})` : '-';
  };
  const row = (i: number) => [
    String(i + 1),
    comboText(o.ranked[i]!.combo),
    fmt(o.ranked[i]!.stats[o.rankBy], 3),
    fmt(o.ranked[i]!.stats.returnPct),
    fmt(o.ranked[i]!.stats.maxDrawdownPct),
    String(o.ranked[i]!.stats.trades),
    around(i),
    o.front.has(i) ? 'yes' : '',
  ];
  const head = [
    '#',
    'parameters',
    o.rankBy,
    'return %',
    'max DD %',
    'trades',
    `neighbours' mean ${o.rankBy} (run)`,
    'front',
  ];
  const frontRows = [...o.front].sort(
    (a, b) => (o.ranked[b]!.stats[o.px] as number) - (o.ranked[a]!.stats[o.px] as number),
  );
  return renderReport({
    title: `${o.title}: sweep of ${o.ranked.length} runs, the best by ${o.rankBy} (${comboText(best.combo)})`,
    time: o.cols.ts,
    open: o.cols.open,
    high: o.cols.high,
    low: o.cols.low,
    close: o.cols.close,
    equity: r.equity,
    trades: r.trades,
    stats: r.stats,
    scatters: [
      {
        title: `Every run on ${o.px} and ${o.py}: the Pareto front in blue, joined`,
        xLabel: o.px,
        yLabel: o.py,
        points: o.ranked.map((x, i) => ({
          x: x.stats[o.px] as number,
          y: x.stats[o.py] as number,
          label: `#${i + 1} ${comboText(x.combo)}`,
          marked: o.front.has(i),
        })),
      },
    ],
    tables: [
      {
        title: `The ${Math.min(o.top, o.ranked.length)} best by ${o.rankBy}`,
        head,
        rows: o.ranked.slice(0, o.top).map((_, i) => row(i)),
      },
      { title: `Pareto front of ${o.px} and ${o.py} (no run beats these on both)`, head, rows: frontRows.map(row) },
      // what the limits did in the best run, their halts shaded on its charts
      ...(r.risk ? [limitsTable(o.limits ?? {}, r.risk)] : []),
    ],
    ...(r.risk
      ? {
          halted: haltSpans(o.limits ?? {}, r.risk.halts),
          drawdownStopPct: o.limits?.maxDrawdownPct,
        }
      : {}),
  });
}
