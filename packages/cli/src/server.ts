import { createRuntime, loadConfig, SEED_PORTS, type ServiceName } from '@algotrade/adapters';
import { buildApp } from '@algotrade/services';

/**
 * Runs services until SIGINT/SIGTERM, then drains: stop accepting, finish in-flight requests,
 * stop background work, flush and close connections, exit 0 (or 1 past SHUTDOWN_TIMEOUT_MS).
 */
export async function runServer(services: readonly ServiceName[], name: ServiceName): Promise<number> {
  const config = loadConfig();
  const rt = await createRuntime(config);
  const built = await buildApp(rt, { services, name });
  const port = config.port ?? SEED_PORTS[name];
  await built.app.listen({ port, host: config.host });
  rt.log.info(
    { port, services, db: rt.db.backend, bus: rt.bus.kind, windows: rt.windows.kind, dataDir: config.dataDir },
    services.includes('gateway')
      ? `AlgoTrade ${name} listening on http://localhost:${port}: open it in a browser (API docs at /docs)`
      : `AlgoTrade ${name} listening on http://localhost:${port}`,
  );
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      rt.log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        rt.log.error('shutdown timed out');
        process.exit(1);
      }, config.shutdownTimeoutMs);
      timer.unref();
      try {
        await built.close();
        await rt.close();
        rt.log.flush?.();
        resolve(0);
      } catch (e) {
        rt.log.error({ err: e }, 'shutdown failed');
        resolve(1);
      }
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
