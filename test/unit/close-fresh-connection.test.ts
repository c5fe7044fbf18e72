import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';

describe('closing the app with a connection that has sent nothing', () => {
  it('ends that connection and closes at once, and still lets a request in flight finish', async () => {
    const t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    // a browser's speculative pre-connect: a TCP connection, no request (yet)
    const pre = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => pre.once('connect', () => r()));
    const preClosed = new Promise<void>((r) => pre.once('close', () => r()));
    // a request in flight when the close starts: its answer must still arrive
    const slow = fetch(`${base}/health/detailed`);
    await new Promise((r) => setTimeout(r, 50)); // both connections accepted
    const t0 = Date.now();
    await t.close(); // before: waited for the header timeout (60 s and more) on the silent connection
    const took = Date.now() - t0;
    await preClosed;
    expect((await slow).status).toBe(200);
    expect(took).toBeLessThan(5_000);
    await t.rt.close();
  });
});
