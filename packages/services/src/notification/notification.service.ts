import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TOPICS, type Envelope, type Subscription } from '@algotrade/core';
import { backtestsRepo, isUuid } from '@algotrade/adapters';
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { alertRoutes } from './alerts.ts';
import { webhookRoutes } from './webhooks.ts';

/** Close codes: 4401 no valid token, 4008 a client too slow to keep up (its buffer overflowed). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_SLOW_CONSUMER = 4008;
const MAX_BUFFERED_BYTES = 1 << 20;
/** a user's open connections (on one instance) beyond which a new one is closed: WS_MAX_CONNECTIONS_PER_USER */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** channels one connection may hold; a subscribe beyond is refused (TOO_MANY_CHANNELS) */
export const MAX_CHANNELS_PER_CONNECTION = 256;
/** client messages: a burst of this many, then this many a second; beyond, refused (RATE_LIMITED) */
const MESSAGE_BURST = 100;
const MESSAGES_PER_SECOND = 20;
const HEARTBEAT_MS = 15_000;

const ClientMessage = z.discriminatedUnion('op', [
  z.object({ op: z.literal('subscribe'), channel: z.string().min(1).max(100) }),
  z.object({ op: z.literal('unsubscribe'), channel: z.string().min(1).max(100) }),
  z.object({ op: z.literal('ping') }),
]);

/**
 * One unmasked, unfragmented server-to-client text frame (RFC 6455 §5.2): header and payload in one
 * buffer, built once per push and written as is to every subscriber's socket.
 */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const f = Buffer.allocUnsafe(head + n);
  f[0] = 0x81; // FIN + text
  if (n < 126) f[1] = n;
  else if (n < 65_536) {
    f[1] = 126;
    f.writeUInt16BE(n, 2);
  } else {
    f[1] = 127;
    f.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(f, head);
  return f;
}

interface Client {
  ws: WebSocket;
  /** the upgraded TCP socket, written directly for pushes (no extensions are negotiated, so a frame is its bytes) */
  socket?: Socket;
  userId: string;
  channels: Set<string>;
  alive: boolean;
  /** message tokens left (refilled at MESSAGES_PER_SECOND up to MESSAGE_BURST) and when last refilled */
  tokens: number;
  refilledAt: number;
}

/**
 * WebSocket `/ws?token=<JWT>`: clients subscribe to `prices:<symbol>`, `backtest:<id>`,
 * `session:<id>` and `user`; pushes are `{channel, type, data, ts}`. Another user's backtest or
 * session is refused with an error frame. Fed from `realtime-updates`, `user-notifications`,
 * `trade-executions` and `portfolio-updates`; every instance sees every message (its own group).
 * A client whose send buffer passes 1 MiB is dropped (4008) so it never slows the others.
 */
export const notificationService: FastifyPluginAsync<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const backtests = backtestsRepo(rt.db.db);
  const byChannel = new Map<string, Set<Client>>();
  const clients = new Set<Client>();
  const perUser = new Map<string, number>();
  const group = `notification-${randomUUID()}`;
  const leave = (c: Client, channel: string) => {
    c.channels.delete(channel);
    const set = byChannel.get(channel);
    if (set?.delete(c) && set.size === 0) byChannel.delete(channel); // no empty sets left behind
  };

  const push = (channel: string, text: string, only?: (c: Client) => boolean) => {
    const set = byChannel.get(channel);
    if (!set) return;
    // framed once for every subscriber, then one socket write each (ws would frame it again for each
    // and write header and payload as two buffers)
    const payload = Buffer.from(text);
    const frame = textFrame(payload);
    const t0 = performance.now();
    for (const c of set) {
      if (only && !only(c)) continue;
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        c.ws.close(CLOSE_SLOW_CONSUMER, 'client too slow: send buffer full');
        ctx.metrics.wsSlowDropped.inc();
        continue;
      }
      if (c.socket) c.socket.write(frame);
      else c.ws.send(payload, { binary: false });
    }
    const colon = channel.indexOf(':');
    ctx.metrics.wsPushRound.observe(
      { kind: colon < 0 ? channel : channel.slice(0, colon) },
      (performance.now() - t0) / 1000,
    );
  };
  const frame = (channel: string, m: Envelope) =>
    JSON.stringify({ channel, type: m.type, data: m.data, ts: new Date(m.ts).toISOString() });

  const subs: Subscription[] = [];
  subs.push(
    await rt.bus.subscribe(TOPICS.realtimeUpdates.name, { group }, (m) => {
      const owner = (m.data as { userId?: string })?.userId;
      push(m.key, frame(m.key, m), owner ? (c) => c.userId === owner : undefined);
    }),
    await rt.bus.subscribe(TOPICS.userNotifications.name, { group }, (m) =>
      push('user', frame('user', m), (c) => c.userId === m.key),
    ),
  );
  for (const topic of [TOPICS.tradeExecutions.name, TOPICS.portfolioUpdates.name, TOPICS.forwardTestEvents.name])
    subs.push(
      await rt.bus.subscribe(topic, { group }, (m) => {
        const owner = (m.data as { userId?: string })?.userId;
        push(`session:${m.key}`, frame(`session:${m.key}`, m), owner ? (c) => c.userId === owner : undefined);
      }),
    );

  async function mayJoin(userId: string, channel: string): Promise<string | null> {
    if (channel === 'user') return null;
    if (/^prices:[A-Z0-9._:-]{1,40}$/.test(channel)) return null;
    const [kind, id] = channel.split(':', 2) as [string, string | undefined];
    if (kind === 'backtest' && id)
      return isUuid(id) && (await backtests.get(id, userId)) ? null : `backtest ${id} not found`;
    if (kind === 'sweep' && id) return (await backtests.sweepCounts(userId, id)).total ? null : `sweep ${id} not found`;
    if (kind === 'session' && id) {
      const row = isUuid(id)
        ? await rt.db.db
            .selectFrom('forward_test_sessions')
            .select('id')
            .where('id', '=', id)
            .where('user_id', '=', userId)
            .executeTakeFirst()
        : undefined;
      return row ? null : `session ${id} not found`;
    }
    return `unknown channel "${channel}": use prices:<SYMBOL>, backtest:<id>, sweep:<id>, session:<id> or user`;
  }

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  ctx.onClose(async () => {
    clearInterval(heartbeat);
    for (const c of clients) c.ws.close(1001, 'server shutting down');
    for (const s of subs) await s.close();
  });

  await app.register(alertRoutes, { ctx });
  await app.register(webhookRoutes, { ctx });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.get('/ws', { websocket: true, schema: { hide: true } }, (ws, req) => {
    if (!req.authUser) {
      ws.close(CLOSE_UNAUTHORIZED, 'a valid token is required: /ws?token=<JWT>');
      return;
    }
    // direct writes only while ws owns that very socket and no extension (compression) transforms frames
    const raw = req.raw.socket as Socket | undefined;
    const direct = ws.extensions === '' && (ws as unknown as { _socket?: Socket })._socket === raw;
    const userId = req.authUser.id;
    const open = perUser.get(userId) ?? 0;
    if (open >= rt.config.http.wsConnectionsPerUser) {
      ws.close(CLOSE_TOO_MANY_CONNECTIONS, `at most ${rt.config.http.wsConnectionsPerUser} connections per user`);
      return;
    }
    perUser.set(userId, open + 1);
    const client: Client = {
      ws,
      userId,
      channels: new Set(),
      alive: true,
      tokens: MESSAGE_BURST,
      refilledAt: performance.now(),
      ...(direct && raw ? { socket: raw } : {}),
    };
    clients.add(client);
    ctx.metrics.wsConnections.set(clients.size);
    const send = (o: object) => ws.send(JSON.stringify({ ts: new Date().toISOString(), ...o }));
    ws.on('pong', () => (client.alive = true));
    const onMessage = async (raw: WebSocket.RawData) => {
      const now = performance.now();
      client.tokens = Math.min(MESSAGE_BURST, client.tokens + ((now - client.refilledAt) / 1000) * MESSAGES_PER_SECOND);
      client.refilledAt = now;
      if (client.tokens < 1)
        return send({
          type: 'error',
          data: {
            code: 'RATE_LIMITED',
            message: `at most ${MESSAGES_PER_SECOND} messages a second: this one was dropped`,
          },
        });
      client.tokens--;
      let msg: z.infer<typeof ClientMessage>;
      try {
        msg = ClientMessage.parse(JSON.parse(raw.toString()));
      } catch {
        send({
          type: 'error',
          data: {
            code: 'BAD_MESSAGE',
            message: 'send {"op":"subscribe"|"unsubscribe","channel":"..."} or {"op":"ping"}',
          },
        });
        return;
      }
      if (msg.op === 'ping') return send({ type: 'pong' });
      const channel = msg.channel;
      if (msg.op === 'unsubscribe') {
        leave(client, channel);
        return send({ type: 'unsubscribed', channel });
      }
      if (!client.channels.has(channel) && client.channels.size >= MAX_CHANNELS_PER_CONNECTION)
        return send({
          type: 'error',
          channel,
          data: {
            code: 'TOO_MANY_CHANNELS',
            message: `at most ${MAX_CHANNELS_PER_CONNECTION} channels per connection: unsubscribe from one first`,
          },
        });
      const refusal = await mayJoin(client.userId, channel);
      if (!clients.has(client)) return; // closed while the check ran: nothing to join
      if (refusal) return send({ type: 'error', channel, data: { code: 'NOT_FOUND', message: refusal } });
      client.channels.add(channel);
      let set = byChannel.get(channel);
      if (!set) byChannel.set(channel, (set = new Set()));
      set.add(client);
      send({ type: 'subscribed', channel });
      // a late subscriber to a sweep gets its counts at once: what ended before it joined
      if (channel.startsWith('sweep:')) {
        send({
          channel,
          type: 'sweep.status',
          data: await backtests.sweepCounts(client.userId, channel.slice('sweep:'.length)),
        });
      }
      // a late subscriber gets the backtest's current state at once, so no final event is missed
      if (channel.startsWith('backtest:')) {
        const row = await backtests.get(channel.slice('backtest:'.length), client.userId);
        if (row)
          send({
            channel,
            type: 'backtest.status',
            data: {
              backtestId: row.id,
              status: row.status,
              progress: row.progress,
              metrics: row.metrics,
              ...(row.error ? { error: row.error } : {}),
            },
          });
      }
    };
    // a subscription's ownership check reads the database: when that fails (the database restarting),
    // the client is told so and may retry; the failure never leaves the handler (an unhandled rejection
    // would end the process)
    ws.on('message', (raw) => {
      onMessage(raw).catch((err: unknown) => {
        req.log.warn({ err }, 'WebSocket message not handled');
        if (ws.readyState === ws.OPEN)
          send({
            type: 'error',
            data: { code: 'TEMPORARILY_UNAVAILABLE', message: 'could not handle that message now: try again' },
          });
      });
    });
    ws.on('close', () => {
      clients.delete(client);
      for (const ch of [...client.channels]) leave(client, ch);
      const left = (perUser.get(userId) ?? 1) - 1;
      if (left > 0) perUser.set(userId, left);
      else perUser.delete(userId);
      ctx.metrics.wsConnections.set(clients.size);
    });
  });
};
