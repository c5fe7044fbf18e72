import type { Db } from '../connect.ts';

export interface StrategyRow {
  id: string;
  name: string;
  description: string;
  graph: unknown;
  graphHash: string;
  compilationReport: unknown;
  /** the latest version's number: a new one each time a save changes the graph's behaviour */
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface StrategyVersionRow {
  version: number;
  name: string;
  graphHash: string;
  createdAt: string;
  /** only when one version is asked for */
  graph?: unknown;
}

type Raw = {
  id: string;
  name: string;
  description: string;
  graph: unknown;
  graph_hash: string;
  compilation_report: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
};
const toRow = (r: Raw): StrategyRow => ({
  id: r.id,
  name: r.name,
  description: r.description,
  graph: r.graph,
  graphHash: r.graph_hash,
  compilationReport: r.compilation_report,
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids that are not UUIDs can match no row: answer "not found" without asking the database. */
export const isUuid = (s: string): boolean => UUID.test(s);

/** Every query is scoped to the owner: another user's id behaves exactly like a missing one. */
export const strategiesRepo = (db: Db) => ({
  async list(userId: string): Promise<StrategyRow[]> {
    const rows = await db
      .selectFrom('strategies')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('updated_at', 'desc')
      .execute();
    return rows.map((r) => toRow(r as Raw));
  },
  async get(userId: string, id: string): Promise<StrategyRow | null> {
    if (!isUuid(id)) return null;
    const r = await db
      .selectFrom('strategies')
      .selectAll()
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toRow(r as Raw) : null;
  },
  async create(
    userId: string,
    s: { name: string; description: string; graph: unknown; graphHash: string; report: unknown },
  ): Promise<StrategyRow> {
    return db.transaction().execute(async (trx) => {
      const r = await trx
        .insertInto('strategies')
        .values({
          user_id: userId,
          name: s.name,
          description: s.description,
          graph: JSON.stringify(s.graph),
          graph_hash: s.graphHash,
          compilation_report: JSON.stringify(s.report),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('strategy_versions')
        .values({
          strategy_id: r.id,
          version: 1,
          name: s.name,
          graph: JSON.stringify(s.graph),
          graph_hash: s.graphHash,
        })
        .execute();
      return toRow(r as Raw);
    });
  },
  /**
   * A save. A graph whose behaviour differs from the latest version's (another hash) becomes the next
   * version, in the same transaction; a layout-only change, a rename or a new description does not.
   */
  async update(
    userId: string,
    id: string,
    s: { name?: string; description?: string; graph?: unknown; graphHash?: string; report?: unknown },
  ): Promise<StrategyRow | null> {
    if (!isUuid(id)) return null;
    return db.transaction().execute(async (trx) => {
      const cur = await trx
        .selectFrom('strategies')
        .select(['graph_hash', 'version'])
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!cur) return null;
      const changed = s.graph !== undefined && s.graphHash !== cur.graph_hash;
      const r = await trx
        .updateTable('strategies')
        .set({
          ...(s.name !== undefined ? { name: s.name } : {}),
          ...(s.description !== undefined ? { description: s.description } : {}),
          ...(s.graph !== undefined
            ? { graph: JSON.stringify(s.graph), graph_hash: s.graphHash!, compilation_report: JSON.stringify(s.report) }
            : {}),
          ...(changed ? { version: cur.version + 1 } : {}),
          updated_at: new Date(),
        })
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (changed)
        await trx
          .insertInto('strategy_versions')
          .values({
            strategy_id: id,
            version: cur.version + 1,
            name: r.name,
            graph: JSON.stringify(s.graph),
            graph_hash: s.graphHash!,
          })
          .execute();
      return toRow(r as Raw);
    });
  },
  /** The strategy's versions, newest first (without their graphs); null when it is not the caller's. */
  async versions(userId: string, id: string): Promise<StrategyVersionRow[] | null> {
    if (!isUuid(id)) return null;
    const rows = await db
      .selectFrom('strategy_versions as v')
      .innerJoin('strategies as s', 's.id', 'v.strategy_id')
      .select(['v.version', 'v.name', 'v.graph_hash', 'v.created_at'])
      .where('s.user_id', '=', userId)
      .where('s.id', '=', id)
      .orderBy('v.version', 'desc')
      .execute();
    // every strategy has its version 1 (written with it, or by migration 12): none means not the caller's
    if (!rows.length) return null;
    return rows.map((r) => ({
      version: r.version,
      name: r.name,
      graphHash: r.graph_hash,
      createdAt: (r.created_at as Date).toISOString(),
    }));
  },
  async version(userId: string, id: string, version: number): Promise<StrategyVersionRow | null> {
    if (!isUuid(id)) return null;
    const r = await db
      .selectFrom('strategy_versions as v')
      .innerJoin('strategies as s', 's.id', 'v.strategy_id')
      .select(['v.version', 'v.name', 'v.graph', 'v.graph_hash', 'v.created_at'])
      .where('s.user_id', '=', userId)
      .where('s.id', '=', id)
      .where('v.version', '=', version)
      .executeTakeFirst();
    return r
      ? {
          version: r.version,
          name: r.name,
          graph: r.graph,
          graphHash: r.graph_hash,
          createdAt: (r.created_at as Date).toISOString(),
        }
      : null;
  },
  async delete(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const r = await db.deleteFrom('strategies').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  },
});
