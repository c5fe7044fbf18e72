import { TOPICS, type Candle, type Subscription, type Tick } from '@algotrade/core';
import { candlesRepo, symbolsRepo } from '@algotrade/adapters';
import type { ServiceContext } from '../context.ts';
import { CandleBuilder } from './candle-builder.ts';
import { describeSymbol } from './feed-manager.ts';
import { readTicks } from './tick-message.ts';

/** closed candles held for the next flush when storing them failed, at most (the oldest go first) */
export const MAX_UNSTORED_CANDLES = 100_000;

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
 *
 * A symbol first seen on the bus (published by a feed in another process, or by anyone honouring the
 * topic's contract) is listed in the symbols table, inactive, as a CSV import lists its symbol: its
 * candles reference it, and `GET /api/market/symbols` then shows what the windows hold. Candles whose
 * write fails (the database away for a while) are kept and written by a later flush.
 */
export class MarketIngest {
  readonly last = new Map<string, LastPrice>();
  readonly candles = new CandleBuilder();
  private sub?: Subscription;
  private flushTimer?: NodeJS.Timeout;
  private readonly lastPush = new Map<string, number>();
  /** per symbol, the newest tick held back by the push interval, and the timer that will push it */
  private readonly trailing = new Map<string, { tick: Tick; timer: NodeJS.Timeout }>();
  /** per symbol, its listing in the symbols table: kept once settled, removed again when it failed */
  private readonly listings = new Map<string, Promise<void>>();
  /** closed candles a flush could not store (trimmed oldest first past MAX_UNSTORED_CANDLES) */
  private unstored: { symbol: string; candle: Candle }[] = [];
  malformed = 0;
  ingested = 0;
  /** closed candles given up on: more than MAX_UNSTORED_CANDLES were waiting to be stored */
  candlesDropped = 0;
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
    // listed at first sight (no last price yet), so the symbol shows at once; a failed listing is
    // retried by the flush
    if (!this.last.has(symbol)) void this.list(symbol);
    for (const t of ticks) this.candles.add(symbol, t);
    const lastTick = ticks[ticks.length - 1]! as Tick;
    this.last.set(symbol, { price: lastTick.price, ts: lastTick.ts, bid: lastTick.bid, ask: lastTick.ask });
    this.ingested += ticks.length;
    this.ctx.metrics.ticksIngested.inc(ticks.length);
    this.pushPrice(symbol, lastTick);
    return this.ctx.rt.windows.append(symbol, ticks);
  }

  /**
   * Price pushes, at most one per symbol every PRICE_PUSH_INTERVAL_MS. A tick inside the interval is not
   * pushed, but held: if no tick follows it for two intervals (the symbol went quiet), it is pushed
   * then, so the last price always reaches the clients. A stream that keeps ticking is pushed as it
   * comes, at most once per interval, without delay: holding every tick until its interval ended would
   * lock a stream that ticks at the interval's own pace to the end of each interval, some 50-100 ms late.
   */
  private pushPrice(symbol: string, t: Tick): void {
    const interval = this.ctx.rt.config?.pricePushIntervalMs ?? 100;
    const held = this.trailing.get(symbol);
    if (Date.now() - (this.lastPush.get(symbol) ?? -Infinity) >= interval) {
      if (held) {
        clearTimeout(held.timer);
        this.trailing.delete(symbol);
      }
      return this.publishPrice(symbol, t);
    }
    if (held) {
      held.tick = t;
      held.timer.refresh();
      return;
    }
    const timer = setTimeout(() => {
      const h = this.trailing.get(symbol);
      this.trailing.delete(symbol);
      if (h) this.publishPrice(symbol, h.tick);
    }, 2 * interval);
    timer.unref();
    this.trailing.set(symbol, { tick: t, timer });
  }

  private publishPrice(symbol: string, t: Tick): void {
    this.lastPush.set(symbol, Date.now());
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

  /** lists `symbol` (a no-op where it is listed already); a failure is retried by the next flush */
  private list(symbol: string): Promise<void> {
    const p = Promise.resolve().then(() =>
      symbolsRepo(this.ctx.rt.db.db).upsert(describeSymbol(symbol, 'market-data-updates')),
    );
    this.listings.set(symbol, p);
    p.catch(() => this.listings.get(symbol) === p && this.listings.delete(symbol));
    return p;
  }

  async flush(all = false): Promise<void> {
    const closed = this.unstored.concat(this.candles.drain(all));
    this.unstored = [];
    if (!closed.length) return;
    const repo = candlesRepo(this.ctx.rt.db.db);
    const bySymbol = new Map<string, typeof closed>();
    for (const c of closed) {
      const list = bySymbol.get(c.symbol);
      if (list) list.push(c);
      else bySymbol.set(c.symbol, [c]);
    }
    const failed: string[] = [];
    let firstError: unknown;
    for (const [symbol, list] of bySymbol)
      try {
        await (this.listings.get(symbol) ?? this.list(symbol));
        await repo.upsert(
          symbol,
          '1m',
          list.map((c) => c.candle),
        );
      } catch (e) {
        failed.push(symbol);
        firstError ??= e;
        for (const c of list) this.unstored.push(c); // (a spread of 100,000 arguments could overflow)
      }
    if (failed.length)
      this.ctx.rt.log.warn(
        { err: firstError, symbols: failed.slice(0, 10), candles: this.unstored.length },
        all ? 'storing candles failed at shutdown: these are lost' : 'storing candles failed; kept for the next flush',
      );
    const over = this.unstored.length - MAX_UNSTORED_CANDLES;
    if (over > 0) {
      this.unstored.sort((a, b) => a.candle.ts - b.candle.ts);
      this.unstored.splice(0, over);
      this.candlesDropped += over;
      this.ctx.metrics.candlesDropped.inc(over);
      this.ctx.rt.log.error(
        { dropped: over, kept: this.unstored.length },
        'too many candles waiting to be stored: the oldest dropped',
      );
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    for (const h of this.trailing.values()) clearTimeout(h.timer);
    this.trailing.clear();
    await this.sub?.close();
    await this.flush(true);
  }
}
