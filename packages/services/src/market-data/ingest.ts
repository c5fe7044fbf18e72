import { TOPICS, type Subscription, type Tick } from '@algotrade/core';
import { candlesRepo } from '@algotrade/adapters';
import type { ServiceContext } from '../context.ts';
import { CandleBuilder } from './candle-builder.ts';
import { readTicks } from './tick-message.ts';

export interface LastPrice {
  price: number;
  ts: number;
  bid?: number;
  ask?: number;
}

/**
 * Consumes `market-data-updates` into the sliding windows, keeps the last price per symbol, builds
 * 1-minute candles (stored every few seconds) and pushes throttled price updates to `realtime-updates`.
 * Malformed messages are counted and skipped, never retried.
 */
export class MarketIngest {
  readonly last = new Map<string, LastPrice>();
  readonly candles = new CandleBuilder();
  private sub?: Subscription;
  private flushTimer?: NodeJS.Timeout;
  private readonly lastPush = new Map<string, number>();
  malformed = 0;
  ingested = 0;
  constructor(private readonly ctx: ServiceContext) {}

  async start(): Promise<void> {
    const { bus } = this.ctx.rt;
    this.sub = await bus.subscribe(TOPICS.marketDataUpdates.name, { group: 'market-data-windows' }, (m) =>
      this.handle(m.data),
    );
    this.flushTimer = setInterval(() => void this.flush(), 5000);
    this.flushTimer.unref();
  }

  handle(data: unknown): Promise<void> | void {
    const r = readTicks(data);
    if (!r.ok) {
      this.malformed++;
      this.ctx.metrics.malformed.inc({ source: 'market-data-updates' });
      this.ctx.rt.log.warn({ reason: r.reason }, 'malformed market-data-updates message skipped');
      return;
    }
    const { symbol, ticks } = r;
    if (ticks.length === 0) return;
    for (const t of ticks) this.candles.add(symbol, t);
    const lastTick = ticks[ticks.length - 1]! as Tick;
    this.last.set(symbol, { price: lastTick.price, ts: lastTick.ts, bid: lastTick.bid, ask: lastTick.ask });
    this.ingested += ticks.length;
    this.ctx.metrics.ticksIngested.inc(ticks.length);
    this.pushPrice(symbol, lastTick);
    return this.ctx.rt.windows.append(symbol, ticks);
  }

  private pushPrice(symbol: string, t: Tick): void {
    const now = Date.now();
    if (now - (this.lastPush.get(symbol) ?? 0) < (this.ctx.rt.config?.pricePushIntervalMs ?? 100)) return;
    this.lastPush.set(symbol, now);
    void this.ctx.rt.bus
      .publish(TOPICS.realtimeUpdates.name, `prices:${symbol}`, 'price', {
        symbol,
        price: t.price,
        bid: t.bid,
        ask: t.ask,
        ts: t.ts,
      })
      .catch(() => {});
  }

  async flush(all = false): Promise<void> {
    const closed = this.candles.drain(all);
    if (!closed.length) return;
    const repo = candlesRepo(this.ctx.rt.db.db);
    const bySymbol = new Map<string, typeof closed>();
    for (const c of closed) bySymbol.set(c.symbol, [...(bySymbol.get(c.symbol) ?? []), c]);
    for (const [symbol, list] of bySymbol)
      await repo
        .upsert(
          symbol,
          '1m',
          list.map((c) => c.candle),
        )
        .catch((e) => this.ctx.rt.log.warn({ err: e, symbol }, 'storing candles failed'));
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.sub?.close();
    await this.flush(true);
  }
}
