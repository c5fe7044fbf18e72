import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../bin/node-flags.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Starts `algotrade start|serve` in its own process (so the load generator does not share its CPU). */
export async function startServer(
  env: Record<string, string>,
  args = ['start'],
): Promise<{ url: string; stop(): Promise<void>; proc: ChildProcess }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'algotrade-bench-'));
  const port = String(18_000 + Math.floor(Math.random() * 2000));
  // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...prof, ...NODE_FLAGS, path.join(root, 'bin/algotrade.mjs'), ...args], {
    env: {
      ...process.env,
      PORT: port,
      DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_ANON_PER_MINUTE: '1000000',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  let exited = false;
  proc.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error('server exited during start-up');
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() - t0 > 60_000) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function registerUser(url: string): Promise<string> {
  const r = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench${Date.now()}${Math.random()}@x.io`, password: 'password123' }),
  });
  return `Bearer ${((await r.json()) as { accessToken: string }).accessToken}`;
}
