import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError, notFound, TOPICS, type Envelope, type Subscription } from '@algotrade/core';
import { isUuid } from '@algotrade/adapters';
import { sql } from 'kysely';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';

/** What a webhook can be told of. */
export const WEBHOOK_EVENTS = [
  'alert',
  'trade',
  'order.refused',
  'session.paused',
  'session.resumed',
  'session.stopped',
  'session.failed',
  'backtest.done',
  'backtest.failed',
  'sweep.done',
] as const;
type WebhookEvent = (typeof WEBHOOK_EVENTS)[number] | 'ping';
const MAX_PER_USER = 20;
/** how long a sender holds a claimed delivery before another may take it (a sender that died) */
const LEASE_MS = 30_000;
const BATCH = 20;

const CreateWebhook = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
    .max(2000)
    // (runs after a failed URL check too: a string URL cannot read is left to that check's message)
    .refine((u) => {
      try {
        const x = new URL(u);
        return !x.username && !x.password;
      } catch {
        return true;
      }
    }, 'no user name or password in the URL'),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).default(['alert']),
  format: z.enum(['json', 'slack', 'discord', 'telegram']).default('json'),
  /** Telegram: the chat (a number, or @channelname) the bot posts to; the URL is the bot's sendMessage */
  chatId: z
    .union([
      z.string().regex(/^(-?\d{1,20}|@\w{5,32})$/, 'a chat id such as -1001234567890 or @mychannel'),
      z.number().int(),
    ])
    .transform(String)
    .optional(),
  description: z.string().max(200).optional(),
});
const Id = z.object({ id: z.string().max(64) });

interface WebhookRow {
  id: string;
  user_id: string;
  url: string;
  events: string[];
  format: 'json' | 'slack' | 'discord' | 'telegram';
  chat_id: string | null;
  secret: string;
  description: string | null;
  active: boolean;
  created_at: Date | string;
}
interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event: string;
  payload: { message: string; data: Record<string, unknown>; at: string };
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  response_status: number | null;
  error: string | null;
  next_attempt_at: Date | string;
  created_at: Date | string;
  finished_at: Date | string | null;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);
/** A URL as lists show it: a Telegram bot token (the bot's password) cut to its last four characters. */
export const shownUrl = (url: string) => url.replace(/\/bot[^/]+(?=[^/]{4}\/)/, '/bot…');
const view = (r: WebhookRow) => ({
  id: r.id,
  url: shownUrl(r.url),
  events: r.events,
  format: r.format,
  ...(r.chat_id ? { chatId: r.chat_id } : {}),
  description: r.description,
  active: r.active,
  /** the secret's last four characters, to tell secrets apart (the whole one is shown once, on creation) */
  secretHint: `…${r.secret.slice(-4)}`,
  createdAt: iso(r.created_at),
});
const deliveryView = (d: DeliveryRow) => ({
  id: d.id,
  event: d.event,
  status: d.status,
  attempts: d.attempts,
  responseStatus: d.response_status,
  error: d.error,
  message: d.payload.message,
  nextAttemptAt: d.status === 'pending' ? iso(d.next_attempt_at) : null,
  createdAt: iso(d.created_at),
  finishedAt: iso(d.finished_at),
});

/** Loopback, private, link-local (cloud metadata), carrier-grade NAT, unspecified, multicast and reserved ranges. */
const privateNets = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  privateNets.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  privateNets.addSubnet(net, bits, 'ipv6');

/** Whether an address is one a webhook may not reach by default (IPv4-mapped IPv6 read as IPv4). */
export function isPrivateAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return privateNets.check(mapped[1]!, 'ipv4');
  return isIP(ip) === 6 ? privateNets.check(ip, 'ipv6') : privateNets.check(ip, 'ipv4');
}

/**
 * The signature a receiver checks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
 * webhook's secret>`. Receivers should also refuse a `t` more than a few minutes old (replays).
 */
export function signPayload(secret: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** A run as a person knows it: its name with the start of its id ("Breakout v2" (1a2b3c4d)), or the id alone. */
const called = (d: Record<string, unknown>, idKey: string) => {
  const id = String(d[idKey]).slice(0, 8);
  return typeof d.name === 'string' && d.name ? `"${d.name}" (${id})` : id;
};

/** The line a person reads for an event (the Slack and Discord formats send only this). */
function describe(event: WebhookEvent, d: Record<string, unknown>): string {
  const num = (v: unknown, digits = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '?');
  const metrics = (d.metrics ?? {}) as Record<string, unknown>;
  switch (event) {
    case 'alert':
      return `Alert: ${String(d.message ?? d.kind)}${d.note ? ` (${String(d.note)})` : ''}`;
    case 'trade':
      return `${String(d.side).toUpperCase()} ${String(d.quantity)} ${String(d.symbol)} at ${String(d.price)} (session ${String(d.sessionId).slice(0, 8)}${typeof d.realizedPnl === 'number' && d.realizedPnl !== 0 ? `, realised ${num(d.realizedPnl)}` : ''})`;
    case 'order.refused':
      return `Order refused in session ${String(d.sessionId).slice(0, 8)}: ${String(d.reason ?? d.code)}`;
    case 'session.paused':
    case 'session.resumed':
    case 'session.stopped':
    case 'session.failed':
      // a pause, a resume or a stop without a reason is the user's own
      return `Session ${String(d.sessionId).slice(0, 8)} ${event.slice(8)}${d.reason ? `: ${String(d.reason)}` : event === 'session.failed' ? '' : ' by hand'}`;
    case 'backtest.done':
      return `Backtest ${called(d, 'backtestId')} done: return ${num(metrics.returnPct)} %, Sharpe ${num(metrics.sharpe)}, ${String(metrics.trades ?? 0)} trades`;
    case 'backtest.failed':
      return `Backtest ${called(d, 'backtestId')} failed: ${String(d.error)}`;
    case 'sweep.done': {
      type Point = { backtestId?: string; combo?: Record<string, unknown> } & Record<string, unknown>;
      const [best, robust] = [d.best as Point | undefined, d.robust as Point | undefined];
      const comboText = (p: Point) =>
        Object.entries(p.combo ?? {})
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ');
      return (
        `Sweep ${called(d, 'sweepId')} done: ${String(d.done)} backtests` +
        (d.failed ? ` (${String(d.failed)} failed)` : '') +
        (best ? `, best ${String(d.rankBy)} ${num(best[String(d.rankBy)])} with ${comboText(best)}` : '') +
        // the point best with its neighbours, when it is another
        (robust && robust.backtestId !== best?.backtestId
          ? `; most robust ${comboText(robust)} (${num(robust[String(d.rankBy)])}, ${num(robust.withNeighbours)} with its ${String(robust.neighbours)} neighbours)`
          : '')
      );
    }
    default:
      return 'AlgoTrade webhook test';
  }
}

/**
 * Outgoing webhooks: a user names a URL and the events to send there (alerts firing, fills, refused
 * orders, sessions ending, backtests finishing). Each event becomes a stored delivery (one per event
 * and webhook, so a bus message seen twice sends once), sent as a signed POST; failures (network,
 * timeout, 408, 429, 5xx) are retried with growing waits (WEBHOOK_RETRY_DELAYS_MS), other 4xx end it,
 * 410 Gone also turns the webhook off. Deliveries survive a restart: senders claim due rows from the
 * database, so several notification instances share the work and a dead one's claims lapse.
 */
export const webhookRoutes: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const db = rt.db.db;
  const cfg = rt.config.webhooks;
  // users with at least one active webhook, and their webhooks (most users have none: their events
  // cost one Set lookup); reloaded periodically for webhooks made through another instance
  let byUser = new Map<string, WebhookRow[]>();
  const reload = async () => {
    const rows = (await db.selectFrom('webhooks').selectAll().where('active', '=', true).execute()) as WebhookRow[];
    const next = new Map<string, WebhookRow[]>();
    for (const r of rows) next.set(r.user_id, [...(next.get(r.user_id) ?? []), r]);
    byUser = next;
  };
  await reload();
  const reloadTimer = setInterval(() => void reload().catch(() => undefined), 15_000);
  reloadTimer.unref();

  /** one delivery per webhook of `userId` that wants `event` (none twice for one event id) */
  async function enqueue(userId: string, event: WebhookEvent, eventId: string, data: Record<string, unknown>) {
    const hooks = byUser.get(userId)?.filter((w) => w.events.includes(event));
    if (!hooks?.length) return;
    const payload = JSON.stringify({ message: describe(event, data), data, at: new Date().toISOString() });
    await db
      .insertInto('webhook_deliveries')
      .values(hooks.map((w) => ({ webhook_id: w.id, event_id: eventId, event, payload })))
      .onConflict((oc) => oc.columns(['webhook_id', 'event_id']).doNothing())
      .execute();
    kick();
  }

  // one group for every instance: each event is enqueued once, by whichever instance takes it. The
  // bus's own de-duplication is off: the deliveries' unique (webhook, event id) already drops a repeat,
  // and these topics (fills above all) would otherwise keep a memory of recent ids for this group too
  const group = 'webhooks';
  // each topic's events, their owner, and (when it differs from the message's type) the event's name
  const sources: [
    topic: string,
    events: readonly WebhookEvent[],
    owner: (m: Envelope) => unknown,
    name?: (m: Envelope) => string,
  ][] = [
    [TOPICS.userNotifications.name, ['alert'], (m) => m.key],
    [
      TOPICS.realtimeUpdates.name,
      ['backtest.done', 'backtest.failed', 'sweep.done'],
      // a sweep's backtests are told of once, as the sweep's end (sweep.done), not each on its own
      (m) => {
        const d = m.data as { userId?: unknown; sweepId?: unknown } | undefined;
        return m.type.startsWith('backtest.') && d?.sweepId ? undefined : d?.userId;
      },
    ],
    [TOPICS.tradeExecutions.name, ['trade'], (m) => (m.data as { userId?: unknown })?.userId],
    [
      TOPICS.forwardTestEvents.name,
      ['order.refused', 'session.paused', 'session.resumed', 'session.stopped', 'session.failed'],
      (m) => (m.data as { userId?: unknown })?.userId,
      // a session running again after a pause is resumed (a limit's new day, or the user); its start is not sent
      (m) =>
        m.type === 'session.running' && (m.data as { from?: unknown })?.from === 'paused' ? 'session.resumed' : m.type,
    ],
  ];
  const subs: Subscription[] = [];
  for (const [topic, events, owner, name = (m: Envelope) => m.type] of sources)
    subs.push(
      await rt.bus.subscribe(topic, { group, dedupe: false }, async (m) => {
        const u = owner(m);
        const event = name(m);
        if ((events as readonly string[]).includes(event) && typeof u === 'string')
          await enqueue(u, event as WebhookEvent, m.id, m.data as Record<string, unknown>);
      }),
    );

  // the sender: due deliveries, a batch at a time; woken by a new one, and when the next pending one
  // is due (at least once a minute: a delivery another instance claimed and never finished)
  let closed = false;
  let wake: NodeJS.Timeout | undefined;
  const sleepUntilDue = async () => {
    const next = await db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    const at = next?.at ? new Date(next.at as Date | string).getTime() : Infinity;
    clearTimeout(wake);
    if (closed) return;
    wake = setTimeout(kick, Math.max(20, Math.min(60_000, at - Date.now())));
    wake.unref();
  };
  let running: Promise<void> | null = null;
  let again = false;
  function kick(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        do {
          again = false;
          const n = await sendBatch();
          if (n === BATCH) again = true;
        } while (again && !closed);
        await sleepUntilDue();
      } catch (e) {
        // the database away a moment: try again in a few seconds
        app.log.warn({ err: e }, 'webhook sender: a batch failed; trying again in 5 s');
        clearTimeout(wake);
        if (!closed) (wake = setTimeout(kick, 5000)).unref();
      } finally {
        running = null;
      }
    })();
  }
  kick(); // deliveries left pending by a stop or a crash

  async function sendBatch(): Promise<number> {
    const claimed = await sql<DeliveryRow>`
      update webhook_deliveries set attempts = attempts + 1,
        next_attempt_at = now() + ${`${cfg.timeoutMs + LEASE_MS} milliseconds`}::interval
      where id in (
        select id from webhook_deliveries where status = 'pending' and next_attempt_at <= now()
        order by next_attempt_at limit ${BATCH} for update skip locked)
      returning *`.execute(db);
    const rows = claimed.rows;
    if (!rows.length) return 0;
    const hooks = (await db
      .selectFrom('webhooks')
      .selectAll()
      .where(
        'id',
        'in',
        rows.map((r) => r.webhook_id),
      )
      .execute()) as WebhookRow[];
    const hook = new Map(hooks.map((h) => [h.id, h]));
    await Promise.all(rows.map((r) => attempt(r, hook.get(r.webhook_id))));
    return rows.length;
  }

  const finish = (
    r: DeliveryRow,
    status: 'delivered' | 'failed',
    responseStatus: number | null,
    error: string | null,
  ) =>
    db
      .updateTable('webhook_deliveries')
      .set({ status, response_status: responseStatus, error, finished_at: new Date() })
      .where('id', '=', r.id)
      .execute();

  /** One attempt: sent and recorded as delivered, failed, or due again after the next wait. */
  async function attempt(r: DeliveryRow, w: WebhookRow | undefined): Promise<void> {
    if (!w || !w.active) {
      await finish(r, 'failed', null, 'the webhook was turned off');
      ctx.metrics.webhookDeliveries.inc({ outcome: 'failed' });
      return;
    }
    const out = await send(w, r);
    const retryable = out.status === null || out.status === 408 || out.status === 429 || out.status >= 500;
    if (out.ok) {
      await finish(r, 'delivered', out.status, null);
      ctx.metrics.webhookDeliveries.inc({ outcome: 'delivered' });
    } else if (retryable && !out.final && r.attempts <= cfg.retryDelaysMs.length) {
      // the next wait, with up to a fifth more at random so many failed deliveries do not return at once
      const wait = cfg.retryDelaysMs[r.attempts - 1]! * (1 + Math.random() * 0.2);
      await db
        .updateTable('webhook_deliveries')
        .set({
          response_status: out.status,
          error: out.error,
          next_attempt_at: new Date(Date.now() + wait),
        })
        .where('id', '=', r.id)
        .execute();
      ctx.metrics.webhookDeliveries.inc({ outcome: 'retry' });
    } else {
      const error = retryable && !out.final ? `gave up after ${r.attempts} attempts: ${out.error}` : out.error;
      await finish(r, 'failed', out.status, error);
      ctx.metrics.webhookDeliveries.inc({ outcome: 'failed' });
      if (out.status === 410) await db.updateTable('webhooks').set({ active: false }).where('id', '=', w.id).execute();
    }
  }

  /** The POST itself; `final`: no retry can help (the address is refused). */
  async function send(
    w: WebhookRow,
    r: DeliveryRow,
  ): Promise<{ ok: boolean; status: number | null; error: string | null; final?: boolean }> {
    const u = new URL(w.url);
    if (!cfg.allowPrivateNetworks) {
      const host = u.hostname.replace(/^\[|\]$/g, '');
      let addresses: string[];
      try {
        addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
      } catch (e) {
        return { ok: false, status: null, error: `${host} does not resolve: ${(e as Error).message}` };
      }
      const blocked = addresses.find(isPrivateAddress);
      if (blocked)
        return {
          ok: false,
          status: null,
          final: true,
          error: `${host} is a private or loopback address (${blocked}); set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow`,
        };
    }
    const event = r.event as WebhookEvent;
    const { message, data, at } = r.payload;
    const body = JSON.stringify(
      w.format === 'slack'
        ? { text: message }
        : w.format === 'discord'
          ? { content: message.slice(0, 2000) }
          : w.format === 'telegram'
            ? { chat_id: w.chat_id, text: message.slice(0, 4096), disable_web_page_preview: true }
            : { id: r.id, event, createdAt: at, message, data },
    );
    const t = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(cfg.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'AlgoTrade-Webhook/1',
          'x-algotrade-event': event,
          'x-algotrade-delivery': r.id,
          'x-algotrade-signature': signPayload(w.secret, body, t),
        },
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, error: null };
      const why = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
      return { ok: false, status: res.status, error: `the receiver answered ${res.status}${why}` };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${cfg.timeoutMs} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
      return { ok: false, status: null, error: `could not reach ${u.host}: ${why}` };
    }
  }

  ctx.onClose(async () => {
    closed = true;
    clearTimeout(wake);
    clearInterval(reloadTimer);
    for (const s of subs) await s.close();
    await running; // the batch in flight, its attempts with it
  });

  const routes = async (plain: typeof app) => {
    const r = plain.withTypeProvider<ZodTypeProvider>();
    r.addHook('preHandler', app.requireUser);
    const mine = async (id: string, userId: string) => {
      const row = isUuid(id)
        ? ((await db
            .selectFrom('webhooks')
            .selectAll()
            .where('id', '=', id)
            .where('user_id', '=', userId)
            .executeTakeFirst()) as WebhookRow | undefined)
        : undefined;
      if (!row) throw notFound('webhook');
      return row;
    };

    r.post('/', { schema: { tags: ['webhooks'], body: CreateWebhook } }, async (req, reply) => {
      const user = userOf(req);
      if ((req.body.format === 'telegram') !== (req.body.chatId !== undefined))
        throw new AppError(
          'VALIDATION_FAILED',
          req.body.format === 'telegram'
            ? 'a Telegram webhook needs chatId: the chat its bot posts to'
            : 'chatId is for Telegram webhooks (format "telegram")',
        );
      const count = await db
        .selectFrom('webhooks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_PER_USER)
        throw new AppError('CONFLICT', `at most ${MAX_PER_USER} webhooks per user; delete one first`);
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      const row = (await db
        .insertInto('webhooks')
        .values({
          user_id: user.id,
          url: req.body.url,
          events: [...new Set(req.body.events)],
          format: req.body.format,
          chat_id: req.body.chatId ?? null,
          secret,
          description: req.body.description ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow()) as WebhookRow;
      byUser.set(user.id, [...(byUser.get(user.id) ?? []), row]);
      // the secret, this once: receivers check each delivery's signature with it
      return reply.status(201).send({ ...view(row), secret });
    });
    r.get('/', { schema: { tags: ['webhooks'] } }, async (req) => {
      const rows = (await db
        .selectFrom('webhooks')
        .selectAll()
        .where('user_id', '=', userOf(req).id)
        .orderBy('created_at', 'desc')
        .execute()) as WebhookRow[];
      return rows.map(view);
    });
    r.get('/:id', { schema: { tags: ['webhooks'], params: Id } }, async (req) =>
      view(await mine(req.params.id, userOf(req).id)),
    );
    r.delete('/:id', { schema: { tags: ['webhooks'], params: Id } }, async (req, reply) => {
      const row = await mine(req.params.id, userOf(req).id);
      await db.deleteFrom('webhooks').where('id', '=', row.id).execute();
      byUser.set(
        row.user_id,
        (byUser.get(row.user_id) ?? []).filter((w) => w.id !== row.id),
      );
      return reply.status(204).send();
    });
    r.post('/:id/test', { schema: { tags: ['webhooks'], params: Id } }, async (req, reply) => {
      const w = await mine(req.params.id, userOf(req).id);
      const payload = JSON.stringify({
        message: describe('ping', {}),
        data: { webhookId: w.id },
        at: new Date().toISOString(),
      });
      const d = (await db
        .insertInto('webhook_deliveries')
        .values({
          webhook_id: w.id,
          event_id: `ping:${Date.now()}:${randomBytes(4).toString('hex')}`,
          event: 'ping',
          payload,
        })
        .returningAll()
        .executeTakeFirstOrThrow()) as DeliveryRow;
      kick();
      return reply.status(202).send(deliveryView(d));
    });
    r.get(
      '/:id/deliveries',
      {
        schema: {
          tags: ['webhooks'],
          params: Id,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        },
      },
      async (req) => {
        const w = await mine(req.params.id, userOf(req).id);
        const rows = (await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('webhook_id', '=', w.id)
          .orderBy('created_at', 'desc')
          .limit(req.query.limit)
          .execute()) as DeliveryRow[];
        return rows.map(deliveryView);
      },
    );
  };
  await app.register(routes, { prefix: '/api/webhooks' });
};
