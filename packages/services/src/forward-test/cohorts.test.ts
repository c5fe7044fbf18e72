import { seededRandom } from '@algotrade/core';
import { CompileCache, templateById, type Graph } from '@algotrade/strategy';
import { describe, expect, it } from 'vitest';
import { cohortKey, EvaluatorCohorts, type Evaluator } from './cohorts.ts';
import { SessionEvaluator, type SessionSettings } from './live-session.ts';

const cache = new CompileCache();
const sma = (fast: number, slow: number): Graph => {
  const g = structuredClone(templateById('sma-crossover')!.graph);
  g.nodes.find((n) => n.id === 'fast')!.data = { period: fast };
  g.nodes.find((n) => n.id === 'slow')!.data = { period: slow };
  return g;
};
const walk = (n: number, seed: number, t0 = Date.UTC(2026, 0, 5)) => {
  const rnd = seededRandom(seed);
  let p = 100;
  return Array.from({ length: n }, (_, i) => {
    p *= 1 + (rnd() - 0.5) * 0.01;
    return { ts: t0 + i * 1000, price: p, size: 1, seq: i };
  });
};
const TICK: SessionSettings['evaluation'] = { mode: 'tick' };
const CANDLE: SessionSettings['evaluation'] = { mode: 'candle', intervalMs: 60_000 };

/** A session as the runner loop sees it: its key, and the evaluator it was given. */
function session(
  cohorts: EvaluatorCohorts,
  id: string,
  graph: Graph,
  evaluation: SessionSettings['evaluation'],
  warm: ReturnType<typeof walk>,
  counter: { steps: number },
) {
  const c = cache.compile(graph);
  const key = cohortKey(c.hash, id, 'EQUSD', evaluation);
  const create = (): Evaluator => {
    const ev = new SessionEvaluator(c.plan!.instantiate(1), evaluation);
    return { evaluate: (t) => (counter.steps++, ev.evaluate(t)) };
  };
  // its private twin: what the session would compute with an evaluator of its own
  const twin = new SessionEvaluator(c.plan!.instantiate(1), evaluation);
  for (const t of warm) twin.evaluate(t);
  return { id, key, shared: cohorts.join(key, warm, create), twin, fired: [] as number[], twinFired: [] as number[] };
}

describe('evaluator cohorts (sessions with the same strategy share one evaluator)', () => {
  it('every session fires exactly what a private evaluator fires, and each cohort steps once per tick', () => {
    const cohorts = new EvaluatorCohorts();
    const counter = { steps: 0 };
    const history = walk(3000, 1);
    const warm = history.slice(0, 200);
    const live = history.slice(200);
    const kinds: [Graph, SessionSettings['evaluation']][] = [
      [sma(10, 30), TICK],
      [sma(5, 20), TICK],
      [sma(10, 30), CANDLE],
      [sma(3, 7), CANDLE],
    ];
    // 40 sessions, 10 of each kind, joined in an interleaved order, all warmed on (copies of) the same ticks
    const ss = Array.from({ length: 40 }, (_, i) =>
      session(cohorts, `s${i}`, kinds[i % 4]![0], kinds[i % 4]![1], structuredClone(warm), counter),
    );
    expect(cohorts.built).toBe(4);
    expect(new Set(ss.map((s) => s.shared)).size).toBe(4);
    counter.steps = 0;
    for (const t of live)
      for (const s of ss) {
        s.fired.push(s.shared.evaluate(t));
        s.twinFired.push(s.twin.evaluate(t));
      }
    for (const s of ss) expect(s.fired).toEqual(s.twinFired);
    expect(ss.some((s) => s.fired.some((a) => a >= 0))).toBe(true); // the strategies do trade
    expect(counter.steps).toBe(4 * live.length);
  });

  it('a session starting after live ticks, or on other warm-up ticks, gets an evaluator of its own', () => {
    const cohorts = new EvaluatorCohorts();
    const counter = { steps: 0 };
    const history = walk(1500, 2);
    const a = session(cohorts, 'a', sma(10, 30), TICK, history.slice(0, 100), counter);
    const other = session(cohorts, 'other', sma(10, 30), TICK, history.slice(1, 101), counter);
    expect(other.shared).not.toBe(a.shared);
    const b = session(cohorts, 'b', sma(10, 30), TICK, history.slice(1, 101), counter);
    expect(b.shared).toBe(other.shared); // the same warm-up as `other`: shares with it
    const late: ReturnType<typeof session>[] = [];
    for (const [i, t] of history.slice(101).entries()) {
      // a session starting mid-stream, warmed on the window as it is then
      if (i === 500)
        late.push(session(cohorts, 'late', sma(10, 30), TICK, history.slice(101 + i - 100, 101 + i), counter));
      for (const s of [a, other, b, ...late]) {
        s.fired.push(s.shared.evaluate(t));
        s.twinFired.push(s.twin.evaluate(t));
      }
    }
    expect(late[0]!.shared).not.toBe(b.shared);
    expect(cohorts.built).toBe(3);
    for (const s of [a, other, b, ...late]) expect(s.fired).toEqual(s.twinFired);
  });

  it('members leave (pause, stop); a cohort that has seen live ticks takes no one, and an error reaches every member', () => {
    const cohorts = new EvaluatorCohorts();
    const g = cache.compile(sma(2, 4));
    const key = cohortKey(g.hash, 'x', 'EQUSD', TICK);
    let calls = 0;
    const failing = (): Evaluator => ({
      evaluate: () => {
        calls++;
        throw new Error('boom');
      },
    });
    const x = cohorts.join(key, [], failing);
    const y = cohorts.join(key, [], failing);
    expect(y).toBe(x);
    const t = { ts: 1, price: 1, size: 1 };
    expect(() => x.evaluate(t)).toThrow('boom');
    expect(() => y.evaluate(t)).toThrow('boom');
    expect(calls).toBe(1);
    cohorts.leave(key, x);
    // live: a newcomer with the same (empty) warm-up does not join it
    expect(cohorts.join(key, [], failing)).not.toBe(y);
    // a graph without a hash never shares
    expect(cohortKey(undefined, 'p', 'EQUSD', TICK)).not.toBe(cohortKey(undefined, 'q', 'EQUSD', TICK));
  });
});
