import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface WireTick {
  ts: number;
  price: number;
  size: number;
}

/** the other symbols' windows a strategy reading them warms on (see warmedWithOthers) */
export type WireWindows = { symbol: string; ticks: WireTick[] }[];

export type RunnerMessage =
  | {
      op: 'add';
      id: string;
      symbol: string;
      graph: unknown;
      evaluation: unknown;
      warm?: WireTick[];
      windows?: WireWindows;
    }
  | { op: 'active'; id: string; active: boolean; warm?: WireTick[]; windows?: WireWindows }
  | { op: 'remove'; id: string }
  | { op: 'ticks'; seq: number; symbol: string; ticks: WireTick[] }
  | { op: 'heap'; seq: number };

/**
 * What a session's strategy fired on a tick: the action's index, or (with rules at a distance) the action
 * and then the values those rules read, in plan.risk.distances' order
 */
export type FiredAction = number | Float64Array;

/** per fired action: the session, the tick's index and what fired (as the worker thread sends it) */
export type Fired = [sessionId: string, tickIndex: number, action: FiredAction][];

/**
 * The worker-thread runner: sessions' strategies spread over threads (all cores by default), each
 * thread evaluating its sessions on the ticks of their symbols and answering which actions fired. The
 * engine keeps ledgers, risk rules and execution in its own thread, so a session decides exactly as
 * with the in-process runner.
 */
export class RunnerPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly where = new Map<string, number>();
  /** the symbols each session's thread needs the ticks of: its own, and the other symbols it reads */
  private readonly readsOf = new Map<string, readonly string[]>();
  /** sessions per symbol per worker, to send a symbol's ticks only where they are needed */
  private readonly symbolsOf: Map<string, number>[] = [];
  private readonly waiting = new Map<number, (m: { fired?: Fired; heap?: number }) => void>();
  private seq = 0;
  /** resolves when every thread has loaded its code */
  readonly ready: Promise<void>;

  constructor(size = cpus().length) {
    const url = new URL('./runner-worker.mjs', import.meta.url);
    const loaded: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(url);
      loaded.push(
        new Promise((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
      );
      w.on('message', (m: { seq?: number; fired?: Fired; heap?: number }) => {
        if (m.seq === undefined) return; // the thread's "loaded" message
        const done = this.waiting.get(m.seq);
        this.waiting.delete(m.seq);
        done?.(m);
      });
      w.on('error', (e) => console.error('runner thread failed', e));
      this.workers.push(w);
      this.load.push(0);
      this.symbolsOf.push(new Map());
    }
    this.ready = Promise.all(loaded).then(() => undefined);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs a session's strategy, warmed on `warm`; a session the pool holds already (paused) is warmed
   * again. A strategy reading other symbols names them (its plan's `symbols`, whose ticks then reach its
   * thread too) with their windows to warm on (a symbol whose window could not be read has none).
   */
  add(
    id: string,
    symbol: string,
    graph: unknown,
    evaluation: unknown,
    warm?: WireTick[],
    others?: { symbols: readonly string[]; windows: WireWindows },
  ): void {
    const extra = { ...(warm ? { warm } : {}), ...(others ? { windows: others.windows } : {}) };
    const at = this.where.get(id);
    if (at !== undefined) return this.post(at, { op: 'active', id, active: true, ...extra });
    let k = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[k]!) k = i;
    this.where.set(id, k);
    this.load[k]!++;
    const reads = [symbol, ...(others?.symbols ?? []).filter((x) => x !== symbol)];
    this.readsOf.set(id, reads);
    for (const x of reads) this.symbolsOf[k]!.set(x, (this.symbolsOf[k]!.get(x) ?? 0) + 1);
    this.post(k, { op: 'add', id, symbol, graph, evaluation, ...extra });
  }

  /** Whether some thread needs this symbol's ticks (a session on it, or one reading it). */
  needs(symbol: string): boolean {
    return this.symbolsOf.some((m) => m.has(symbol));
  }

  setActive(id: string, active: boolean): void {
    const k = this.where.get(id);
    if (k !== undefined) this.post(k, { op: 'active', id, active });
  }

  remove(id: string, symbol: string): void {
    const k = this.where.get(id);
    if (k === undefined) return;
    this.where.delete(id);
    this.load[k]!--;
    for (const x of this.readsOf.get(id) ?? [symbol]) {
      const n = (this.symbolsOf[k]!.get(x) ?? 1) - 1;
      if (n > 0) this.symbolsOf[k]!.set(x, n);
      else this.symbolsOf[k]!.delete(x);
    }
    this.readsOf.delete(id);
    this.post(k, { op: 'remove', id });
  }

  /**
   * Sends a symbol's ticks to the threads that run sessions on it. Resolves, per tick index, the
   * sessions whose strategy fired and the action that fired.
   */
  async ticks(symbol: string, ticks: readonly WireTick[]): Promise<Map<string, FiredAction>[]> {
    const wire = ticks.map((t) => ({ ts: t.ts, price: t.price, size: t.size }));
    const answers: Promise<Fired>[] = [];
    for (let k = 0; k < this.workers.length; k++) {
      if (!this.symbolsOf[k]!.has(symbol)) continue;
      const seq = ++this.seq;
      answers.push(new Promise<Fired>((resolve) => this.waiting.set(seq, (m) => resolve(m.fired ?? []))));
      this.post(k, { op: 'ticks', seq, symbol, ticks: wire });
    }
    const byTick: Map<string, FiredAction>[] = [];
    for (const fired of await Promise.all(answers))
      for (const [id, i, a] of fired) (byTick[i] ??= new Map()).set(id, a);
    return byTick;
  }

  /** V8 heap in use across the threads (bytes), after a collection where `--expose-gc` allows one. */
  async heapUsed(): Promise<number> {
    const sizes = await Promise.all(
      this.workers.map((_, k) => {
        const seq = ++this.seq;
        const p = new Promise<number>((resolve) => this.waiting.set(seq, (m) => resolve(m.heap ?? 0)));
        this.post(k, { op: 'heap', seq });
        return p;
      }),
    );
    return sizes.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private post(k: number, m: RunnerMessage): void {
    this.workers[k]!.postMessage(m);
  }
}
