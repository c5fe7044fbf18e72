import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from '@algotrade/core';

/** Objects as files under a directory; keys may contain `/`. Writes are atomic (tmp + rename). */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs';
  constructor(private readonly dir: string) {}
  private file(key: string): string {
    const p = path.resolve(this.dir, key);
    if (!p.startsWith(path.resolve(this.dir) + path.sep)) throw new Error(`invalid object key ${key}`);
    return p;
  }
  async put(key: string, body: string | Uint8Array): Promise<void> {
    const f = this.file(key);
    await mkdir(path.dirname(f), { recursive: true });
    const tmp = `${f}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, f);
  }
  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.file(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
  async ping(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }
  async close(): Promise<void> {}
}
