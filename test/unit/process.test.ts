import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/env.ts';
import { startPlatform, waitHealthy } from '../helpers/platform.ts';

const tmp = tempDir();
afterAll(() => tmp.remove());
const port = 19_000 + Math.floor(Math.random() * 500);
const url = `http://127.0.0.1:${port}`;

const start = () =>
  startPlatform(port, tmp.dir, {
    MARKET_FEED: 'simulator',
    SIM_TICKS_PER_SECOND: '20',
  });

describe('the platform as a process (npm start)', () => {
  it('answers /health within 15 s, drains on SIGTERM with exit 0 within 5 s, and keeps its data across a restart', async () => {
    const first = start();
    expect(await waitHealthy(url, 15_000)).toBeLessThan(15_000);
    const reg = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@me.io', password: 'password123' }),
    });
    expect(reg.status).toBe(201);
    const { accessToken } = (await reg.json()) as { accessToken: string };
    const t0 = Date.now();
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);

    const second = start();
    await waitHealthy(url, 15_000);
    // same user, and the token signed before the restart is still valid (the secret is kept under DATA_DIR)
    const me = await fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('keep@me.io');
    second.proc.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('stops with one sentence naming a bad variable', async () => {
    const p = startPlatform(port, tmp.dir, { PORT: 'eighty' });
    expect(await p.exited).toBe(1);
    expect(p.output().trim()).toMatch(/^configuration error: PORT is invalid: expected number/);
  }, 30_000);
});
