import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** real 1-minute candles, [ts_ms, open, high, low, close, volume] (test/fixtures/SOURCES.md) */
export const real = JSON.parse(
  readFileSync(path.join(root, 'test/fixtures/freqtrade/UNITTEST_BTC-1m-first2000.json'), 'utf8'),
) as number[][];
// served: the real candles less a 500-minute hole (a page of nothing), and one garbage row
const HOLE = [1000, 1500];
export const served = real.filter((_, i) => i < HOLE[0]! || i >= HOLE[1]!);
export const GARBAGE_TS = served[200]![0]!;

/**
 * The Coinbase Exchange REST API as documented: `GET /currencies`, `GET /products`, and
 * `GET /products/{id}/candles?granularity=&start=&end=` answering `[time_s, low, high, open, close,
 * volume]` rows newest first, at most 300 per request (400 beyond), granularity one of six values.
 */
export function coinbaseRest() {
  const requests: string[] = [];
  /** ms each candles answer waits (a slow exchange) */
  const slow = { ms: 0 };
  const server = http.createServer(async (req, res) => {
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
    if (slow.ms) await new Promise((r) => setTimeout(r, slow.ms));
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
  return { server, requests, slow };
}
