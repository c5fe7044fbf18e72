import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { DEFAULT_CHECKPOINT_POLICY, type Config } from '../config.ts';
import { migrations } from './migrations.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { PGliteThread, pgliteStartParams, type PGliteLike } from './pglite-thread.ts';
import { Checkpointer } from './checkpointer.ts';
import { copyIn, type CopyWriter } from './copy-binary.ts';
import type { Database } from './schema.ts';
import { attachOrderJournal, OrderJournal } from './order-journal.ts';
import { ORDER_COLUMNS } from './repos/forward-tests.repo.ts';

export type Db = Kysely<Database>;

export interface DbHandle {
  db: Db;
  backend: 'pglite' | 'postgres';
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Runs `fn` on one connection held for it alone, for what Kysely cannot issue (COPY): a pooled client
   * on PostgreSQL (one that fails outside PostgreSQL's own errors is not reused), PGlite's only
   * connection on PGlite, taken in turn with the query layer's transactions.
   */
  withConnection<T>(fn: (c: RawConnection) => Promise<T>): Promise<T>;
  /** PGlite only: what checkpoints it (a PostgreSQL server has its own checkpointer) */
  checkpointer?: Checkpointer;
  /** PGlite on disk only: the forward-test order journal (db/order-journal.ts), unless switched off */
  orderJournal?: OrderJournal;
}

/** One database connection, used directly. */
export interface RawConnection {
  /** binary `COPY` of `w`'s rows into `target` (`table (columns)`); resolves with the rows copied */
  copyIn(target: string, w: CopyWriter): Promise<number>;
  query(sql: string, params?: readonly unknown[]): Promise<unknown>;
}

/** Opens the configured database (PGlite files under DATA_DIR, or PostgreSQL) and migrates it. */
export async function openDatabase(
  cfg: Config['db'],
  opts: { searchPath?: string; log?: { info(o: object, m: string): void; warn(o: object, m: string): void } } = {},
): Promise<DbHandle> {
  let db: Db;
  let withConnection: DbHandle['withConnection'];
  let checkpointer: Checkpointer | undefined;
  let openJournal: (() => Promise<OrderJournal>) | undefined;
  if (cfg.backend === 'pglite') {
    mkdirSync(cfg.dir, { recursive: true });
    // on this thread by default; PGLITE_THREAD=worker runs statements beside the event loop instead of
    // holding it (docs/operations.md: each statement then takes a thread hop longer)
    const lite: PGliteLike =
      cfg.thread === 'worker'
        ? new PGliteThread(cfg.dir)
        : await import('@electric-sql/pglite').then(
            ({ PGlite }) => new PGlite(cfg.dir, { startParams: pgliteStartParams(PGlite.defaultStartParams) }),
          );
    const pgliteDb = (db = new Kysely<Database>({ dialect: new PGliteDialect(lite) }));
    // holding Kysely's connection keeps every other statement out until fn is done; PGlite reads COPY
    // data from a virtual file, /dev/blob
    const copyBytes = async (target: string, data: Uint8Array) => {
      const r = await lite.query(`copy ${target} from '/dev/blob' (format binary)`, [], { blob: new Blob([data]) });
      return r.affectedRows ?? 0;
    };
    const raw: RawConnection = {
      copyIn: (target, w) => copyBytes(target, w.end()),
      query: (q, params = []) => lite.query(q, [...params]),
    };
    withConnection = (fn) => pgliteDb.connection().execute(() => fn(raw));
    if (cfg.orderJournal !== false && !cfg.dir.includes('://')) {
      const file = path.join(cfg.dir, 'algotrade-order-journal.bin');
      openJournal = async () => {
        const { journal, recovered } = await OrderJournal.open(
          file,
          {
            copy: (target, data) => withConnection(() => copyBytes(target, data)),
            alone: (fn) =>
              withConnection(() =>
                fn({
                  exec: async (q) => void (await lite.query(q)),
                  copy: copyBytes,
                }),
              ),
          },
          {
            table: 'session_orders',
            columns: ORDER_COLUMNS,
            // a copy that skips rows also leaves out those of a session deleted since (its orders went with it)
            keep: 'exists (select 1 from forward_test_sessions f where f.id = order_journal_replay.session_id)',
          },
        );
        if (recovered) opts.log?.info({ rows: recovered }, 'copied the order journal into the order log');
        attachOrderJournal(pgliteDb, journal);
        return journal;
      };
    }
    // PGlite has no checkpointer process and never checkpoints by itself (see Checkpointer)
    checkpointer = new Checkpointer(pgliteDb, cfg.checkpoint ?? DEFAULT_CHECKPOINT_POLICY, {
      onCheckpoint: ({ walBytes, ms }) =>
        opts.log?.info(
          { walMb: Math.round(walBytes / 1048576), ms: Math.round(ms) },
          'checkpointed the embedded database',
        ),
      onError: (e) => opts.log?.warn({ err: e }, 'checkpointing the embedded database failed'),
    });
  } else {
    // numeric -> string (exact), int8 -> number where safe
    pg.types.setTypeParser(20, (v) => Number(v));
    const pool = new pg.Pool({
      connectionString: cfg.url,
      max: 10,
      ...(opts.searchPath ? { options: `-c search_path=${opts.searchPath}` } : {}),
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    withConnection = async (fn) => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await fn({
          copyIn: (target, w) => copyIn(client, `copy ${target} from stdin (format binary)`, w),
          query: (q, params = []) => client.query(q, [...params]),
        });
      } catch (e) {
        // an error PostgreSQL reported (it carries an SQLSTATE) leaves the connection ready for the next statement
        if (!(e instanceof Error && typeof (e as { code?: unknown }).code === 'string')) broken = e as Error;
        throw e;
      } finally {
        client.release(broken);
      }
    };
    if (opts.searchPath) {
      const schema = opts.searchPath;
      await underMigrationLock(db, (trx) => sql`create schema if not exists ${sql.id(schema)}`.execute(trx));
    }
  }
  await migrate(db);
  const orderJournal = await openJournal?.();
  await checkpointer?.start();
  return {
    db,
    backend: cfg.backend,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await orderJournal?.close();
      await checkpointer?.stop();
      await db.destroy();
    },
    withConnection,
    ...(checkpointer ? { checkpointer } : {}),
    ...(orderJournal ? { orderJournal } : {}),
  };
}

/**
 * Runs `fn` in a transaction holding the migration lock (a transaction-scoped advisory lock), so
 * processes opening the same database at once (every service of a distributed start-up) take turns.
 * Even `create ... if not exists` needs it: two sessions creating the same table at once collide in
 * the catalog (`pg_type_typname_nsp_index`).
 */
async function underMigrationLock<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(727274)`.execute(trx);
    return fn(trx);
  });
}

export async function migrate(db: Db): Promise<number[]> {
  await underMigrationLock(db, (trx) =>
    sql`create table if not exists schema_migrations (
    id integer primary key, name text not null, applied_at timestamptz not null default now())`.execute(trx),
  );
  const applied = new Set((await db.selectFrom('schema_migrations').select('id').execute()).map((r) => r.id));
  const ran: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    await underMigrationLock(db, async (trx) => {
      // another process may have migrated meanwhile: the lock serialises them
      const done = await trx.selectFrom('schema_migrations').select('id').where('id', '=', m.id).executeTakeFirst();
      if (done) return;
      await sql.raw(m.sql).execute(trx);
      await trx.insertInto('schema_migrations').values({ id: m.id, name: m.name }).execute();
      ran.push(m.id);
    });
  }
  return ran;
}
