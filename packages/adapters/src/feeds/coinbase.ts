import type { Tick } from '@algotrade/core';
import { newStats, normaliseSymbol, type OnTicks, type TickProvider } from './provider.ts';
import { ReconnectingSocket } from './ws-client.ts';

export const COINBASE_FEED_URL = 'wss://ws-feed.exchange.coinbase.com';

/** BTCUSD -> BTC-USD (the product id form Coinbase expects). */
export const toProductId = (symbol: string): string =>
  symbol.includes('-') ? symbol : symbol.replace(/^(.+?)(USDT|USDC|USD|EUR|GBP|BTC|ETH)$/, '$1-$2');

const num = (v: unknown): number | undefined => {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/**
 * Coinbase Exchange WebSocket feed: `ticker` and `matches` channels plus `heartbeat`. Prices arrive
 * as strings; gaps in trade ids (matches, or a heartbeat's last_trade_id ahead of the last match seen)
 * are counted; malformed frames are counted and skipped; reconnects resubscribe.
 */
export class CoinbaseProvider implements TickProvider {
  readonly name = 'coinbase';
  readonly stats = newStats();
  private readonly products = new Set<string>();
  private readonly lastTradeId = new Map<string, number>();
  private sock?: ReconnectingSocket;
  private onTicks?: OnTicks;
  constructor(
    private readonly opts: {
      url?: string;
      channels?: ('ticker' | 'matches')[];
      idleTimeoutMs?: number;
      baseDelayMs?: number;
    } = {},
  ) {}

  private subscribeMsg(type: 'subscribe' | 'unsubscribe', products: string[]) {
    const channels = [...(this.opts.channels ?? ['ticker']), 'heartbeat'];
    return { type, product_ids: products, channels };
  }

  async start(onTicks: OnTicks): Promise<void> {
    this.onTicks = onTicks;
    this.sock = new ReconnectingSocket({
      url: this.opts.url ?? COINBASE_FEED_URL,
      stats: this.stats,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 10_000,
      baseDelayMs: this.opts.baseDelayMs,
      onOpen: (send) => {
        if (this.products.size) send(this.subscribeMsg('subscribe', [...this.products]));
      },
      onMessage: (text) => this.handle(text),
    });
    await this.sock.start();
  }

  handle(text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text);
      if (!m || typeof m !== 'object' || typeof m.type !== 'string') throw new Error('no type');
    } catch {
      this.stats.malformed++;
      return;
    }
    switch (m.type) {
      case 'ticker':
      case 'match':
      case 'last_match': {
        const product = m.product_id;
        const price = num(m.price);
        const ts = typeof m.time === 'string' ? Date.parse(m.time) : NaN;
        const size = num(m.type === 'ticker' ? (m.last_size ?? 0) : m.size);
        if (typeof product !== 'string' || price === undefined || !Number.isFinite(ts) || size === undefined) {
          this.stats.malformed++;
          return;
        }
        if (m.type !== 'ticker' && typeof m.trade_id === 'number')
          this.noteTrade(product, m.trade_id, m.type === 'match');
        const symbol = normaliseSymbol(product);
        const tick: Tick = { symbol, ts, price, size };
        const bid = num(m.best_bid);
        const ask = num(m.best_ask);
        if (bid !== undefined) tick.bid = bid;
        if (ask !== undefined) tick.ask = ask;
        if (typeof m.sequence === 'number') tick.seq = m.sequence;
        this.stats.received++;
        this.onTicks?.(symbol, [tick]);
        return;
      }
      case 'heartbeat': {
        const product = m.product_id;
        const last = this.lastTradeId.get(product as string);
        if (
          typeof m.last_trade_id === 'number' &&
          last !== undefined &&
          m.last_trade_id > last &&
          (this.opts.channels ?? ['ticker']).includes('matches')
        ) {
          this.stats.gaps++;
          this.lastTradeId.set(product as string, m.last_trade_id);
        }
        return;
      }
      case 'subscriptions':
        return;
      case 'error':
        this.stats.errors++;
        return;
      default:
        return;
    }
  }

  private noteTrade(product: string, id: number, checkGap: boolean): void {
    const last = this.lastTradeId.get(product);
    if (checkGap && last !== undefined && id > last + 1) this.stats.gaps++;
    if (last === undefined || id > last) this.lastTradeId.set(product, id);
  }

  async subscribe(symbol: string): Promise<void> {
    const p = toProductId(symbol);
    if (this.products.has(p)) return; // already asked for (a reconnect asks again by itself)
    this.products.add(p);
    this.sock?.send(this.subscribeMsg('subscribe', [p]));
  }
  async unsubscribe(symbol: string): Promise<void> {
    const p = toProductId(symbol);
    this.products.delete(p);
    this.sock?.send(this.subscribeMsg('unsubscribe', [p]));
  }
  async stop(): Promise<void> {
    await this.sock?.stop();
  }
}
