import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { CompileCache, type Graph } from '@algotrade/strategy';
import { SessionEvaluator, type SessionSettings } from './live-session.ts';
import type { RunnerMessage, WireTick } from './runner-pool.ts';

/** A runner thread: the strategies of its sessions, fed the ticks of their symbols. */
const cache = new CompileCache();
const sessions = new Map<string, { symbol: string; ev: SessionEvaluator; active: boolean }>();
const bySymbol = new Map<string, Set<string>>();

parentPort!.on('message', (m: RunnerMessage) => {
  switch (m.op) {
    case 'add': {
      const compiled = cache.compile(m.graph as Graph);
      if (!compiled.plan) return;
      const ev = new SessionEvaluator(compiled.plan.instantiate(1), m.evaluation as SessionSettings['evaluation']);
      for (const t of m.warm ?? []) ev.evaluate(t);
      sessions.set(m.id, { symbol: m.symbol, ev, active: true });
      let set = bySymbol.get(m.symbol);
      if (!set) bySymbol.set(m.symbol, (set = new Set()));
      set.add(m.id);
      break;
    }
    case 'active': {
      const s = sessions.get(m.id);
      if (s) s.active = m.active;
      break;
    }
    case 'remove': {
      const s = sessions.get(m.id);
      if (s) bySymbol.get(s.symbol)?.delete(m.id);
      sessions.delete(m.id);
      break;
    }
    case 'heap': {
      (globalThis as { gc?: () => void }).gc?.();
      parentPort!.postMessage({ seq: m.seq, heap: getHeapStatistics().used_heap_size });
      break;
    }
    case 'ticks': {
      const fired: [string, number, number][] = [];
      const ids = bySymbol.get(m.symbol);
      if (ids)
        m.ticks.forEach((t: WireTick, i: number) => {
          for (const id of ids) {
            const s = sessions.get(id)!;
            if (!s.active) continue;
            const a = s.ev.evaluate(t);
            if (a >= 0) fired.push([id, i, a]);
          }
        });
      parentPort!.postMessage({ seq: m.seq, fired });
      break;
    }
  }
});

parentPort!.postMessage({ loaded: true });
