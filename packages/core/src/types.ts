/**
 * What a symbol may be, everywhere (routes, configuration, the command line): 1-40 letters, digits and
 * `._:-`, e.g. GOOG, BTCUSD, BRK.B, EUR:USD. Stored upper-cased.
 */
export const SYMBOL_PATTERN = /^[A-Za-z0-9._:-]{1,40}$/;

/** A normalised market tick: every provider maps its messages to this shape. */
export interface Tick {
  symbol: string;
  /** epoch milliseconds */
  ts: number;
  price: number;
  size: number;
  bid?: number;
  ask?: number;
  seq?: number;
}

/** One OHLCV bar; `ts` is the bar's open time in epoch milliseconds. */
export interface Candle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Candles as columns (one typed array per field): the engine's and the CSV fast path's format. */
export interface BarColumns {
  /** epoch milliseconds */
  ts: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  length: number;
  /**
   * The bars of the other symbols a strategy reads (its plan's `symbols`, in that order), aligned with
   * these: five columns each (open, high, low, close, volume), row i holding that symbol's last bar that
   * opened at or before bar i (NaN before its first). See alignBars.
   */
  others?: Float64Array[];
}

export type AssetClass = 'crypto' | 'stock' | 'fx';

export interface SymbolInfo {
  symbol: string;
  provider: string;
  assetClass: AssetClass;
  base: string;
  quote: string;
  active: boolean;
}

export type Side = 'buy' | 'sell';
export type SignalAction = 'buy' | 'sell' | 'close';

/** Injected time source: the core never calls Date.now() itself. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
