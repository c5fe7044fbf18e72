import proxy from '@fastify/http-proxy';
import type { ServiceName } from '@algotrade/adapters';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceContext } from '../context.ts';

/** Which public prefixes each service answers (the gateway forwards them when the service runs elsewhere). */
export const SERVICE_PREFIXES: Partial<Record<ServiceName, string[]>> = {
  'market-data': ['/api/market'],
  strategy: ['/api/strategies'],
  'forward-test': ['/api/forward-tests'],
  backtest: ['/api/backtests'],
  notification: ['/api/alerts', '/ws'],
  analytics: ['/api/analytics'],
};

/**
 * Distributed topology: for every service not mounted in this process but given a URL in the
 * configuration (`MARKET_DATA_URL`, `STRATEGY_URL`, ...), the gateway forwards its prefixes there,
 * WebSocket upgrades included. Gateway hooks still apply first (rate limits, CORS, security headers,
 * metrics). The request id travels as `x-request-id` and the caller as `x-user-id` (for logs; the
 * service checks the bearer token itself with the shared secret, so a forged header grants nothing).
 */
export const gatewayProxy: FastifyPluginAsync<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const urls = ctx.rt.config.serviceUrls;
  for (const [name, prefixes] of Object.entries(SERVICE_PREFIXES) as [ServiceName, string[]][]) {
    const upstream = urls[name];
    if (!upstream || ctx.services.includes(name)) continue;
    for (const prefix of prefixes)
      await app.register(proxy, {
        upstream,
        prefix,
        rewritePrefix: prefix,
        websocket: prefix === '/ws',
        replyOptions: {
          rewriteRequestHeaders: (req, headers) => ({
            ...headers,
            'x-request-id': String(req.id),
            ...(req.authUser ? { 'x-user-id': req.authUser.id } : {}),
          }),
        },
      });
    ctx.rt.log.info({ service: name, upstream, prefixes }, 'gateway forwards to a remote service');
  }
};
