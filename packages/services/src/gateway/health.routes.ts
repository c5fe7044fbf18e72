import type { FastifyPluginAsync } from 'fastify';
import type { ServiceContext } from '../context.ts';

async function timed(
  fn: () => Promise<unknown>,
): Promise<{ status: 'ok' | 'down'; latencyMs: number; error?: string }> {
  const t0 = performance.now();
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 2 s')), 2000))]);
    return { status: 'ok', latencyMs: +(performance.now() - t0).toFixed(2) };
  } catch (e) {
    return { status: 'down', latencyMs: +(performance.now() - t0).toFixed(2), error: (e as Error).message };
  }
}

export const healthRoutes: FastifyPluginAsync<{ ctx: ServiceContext; service: string }> = async (
  app,
  { ctx, service },
) => {
  app.get('/health', { schema: { tags: ['health'] } }, async () => ({ status: 'ok', service }));
  app.get('/health/detailed', { schema: { tags: ['health'] } }, async (_req, reply) => {
    const { rt } = ctx;
    const deps: Record<string, Awaited<ReturnType<typeof timed>> & { backend?: string }> = {
      database: { backend: rt.db.backend, ...(await timed(() => rt.db.ping())) },
      eventBus: { backend: rt.bus.kind, ...(await timed(() => rt.bus.ping())) },
      windowStore: { backend: rt.windows.kind, ...(await timed(() => rt.windows.ping())) },
      objectStore: { backend: rt.store.kind, ...(await timed(() => rt.store.ping())) },
    };
    deps.jobQueue = { backend: rt.queue.kind, ...(await timed(() => rt.queue.ping())) };
    for (const [name, url] of Object.entries(rt.config.serviceUrls))
      deps[name] = await timed(async () => {
        const r = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(2000) });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
      });
    const ok = Object.values(deps).every((d) => d.status === 'ok');
    return reply
      .status(ok ? 200 : 503)
      .send({ status: ok ? 'ok' : 'degraded', service, uptimeS: Math.round(process.uptime()), dependencies: deps });
  });
};
