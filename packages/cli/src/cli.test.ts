import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Candle } from '@algotrade/core';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/env.ts';
import { aggregated, freqtradeMinutes } from '../../../test/helpers/freqtrade.ts';
import { tightCrossover, viaOtherSymbol } from '../../../test/helpers/graphs.ts';
import { bruteFront } from '../../../test/helpers/pareto.ts';
import { compileGraph, limitsCell, runBacktest, runPortfolio, templateById } from '@algotrade/strategy';
import { backtestingPyBars, googBars } from '../../../test/helpers/goog.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = tempDir();
afterAll(() => tmp.remove());

/** `algotrade ...args` in a process of its own, on an embedded database of its own */
const cli = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [path.join(root, 'bin/algotrade.mjs'), ...args],
      { cwd: root, env: { ...process.env, DATA_DIR: tmp.dir, LOG_LEVEL: 'error' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );

/** `walk-forward` over the GOOG example with more arguments */
const wf = (...more: string[]) => [
  'walk-forward',
  '--strategy',
  'sma-crossover',
  '--data',
  'examples/data/GOOG.csv',
  ...more,
];

// each test starts the CLI in processes of its own (tsx compiling it each time), several in a row: on a
// loaded two-core machine (CI's) one took over 30 s, so these take up to 2 minutes
describe('the command line says what is wrong with what was typed, without a stack trace', { timeout: 120_000 }, () => {
  it.concurrent.each([
    [['backtest', '--strategy', 'nope', '--data', 'examples/data/GOOG.csv'], /^error: "nope" is neither a template/],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'missing/GOOG.csv'],
      /^error: no such file: missing\/GOOG\.csv/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--cash', 'lots'],
      /^error: --cash must be a non-negative number \(got lots\)/,
    ],
    [['backtest', '--strategy', 'README.md', '--data', 'GOOG'], /^error: README\.md is not a JSON strategy file/],
    [['backtest', '--strategy', 'sma-crossover', '--data', 'GOOG', '--bogus'], /^error: unknown option --bogus/],
    [['import', 'missing.csv', '--symbol', 'X'], /^error: no such file: missing\.csv/],
    [['import', 'examples/data/GOOG.csv', '--symbol', 'bad sym!'], /^error: --symbol must be 1-40 letters/],
    [['import', 'examples/data/GOOG.csv', '--symbol', 'G', '--asset', 'bond'], /^error: --asset must be one of stock/],
    [['import', 'examples/data/GOOG.csv', '--symbol', 'G', '--interval', '7m'], /^error: --interval must be one of/],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--monte-carlo', '5'],
      /^error: --monte-carlo takes a number of runs from 10 to 100000 \(got 5\)/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--weights', '1,2'],
      /^error: --weights is for a portfolio/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv,examples/data/GOOG.csv'],
      /^error: --data names a symbol twice \(GOOG, GOOG\)/,
    ],
    [
      [
        'backtest',
        '--strategy',
        'sma-crossover',
        '--data',
        'examples/data/GOOG.csv,examples/data/EURUSD.csv',
        '--weights',
        '1',
      ],
      /^error: --weights: 1 weights for 2 symbols/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--leverage', '200'],
      /^error: --leverage, --maintenance-margin: leverage must be from 1 to 125 \(got 200\)/,
    ],
    [
      [
        'backtest',
        '--strategy',
        'sma-crossover',
        '--data',
        'examples/data/GOOG.csv',
        '--leverage',
        '50',
        '--maintenance-margin',
        '2',
      ],
      /^error: --leverage, --maintenance-margin: a maintenance margin of 2 % is not below the initial margin of 2 % at 50x/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--funding', '2'],
      /^error: --funding must be a % from -1 to 1 \(got 2\)/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--max-drawdown', '0'],
      /^error: --max-drawdown must be a number above 0, at most 100 \(got 0\)/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--max-orders-per-minute', '1.5'],
      /^error: --max-orders-per-minute must be a whole number above 0, at most 10000 \(got 1\.5\)/,
    ],
    [
      // the API's bound (RiskInput: 125x leverage's worth of equity)
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--max-position-pct', '12501'],
      /^error: --max-position-pct must be a number above 0, at most 12500 \(got 12501\)/,
    ],
    [
      ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--resume-next-day'],
      /^error: --resume-next-day goes with --max-daily-loss/,
    ],
    [wf('--grid', 'fast=5'), /^error: --grid: "fast=5" is not node\.param=value/],
    [wf('--grid', 'ghost.period=5'), /^error: --grid: the strategy has no node "ghost"/],
    [wf('--grid', 'fast.period=5', '--folds', '1'), /^error: --folds must be a whole number from 2 to 20 \(got 1\)/],
    [
      wf('--grid', 'fast.period=5', '--to', '2004-09-10', '--folds', '20', '--oos', '5'),
      /^error: \d+ bars make out-of-sample windows of 0 bars/,
    ],
    [
      ['check', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--starts', '10,0'],
      /^error: --starts must be a whole number from 1 to 100000 \(got 0\)/,
    ],
    [
      ['check', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--tolerance', '0'],
      /^error: --tolerance is a percentage above 0/,
    ],
  ])('%j', async (args, said) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(said);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('an import that reads no row fails (status 1) and says why; a good one stores its candles', async () => {
    const bad = await cli('import', 'README.md', '--symbol', 'X');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/X 1d: imported 0, skipped \d+\n {2}line 1: header lacks a timestamp column/);
    const good = await cli('import', 'examples/data/GOOG.csv', '--symbol', 'GOOG');
    expect(good).toMatchObject({ code: 0, stdout: 'GOOG 1d: imported 2148, skipped 0\n' });
    // and a backtest reads the stored symbol
    const bt = await cli('backtest', '--strategy', 'sma-crossover', '--data', 'GOOG', '--json', '--monte-carlo', '200');
    expect(bt.code).toBe(0);
    const out = JSON.parse(bt.stdout);
    expect(out.stats.start).toBe('2004-08-19T00:00:00.000Z');
    // the Monte Carlo's own-run figure is the backtest's return, from its trades
    expect(out.monteCarlo).toMatchObject({ runs: 200, method: 'bootstrap', trades: out.trades.length });
    expect(out.monteCarlo.actual.returnPct).toBeCloseTo(out.stats.returnPct, 6);
  });

  it('checks a strategy: no look-ahead, the same one bar at a time, the warm-up table; --json has it all', async () => {
    const check = (...more: string[]) =>
      cli('check', '--strategy', 'ema-crossover', '--data', 'examples/data/GOOG.csv', '--starts', '27,79,300', ...more);
    const r = await check();
    expect(r.stderr).toMatch(/check 100%/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Strategy check: ema-crossover on examples\/data\/GOOG\.csv \(2148 bars; the compiler declares a warm-up of 26 bars\)/,
    );
    expect(r.stdout).toMatch(/Look-ahead: +none \(60 bars/);
    expect(r.stdout).toMatch(/One bar at a time: the same \(2148 bars/);
    expect(r.stdout).toMatch(/^ +bars of history +27 +79 +300 +settled$/m);
    expect(r.stdout).toMatch(/^ +slow\.value( +[\d.]+){3} +(79|300)$/m);
    expect(r.stdout).toMatch(/Recommended warm-up: (79|300) bars/);
    const j = await check('--json');
    const parsed = JSON.parse(j.stdout);
    expect(parsed).toMatchObject({ bars: 2148, declaredWarmup: 26, lookahead: { ok: true }, live: { ok: true } });
    expect(parsed.warmup.starts).toEqual([27, 79, 300]);
    const slow = parsed.warmup.outputs.find((o: { nodeId: string }) => o.nodeId === 'slow');
    expect(r.stdout).toContain(`Recommended warm-up: ${parsed.warmup.recommendedBars} bars`);
    expect(slow.diffPct[0]).toBeGreaterThan(slow.diffPct[1]);
  });

  it("checks a strategy reading another symbol on stored candles, that symbol's read beside them", async () => {
    for (const sym of ['GCHK', 'GCHKB'])
      expect((await cli('import', 'examples/data/GOOG.csv', '--symbol', sym, '--interval', '1d')).code).toBe(0);
    const file = path.join(tmp.dir, 'reads-gchkb.json');
    writeFileSync(file, JSON.stringify(viaOtherSymbol(structuredClone(templateById('sma-crossover')!.graph), 'GCHKB')));
    const r = await cli('check', '--strategy', file, '--data', 'GCHK', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed).toMatchObject({ bars: 2148, lookahead: { ok: true, mismatches: [] }, live: { ok: true } });
    // its SMA reads GCHKB's closes: undefined before its period, as on GCHK's own
    const slow = parsed.warmup.outputs.find((o: { nodeId: string }) => o.nodeId === 'slow');
    expect(slow.settledBars).toBe(31);
    // on a file, or with another symbol not stored: what to do instead
    const onFile = await cli('check', '--strategy', file, '--data', 'examples/data/GOOG.csv');
    expect([onFile.code, onFile.stderr]).toEqual([2, expect.stringMatching(/^error: .*give --data a stored symbol/)]);
    writeFileSync(file, JSON.stringify(viaOtherSymbol(structuredClone(templateById('sma-crossover')!.graph), 'NOPE')));
    const missing = await cli('check', '--strategy', file, '--data', 'GCHK');
    expect([missing.code, missing.stderr]).toEqual([
      2,
      expect.stringMatching(
        /^error: the strategy reads NOPE, which has no stored 1d candles over these bars \(algotrade import/,
      ),
    ]);
  });

  it('walk-forward with risk limits prints what they did in each fold', async () => {
    const file = path.join(tmp.dir, 'walk-forward-limits.html');
    const limited = wf(
      '--grid',
      'fast.period=5,10; slow.period=30',
      '--folds',
      '3',
      '--max-daily-loss',
      '2',
      '--resume-next-day',
    );
    const r = await cli(...limited, '--report', file);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^Fold\s+In sample\s+Out of sample\s+Picked\s+IS sharpe\s+OOS sharpe\s+OOS return %\s+Trades\s+Risk limits$/,
    );
    const j = JSON.parse((await cli(...limited, '--json')).stdout);
    j.folds.forEach((f: { limits: Parameters<typeof limitsCell>[0] }, k: number) =>
      expect(lines[k + 1]!.trimEnd().endsWith(limitsCell(f.limits))).toBe(true),
    );
    expect(r.stdout).toMatch(/daily loss \d/);
    // --report: each fold's pauses shaded on the three charts, in order
    const halts = j.folds.flatMap((f: { limits: { halts: { time: string }[] } }) => f.limits.halts);
    expect(halts.length).toBeGreaterThan(1);
    const titles = [...readFileSync(file, 'utf8').matchAll(/class="halt"><title>([^<]*)</g)].map((m) => m[1]);
    const said = halts.map(
      (x: { time: string }) => `paused for the day: daily loss (${x.time.slice(0, 16).replace('T', ' ')})`,
    );
    expect(titles).toEqual([...said, ...said, ...said]);
  });

  it('walk-forward prints each fold and the chained out-of-sample result; --json gives it all', async () => {
    const args = wf('--asset', 'stock', '--grid', 'fast.period=5..20:5; slow.period=30,50', '--folds', '4');
    const text = await cli(...args, '--short', '--cash', '10000');
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^Fold\s+In sample\s+Out of sample\s+Picked\s+IS sharpe\s+OOS sharpe/);
    expect(lines.slice(1, 5).map((l) => l.split(/\s+/)[0])).toEqual(['1', '2', '3', '4']);
    expect(text.stdout).toMatch(/walk-forward efficiency/);
    expect(text.stderr).toMatch(/2148 bars, 8 combinations, 44 backtests in \d+ ms/);
    const json = await cli(...args, '--short', '--cash', '10000', '--json');
    expect(json.stderr).toBe('');
    const r = JSON.parse(json.stdout);
    expect(r.spec).toEqual({ folds: 4, outOfSamplePct: 25, anchored: false, rankBy: 'sharpe' });
    expect(r.folds).toHaveLength(4);
    // the range 5..20:5 became 5, 10, 15, 20
    expect(new Set(r.folds.map((f: { chosen: Record<string, number> }) => f.chosen['fast.period']))).toSatisfy(
      (s: Set<number>) => [...s].every((v) => [5, 10, 15, 20].includes(v)),
    );
    const pnl = r.trades.reduce((s: number, t: { pnl: number }) => s + t.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(r.equity.equity.at(-1) * 100));
    // --pick robust: each fold the best with its neighbours, never better in sample than the best
    const robust = JSON.parse((await cli(...args, '--short', '--cash', '10000', '--pick', 'robust', '--json')).stdout);
    expect(robust.spec).toEqual({ ...r.spec, pick: 'robust' });
    robust.folds.forEach((f: { inSampleStats: { sharpe: number } }, i: number) =>
      expect(f.inSampleStats.sharpe).toBeLessThanOrEqual(r.folds[i].inSampleStats.sharpe),
    );
    const bad = await cli(...args, '--pick', 'luckiest');
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'error: --pick: "best" or "robust", not "luckiest"']);
  });

  it('walk-forward over a portfolio (--data with commas): each window a portfolio backtest of the legs', async () => {
    const args = [
      'walk-forward',
      '--strategy',
      'sma-crossover',
      '--data',
      'examples/data/GOOG.csv,examples/data/BTCUSD.csv',
      '--weights',
      '3,1',
      '--grid',
      'fast.period=5,10; slow.period=30,50',
      '--folds',
      '3',
      '--cash',
      '10000',
    ];
    const r = JSON.parse((await cli(...args, '--json')).stdout);
    expect(r.portfolio).toEqual([
      { symbol: 'GOOG', weight: 0.75 },
      { symbol: 'BTCUSD', weight: 0.25 },
    ]);
    expect(r.folds).toHaveLength(3);
    expect(new Set(r.trades.map((t: { symbol: string }) => t.symbol))).toEqual(new Set(['GOOG', 'BTCUSD']));
    // the chained windows reconcile to the cent, and each window's trades are its own
    const pnl = r.trades.reduce((acc: number, t: { pnl: number }) => acc + t.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(r.equity.equity.at(-1) * 100));
    for (const f of r.folds) {
      const [from, to] = [Date.parse(f.outOfSample.from), Date.parse(f.outOfSample.to)];
      const own = r.trades.filter((t: { entryTime: number }) => t.entryTime >= from && t.entryTime <= to);
      expect(own).toHaveLength(f.outOfSampleStats.trades);
    }
    const text = await cli(...args);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^a portfolio: GOOG 75\.0 %, BTCUSD 25\.0 %/);
    // a detail timeframe is one symbol's; weights are a portfolio's
    const detail = await cli(...args, '--detail', 'examples/data/EURUSD.csv');
    expect([detail.code, detail.stderr]).toEqual([2, expect.stringMatching(/^error: --detail is for one symbol/)]);
    const one = await cli(...wf('--grid', 'fast.period=5,10', '--weights', '1'));
    expect([one.code, one.stderr]).toEqual([2, expect.stringMatching(/^error: --weights is for a portfolio/)]);
  });

  it('sweep ranks a grid, a random sample or an adaptive search (TPE) of it; the same for a seed', async () => {
    const sweep = (...more: string[]) =>
      cli('sweep', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--cash', '10000', ...more);
    type Ranked = { rank: number; n: number; combo: Record<string, number>; stats: { sharpe: number | null } };
    const whole = JSON.parse((await sweep('--grid', 'fast.period=5,10; slow.period=20,30,40', '--json')).stdout);
    expect(whole.ranked).toHaveLength(6);
    const sharpes = whole.ranked.map((r: Ranked) => r.stats.sharpe ?? -Infinity);
    expect(sharpes).toEqual([...sharpes].sort((a: number, b: number) => b - a));
    // the best so far, run by run, ends at the ranking's best
    expect(whole.convergence.at(-1)).toBe(whole.ranked[0].stats.sharpe);
    // what the Sharpe ratio depends on: both parameters, largest share first
    expect(whole.importance.map((p: { key: string }) => p.key).sort()).toEqual(['fast.period', 'slow.period']);
    // two parameters, each combination run once: no spread within a cell to tell an interaction from noise
    expect(whole.interactions).toEqual([]);
    // how overfit the best is: PBO over the six runs' returns, the best Sharpe ratio deflated for six trials
    expect(whole.overfitting).toMatchObject({ trials: 6, blocks: 16, blockBars: 134, splits: 12_870 });
    expect(whole.overfitting.pbo).toBeGreaterThanOrEqual(0);
    expect(whole.overfitting.pbo).toBeLessThanOrEqual(1);
    expect(whole.overfitting.best.dsr).toBeLessThan(whole.overfitting.best.psr);
    // the Pareto front of return and drawdown: the runs no other beats on both, by rank
    type S = { rank: number; pareto?: boolean; stats: Record<string, number> };
    const frontOf = (all: S[], x: string, y: string) => bruteFront(all, (p) => p.stats, x, y).map((p) => p.rank);
    expect(whole.pareto).toEqual({
      x: 'returnPct',
      y: 'maxDrawdownPct',
      ranks: frontOf(whole.ranked, 'returnPct', 'maxDrawdownPct'),
    });
    // each run among its neighbours in the grid (one step in one parameter), and the run best with them
    type N = {
      rank: number;
      combo: Record<string, number>;
      stats: { sharpe: number | null };
      plateau?: Record<string, number>;
    };
    const values: Record<string, number[]> = { 'fast.period': [5, 10], 'slow.period': [20, 30, 40] };
    const near = (p: N, q: N) => {
      const d = Object.keys(p.combo).filter((k) => p.combo[k] !== q.combo[k]);
      return (
        d.length === 1 &&
        Math.abs(values[d[0]!]!.indexOf(p.combo[d[0]!]!) - values[d[0]!]!.indexOf(q.combo[d[0]!]!)) === 1
      );
    };
    const withNeighbours = (whole.ranked as N[]).map((p) => {
      const around = (whole.ranked as N[])
        .filter((q) => near(p, q) && q.stats.sharpe !== null)
        .map((q) => q.stats.sharpe!);
      if (p.stats.sharpe === null) return -Infinity;
      if (p.plateau) expect(p.plateau.neighbours).toBe(around.length);
      return (around.reduce((x, y) => x + y, 0) + p.stats.sharpe) / (around.length + 1);
    });
    (whole.ranked as N[]).forEach((p, i) => {
      if (p.plateau) expect(p.plateau.withNeighbours).toBeCloseTo(withNeighbours[i]!, 12);
    });
    expect(whole.robust.rank).toBe(withNeighbours.indexOf(Math.max(...withNeighbours)) + 1);
    expect(whole.ranked.filter((r: S) => r.pareto).map((r: S) => r.rank)).toEqual(
      [...whole.pareto.ranks].sort((a, b) => a - b),
    );
    const six = JSON.parse(
      (
        await sweep(
          '--grid',
          'fast.period=5,10; slow.period=20,30,40',
          '--blocks',
          '6',
          '--pareto',
          'sharpe,calmar',
          '--json',
        )
      ).stdout,
    );
    expect(six.pareto.ranks).toEqual(frontOf(six.ranked, 'sharpe', 'calmar'));
    // --report: the best run's report, with every run on the front's two measures and the tables
    const file = path.join(tmp.dir, 'sweep.html');
    const rep = await sweep('--grid', 'fast.period=5,10; slow.period=20,30,40', '--report', file);
    expect(rep.stderr).toContain(`report written to ${file}`);
    const html = readFileSync(file, 'utf8');
    const best = whole.ranked[0] as Ranked;
    expect(html).toContain(
      `sweep of 6 runs, the best by sharpe (fast.period=${best.combo['fast.period']} slow.period=${best.combo['slow.period']})`,
    );
    expect(html).toContain('Every run on returnPct and maxDrawdownPct: the Pareto front in blue, joined');
    // a point each, the front's in blue
    expect(html.match(/<circle [^>]*r="[34]" fill="#(2563eb|9ca3af)"/g)).toHaveLength(6);
    expect(html.match(/<circle [^>]*fill="#2563eb"/g)).toHaveLength(whole.pareto.ranks.length);
    expect(html).toContain('The 6 best by sharpe');
    expect(html).toContain('Pareto front of returnPct and maxDrawdownPct (no run beats these on both)');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(six.overfitting.splits).toBe(20);
    // --min-trades: fewer closed trades rank last, marked so
    const trades = whole.ranked.map((r: Ranked & { stats: { trades: number } }) => r.stats.trades);
    const minTrades = [...trades].sort((x: number, y: number) => x - y)[3];
    const few = JSON.parse(
      (await sweep('--grid', 'fast.period=5,10; slow.period=20,30,40', '--min-trades', String(minTrades), '--json'))
        .stdout,
    );
    type T = Ranked & { stats: { trades: number }; tooFewTrades?: boolean };
    const enough = few.ranked.filter((r: T) => r.stats.trades >= minTrades);
    expect(few.ranked.slice(0, enough.length)).toEqual(enough);
    for (const r of few.ranked) expect(!!r.tooFewTrades).toBe(r.stats.trades < minTrades);
  });

  it('sweep --tpe searches adaptively: a random start, then proposals; the same for a seed', async () => {
    const sweep = (...more: string[]) =>
      cli('sweep', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--cash', '10000', ...more);
    type Ranked = { rank: number; n: number; combo: Record<string, number>; stats: { sharpe: number | null } };
    const big = ['--grid', 'fast.period=2..40; slow.period=30..200:2'];
    const tpe = JSON.parse((await sweep(...big, '--sample', '30', '--tpe', '--seed', '2', '--json')).stdout);
    const again = JSON.parse((await sweep(...big, '--sample', '30', '--tpe', '--seed', '2', '--json')).stdout);
    expect(again).toEqual(tpe);
    expect(tpe.sample).toEqual({ method: 'tpe', count: 30, seed: 2, startup: 10, of: 39 * 86 });
    expect(new Set(tpe.ranked.map((r: Ranked) => JSON.stringify(r.combo))).size).toBe(30);
    // its start is the random search's ten points for the seed
    const random = JSON.parse((await sweep(...big, '--sample', '10', '--seed', '2', '--json')).stdout);
    const start = tpe.ranked.filter((r: Ranked) => r.n <= 10).map((r: Ranked) => JSON.stringify(r.combo));
    expect(start.sort()).toEqual(random.ranked.map((r: Ranked) => JSON.stringify(r.combo)).sort());
    const text = await sweep(...big, '--sample', '30', '--tpe', '--seed', '2', '--top', '3');
    expect(text.stdout.trim().split('\n')[1]).toMatch(/^1\s+fast\.period=\d+ slow\.period=\d+\s/);
    expect(text.stdout).toMatch(
      /adaptive search \(TPE\): the first 10 at random, then each proposed .* the best found at run \d+ of 30/,
    );
    expect(text.stderr).toMatch(/2148 bars, 30 backtests \(adaptively, of 3354 points, seed 2\) in \d+ ms/);
    expect(text.stdout).toMatch(
      /\n(the best also stands best with its neighbours: #1 |most robust \(best with its neighbours, -?\d+\.\d{3} against -?\d+\.\d{3}\): #\d+ )fast\.period=\d+ slow\.period=\d+: sharpe -?\d+\.\d{3}, its \d+ neighbours run/,
    );
    expect(text.stdout).toMatch(
      /Pareto front of returnPct and maxDrawdownPct \(no run beats these on both\): \d+ of 30 runs\n#\s+parameters\s+returnPct\s+maxDrawdownPct\s+trades\n/,
    );
    expect(text.stdout).toMatch(
      /overfitting: PBO \d+\.\d % \(CSCV, 16 blocks of 134 bars, 12870 splits\); the best Sharpe ratio's DSR \d\.\d{3} \(PSR \d\.\d{3}\) over 30 runs/,
    );
  });

  it('sweep over a portfolio (--data with commas): each run the portfolio backtest of its combination', async () => {
    const data = ['--data', 'examples/data/GOOG.csv,examples/data/BTCUSD.csv', '--weights', '3,1', '--cash', '10000'];
    const r = JSON.parse(
      (
        await cli(
          'sweep',
          '--strategy',
          'sma-crossover',
          ...data,
          '--grid',
          'fast.period=5,10; slow.period=30,50',
          '--json',
        )
      ).stdout,
    );
    expect(r.portfolio).toEqual([
      { symbol: 'GOOG', weight: 0.75 },
      { symbol: 'BTCUSD', weight: 0.25 },
    ]);
    expect(r.ranked).toHaveLength(4);
    expect(r.overfitting).toMatchObject({ trials: 4 });
    // the best and the worst are the portfolio backtests of their combinations run alone
    for (const at of [0, 3]) {
      const { combo, stats } = r.ranked[at];
      const graph = structuredClone(templateById('sma-crossover')!.graph);
      for (const n of graph.nodes) if (n.id === 'fast' || n.id === 'slow') n.data.period = combo[`${n.id}.period`];
      const file = path.join(tmp.dir, `pick${at}.json`);
      writeFileSync(file, JSON.stringify(graph));
      const alone = JSON.parse((await cli('backtest', '--strategy', file, ...data, '--json')).stdout);
      expect(stats.equityFinal).toBeCloseTo(alone.stats.equityFinal, 6);
      expect(stats.trades).toBe(alone.stats.trades);
      expect(stats.sharpe).toBeCloseTo(alone.stats.sharpe, 6);
    }
    const text = await cli('sweep', '--strategy', 'sma-crossover', ...data, '--grid', 'fast.period=5,10');
    expect(text.stdout).toMatch(/^a portfolio: GOOG 75\.0 %, BTCUSD 25\.0 %/);
  });

  it('sweep says what is wrong with its flags', async () => {
    const sweep = (...more: string[]) =>
      cli('sweep', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--cash', '10000', ...more);
    const big = ['--grid', 'fast.period=2..40; slow.period=30..200:2'];
    for (const [args, message] of [
      [big, /^error: --grid: the grid has 3354 combinations; at most 1000/],
      [['--grid', 'fast.period=5', '--min-trades', '-2'], /^error: --min-trades/],
      [['--grid', 'fast.period=5', '--blocks', '5'], /^error: --blocks must be even/],
      [['--grid', 'fast.period=5', '--pareto', 'sharpe'], /^error: --pareto: two different measures/],
      [['--grid', 'fast.period=5', '--pareto', 'sharpe,ghost'], /^error: --pareto: .*\(not "ghost"\)/],
      [[...big, '--tpe'], /^error: --tpe needs --sample/],
      [[...big, '--sample', '5', '--startup', '3'], /^error: --startup is for an adaptive search/],
      [['--grid', 'fast.period=5,9000', '--sample', '2', '--tpe'], /^error: --grid: .*9000/],
      [['--grid', 'fast.period=5', '--weights', '1'], /^error: --weights is for a portfolio/],
      [
        ['--grid', 'fast.period=5', '--data', 'examples/data/GOOG.csv,examples/data/BTCUSD.csv', '--detail', '1m'],
        /^error: --detail is for one symbol/,
      ],
    ] as const) {
      const r = await sweep(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('walk-forward --sample searches a large grid at random: as many points as asked, the same for the seed', async () => {
    const args = wf('--grid', 'fast.period=2..40; slow.period=30..200:2', '--folds', '3', '--json');
    // 39 × 86 = 3,354 points: more than a whole grid may have here
    expect((await cli(...args)).stderr).toMatch(/^error: --grid: the grid has 3354 combinations; at most 1000/);
    const one = JSON.parse((await cli(...args, '--sample', '8', '--seed', '4')).stdout);
    const two = JSON.parse((await cli(...args, '--sample', '8', '--seed', '4')).stdout);
    expect(one.folds.map((f: { chosen: object }) => f.chosen)).toEqual(
      two.folds.map((f: { chosen: object }) => f.chosen),
    );
    const text = await cli(...args.filter((a) => a !== '--json'), '--sample', '8');
    expect(text.stderr).toMatch(/2148 bars, 8 combinations, 35 backtests in \d+ ms/);
    for (const f of one.folds) expect(f.chosen['slow.period'] % 2).toBe(0);
    // or each window searched adaptively (TPE): the same for the seed
    const tpe = JSON.parse((await cli(...args, '--sample', '8', '--seed', '4', '--tpe', '--startup', '4')).stdout);
    const tpe2 = JSON.parse((await cli(...args, '--sample', '8', '--seed', '4', '--tpe', '--startup', '4')).stdout);
    expect(tpe2.folds).toEqual(tpe.folds);
    expect(tpe.folds).toHaveLength(3);
    const tpeText = await cli(...args.filter((a) => a !== '--json'), '--sample', '8', '--tpe');
    expect(tpeText.stderr).toMatch(/2148 bars, an adaptive search of 8 points in each window, 35 backtests in \d+ ms/);
  });

  it('backtests with leverage: --leverage 20 on GOOG liquidates positions, named in the trades', async () => {
    const args = ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--asset', 'stock'];
    const spot = JSON.parse((await cli(...args, '--short', '--cash', '10000', '--json')).stdout);
    const r = await cli(
      ...args,
      '--short',
      '--cash',
      '10000',
      '--json',
      '--leverage',
      '20',
      '--maintenance-margin',
      '1',
    );
    expect(r.stderr).toBe('');
    const lev = JSON.parse(r.stdout);
    type T = { size: number; pnl: number; exitReason: string };
    expect(lev.trades.some((t: T) => t.exitReason === 'liquidation')).toBe(true);
    expect(spot.trades.some((t: T) => t.exitReason === 'liquidation')).toBe(false);
    expect(Math.abs(lev.trades[0].size / spot.trades[0].size)).toBeCloseTo(20, 0);
    const pnl = lev.trades.reduce((a: number, t: T) => a + t.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(lev.stats.equityFinal * 100));
    // --funding: each trade pays (a long) or receives (a short) at the funding times it was held across
    const funded = JSON.parse((await cli(...args, '--short', '--cash', '10000', '--json', '--funding', '0.01')).stdout);
    type F = T & { funding: number };
    expect(funded.trades.filter((t: F) => t.size > 0).every((t: F) => t.funding > 0)).toBe(true);
    expect(funded.trades.filter((t: F) => t.size < 0).every((t: F) => t.funding < 0)).toBe(true);
    const fpnl = funded.trades.reduce((a: number, t: F) => a + t.pnl, 0);
    expect(Math.round((10_000 + fpnl) * 100)).toBe(Math.round(funded.stats.equityFinal * 100));
  });

  it("backtests with a maker's fee: --maker-fee on limit entries filled at their level, the engine's trades", async () => {
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'all', orderType: 'limit', offsetPct: 0.3 };
    const file = path.join(tmp.dir, 'limit-entries.json');
    writeFileSync(file, JSON.stringify(graph));
    const args = ['backtest', '--strategy', file, '--data', 'examples/data/GOOG.csv', '--asset', 'stock'];
    const money = ['--cash', '10000', '--fee', '0.001', '--json'];
    const r = await cli(...args, ...money, '--maker-fee', '0.0002');
    expect(r.stderr).toBe('');
    const own = runBacktest(compileGraph(graph).plan!, googBars(), {
      cash: 10_000,
      feeRate: 0.001,
      makerFeeRate: 0.0002,
      wholeUnits: true,
    });
    type T = { size: number; fees: number };
    expect(JSON.parse(r.stdout).trades.map((t: T) => [t.size, t.fees])).toEqual(
      own.trades.map((t) => [t.size, t.fees]),
    );
    // without it the limit entries pay the fee, as takers: more in all
    const taker = JSON.parse((await cli(...args, ...money)).stdout);
    const paid = (list: T[]) => list.reduce((s, t) => s + t.fees, 0);
    expect(paid(taker.trades)).toBeGreaterThan(paid(own.trades));
    expect((await cli(...args, '--maker-fee', 'cheap')).stderr).toMatch(
      /^error: --maker-fee must be a fee rate from -0.001/,
    );
    // a rebate: the makers' fills are paid for
    const rebate = JSON.parse((await cli(...args, ...money, '--maker-fee', '-0.0001')).stdout);
    const rebated = runBacktest(compileGraph(graph).plan!, googBars(), {
      cash: 10_000,
      feeRate: 0.001,
      makerFeeRate: -0.0001,
      wholeUnits: true,
    });
    expect(rebate.trades.map((t: T) => t.fees)).toEqual(rebated.trades.map((t) => t.fees));
    expect(paid(rebate.trades)).toBeLessThan(paid(own.trades));
    expect((await cli(...args, '--maker-fee', '-0.01')).stderr).toMatch(/^error: --maker-fee must be a fee rate/);
  });

  it("backtests in an exchange's lot size with a minimum order value: --qty-step, --min-notional", async () => {
    const graph = structuredClone(templateById('sma-crossover')!.graph);
    graph.nodes.find((n) => n.id === 'buy')!.data = { sizing: 'fixed_qty', amount: 10.3 };
    const file = path.join(tmp.dir, 'in-lots.json');
    writeFileSync(file, JSON.stringify(graph));
    const args = ['backtest', '--strategy', file, '--data', 'examples/data/GOOG.csv', '--asset', 'stock'];
    const lots = ['--cash', '10000', '--qty-step', '0.25', '--min-notional', '4000'];
    const r = await cli(...args, ...lots, '--json');
    expect(r.stderr).toBe('');
    const own = runBacktest(compileGraph(graph).plan!, googBars(), { cash: 10_000, qtyStep: 0.25, minNotional: 4000 });
    const j = JSON.parse(r.stdout);
    expect(j.trades.map((t: { size: number }) => t.size)).toEqual(own.trades.map((t) => t.size));
    expect(j.risk.refused).toEqual({ MIN_NOTIONAL: own.risk!.refused.MIN_NOTIONAL });
    // printed as the risk limits' refusals are
    const text = (await cli(...args, ...lots)).stdout;
    expect(text).toContain(`\nOrders refused\n  ${own.risk!.refused.MIN_NOTIONAL} entries refused: MIN_NOTIONAL\n`);
    expect((await cli(...args, '--qty-step', '0')).stderr).toMatch(
      /^error: --qty-step must be a lot size from 1e-8 to 1000000 \(got 0\)/,
    );
    // a short's borrow rate: the crossover's shorts pay it with their funding, its longs nothing
    const crossing = ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--short'];
    type F = { size: number; funding: number; pnl: number };
    const borrowed = JSON.parse((await cli(...crossing, '--borrow-rate', '10', '--json')).stdout).trades as F[];
    expect(borrowed.filter((t) => t.size < 0).every((t) => t.funding > 0)).toBe(true);
    expect(borrowed.filter((t) => t.size > 0).every((t) => t.funding === 0)).toBe(true);
  });

  it("backtests with a paper session's risk limits: --max-drawdown ends trading there, printed; --json has what they did", async () => {
    const args = ['backtest', '--strategy', 'sma-crossover', '--data', 'examples/data/GOOG.csv', '--asset', 'stock'];
    const limits = ['--cash', '10000', '--fee', '0.001', '--max-drawdown', '15', '--max-position-pct', '50'];
    const j = JSON.parse((await cli(...args, ...limits, '--json')).stdout);
    expect(j.risk.halts).toHaveLength(1);
    const halt = j.risk.halts[0];
    expect(halt).toMatchObject({ limit: 'max_drawdown' });
    expect(j.trades.at(-1)).toMatchObject({ exitReason: 'max_drawdown', exitTime: halt.time });
    type T = { size: number; entryPrice: number; entryTime: number };
    expect(j.trades.every((t: T) => t.entryTime < halt.time)).toBe(true);
    // half the equity at most in a position: never more than half of the peak
    expect(Math.max(...j.trades.map((t: T) => t.size * t.entryPrice))).toBeLessThanOrEqual(j.stats.equityPeak / 2);
    const text = await cli(...args, ...limits);
    const at = text.stdout.split('\n').indexOf('Risk limits');
    expect(at).toBeGreaterThan(0);
    expect(text.stdout.split('\n')[at + 1]).toBe(
      `  ${new Date(halt.time).toISOString().slice(0, 10)}  trading stopped: drawdown of ${halt.pct.toFixed(2)} %`,
    );
    // the same flags without the limits: no such section, trades after that day
    const free = await cli(...args, '--cash', '10000', '--fee', '0.001', '--json');
    const f = JSON.parse(free.stdout);
    expect(f.risk).toBeUndefined();
    expect(f.trades.some((t: T) => t.entryTime > halt.time)).toBe(true);
  });

  it('prints what closed the trades: the ROI template exits by its table or its stop, each counted', async () => {
    const r = await cli('backtest', '--strategy', 'rsi-roi', '--data', 'examples/data/GOOG.csv', '--asset', 'stock');
    const lines = r.stdout.split('\n');
    const trades = Number(
      lines
        .find((l) => l.startsWith('# Trades'))!
        .split(/\s+/)
        .at(-1),
    );
    const at = lines.findIndex((l) => l.startsWith('Exits'));
    expect(at).toBeGreaterThan(0);
    const rows = lines.slice(at + 1).filter((l) => l.startsWith('  '));
    const byReason = Object.fromEntries(
      rows.map((l) => l.trim().split(/\s+/)).map(([k, n, won]) => [k, [Number(n), Number(won)]]),
    );
    expect(Object.keys(byReason).sort()).toEqual(['roi', 'stop_loss']);
    expect(byReason.roi![0]! + byReason.stop_loss![0]!).toBe(trades);
    // an ROI exit takes a gain (its last step asks for any), a stop a loss here
    expect(byReason.roi![1]).toBe(100);
  });

  it('backtests with a detail timeframe: --detail minutes.csv beside 5-minute bars; more targets reached', async () => {
    const minutes = freqtradeMinutes();
    const csv = (c: readonly Candle[]) =>
      ['ts,open,high,low,close,volume', ...c.map((x) => Object.values(x).join(','))].join('\n');
    const five = path.join(tmp.dir, 'DETAIL5.csv');
    const fine = path.join(tmp.dir, 'DETAIL1.csv');
    writeFileSync(five, csv(aggregated(minutes, 300_000)));
    writeFileSync(fine, csv(minutes));
    const graph = tightCrossover(0.3, 0.3);
    const strategy = path.join(tmp.dir, 'tight.json');
    writeFileSync(strategy, JSON.stringify(graph));
    const args = ['backtest', '--strategy', strategy, '--data', five, '--short', '--json'];
    const targets = (out: string) =>
      (JSON.parse(out).trades as { exitReason: string }[]).filter((t) => t.exitReason === 'take_profit').length;
    const withDetail = await cli(...args, '--detail', fine);
    expect(withDetail.stderr).toBe('');
    expect(targets(withDetail.stdout)).toBeGreaterThan(targets((await cli(...args)).stdout));
    const missing = await cli(...args, '--detail', 'nope.csv');
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/^error: --detail takes a CSV file/)]);
  });

  it('backtests a portfolio of files: each with its share, the legs and their correlation printed, --json the sum', async () => {
    const args = [
      'backtest',
      '--strategy',
      'sma-crossover',
      '--data',
      'examples/data/GOOG.csv,examples/data/BTCUSD.csv',
    ];
    const text = await cli(...args, '--weights', '3,1', '--cash', '10000');
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^Symbol\s+Weight\s+Start\s+Final equity\s+Return\s+Contribution/);
    expect(lines[1]).toMatch(/^GOOG\s+75\.0%\s+7500\.00/);
    expect(lines[2]).toMatch(/^BTCUSD\s+25\.0%\s+2500\.00/);
    expect(text.stdout).toMatch(/correlation of returns/);
    const json = await cli(...args, '--weights', '3,1', '--cash', '10000', '--json');
    expect(json.stderr).toBe('');
    const r = JSON.parse(json.stdout);
    expect(r.portfolio.legs.map((l: { symbol: string }) => l.symbol)).toEqual(['GOOG', 'BTCUSD']);
    const sum = r.portfolio.legs.reduce((a: number, l: { finalEquity: number }) => a + l.finalEquity, 0);
    expect(r.stats.equityFinal).toBeCloseTo(sum, 6);
    const pnl = r.trades.reduce((a: number, t: { pnl: number }) => a + t.pnl, 0);
    expect(Math.round((10_000 + pnl) * 100)).toBe(Math.round(r.stats.equityFinal * 100));
    // one leg's figures are that file's own backtest with its share of the cash
    const one = JSON.parse(
      (
        await cli(
          'backtest',
          '--strategy',
          'sma-crossover',
          '--data',
          'examples/data/BTCUSD.csv',
          '--cash',
          '2500',
          '--json',
        )
      ).stdout,
    );
    expect(r.portfolio.legs[1].finalEquity).toBeCloseTo(one.stats.equityFinal, 6);
  });

  it("backtests a portfolio with limits on its summed equity: --portfolio-drawdown closes every symbol there, the engine's result", async () => {
    const data = ['--data', 'examples/data/GOOG.csv,examples/data/BTCUSD.csv', '--cash', '10000', '--weights', '3,1'];
    const args = ['backtest', '--strategy', 'sma-crossover', ...data];
    const r = JSON.parse((await cli(...args, '--portfolio-drawdown', '25', '--json')).stdout);
    const own = await runPortfolio(
      [
        { symbol: 'GOOG', weight: 0.75, bars: googBars() },
        { symbol: 'BTCUSD', weight: 0.25, bars: backtestingPyBars('BTCUSD.csv') },
      ],
      { cash: 10_000, feeRate: 0, allowShort: false },
      async (bars, o, onProgress) =>
        runBacktest(compileGraph(templateById('sma-crossover')!.graph).plan!, bars, { ...o, onProgress }),
      { limits: { maxDrawdownPct: 25 } },
    );
    expect(own.halts).toHaveLength(1);
    expect(r.portfolio.halts).toEqual([
      { time: new Date(own.halts![0]!.at).toISOString(), limit: 'max_drawdown', pct: own.halts![0]!.pct },
    ]);
    expect(r.stats.equityFinal).toBeCloseTo(own.stats.equityFinal, 6);
    expect(
      r.trades.filter((t: { exitReason: string }) => t.exitReason === 'portfolio_max_drawdown').length,
    ).toBeGreaterThan(0);
    // a sweep over the portfolio: its point of the template's periods is that backtest, the limit applied
    const sweepArgs = ['sweep', '--strategy', 'sma-crossover', ...data, '--grid', 'fast.period=5,10'];
    const sw = JSON.parse((await cli(...sweepArgs, '--portfolio-drawdown', '25', '--json')).stdout);
    const point = sw.ranked.find((x: { combo: Record<string, number> }) => x.combo['fast.period'] === 10);
    expect(point.stats.equityFinal).toBeCloseTo(r.stats.equityFinal, 6);
    // its --report: the best run's (a fast period of 5), with its limits' table and the engine's halts
    const swFile = path.join(tmp.dir, 'portfolio-limits-sweep.html');
    await cli(...sweepArgs, '--portfolio-drawdown', '25', '--report', swFile);
    expect(sw.ranked[0].combo).toEqual({ 'fast.period': 5 });
    const fast5 = structuredClone(templateById('sma-crossover')!.graph);
    fast5.nodes.find((x) => x.id === 'fast')!.data = { period: 5 };
    const best = await runPortfolio(
      [
        { symbol: 'GOOG', weight: 0.75, bars: googBars() },
        { symbol: 'BTCUSD', weight: 0.25, bars: backtestingPyBars('BTCUSD.csv') },
      ],
      { cash: 10_000, feeRate: 0, allowShort: false },
      async (bars, o, onProgress) => runBacktest(compileGraph(fast5).plan!, bars, { ...o, onProgress }),
      { limits: { maxDrawdownPct: 25 } },
    );
    expect(best.halts!.length).toBeGreaterThan(0);
    const swHtml = readFileSync(swFile, 'utf8');
    expect(swHtml).toContain('<h2>Risk limits: maxDrawdownPct 25</h2>');
    expect(swHtml).toMatch(/class="stop"><title>stop at -25%</);
    const said = best.halts!.map(
      (x) => `trading stopped: drawdown (${new Date(x.at).toISOString().slice(0, 16).replace('T', ' ')})`,
    );
    expect([...swHtml.matchAll(/class="halt"><title>([^<]*)</g)].map((m) => m[1])).toEqual([...said, ...said, ...said]);
    const file = path.join(tmp.dir, 'portfolio-limits.html');
    const text = (await cli(...args, '--portfolio-drawdown', '25', '--report', file)).stdout;
    expect(text).toMatch(
      /\nPortfolio limits \(the summed equity\)\n {2}\d{4}-\d\d-\d\d drawdown of \d+\.\d\d %: every symbol closed, trading over\n/,
    );
    // --report: the limits' table, and the halt shaded from its merged bar to the end on the three charts
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<h2>Risk limits: maxDrawdownPct 25</h2>');
    expect(html).toMatch(/class="stop"><title>stop at -25%</);
    const at = own.ts.indexOf(own.halts![0]!.at);
    const bands = [...html.matchAll(/<rect x="([\d.]+)" y="0" width="([\d.]+)" [^>]*class="halt"><title>([^<]*)</g)];
    expect(bands.map((m) => [Number(m[1]), Number(m[1]) + Number(m[2])])).toEqual(
      Array(3).fill([expect.closeTo(50 + (1040 * at) / (own.ts.length - 1), 1), expect.closeTo(1090, 1)]),
    );
    expect(bands[0]![3]).toMatch(/^trading stopped: drawdown \(/);
    for (const [more, message] of [
      [
        ['--data', 'examples/data/GOOG.csv', '--portfolio-drawdown', '10'],
        /^error: --portfolio-drawdown and --portfolio-daily-loss are a portfolio's/,
      ],
      [
        [...data, '--portfolio-daily-loss', '0'],
        /^error: --portfolio-daily-loss must be a % above 0, at most 100 \(got 0\)/,
      ],
      [
        [...data, '--resume-next-day'],
        /^error: --resume-next-day goes with --max-daily-loss or --portfolio-daily-loss/,
      ],
    ] as const) {
      const bad = await cli('backtest', '--strategy', 'sma-crossover', ...more);
      expect([bad.code, bad.stderr], more.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
    const one = await cli(
      'sweep',
      '--strategy',
      'sma-crossover',
      '--data',
      'examples/data/GOOG.csv',
      '--grid',
      'fast.period=5,10',
      '--portfolio-drawdown',
      '10',
    );
    expect([one.code, one.stderr]).toEqual([
      2,
      expect.stringMatching(/^error: --portfolio-drawdown and --portfolio-daily-loss are a portfolio's/),
    ]);
  });

  it("gives a portfolio's symbols their own lot sizes and minimums: --qty-step 5,BTCUSD=0.01, each leg as it runs alone", async () => {
    const data = ['--data', 'examples/data/GOOG.csv,examples/data/BTCUSD.csv', '--cash', '10000'];
    const args = ['backtest', '--strategy', 'sma-crossover', ...data, '--asset', 'stock'];
    const r = JSON.parse(
      (await cli(...args, '--qty-step', '5,btcusd=0.01', '--min-notional', 'BTCUSD=100', '--json')).stdout,
    );
    type T = { symbol: string; size: number; pnl: number };
    const legOf = (s: string) => (r.trades as T[]).filter((t) => t.symbol === s).map((t) => [t.size, t.pnl]);
    const alone = async (file: string, ...more: string[]) =>
      (
        JSON.parse(
          (await cli('backtest', '--strategy', 'sma-crossover', '--data', file, '--cash', '5000', ...more, '--json'))
            .stdout,
        ).trades as T[]
      ).map((t) => [t.size, t.pnl]);
    expect(legOf('GOOG')).toEqual(await alone('examples/data/GOOG.csv', '--asset', 'stock', '--qty-step', '5'));
    expect(legOf('BTCUSD')).toEqual(
      await alone('examples/data/BTCUSD.csv', '--asset', 'stock', '--qty-step', '0.01', '--min-notional', '100'),
    );
    expect(legOf('GOOG').every(([size]) => size! % 5 === 0)).toBe(true);
    expect(legOf('BTCUSD').some(([size]) => !Number.isInteger(size))).toBe(true);
    // a symbol's own for one symbol, for a symbol not in --data, or out of the API's bounds: said so
    for (const [more, message] of [
      [
        ['--data', 'examples/data/GOOG.csv', '--qty-step', 'GOOG=5'],
        /^error: a symbol's own --qty-step or --min-notional is for a portfolio/,
      ],
      [
        [...data, '--qty-step', 'ETHUSD=0.01'],
        /^error: --qty-step, --min-notional: ETHUSD not in --data \(GOOG, BTCUSD\)/,
      ],
      [
        [...data, '--min-notional', 'BTCUSD=-1'],
        /^error: --min-notional must be an order value from 0 to 1000000000 \(got BTCUSD=-1\)/,
      ],
      [[...data, '--maker-fee', 'BTCUSD=0.001'], /^error: --maker-fee is one for the run/],
    ] as const) {
      const bad = await cli('backtest', '--strategy', 'sma-crossover', ...more);
      expect([bad.code, bad.stderr], more.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
  });
});
