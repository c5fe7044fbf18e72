import type { Tick } from '@algotrade/core';
import type { Runtime } from '@algotrade/adapters';
import type { CompiledPlan } from '@algotrade/strategy';
import { sessionEvaluator, type SessionEvaluator, type SessionSettings } from './live-session.ts';

type TickLike = Pick<Tick, 'ts' | 'price' | 'size'>;

/** A symbol's candle being built at one interval, and the one before it. */
interface Building {
  start: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  prev: [start: number, o: number, h: number, l: number, c: number, v: number] | undefined;
}

/**
 * The other symbols' latest bars as live strategies see them (Other symbol nodes): fed every tick of the
 * symbols someone watches, read when a strategy evaluates a bar. In tick mode a symbol's bar is its last
 * tick; in candle mode, at a strategy candle that opened at `m`, its candle of the same open time (closed,
 * or as far as it has got: the strategy's candle closed with its first tick of the next one), else its
 * last before (carried), as a backtest aligns stored candles. NaN while a symbol has no tick yet.
 */
export class OtherSymbolBars {
  private readonly last = new Map<string, TickLike>();
  /** per symbol, the candle intervals read and their builders */
  private readonly candles = new Map<string, Map<number, Building>>();
  private readonly watchers = new Map<string, number>();

  /**
   * A strategy reads these symbols (a plan's `symbols`; at a candle interval in candle mode): until it
   * unwatches them, their ticks are kept. Counted: each watch is undone by one unwatch.
   */
  watch(symbols: readonly string[], evaluation: SessionSettings['evaluation']): void {
    for (const symbol of symbols) {
      this.watchers.set(symbol, (this.watchers.get(symbol) ?? 0) + 1);
      if (evaluation.mode !== 'candle') continue;
      let m = this.candles.get(symbol);
      if (!m) this.candles.set(symbol, (m = new Map()));
      if (!m.has(evaluation.intervalMs))
        m.set(evaluation.intervalMs, { start: -1, o: 0, h: 0, l: 0, c: 0, v: 0, prev: undefined });
    }
  }
  unwatch(symbols: readonly string[]): void {
    for (const symbol of symbols) {
      const n = (this.watchers.get(symbol) ?? 0) - 1;
      if (n > 0) this.watchers.set(symbol, n);
      else {
        this.watchers.delete(symbol);
        this.candles.delete(symbol);
        this.last.delete(symbol);
      }
    }
  }
  /** A symbol's recent ticks (a window's), when none came since it is watched: its bar before the next tick. */
  seed(symbol: string, ticks: readonly TickLike[]): void {
    if (!this.last.has(symbol)) this.push(symbol, ticks);
  }

  /** A symbol's ticks, oldest first (ignored unless watched). */
  push(symbol: string, ticks: readonly TickLike[]): void {
    if (!ticks.length || !this.watchers.has(symbol)) return;
    this.last.set(symbol, ticks[ticks.length - 1]!);
    const builders = this.candles.get(symbol);
    if (!builders) return;
    for (const [interval, b] of builders)
      for (const t of ticks) {
        const start = t.ts - (t.ts % interval);
        if (start > b.start) {
          if (b.start >= 0) b.prev = [b.start, b.o, b.h, b.l, b.c, b.v];
          b.start = start;
          b.o = b.h = b.l = b.c = t.price;
          b.v = t.size;
        } else if (start === b.start) {
          if (t.price > b.h) b.h = t.price;
          if (t.price < b.l) b.l = t.price;
          b.c = t.price;
          b.v += t.size;
        }
      }
  }

  /**
   * Writes the bars of `symbols` (five values each: open, high, low, close, volume) into `out`: their
   * last ticks (tick mode), or their candles at a strategy candle that opened at `candleStart`.
   */
  read(
    symbols: readonly string[],
    evaluation: SessionSettings['evaluation'],
    candleStart: number,
    out: Float64Array,
  ): void {
    for (let k = 0; k < symbols.length; k++) {
      const o = k * 5;
      out.fill(NaN, o, o + 5);
      if (evaluation.mode === 'tick') {
        const t = this.last.get(symbols[k]!);
        if (!t) continue;
        out[o] = out[o + 1] = out[o + 2] = out[o + 3] = t.price;
        out[o + 4] = t.size;
        continue;
      }
      const b = this.candles.get(symbols[k]!)?.get(evaluation.intervalMs);
      if (!b || b.start < 0) continue;
      if (b.start <= candleStart) {
        out[o] = b.o;
        out[o + 1] = b.h;
        out[o + 2] = b.l;
        out[o + 3] = b.c;
        out[o + 4] = b.v;
      } else if (b.prev && b.prev[0] <= candleStart) for (let f = 0; f < 5; f++) out[o + f] = b.prev[f + 1]!;
    }
  }
}

/** The other symbols' windows (their recent ticks, oldest first), for a warm-up; a window that fails is left out. */
export async function otherWindows(
  rt: Runtime,
  symbols: readonly string[],
): Promise<{ symbol: string; ticks: TickLike[] }[]> {
  const out: { symbol: string; ticks: TickLike[] }[] = [];
  for (const symbol of symbols)
    try {
      const ticks = (await rt.windows.latest(symbol, 1000)).reverse();
      out.push({ symbol, ticks: ticks.map((t) => ({ ts: t.ts, price: t.price, size: t.size })) });
    } catch (e) {
      rt.log.warn({ err: e, symbol }, 'warm-up of another symbol from the window failed; it warms on live ticks');
    }
  return out;
}

/**
 * A session evaluator for a strategy reading other symbols, warmed on `warm` (its own ticks, oldest
 * first) with the other symbols' `windows` interleaved by time (each warm-up bar sees the others as they
 * were then), then reading `live` (the engine's, or a runner thread's or process's), which starts from
 * the windows when no tick of a symbol came to it yet.
 */
export function warmedWithOthers(
  plan: CompiledPlan,
  evaluation: SessionSettings['evaluation'],
  warm: readonly TickLike[],
  windows: readonly { symbol: string; ticks: readonly TickLike[] }[],
  live: OtherSymbolBars,
): SessionEvaluator {
  const local = new OtherSymbolBars();
  local.watch(plan.symbols, evaluation);
  const ev = sessionEvaluator(plan, evaluation, local);
  const next = windows.map(() => 0);
  for (const t of warm) {
    windows.forEach((w, k) => {
      let j = next[k]!;
      const from = j;
      while (j < w.ticks.length && w.ticks[j]!.ts <= t.ts) j++;
      if (j > from) local.push(w.symbol, w.ticks.slice(from, j));
      next[k] = j;
    });
    ev.evaluate(t);
  }
  for (const w of windows) live.seed(w.symbol, w.ticks);
  ev.others = live;
  return ev;
}
