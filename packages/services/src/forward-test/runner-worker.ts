import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { CompileCache, type CompiledPlan, type Graph } from '@algotrade/strategy';
import { cohortKey, EvaluatorCohorts, SharedEvaluator } from './cohorts.ts';
import type { SessionSettings } from './live-session.ts';
import { OtherSymbolBars, warmedWithOthers } from './other-symbols.ts';
import type { Fired, RunnerMessage, WireTick, WireWindows } from './runner-pool.ts';

/**
 * A runner thread: the strategies of its sessions, fed the ticks of their symbols. Sessions with the
 * same strategy, symbol, evaluation and warm-up share one evaluator (cohorts.ts); a paused session
 * leaves its cohort and is warmed again when it resumes.
 */
interface Held {
  id: string;
  symbol: string;
  key: string;
  plan: CompiledPlan;
  evaluation: SessionSettings['evaluation'];
  /** absent while paused */
  shared?: SharedEvaluator;
}
const cache = new CompileCache();
const cohorts = new EvaluatorCohorts();
const sessions = new Map<string, Held>();
const bySymbol = new Map<string, Held[]>();
/** the latest bars of the other symbols this thread's strategies read (their ticks come here too) */
const others = new OtherSymbolBars();

const join = (h: Held, warm: readonly WireTick[], windows: WireWindows = []) => {
  if (h.plan.symbols.length) {
    // reading other symbols: an evaluator of its own (not a cohort's), warmed on their windows too
    others.watch(h.plan.symbols, h.evaluation);
    h.shared = new SharedEvaluator(warmedWithOthers(h.plan, h.evaluation, warm, windows, others));
  } else h.shared = cohorts.joinPlan(h.key, warm, h.plan, h.evaluation);
};
const leave = (h: Held) => {
  if (h.shared && h.plan.symbols.length) others.unwatch(h.plan.symbols);
  else if (h.shared) cohorts.leave(h.key, h.shared);
  h.shared = undefined;
};

parentPort!.on('message', (m: RunnerMessage) => {
  switch (m.op) {
    case 'add': {
      const compiled = cache.compile(m.graph as Graph);
      if (!compiled.plan) return;
      const evaluation = m.evaluation as SessionSettings['evaluation'];
      const h: Held = {
        id: m.id,
        symbol: m.symbol,
        key: cohortKey(compiled.hash, m.id, m.symbol, evaluation, compiled.plan),
        plan: compiled.plan,
        evaluation,
      };
      join(h, m.warm ?? [], m.windows);
      sessions.set(m.id, h);
      let list = bySymbol.get(m.symbol);
      if (!list) bySymbol.set(m.symbol, (list = []));
      list.push(h);
      break;
    }
    case 'active': {
      const h = sessions.get(m.id);
      if (!h) break;
      if (!m.active) leave(h);
      else if (!h.shared) join(h, m.warm ?? [], m.windows);
      break;
    }
    case 'remove': {
      const h = sessions.get(m.id);
      if (!h) break;
      leave(h);
      const list = bySymbol.get(h.symbol);
      const i = list ? list.indexOf(h) : -1;
      if (i >= 0) list!.splice(i, 1);
      sessions.delete(m.id);
      break;
    }
    case 'heap': {
      (globalThis as { gc?: () => void }).gc?.();
      parentPort!.postMessage({ seq: m.seq, heap: getHeapStatistics().used_heap_size });
      break;
    }
    case 'ticks': {
      const fired: Fired = [];
      others.push(m.symbol, m.ticks);
      const list = bySymbol.get(m.symbol);
      if (list)
        for (let i = 0; i < m.ticks.length; i++) {
          // one tick object for every session: a shared evaluator steps once for all its members
          const t = m.ticks[i]!;
          for (let k = 0; k < list.length; k++) {
            const h = list[k]!;
            if (!h.shared) continue;
            const a = h.shared.evaluate(t);
            if (a < 0) continue;
            // rules at a distance: what they read now goes with the action (the engine's session opens with it)
            const rules = h.plan.risk.distances;
            if (!rules) fired.push([h.id, i, a]);
            else {
              const v = new Float64Array(1 + rules.length);
              v[0] = a;
              for (let k = 0; k < rules.length; k++) v[k + 1] = h.shared.value(rules[k]!.slot);
              fired.push([h.id, i, v]);
            }
          }
        }
      parentPort!.postMessage({ seq: m.seq, fired });
      break;
    }
  }
});

parentPort!.postMessage({ loaded: true });
