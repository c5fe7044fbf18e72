import { TOPICS, type Subscription } from '@algotrade/core';
import {
  CoinbaseProvider,
  CsvReplayProvider,
  FinnhubProvider,
  SimulatorProvider,
  symbolsRepo,
  type TickProvider,
} from '@algotrade/adapters';
import type { ServiceContext } from '../context.ts';

const CRYPTO_QUOTES = ['USDT', 'USD', 'EUR'];
export const describeSymbol = (symbol: string, provider: string) => {
  const q = CRYPTO_QUOTES.find((c) => symbol.endsWith(c) && symbol.length > c.length);
  return q
    ? { symbol, provider, assetClass: 'crypto' as const, base: symbol.slice(0, -q.length), quote: q, active: false }
    : { symbol, provider, assetClass: 'stock' as const, base: symbol, quote: 'USD', active: false };
};

/**
 * Runs the configured provider and publishes its ticks on `market-data-updates`; follows
 * `symbol-subscriptions` so subscribe/unsubscribe requests reach whichever process runs the feed.
 */
export class FeedManager {
  readonly provider?: TickProvider;
  private sub?: Subscription;
  constructor(private readonly ctx: ServiceContext) {
    const f = ctx.rt.config.feed;
    if (f.kind === 'simulator')
      this.provider = new SimulatorProvider({ seed: f.seed, ticksPerSecond: f.ticksPerSecond });
    else if (f.kind === 'replay' && f.replay) this.provider = new CsvReplayProvider(f.replay);
    else if (f.kind === 'coinbase' && f.coinbase) this.provider = new CoinbaseProvider(f.coinbase);
    else if (f.kind === 'finnhub' && f.finnhub) {
      const venue = f.finnhub.cryptoVenue;
      this.provider = new FinnhubProvider({
        token: f.finnhub.token,
        ...(f.finnhub.url ? { url: f.finnhub.url } : {}),
        // stocks as they are; crypto pairs on the venue (BTCUSDT -> BINANCE:BTCUSDT)
        toFinnhub: (symbol) =>
          describeSymbol(symbol, 'finnhub').assetClass === 'crypto' ? `${venue}:${symbol}` : symbol,
      });
    }
  }

  async start(): Promise<void> {
    const { bus, db } = this.ctx.rt;
    const p = this.provider;
    if (!p) return;
    const symbols = symbolsRepo(db.db);
    // the simulator's symbols exist and stream from the start, so `npm start` shows live data at once
    for (const s of this.ctx.rt.config.feed.symbols) {
      await symbols.upsert({ ...describeSymbol(s, p.name), active: true });
      await symbols.setActive(s, true);
    }
    for (const s of await symbols.search()) if (s.active) await p.subscribe(s.symbol);
    this.sub = await bus.subscribe(TOPICS.symbolSubscriptions.name, { group: `feed-${p.name}` }, async (m) => {
      const { symbol, action } = m.data as { symbol: string; action: 'subscribe' | 'unsubscribe' };
      if (action === 'subscribe') await p.subscribe(symbol);
      else await p.unsubscribe(symbol);
    });
    // the publish goes back to the provider: a replay at full speed waits for it (see OnTicks)
    await p.start((symbol, ticks) =>
      bus
        .publish(TOPICS.marketDataUpdates.name, symbol, 'ticks', {
          symbol,
          ticks: ticks.map((t) => ({ ts: t.ts, price: t.price, size: t.size, bid: t.bid, ask: t.ask, seq: t.seq })),
        })
        .catch((e) => this.ctx.rt.log.warn({ err: e }, 'publishing ticks failed')),
    );
  }

  async stop(): Promise<void> {
    await this.provider?.stop();
    await this.sub?.close();
  }
}
