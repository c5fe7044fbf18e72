import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/env.ts';

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

describe('the command line says what is wrong with what was typed, without a stack trace', () => {
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
    const bt = await cli('backtest', '--strategy', 'sma-crossover', '--data', 'GOOG', '--json');
    expect(bt.code).toBe(0);
    expect(JSON.parse(bt.stdout).stats.start).toBe('2004-08-19T00:00:00.000Z');
  });
});
