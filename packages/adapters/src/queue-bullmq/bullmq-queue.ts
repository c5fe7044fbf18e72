import type { JobContext, JobQueue, JobState } from '@algotrade/core';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * Job queue on Redis with BullMQ, so workers in other processes pick jobs up. Two attempts (a
 * failure or a crashed worker's stalled job is retried once, then failed); progress is the job's
 * progress; cancellation sets a flag the running worker sees on its next progress report.
 */
export class BullmqQueue implements JobQueue {
  readonly kind = 'bullmq';
  private readonly conn: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  constructor(
    url: string,
    private readonly opts: { prefix?: string; stalledIntervalMs?: number; lockDurationMs?: number } = {},
  ) {
    this.conn = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
    this.conn.on('error', () => {});
  }
  private q(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.conn, prefix: this.opts.prefix ?? 'algotrade-jobs' });
      this.queues.set(name, q);
    }
    return q;
  }
  private cancelKey(queue: string, id: string) {
    return `${this.opts.prefix ?? 'algotrade-jobs'}:${queue}:cancel:${id}`;
  }
  async add<T>(queue: string, data: T, opts: { jobId?: string } = {}): Promise<string> {
    const job = await this.q(queue).add(queue, data, {
      jobId: opts.jobId,
      attempts: 2,
      backoff: { type: 'fixed', delay: 200 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
    return job.id!;
  }
  async process<T>(
    queue: string,
    handler: (job: JobContext<T>) => Promise<unknown>,
    opts: { concurrency?: number } = {},
  ): Promise<void> {
    // the worker's own connection: while Redis is away its errors are expected (it reconnects by itself)
    const connection = this.conn.duplicate();
    connection.on('error', () => {});
    const worker = new Worker(
      queue,
      async (job: Job) => {
        const abort = new AbortController();
        const checkCancel = async () => {
          if (await this.conn.exists(this.cancelKey(queue, job.id!))) abort.abort();
        };
        await checkCancel();
        if (abort.signal.aborted) return { cancelled: true };
        return handler({
          id: job.id!,
          data: job.data as T,
          attempt: job.attemptsMade + 1,
          signal: abort.signal,
          progress: async (p) => {
            await job.updateProgress(Math.max(0, Math.min(1, p)));
            await checkCancel();
          },
        });
      },
      {
        connection,
        prefix: this.opts.prefix ?? 'algotrade-jobs',
        concurrency: opts.concurrency ?? 1,
        maxStalledCount: 1,
        stalledInterval: this.opts.stalledIntervalMs ?? 30_000,
        lockDuration: this.opts.lockDurationMs ?? 30_000,
      },
    );
    worker.on('error', () => {});
    this.workers.push(worker);
    await worker.waitUntilReady();
  }
  async cancel(queue: string, jobId: string): Promise<boolean> {
    const job = await this.q(queue).getJob(jobId);
    if (!job) return false;
    const st = await job.getState();
    if (st !== 'waiting' && st !== 'active' && st !== 'delayed' && st !== 'prioritized') return false;
    await this.conn.set(this.cancelKey(queue, jobId), '1', 'EX', 86_400);
    if (st !== 'active') await job.remove().catch(() => {});
    return true;
  }
  async state(queue: string, jobId: string): Promise<{ state: JobState; progress: number; error?: string }> {
    if (await this.conn.exists(this.cancelKey(queue, jobId))) return { state: 'cancelled', progress: 0 };
    const job = await this.q(queue).getJob(jobId);
    if (!job) return { state: 'unknown', progress: 0 };
    const st = await job.getState();
    const map: Record<string, JobState> = {
      waiting: 'waiting',
      delayed: 'waiting',
      prioritized: 'waiting',
      'waiting-children': 'waiting',
      active: 'active',
      completed: 'completed',
      failed: 'failed',
    };
    return {
      state: map[st] ?? 'unknown',
      progress: typeof job.progress === 'number' ? job.progress : 0,
      ...(job.failedReason ? { error: job.failedReason } : {}),
    };
  }
  async counts(queue: string) {
    const c = await this.q(queue).getJobCounts('waiting', 'active', 'delayed');
    return { waiting: (c.waiting ?? 0) + (c.delayed ?? 0), active: c.active ?? 0 };
  }
  async ping(): Promise<void> {
    await this.conn.ping();
  }
  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    await this.conn.quit().catch(() => this.conn.disconnect());
  }
}
