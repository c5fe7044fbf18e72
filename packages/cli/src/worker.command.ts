import { createRuntime, loadConfig } from '@algotrade/adapters';
import { BACKTEST_QUEUE, processBacktest } from '@algotrade/services/backtest/worker';

/** `algotrade worker`: a backtest worker process taking jobs from the shared queue (BullMQ on REDIS_URL). */
export async function runWorker(): Promise<number> {
  const cfg = loadConfig();
  const rt = await createRuntime(cfg);
  const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 1);
  await rt.queue.process<{ backtestId: string }>(BACKTEST_QUEUE, (job) => processBacktest(rt, job), { concurrency });
  rt.log.info({ queue: rt.queue.kind, concurrency }, 'backtest worker ready');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // drain within the shutdown budget, then leave even if a client library keeps a handle open
  const deadline = setTimeout(() => {
    rt.log.warn({ ms: cfg.shutdownTimeoutMs }, 'worker shutdown took too long; exiting');
    process.exit(0);
  }, cfg.shutdownTimeoutMs);
  await rt.close();
  clearTimeout(deadline);
  rt.log.debug({ open: process.getActiveResourcesInfo() }, 'worker closed');
  process.exit(0);
}
