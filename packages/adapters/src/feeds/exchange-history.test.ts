import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/env.ts';
import { openDatabase, type DbHandle } from '../db/connect.ts';
import { candlesRepo } from '../db/repos/candles.repo.ts';
import { downloadHistory, ExchangeHistoryError } from './exchange-history.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** real 1-minute candles, [ts_ms, open, high, low, close, volume] (test/fixtures/SOURCES.md) */
const real = JSON.parse(
  readFileSync(path.join(root, 'test/fixtures/freqtrade/UNITTEST_BTC-1m-first2000.json'), 'utf8'),
) as number[][];
// served: the real candles less a 500-minute hole (a page of nothing), and one garbage row
const HOLE = [1000, 1500];
const served = real.filter((_, i) => i < HOLE[0]! || i >= HOLE[1]!);
const GARBAGE_TS = served[200]![0]!;

/**
 * The Coinbase Exchange REST API as documented: `GET /currencies`, `GET /products`, and
 * `GET /products/{id}/candles?granularity=&start=&end=` answering `[time_s, low, high, open, close,
 * volume]` rows newest first, at most 300 per request (400 beyond), granularity one of six values.
 */
function coinbaseRest() {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    requests.push(u.pathname + u.search);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/currencies')
      return send(200, [
        { id: 'BTC', name: 'Bitcoin', min_size: '0.00000001', status: 'online', max_precision: '0.00000001' },
        { id: 'USD', name: 'United States Dollar', min_size: '0.01', status: 'online', max_precision: '0.01' },
      ]);
    if (u.pathname === '/products')
      return send(200, [
        {
          id: 'BTC-USD',
          base_currency: 'BTC',
          quote_currency: 'USD',
          quote_increment: '0.01',
          base_increment: '0.00000001',
          display_name: 'BTC-USD',
          min_market_funds: '1',
          margin_enabled: false,
          post_only: false,
          limit_only: false,
          cancel_only: false,
          status: 'online',
          status_message: '',
          trading_disabled: false,
          fx_stablecoin: false,
          auction_mode: false,
        },
      ]);
    const m = /^\/products\/([^/]+)\/candles$/.exec(u.pathname);
    if (!m) return send(404, { message: 'NotFound' });
    if (m[1] !== 'BTC-USD') return send(404, { message: 'NotFound' });
    const g = Number(u.searchParams.get('granularity'));
    if (![60, 300, 900, 3600, 21600, 86400].includes(g)) return send(400, { message: 'Unsupported granularity' });
    const start = Date.parse(u.searchParams.get('start')!);
    const end = Date.parse(u.searchParams.get('end')!);
    if ((end - start) / (g * 1000) > 300)
      return send(400, {
        message: 'granularity too small for the requested time range. Count of aggregations requested exceeds 300',
      });
    const rows = served
      .filter((c) => c[0]! >= start && c[0]! <= end)
      .map(([ts, o, h, l, c, v]) =>
        ts === GARBAGE_TS ? [ts! / 1000, null, 'x', o, c, v] : [ts! / 1000, l, h, o, c, v],
      )
      .reverse();
    send(200, rows);
  });
  return { server, requests };
}

describe('exchange history through CCXT (Coinbase Exchange REST replayed on a local socket)', () => {
  const tmp = tempDir();
  let db: DbHandle;
  let api: ReturnType<typeof coinbaseRest>;
  let url: string;
  const since = real[0]![0]!;
  const until = real[real.length - 1]![0]! + 60_000;
  beforeAll(async () => {
    db = await openDatabase({ backend: 'pglite', dir: path.join(tmp.dir, 'db') });
    api = coinbaseRest();
    await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    api.server.close();
    await db.close();
    tmp.remove();
  });

  it('pages through the range, stores every valid candle exactly, skips the garbage row and the empty page', async () => {
    const progress: number[] = [];
    const r = await downloadHistory(db.db, {
      exchange: 'coinbaseexchange',
      market: 'BTC/USD',
      timeframe: '1m',
      since,
      until,
      apiUrl: url,
      onProgress: (p) => progress.push(p),
    });
    const expected = served.filter((c) => c[0] !== GARBAGE_TS);
    expect(r).toMatchObject({ symbol: 'BTCUSD', interval: '1m', stored: expected.length, malformed: 1 });
    expect(r.first).toBe(new Date(expected[0]![0]!).toISOString());
    expect(r.last).toBe(new Date(expected[expected.length - 1]![0]!).toISOString());
    const stored = await candlesRepo(db.db).query('BTCUSD', '1m');
    // open, high, low, close and volume each in its place (the exchange sends low, high, open, close)
    expect(stored.map((c) => [c.ts, c.open, c.high, c.low, c.close, c.volume])).toEqual(expected);
    // pages of at most 300 minutes, the last one short; progress only grows, to 1
    const pages = api.requests.filter((q) => q.includes('/candles'));
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil((until - since) / 60_000 / 300));
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(1);
  });

  it('a second run rewrites the same candles (nothing doubled)', async () => {
    const r = await downloadHistory(db.db, {
      exchange: 'coinbaseexchange',
      market: 'BTC/USD',
      timeframe: '1m',
      since,
      until,
      apiUrl: url,
    });
    expect((await candlesRepo(db.db).query('BTCUSD', '1m')).length).toBe(r.stored);
  });

  it('refuses, with a clear reason, an unknown exchange, a market or timeframe the exchange lacks, an empty range', async () => {
    const base = { market: 'BTC/USD', timeframe: '1m', since, until, apiUrl: url };
    const fails = (o: Partial<Parameters<typeof downloadHistory>[1]>) =>
      downloadHistory(db.db, { exchange: 'coinbaseexchange', ...base, ...o });
    await expect(fails({ exchange: 'nosuchexchange' })).rejects.toThrow(/unknown exchange 'nosuchexchange'/);
    await expect(fails({ market: 'DOGE/EUR' })).rejects.toThrow(/no market 'DOGE\/EUR'.*BTC\/USD/);
    await expect(fails({ timeframe: '30m' })).rejects.toThrow(/no 30m candles; it serves 1m, 5m/);
    await expect(fails({ timeframe: '2m' })).rejects.toThrow(ExchangeHistoryError);
    await expect(fails({ since: until, until: since })).rejects.toThrow(/since must be before until/);
  });

  it('`algotrade download` does the same from the command line', async () => {
    const dir = path.join(tmp.dir, 'cli');
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          path.join(root, 'bin/algotrade.mjs'),
          'download',
          '--exchange',
          'coinbaseexchange',
          '--market',
          'BTC/USD',
          '--symbol',
          'XBT',
          '--since',
          new Date(since).toISOString(),
          '--until',
          String(since + 600 * 60_000),
          '--api-url',
          url,
        ],
        { env: { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'error' } },
        (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    const n = served.filter((c) => c[0]! < since + 600 * 60_000 && c[0] !== GARBAGE_TS).length;
    expect(out.stderr).toMatch(/100%/);
    expect(out.stdout).toContain(`XBT 1m: stored ${n} candles`);
    expect(out.stdout).toContain('skipped 1 malformed');
    expect(out.code).toBe(0);
  }, 60_000);
});
