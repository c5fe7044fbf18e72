import { createRuntime, loadConfig, SERVICE_NAMES, type Runtime } from '@algotrade/adapters';
import { buildApp, type App } from '@algotrade/services';
import { tempDir } from './env.ts';

export interface TestApp extends App {
  rt: Runtime;
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
