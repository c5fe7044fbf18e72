import type { Db } from '../connect.ts';

export interface StrategyRow {
  id: string;
  name: string;
  description: string;
  graph: unknown;
  graphHash: string;
  compilationReport: unknown;
  createdAt: string;
  updatedAt: string;
}

type Raw = {
  id: string;
  name: string;
  description: string;
  graph: unknown;
  graph_hash: string;
  compilation_report: unknown;
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
    const r = await db
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
    return toRow(r as Raw);
  },
  async update(
    userId: string,
    id: string,
    s: { name?: string; description?: string; graph?: unknown; graphHash?: string; report?: unknown },
  ): Promise<StrategyRow | null> {
    if (!isUuid(id)) return null;
    const r = await db
      .updateTable('strategies')
      .set({
        ...(s.name !== undefined ? { name: s.name } : {}),
        ...(s.description !== undefined ? { description: s.description } : {}),
        ...(s.graph !== undefined
          ? { graph: JSON.stringify(s.graph), graph_hash: s.graphHash!, compilation_report: JSON.stringify(s.report) }
          : {}),
        updated_at: new Date(),
      })
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return r ? toRow(r as Raw) : null;
  },
  async delete(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const r = await db.deleteFrom('strategies').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  },
});
