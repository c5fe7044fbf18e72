import { ConfigError, loadConfig } from '@algotrade/adapters';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { feedFixture, replayServer } from '../../../../test/helpers/replay-server.ts';
import { until } from '../../../../test/helpers/wait.ts';

/**
 * The platform fed by an exchange (MARKET_FEED=coinbase|finnhub), pointed at local WebSocket servers
 * that replay the exchanges' real message formats (test/fixtures/feeds), garbage frames included.
 */
describe('the platform on a live exchange feed', () => {
  const closing: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of closing.reverse()) await c();
  });
  const gauge = (prom: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(prom)?.[1]);

  /** the platform on a feed, a user, and the newest ticks of a symbol as a strategy reads them */
  async function platform(env: Record<string, string>) {
    const t: TestApp = await startTestApp(env);
    closing.push(() => t.stop());
    const u = await t.user();
    const latest = async (symbol: string) => {
      const r = await t.app.inject({ url: `/api/market/symbols/${symbol}/latest?limit=100`, headers: u.auth });
      return r.statusCode === 200 ? (r.json().ticks as { ts: string; price: number }[]) : [];
    };
    return { t, u, latest };
  }

  it('Coinbase: its ticker and matches become ticks in the window; garbage is counted on /metrics; subscribing reaches the venue', async () => {
    const srv = await replayServer(feedFixture('coinbase-exchange.jsonl'), undefined, { once: true });
    closing.push(srv.close);
    const { t, u, latest } = await platform({
      MARKET_FEED: 'coinbase',
      COINBASE_WS_URL: srv.url,
      COINBASE_CHANNELS: 'ticker,matches',
      FEED_SYMBOLS: 'BTCUSD',
    });
    // the fixture's valid ticker and match frames: five ticks of BTC-USD (a quiet feed is reconnected
    // after 10 s, and its frames replayed again)
    await until(async () => (await latest('BTCUSD')).length >= 5);
    expect(srv.subscribes[0]).toEqual({
      type: 'subscribe',
      product_ids: ['BTC-USD'],
      channels: ['ticker', 'matches', 'heartbeat'],
    });
    const prices = (await latest('BTCUSD')).map((x) => x.price);
    expect(prices).toContain(22345.67);
    expect(prices).toContain(400.23);
    // on /metrics, for each connection's replay: its five ticks, its garbage frame and its price that is
    // no number (read until no replay is in flight between the reads)
    let prom = '';
    await until(async () => {
      const replays = srv.urls.length;
      prom = (await t.app.inject({ url: '/metrics' })).body;
      return (
        srv.urls.length === replays &&
        gauge(prom, 'market_feed_reconnects') === replays - 1 &&
        gauge(prom, 'market_feed_ticks_received') === 5 * replays &&
        gauge(prom, 'market_feed_malformed') === 2 * replays
      );
    });
    expect(gauge(prom, 'market_feed_errors')).toBeGreaterThanOrEqual(1);
    // a user subscribes another symbol: the feed asks the venue for its product
    const r = await t.app.inject({ method: 'POST', url: '/api/market/symbols/ETHUSD/subscribe', headers: u.auth });
    expect(r.statusCode).toBe(202);
    await until(() =>
      srv.subscribes.some(
        (m) =>
          JSON.stringify(m) ===
          JSON.stringify({ type: 'subscribe', product_ids: ['ETH-USD'], channels: ['ticker', 'matches', 'heartbeat'] }),
      ),
    );
  });

  it('Finnhub: sends its token, stocks as they are and crypto pairs on their venue; trades become ticks', async () => {
    // replayed once a connection (Finnhub takes one subscribe message per symbol)
    const srv = await replayServer(feedFixture('finnhub.jsonl'), undefined, { once: true });
    closing.push(srv.close);
    const { latest } = await platform({
      MARKET_FEED: 'finnhub',
      FINNHUB_TOKEN: 'sekret',
      FINNHUB_WS_URL: srv.url,
      FEED_SYMBOLS: 'AAPL,BTCUSDT,TSLA',
    });
    await until(async () => (await latest('TSLA')).length === 2);
    expect(srv.urls[0]).toBe('/?token=sekret');
    expect(srv.subscribes.slice(0, 3)).toEqual(
      expect.arrayContaining([
        { type: 'subscribe', symbol: 'AAPL' },
        { type: 'subscribe', symbol: 'BINANCE:BTCUSDT' },
        { type: 'subscribe', symbol: 'TSLA' },
      ]),
    );
    expect((await latest('TSLA')).map((x) => x.price)).toEqual([122.15, 122.1]); // newest first
    expect((await latest('BTCUSDT')).map((x) => x.price)).toEqual([7296.89]);
    expect((await latest('AAPL')).map((x) => x.price)).toEqual([189.5]);
  });

  it('refuses a Finnhub feed without its token, saying what is missing', () => {
    expect(() => loadConfig({ MARKET_FEED: 'finnhub' })).toThrow(ConfigError);
    expect(() => loadConfig({ MARKET_FEED: 'finnhub' })).toThrow(/MARKET_FEED=finnhub needs FINNHUB_TOKEN/);
    expect(() => loadConfig({ MARKET_FEED: 'binance' })).toThrow(/MARKET_FEED is invalid/);
  });
});
