import { expect, it } from 'vitest';
import { storeContract } from '../../../../test/contracts/store.contract.ts';
import { tempDir } from '../../../../test/helpers/env.ts';
import { FsObjectStore } from './fs-store.ts';

const tmp = tempDir();
storeContract('filesystem', async () => new FsObjectStore(tmp.dir));

it('refuses keys that escape its directory', async () => {
  const s = new FsObjectStore(tmp.dir);
  await expect(s.put('../../etc/evil', 'x')).rejects.toThrow(/invalid object key/);
});
