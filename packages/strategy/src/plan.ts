import type { BarColumns } from '@algotrade/core';
import type { ActionKind, NodeType, Params, Sizing, Step } from './types.ts';
import { BAR_SLOT_COUNT, stepOf } from './types.ts';

export interface PlanNode {
  id: string;
  type: NodeType;
  params: Params;
  inputs: number[];
  outputs: number[];
}

export interface ActionSpec {
  nodeId: string;
  action: ActionKind;
  /** as the engines take it: `risk_pct` is resolved into the `pct_equity` it amounts to (sizingOf) */
  sizing: Exclude<Sizing, 'risk_pct'>;
  amount: number;
  /** market fills at the next open; limit/stop orders are placed offsetPct from the signal close and live one bar */
  orderType: 'market' | 'limit' | 'stop';
  offsetPct: number;
  triggerSlot: number;
}

export interface RiskSpec {
  stopLossPct?: number;
  takeProfitPct?: number;
  trailingStopPct?: number;
}

export type { BarColumns } from '@algotrade/core';

export const BLOCK = 256;

/**
 * An action node's sizing as the engines take it. Sizing by risk (`risk_pct`: the share of equity lost
 * if the stop loss is hit) is fixed-fractional sizing: a position worth amount / stop distance of the
 * equity loses amount % of it at the stop (before fees and slippage), so it becomes that `pct_equity`,
 * at most all of it (no leverage).
 */
export function sizingOf(params: Params, risk: RiskSpec): { sizing: Exclude<Sizing, 'risk_pct'>; amount: number } {
  const sizing = (params.sizing as Sizing | undefined) ?? 'all';
  const amount = (params.amount as number | undefined) ?? 100;
  if (sizing !== 'risk_pct') return { sizing, amount };
  const stop = risk.stopLossPct;
  return { sizing: 'pct_equity', amount: stop ? Math.min(100, (100 * amount) / stop) : 0 };
}

/**
 * A compiled strategy: immutable, cacheable by graph hash, shared by backtesting and forward testing.
 * `instantiate()` gives a fresh evaluator with its own state (one per backtest or session).
 */
export class CompiledPlan {
  readonly order: string[];
  readonly actions: ActionSpec[];
  readonly risk: RiskSpec;
  /** bar fields some node reads (the others are never filled in block runs) */
  readonly usedBarSlots: ReadonlySet<number>;
  constructor(
    readonly nodes: readonly PlanNode[],
    readonly slotCount: number,
    readonly warmup: number,
  ) {
    this.order = nodes.map((n) => n.id);
    const risk: RiskSpec = {};
    for (const n of nodes) {
      if (n.type.type === 'risk.stop_loss') risk.stopLossPct = n.params.percent as number;
      if (n.type.type === 'risk.take_profit') risk.takeProfitPct = n.params.percent as number;
      if (n.type.type === 'risk.trailing_stop') risk.trailingStopPct = n.params.percent as number;
    }
    this.risk = risk;
    this.actions = nodes
      .filter((n) => n.type.category === 'action')
      .map((n) => ({
        nodeId: n.id,
        action: n.type.type.slice('action.'.length) as ActionKind,
        ...sizingOf(n.params, risk),
        orderType: (n.params.orderType as 'market' | 'limit' | 'stop' | undefined) ?? 'market',
        offsetPct: (n.params.offsetPct as number | undefined) ?? 0,
        triggerSlot: n.inputs[0]!,
      }));
    const used = new Set<number>();
    for (const n of nodes) {
      for (const i of n.inputs) if (i < BAR_SLOT_COUNT) used.add(i);
      if (n.type.type === 'time.of_day') used.add(5);
    }
    this.usedBarSlots = used;
  }
  instantiate(blockSize = BLOCK): StrategyInstance {
    return new StrategyInstance(this, blockSize);
  }
}

/**
 * Evaluates bars through the graph. Every slot (bar field or node output) is a column of `blockSize` (256)
 * values; each node runs a tight loop over a block, in topological order. `step()` feeds one bar (a
 * live tick); `run()` feeds whole columns block by block (backtests). Both give identical results:
 * a node only ever sees the bars fed so far, so nothing can look ahead.
 */
export class StrategyInstance {
  readonly cols: Float64Array[];
  private readonly steps: Step[];
  private readonly triggers: Int32Array;
  bars = 0;
  constructor(
    readonly plan: CompiledPlan,
    readonly blockSize = BLOCK,
  ) {
    this.cols = Array.from({ length: plan.slotCount }, () => new Float64Array(blockSize).fill(NaN));
    this.steps = plan.nodes.map((n) => stepOf(n.type, n.params, n)).filter((s): s is Step => !!s);
    this.triggers = Int32Array.from(plan.actions.map((a) => a.triggerSlot));
  }
  /** The last evaluated value of a slot (the one-bar view used by live sessions and tests). */
  value(slot: number): number {
    return this.cols[slot]![0]!;
  }
  /** Feeds one bar; returns the index into plan.actions of the first action triggered on it, or -1. */
  step(open: number, high: number, low: number, close: number, volume: number, timeSec: number): number {
    const c = this.cols;
    c[0]![0] = open;
    c[1]![0] = high;
    c[2]![0] = low;
    c[3]![0] = close;
    c[4]![0] = volume;
    c[5]![0] = timeSec;
    const s = this.steps;
    for (let i = 0; i < s.length; i++) s[i]!(c, 1);
    this.bars++;
    const t = this.triggers;
    for (let i = 0; i < t.length; i++) if (c[t[i]!]![0] === 1) return i;
    return -1;
  }
  /**
   * Feeds bars [from, to) of whole columns and writes, per bar, the index of the first triggered
   * action (or -1) into `signals`. `onBlock` sees each evaluated block (previews read node outputs).
   */
  run(
    bars: BarColumns,
    signals: Int8Array | Int16Array | Int32Array,
    from = 0,
    to = bars.length,
    onBlock?: (start: number, n: number) => void,
  ): void {
    const c = this.cols;
    const t = this.triggers;
    const s = this.steps;
    const own = c.slice(0, BAR_SLOT_COUNT);
    const fields = [bars.open, bars.high, bars.low, bars.close, bars.volume];
    const secs = own[5]!;
    const needTime = this.plan.usedBarSlots.has(5);
    for (let start = from; start < to; start += this.blockSize) {
      const n = Math.min(this.blockSize, to - start);
      // bar columns are views into the caller's arrays (no copy); the time column is made only if read
      for (let k = 0; k < 5; k++) if (this.plan.usedBarSlots.has(k)) c[k] = fields[k]!.subarray(start, start + n);
      if (needTime) for (let j = 0; j < n; j++) secs[j] = bars.ts[start + j]! / 1000;
      for (let i = 0; i < s.length; i++) s[i]!(c, n);
      if (t.length === 2) {
        const a = c[t[0]!]!;
        const b = c[t[1]!]!;
        for (let j = 0; j < n; j++) signals[start + j] = a[j] === 1 ? 0 : b[j] === 1 ? 1 : -1;
      } else
        for (let j = 0; j < n; j++) {
          let fired = -1;
          for (let k = 0; k < t.length; k++)
            if (c[t[k]!]![j] === 1) {
              fired = k;
              break;
            }
          signals[start + j] = fired;
        }
      onBlock?.(start, n);
      this.bars += n;
    }
    for (let k = 0; k < BAR_SLOT_COUNT; k++) c[k] = own[k]!;
  }
}

export { BAR_SLOT_COUNT };
