import type { BarColumns } from '@algotrade/core';
import { barSecondsOf, BLOCK, type CompiledPlan } from './plan.ts';
import { viewBars } from './walk-forward.ts';

/**
 * Checks of a strategy on its data that a backtest alone does not show (freqtrade's `lookahead-analysis`
 * and `recursive-analysis`, as one report):
 *
 * - **look-ahead**: every node output, and the signal, on a bar must be what it is when
 *   the data ends at that bar. The whole series is evaluated as a backtest does (in blocks), then again on
 *   the data cut after each checked bar; any difference is a value that saw a later bar.
 * - **live**: the same series fed one bar at a time, as a paper session feeds its ticks, must give the
 *   same values and signals as the blocks a backtest evaluates.
 * - **warm-up**: how much the values depend on how much history came before. At evaluation points near
 *   the end, the strategy is started that many bars earlier (each of `starts`) and its values compared
 *   with those of the run over all the data. A paper session warms on 10 × the declared warm-up + 1 bars
 *   (ticks from its symbol's window, at most 1,000; candles from the stored history), and so does a
 *   walk-forward window (warmupBars): this says whether that is enough.
 */
export interface CheckOptions {
  /**
   * bars checked for look-ahead, at most this many (60): every bar a signal fired on when they fit, else
   * half of them spread over the series; the rest spread evenly over the bars
   */
  cuts?: number;
  /**
   * warm-up lengths tried, in bars, each counting the evaluated bar (default: k × the declared warm-up + 1
   * for k = 1, 2, 3, 5, 10, and 100, 250, 500, 1,000)
   */
  starts?: readonly number[];
  /** evaluation points for the warm-up check, spread over the last part of the data (20) */
  points?: number;
  /** a value has settled when it is within this fraction of the output's mean absolute value (0.001: 0.1 %) */
  tolerance?: number;
  /** the share of the work done, from 0 to 1 (about every 20 ms) */
  onProgress?(done: number): void;
}

export interface CheckMismatch {
  nodeId: string;
  port: string;
  index: number;
  /** the bar's time, ISO-8601 */
  time: string;
  /** the value in the backtest's run over all the data (null: undefined) */
  expected: number | null;
  /** the value in the cut or one-bar-at-a-time run */
  actual: number | null;
  /** for the signal (port `(signal)`): the action node that fired in each run (null: none); `expected` and `actual` are then 1 or 0 */
  expectedAction?: string | null;
  actualAction?: string | null;
}

export interface WarmupOutput {
  nodeId: string;
  port: string;
  type: string;
  /** read by another node, an action or a rule at a distance (only these count in recommendedBars) */
  used: boolean;
  /** a true/false output (1 or 0): its differences are counted instead of measured */
  boolean: boolean;
  /**
   * per start (StrategyCheck.warmup.starts): the largest difference at the points, in % of the output's
   * mean absolute value (a true/false output: the share of the points where it differs, in %); null: still
   * undefined at some point
   */
  diffPct: (number | null)[];
  /** the shortest start from which every longer one tried is within the tolerance; null: none */
  settledBars: number | null;
}

export interface StrategyCheck {
  bars: number;
  /**
   * the warm-up the compiler declares, in bars of this data (its higher timeframes' time included): the
   * bars before the first whose signal is defined
   */
  declaredWarmup: number;
  lookahead: { ok: boolean; barsChecked: number; mismatches: CheckMismatch[] };
  live: { ok: boolean; barsChecked: number; mismatches: CheckMismatch[] };
  warmup: {
    tolerancePct: number;
    starts: number[];
    points: number[];
    /** per start: the share of points whose signal (the action that fired, or none) is the full run's, in % */
    signalsAgreePct: number[];
    outputs: WarmupOutput[];
    /** the shortest start from which every used output is settled and every signal agrees; null: none tried */
    recommendedBars: number | null;
  };
}

/** at most this many mismatches are listed per check (all are counted in `ok`) */
const LISTED = 20;

/** every node output, and whether the strategy uses it: read by another node, an action or a rule at a distance */
function outputsOf(plan: CompiledPlan) {
  const read = new Set<number>();
  for (const n of plan.nodes) for (const i of n.inputs) read.add(i);
  for (const d of plan.risk.distances ?? []) read.add(d.slot);
  return plan.nodes.flatMap((n) =>
    n.outputs.map((slot, k) => ({
      nodeId: n.id,
      port: n.type.outputs[k]!.name,
      type: n.type.type,
      boolean: n.type.outputs[k]!.kind === 'boolean',
      slot,
      used: read.has(slot),
    })),
  );
}

/**
 * Runs the plan over `bars` in blocks, as a backtest does: per slot, a column of every bar (`all`) or only
 * the last bar's value, and the signals.
 */
function evaluate(plan: CompiledPlan, bars: BarColumns, slots: readonly number[], barSeconds: number, all: boolean) {
  const n = bars.length;
  const values = slots.map(() => new Float64Array(all ? n : 1));
  const signals = new Int32Array(n);
  const inst = plan.instantiate(BLOCK, barSeconds);
  inst.run(bars, signals, 0, n, (start, m) => {
    for (let k = 0; k < slots.length; k++) {
      const col = inst.cols[slots[k]!]!;
      if (all) values[k]!.set(col.subarray(0, m), start);
      else if (start + m === n) values[k]![0] = col[m - 1]!;
    }
  });
  return { values, signals };
}

/** The values of the slots and the signal on the last bar of `bars`, evaluated in blocks from its first. */
function lastBar(plan: CompiledPlan, bars: BarColumns, slots: readonly number[], barSeconds: number) {
  const r = evaluate(plan, bars, slots, barSeconds, false);
  return { values: r.values.map((v) => v[0]!), signal: r.signals[bars.length - 1]! };
}

const same = (a: number, b: number) => a === b || (a !== a && b !== b);
const shown = (x: number) => (Number.isFinite(x) ? x : null);
const SIGNAL_PORT = '(signal)';

/** Evenly spread indices in [from, to], at most `count`, ascending and distinct. */
function spread(from: number, to: number, count: number): number[] {
  if (to < from || count <= 0) return [];
  if (count === 1) return [to];
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(Math.round(from + ((to - from) * k) / (count - 1)));
  return [...out].sort((a, b) => a - b);
}

/** Lets the event loop run about every 20 ms of work (a service keeps answering during a long check). */
function breather(total: number, onProgress?: (done: number) => void) {
  const later = (globalThis.setImmediate as ((f: () => void) => unknown) | undefined) ?? ((f) => setTimeout(f, 0));
  let done = 0;
  let last = performance.now();
  return async (bars: number) => {
    done += bars;
    if (performance.now() - last < 20) return;
    onProgress?.(Math.min(1, done / total));
    await new Promise<void>((resolve) => later(resolve));
    last = performance.now();
  };
}

/** Runs the three checks (see CheckOptions) of a compiled strategy over its bars. */
export async function checkStrategy(
  plan: CompiledPlan,
  bars: BarColumns,
  options: CheckOptions = {},
): Promise<StrategyCheck> {
  const n = bars.length;
  if (n < 2) throw new Error('a strategy check needs at least two bars');
  if (plan.symbols.length && (!bars.others || bars.others.length < 5 * plan.symbols.length))
    throw new Error(
      `the strategy reads other symbols (${plan.symbols.join(', ')}): their bars must come with the data`,
    );
  const barSeconds = barSecondsOf(bars.ts);
  const declaredWarmup = plan.warmup + (barSeconds > 0 ? Math.ceil(plan.warmupSeconds / barSeconds) : 0);
  const outputs = outputsOf(plan);
  const slots = outputs.map((o) => o.slot);
  const full = evaluate(plan, bars, slots, barSeconds, true);
  const at = (i: number) => new Date(bars.ts[i]!).toISOString();
  const actionOf = (s: number) => (s >= 0 ? plan.actions[s]!.nodeId : null);
  /** a difference in output k (-1: the signal, as action indices) on bar i */
  const mismatch = (k: number, i: number, expected: number, actual: number): CheckMismatch =>
    k >= 0
      ? {
          nodeId: outputs[k]!.nodeId,
          port: outputs[k]!.port,
          index: i,
          time: at(i),
          expected: shown(expected),
          actual: shown(actual),
        }
      : {
          nodeId: actionOf(expected) ?? actionOf(actual)!,
          port: SIGNAL_PORT,
          index: i,
          time: at(i),
          expected: expected >= 0 ? 1 : 0,
          actual: actual >= 0 ? 1 : 0,
          expectedAction: actionOf(expected),
          actualAction: actionOf(actual),
        };

  // look-ahead: the data cut after bar i gives bar i the values it had with all the data
  const cutCount = Math.max(1, options.cuts ?? 60);
  // the bars a signal fired on (all of them when they fit, else spread over the series), the rest spread evenly
  const fired: number[] = [];
  for (let i = 0; i < n - 1; i++) if (full.signals[i]! >= 0) fired.push(i);
  const picked =
    fired.length <= cutCount ? fired : spread(0, fired.length - 1, cutCount - (cutCount >> 1)).map((k) => fired[k]!);
  const cuts = [...new Set([...picked, ...spread(0, n - 2, cutCount - picked.length)])].sort((a, b) => a - b);
  // the work, in bars evaluated: the cut runs, the one-bar run and the warm-up runs (starts and points below)
  const tolerance = options.tolerance ?? 0.001;
  // the declared warm-up w is the bars before the first bar whose signal is defined: w + 1 bars define it
  const w = declaredWarmup;
  const starts = [
    ...new Set(
      (options.starts ?? [w + 1, 2 * w + 1, 3 * w + 1, 5 * w + 1, 10 * w + 1, 100, 250, 500, 1000]).map((s) =>
        Math.round(s),
      ),
    ),
  ]
    .filter((s) => s >= 1 && s < n)
    .sort((a, b) => a - b);
  const longest = starts.at(-1) ?? 0;
  // the points have at least twice the longest start behind them where the data allows, so the full run is
  // the better-warmed one
  const first = 2 * longest <= n - 1 ? 2 * longest : longest;
  const points = starts.length ? spread(first, n - 1, Math.max(1, options.points ?? 20)) : [];
  const total = cuts.reduce((a, i) => a + i + 1, 0) + n + points.length * starts.reduce((a, s) => a + s, 0);
  const breathe = breather(total, options.onProgress);

  const ahead: CheckMismatch[] = [];
  let aheadCount = 0;
  for (const i of cuts) {
    await breathe(i + 1);
    const cut = lastBar(plan, viewBars(bars, 0, i + 1), slots, barSeconds);
    for (let k = 0; k < slots.length; k++)
      if (!same(cut.values[k]!, full.values[k]![i]!)) {
        aheadCount++;
        if (ahead.length < LISTED) ahead.push(mismatch(k, i, full.values[k]![i]!, cut.values[k]!));
      }
    if (cut.signal !== full.signals[i]) {
      aheadCount++;
      if (ahead.length < LISTED) ahead.push(mismatch(-1, i, full.signals[i]!, cut.signal));
    }
  }

  // live: one bar at a time, as a session evaluates its ticks
  const live: CheckMismatch[] = [];
  let liveCount = 0;
  const one = plan.instantiate(1, barSeconds);
  const perBar = new Float64Array(5 * plan.symbols.length);
  for (let i = 0; i < n; i++) {
    const o = bars.others;
    if (o) for (let f = 0; f < perBar.length; f++) perBar[f] = o[f]![i]!;
    const signal = one.step(
      bars.open[i]!,
      bars.high[i]!,
      bars.low[i]!,
      bars.close[i]!,
      bars.volume[i]!,
      bars.ts[i]! / 1000,
      o ? perBar : undefined,
    );
    for (let k = 0; k < slots.length; k++) {
      const v = one.value(slots[k]!);
      if (!same(v, full.values[k]![i]!)) {
        liveCount++;
        if (live.length < LISTED) live.push(mismatch(k, i, full.values[k]![i]!, v));
      }
    }
    if (signal !== full.signals[i]) {
      liveCount++;
      if (live.length < LISTED) live.push(mismatch(-1, i, full.signals[i]!, signal));
    }
  }

  await breathe(n);
  // warm-up: started `s` bars before each point, against the run over all the data
  const scale = full.values.map((col) => {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const x = col[i]!;
      if (Number.isFinite(x)) {
        sum += Math.abs(x);
        count++;
      }
    }
    return count && sum > 0 ? sum / count : 1;
  });
  const diff = outputs.map(() => starts.map(() => 0 as number | null));
  const agree = starts.map(() => 0);
  for (let si = 0; si < starts.length; si++) {
    const s = starts[si]!;
    for (const e of points) {
      await breathe(s);
      const r = lastBar(plan, viewBars(bars, e - s + 1, e + 1), slots, barSeconds);
      if (r.signal === full.signals[e]) agree[si]!++;
      for (let k = 0; k < slots.length; k++) {
        const expected = full.values[k]![e]!;
        const actual = r.values[k]!;
        const row = diff[k]!;
        const was = row[si] as number | null;
        if (same(expected, actual) || was === null) continue;
        if (!Number.isFinite(actual) || !Number.isFinite(expected)) row[si] = null;
        else if (outputs[k]!.boolean) row[si] = was + 100 / points.length;
        else row[si] = Math.max(was, (100 * Math.abs(actual - expected)) / scale[k]!);
      }
    }
  }
  options.onProgress?.(1);
  /** a true/false output has settled when it differs nowhere */
  const within = (d: number | null, boolean: boolean) => d !== null && d <= (boolean ? 0 : tolerance * 100);
  const settledFrom = (ok: boolean[]) => {
    let from: number | null = null;
    for (let si = ok.length - 1; si >= 0 && ok[si]; si--) from = starts[si]!;
    return from;
  };
  const warmOutputs: WarmupOutput[] = outputs.map((o, k) => ({
    nodeId: o.nodeId,
    port: o.port,
    type: o.type,
    used: o.used,
    boolean: o.boolean,
    diffPct: diff[k]!,
    settledBars: settledFrom(diff[k]!.map((d) => within(d, o.boolean))),
  }));
  const signalsAgreePct = agree.map((a) => (points.length ? (100 * a) / points.length : 100));
  const recommendedBars = settledFrom(
    starts.map(
      (_, si) =>
        signalsAgreePct[si] === 100 &&
        diff.every((row, k) => !outputs[k]!.used || within(row[si] ?? null, outputs[k]!.boolean)),
    ),
  );

  return {
    bars: n,
    declaredWarmup,
    lookahead: { ok: aheadCount === 0, barsChecked: cuts.length, mismatches: ahead },
    live: { ok: liveCount === 0, barsChecked: n, mismatches: live },
    warmup: {
      tolerancePct: tolerance * 100,
      starts,
      points,
      signalsAgreePct,
      outputs: warmOutputs,
      recommendedBars,
    },
  };
}
