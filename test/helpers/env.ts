import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Real service addresses for `npm run test:services` (started by `npm run services -- up`). */
export const SERVICES = {
  postgres: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  kafka: process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092',
  s3: process.env.TEST_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
};

export const uniqueName = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

export function tempDir(prefix = 'algotrade-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
