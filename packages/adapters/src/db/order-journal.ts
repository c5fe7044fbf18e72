import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writevSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { Db } from './connect.ts';

/**
 * What the journal needs of the database: a binary `COPY` of finished COPY data (`CopyWriter.end()`)
 * into a table, and statements run on one connection held for them (a transaction).
 */
export interface JournalIo {
  copy(target: string, data: Uint8Array): Promise<number>;
  /** runs `fn` on one connection, alone; `exec` and `copy` inside it use that connection */
  alone<T>(
    fn: (c: {
      exec(sql: string): Promise<void>;
      copy(target: string, data: Uint8Array): Promise<number>;
    }) => Promise<T>,
  ): Promise<T>;
}

/** the table records are copied into, and which rows a copy that skips rows keeps (an SQL condition) */
export interface JournalTarget {
  table: string;
  columns: string;
  keep?: string;
}
const where = (t: JournalTarget) => (t.keep ? `where ${t.keep}` : '');

interface Entry {
  chunks: Uint8Array[];
  rows: number;
  /** the next chunk to copy */
  next: number;
}

const MAGIC = 0x414f4a31; // 'AOJ1'
/** rows waiting beyond which chunks are copied without waiting for quiet moments */
const EAGER_ROWS = 5000;

/**
 * The order journal of the embedded database (PGlite on disk; docs/forward-testing.md, "Order journal").
 *
 * A group commit of the forward-test engine is written to an append-only file first, one record per
 * commit, and is durable (against a crash of the process, as PGlite itself, which runs without fsync)
 * once the write returns: the fills are published then. The records are copied into their table
 * (`session_orders`) behind, in chunks, each after a quiet moment, so a burst of fills no longer waits
 * for its rows and their two unique indexes on PGlite's one thread (2,000 orders: 27 ms as rows, under
 * 1 ms to the file). Every read of the table waits for the journal to be copied first (`drained`), so
 * readers see every fill that was published.
 *
 * The unique indexes still check every row, later: so only a sole writer may journal (`claim`, `sole`).
 * With a second writer on the same database (two engines, a handover in a test), both write rows
 * directly again, after the journal is drained.
 *
 * Recovery (at open): every complete record still in the file is copied in again, skipping rows the
 * table already holds (they were copied before the crash); a torn last record was never acknowledged
 * and is dropped. The file is emptied whenever everything in it has been copied.
 *
 * Record: magic (u32), chunk count (u32), each chunk's length (u32), the chunks (binary COPY data of
 * the target's columns), then a CRC-32 of everything before it (u32); big-endian.
 */
export class OrderJournal {
  private fd: number;
  private readonly pending: Entry[] = [];
  private running: Promise<void> | undefined;
  /** ends the copying's wait for a quiet moment */
  private hurry: (() => void) | undefined;
  /** readers waiting for the rows written up to `upTo` (of `written`) to be copied in */
  private readonly waiters: { upTo: number; resolve(): void; reject(e: Error): void }[] = [];
  /** rows written to the journal since it opened, and rows of those copied in (whole records): the
   * difference is what is pending */
  private written = 0;
  private copiedUpTo = 0;
  private readonly writers = new Map<object, () => Promise<void>>();
  private closed = false;
  /** records written, chunks that met rows already in the table (copied skipping them) */
  readonly stats = { records: 0, conflicts: 0 };

  private constructor(
    readonly file: string,
    private readonly io: JournalIo,
    private readonly target: JournalTarget,
  ) {
    this.fd = openSync(file, 'a');
  }

  /** Opens the journal at `file`, copying in what a crash left in it; resolves with the rows it found. */
  static async open(
    file: string,
    io: JournalIo,
    target: JournalTarget,
  ): Promise<{ journal: OrderJournal; recovered: number }> {
    const records = existsSync(file) ? readRecords(readFileSync(file)) : [];
    let recovered = 0;
    // rows copied before the crash are skipped
    if (records.length) recovered = await copySkipping(io, target, records.flat());
    const journal = new OrderJournal(file, io, target);
    ftruncateSync(journal.fd, 0);
    return { journal, recovered };
  }

  /** rows written to the journal and not yet copied into the table */
  get pendingRows(): number {
    return this.written - this.copiedUpTo;
  }

  /**
   * `writer` writes to the table: journaling is for a sole writer only. `quiet` resolves when copying a
   * chunk would not hold up the writer's own work (the engine's idle moments).
   */
  claim(writer: object, quiet: () => Promise<void>): void {
    this.writers.set(writer, quiet);
  }

  release(writer: object): void {
    this.writers.delete(writer);
  }

  /** Whether `writer` may journal: it is the only writer that claimed the journal. */
  sole(writer: object): boolean {
    return !this.closed && this.writers.size === 1 && this.writers.has(writer);
  }

  /**
   * Writes one record (binary COPY chunks holding `rows` rows) and returns once the file has it. The
   * chunks are copied into the table behind.
   */
  append(chunks: Uint8Array[], rows: number): void {
    if (this.closed) throw new Error('the order journal is closed');
    const head = Buffer.allocUnsafe(8 + 4 * chunks.length);
    head.writeUInt32BE(MAGIC, 0);
    head.writeUInt32BE(chunks.length, 4);
    chunks.forEach((c, i) => head.writeUInt32BE(c.length, 8 + 4 * i));
    let crc = crc32(head);
    for (const c of chunks) crc = crc32(c, crc);
    const tail = Buffer.allocUnsafe(4);
    tail.writeUInt32BE(crc >>> 0, 0);
    const parts = [head, ...chunks, tail];
    const total = parts.reduce((n, p) => n + p.length, 0);
    let written = writevSync(this.fd, parts);
    // a short write (rare on a regular file): the rest goes after it
    while (written < total) {
      let skip = written;
      const rest: Uint8Array[] = [];
      for (const p of parts) {
        if (skip >= p.length) skip -= p.length;
        else {
          rest.push(p.subarray(skip));
          skip = 0;
        }
      }
      written += writevSync(this.fd, rest);
    }
    this.stats.records++;
    this.pending.push({ chunks, rows, next: 0 });
    this.written += rows;
    this.kick();
  }

  /**
   * Resolves once everything written so far is in the table (copied from now on without waiting for
   * quiet moments; what is written later does not hold the caller up).
   */
  drained(): Promise<void> {
    if (!this.pendingRows) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo: this.written, resolve, reject });
      this.hurry?.();
      this.kick();
    });
  }

  private kick(): void {
    // after a failed copy the next append or read tries again (not this loop: no busy retrying)
    this.running ??= this.copyAll().then((ok) => {
      this.running = undefined;
      if (ok && this.pendingRows) this.kick();
    });
  }

  private async copyAll(): Promise<boolean> {
    while (this.pending.length) {
      const quiet = this.writers.size === 1 ? [...this.writers.values()][0] : undefined;
      // a reader waiting (drained) cuts the wait for a quiet moment short, and a backlog skips it
      if (!this.waiters.length && this.pendingRows < EAGER_ROWS && quiet)
        await Promise.race([quiet(), new Promise<void>((r) => (this.hurry = r))]);
      this.hurry = undefined;
      const e = this.pending[0]!;
      const data = e.chunks[e.next]!;
      try {
        await this.copyChunk(data);
      } catch (err) {
        // the chunk stays queued; whoever waits hears why, and the next append or read tries again
        for (const w of this.waiters.splice(0)) w.reject(err as Error);
        return false;
      }
      if (++e.next === e.chunks.length) {
        this.pending.shift();
        this.copiedUpTo += e.rows;
        for (let i = this.waiters.length - 1; i >= 0; i--)
          if (this.waiters[i]!.upTo <= this.copiedUpTo) this.waiters.splice(i, 1)[0]!.resolve();
      }
    }
    // everything written has been copied (and every reader answered): the file starts again empty
    ftruncateSync(this.fd, 0);
    return true;
  }

  private async copyChunk(data: Uint8Array): Promise<void> {
    const { table, columns } = this.target;
    try {
      await this.io.copy(`${table} (${columns})`, data);
    } catch (e) {
      // a unique violation: some of these rows are in the table already (a row written directly by a
      // writer that took over); a foreign-key violation: a row's parent is gone. Nothing of the chunk
      // went in; it goes again without those rows (and without those the target's `keep` leaves out).
      const code = (e as { code?: string }).code;
      if (code !== '23505' && code !== '23503') throw e;
      this.stats.conflicts++;
      await copySkipping(this.io, this.target, [data]);
    }
  }

  /** Copies everything still pending, then closes the file (empty). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drained();
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * Copies chunks into the target in one transaction, skipping rows it already holds (and rows its
 * `keep` leaves out): through a scratch table, then `insert ... on conflict do nothing`. Resolves with
 * the rows the chunks held.
 */
async function copySkipping(io: JournalIo, target: JournalTarget, chunks: Uint8Array[]): Promise<number> {
  const { table, columns } = target;
  return io.alone(async (c) => {
    await c.exec('begin');
    try {
      await c.exec(
        `create temp table if not exists order_journal_replay as select ${columns} from ${table} with no data`,
      );
      await c.exec('truncate order_journal_replay');
      let rows = 0;
      for (const d of chunks) rows += await c.copy(`order_journal_replay (${columns})`, d);
      await c.exec(
        `insert into ${table} (${columns}) select ${columns} from order_journal_replay ${where(target)} on conflict do nothing`,
      );
      await c.exec('commit');
      return rows;
    } catch (e) {
      await c.exec('rollback').catch(() => undefined);
      throw e;
    }
  });
}

/** The complete records of a journal file, each as its chunks; a torn or damaged tail is left out. */
export function readRecords(b: Buffer): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let o = 0;
  while (o + 8 <= b.length) {
    if (b.readUInt32BE(o) !== MAGIC) break;
    const n = b.readUInt32BE(o + 4);
    const head = 8 + 4 * n;
    if (o + head > b.length) break;
    const lens: number[] = [];
    for (let i = 0; i < n; i++) lens.push(b.readUInt32BE(o + 8 + 4 * i));
    const end = o + head + lens.reduce((a, x) => a + x, 0);
    if (end + 4 > b.length) break;
    if (crc32(b.subarray(o, end)) >>> 0 !== b.readUInt32BE(end)) break;
    const chunks: Uint8Array[] = [];
    let p = o + head;
    for (const len of lens) {
      chunks.push(b.subarray(p, p + len));
      p += len;
    }
    out.push(chunks);
    o = end + 4;
  }
  return out;
}

const journals = new WeakMap<Db, OrderJournal>();

/** The journal of the database behind `db`, if it has one (repositories find it from their handle). */
export const orderJournalOf = (db: Db): OrderJournal | undefined => journals.get(db);

export function attachOrderJournal(db: Db, j: OrderJournal): void {
  journals.set(db, j);
}
