import { performance } from 'node:perf_hooks';
import { storedLedger, TOPICS, type Envelope, type RiskLimits, type Subscription, type Tick } from '@algotrade/core';
import { forwardTestsRepo, type Runtime } from '@algotrade/adapters';
import { CompileCache } from '@algotrade/strategy';
import { readTicks } from '../market-data/tick-message.ts';
import { sessionFromRow, warmupTicks } from './engine.ts';
import type { SignalMessage } from './live-session.ts';
import { otherWindows, OtherSymbolBars, warmedWithOthers } from './other-symbols.ts';

export interface SessionRunner {
  /** resolves with why the runner ended (the session left `running`, or it was stopped) */
  readonly done: Promise<string>;
  /** signals published so far */
  readonly published: () => number;
  stop(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * One session's strategy in its own process (`algotrade runner --session <id>`, a Kubernetes Job):
 * reads the symbol's ticks from `market-data-updates`, evaluates exactly as the in-process runner does
 * (same LiveSession code, same signal ids), and publishes signals on `strategy-signals` for the
 * forward-test service to execute. It follows the session's ledger from `portfolio-updates` (fills
 * change what the strategy may do next) and ends when the session is no longer running.
 */
export async function startSessionRunner(
  rt: Runtime,
  sessionId: string,
  opts: { statusPollMs?: number } = {},
): Promise<SessionRunner> {
  const repo = forwardTestsRepo(rt.db.db);
  const row = await repo.get(sessionId);
  if (!row) throw new Error(`no forward-test session ${sessionId}`);
  if (row.status !== 'running') throw new Error(`the session is ${row.status}, not running`);
  const s = sessionFromRow(row, new CompileCache(), true);
  // its resting limit or stop order is saved to the session's row as it changes (the view reads it there,
  // and a restarted runner rests it again), the saves in order
  let restSaves: Promise<void> = Promise.resolve();
  s.onRestChange = (x) => {
    const items = [{ id: x.id, resting: x.restingState() }];
    restSaves = restSaves.then(() =>
      repo
        .saveResting(items)
        .catch((e) => rt.log.warn({ err: e, session: sessionId }, 'saving a resting order failed')),
    );
  };
  const origin = `runner:${sessionId}`;
  const group = `runner-${sessionId}`;
  let published = 0;
  let finish!: (why: string) => void;
  const done = new Promise<string>((resolve) => (finish = resolve));
  const subs: Subscription[] = [];

  // resync with what the service has executed: the stored ledger is the truth
  let syncing: Promise<void> | null = null;
  const sync = () =>
    (syncing ??= (async () => {
      try {
        const r = await repo.get(sessionId);
        if (!r || r.status !== 'running') return finish(r ? `the session is ${r.status}` : 'the session was deleted');
        s.ledger = storedLedger(s.settings, r.state);
        s.settled();
        s.halting = false;
        // its own limits, changed by the user while it runs (PATCH): the row's from now on
        const risk = (r.config as { risk?: RiskLimits }).risk ?? {};
        if (JSON.stringify(risk) !== JSON.stringify(s.settings.risk ?? {})) s.setLimits(risk);
      } finally {
        syncing = null;
      }
    })());

  // subscribe before warming so no tick falls between the window read and the live stream
  const pending: Tick[][] = [];
  let warmed = false;
  // the other symbols the strategy reads: their live ticks, kept from the start (they are newer than any window)
  const others = new OtherSymbolBars();
  others.watch(s.plan.symbols, s.settings.evaluation);
  const onTicks = (ticks: readonly Tick[]) => {
    const out: SignalMessage[] = [];
    const receivedAt = now();
    for (const t of ticks) {
      const sig = s.onTick(t, receivedAt);
      if (sig) out.push({ ...sig, origin });
      // a ladder's further steps, the strategy's action on the tick that filled a resting order or took a
      // partial take profit: after that fill
      if (s.extra) {
        for (const x of s.extra) out.push({ ...x, origin });
        s.extra = null;
      }
    }
    for (const sig of out) {
      published++;
      void rt.bus
        .publish(TOPICS.strategySignals.name, sig.sessionId, 'signal', sig, sig.id)
        .catch((e) => rt.log.error({ err: e, signal: sig.id }, 'publishing a signal failed'));
    }
  };
  subs.push(
    await rt.bus.subscribe(TOPICS.marketDataUpdates.name, { group }, async (m: Envelope) => {
      const r = readTicks(m.data);
      if (!r.ok) return;
      others.push(r.symbol, r.ticks);
      if (r.symbol !== s.symbol) return;
      if (warmed) onTicks(r.ticks);
      else pending.push([...r.ticks]);
    }),
    await rt.bus.subscribe(TOPICS.portfolioUpdates.name, { group }, async (m: Envelope) => {
      if (m.key === sessionId && m.type === 'portfolio') await sync();
    }),
    await rt.bus.subscribe(TOPICS.forwardTestEvents.name, { group }, async (m: Envelope) => {
      if (m.key === sessionId && /^session\.(paused|stopped|failed|updated)$/.test(m.type)) await sync();
    }),
  );
  const warm = await warmupTicks(rt, s);
  if (s.plan.symbols.length)
    s.evaluator = warmedWithOthers(s.plan, s.settings.evaluation, warm, await otherWindows(rt, s.plan.symbols), others);
  else for (const t of warm) s.warm(t);
  warmed = true;
  for (const ticks of pending.splice(0)) onTicks(ticks);
  // a status poll as well, in case an event was missed (a pause or stop ends this runner)
  const poll = setInterval(() => void sync().catch(() => undefined), opts.statusPollMs ?? 5000);
  poll.unref();
  rt.log.info({ session: sessionId, symbol: s.symbol }, 'strategy runner started');

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(poll);
    await Promise.all(subs.map((x) => x.close().catch(() => undefined)));
    await restSaves;
    finish('stopped');
  };
  void done.then(stop);
  return { done, published: () => published, stop };
}
