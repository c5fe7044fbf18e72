import { spawn, type ChildProcess } from 'node:child_process';

/** `algotrade start` as a user runs it, in a process of its own, with its output collected. */
export interface PlatformProcess {
  proc: ChildProcess;
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
  /** everything written to stdout and stderr so far */
  output(): string;
}

/** Starts the all-in-one platform on `port` with its data under `dataDir`, plus `env`. */
export function startPlatform(port: number, dataDir: string, env: Record<string, string> = {}): PlatformProcess {
  const proc = spawn(process.execPath, ['bin/algotrade.mjs', 'start'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, output: () => out };
}

/** Waits until `url`/health answers 200; returns how long that took (ms), or throws after `ms`. */
export async function waitHealthy(url: string, ms: number): Promise<number> {
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
