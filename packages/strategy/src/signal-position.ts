import { addStepFor } from '@algotrade/core';
import type { ActionSpec } from './plan.ts';

/**
 * The position a strategy's signals alone would hold, for an evaluation that does not trade but whose
 * Position nodes must read something: a strategy alert. One unit an entry, no money, no fees, no stops;
 * long only, as a preview's default backtest. A buy opens a position at the price given, or adds to it
 * (up to the action's `maxEntries`, once the price is `addStepPct` under the average entry); a sell
 * closes it; a close closes its `closePct`. Read it into the evaluator with setPosition(qty, entryPrice,
 * entryTs, entries).
 */
export class SignalPosition {
  qty = 0;
  entryPrice = 0;
  /** the first entry's time, epoch ms */
  entryTs = 0;
  entries = 0;

  /** Applies a fired action at `price`, at time `ts` (epoch ms). Returns whether the position changed. */
  apply(
    spec: Pick<ActionSpec, 'action' | 'maxEntries' | 'addStepPct' | 'addStepScale' | 'closePct'>,
    price: number,
    ts: number,
  ): boolean {
    if (spec.action === 'buy') {
      if (this.qty === 0) {
        [this.qty, this.entryPrice, this.entryTs, this.entries] = [1, price, ts, 1];
        return true;
      }
      const step = addStepFor(spec.addStepPct, spec.addStepScale, this.entries);
      const far = step <= 0 || price <= this.entryPrice * (1 - step / 100);
      if (this.entries >= spec.maxEntries || !far) return false;
      this.entryPrice = (this.entryPrice * this.qty + price) / (this.qty + 1);
      this.qty += 1;
      this.entries += 1;
      return true;
    }
    if (this.qty === 0) return false;
    const share = spec.action === 'close' ? spec.closePct / 100 : 1;
    this.qty = share >= 1 ? 0 : this.qty * (1 - share);
    if (this.qty === 0) this.entries = 0;
    return true;
  }
}
