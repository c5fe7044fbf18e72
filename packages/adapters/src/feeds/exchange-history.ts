import type { Candle } from '@algotrade/core';
import type { Db } from '../db/connect.ts';
import { barOffset, candlesRepo, INTERVALS, symbolsRepo } from '../db/repos/candles.repo.ts';

/**
 * Historical candles from an exchange's REST API through CCXT (an optional dependency: `npm ci`
 * installs it; the rest of the platform runs without it). CCXT speaks each exchange's own protocol and
 * rate limits, and hands back unified candles, `[timestamp_ms, open, high, low, close, volume]`, oldest
 * first.
 */
export interface OhlcvExchange {
  id: string;
  has: Record<string, unknown>;
  timeframes?: Record<string, unknown>;
  urls: Record<string, unknown>;
  /** what CCXT knows of the exchange's endpoints: `features.spot.fetchOHLCV.limit` is its page size */
  features?: { spot?: { fetchOHLCV?: { limit?: number } } };
  fetchOHLCV(symbol: string, timeframe?: string, since?: number, limit?: number): Promise<unknown[]>;
  loadMarkets(): Promise<Record<string, unknown>>;
  close?(): Promise<void>;
}

export class ExchangeHistoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExchangeHistoryError';
  }
}

/**
 * Opens a CCXT exchange by id (`coinbaseexchange`, `binance`, `kraken`, ...), rate-limited. `apiUrl`
 * points its REST API elsewhere (a proxy, or a local server replaying the exchange in tests).
 */
export async function openExchange(id: string, apiUrl?: string): Promise<OhlcvExchange> {
  let ccxt: { exchanges?: unknown } & Record<string, unknown>;
  try {
    // the package's default export is the CCXT object (its `exchanges` is the list of ids)
    const mod = (await import('ccxt')) as unknown as { default?: Record<string, unknown> } & Record<string, unknown>;
    ccxt = mod.default ?? mod;
  } catch {
    throw new ExchangeHistoryError('exchange downloads need the optional dependency ccxt: npm install ccxt');
  }
  const exchanges = Array.isArray(ccxt.exchanges) ? (ccxt.exchanges as string[]) : Object.keys(ccxt.exchanges ?? {});
  const Ctor = ccxt[id] as (new (opts: object) => OhlcvExchange) | undefined;
  if (!exchanges.includes(id) || typeof Ctor !== 'function')
    throw new ExchangeHistoryError(
      `unknown exchange '${id}'; CCXT knows ${exchanges.length} (e.g. ${exchanges.slice(0, 8).join(', ')}, coinbaseexchange, kraken)`,
    );
  const ex = new Ctor({ enableRateLimit: true, timeout: 30_000 });
  if (!ex.has.fetchOHLCV) throw new ExchangeHistoryError(`${id} does not serve historical candles (fetchOHLCV)`);
  if (apiUrl) {
    // every REST entry point of the exchange goes to apiUrl
    const api = ex.urls.api;
    ex.urls.api =
      typeof api === 'string' ? apiUrl : Object.fromEntries(Object.keys(api as object).map((k) => [k, apiUrl]));
  }
  return ex;
}

/** Our symbol for an exchange's market symbol: `BTC/USD` -> `BTCUSD`, `BTC/USDT:USDT` -> `BTCUSDT`. */
export const localSymbol = (market: string) =>
  market
    .split(':')[0]!
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase();

export interface DownloadOptions {
  /** the exchange's market symbol, e.g. `BTC/USD` */
  market: string;
  /** one of the platform's intervals that the exchange also serves */
  timeframe: string;
  since: number;
  /** exclusive; default now (the candle still forming is never stored) */
  until?: number;
  /** stops the download between two pages */
  signal?: AbortSignal;
  /** candles per request (default and maximum: what the exchange serves per request, per CCXT; else 500) */
  pageLimit?: number;
}

export interface DownloadPage {
  candles: Candle[];
  /** 0..1 of the requested range covered so far */
  progress: number;
  /** rows the exchange sent that are not valid candles (skipped, never stored) */
  malformed: number;
}

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : NaN);

/** A unified CCXT row as a candle, or null when it is not one (missing or non-finite fields, high < low, ...). */
export function toCandle(row: unknown, stepMs: number): Candle | null {
  if (!Array.isArray(row) || row.length < 6) return null;
  const [ts, open, high, low, close, volume] = row.slice(0, 6).map(num) as number[];
  if ([ts, open, high, low, close, volume].some((v) => Number.isNaN(v))) return null;
  // aligned to its interval as the candle store aligns bars (weeks start on Mondays)
  if ((ts! - barOffset(stepMs)) % stepMs !== 0 || volume! < 0 || low! <= 0) return null;
  if (high! < Math.max(open!, close!, low!) || low! > Math.min(open!, close!)) return null;
  return { ts: ts!, open: open!, high: high!, low: low!, close: close!, volume: volume! };
}

/**
 * Pages through an exchange's candles from `since` to `until`, oldest first. A page the exchange answers
 * empty (no trades then) moves on by a page's span; the candle still forming is dropped. Each yielded
 * page is new, valid and in order; malformed rows are counted and skipped.
 */
export async function* downloadCandles(ex: OhlcvExchange, o: DownloadOptions): AsyncGenerator<DownloadPage> {
  const step = INTERVALS[o.timeframe];
  if (!step) throw new ExchangeHistoryError(`timeframe must be one of ${Object.keys(INTERVALS).join(', ')}`);
  if (ex.timeframes && !(o.timeframe in ex.timeframes))
    throw new ExchangeHistoryError(
      `${ex.id} has no ${o.timeframe} candles; it serves ${Object.keys(ex.timeframes).join(', ')}`,
    );
  const markets = await ex.loadMarkets();
  if (!(o.market in markets))
    throw new ExchangeHistoryError(
      `${ex.id} has no market '${o.market}' (markets are written like ${Object.keys(markets).slice(0, 3).join(', ')})`,
    );
  const offset = barOffset(step);
  const start = Math.ceil((o.since - offset) / step) * step + offset;
  const until = Math.min(o.until ?? Date.now(), Date.now());
  if (!(until > start)) throw new ExchangeHistoryError('since must be before until (and in the past)');
  // a page the exchange answers empty moves the cursor on by one page: it must be the exchange's real
  // page size, or candles after a gap would be skipped
  const most = ex.features?.spot?.fetchOHLCV?.limit ?? 500;
  const limit = Math.max(1, Math.min(o.pageLimit ?? most, most));
  let cursor = start;
  while (cursor < until) {
    if (o.signal?.aborted) throw new ExchangeHistoryError('the download was stopped');
    const rows = await ex.fetchOHLCV(o.market, o.timeframe, cursor, limit);
    const candles: Candle[] = [];
    let malformed = 0;
    let last = cursor - step;
    for (const row of rows) {
      const c = toCandle(row, step);
      if (!c) {
        malformed++;
        continue;
      }
      // in order, new, in range, and closed (its end is in the past)
      if (c.ts <= last || c.ts < cursor || c.ts >= until || c.ts + step > Date.now()) continue;
      candles.push(c);
      last = c.ts;
    }
    cursor = candles.length ? last + step : cursor + limit * step;
    yield { candles, progress: Math.min(1, (cursor - start) / (until - start)), malformed };
  }
}

export interface HistoryDownload {
  /** a CCXT exchange id, or an exchange openExchange() already opened */
  exchange: string | OhlcvExchange;
  market: string;
  /** stored under this symbol (default: the market without separators, `BTC/USD` -> `BTCUSD`) */
  symbol?: string;
  timeframe: string;
  since: number;
  until?: number;
  pageLimit?: number;
  /** with an exchange id: where its REST calls go (see openExchange) */
  apiUrl?: string;
  signal?: AbortSignal;
  onProgress?: (progress: number, stored: number) => void;
}

/**
 * Downloads an exchange's candles into the candle store, page by page (each page stored as it arrives,
 * so an interrupted download keeps what it fetched and a second run only rewrites the same candles).
 */
export async function downloadHistory(
  db: Db,
  o: HistoryDownload,
): Promise<{ symbol: string; interval: string; stored: number; malformed: number; first?: string; last?: string }> {
  const ex = typeof o.exchange === 'string' ? await openExchange(o.exchange, o.apiUrl) : o.exchange;
  const symbol = (o.symbol ?? localSymbol(o.market)).toUpperCase();
  const [base = symbol, quote = 'USD'] = o.market.split(':')[0]!.split('/');
  const candles = candlesRepo(db);
  let stored = 0;
  let malformed = 0;
  let first: number | undefined;
  let last: number | undefined;
  try {
    for await (const page of downloadCandles(ex, o)) {
      if (page.candles.length) {
        // the symbol exists once it has candles (a refused market or an empty range leaves none behind)
        if (first === undefined)
          await symbolsRepo(db).upsert({ symbol, provider: ex.id, assetClass: 'crypto', base, quote, active: false });
        stored += await candles.upsert(symbol, o.timeframe, page.candles);
        first ??= page.candles[0]!.ts;
        last = page.candles[page.candles.length - 1]!.ts;
      }
      malformed += page.malformed;
      o.onProgress?.(page.progress, stored);
    }
  } finally {
    await ex.close?.();
  }
  return {
    symbol,
    interval: o.timeframe,
    stored,
    malformed,
    ...(first !== undefined ? { first: new Date(first).toISOString() } : {}),
    ...(last !== undefined ? { last: new Date(last).toISOString() } : {}),
  };
}
