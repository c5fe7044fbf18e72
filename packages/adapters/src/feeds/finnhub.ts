import type { Tick } from '@algotrade/core';
import { newStats, normaliseSymbol, type OnTicks, type TickProvider } from './provider.ts';
import { ReconnectingSocket } from './ws-client.ts';

/**
 * Finnhub WebSocket trades (stocks and venue-prefixed crypto like BINANCE:BTCUSDT). Many trades per
 * message; `p`/`v` numbers, `t` epoch ms; server pings are ignored; malformed frames are counted.
 */
export class FinnhubProvider implements TickProvider {
  readonly name = 'finnhub';
  readonly stats = newStats();
  private readonly symbols = new Set<string>();
  private sock?: ReconnectingSocket;
  private onTicks?: OnTicks;
  constructor(
    private readonly opts: {
      token: string;
      url?: string;
      idleTimeoutMs?: number;
      baseDelayMs?: number;
      /** the platform's symbol as Finnhub names it (BTCUSDT -> BINANCE:BTCUSDT); as it is without */
      toFinnhub?: (symbol: string) => string;
    },
  ) {}
  private readonly finnhubOf = (symbol: string) => this.opts.toFinnhub?.(symbol) ?? symbol;

  async start(onTicks: OnTicks): Promise<void> {
    this.onTicks = onTicks;
    const base = this.opts.url ?? 'wss://ws.finnhub.io';
    this.sock = new ReconnectingSocket({
      url: `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.opts.token)}`,
      stats: this.stats,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 60_000,
      baseDelayMs: this.opts.baseDelayMs,
      onOpen: (send) => {
        for (const s of this.symbols) send({ type: 'subscribe', symbol: this.finnhubOf(s) });
      },
      onMessage: (text) => this.handle(text),
    });
    await this.sock.start();
  }

  handle(text: string): void {
    let m: { type?: unknown; data?: unknown };
    try {
      m = JSON.parse(text);
      if (!m || typeof m !== 'object') throw new Error('not an object');
    } catch {
      this.stats.malformed++;
      return;
    }
    if (m.type === 'ping') return;
    if (m.type === 'error') {
      this.stats.errors++;
      return;
    }
    if (m.type !== 'trade' || !Array.isArray(m.data)) {
      this.stats.malformed++;
      return;
    }
    const bySymbol = new Map<string, Tick[]>();
    for (const t of m.data as Record<string, unknown>[]) {
      if (
        !t ||
        typeof t.s !== 'string' ||
        typeof t.p !== 'number' ||
        typeof t.t !== 'number' ||
        !Number.isFinite(t.p)
      ) {
        this.stats.malformed++;
        continue;
      }
      const symbol = normaliseSymbol(t.s);
      const tick: Tick = { symbol, ts: t.t, price: t.p, size: typeof t.v === 'number' ? t.v : 0 };
      let arr = bySymbol.get(symbol);
      if (!arr) bySymbol.set(symbol, (arr = []));
      arr.push(tick);
      this.stats.received++;
    }
    for (const [s, ticks] of bySymbol) this.onTicks?.(s, ticks);
  }

  async subscribe(symbol: string): Promise<void> {
    if (this.symbols.has(symbol)) return; // already asked for (a reconnect asks again by itself)
    this.symbols.add(symbol);
    this.sock?.send({ type: 'subscribe', symbol: this.finnhubOf(symbol) });
  }
  async unsubscribe(symbol: string): Promise<void> {
    this.symbols.delete(symbol);
    this.sock?.send({ type: 'unsubscribe', symbol: this.finnhubOf(symbol) });
  }
  async stop(): Promise<void> {
    await this.sock?.stop();
  }
}
