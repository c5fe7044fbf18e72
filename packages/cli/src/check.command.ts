import { existsSync } from 'node:fs';
import { candlesRepo, createRuntime, INTERVALS, loadConfig } from '@algotrade/adapters';
import type { BarColumns } from '@algotrade/core';
import {
  alignBars,
  checkStrategy,
  toColumns,
  warmupBars,
  type CheckMismatch,
  type StrategyCheck,
} from '@algotrade/strategy';
import { int, parseArgs, progressBar, UsageError } from './args.ts';
import { loadStrategyAndBars } from './backtest.command.ts';

const SPEC = {
  strategy: 'string',
  data: 'string',
  from: 'string',
  to: 'string',
  interval: 'string',
  starts: 'string',
  cuts: 'string',
  points: 'string',
  tolerance: 'string',
  json: 'boolean',
} as const;

const USAGE =
  'usage: algotrade check --strategy <template|file.json> --data <file.csv|SYMBOL> [--from ...] [--to ...] [--interval 1d]\n' +
  '         [--starts 16,50,200] [--cuts 60] [--points 20] [--tolerance 0.1] [--json]\n' +
  '       look-ahead, one bar at a time against blocks, and how much history each value needs (docs/strategies.md)';

/** `--starts 16,50,200`: warm-up lengths in bars */
function parseStarts(v: string | boolean | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = String(v)
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (!parts.length || parts.length > 20)
    throw new UsageError('--starts takes 1 to 20 numbers of bars, such as 16,50,200');
  return parts.map((p) => int(p, 'starts', 0, 1, 100_000));
}

const pct = (x: number | null) => (x === null ? 'undef.' : x < 0.0005 ? '0' : x < 10 ? x.toFixed(3) : x.toFixed(1));
const value = (x: number | null) => (x === null ? 'undefined' : String(Number(x.toPrecision(8))));
const mismatchLine = (m: CheckMismatch) =>
  m.port === '(signal)'
    ? `  ${m.time.slice(0, 19)} bar ${m.index}: signal ${m.expectedAction ?? 'none'} with all the data, ${m.actualAction ?? 'none'} here`
    : `  ${m.time.slice(0, 19)} bar ${m.index}: ${m.nodeId}.${m.port} ${value(m.expected)} with all the data, ${value(m.actual)} here`;

/** The report as text: the two checks' verdicts, then the warm-up table. */
export function checkText(r: StrategyCheck, what: string): string {
  const out: string[] = [];
  out.push(`Strategy check: ${what} (${r.bars} bars; the compiler declares a warm-up of ${r.declaredWarmup} bars)`);
  out.push('');
  out.push(
    r.lookahead.ok
      ? `Look-ahead:        none (${r.lookahead.barsChecked} bars, each evaluated again on the data cut after it)`
      : `Look-ahead:        FOUND: values differ when the data ends at the bar (${r.lookahead.barsChecked} bars checked)`,
  );
  for (const m of r.lookahead.mismatches.slice(0, 5)) out.push(mismatchLine(m));
  out.push(
    r.live.ok
      ? `One bar at a time: the same (${r.live.barsChecked} bars fed as a paper session feeds ticks, as in blocks)`
      : `One bar at a time: DIFFERENT from the blocks a backtest evaluates`,
  );
  for (const m of r.live.mismatches.slice(0, 5)) out.push(mismatchLine(m));
  const w = r.warmup;
  out.push('');
  if (!w.starts.length) {
    out.push('Warm-up: the data is too short to try any start');
    return out.join('\n');
  }
  out.push(
    `Warm-up: the largest difference from the run over all the data, in % of each output's mean size, started that many bars`,
  );
  out.push(
    `before ${w.points.length} points from bar ${w.points[0]} to ${w.points.at(-1)}; settled: within ${w.tolerancePct} % from there on`,
  );
  const rows = [
    ['bars of history', ...w.starts.map(String), 'settled'],
    ...w.outputs
      .filter((o) => o.used)
      .map((o) => [
        `${o.nodeId}.${o.port}`,
        ...o.diffPct.map(pct),
        o.settledBars === null ? 'no' : String(o.settledBars),
      ]),
    ['signals agree %', ...w.signalsAgreePct.map((a) => a.toFixed(0)), ''],
  ];
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((row) => row[k]!.length)));
  for (const row of rows)
    out.push('  ' + row.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join('  '));
  out.push('');
  out.push(
    w.recommendedBars === null
      ? `Recommended warm-up: more than ${w.starts.at(-1)} bars (no start tried settles every value and signal)`
      : `Recommended warm-up: ${w.recommendedBars} bars (every value settled and every signal the same from there on)`,
  );
  out.push(
    `  a paper session and a walk-forward window warm on ${warmupBars(r.declaredWarmup)} bars (a session's ticks: at most 1,000)`,
  );
  return out.join('\n');
}

/**
 * The stored candles of the other symbols a strategy reads, over the bars' time, aligned with them (as the
 * API and the backtest service align them): `--data` must be a stored symbol then, not a file.
 */
async function storedOthers(symbols: readonly string[], data: string, interval: string, cols: BarColumns) {
  if (existsSync(data))
    throw new UsageError(
      `the strategy reads other symbols (${symbols.join(', ')}): give --data a stored symbol, and their candles are read from the database beside it`,
    );
  const rt = await createRuntime(loadConfig({ ...process.env, LOG_LEVEL: 'error' }));
  try {
    const repo = candlesRepo(rt.db.db);
    const from = new Date(cols.ts[0]! - (INTERVALS[interval] ?? 0));
    const to = new Date(cols.ts[cols.length - 1]! + 1);
    const out: Float64Array[] = [];
    for (const symbol of symbols) {
      const candles = await repo.query(symbol, interval, from, to, 10_000_000);
      if (!candles.length)
        throw new UsageError(
          `the strategy reads ${symbol}, which has no stored ${interval} candles over these bars (algotrade import <file.csv> --symbol ${symbol} --interval ${interval})`,
        );
      out.push(...alignBars(cols.ts, toColumns(candles)));
    }
    return out;
  } finally {
    await rt.close();
  }
}

/** `algotrade check`: the strategy check on a CSV file or a stored symbol; exit 1 when it looks ahead or differs live. */
export async function checkCommand(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, SPEC);
  if (!flags.strategy || !flags.data) {
    console.error(USAGE);
    return 2;
  }
  const starts = parseStarts(flags.starts);
  const cuts = int(flags.cuts, 'cuts', 60, 1, 500);
  const points = int(flags.points, 'points', 20, 1, 200);
  const tolerance = flags.tolerance === undefined ? 0.1 : Number(flags.tolerance);
  if (!(tolerance > 0 && tolerance <= 100))
    throw new UsageError(`--tolerance is a percentage above 0 and at most 100 (got ${flags.tolerance})`);
  const loaded = await loadStrategyAndBars(flags);
  if (!loaded) return 1;
  const { plan, cols, data, strategy } = loaded;
  if (plan.symbols.length)
    cols.others = await storedOthers(plan.symbols, String(flags.data), String(flags.interval ?? '1d'), cols);
  const bar = flags.json ? undefined : progressBar('check');
  const r = await checkStrategy(plan, cols, {
    cuts,
    points,
    tolerance: tolerance / 100,
    starts,
    onProgress: (p) => bar?.update(p),
  });
  bar?.done();
  if (flags.json) console.log(JSON.stringify(r));
  else console.log(checkText(r, `${strategy} on ${data}`));
  return r.lookahead.ok && r.live.ok ? 0 : 1;
}
