import type { Tick } from '@algotrade/core';

export interface FeedStats {
  received: number;
  malformed: number;
  reconnects: number;
  gaps: number;
  errors: number;
}

/**
 * Receives a provider's ticks. It may return a promise (the publish): a provider that sets its own pace
 * (a replay at full speed) waits for it before emitting more, so it runs at its consumers' pace; a live
 * venue's feed cannot wait and does not.
 */
export type OnTicks = (symbol: string, ticks: Tick[]) => unknown;

/** A source of live ticks, normalised to one Tick type whatever the venue's format. */
export interface TickProvider {
  readonly name: string;
  readonly stats: FeedStats;
  start(onTicks: OnTicks): Promise<void>;
  subscribe(symbol: string): Promise<void>;
  unsubscribe(symbol: string): Promise<void>;
  stop(): Promise<void>;
}

export const newStats = (): FeedStats => ({ received: 0, malformed: 0, reconnects: 0, gaps: 0, errors: 0 });

/** `BTC-USD` / `BINANCE:BTCUSDT` / `btc/usd` -> `BTCUSD` / `BTCUSDT` (venue prefix dropped). */
export const normaliseSymbol = (s: string): string =>
  s
    .replace(/^[A-Z]+:/i, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase();
