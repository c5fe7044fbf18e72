import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Tracks messages in flight per partition and says which one is safe to commit: the last of the
 * longest prefix of finished messages, so a crash never skips an unhandled message (at-least-once).
 */
export class OrderedCommits<M> {
  private readonly pending = new Map<number, { msg: M; done: boolean }[]>();
  start(partition: number, msg: M): { msg: M; done: boolean } {
    let q = this.pending.get(partition);
    if (!q) this.pending.set(partition, (q = []));
    const e = { msg, done: false };
    q.push(e);
    return e;
  }
  /** marks an entry finished; returns the newest message whose predecessors are all done, if it advanced */
  finish(partition: number, entry: { msg: M; done: boolean }): M | undefined {
    entry.done = true;
    const q = this.pending.get(partition)!;
    let last: M | undefined;
    while (q.length > 0 && q[0]!.done) last = q.shift()!.msg;
    return last;
  }
}

/**
 * Commits at most one offset per partition at a time, always the newest ready one, and at most one per
 * partition every `intervalMs`: a commit is a write to the broker's offsets log, and committing after
 * every message cost one such write per message (27,701 commits for 30,000 messages at 1,000 messages a
 * second). A partition idle for longer than the interval commits at once. `flush` commits what is
 * waiting without waiting out the interval. Offsets stay those of handled messages only, so a crash
 * redelivers at most one interval's messages more than before (at-least-once either way).
 */
export class CommitThrottle<M extends { partition: number; commit(): unknown }> {
  constructor(private readonly intervalMs = 0) {}
  private readonly next = new Map<number, M>();
  /** the committing loop of each partition that has one */
  private readonly running = new Map<number, Promise<void>>();
  /** aborted by flush: wakes the loops sleeping out the interval */
  private wake = new AbortController();
  private flushing = 0;
  commit(msg: M): void {
    this.next.set(msg.partition, msg);
    const p = msg.partition;
    if (this.running.has(p)) return;
    const loop = (async () => {
      try {
        while (this.next.has(p)) {
          const m = this.next.get(p)!;
          this.next.delete(p);
          const started = Date.now();
          try {
            await m.commit();
          } catch {
            // the next commit for this partition covers it; a lost commit only means a redelivery
          }
          const rest = this.intervalMs - (Date.now() - started);
          if (rest > 0 && this.flushing === 0)
            await sleep(rest, undefined, { ref: false, signal: this.wake.signal }).catch(() => {});
        }
      } finally {
        this.running.delete(p);
      }
    })();
    this.running.set(p, loop);
  }
  /** Resolves when every partition's latest offset is committed (awaits the loops themselves). */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.wake.abort();
      this.wake = new AbortController();
      while (this.running.size > 0) await Promise.all([...this.running.values()]);
    } finally {
      this.flushing--;
    }
  }
}
