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

/** Commits at most one offset per partition at a time, always the newest ready one. */
export class CommitThrottle<M extends { partition: number; commit(): unknown }> {
  private readonly next = new Map<number, M>();
  /** the committing loop of each partition that has one */
  private readonly running = new Map<number, Promise<void>>();
  commit(msg: M): void {
    this.next.set(msg.partition, msg);
    const p = msg.partition;
    if (this.running.has(p)) return;
    const loop = (async () => {
      try {
        while (this.next.has(p)) {
          const m = this.next.get(p)!;
          this.next.delete(p);
          try {
            await m.commit();
          } catch {
            // the next commit for this partition covers it; a lost commit only means a redelivery
          }
        }
      } finally {
        this.running.delete(p);
      }
    })();
    this.running.set(p, loop);
  }
  /** Resolves when every partition's latest offset is committed (awaits the loops themselves). */
  async flush(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
