import type { Candle } from '@algotrade/core';
import type { CompiledPlan } from './plan.ts';
import { toColumns } from './sample-data.ts';

export interface PreviewResult {
  series: Record<string, Record<string, (number | null)[]>>;
  signals: { index: number; ts: string; action: string; nodeId: string }[];
}

/** Every node's output on every candle (null while undefined) and every action that fired. */
export function previewPlan(
  plan: CompiledPlan,
  candles: readonly Candle[],
  /** the other symbols' bars aligned with the candles (plan.symbols order; see alignBars) */
  others?: Float64Array[],
): PreviewResult {
  const inst = plan.instantiate();
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
