import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Runtime, ServiceName } from '@algotrade/adapters';
import cors from '@fastify/cors';
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { LocalCountStore, sharedCountStore } from './http/rate-limit-store.ts';
import { FastLane, recordHeaders, type CountStore } from './http/fast-lane.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
} from 'fastify';
import helmet from 'helmet';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ServiceContext } from './context.ts';
import { authPlugin, GATEWAY_HEADER, gatewayKey, isGatewayKey, resolveJwtSecret, TokenMemo } from './http/auth.ts';
import { frameworkErrors, installErrorHandling } from './http/errors.ts';
import { installTextInputRule } from './http/text-input.ts';
import {
  createMetrics,
  installCheckpointMetrics,
  installFastLaneMetrics,
  installHttpMetrics,
  installOrderJournalMetrics,
  type Metrics,
} from './http/metrics.ts';
import { apiTokenRoutes, authRoutes } from './gateway/auth.routes.ts';
import { gatewayProxy } from './gateway/proxy.ts';
import { healthRoutes } from './gateway/health.routes.ts';
import { webRoutes } from './gateway/web.routes.ts';
import { serviceRegistry } from './registry.ts';

/** the rate limits' window: limits are per minute */
const RATE_WINDOW_MS = 60_000;

export interface BuildOptions {
  /** services to mount in this process; the gateway's own routes are always mounted */
  services: readonly ServiceName[];
  /** name reported by /health */
  name?: string;
  metrics?: Metrics;
}

export interface App {
  app: FastifyInstance;
  ctx: ServiceContext;
  /** every route registered (method, url pattern), e.g. for the access-matrix test */
  routes: readonly { method: string; url: string }[];
  /** stops background work, then the HTTP server (the runtime is closed by its owner) */
  close(): Promise<void>;
}

/**
 * Builds (does not listen) one Fastify app with the chosen services as plugins. `algotrade start`
 * mounts all of them; `algotrade serve <svc>` one. Tests call `app.inject()` on the result.
 */
export async function buildApp(rt: Runtime, opts: BuildOptions): Promise<App> {
  const { config } = rt;
  const requestLogging = config.logLevel === 'debug' || config.logLevel === 'trace';
  // the fast lane sees each request before Fastify does (it logs nothing, so not when requests are logged)
  const lane = new FastLane(config.http.fastLane && !requestLogging);
  const app = Fastify({
    loggerInstance: rt.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !requestLogging }),
    // Fastify's own server, with the fast lane's `request` listener in front of Fastify's
    serverFactory: (handler, opts) => {
      // the timeouts Fastify would set on a server of its own (its defaults are filled in by now)
      const o = opts as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      // a request timeout is checked this often (Node's default, 30 s, would let a short one run long)
      const every = config.http.requestTimeoutMs
        ? Math.min(30_000, Math.max(250, config.http.requestTimeoutMs / 4))
        : 30_000;
      const server = http.createServer({ connectionsCheckingInterval: every }, (req, res) =>
        lane.handle(req, res, handler),
      );
      server.keepAliveTimeout = o.keepAliveTimeout;
      server.requestTimeout = o.requestTimeout;
      // the headers' own limit (Node's default 60 s) may not exceed the whole request's
      if (o.requestTimeout > 0) server.headersTimeout = Math.min(server.headersTimeout, o.requestTimeout);
      server.setTimeout(o.connectionTimeout);
      return server;
    },
    bodyLimit: config.http.bodyLimit,
    // a client that trickles its request (headers or body) is cut off with a 408: slow clients cannot
    // hold connections open for ever (Fastify leaves this off by default)
    requestTimeout: config.http.requestTimeoutMs,
    frameworkErrors,
    // joining Kafka consumer groups while other members rebalance can take a rebalance timeout or two
    pluginTimeout: 120_000,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && h.length > 0 && h.length <= 128 ? h : randomUUID();
    },
    requestIdHeader: false,
    trustProxy: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of ([] as string[]).concat(r.method)) routes.push({ method: m, url: r.url });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  installErrorHandling(app);
  installTextInputRule(app);

  const closers: (() => Promise<void> | void)[] = [];
  const metrics = opts.metrics ?? createMetrics();
  const ctx: ServiceContext = {
    rt,
    metrics,
    services: opts.services,
    onClose: (fn) => closers.push(fn),
    shared: {},
    lane,
  };
  metrics.sources.busLag = () => rt.bus.consumerLag();

  const secret = resolveJwtSecret(config);
  const key = gatewayKey(secret);
  ctx.shared.gatewayKey = key;
  // a request the gateway forwarded (it carries the gateway's key): edge concerns were handled there
  const keyBuf = Buffer.from(key);
  const viaGateway = new WeakSet<FastifyRequest>();
  if (!opts.services.includes('gateway'))
    app.addHook('onRequest', (req, _reply, done) => {
      if (isGatewayKey(req.headers[GATEWAY_HEADER], keyBuf)) viaGateway.add(req);
      done();
    });
  // security headers: helmet's middleware built once (the Fastify plugin rebuilt it for every request)
  const securityHeaders = helmet({ contentSecurityPolicy: false });
  app.addHook('onRequest', (req, reply, done) => {
    if (viaGateway.has(req)) return done();
    securityHeaders(req.raw, reply.raw, () => done());
  });
  const exposedHeaders = ['x-request-id', 'retry-after', 'link'];
  await app.register(cors, {
    origin: config.http.corsOrigins === '*' ? true : config.http.corsOrigins,
    credentials: true,
    exposedHeaders,
  });
  const memo = new TokenMemo();
  ctx.shared.tokenMemo = memo;
  const tokenSeen = new Map<string, number>();
  await app.register(authPlugin, {
    secret,
    accessTtlSeconds: config.auth.accessTtlSeconds,
    memo,
    apiToken: async (hash) => {
      const r = await rt.db.db
        .selectFrom('api_tokens')
        .innerJoin('users', 'users.id', 'api_tokens.user_id')
        .select(['api_tokens.id', 'api_tokens.user_id', 'users.email', 'api_tokens.read_only', 'api_tokens.expires_at'])
        .where('api_tokens.token_hash', '=', hash)
        .where('api_tokens.revoked_at', 'is', null)
        .executeTakeFirst();
      return (
        r && {
          id: r.id,
          userId: r.user_id,
          email: r.email,
          readOnly: r.read_only,
          expiresAt: r.expires_at ? new Date(r.expires_at) : null,
        }
      );
    },
    // `last used` is for the owner's list: written at most once a minute per token, never waited for
    tokenUsed: (id) => {
      const now = Date.now();
      if (now - (tokenSeen.get(id) ?? 0) < 60_000) return;
      if (tokenSeen.size > 10_000) tokenSeen.clear();
      tokenSeen.set(id, now);
      void rt.db.db
        .updateTable('api_tokens')
        .set({ last_used_at: new Date() })
        .where('id', '=', id)
        .execute()
        .catch(() => undefined);
    },
  });
  let rateRedis: import('ioredis').Redis | undefined;
  if (config.redisUrl) {
    const { Redis } = await import('ioredis');
    // no offline queue: while Redis is away a limit check fails at once and is skipped (skipOnError)
    // instead of holding the request until a reconnection attempt gives up
    rateRedis = new Redis(config.redisUrl, {
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      lazyConnect: false,
      enableOfflineQueue: false,
    });
    // while Redis is away, limits are skipped (skipOnError below); say so once per outage
    let down = false;
    rateRedis.on('error', (e) => {
      if (!down) app.log.warn({ err: e }, 'rate-limit store (Redis) unreachable: limits are skipped until it returns');
      down = true;
    });
    rateRedis.on('ready', () => (down = false));
    closers.push(() => void rateRedis!.quit().catch(() => {}));
  }
  // one store instance, counted in by the plugin and by the fast lane alike
  const limitStore: CountStore = rateRedis
    ? new (sharedCountStore(rateRedis, { prefix: 'algotrade-rl:', replicas: config.http.rateLimitReplicas }))()
    : new LocalCountStore();
  await app.register(rateLimit, {
    global: true,
    // anonymous callers get a lower limit, keyed by IP; signed-in ones by user id across IPs
    max: (req) => (req.authUser ? config.http.ratePerMinute : config.http.anonRatePerMinute),
    timeWindow: RATE_WINDOW_MS,
    keyGenerator: (req) => (req.authUser ? `u:${req.authUser.id}` : `ip:${req.ip}`),
    // the gateway counted a forwarded request already (a second count would halve the limit)
    // (and the fast lane counted a request it then handed to Fastify)
    allowList: (req) =>
      req.url === '/health' || req.url === '/metrics' || viaGateway.has(req) || lane.counted.has(req.raw),
    // on Redis, answered in process from blocks reserved in Redis (sharedCountStore); the plugin builds
    // its store with `new`, and this constructor hands it the instance the lane shares
    store: class {
      constructor() {
        return limitStore;
      }
    } as unknown as FastifyRateLimitStoreCtor,
    skipOnError: !!rateRedis,
    errorResponseBuilder: (_req, c) => ({
      statusCode: 429,
      error: {
        code: 'RATE_LIMITED',
        message: `rate limit of ${c.max} requests per minute exceeded; retry in ${c.after}`,
      },
    }),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'AlgoTrade API', version: '0.1.0', description: 'Strategies, backtests and paper trading' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (config.metricsEnabled) {
    installHttpMetrics(app, metrics);
    installFastLaneMetrics(metrics, () => lane.answered);
    if (rt.db.checkpointer) installCheckpointMetrics(metrics, rt.db.checkpointer.stats);
    if (rt.db.orderJournal) installOrderJournalMetrics(metrics, rt.db.orderJournal);
  }
  // the fast lane does for its requests what the hooks above do: same user memo, limit store and
  // metric, security and CORS headers (those of a request without Origin; with one, Fastify answers)
  const corsHeaders: [string, string][] = [
    ['vary', 'Origin'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-expose-headers', exposedHeaders.join(', ')],
  ];
  lane.configure({
    user: (t) => memo.user(t),
    limits: { store: limitStore, timeWindow: RATE_WINDOW_MS, max: config.http.ratePerMinute },
    headers: [...recordHeaders(securityHeaders), ...corsHeaders],
    http: config.metricsEnabled ? metrics.http : undefined,
    gateway: opts.services.includes('gateway')
      ? undefined
      : { header: GATEWAY_HEADER, key: keyBuf, headers: corsHeaders },
    log: app.log,
  });
  await app.register(healthRoutes, { ctx, service: opts.name ?? 'gateway' });
  if (opts.services.includes('gateway')) {
    await app.register(authRoutes, { ctx, prefix: '/api/auth' });
    await app.register(apiTokenRoutes, { ctx, prefix: '/api/auth/tokens' });
    await app.register(gatewayProxy, { ctx });
    await app.register(webRoutes);
  }

  for (const name of opts.services) {
    const svc = serviceRegistry[name];
    if (svc) await app.register(svc as FastifyPluginAsync<{ ctx: ServiceContext }>, { ctx });
  }
  await app.ready();
  // connections that have not sent a byte yet (a browser's speculative pre-connect): Node's closing of
  // idle connections passes them over, so a close would wait for the header timeout (and a shutdown
  // run into its own timeout); close() ends them, as they hold no request
  // (bytesRead, not a 'data' listener: the HTTP parser reads the socket without emitting 'data')
  const sockets = new Set<Socket>();
  app.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    app,
    ctx,
    routes,
    close: async () => {
      const closing = app.close();
      for (const s of sockets) if (s.bytesRead === 0) s.destroy();
      await closing;
      for (const c of closers.reverse()) await c();
    },
  };
}
