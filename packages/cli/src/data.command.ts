import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  candlesRepo,
  createRuntime,
  downloadHistory,
  INTERVALS,
  loadConfig,
  parseCandlesCsv,
  symbolsRepo,
} from '@algotrade/adapters';
import { SYMBOL_PATTERN } from '@algotrade/core';
import { parseArgs, progressBar, UsageError } from './args.ts';

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/data');

const ASSET_CLASSES = ['stock', 'crypto', 'fx'] as const;

async function importFile(
  file: string,
  symbol: string,
  interval: string,
  assetClass: (typeof ASSET_CLASSES)[number],
): Promise<number> {
  if (!(interval in INTERVALS)) throw new UsageError(`--interval must be one of ${Object.keys(INTERVALS).join(', ')}`);
  if (!SYMBOL_PATTERN.test(symbol))
    throw new UsageError(`--symbol must be 1-40 letters, digits and ._:- (GOOG, BTCUSD, BRK.B), not "${symbol}"`);
  if (!ASSET_CLASSES.includes(assetClass))
    throw new UsageError(`--asset must be one of ${ASSET_CLASSES.join(', ')}, not "${assetClass}"`);
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const parsed = parseCandlesCsv(readFileSync(file, 'utf8'));
  const rt = await createRuntime(loadConfig({ ...process.env, LOG_LEVEL: 'error' }));
  try {
    const sym = symbol.toUpperCase();
    await symbolsRepo(rt.db.db).upsert({
      symbol: sym,
      provider: 'import',
      assetClass,
      base: sym.replace(/(USD|EUR)$/, ''),
      quote: /EUR$/.test(sym) ? 'EUR' : 'USD',
      active: false,
    });
    const n = await candlesRepo(rt.db.db).upsert(sym, interval, parsed.candles);
    console.log(`${sym} ${interval}: imported ${n}, skipped ${parsed.skipped}`);
    for (const e of parsed.errors.slice(0, 10)) console.log(`  line ${e.line}: ${e.message}`);
    return n;
  } finally {
    await rt.close();
  }
}

/** `algotrade import <file.csv> --symbol S [--interval 1d] [--asset stock|crypto|fx]` */
export async function importCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { symbol: 'string', interval: 'string', asset: 'string' });
  if (!positional[0] || !flags.symbol) {
    console.error(
      'usage: algotrade import <file.csv> --symbol SYMBOL [--interval 1m|5m|15m|30m|1h|4h|1d|1w] [--asset stock|crypto|fx]',
    );
    return 2;
  }
  const imported = await importFile(
    positional[0],
    String(flags.symbol),
    String(flags.interval ?? '1d'),
    (flags.asset as 'stock') ?? 'stock',
  );
  return imported > 0 ? 0 : 1; // nothing readable in the file: the rows' errors are printed above
}

/** `algotrade import-examples`: the bundled real histories (GOOG daily, BTCUSD monthly, EURUSD hourly). */
export async function importExamplesCommand(): Promise<number> {
  await importFile(path.join(EXAMPLES, 'GOOG.csv'), 'GOOG', '1d', 'stock');
  await importFile(path.join(EXAMPLES, 'EURUSD.csv'), 'EURUSD', '1h', 'fx');
  // monthly bars are stored under 1d (there is no monthly interval); backtests read them as they are
  await importFile(path.join(EXAMPLES, 'BTCUSD.csv'), 'BTCUSD', '1d', 'crypto');
  return 0;
}

const when = (x: string, flag: string) => {
  const t = /^\d+$/.test(x) ? Number(x) : Date.parse(x);
  if (!Number.isFinite(t))
    throw new UsageError(`--${flag} must be a date (2024-01-31, ISO time) or epoch milliseconds`);
  return t;
};

/**
 * `algotrade download --exchange coinbaseexchange --market BTC/USD --since 2024-01-01 [--until ...]
 * [--timeframe 1m] [--symbol BTCUSD] [--page-limit N] [--api-url URL]`: an exchange's candles through
 * CCXT into the candle store, with a progress bar.
 */
export async function downloadCommand(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, {
    exchange: 'string',
    market: 'string',
    symbol: 'string',
    timeframe: 'string',
    since: 'string',
    until: 'string',
    'page-limit': 'string',
    'api-url': 'string',
  });
  if (!flags.exchange || !flags.market || !flags.since) {
    console.error(
      'usage: algotrade download --exchange ID --market BASE/QUOTE --since DATE [--until DATE] [--timeframe 1m|5m|15m|30m|1h|4h|1d|1w] [--symbol SYMBOL] [--page-limit N] [--api-url URL]',
    );
    return 2;
  }
  const rt = await createRuntime(loadConfig({ ...process.env, LOG_LEVEL: 'error' }));
  const bar = progressBar(`${flags.exchange} ${flags.market}`);
  try {
    const r = await downloadHistory(rt.db.db, {
      exchange: String(flags.exchange),
      market: String(flags.market),
      timeframe: String(flags.timeframe ?? '1m'),
      since: when(String(flags.since), 'since'),
      ...(flags.until ? { until: when(String(flags.until), 'until') } : {}),
      ...(flags.symbol ? { symbol: String(flags.symbol) } : {}),
      ...(flags['page-limit'] ? { pageLimit: Number(flags['page-limit']) } : {}),
      ...(flags['api-url'] ? { apiUrl: String(flags['api-url']) } : {}),
      onProgress: (p) => bar.update(p),
    });
    bar.done();
    console.log(
      `${r.symbol} ${r.interval}: stored ${r.stored} candles${r.first ? ` (${r.first} .. ${r.last})` : ''}, skipped ${r.malformed} malformed`,
    );
    return 0;
  } finally {
    await rt.close();
  }
}
