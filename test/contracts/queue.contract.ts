import type { JobQueue } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.ts';

/** The job-queue contract: in-process and BullMQ adapters behave the same. */
export function queueContract(name: string, make: () => Promise<JobQueue>, queueName: () => string) {
  describe(`job queue contract: ${name}`, () => {
    let q: JobQueue;
    beforeAll(async () => {
      q = await make();
    });
    afterAll(() => q?.close());

    it('runs jobs with progress and completes them', async () => {
      const name = queueName();
      const seen: number[] = [];
      await q.process<{ n: number }>(name, async (job) => {
        for (let i = 1; i <= 4; i++) {
          await job.progress(i / 4);
          seen.push(job.data.n * i);
        }
        return 'ok';
      });
      const id = await q.add(name, { n: 10 });
      await until(async () => (await q.state(name, id)).state === 'completed');
      expect(await q.state(name, id)).toMatchObject({ state: 'completed', progress: 1 });
      expect(seen).toEqual([10, 20, 30, 40]);
    });

    it('retries a failed job once, then fails it with a readable error', async () => {
      const name = queueName();
      const attempts: number[] = [];
      await q.process(name, async (job) => {
        attempts.push(job.attempt);
        throw new Error(`broken data in attempt ${job.attempt}`);
      });
      const id = await q.add(name, {});
      await until(async () => (await q.state(name, id)).state === 'failed');
      expect(attempts).toEqual([1, 2]);
      expect((await q.state(name, id)).error).toBe('broken data in attempt 2');
    });

    it('cancels a running job: its signal aborts and it never completes', async () => {
      const name = queueName();
      let sawAbort = false;
      await q.process(name, async (job) => {
        for (let i = 0; i < 200; i++) {
          await job.progress(i / 200);
          if (job.signal.aborted) {
            sawAbort = true;
            return 'stopped';
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        return 'finished';
      });
      const id = await q.add(name, {});
      await until(async () => (await q.state(name, id)).progress > 0);
      expect(await q.cancel(name, id)).toBe(true);
      await until(() => sawAbort);
      expect((await q.state(name, id)).state).toBe('cancelled');
    });
  });
}
