import proxy from '@fastify/http-proxy';
import type { ServiceName } from '@algotrade/adapters';
import { AppError } from '@algotrade/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { Pool } from 'undici';
import type { ServiceContext } from '../context.ts';
import { GATEWAY_HEADER } from '../http/auth.ts';

/** Which public prefixes each service answers (the gateway forwards them when the service runs elsewhere). */
export const SERVICE_PREFIXES: Partial<Record<ServiceName, string[]>> = {
  'market-data': ['/api/market'],
  strategy: ['/api/strategies'],
  'forward-test': ['/api/forward-tests'],
  backtest: ['/api/backtests'],
  notification: ['/api/alerts', '/api/webhooks', '/ws'],
  analytics: ['/api/analytics'],
};

/** connection-level headers that never travel across a proxy (RFC 9110 §7.6.1), plus host */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);
/** answers up to this size are read whole and sent in one write; larger ones (candle dumps) stream */
const BUFFER_LIMIT = 1 << 20;

/**
 * Distributed topology: for every service not mounted in this process but given a URL in the
 * configuration (`MARKET_DATA_URL`, `STRATEGY_URL`, ...), the gateway forwards its prefixes there.
 * Gateway hooks still apply first (rate limits, CORS, security headers, metrics). The request id
 * travels as `x-request-id` and the caller as `x-user-id` (for logs; the service checks the bearer
 * token itself with the shared secret, so a forged header grants nothing).
 *
 * HTTP goes through one keep-alive undici pool per service with its dispatch API (the answer arrives in
 * callbacks; no response stream per request): request bodies stream through, answers up to 1 MiB are
 * collected and written in one piece (the common case; the stream plumbing of a general-purpose proxy
 * cost more than the hop itself), larger ones stream with back-pressure. WebSocket upgrades on `/ws` go through
 * @fastify/http-proxy.
 */
export const gatewayProxy: FastifyPluginAsync<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const urls = ctx.rt.config.serviceUrls;
  const key = ctx.shared.gatewayKey as string;
  for (const [name, prefixes] of Object.entries(SERVICE_PREFIXES) as [ServiceName, string[]][]) {
    const upstream = urls[name];
    if (!upstream || ctx.services.includes(name)) continue;
    const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
    ctx.onClose(() => pool.close());
    for (const prefix of prefixes) {
      if (prefix === '/ws') {
        await app.register(proxy, {
          upstream,
          prefix,
          rewritePrefix: prefix,
          websocket: true,
          replyOptions: {
            rewriteRequestHeaders: (req, headers) => ({
              ...headers,
              'x-request-id': String(req.id),
              ...(req.authUser ? { 'x-user-id': req.authUser.id } : {}),
            }),
          },
        });
        continue;
      }
      await app.register(async (scope) => {
        // bodies are not parsed here: the raw request streams to the service, which validates it
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
        const handler = (req: FastifyRequest, reply: FastifyReply) => forward(pool, name, key, req, reply);
        scope.all(prefix, { schema: { hide: true } }, handler);
        scope.all(`${prefix}/*`, { schema: { hide: true } }, handler);
      });
    }
    ctx.rt.log.info({ service: name, upstream, prefixes }, 'gateway forwards to a remote service');
  }
};

async function forward(
  pool: Pool,
  service: string,
  key: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  headers['x-request-id'] = String(req.id);
  headers[GATEWAY_HEADER] = key; // whatever the client sent under that name is replaced
  if (req.authUser) headers['x-user-id'] = req.authUser.id;
  else delete headers['x-user-id'];
  const fwd = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = fwd ? `${String(fwd)}, ${req.socket.remoteAddress}` : (req.socket.remoteAddress ?? '');
  const hasBody =
    req.method !== 'GET' &&
    req.method !== 'HEAD' &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  // undici's dispatch API: the answer's bytes arrive in callbacks, without a body stream per request.
  // The promise resolves to the reply once it is sent (Fastify then leaves it alone).
  return new Promise<FastifyReply>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0; // set once the final answer's headers arrive
    let stream: PassThrough | null = null;
    pool.dispatch(
      {
        method: req.method as 'GET',
        path: req.url,
        headers,
        body: hasBody ? req.raw : null,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      },
      {
        // (its presence marks the handler as the controller-based API)
        onRequestStart() {},
        onResponseStart(controller, statusCode, resHeaders) {
          if (statusCode < 200) return; // 1xx: the final answer follows
          status = statusCode;
          for (const k in resHeaders) {
            const v = resHeaders[k];
            if (v !== undefined && !HOP_BY_HOP.has(k) && !reply.hasHeader(k)) reply.header(k, v);
          }
          const len = Number(resHeaders['content-length']);
          if (req.method === 'HEAD' || (Number.isFinite(len) && len <= BUFFER_LIMIT)) return;
          // large or unknown length (candle dumps): stream it, pausing the upstream when the client lags
          const out = new PassThrough();
          out.on('drain', () => controller.resume());
          stream = out;
          reply.code(status).send(out);
          resolve(reply);
        },
        onResponseData(controller, chunk) {
          if (stream) {
            if (!stream.write(chunk)) controller.pause();
          } else chunks.push(chunk);
        },
        onResponseEnd() {
          if (stream) return void stream.end();
          reply.code(status);
          if (req.method === 'HEAD') reply.send();
          else reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
          resolve(reply);
        },
        onResponseError(_controller, e) {
          if (stream) return void stream.destroy(e);
          if (status) {
            // the answer broke off after its headers: nothing complete to pass on
            reply.raw.destroy(e);
            return resolve(reply);
          }
          reject(new AppError('TEMPORARILY_UNAVAILABLE', `the ${service} service is unavailable: ${e.message}`));
        },
      },
    );
  });
}
