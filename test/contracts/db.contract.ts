import type { DbHandle } from '@algotrade/adapters';
import { migrate, migrations, usersRepo } from '@algotrade/adapters';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The database contract: the same repository suite for PGlite and PostgreSQL. */
export function dbContract(name: string, open: () => Promise<DbHandle>, cleanup?: () => Promise<void>) {
  describe(`database contract: ${name}`, () => {
    let h: DbHandle;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      await h?.close();
      await cleanup?.();
    });

    it('has applied every migration once, and migrating again is a no-op', async () => {
      const rows = await h.db.selectFrom('schema_migrations').select('id').orderBy('id').execute();
      expect(rows.map((r) => r.id)).toEqual(migrations.map((m) => m.id));
      expect(await migrate(h.db)).toEqual([]);
    });

    it('creates users with case-insensitive unique e-mails', async () => {
      const users = usersRepo(h.db);
      const a = await users.create('Alice@Example.com', 'h1');
      expect(a?.email).toBe('Alice@Example.com');
      expect(await users.create('alice@example.COM', 'h2')).toBeNull();
      expect((await users.byEmail('ALICE@example.com'))?.id).toBe(a!.id);
    });

    it('cascades a user delete to strategies and sessions, and sets strategy_id null on strategy delete', async () => {
      const users = usersRepo(h.db);
      const u = (await users.create(`c${Date.now()}@x.io`, 'h'))!;
      const s = await h.db
        .insertInto('strategies')
        .values({ user_id: u.id, name: 's', graph: JSON.stringify({ nodes: [], edges: [] }), graph_hash: 'x' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const f = await h.db
        .insertInto('forward_test_sessions')
        .values({
          user_id: u.id,
          strategy_id: s.id,
          strategy_snapshot: JSON.stringify({}),
          symbol: 'BTCUSD',
          config: JSON.stringify({}),
          status: 'created',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await h.db.deleteFrom('strategies').where('id', '=', s.id).execute();
      const after = await h.db
        .selectFrom('forward_test_sessions')
        .select('strategy_id')
        .where('id', '=', f.id)
        .executeTakeFirst();
      expect(after).toEqual({ strategy_id: null });
      await users.delete(u.id);
      expect(
        await h.db.selectFrom('forward_test_sessions').select('id').where('id', '=', f.id).executeTakeFirst(),
      ).toBeUndefined();
    });

    it('round-trips numeric money exactly and jsonb documents', async () => {
      const r = await sql<{
        n: string;
        j: { a: number[] };
      }>`select ${'123456789.12345678'}::numeric(38,8) as n, ${JSON.stringify({ a: [1, 2] })}::jsonb as j`.execute(
        h.db,
      );
      expect(r.rows[0]).toEqual({ n: '123456789.12345678', j: { a: [1, 2] } });
    });

    it('rejects rows that break constraints', async () => {
      await expect(
        h.db
          .insertInto('symbols')
          .values({ symbol: 'X', provider: 'p', asset_class: 'bond' as never, base: 'X', quote: 'USD', active: true })
          .execute(),
      ).rejects.toThrow();
    });

    it('serialises transactions (rollback leaves nothing behind)', async () => {
      await expect(
        h.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('symbols')
            .values({ symbol: 'TXN', provider: 'p', asset_class: 'fx', base: 'T', quote: 'X', active: true })
            .execute();
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(
        await h.db.selectFrom('symbols').select('symbol').where('symbol', '=', 'TXN').executeTakeFirst(),
      ).toBeUndefined();
    });
  });
}
