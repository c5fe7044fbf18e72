import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { textFrame } from '@algotrade/services/notification/notification.service';
import { Pool } from 'undici';

/**
 * Floors for the latency targets: the least a Node process on this machine can do for the same job,
 * measured by the same load generator in the same run, so a figure that misses its target can be read
 * against what the machine allows. Each runs in its own process, as the platform's servers do.
 *
 * - `http`: a bare `node:http` server answering the 100-tick constant body (no framework, no hooks).
 * - `forward`: a bare `node:http` server forwarding every request to FLOOR_TARGET with an undici pool.
 * - `fanout`: a bare WebSocket server (handshake by hand) that writes one text frame carrying
 *   `"ts":<now>` to every connected socket every 100 ms, one `write` per socket, as the notification
 *   service does; it answers each client's first message with a `"subscribed"` frame. It times each
 *   round of writes (rounds with FLOOR_MIN_SOCKETS or more sockets): the last socket's frame leaves
 *   that long after the first, before any client has read anything.
 */
export type FloorKind = 'http' | 'forward' | 'fanout';
/** `fanout` only: how long each round of writes took (ms), rounds with at least `minSockets` sockets */
export interface FloorStats {
  writeLoopMs: number[];
}

export async function startFloor(
  kind: FloorKind,
  env: Record<string, string> = {},
): Promise<{ url: string; stop(): Promise<void>; stats(): Promise<FloorStats> }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [kind], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(Number(m)));
    child.once('exit', (code) => reject(new Error(`floor server ${kind} exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () =>
      new Promise<FloorStats>((resolve) => {
        child.once('message', (m) => resolve(m as FloorStats));
        child.send('stats');
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const writeLoopMs: number[] = [];

function serve(kind: FloorKind): http.Server {
  if (kind === 'http') {
    const body = Buffer.from(
      `{"symbol":"BASE","ticks":[${Array.from({ length: 100 }, (_, i) => `{"ts":"2024-01-01T00:00:00.000Z","price":${100 + i},"size":1,"bid":99,"ask":101,"seq":${i}}`).join(',')}]}`,
    );
    return http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  }
  if (kind === 'forward') {
    const target = new URL(process.env.FLOOR_TARGET!);
    const pool = new Pool(target.origin, { connections: 32, pipelining: 1 });
    return http.createServer((req, res) => {
      pool
        .request({ method: 'GET', path: req.url!, headers: { authorization: req.headers.authorization ?? '' } })
        .then(async (r) => {
          const body = Buffer.from(await r.body.arrayBuffer());
          res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': body.length });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  }
  const sockets = new Set<Socket>();
  const minSockets = Number(process.env.FLOOR_MIN_SOCKETS ?? 1);
  process.on('message', (m) => {
    if (m === 'stats') process.send!({ writeLoopMs } satisfies FloorStats);
  });
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket: Socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.setNoDelay(true);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.once('data', () => {
      socket.write(textFrame(Buffer.from('{"type":"subscribed","channel":"prices:BENCHUSD"}')));
      sockets.add(socket);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  setInterval(() => {
    const f = textFrame(
      Buffer.from(`{"channel":"prices:BENCHUSD","type":"price","data":{"price":100,"ts":${Date.now()}}}`),
    );
    const t0 = performance.now();
    for (const s of sockets) s.write(f);
    if (sockets.size >= minSockets) writeLoopMs.push(performance.now() - t0);
  }, 100);
  return server;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const server = serve(process.argv[2] as FloorKind);
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
  process.on('SIGTERM', () => process.exit(0));
}
