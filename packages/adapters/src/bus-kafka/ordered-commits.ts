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
  private readonly busy = new Set<number>();
  private idle: Promise<void> = Promise.resolve();
  commit(msg: M): void {
    this.next.set(msg.partition, msg);
    if (!this.busy.has(msg.partition)) this.idle = this.run(msg.partition);
  }
  private async run(p: number): Promise<void> {
    this.busy.add(p);
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
      this.busy.delete(p);
    }
  }
  async flush(): Promise<void> {
    while (this.busy.size > 0) await this.idle;
  }
}
