import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/env.ts';

const tmp = tempDir();
afterAll(() => tmp.remove());
const port = 19_000 + Math.floor(Math.random() * 500);
const url = `http://127.0.0.1:${port}`;

function start() {
  const proc = spawn(process.execPath, ['bin/algotrade.mjs', 'start'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: tmp.dir,
      LOG_LEVEL: 'warn',
      MARKET_FEED: 'simulator',
      SIM_TICKS_PER_SECOND: '20',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, output: () => out };
}

async function waitHealthy(ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return Date.now() - t0;
    } catch {
      /* not yet */
    }
    if (Date.now() - t0 > ms) throw new Error('no /health answer');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the platform as a process (npm start)', () => {
  it('answers /health within 15 s, drains on SIGTERM with exit 0 within 5 s, and keeps its data across a restart', async () => {
    const first = start();
    expect(await waitHealthy(15_000)).toBeLessThan(15_000);
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
    await waitHealthy(15_000);
    // same user, and the token signed before the restart is still valid (the secret is kept under DATA_DIR)
    const me = await fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('keep@me.io');
    second.proc.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('stops with one sentence naming a bad variable', async () => {
    const proc = spawn(process.execPath, ['bin/algotrade.mjs', 'start'], {
      env: { ...process.env, PORT: 'eighty', DATA_DIR: tmp.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => proc.once('exit', r));
    expect(code).toBe(1);
    expect(err.trim()).toMatch(/^configuration error: PORT is invalid: expected number/);
  }, 30_000);
});
