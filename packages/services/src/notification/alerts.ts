import { randomUUID } from 'node:crypto';
import { notFound, TOPICS, type Subscription, type Tick } from '@algotrade/core';
import { isUuid, strategiesRepo } from '@algotrade/adapters';
import { CompileCache, SignalPosition, type CompiledPlan } from '@algotrade/strategy';
import { sql } from 'kysely';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import { readTicks } from '../market-data/tick-message.ts';
import { warmupTicks } from '../forward-test/engine.ts';
import { EvaluationBody, evaluationOf } from '../forward-test/evaluation.ts';
import { sessionEvaluator, type SessionEvaluator, type SessionSettings } from '../forward-test/live-session.ts';
import { otherWindows, OtherSymbolBars, warmedWithOthers } from '../forward-test/other-symbols.ts';
import { SymbolInput } from '../http/symbol.ts';
import { compiledStrategy } from '../strategy/compiled-strategy.ts';

/**
 * Whether an alert fires once (the default) or again: a price alert each time the price crosses its
 * level anew (after going back over it), a strategy alert on each change of signal; never twice within
 * `cooldownSeconds` of the event (tick) that last fired it.
 */
/** the changes of a session's status a session_status alert can fire on */
const SESSION_ALERT_STATUSES = ['paused', 'stopped', 'failed'] as const;
type SessionAlertStatus = (typeof SESSION_ALERT_STATUSES)[number];
const Repeat = {
  repeat: z.enum(['once', 'every']).default('once'),
  cooldownSeconds: z.number().int().min(0).max(604_800).optional(),
};
const priceAlert = <K extends 'price_above' | 'price_below'>(kind: K) =>
  z.strictObject({
    kind: z.literal(kind),
    symbol: SymbolInput,
    price: z.number().positive(),
    ...Repeat,
    note: z.string().max(200).optional(),
  });
const CreateAlert = z
  .discriminatedUnion('kind', [
    priceAlert('price_above'),
    priceAlert('price_below'),
    z.strictObject({
      kind: z.literal('session_drawdown'),
      sessionId: z.string().uuid(),
      drawdownPct: z.number().positive().max(100),
      note: z.string().max(200).optional(),
    }),
    z.strictObject({
      kind: z.literal('session_status'),
      sessionId: z.string().uuid(),
      /** the changes it fires on: stopped and failed (the default), paused too (a limit's or yours) */
      statuses: z
        .array(z.enum(SESSION_ALERT_STATUSES))
        .min(1)
        .max(3)
        .refine((s) => new Set(s).size === s.length, 'each status once')
        .optional(),
      ...Repeat,
      note: z.string().max(200).optional(),
    }),
    z.strictObject({
      kind: z.literal('strategy_signal'),
      strategyId: z.string().uuid(),
      symbol: SymbolInput,
      /** on every tick (default), or on each closed candle of an interval, as a paper session */
      evaluation: EvaluationBody,
      ...Repeat,
      note: z.string().max(200).optional(),
    }),
  ])
  .superRefine((b, ctx) => {
    if ('cooldownSeconds' in b && b.cooldownSeconds !== undefined && b.repeat !== 'every')
      ctx.addIssue({
        code: 'custom',
        path: ['cooldownSeconds'],
        message: 'a cooldown is for an alert that repeats: set repeat to "every"',
      });
  });
type AlertKind = z.infer<typeof CreateAlert>['kind'];

interface Active {
  id: string;
  userId: string;
  kind: AlertKind;
  symbol: string | null;
  sessionId: string | null;
  level: number;
  note?: string;
  /** set when it fires again (repeat: every): the least time between two firings, in event time */
  repeat?: { cooldownMs: number };
  /** a session_status alert: the statuses it fires on */
  statuses?: readonly SessionAlertStatus[];
  /** a price alert fires when armed; firing disarms it until the price is back on the other side */
  armed: boolean;
  /** the time of the event (tick) that last fired it */
  lastEventTs?: number;
  /** a repeating strategy alert's last fired action: it fires again on a different one */
  lastAction?: string;
  /** a strategy alert's name, plan and evaluator (set once warmed on the symbol's recent history) */
  strategy?: {
    name: string;
    plan: CompiledPlan;
    evaluation: SessionSettings['evaluation'];
    evaluator?: SessionEvaluator;
    /** live ticks that arrived while it warmed: evaluated, in order, once it has */
    pending: LiveTick[];
    /** it holds a watch on the other symbols it reads (otherBars), until released */
    watching: boolean;
    /**
     * what its Position nodes read: the position its live signals make (flat when the alert is made, as
     * a session starts; kept in its params, so an instance that loads it later goes on from it)
     */
    position: SignalPosition;
  };
}

/** A stored strategy alert's position, its numbers checked (flat when there is none or it is not one). */
function positionOf(p: unknown): Partial<SignalPosition> {
  const o = (p ?? {}) as Record<string, unknown>;
  const n = (k: string) => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? o[k] : 0);
  return n('qty') > 0
    ? { qty: n('qty'), entryPrice: n('entryPrice'), entryTs: n('entryTs'), entries: n('entries') }
    : {};
}

type LiveTick = Pick<Tick, 'ts' | 'price' | 'size' | 'seq'>;
/** Live ticks held for a strategy alert still warming, at most (beyond, the oldest are dropped). */
const MAX_PENDING = 10_000;

interface AlertRow {
  id: string;
  user_id: string;
  kind: AlertKind;
  symbol: string | null;
  session_id: string | null;
  params: Record<string, unknown>;
  status: 'active' | 'triggered';
  message: string | null;
  triggered_at: Date | string | null;
  trigger_count: number;
  event_at: Date | string | null;
  created_at: Date | string;
}

const view = (r: AlertRow) => ({
  id: r.id,
  kind: r.kind,
  symbol: r.symbol,
  sessionId: r.session_id,
  // a strategy alert's graph snapshot stays server-side; its strategy id, name and version are shown
  params: Object.fromEntries(Object.entries(r.params).filter(([k]) => k !== 'graph')),
  status: r.status,
  message: r.message,
  triggeredAt: r.triggered_at ? new Date(r.triggered_at).toISOString() : null,
  triggerCount: r.trigger_count,
  createdAt: new Date(r.created_at).toISOString(),
});

/**
 * Alerts: a price crossing a level (`price_above`: the first tick at or above it; `price_below`: at or
 * below), a forward-test session's drawdown reaching a limit, a session stopping or failing, a strategy's
 * signal. Stored per user; each fires once, or again for price and strategy alerts with `repeat: every`
 * (see Repeat). Firing is a conditional update (active to triggered, or for a repeating alert an event
 * time past the cooldown), so several notification instances never push one event twice; it is pushed
 * on `user-notifications`, which the WebSocket delivers on the owner's `user` channel.
 */
export const alertRoutes: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const db = rt.db.db;
  // strategy alerts' plans by graph hash: compiled once when the alert is made, not again to index it
  const plans = new CompileCache();
  const bySymbol = new Map<string, Map<string, Active>>();
  const bySession = new Map<string, Map<string, Active>>();
  const index = (a: Active) => {
    const [map, key] = a.symbol ? [bySymbol, a.symbol] : [bySession, a.sessionId!];
    let m = map.get(key);
    if (!m) map.set(key, (m = new Map()));
    m.set(a.id, a);
  };
  /** the latest bars of the symbols strategy alerts read besides their own (Other symbol nodes) */
  const otherBars = new OtherSymbolBars();
  /** An alert leaves this instance: a strategy alert lets go of the other symbols it watched. */
  const release = (a: Active) => {
    if (!a.strategy?.watching) return;
    a.strategy.watching = false;
    otherBars.unwatch(a.strategy.plan.symbols);
  };
  const unindex = (a: Active) => {
    release(a);
    const [map, key] = a.symbol ? [bySymbol, a.symbol] : [bySession, a.sessionId!];
    map.get(key)?.delete(a.id);
    if (map.get(key)?.size === 0) map.delete(key);
  };
  /** Whether a repeating alert is still within its cooldown at event time `ts`. */
  const cooling = (a: Active, ts: number) =>
    a.repeat !== undefined && a.lastEventTs !== undefined && ts - a.lastEventTs <= a.repeat.cooldownMs;
  const activeOf = (r: AlertRow): Active => {
    const a: Active = {
      id: r.id,
      userId: r.user_id,
      kind: r.kind,
      symbol: r.symbol,
      sessionId: r.session_id,
      level: Number((r.params as { price?: number; drawdownPct?: number }).price ?? r.params.drawdownPct ?? 0),
      ...(r.params.note ? { note: String(r.params.note) } : {}),
      // a repeating price alert that fired already waits for the price to go back over its level
      armed: r.trigger_count === 0,
      ...(r.event_at ? { lastEventTs: new Date(r.event_at).getTime() } : {}),
      ...(typeof r.params.lastAction === 'string' ? { lastAction: r.params.lastAction } : {}),
    };
    if (r.params.repeat === 'every') a.repeat = { cooldownMs: 1000 * Number(r.params.cooldownSeconds ?? 0) };
    if (r.kind === 'session_status') {
      const s = Array.isArray(r.params.statuses) ? r.params.statuses : ['stopped', 'failed'];
      a.statuses = s.filter((x): x is SessionAlertStatus => (SESSION_ALERT_STATUSES as readonly unknown[]).includes(x));
    }
    if (r.kind === 'strategy_signal') {
      // the graph as it was when the alert was made (later edits to the strategy do not change it)
      const p = r.params as {
        name: string;
        graph: unknown;
        evaluation: SessionSettings['evaluation'];
        position?: Partial<SignalPosition>;
      };
      const plan = plans.compile(p.graph).plan;
      if (plan) {
        a.strategy = {
          name: p.name,
          plan,
          evaluation: p.evaluation,
          pending: [],
          watching: false,
          position: Object.assign(new SignalPosition(), positionOf(p.position)),
        };
        void warm(a).catch((e: unknown) => rt.log.warn({ err: e, alert: a.id }, 'strategy alert warm-up failed'));
      }
    }
    return a;
  };
  /**
   * A strategy alert's evaluator, warmed (without firing) on the symbol's window and stored candles; then
   * the live ticks that arrived meanwhile (those the window did not hold already) are evaluated in order,
   * and only then does it take ticks as they come.
   */
  async function warm(a: Active) {
    const s = a.strategy!;
    if (s.plan.symbols.length) {
      // other symbols it reads: their live ticks kept from now on (released with the alert)
      otherBars.watch(s.plan.symbols, s.evaluation);
      s.watching = true;
    }
    const ticks = await warmupTicks(rt, { id: a.id, symbol: a.symbol!, plan: s.plan, settings: s });
    let ev: SessionEvaluator;
    if (s.plan.symbols.length) {
      // their windows interleaved in its warm-up, then their live ticks
      ev = warmedWithOthers(s.plan, s.evaluation, ticks, await otherWindows(rt, s.plan.symbols), otherBars);
    } else {
      ev = sessionEvaluator(s.plan, s.evaluation);
      for (const t of ticks) ev.evaluate(t);
    }
    // the position its signals made before (another instance, or this process before a restart)
    const p = s.position;
    if (p.qty > 0) ev.setPosition(p.qty, p.entryPrice, p.entryTs, p.entries);
    const last = ticks[ticks.length - 1];
    const seen = (t: LiveTick) =>
      !!last && (t.ts < last.ts || (t.ts === last.ts && (t.seq ?? 0) <= (last.seq ?? Infinity)));
    while (s.pending.length) {
      const t = s.pending.shift()!;
      if (!seen(t)) await strategyTick(a, ev, t);
    }
    s.evaluator = ev;
  }
  /** A strategy alert's evaluation of one live tick: fires on its first action (see Repeat for the others). */
  async function strategyTick(a: Active, ev: SessionEvaluator, t: LiveTick) {
    const s = a.strategy!;
    const fired = ev.evaluate(t);
    const spec = fired >= 0 ? s.plan.actions[fired] : undefined;
    // a strategy reading its own position reads the one its signals make, filled at this tick's price
    if (spec && s.plan.positionSlots.length && s.position.apply(spec, t.price, t.ts)) {
      const p = s.position;
      ev.setPosition(p.qty, p.entryPrice, p.entryTs, p.entries);
      // kept with the alert (every instance holding it writes the same, from the same ticks)
      const position = { qty: p.qty, entryPrice: p.entryPrice, entryTs: p.entryTs, entries: p.entries };
      await db
        .updateTable('alerts')
        .set({ params: sql`params || ${JSON.stringify({ position })}::jsonb` } as never)
        .where('id', '=', a.id)
        .where('status', '=', 'active')
        .execute();
    }
    if (!spec || (a.repeat && (spec.action === a.lastAction || cooling(a, t.ts)))) return;
    a.lastAction = spec.action;
    await fire(
      a,
      `${s.name} on ${a.symbol}: ${spec.action} signal at ${t.price}`,
      {
        symbol: a.symbol,
        price: t.price,
        action: spec.action,
        nodeId: spec.nodeId,
        tickTs: new Date(t.ts).toISOString(),
      },
      t.ts,
    );
  }
  // every instance sees every message (its own group) and holds every active alert: alerts created
  // through another instance arrive with the periodic reload; firing is once whichever instance wins.
  // An alert already held stays as it is (a strategy alert keeps its evaluator's state).
  const reload = async () => {
    const rows = (await db.selectFrom('alerts').selectAll().where('status', '=', 'active').execute()) as AlertRow[];
    const held = new Map<string, Active>();
    for (const m of [...bySymbol.values(), ...bySession.values()]) for (const a of m.values()) held.set(a.id, a);
    bySymbol.clear();
    bySession.clear();
    for (const r of rows) {
      index(held.get(r.id) ?? activeOf(r));
      held.delete(r.id);
    }
    // the ones gone from the database (fired or deleted through another instance)
    for (const a of held.values()) release(a);
  };
  await reload();
  const timer = setInterval(() => void reload().catch(() => undefined), 15_000);
  timer.unref();

  /** Fires an alert for an event at `eventTs` (a tick's time; now for session events). */
  async function fire(a: Active, message: string, data: Record<string, unknown>, eventTs = Date.now()) {
    const again = a.repeat;
    if (again) a.lastEventTs = eventTs;
    else unindex(a);
    let update = db
      .updateTable('alerts')
      .set({
        status: again ? 'active' : 'triggered',
        message,
        triggered_at: sql`now()`,
        event_at: new Date(eventTs),
        trigger_count: sql`trigger_count + 1`,
        ...(typeof data.action === 'string'
          ? { params: sql`params || ${JSON.stringify({ lastAction: data.action })}::jsonb` }
          : {}),
      } as never)
      .where('id', '=', a.id)
      .where('status', '=', 'active');
    // another instance that fired this event (or one within the cooldown) already wins the row
    if (again)
      update = update.where((eb) =>
        eb.or([eb('event_at', 'is', null), eb('event_at', '<', new Date(eventTs - again.cooldownMs))]),
      );
    const won = (await update.returning('trigger_count').executeTakeFirst()) as { trigger_count: number } | undefined;
    if (!won) return; // fired elsewhere already, or deleted
    const count = won.trigger_count;
    await rt.bus.publish(
      TOPICS.userNotifications.name,
      a.userId,
      'alert',
      { alertId: a.id, kind: a.kind, message, count, ...(a.note ? { note: a.note } : {}), ...data },
      `alert:${a.id}:${count}`,
    );
  }

  const group = `alerts-${randomUUID()}`;
  const subs: Subscription[] = [
    await rt.bus.subscribe(TOPICS.marketDataUpdates.name, { group }, async (m) => {
      const r = readTicks(m.data);
      if (!r.ok) return;
      otherBars.push(r.symbol, r.ticks);
      const alerts = bySymbol.get(r.symbol);
      if (!alerts) return;
      for (const t of r.ticks)
        for (const a of [...alerts.values()]) {
          if (a.strategy) {
            // every tick once warmed; until then held for the warm-up to evaluate after it
            const s = a.strategy;
            if (s.evaluator) await strategyTick(a, s.evaluator, t);
            else if (s.pending.push(t) > MAX_PENDING) s.pending.shift();
            continue;
          }
          const hit = a.kind === 'price_above' ? t.price >= a.level : a.kind === 'price_below' && t.price <= a.level;
          // back on the other side of the level: a repeating alert may fire on the next crossing
          if (!hit) a.armed = true;
          if (!hit || !a.armed || cooling(a, t.ts)) continue;
          a.armed = false;
          await fire(
            a,
            `${a.symbol} ${a.kind === 'price_above' ? 'rose to' : 'fell to'} ${t.price} (level ${a.level})`,
            {
              symbol: a.symbol,
              price: t.price,
              level: a.level,
              tickTs: new Date(t.ts).toISOString(),
            },
            t.ts,
          );
        }
    }),
    await rt.bus.subscribe(TOPICS.portfolioUpdates.name, { group }, async (m) => {
      const d = m.data as { sessionId?: string; maxDrawdownPct?: number; equity?: number };
      const alerts = d.sessionId ? bySession.get(d.sessionId) : undefined;
      if (!alerts || typeof d.maxDrawdownPct !== 'number') return;
      for (const a of [...alerts.values()])
        if (a.kind === 'session_drawdown' && d.maxDrawdownPct >= a.level)
          await fire(a, `session ${a.sessionId} drew down ${d.maxDrawdownPct.toFixed(2)}% (limit ${a.level}%)`, {
            sessionId: a.sessionId,
            drawdownPct: d.maxDrawdownPct,
            equity: d.equity,
          });
    }),
    await rt.bus.subscribe(TOPICS.forwardTestEvents.name, { group }, async (m) => {
      if (m.type !== 'session.stopped' && m.type !== 'session.failed' && m.type !== 'session.paused') return;
      const status = m.type.slice('session.'.length) as SessionAlertStatus;
      const d = m.data as { sessionId?: string; reason?: string };
      const alerts = d.sessionId ? bySession.get(d.sessionId) : undefined;
      if (!alerts) return;
      for (const a of [...alerts.values()])
        if (a.kind === 'session_status' && a.statuses?.includes(status) && !cooling(a, Date.now()))
          await fire(
            a,
            `session ${a.sessionId} ${status}${d.reason ? `: ${d.reason}` : status === 'paused' ? ' by hand' : ''}`,
            { sessionId: a.sessionId, status, reason: d.reason ?? null },
          );
    }),
  ];
  ctx.onClose(async () => {
    clearInterval(timer);
    for (const s of subs) await s.close();
  });

  const routes = async (plain: typeof app) => {
    const r = plain.withTypeProvider<ZodTypeProvider>();
    r.addHook('preHandler', app.requireUser);
    const Id = z.object({ id: z.string().max(64) });
    const mine = async (id: string, userId: string) => {
      const row = isUuid(id)
        ? ((await db
            .selectFrom('alerts')
            .selectAll()
            .where('id', '=', id)
            .where('user_id', '=', userId)
            .executeTakeFirst()) as AlertRow | undefined)
        : undefined;
      if (!row) throw notFound('alert');
      return row;
    };

    r.post('/', { schema: { tags: ['alerts'], body: CreateAlert } }, async (req, reply) => {
      const user = userOf(req);
      const b = req.body;
      let strategy: Record<string, unknown> = {};
      if (b.kind === 'strategy_signal') {
        const { strategy: s } = await compiledStrategy(strategiesRepo(db), plans, user.id, b.strategyId);
        const evaluation = evaluationOf(b.evaluation);
        strategy = { strategyId: s.id, name: s.name, version: s.version, graph: s.graph, evaluation };
      }
      if ('sessionId' in b) {
        const s = await db
          .selectFrom('forward_test_sessions')
          .select('id')
          .where('id', '=', b.sessionId)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (!s) throw notFound('forward test');
      }
      const params =
        b.kind === 'price_above' || b.kind === 'price_below'
          ? { price: b.price }
          : b.kind === 'session_drawdown'
            ? { drawdownPct: b.drawdownPct }
            : b.kind === 'session_status'
              ? { statuses: b.statuses ?? ['stopped', 'failed'] }
              : strategy;
      const repeat =
        'repeat' in b && b.repeat === 'every' ? { repeat: 'every', cooldownSeconds: b.cooldownSeconds ?? 0 } : {};
      const row = (await db
        .insertInto('alerts')
        .values({
          user_id: user.id,
          kind: b.kind,
          symbol: 'symbol' in b ? b.symbol : null,
          session_id: 'sessionId' in b ? b.sessionId : null,
          params: JSON.stringify({ ...params, ...repeat, ...(b.note ? { note: b.note } : {}) }),
        })
        .returningAll()
        .executeTakeFirstOrThrow()) as AlertRow;
      index(activeOf(row));
      return reply.status(201).send(view(row));
    });
    r.get('/', { schema: { tags: ['alerts'] } }, async (req) => {
      const rows = await db
        .selectFrom('alerts')
        .selectAll()
        .where('user_id', '=', userOf(req).id)
        .orderBy('created_at', 'desc')
        .limit(1000)
        .execute();
      return (rows as AlertRow[]).map(view);
    });
    r.get('/:id', { schema: { tags: ['alerts'], params: Id } }, async (req) =>
      view(await mine(req.params.id, userOf(req).id)),
    );
    r.delete('/:id', { schema: { tags: ['alerts'], params: Id } }, async (req, reply) => {
      const row = await mine(req.params.id, userOf(req).id);
      await db.deleteFrom('alerts').where('id', '=', row.id).execute();
      // the alert as held (a strategy alert releases what it watched), else by its keys alone (activeOf
      // would compile and warm a strategy alert only to drop it)
      const held = (row.symbol ? bySymbol.get(row.symbol) : bySession.get(row.session_id!))?.get(row.id);
      unindex(held ?? ({ id: row.id, symbol: row.symbol, sessionId: row.session_id } as Active));
      return reply.status(204).send();
    });
  };
  await app.register(routes, { prefix: '/api/alerts' });
};
