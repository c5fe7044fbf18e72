import { spawn, type ChildProcess } from 'node:child_process';
import { BullmqQueue } from '@algotrade/adapters/queue-bullmq/bullmq-queue';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICES, uniqueName } from '../helpers/env.ts';
import { until } from '../helpers/wait.ts';

const fixture = new URL('./fixtures/hanging-worker.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

/** starts a worker process and resolves once it has taken a job */
function crashingWorker(prefix: string, queue: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', fixture, SERVICES.redis, prefix, queue], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(c);
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('started')) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
}

describe('BullMQ jobs survive a crashed worker (retried once, then failed)', () => {
  it('a job whose worker is SIGKILLed mid-run is picked up again by another worker and completes', async () => {
    const prefix = uniqueName('crash');
    const queue = uniqueName('q');
    const q = new BullmqQueue(SERVICES.redis, { prefix, stalledIntervalMs: 500, lockDurationMs: 1000 });
    try {
      const id = await q.add(queue, { n: 1 });
      const victim = await crashingWorker(prefix, queue);
      victim.kill('SIGKILL');
      const runs: string[] = [];
      await q.process(queue, async (job) => {
        runs.push(job.id);
        return 'ok';
      });
      await until(async () => (await q.state(queue, id)).state === 'completed', 30_000);
      expect(runs).toEqual([id]);
    } finally {
      await q.close();
    }
  }, 60_000);

  it('a job that crashes its worker twice is failed, not retried forever', async () => {
    const prefix = uniqueName('crash2');
    const queue = uniqueName('q');
    const q = new BullmqQueue(SERVICES.redis, { prefix, stalledIntervalMs: 500, lockDurationMs: 1000 });
    try {
      const id = await q.add(queue, { n: 2 });
      (await crashingWorker(prefix, queue)).kill('SIGKILL');
      (await crashingWorker(prefix, queue)).kill('SIGKILL');
      // a healthy worker's stall check now finds the job stalled a second time
      await q.process(queue, async () => 'should not run');
      await until(async () => (await q.state(queue, id)).state === 'failed', 30_000);
      expect((await q.state(queue, id)).error).toMatch(/stalled/i);
    } finally {
      await q.close();
    }
  }, 60_000);
});
