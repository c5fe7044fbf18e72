import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHead, type OpenLoopGet } from './raw-http.ts';

/**
 * The native load generator and floor server of bench/native/open-loop.c, built on first use with the
 * machine's C compiler (`CC`, else `cc`) into node_modules/.cache, one binary per version of the
 * source. Where there is no compiler (or not Linux), `nativeTool()` is null and the benches that use
 * it say so and skip those figures.
 */
const source = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'open-loop.c');
let built: string | null | undefined;

export function nativeTool(): string | null {
  if (built !== undefined) return built;
  built = null;
  if (process.platform !== 'linux') return built;
  const code = readFileSync(source);
  const dir = path.join(path.dirname(source), '..', '..', 'node_modules', '.cache', 'algotrade-bench');
  const bin = path.join(dir, `open-loop-${createHash('sha256').update(code).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    // built under a name of its own, then renamed: two processes building at once both end up whole
    const tmp = `${bin}.${process.pid}`;
    const r = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', tmp, source], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`native load generator not built (${r.error?.message ?? r.stderr.trim()}): native figures skipped`);
      return built;
    }
    renameSync(tmp, bin);
  }
  built = bin;
  return built;
}

/**
 * GET `url` `rate` times a second for `seconds` from the native open-loop client (see open-loop.c):
 * each latency (ms) runs from the request's place in the schedule to the last byte of its answer.
 * Throws when an answer is not a 200.
 */
function requireTool(): string {
  const bin = nativeTool();
  if (!bin) throw new Error('no native load generator on this machine');
  return bin;
}

export const nativeOpenLoopGet: OpenLoopGet = async (url, headers, rate, seconds, connections = 16) => {
  const bin = requireTool();
  const u = new URL(url);
  const child = spawn(
    bin,
    ['load', u.hostname, u.port, String(rate), String(seconds), String(connections), getHead(u, headers)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`native load generator exited ${code}: ${err.trim()}`);
  const b = Buffer.concat(out);
  const answers = b.readUInt32LE(0);
  const non200 = b.readUInt32LE(4);
  if (non200) throw new Error(`${non200} of ${answers} answers were not 200`);
  const lat = new Array<number>(answers);
  for (let i = 0; i < answers; i++) lat[i] = b.readDoubleLE(8 + 8 * i);
  return lat;
};

/** The native floor server (see open-loop.c) answering every request with `bodyBytes` of body. */
export async function startNativeFloor(bodyBytes: number): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = requireTool();
  const child = spawn(bin, ['serve', '0', String(bodyBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(/ready (\d+)/.exec(String(d))?.[1])));
    child.once('exit', (c) => reject(new Error(`native floor server exited (${c})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
