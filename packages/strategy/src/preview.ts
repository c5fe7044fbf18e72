import type { Candle } from '@algotrade/core';
import { runBacktest } from './backtest.ts';
import type { BarColumns, CompiledPlan } from './plan.ts';
import { toColumns } from './sample-data.ts';

export interface PreviewResult {
  series: Record<string, Record<string, (number | null)[]>>;
  signals: { index: number; ts: string; action: string; nodeId: string }[];
}

/**
 * Every node's output on every candle (null while undefined) and every action that fired. A strategy
 * reading its own position is traded as a default backtest would (long only, all of a 10,000 balance, no
 * fees, orders at the next open): the nodes that read the position show it as that backtest held it, and
 * the signals are that backtest's.
 */
export function previewPlan(
  plan: CompiledPlan,
  candles: readonly Candle[],
  /** the other symbols' bars aligned with the candles (plan.symbols order; see alignBars) */
  others?: Float64Array[],
): PreviewResult {
  const series: PreviewResult['series'] = {};
  const taps: { arr: (number | null)[]; slot: number }[] = [];
  for (const n of plan.nodes) {
    if (n.outputs.length === 0) continue;
    const byPort: Record<string, (number | null)[]> = {};
    n.type.outputs.forEach((p, k) => {
      byPort[p.name] = new Array(candles.length);
      taps.push({ arr: byPort[p.name]!, slot: n.outputs[k]! });
    });
    series[n.id] = byPort;
  }
  const signals: PreviewResult['signals'] = [];
  const cols = toColumns(candles);
  if (others) cols.others = others;
  if (plan.positionSlots.length) return positionPreview(plan, candles, cols, series, taps);
  const inst = plan.instantiate();
  inst.run(cols, new Int32Array(candles.length), 0, candles.length, (start, n) => {
    for (let j = 0; j < n; j++) {
      for (const t of taps) {
        const x = inst.cols[t.slot]![j]!;
        t.arr[start + j] = Number.isFinite(x) ? x : null;
      }
      for (const a of plan.actions)
        if (inst.cols[a.triggerSlot]![j] === 1)
          signals.push({
            index: start + j,
            ts: new Date(candles[start + j]!.ts).toISOString(),
            action: a.action,
            nodeId: a.nodeId,
          });
    }
  });
  return { series, signals };
}

/** previewPlan of a strategy reading its own position: the market's nodes in blocks, the rest as a backtest ran them. */
function positionPreview(
  plan: CompiledPlan,
  candles: readonly Candle[],
  cols: BarColumns,
  series: PreviewResult['series'],
  taps: { arr: (number | null)[]; slot: number }[],
): PreviewResult {
  const n = candles.length;
  const inst = plan.instantiate();
  inst.run(cols, new Int32Array(n), 0, n, (start, m) => {
    for (let j = 0; j < m; j++)
      for (const t of taps) {
        const x = inst.cols[t.slot]![j]!;
        t.arr[start + j] = Number.isFinite(x) ? x : null;
      }
  });
  // the nodes that read the position, bar by bar as the backtest evaluates them
  const dependent = new Set(plan.nodes.filter((x) => plan.positionNodes.has(x.id)).flatMap((x) => x.outputs));
  const read = taps.filter((t) => dependent.has(t.slot));
  const signalsBuffer = new Int8Array(n);
  runBacktest(plan, cols, {
    cash: 10_000,
    signalsBuffer,
    excursions: false,
    onPositionBar: (i, value) => {
      for (const t of read) {
        const x = value(t.slot);
        t.arr[i] = Number.isFinite(x) ? x : null;
      }
    },
  });
  const signals: PreviewResult['signals'] = [];
  for (let i = 0; i < n; i++) {
    const a = plan.actions[signalsBuffer[i]!];
    if (a) signals.push({ index: i, ts: new Date(candles[i]!.ts).toISOString(), action: a.action, nodeId: a.nodeId });
  }
  return { series, signals };
}
