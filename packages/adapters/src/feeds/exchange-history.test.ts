import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/env.ts';
import { openDatabase, type DbHandle } from '../db/connect.ts';
import { candlesRepo, symbolsRepo } from '../db/repos/candles.repo.ts';
import { downloadHistory, ExchangeHistoryError, toCandle } from './exchange-history.ts';
import { coinbaseRest, GARBAGE_TS, real, served } from '../../../../test/helpers/coinbase-rest.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
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

  /** BTC/USD 1-minute candles of the whole served range, from the replay, with `o` changed */
  const download = (o: Partial<Parameters<typeof downloadHistory>[1]> = {}) =>
    downloadHistory(db.db, {
      exchange: 'coinbaseexchange',
      market: 'BTC/USD',
      timeframe: '1m',
      since,
      until,
      apiUrl: url,
      ...o,
    });

  it('pages through the range, stores every valid candle exactly, skips the garbage row and the empty page', async () => {
    const progress: number[] = [];
    const r = await download({ onProgress: (p) => progress.push(p) });
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

  it('takes a row as a candle only when it is one', () => {
    const m = 60_000;
    const t = Date.UTC(2024, 0, 2, 3, 4);
    expect(toCandle([t, 10, 12, 9, 11, 5], m)).toEqual({ ts: t, open: 10, high: 12, low: 9, close: 11, volume: 5 });
    for (const bad of [
      [t + 1, 10, 12, 9, 11, 5], // not on a minute
      [t, 10, 9.5, 9, 11, 5], // high below the close
      [t, 10, 12, 10.5, 11, 5], // low above the open
      [t, 10, 12, 9, 11, -1], // negative volume
      [t, 10, 12, 0, 11, 5], // a price of zero
      [t, Number.NaN, 12, 9, 11, 5],
      [t, '10', 12, 9, 11, 5],
      [t, 10, 12, 9, 11],
      'garbage',
    ])
      expect(toCandle(bad, m), JSON.stringify(bad)).toBeNull();
    // weeks start on Mondays (2024-01-01 was one), as the candle store aggregates them
    const w = 7 * 86_400_000;
    expect(toCandle([Date.UTC(2024, 0, 1), 1, 2, 1, 2, 3], w)).not.toBeNull();
    expect(toCandle([Date.UTC(2024, 0, 4), 1, 2, 1, 2, 3], w)).toBeNull();
  });

  it('a second run rewrites the same candles (nothing doubled)', async () => {
    const r = await download();
    expect((await candlesRepo(db.db).query('BTCUSD', '1m')).length).toBe(r.stored);
  });

  it('refuses, with a clear reason, an unknown exchange, a market or timeframe the exchange lacks, an empty range', async () => {
    const fails = download;
    await expect(fails({ exchange: 'nosuchexchange' })).rejects.toThrow(/unknown exchange 'nosuchexchange'/);
    await expect(fails({ market: 'DOGE/EUR' })).rejects.toThrow(/no market 'DOGE\/EUR'.*BTC\/USD/);
    await expect(fails({ timeframe: '30m' })).rejects.toThrow(/no 30m candles; it serves 1m, 5m/);
    await expect(fails({ timeframe: '2m' })).rejects.toThrow(ExchangeHistoryError);
    await expect(fails({ since: until, until: since })).rejects.toThrow(/since must be before until/);
    // nothing was left behind for the refused market
    expect(await symbolsRepo(db.db).get('DOGEEUR')).toBeFalsy();
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
