import { openDatabase } from './connect.ts';
import { dbContract } from '../../../../test/contracts/db.contract.ts';
import { tempDir } from '../../../../test/helpers/env.ts';

const tmp = tempDir();
dbContract(
  'pglite',
  () => openDatabase({ backend: 'pglite', dir: tmp.dir }),
  async () => tmp.remove(),
);
