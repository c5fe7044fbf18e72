import {
  comboVariants,
  gridVariants,
  inlineRunner,
  portfolioWindows,
  rangeValues,
  sampleGrid,
  type Graph,
  type ParamGrid,
} from '@algotrade/strategy';
import { RANK_BY, type RankBy } from '@algotrade/strategy';
import { int, parseArgs, UsageError } from './args.ts';
import {
  dataList,
  engineOptions,
  loadStrategyAndBars,
  loadStrategyAndLegs,
  noPortfolioLimits,
  portfolioLimitsOf,
} from './backtest.command.ts';

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

/** The most points a whole grid may have here (more: a random or adaptive search of them). */
export const MAX_GRID = 1000;

/**
 * The points a grid search runs, from its flags: every point of the grid (at most MAX_GRID), or
 * `--sample` of them drawn at random with `--seed` (1 unless given). Each compiled; a point that does
 * not compile, or a grid too large, is a UsageError saying so.
 */
export function searchVariants(flags: Record<string, string | boolean>, graph: Graph, grid: ParamGrid) {
  try {
    return flags.sample === undefined
      ? gridVariants(graph, grid, MAX_GRID)
      : comboVariants(
          graph,
          sampleGrid(grid, int(flags.sample, 'sample', 0, 1, MAX_GRID), int(flags.seed, 'seed', 1, 0, 0xffffffff)),
        );
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--grid: ${(e as Error).message}`);
  }
}

/** An adaptive search asked for with `--tpe --sample N [--seed S] [--startup K]`, or null without `--tpe`. */
export function adaptiveFlags(flags: Record<string, string | boolean>): {
  count: number;
  seed: number;
  startup: number;
} | null {
  if (flags.startup !== undefined && !flags.tpe) throw new UsageError('--startup is for an adaptive search (--tpe)');
  if (!flags.tpe) return null;
  if (flags.sample === undefined)
    throw new UsageError('--tpe needs --sample: how many backtests the adaptive search may run');
  return {
    count: int(flags.sample, 'sample', 0, 1, MAX_GRID),
    seed: int(flags.seed, 'seed', 1, 0, 0xffffffff),
    startup: int(flags.startup, 'startup', 10, 2, 100),
  };
}

/**
 * Every value of a grid applied alone to the graph must compile, for an adaptive search (a proposal
 * may be any point): a UsageError naming the first that does not.
 */
export function checkGridValues(graph: Graph, grid: ParamGrid): void {
  for (const [key, values] of Object.entries(grid)) searchVariants({}, graph, { [key]: values });
}

/**
 * A grid command's arguments (`sweep`, `walk-forward`): its flags, the engine's options, the grid and
 * the measure it ranks by; null (the usage printed) when the strategy, data or grid is missing.
 */
export function gridCommandArgs<S extends Parameters<typeof parseArgs>[1]>(argv: string[], spec: S, usage: string) {
  const { flags } = parseArgs(argv, spec);
  if (!flags.strategy || !flags.data || !flags.grid) {
    console.error(usage);
    return null;
  }
  const options = engineOptions(flags);
  const grid = parseGrid(String(flags.grid));
  const rankBy = String(flags['rank-by'] ?? 'sharpe') as RankBy;
  if (!RANK_BY.includes(rankBy)) throw new UsageError(`--rank-by must be one of ${RANK_BY.join(', ')}`);
  // a combination with fewer closed trades ranks last
  const minTrades = int(flags['min-trades'], 'min-trades', 0, 0, 1_000_000);
  return { flags, options, grid, rankBy, minTrades };
}

/** A text table: each column as wide as its widest cell, two spaces apart. */
export function printTable(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows])
    console.log(
      r
        .map((c, i) => c.padEnd(w[i]!))
        .join('  ')
        .trimEnd(),
    );
}

/**
 * A grid command's strategy and bars (`sweep`, `walk-forward`): one symbol's (loadStrategyAndBars), or
 * with `--data` naming several (and `--weights`), a portfolio's: its legs' merged times as the bars,
 * with the allocation held as the price, and `portfolio.run` running a window of them as a portfolio
 * backtest (portfolioWindows). null (its errors printed) when the strategy does not compile.
 */
export async function loadGridData(flags: Record<string, string | boolean>) {
  const datas = dataList(flags);
  if (datas.length <= 1) {
    if (flags.weights !== undefined)
      throw new UsageError('--weights is for a portfolio: give --data several symbols or files');
    noPortfolioLimits(flags);
    const one = await loadStrategyAndBars(flags);
    return one && { ...one, legs: undefined, portfolio: undefined };
  }
  const many = await loadStrategyAndLegs(flags, datas);
  if (!many) return many;
  // each run (a window) with the limits on its summed equity, when given
  const portfolio = portfolioWindows(many.legs, inlineRunner(), portfolioLimitsOf(flags));
  const data = many.legs.map((l) => l.symbol).join(',');
  return { ...many, cols: portfolio.bars, data, asset: undefined, detail: undefined, portfolio };
}

/** A portfolio's legs as printed ahead of a grid command's table: each symbol with its weight, and what each run is. */
export const portfolioLine = (legs: readonly { symbol: string; weight: number }[], each: string) =>
  `a portfolio: ${legs.map((l) => `${l.symbol} ${(l.weight * 100).toFixed(1)} %`).join(', ')} (${each})\n`;

/** A portfolio's legs as a grid command's JSON has them. */
export const portfolioJson = (legs: readonly { symbol: string; weight: number }[] | undefined) =>
  legs ? { portfolio: legs.map((l) => ({ symbol: l.symbol, weight: l.weight })) } : {};
