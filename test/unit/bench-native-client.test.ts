import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeOpenLoopGet, nativeTool, startNativeFloor } from '../../bench/native.ts';

// The native load generator behind the `latest` latency figures (bench/native/open-loop.c): it must
// count every answer, charge a slow answer its full time, and charge requests that waited behind it
// from their place in the schedule.
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe.skipIf(!nativeTool())('native open-loop client', () => {
  it('answers every scheduled request and charges slow answers their time', async () => {
    let n = 0;
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(String(req.headers['x-probe']));
      const slow = ++n % 10 === 0;
      setTimeout(() => res.end(JSON.stringify({ n })), slow ? 30 : 0);
    });
    const lat = await nativeOpenLoopGet(`${url}/x?y=1`, { 'x-probe': 'abc' }, 200, 1, 4);
    expect(lat).toHaveLength(200);
    expect(seen.every((h) => h === 'abc')).toBe(true);
    expect(lat.filter((x) => x >= 25).length).toBeGreaterThanOrEqual(20);
  });

  it('charges requests queued behind a stalled connection from their place in the schedule', async () => {
    let first = true;
    const url = await serve((_req, res) => {
      const hold = first ? 100 : 0;
      first = false;
      setTimeout(() => res.end('ok'), hold);
    });
    // one connection, a request every 5 ms: the 19 scheduled during the first one's 100 ms wait in line
    const lat = await nativeOpenLoopGet(url, {}, 200, 0.5, 1);
    expect(lat).toHaveLength(100);
    // (Node's timers may fire up to a millisecond early against the client's clock: bounds keep 5 ms)
    expect(lat[0]).toBeGreaterThanOrEqual(95);
    expect(lat[1]).toBeGreaterThanOrEqual(85); // scheduled 5 ms after the first, answered after it
  });

  it('opens again a connection the server closed while it was idle (keep-alive timeout)', async () => {
    let answered = 0;
    // the server drops each connection 20 ms after answering on it, as a short keep-alive timeout would
    const url = await serve((req, res) => {
      answered++;
      res.end('ok');
      const socket = req.socket;
      setTimeout(() => socket.destroy(), 20);
    });
    // a request every 100 ms, so every connection is dropped before its next request
    const lat = await nativeOpenLoopGet(url, {}, 10, 1, 4);
    expect(lat).toHaveLength(10);
    expect(answered).toBe(10);
  });

  it('fails loudly on an answer other than 200', async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('no');
    });
    await expect(nativeOpenLoopGet(url, {}, 100, 0.2, 2)).rejects.toThrow(/20 of 20 answers were not 200/);
  });

  it('serves a constant body of the asked length as the native floor', async () => {
    const floor = await startNativeFloor(8_700);
    try {
      const r = await fetch(`${floor.url}/anything`);
      expect(r.status).toBe(200);
      expect((await r.arrayBuffer()).byteLength).toBe(8_700);
      expect(await nativeOpenLoopGet(`${floor.url}/`, {}, 500, 0.2, 2)).toHaveLength(100);
    } finally {
      await floor.stop();
    }
  });
});
