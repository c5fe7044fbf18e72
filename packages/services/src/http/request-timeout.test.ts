import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';

describe('a client that trickles its request is cut off (HTTP_REQUEST_TIMEOUT_MS)', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.stop());

  /** writes `head` and then nothing; resolves with what the server sent and how long until it closed */
  const stall = (head: string) =>
    new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const t0 = Date.now();
      const s = net.connect(port, '127.0.0.1', () => s.write(head));
      let text = '';
      s.on('data', (d) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve({ text, ms: Date.now() - t0 }));
    });

  it('answers 408 and closes when the body stops coming', async () => {
    const r = await stall(
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em',
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(5000);
  });

  it('closes when the headers never end', async () => {
    const r = await stall('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeLessThan(5000);
  });

  it('leaves requests that arrive in time alone', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });
});
