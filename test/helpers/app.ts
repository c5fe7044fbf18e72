import { readFileSync } from 'node:fs';
import { createRuntime, loadConfig, SERVICE_NAMES, type Runtime } from '@algotrade/adapters';
import { buildApp, type App } from '@algotrade/services';
import { tempDir } from './env.ts';

export interface TestApp extends App {
  rt: Runtime;
  /** imports the GOOG daily candles of backtesting.py's test data (2,148 rows) as `auth`; the import's answer */
  /** backtesting.py's GOOG daily bars, imported as `symbol` (GOOG by default) */
  importGoog(auth: { authorization: string }, symbol?: string): Promise<{ imported: number }>;
  /** registers a user and returns its bearer header */
  user(email?: string): Promise<{ id: string; auth: { authorization: string }; refreshToken: string }>;
  stop(): Promise<void>;
}

/** An embedded all-in-one app (PGlite in a temp dir, memory bus and windows, no simulator feed). */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const tmp = tempDir();
  const config = loadConfig({ DATA_DIR: tmp.dir, LOG_LEVEL: 'silent', MARKET_FEED: 'none', NODE_ENV: 'test', ...env });
  const rt = await createRuntime(config);
  const built = await buildApp(rt, { services: SERVICE_NAMES });
  let n = 0;
  return {
    ...built,
    rt,
    async importGoog(auth, symbol = 'GOOG') {
      const r = await built.app.inject({
        method: 'POST',
        url: `/api/market/history/import?symbol=${symbol}&interval=1d`,
        headers: { ...auth, 'content-type': 'text/csv' },
        payload: readFileSync(new URL('../fixtures/backtesting-py/GOOG.csv', import.meta.url), 'utf8'),
      });
      if (r.statusCode !== 200) throw new Error(`import failed: ${r.body}`);
      return r.json();
    },
    async user(email = `u${Date.now()}${n++}@test.io`) {
      const r = await built.app.inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { email, password: 'password123' },
      });
      if (r.statusCode !== 201) throw new Error(`register failed: ${r.body}`);
      const b = r.json();
      return { id: b.user.id, auth: { authorization: `Bearer ${b.accessToken}` }, refreshToken: b.refreshToken };
    },
    async stop() {
      await built.close();
      await rt.close();
      tmp.remove();
    },
  };
}
