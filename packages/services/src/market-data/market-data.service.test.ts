import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candlesRepo } from '@algotrade/adapters';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { MAX_UNSTORED_CANDLES, type MarketIngest } from './ingest.ts';
import { until } from '../../../../test/helpers/wait.ts';

describe('market data service', () => {
  let t: TestApp;
  let u: Awaited<ReturnType<TestApp['user']>>;
  const get = (url: string) => t.app.inject({ url, headers: u.auth });
  beforeAll(async () => {
    t = await startTestApp({
      MARKET_FEED: 'simulator',
      SIM_SYMBOLS: 'BTCUSD,AAPL',
      SIM_TICKS_PER_SECOND: '100',
      WINDOW_SIZE: '300',
    });
    u = await t.user();
  });
  afterAll(() => t.stop());

  it('fills the BTCUSD window with simulated ticks, newest first', async () => {
    await until(async () => (await get('/api/market/symbols/BTCUSD/latest?limit=100')).json().ticks.length === 100);
    const body = (await get('/api/market/symbols/BTCUSD/latest?limit=100')).json();
    expect(body.symbol).toBe('BTCUSD');
    const ts = body.ticks.map((x: { ts: string }) => Date.parse(x.ts));
    expect(ts).toEqual([...ts].sort((a, b) => b - a));
    expect(body.ticks[0]).toMatchObject({
      price: expect.any(Number),
      size: expect.any(Number),
      bid: expect.any(Number),
      ask: expect.any(Number),
      seq: expect.any(Number),
    });
    const sym = (await get('/api/market/symbols/BTCUSD')).json();
    expect(sym).toMatchObject({
      symbol: 'BTCUSD',
      assetClass: 'crypto',
      base: 'BTC',
      quote: 'USD',
      active: true,
      windowCapacity: 300,
    });
    expect(sym.lastPrice).toBeGreaterThan(0);
    expect((await get('/api/market/symbols?q=aap')).json()).toEqual([
      expect.objectContaining({ symbol: 'AAPL', assetClass: 'stock' }),
    ]);
    // the search text matches as typed: a wildcard character in it matches only itself
    expect((await get('/api/market/symbols?q=%25')).json()).toEqual([]);
    expect((await get('/api/market/symbols?q=B_C')).json()).toEqual([]);
    expect((await get('/api/market/symbols?q=btc')).json().map((s: { symbol: string }) => s.symbol)).toContain(
      'BTCUSD',
    );
  });

  it('puts window sizes, bus consumer lag and job queue depth on /metrics as they are', async () => {
    await until(async () => (await get('/api/market/symbols/BTCUSD/latest?limit=300')).json().ticks.length === 300);
    const scrape = async () => (await t.app.inject({ url: '/metrics' })).body;
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    let text = await scrape();
    // both simulated windows are full (WINDOW_SIZE 300), as the window store counts them
    for (const s of ['BTCUSD', 'AAPL']) {
      expect(value(text, `market_window_size{symbol="${s}"}`)).toBe(await t.rt.windows.size(s));
      expect(value(text, `market_window_size{symbol="${s}"}`)).toBe(300);
    }
    // every group this process consumes with appears, the windows' own among them, as the bus reports it
    const lags = await t.rt.bus.consumerLag();
    expect(lags.map((l) => l.group)).toContain('market-data-windows');
    for (const l of lags)
      expect(value(text, `bus_consumer_lag{topic="${l.topic}",group="${l.group}"}`)).toBeGreaterThanOrEqual(0);
    // a group that falls behind shows it: a slow consumer of the same ticks
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const slow = await t.rt.bus.subscribe('market-data-updates', { group: 'metrics-test-slow' }, () => gate);
    await until(
      async () =>
        (value(await scrape(), 'bus_consumer_lag{topic="market-data-updates",group="metrics-test-slow"}') ?? 0) >= 5,
    );
    open();
    await until(
      async () =>
        (value(await scrape(), 'bus_consumer_lag{topic="market-data-updates",group="metrics-test-slow"}') ?? 9) <= 2,
    );
    await slow.close();
    text = await scrape();
    expect(value(text, 'bus_consumer_lag{topic="market-data-updates",group="metrics-test-slow"}')).toBeUndefined();
    // the backtest queue, idle here
    expect(value(text, 'job_queue_depth{queue="backtests",state="waiting"}')).toBe(0);
    expect(value(text, 'job_queue_depth{queue="backtests",state="active"}')).toBe(0);
  });

  it('answers 400 for a bad limit, 404 for an unknown symbol, 401 without a token', async () => {
    for (const q of ['0', '301', 'abc', '-5']) {
      const r = await get(`/api/market/symbols/BTCUSD/latest?limit=${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error.code).toBe('VALIDATION_FAILED');
    }
    expect((await get('/api/market/symbols/NOPE/latest')).statusCode).toBe(404);
    expect((await get('/api/market/symbols/NOPE')).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/api/market/symbols/BTCUSD/latest' })).statusCode).toBe(401);
  });

  it('ingests bus messages into the window and counts malformed ones without stopping', async () => {
    const ingest = t.ctx.shared.marketIngest as MarketIngest;
    const before = ingest.malformed;
    await t.rt.bus.publish('market-data-updates', 'ZZTEST', 'ticks', {
      symbol: 'ZZTEST',
      ticks: [{ ts: 1, price: -1, size: 1 }],
    });
    await t.rt.bus.publish('market-data-updates', 'ZZTEST', 'ticks', { nonsense: true });
    // numbers beyond any market's (a broken feed), which paper fills and the order log could not hold
    const ok = { ts: Date.UTC(2024, 0, 1), price: 5, size: 2 };
    const beyond = [{ price: 1e300 }, { price: 1e-13 }, { ts: 1e300 }, { size: 1e300 }, { bid: 1e300 }, { ask: -1 }];
    for (const b of beyond)
      await t.rt.bus.publish('market-data-updates', 'ZZTEST', 'ticks', { symbol: 'ZZTEST', ticks: [{ ...ok, ...b }] });
    await t.rt.bus.publish('market-data-updates', 'ZZTEST', 'ticks', { symbol: 'ZZTEST', ticks: [ok] });
    await until(async () => (await t.rt.windows.size('ZZTEST')) === 1);
    expect(ingest.malformed).toBe(before + 2 + beyond.length);
  });

  it('lists a symbol first seen on the bus and stores its candles', async () => {
    const ingest = t.ctx.shared.marketIngest as MarketIngest;
    expect((await get('/api/market/symbols/ZZBUSUSD')).statusCode).toBe(404);
    const minute = Date.UTC(2024, 0, 2, 10, 0);
    // two minutes of ticks: the first minute's candle is closed by the second's first tick
    await t.rt.bus.publish('market-data-updates', 'ZZBUSUSD', 'ticks', {
      symbol: 'ZZBUSUSD',
      ticks: [
        { ts: minute + 1_000, price: 10, size: 1 },
        { ts: minute + 2_000, price: 12, size: 2 },
        { ts: minute + 61_000, price: 11, size: 1 },
      ],
    });
    await until(async () => (await get('/api/market/symbols/ZZBUSUSD')).statusCode === 200);
    expect((await get('/api/market/symbols/ZZBUSUSD')).json()).toMatchObject({
      symbol: 'ZZBUSUSD',
      provider: 'market-data-updates',
      assetClass: 'crypto',
      base: 'ZZBUS',
      quote: 'USD',
      active: false,
    });
    // (the service's own 5 s flush may be the one that stores it)
    await ingest.flush();
    await until(async () => (await candlesRepo(t.rt.db.db).query('ZZBUSUSD', '1m')).length > 0);
    expect(await candlesRepo(t.rt.db.db).query('ZZBUSUSD', '1m')).toEqual([
      { ts: minute, open: 10, high: 12, low: 10, close: 12, volume: 3 },
    ]);
  });

  it('keeps closed candles whose write failed and stores them with a later flush', async () => {
    const ingest = t.ctx.shared.marketIngest as MarketIngest;
    const minute = Date.UTC(2024, 0, 3, 10, 0);
    const publish = (ticks: { ts: number; price: number; size: number }[]) =>
      t.rt.bus.publish('market-data-updates', 'ZZKEEPUSD', 'ticks', { symbol: 'ZZKEEPUSD', ticks });
    await publish([{ ts: minute, price: 5, size: 1 }]);
    await until(async () => (await get('/api/market/symbols/ZZKEEPUSD')).statusCode === 200);
    await ingest.flush(); // nothing closed yet
    // the database refuses candle writes for a while: a real failure, the table is not there
    await sql`alter table candles rename to candles_away`.execute(t.rt.db.db);
    try {
      await publish([{ ts: minute + 60_000, price: 6, size: 1 }]);
      await until(() => ingest.candles.current('ZZKEEPUSD')?.ts === minute + 60_000);
      await ingest.flush();
      await publish([{ ts: minute + 120_000, price: 7, size: 1 }]);
      await until(() => ingest.candles.current('ZZKEEPUSD')?.ts === minute + 120_000);
      await ingest.flush();
    } finally {
      await sql`alter table candles_away rename to candles`.execute(t.rt.db.db);
    }
    await ingest.flush();
    await until(async () => (await candlesRepo(t.rt.db.db).query('ZZKEEPUSD', '1m')).length === 2);
    const stored = await candlesRepo(t.rt.db.db).query('ZZKEEPUSD', '1m');
    expect(stored.map((c) => [c.ts, c.close])).toEqual([
      [minute, 5],
      [minute + 60_000, 6],
    ]);
    expect(ingest.candlesDropped).toBe(0);
    expect((await t.app.inject({ url: '/metrics' })).body).toMatch(/^market_candles_dropped_total 0$/m);
  });

  it('past MAX_UNSTORED_CANDLES candles waiting to be stored, drops the oldest and counts them', async () => {
    const ingest = t.ctx.shared.marketIngest as MarketIngest;
    const before = ingest.candlesDropped;
    const base = Date.UTC(2020, 0, 1);
    // one more closed candle than the ingest keeps (the last tick opens a candle still forming)
    const ticks = Array.from({ length: MAX_UNSTORED_CANDLES + 2 }, (_, i) => ({
      ts: base + i * 60_000,
      price: 1 + (i % 7),
      size: 1,
    }));
    await sql`alter table candles rename to candles_away`.execute(t.rt.db.db);
    try {
      await t.rt.bus.publish('market-data-updates', 'ZZDROPUSD', 'ticks', { symbol: 'ZZDROPUSD', ticks });
      await until(() => ingest.candles.current('ZZDROPUSD')?.ts === ticks.at(-1)!.ts);
      await ingest.flush();
    } finally {
      await sql`alter table candles_away rename to candles`.execute(t.rt.db.db);
    }
    expect(ingest.candlesDropped).toBe(before + 1);
    expect((await t.app.inject({ url: '/metrics' })).body).toMatch(
      new RegExp(`^market_candles_dropped_total ${before + 1}$`, 'm'),
    );
    await ingest.flush();
    const repo = candlesRepo(t.rt.db.db);
    await until(async () => (await repo.count('ZZDROPUSD', '1m')) === MAX_UNSTORED_CANDLES);
    // the oldest minute is the one dropped
    const first = await repo.query('ZZDROPUSD', '1m', new Date(base), new Date(base + 120_000));
    expect(first.map((c) => c.ts)).toEqual([base + 60_000, base + 120_000]);
  });

  it('pushes prices at most once per interval, and the last price held back once the ticks stop', async () => {
    const pushes: { price: number; at: number }[] = [];
    const sub = await t.rt.bus.subscribe('realtime-updates', { group: `push-test-${Date.now()}` }, (m) => {
      if (m.key === 'prices:PUSHUSD') pushes.push({ price: (m.data as { price: number }).price, at: Date.now() });
    });
    try {
      const tick = (price: number) =>
        t.rt.bus.publish('market-data-updates', 'PUSHUSD', 'ticks', {
          symbol: 'PUSHUSD',
          ticks: [{ ts: Date.now(), price, size: 1 }],
        });
      await tick(10); // pushed at once
      await tick(11); // inside the interval (100 ms): held, then replaced
      await tick(12); // the newest when the ticks stop: pushed two intervals later
      const last = Date.now();
      await until(() => pushes.length === 2);
      expect(pushes.map((p) => p.price)).toEqual([10, 12]);
      expect(pushes[1]!.at - last).toBeGreaterThanOrEqual(190);
      // nothing more comes: the held price was pushed once
      await new Promise((r) => setTimeout(r, 300));
      expect(pushes).toHaveLength(2);
      // a stream ticking slower than the interval is pushed as it comes, every tick, without delay
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 130));
        const at = Date.now();
        await tick(20 + i);
        await until(() => pushes.length === 3 + i);
        expect(pushes[2 + i]!.price).toBe(20 + i);
        expect(pushes[2 + i]!.at - at).toBeLessThan(50);
      }
    } finally {
      await sub.close();
    }
  });

  it('subscribes and unsubscribes through symbol-subscriptions', async () => {
    const seen: unknown[] = [];
    const sub = await t.rt.bus.subscribe(
      'symbol-subscriptions',
      { group: 'test-watch' },
      (m) => void seen.push(m.data),
    );
    const r = await t.app.inject({ method: 'POST', url: '/api/market/symbols/ethusd/subscribe', headers: u.auth });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({ symbol: 'ETHUSD', active: true });
    await until(async () => (await t.rt.windows.size('ETHUSD')) > 0);
    await t.app.inject({ method: 'POST', url: '/api/market/symbols/ETHUSD/unsubscribe', headers: u.auth });
    await until(() => seen.length === 2);
    expect(seen).toEqual([
      expect.objectContaining({ symbol: 'ETHUSD', action: 'subscribe' }),
      expect.objectContaining({ symbol: 'ETHUSD', action: 'unsubscribe' }),
    ]);
    expect((await get('/api/market/symbols/ETHUSD')).json().active).toBe(false);
    await sub.close();
  });

  it('imports CSV history with an error report and serves candles, aggregated on read', async () => {
    const csv = readFileSync(new URL('../../../../test/fixtures/backtesting-py/GOOG.csv', import.meta.url), 'utf8');
    const bad = csv.replace('2004-08-20,101.01', '2004-08-20,abc');
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=GOOG&interval=1d',
      headers: { ...u.auth, 'content-type': 'text/csv' },
      payload: bad,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      symbol: 'GOOG',
      interval: '1d',
      imported: 2147,
      skipped: 1,
      errors: [{ line: 3, message: expect.stringContaining('open') }],
    });
    const daily = (await get('/api/market/symbols/GOOG/candles?interval=1d&from=2004-08-19&to=2004-08-31')).json();
    expect(daily[0]).toEqual({
      ts: '2004-08-19T00:00:00.000Z',
      open: 100,
      high: 104.06,
      low: 95.96,
      close: 100.34,
      volume: 22351900,
    });
    const weekly = (await get('/api/market/symbols/GOOG/candles?interval=1w&from=2004-08-23&to=2004-08-29')).json();
    expect(weekly).toHaveLength(1);
    expect(weekly[0].ts).toBe('2004-08-23T00:00:00.000Z');
    expect(weekly[0].volume).toBe(
      daily
        .filter((d: { ts: string }) => d.ts >= '2004-08-23' && d.ts < '2004-08-30')
        .reduce((s: number, d: { volume: number }) => s + d.volume, 0),
    );
    expect((await get('/api/market/symbols/GOOG/candles?interval=7m')).statusCode).toBe(400);
    // the weekly candles as a CSV file, which the import reads back as the same candles
    const file = await get('/api/market/symbols/GOOG/candles?interval=1w&limit=100000&format=csv');
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file.headers['content-disposition']).toBe('attachment; filename="GOOG-1w.csv"');
    const lines = file.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('ts,open,high,low,close,volume');
    const weeks = (await get('/api/market/symbols/GOOG/candles?interval=1w&limit=100000')).json();
    expect(lines).toHaveLength(weeks.length + 1);
    const back = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=GOOGWEEKS&interval=1w',
      headers: { ...u.auth, 'content-type': 'text/csv' },
      payload: file.body,
    });
    expect(back.json()).toMatchObject({ imported: weeks.length, skipped: 0, errors: [] });
    expect((await get('/api/market/symbols/GOOGWEEKS/candles?interval=1w&limit=100000')).json()).toEqual(weeks);
    expect((await get('/api/market/symbols/GOOG/candles?format=xml')).statusCode).toBe(400);
    const empty = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=GOOG',
      headers: { ...u.auth, 'content-type': 'text/csv' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.message).toMatch(/empty/);
  });

  it('accepts the CSV as a multipart/form-data upload too', async () => {
    const csv = 'date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11.5,120\n';
    const boundary = '----algotradeboundary';
    const form = (parts: string) => `--${boundary}\r\n${parts}\r\n--${boundary}--\r\n`;
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=FORMUP&interval=1d',
      headers: { ...u.auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: form(
        `Content-Disposition: form-data; name="file"; filename="formup.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}`,
      ),
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ symbol: 'FORMUP', imported: 2, skipped: 0, errors: [] });
    const noFile = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=FORMUP&interval=1d',
      headers: { ...u.auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: form('Content-Disposition: form-data; name="note"\r\n\r\nhello'),
    });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.message).toMatch(/no file part/);
    const json = await t.app.inject({
      method: 'POST',
      url: '/api/market/history/import?symbol=FORMUP&interval=1d',
      headers: u.auth,
      payload: { csv: 'x' },
    });
    expect(json.statusCode).toBe(415);
  });

  it('builds 1-minute candles from live ticks', async () => {
    const c = (await get('/api/market/symbols/BTCUSD/candles?interval=1m&limit=5')).json();
    expect(c.length).toBeGreaterThanOrEqual(1);
    const last = c[c.length - 1];
    expect(last.high).toBeGreaterThanOrEqual(Math.max(last.open, last.close));
    expect(last.low).toBeLessThanOrEqual(Math.min(last.open, last.close));
  });
});

describe('market data from a CSV replay (MARKET_FEED=replay)', () => {
  it('streams the recorded file into the window at the chosen speed', async () => {
    const t = await startTestApp({
      MARKET_FEED: 'replay',
      REPLAY_FILE: new URL('../../../../test/fixtures/backtesting-py/GOOG.csv', import.meta.url).pathname,
      REPLAY_SYMBOL: 'goog',
      REPLAY_SPEED: '0',
    });
    try {
      const u = await t.user();
      const get = (url: string) => t.app.inject({ url, headers: u.auth });
      // 2,148 daily candles replayed as their closes; the window keeps the newest 1,000
      await until(async () => (await get('/api/market/symbols/GOOG')).json().windowSize === 1000);
      const latest = (await get('/api/market/symbols/GOOG/latest?limit=3')).json();
      expect(latest.ticks).toHaveLength(3);
      // the newest tick is the close of the last row of the file
      const csv = readFileSync(new URL('../../../../test/fixtures/backtesting-py/GOOG.csv', import.meta.url), 'utf8');
      const lastClose = Number(csv.trim().split('\n').at(-1)!.split(',')[4]);
      expect(latest.ticks[0].price).toBe(lastClose);
      expect(Date.parse(latest.ticks[0].ts)).toBeGreaterThan(Date.now() - 60_000); // live timestamps
    } finally {
      await t.stop();
    }
  });
});
