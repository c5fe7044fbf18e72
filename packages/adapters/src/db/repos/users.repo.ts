import { sql } from 'kysely';
import type { Db } from '../connect.ts';
import { orderJournalOf } from '../order-journal.ts';

export interface UserRow {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
}

const toUser = (r: { id: string; email: string; password_hash: string; created_at: Date }): UserRow => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});

export const usersRepo = (db: Db) => ({
  /** null when the e-mail is taken (case-insensitive) */
  async create(email: string, passwordHash: string): Promise<UserRow | null> {
    const r = await db
      .insertInto('users')
      .values({ email, password_hash: passwordHash })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returningAll()
      .executeTakeFirst();
    return r ? toUser(r) : null;
  },
  async byEmail(email: string): Promise<UserRow | null> {
    const r = await db
      .selectFrom('users')
      .selectAll()
      .where(sql<string>`lower(email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    return r ? toUser(r) : null;
  },
  async byId(id: string): Promise<UserRow | null> {
    const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toUser(r) : null;
  },
  async delete(id: string): Promise<boolean> {
    // the user's sessions go with the user: their journaled orders go in first, so they go too
    const j = orderJournalOf(db);
    if (j?.pendingRows) await j.drained();
    const r = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  },
});

export const refreshTokensRepo = (db: Db) => ({
  async insert(row: { userId: string; familyId: string; tokenHash: string; expiresAt: Date }): Promise<string> {
    const r = await db
      .insertInto('refresh_tokens')
      .values({ user_id: row.userId, family_id: row.familyId, token_hash: row.tokenHash, expires_at: row.expiresAt })
      .returning('id')
      .executeTakeFirstOrThrow();
    return r.id;
  },
  byHash: (tokenHash: string) =>
    db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
  /** Marks a token used; false when it was already used or revoked (a concurrent rotation won). */
  async consume(id: string, replacedBy: string): Promise<boolean> {
    const r = await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: new Date(), replaced_by: replacedBy })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  },
  async revokeFamily(familyId: string): Promise<void> {
    await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: new Date() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  },
});
