import { sql } from 'kysely';
import type { Db } from './connect.ts';

/** When the embedded database checkpoints: after this much WAL, or this long after a write. */
export interface CheckpointPolicy {
  /** checkpoint once this many megabytes of WAL were written since the last checkpoint */
  walMb: number;
  /** checkpoint once this many seconds passed since the last one, if anything was written */
  seconds: number;
}

export interface CheckpointStats {
  /** checkpoints taken since the database opened */
  count: number;
  /** how long the last one took, ms */
  lastMs: number;
  /** the longest checkpoint so far, ms */
  maxMs: number;
}

/**
 * Checkpoints PGlite. PGlite is PostgreSQL as a single backend: there is no checkpointer process, and a
 * single backend never requests a checkpoint on its own (`max_wal_size` and `checkpoint_timeout` have
 * no effect). Without one, every WAL segment written since the database opened stays on disk until it
 * closes cleanly: under 10,000 trading sessions that is about 4 MB a second, 14 GB an hour, and after a
 * crash all of it is replayed at start-up. This issues `CHECKPOINT` the way the server's own checkpointer
 * would: once `walMb` of WAL was written since the last one, or `seconds` after it if anything was
 * written at all. It checks every `checkEveryMs` (one `pg_current_wal_lsn()`), in turn with the other
 * statements (PGlite has one connection).
 *
 * A checkpoint writes every dirty page of the buffer pool, so the statements behind it wait for as long
 * as it takes (docs/operations.md: about 100-300 ms under heavy trading).
 */
export class Checkpointer {
  readonly stats: CheckpointStats = { count: 0, lastMs: 0, maxMs: 0 };
  private lastLsn = 0;
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<boolean>;

  constructor(
    private readonly db: Db,
    private readonly policy: CheckpointPolicy,
    private readonly opts: {
      checkEveryMs?: number;
      onCheckpoint?: (s: { walBytes: number; ms: number }) => void;
      onError?: (e: unknown) => void;
    } = {},
  ) {}

  /** Reads where the WAL stands and starts checking. */
  async start(): Promise<void> {
    this.lastLsn = await this.lsn();
    this.lastAt = Date.now();
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs ?? 10_000);
    this.timer.unref();
  }

  /** Checkpoints if one is due; resolves true if it did. One check at a time. */
  check(): Promise<boolean> {
    this.running ??= this.due()
      .then((due) => (due ? this.checkpoint().then(() => true) : false))
      .catch((e: unknown) => {
        this.opts.onError?.(e);
        return false;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async due(): Promise<boolean> {
    const written = (await this.lsn()) - this.lastLsn;
    if (written <= 0) return false;
    return written >= this.policy.walMb * 1024 * 1024 || Date.now() - this.lastAt >= this.policy.seconds * 1000;
  }

  /** Checkpoints now. */
  async checkpoint(): Promise<void> {
    const t0 = performance.now();
    await sql`checkpoint`.execute(this.db);
    const ms = performance.now() - t0;
    // counted from after the checkpoint's own record: an idle database is not checkpointed again
    const lsn = await this.lsn();
    const walBytes = lsn - this.lastLsn;
    this.lastLsn = lsn;
    this.lastAt = Date.now();
    this.stats.count++;
    this.stats.lastMs = ms;
    this.stats.maxMs = Math.max(this.stats.maxMs, ms);
    this.opts.onCheckpoint?.({ walBytes, ms });
  }

  /** Stops checking, after a check in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async lsn(): Promise<number> {
    const r = await sql<{ b: string }>`select (pg_current_wal_lsn() - '0/0'::pg_lsn)::text as b`.execute(this.db);
    return Number(r.rows[0]!.b);
  }
}
