import { randomUUID } from 'node:crypto';
import { AppError, notFound, TOPICS } from '@algotrade/core';
import {
  downloadHistory,
  ExchangeHistoryError,
  localSymbol,
  openExchange,
  type OhlcvExchange,
} from '@algotrade/adapters';
import type { ServiceContext } from '../context.ts';

export interface DownloadRequest {
  exchange: string;
  market: string;
  symbol?: string;
  timeframe: string;
  since: Date;
  until?: Date;
}

export interface DownloadJob {
  id: string;
  exchange: string;
  market: string;
  symbol: string;
  timeframe: string;
  since: string;
  until: string | null;
  status: 'running' | 'done' | 'failed';
  /** 0..1 of the requested range */
  progress: number;
  stored: number;
  malformed: number;
  first: string | null;
  last: string | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

/** downloads one user may run at once, and finished ones kept per user (newest) */
const RUNNING_PER_USER = 2;
const KEPT_PER_USER = 50;

/**
 * Exchange history downloads started through the API: each runs in the background of the market-data
 * service, reports progress on the user's `user` WebSocket channel (`history.download` events) and in
 * `GET /api/market/history/downloads/:id`. Jobs are kept in memory (a restart forgets them; the candles
 * stored so far stay, and a new download of the same range only rewrites them).
 */
export class HistoryDownloads {
  private readonly jobs = new Map<string, { userId: string; job: DownloadJob }>();
  private readonly running = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  constructor(private readonly ctx: ServiceContext) {}

  async start(userId: string, r: DownloadRequest): Promise<DownloadJob> {
    const mine = [...this.jobs.values()].filter((j) => j.userId === userId);
    if (mine.filter((j) => j.job.status === 'running').length >= RUNNING_PER_USER)
      throw new AppError('RATE_LIMITED', `at most ${RUNNING_PER_USER} downloads run at once per user; wait for one`);
    if (r.until && r.until <= r.since) throw new AppError('VALIDATION_FAILED', 'since must be before until');
    if (r.since.getTime() >= Date.now()) throw new AppError('VALIDATION_FAILED', 'since must be in the past');
    let ex: OhlcvExchange;
    try {
      // the exchange id is checked now (no network needed); its markets and timeframes once it answers
      ex = await openExchange(r.exchange, this.ctx.rt.config.feed.exchangeApiUrl);
    } catch (e) {
      if (e instanceof ExchangeHistoryError) throw new AppError('VALIDATION_FAILED', e.message);
      throw e;
    }
    const job: DownloadJob = {
      id: randomUUID(),
      exchange: r.exchange,
      market: r.market,
      symbol: (r.symbol ?? localSymbol(r.market)).toUpperCase(),
      timeframe: r.timeframe,
      since: r.since.toISOString(),
      until: r.until?.toISOString() ?? null,
      status: 'running',
      progress: 0,
      stored: 0,
      malformed: 0,
      first: null,
      last: null,
      error: null,
      createdAt: new Date().toISOString(),
      finishedAt: null,
    };
    this.jobs.set(job.id, { userId, job });
    // forget the oldest finished jobs beyond what is kept
    const finished = mine.filter((j) => j.job.status !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length + 1 - KEPT_PER_USER))) this.jobs.delete(old.job.id);
    const p = this.run(userId, job, r, ex).finally(() => this.running.delete(p));
    this.running.add(p);
    return { ...job };
  }

  private async run(userId: string, job: DownloadJob, r: DownloadRequest, ex: OhlcvExchange): Promise<void> {
    const { rt } = this.ctx;
    let sent = 0;
    const emit = () =>
      rt.bus
        .publish(TOPICS.userNotifications.name, userId, 'history.download', { ...job })
        .catch((e: unknown) => rt.log.warn({ err: e, job: job.id }, 'publishing download progress failed'));
    await emit();
    try {
      const res = await downloadHistory(rt.db.db, {
        exchange: ex,
        market: r.market,
        symbol: job.symbol,
        timeframe: r.timeframe,
        since: r.since.getTime(),
        ...(r.until ? { until: r.until.getTime() } : {}),
        signal: this.stop.signal,
        onProgress: (progress, stored) => {
          job.progress = progress;
          job.stored = stored;
          // an event per whole percent at most
          if (Math.floor(progress * 100) > sent) {
            sent = Math.floor(progress * 100);
            void emit();
          }
        },
      });
      Object.assign(job, {
        status: 'done',
        progress: 1,
        stored: res.stored,
        malformed: res.malformed,
        first: res.first ?? null,
        last: res.last ?? null,
      });
    } catch (e) {
      // the exchange's refusal (no such market, timeframe), or the network: said as it is, never a 500
      job.status = 'failed';
      job.error =
        e instanceof ExchangeHistoryError ? e.message : `the exchange could not be read: ${(e as Error).message}`;
      rt.log.warn({ err: e, job: job.id }, 'history download failed');
    }
    job.finishedAt = new Date().toISOString();
    await emit();
  }

  get(userId: string, id: string): DownloadJob {
    const j = this.jobs.get(id);
    if (!j || j.userId !== userId) throw notFound(`download ${id}`);
    return { ...j.job };
  }

  list(userId: string): DownloadJob[] {
    return [...this.jobs.values()]
      .filter((j) => j.userId === userId)
      .map((j) => ({ ...j.job }))
      .reverse();
  }

  /** Stops the downloads in flight after their current page (service shutdown). */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.running]);
  }
}
