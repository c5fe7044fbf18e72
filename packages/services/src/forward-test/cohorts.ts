import type { Tick } from '@algotrade/core';
import type { CompiledPlan } from '@algotrade/strategy';
import { sessionEvaluator, type SessionSettings } from './live-session.ts';

type TickLike = Pick<Tick, 'ts' | 'price' | 'size'> & { seq?: number };

/** What a session needs of its strategy: the action fired on a tick (an index into plan.actions), or -1. */
export interface Evaluator {
  evaluate(t: TickLike): number;
  /** a slot's value as of the last bar evaluated (rules at a distance read it when an action fires) */
  value?(slot: number): number;
  /** the position its Position nodes read on the bars evaluated next (a strategy reading its own position) */
  setPosition?(qty: number, entryPrice: number, entryTs: number, entries: number): void;
}

/**
 * One evaluator serving every session of a cohort. A tick is evaluated once, by whichever member asks
 * first; the others get the same answer for the same tick object (every member is fed the same tick
 * objects, in the same order, by the runner loop).
 */
export class SharedEvaluator implements Evaluator {
  private last: TickLike | undefined;
  private lastFired = -1;
  private lastError: unknown;
  /** it has evaluated a live tick: its state is no longer that of a fresh warm-up, so no one may join */
  live = false;
  members = 0;
  constructor(private readonly inner: Evaluator) {}
  evaluate(t: TickLike): number {
    if (t !== this.last) {
      this.live = true;
      this.last = t;
      this.lastError = undefined;
      try {
        this.lastFired = this.inner.evaluate(t);
      } catch (e) {
        // a strategy that throws on a tick throws for every member, as private evaluators would
        this.lastError = e ?? new Error('the strategy failed');
      }
    }
    if (this.lastError !== undefined) throw this.lastError;
    return this.lastFired;
  }
  value(slot: number): number {
    return this.inner.value ? this.inner.value(slot) : NaN;
  }
  /** (a strategy reading its own position is a cohort of one: see cohortKey) */
  setPosition(qty: number, entryPrice: number, entryTs: number, entries: number): void {
    this.inner.setPosition?.(qty, entryPrice, entryTs, entries);
  }
}

const sameTicks = (a: readonly TickLike[], b: readonly TickLike[]) => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.ts !== y.ts || x.price !== y.price || x.size !== y.size || (x.seq ?? 0) !== (y.seq ?? 0)) return false;
  }
  return true;
};

/**
 * Sessions that run the same compiled strategy (same graph hash) with the same evaluation settings on
 * the same symbol, and that were warmed on the same ticks, hold the same strategy state and compute the
 * same actions on every later tick: they share one evaluator. Only the decision (what the action means
 * for a session's position) and the ledger stay per session. A session joins a cohort only while the
 * cohort has seen nothing but that warm-up, so sharing never changes what a session does: it is exactly
 * what a private evaluator warmed on the same ticks would do. A session that stops receiving ticks
 * (paused) leaves its cohort; on resume it is warmed afresh and joins or starts another.
 */
export class EvaluatorCohorts {
  /** per key, the cohort still open to new members (warmed, no live tick yet) */
  private readonly open = new Map<string, { shared: SharedEvaluator; warm: readonly TickLike[] }>();
  /** evaluators built (not shared joins), for tests and metrics */
  built = 0;

  /**
   * The evaluator for a session starting now: an open cohort's, if one has the same key and was warmed
   * on the same ticks, else a new one warmed on `warm` (oldest first).
   */
  join(key: string, warm: readonly TickLike[], create: () => Evaluator): SharedEvaluator {
    const o = this.open.get(key);
    if (o && !o.shared.live && sameTicks(o.warm, warm)) {
      o.shared.members++;
      return o.shared;
    }
    const inner = create();
    for (const t of warm) inner.evaluate(t);
    const shared = new SharedEvaluator(inner);
    shared.members = 1;
    this.built++;
    this.open.set(key, { shared, warm });
    return shared;
  }

  /** join() with a one-bar evaluator of `plan` (the in-process runner's and the runner threads'). */
  joinPlan(
    key: string,
    warm: readonly TickLike[],
    plan: CompiledPlan,
    evaluation: SessionSettings['evaluation'],
  ): SharedEvaluator {
    return this.join(key, warm, () => sessionEvaluator(plan, evaluation));
  }

  /** A session no longer uses `shared` (paused, stopped, removed). */
  leave(key: string, shared: SharedEvaluator): void {
    shared.members--;
    const o = this.open.get(key);
    if (o?.shared === shared && (shared.members <= 0 || shared.live)) this.open.delete(key);
  }
}

/**
 * The cohort key of a session: strategy (graph hash), symbol and evaluation settings. A strategy that
 * reads its own position (`plan.positionSlots`) depends on its session's trades, and a graph without a
 * hash (it failed to canonicalise) is not known to be the same: neither shares, its key is the session's.
 */
export const cohortKey = (
  hash: string | undefined,
  id: string,
  symbol: string,
  evaluation: unknown,
  plan?: Pick<CompiledPlan, 'positionSlots'>,
) => `${hash && !plan?.positionSlots.length ? hash : `session:${id}`}|${symbol}|${JSON.stringify(evaluation)}`;
