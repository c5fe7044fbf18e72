import { openDatabase } from '@algotrade/adapters';
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
