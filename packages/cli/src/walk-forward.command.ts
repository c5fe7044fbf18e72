import { writeFileSync } from 'node:fs';
import {
  comboVariants,
  foldsTable,
  gridVariants,
  rangeValues,
  sampleGrid,
  inlineRunner,
  limitsCell,
  RANK_BY,
  renderReport,
  viewBars,
  statsRows,
  walkForward,
  type Graph,
  type ParamGrid,
  type RankBy,
} from '@algotrade/strategy';
import { int, parseArgs, progressBar, UsageError } from './args.ts';
import { engineOptions, loadStrategyAndBars, RUN_FLAGS } from './backtest.command.ts';

const SPEC = {
  ...RUN_FLAGS,
  grid: 'string',
  folds: 'string',
  oos: 'string',
  anchored: 'boolean',
  'rank-by': 'string',
  sample: 'string',
  seed: 'string',
  report: 'string',
  json: 'boolean',
} as const;

const USAGE =
  'usage: algotrade walk-forward --strategy <template|file.json> --data <file.csv|SYMBOL>\n' +
  '         --grid "fast.period=5,10,20; slow.period=20..60:10" [--folds 5] [--oos 25] [--anchored]\n' +
  `         [--rank-by ${RANK_BY.join('|')}] [--sample 200 [--seed 1]] [--from ...] [--to ...] [--interval 1d] [--cash 100000]\n` +
  '         [--fee 0.001] [--fee-fixed 0] [--slippage 5] [--short] [--on-close] [--asset stock|crypto]\n' +
  '         [--leverage 5] [--maintenance-margin 0.5] [--funding 0.01] [--detail <finer.csv|1m>]\n' +
  '         [--report out.html] [--json]';

/**
 * A grid as typed: `node.param=v1,v2,...` parts separated by `;`, where a value may be a range
 * `from..to:step` (step 1 when left out). Numbers become numbers, anything else stays text.
 */
export function parseGrid(text: string): ParamGrid {
  const grid: Record<string, (number | string)[]> = {};
  const parts = text
    .split(/[;\n]/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new UsageError('--grid names no parameter: write "node.param=value,value;..."');
  for (const part of parts) {
    const m = /^([^.=\s]+\.[^.=\s]+)\s*=\s*(.+)$/.exec(part);
    if (!m) throw new UsageError(`--grid: "${part}" is not node.param=value,value,...`);
    const key = m[1]!;
    if (grid[key]) throw new UsageError(`--grid names ${key} twice`);
    const values: (number | string)[] = [];
    for (const raw of m[2]!.split(',').map((v) => v.trim())) {
      const range = /^(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)(?:\s*:\s*([\d.]+))?$/.exec(raw);
      if (range) {
        const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
        if (![from, to, step].every(Number.isFinite))
          throw new UsageError(`--grid: "${raw}" is not a range from..to:step`);
        try {
          values.push(...rangeValues(key, { from, to, step }));
        } catch (e) {
          throw new UsageError(`--grid: ${(e as Error).message}`);
        }
      } else if (raw !== '') values.push(Number.isFinite(Number(raw)) ? Number(raw) : raw);
    }
    if (!values.length) throw new UsageError(`--grid: ${key} has no values`);
    grid[key] = [...new Set(values)];
  }
  return grid;
}

const fmt = (x: unknown, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-');
const day = (iso: string) => iso.slice(0, 10);

/** `algotrade walk-forward`: optimise on each in-sample window, test on the next; print the folds and the chained result. */
export async function walkForwardCommand(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, SPEC);
  if (!flags.strategy || !flags.data || !flags.grid) {
    console.error(USAGE);
    return 2;
  }
  const options = engineOptions(flags);
  const grid = parseGrid(String(flags.grid));
  const rankBy = String(flags['rank-by'] ?? 'sharpe') as RankBy;
  if (!RANK_BY.includes(rankBy)) throw new UsageError(`--rank-by must be one of ${RANK_BY.join(', ')}`);
  const spec = {
    folds: int(flags.folds, 'folds', 5, 2, 20),
    outOfSamplePct: int(flags.oos, 'oos', 25, 5, 50),
    anchored: !!flags.anchored,
    rankBy,
  };
  const loaded = await loadStrategyAndBars(flags);
  if (!loaded) return 1;
  const { strategy, cols, data, asset, detail } = loaded;
  let variants;
  try {
    // a random search: that many points of the grid, drawn with the seed (1 unless given)
    variants =
      flags.sample === undefined
        ? gridVariants(loaded.graph as Graph, grid, 1000)
        : comboVariants(
            loaded.graph as Graph,
            sampleGrid(grid, int(flags.sample, 'sample', 0, 1, 1000), int(flags.seed, 'seed', 1, 0, 0xffffffff)),
          );
  } catch (e) {
    throw new UsageError(`--grid: ${(e as Error).message}`);
  }
  const bar = flags.json ? undefined : progressBar('walk-forward');
  const t0 = performance.now();
  let res;
  try {
    res = await walkForward(
      variants,
      cols,
      { ...options, wholeUnits: asset === 'stock', ...(detail ? { detail } : {}) },
      spec,
      inlineRunner(),
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
    console.log(JSON.stringify({ spec, ...res }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
  } else {
    const limited = res.folds.some((f) => f.limits);
    const rows = res.folds.map((f) => [
      String(f.fold),
      `${day(f.inSample.from)}..${day(f.inSample.to)}`,
      `${day(f.outOfSample.from)}..${day(f.outOfSample.to)}`,
      Object.entries(f.chosen)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      fmt(f.inSampleStats[rankBy]),
      fmt(f.outOfSampleStats[rankBy]),
      fmt(f.outOfSampleStats.returnPct),
      String(f.outOfSampleStats.trades),
      // with risk limits: what they did in the out-of-sample window
      ...(limited ? [f.limits ? limitsCell(f.limits) : '-'] : []),
    ]);
    const head = [
      'fold',
      'in sample',
      'out of sample',
      'chosen',
      `IS ${rankBy}`,
      `OOS ${rankBy}`,
      'OOS return %',
      'trades',
      ...(limited ? ['risk limits'] : []),
    ];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows])
      console.log(
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join('  ')
          .trimEnd(),
      );
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
    const runs = variants.length * (spec.folds + 1) + spec.folds;
    console.error(`\n${cols.length} bars, ${variants.length} combinations, ${runs} backtests in ${ms.toFixed(0)} ms`);
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
      }),
    );
    console.error(`report written to ${flags.report}`);
  }
  return 0;
}
