import { openDatabase } from '@algotrade/adapters';
import { migrations } from '@algotrade/adapters/db/migrations';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { dbContract } from '../contracts/db.contract.ts';
import { SERVICES, uniqueName } from '../helpers/env.ts';

const schema = uniqueName('t');
dbContract(
  'postgres',
  () => openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: schema }),
  async () => {
    const c = new pg.Client(SERVICES.postgres);
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`);
    await c.end();
  },
);

describe('migrations on PostgreSQL', () => {
  it('run once when several processes open a fresh database at the same time', async () => {
    for (let round = 0; round < 3; round++) {
      const s = uniqueName('mig');
      // each handle has its own pool, so the six migrations race on the server as separate processes would
      const handles = await Promise.all(
        Array.from({ length: 6 }, () =>
          openDatabase({ backend: 'postgres', url: SERVICES.postgres }, { searchPath: s }),
        ),
      );
      try {
        const ids = (await handles[0]!.db.selectFrom('schema_migrations').select('id').execute()).map((r) => r.id);
        expect(ids.sort((a, b) => a - b)).toEqual(migrations.map((m) => m.id));
      } finally {
        await Promise.all(handles.map((h) => h.close()));
        const c = new pg.Client(SERVICES.postgres);
        await c.connect();
        await c.query(`drop schema if exists "${s}" cascade`);
        await c.end();
      }
    }
  });
});
