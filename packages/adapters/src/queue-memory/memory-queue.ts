import { randomUUID } from 'node:crypto';
import type { JobContext, JobQueue, JobState } from '@algotrade/core';

interface Job {
  id: string;
  queue: string;
  data: unknown;
  state: JobState;
  progress: number;
  attempt: number;
  error?: string;
  abort: AbortController;
}

type Handler = (job: JobContext) => Promise<unknown>;

/**
 * In-process job queue (embedded default): FIFO per queue, bounded concurrency, progress, cancel,
 * one retry after a failure. Durable restarts are the caller's part (the backtest service re-queues
 * jobs its database still shows as queued or running).
 */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private readonly jobs = new Map<string, Job>();
  private readonly waiting = new Map<string, Job[]>();
  private readonly workers = new Map<string, { handler: Handler; concurrency: number; active: number }>();
  private closed = false;
  constructor(private readonly maxAttempts = 2) {}

  async add<T>(queue: string, data: T, opts: { jobId?: string } = {}): Promise<string> {
    const id = opts.jobId ?? randomUUID();
    const existing = this.jobs.get(id);
    if (existing && (existing.state === 'waiting' || existing.state === 'active')) return id;
    const job: Job = { id, queue, data, state: 'waiting', progress: 0, attempt: 0, abort: new AbortController() };
    this.jobs.set(id, job);
    this.enqueue(job);
    return id;
  }
  private enqueue(job: Job) {
    let q = this.waiting.get(job.queue);
    if (!q) this.waiting.set(job.queue, (q = []));
    q.push(job);
    queueMicrotask(() => this.pump(job.queue));
  }
  async process<T>(
    queue: string,
    handler: (job: JobContext<T>) => Promise<unknown>,
    opts: { concurrency?: number } = {},
  ): Promise<void> {
    this.workers.set(queue, { handler: handler as Handler, concurrency: opts.concurrency ?? 1, active: 0 });
    this.pump(queue);
  }
  private pump(queue: string): void {
    const w = this.workers.get(queue);
    const q = this.waiting.get(queue);
    if (!w || !q || this.closed) return;
    while (w.active < w.concurrency && q.length) {
      const job = q.shift()!;
      if (job.state !== 'waiting') continue;
      w.active++;
      void this.run(job, w).finally(() => {
        w.active--;
        this.pump(queue);
      });
    }
  }
  private async run(job: Job, w: { handler: Handler }): Promise<void> {
    job.state = 'active';
    job.attempt++;
    try {
      await w.handler({
        id: job.id,
        data: job.data,
        attempt: job.attempt,
        signal: job.abort.signal,
        progress: async (p) => {
          job.progress = Math.max(0, Math.min(1, p));
        },
      });
      if (job.state === 'active') {
        job.state = 'completed';
        job.progress = 1;
      }
    } catch (e) {
      if ((job.state as JobState) === 'cancelled') return;
      job.error = e instanceof Error ? e.message : String(e);
      if (job.attempt < this.maxAttempts && !this.closed) {
        job.state = 'waiting';
        this.enqueue(job);
      } else job.state = 'failed';
    }
  }
  async cancel(_queue: string, jobId: string): Promise<boolean> {
    const job = this.jobs.get(jobId);
    if (!job || (job.state !== 'waiting' && job.state !== 'active')) return false;
    job.state = 'cancelled';
    job.abort.abort();
    return true;
  }
  async state(_queue: string, jobId: string) {
    const j = this.jobs.get(jobId);
    return j
      ? { state: j.state, progress: j.progress, ...(j.error ? { error: j.error } : {}) }
      : { state: 'unknown' as const, progress: 0 };
  }
  async counts(queue: string) {
    let waiting = 0;
    let active = 0;
    for (const j of this.jobs.values())
      if (j.queue === queue) {
        if (j.state === 'waiting') waiting++;
        if (j.state === 'active') active++;
      }
    return { waiting, active };
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.jobs.values()) if (j.state === 'active') j.abort.abort();
  }
}
