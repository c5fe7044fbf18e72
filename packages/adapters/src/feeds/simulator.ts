import type { Tick } from '@algotrade/core';
import { gaussian, seededRandom } from '@algotrade/core';
import { newStats, type OnTicks, type TickProvider } from './provider.ts';

const START_PRICES: Record<string, number> = {
  BTCUSD: 65_000,
  ETHUSD: 3_200,
  SOLUSD: 150,
  AAPL: 190,
  MSFT: 420,
  GOOG: 170,
};

export interface SimulatorOptions {
  seed: number;
  ticksPerSecond: number;
  /** annualised volatility of the random walk (default 60%, crypto-like) */
  volatility?: number;
  /** bid/ask spread in basis points (default 2) */
  spreadBps?: number;
  now?: () => number;
}

interface SymState {
  price: number;
  seq: number;
  rand: () => number;
}

/**
 * Simulated market: per symbol a geometric random walk with volatility and spread, deterministic
 * for a seed (each symbol's stream depends only on the seed and its name). `ticks()` makes them
 * on demand; `start()` emits them on a timer for the subscribed symbols.
 */
export class SimulatorProvider implements TickProvider {
  readonly name = 'simulator';
  readonly stats = newStats();
  private readonly syms = new Map<string, SymState>();
  private timer?: NodeJS.Timeout;
  private onTicks?: OnTicks;
  constructor(private readonly opts: SimulatorOptions) {}

  private state(symbol: string): SymState {
    let s = this.syms.get(symbol);
    if (!s) {
      let h = this.opts.seed | 0;
      for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 16777619);
      const rand = seededRandom(h);
      s = { price: START_PRICES[symbol] ?? 20 + rand() * 180, seq: 0, rand };
      this.syms.set(symbol, s);
    }
    return s;
  }

  /** The next `n` ticks of a symbol, `dtMs` apart starting at `t0`. */
  ticks(symbol: string, n: number, t0: number, dtMs: number): Tick[] {
    const s = this.state(symbol);
    const vol = this.opts.volatility ?? 0.6;
    const sigma = vol * Math.sqrt(dtMs / (365 * 86_400_000));
    const half = ((this.opts.spreadBps ?? 2) / 20_000) * 1;
    const out: Tick[] = new Array(n);
    for (let i = 0; i < n; i++) {
      s.price *= Math.exp(sigma * gaussian(s.rand) - (sigma * sigma) / 2);
      const price = round(s.price);
      out[i] = {
        symbol,
        ts: t0 + i * dtMs,
        price,
        size: round(Math.max(0.0001, Math.abs(gaussian(s.rand)) * 0.5), 4),
        bid: round(price * (1 - half)),
        ask: round(price * (1 + half)),
        seq: ++s.seq,
      };
    }
    return out;
  }

  async start(onTicks: OnTicks): Promise<void> {
    this.onTicks = onTicks;
    const rate = this.opts.ticksPerSecond;
    if (rate <= 0) return;
    const period = Math.max(10, 1000 / rate);
    const perTick = Math.max(1, Math.round((rate * period) / 1000));
    const now = this.opts.now ?? Date.now;
    this.timer = setInterval(() => {
      const t = now();
      for (const sym of this.active) {
        const ticks = this.ticks(sym, perTick, t, period / perTick);
        this.stats.received += ticks.length;
        this.onTicks?.(sym, ticks);
      }
    }, period);
    this.timer.unref();
  }
  private readonly active = new Set<string>();
  async subscribe(symbol: string): Promise<void> {
    this.active.add(symbol);
  }
  async unsubscribe(symbol: string): Promise<void> {
    this.active.delete(symbol);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.onTicks = undefined;
  }
}

const round = (x: number, dp = 2): number => {
  const f = 10 ** (x < 1 ? 6 : dp);
  return Math.round(x * f) / f;
};
