import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** An exchange's recorded frames (test/fixtures/feeds/<name>, one JSON message a line, garbage included). */
export const feedFixture = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/feeds/${name}`, import.meta.url), 'utf8')
    .trim()
    .split('\n');

/**
 * A local WebSocket server that replays an exchange's recorded frames to each client that subscribes
 * (a message of type `subscribe`; with `once`, only the first of each connection), and records what
 * clients sent and the URLs they connected to.
 */
export async function replayServer(
  frames: string[],
  onSubscribe?: (msg: unknown, ws: WebSocket, n: number) => void,
  opts: { once?: boolean } = {},
) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const subscribes: unknown[] = [];
  const urls: string[] = [];
  wss.on('connection', (ws, req) => {
    urls.push(req.url ?? '');
    let replayed = false;
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString());
      subscribes.push(msg);
      if (msg.type === 'subscribe' && !(opts.once && replayed)) {
        replayed = true;
        for (const f of frames) ws.send(f);
        onSubscribe?.(msg, ws, subscribes.length);
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return { url: `ws://127.0.0.1:${port}`, wss, subscribes, urls, close: () => new Promise((r) => wss.close(r)) };
}
