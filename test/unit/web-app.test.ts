import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WEB_DIR } from '@algotrade/services/gateway/web.routes';
import { ApiError, createApi, memorySession } from '../../web/api.js';
import { createLive } from '../../web/live.js';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;
let base: string;

beforeAll(async () => {
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const a = t.app.server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(async () => t.stop());

/** Every relative module a file imports (static `import … from './x.js'`). */
function imports(file: string): string[] {
  const src = readFileSync(path.join(WEB_DIR, file), 'utf8');
  return [...src.matchAll(/^import[^'"]*['"]\.\/([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('the browser app is served by the gateway', () => {
  it('redirects / to /app/ and serves the page with its own content security policy', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/app/');
    const page = await fetch(`${base}/app/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
  });

  it('serves every module the page loads, each with a JavaScript type, and revalidates by ETag', async () => {
    const seen = new Set<string>();
    const queue = ['app.js'];
    while (queue.length) {
      const f = queue.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const r = await fetch(`${base}/app/${f}`);
      expect(r.status, f).toBe(200);
      expect(r.headers.get('content-type'), f).toBe('text/javascript; charset=utf-8');
      queue.push(...imports(f));
    }
    // every module in web/ is loaded by the page (none left over), and served
    const modules = readdirSync(WEB_DIR).filter((f) => f.endsWith('.js'));
    expect([...seen].sort()).toEqual(modules.sort());
    expect(modules.length).toBeGreaterThanOrEqual(9);
    const css = await fetch(`${base}/app/app.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const etag = css.headers.get('etag')!;
    expect((await fetch(`${base}/app/app.css`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('answers a file it does not have, or a path out of its folder, with a 404 and the error body', async () => {
    for (const p of ['/app/nope.js', '/app/..%2Fpackage.json', '/app/%2e%2e%2fREADME.md']) {
      const r = await fetch(`${base}${p}`);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as { error: { code: string } }).error.code, p).toBe('NOT_FOUND');
    }
  });
});

describe("the page's API client (web/api.js) against the real server", () => {
  it('signs up, reads its own rows, shows API errors as they are, and refreshes an expired token once', async () => {
    const session = memorySession();
    let signedOut = 0;
    const api = createApi({ base, session, onSignedOut: () => signedOut++ });
    await api.register(`web${Date.now()}@test.io`, 'password123');
    expect(api.signedIn()).toBe(true);
    const s = await api.post('/api/strategies/templates/sma-crossover');
    expect((await api.get('/api/strategies')).map((x: { id: string }) => x.id)).toEqual([s.id]);

    const err = await api.post('/api/backtests', { symbol: 'GOOG', startingBalance: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).code).toBe('VALIDATION_FAILED');
    expect((err as ApiError).message).toMatch(/startingBalance/);

    // an access token the server no longer takes: the client refreshes, then retries the call
    const before = session.get()!;
    session.set({ ...before, accessToken: 'expired' });
    const again = await Promise.all([api.get(`/api/strategies/${s.id}`), api.get('/api/auth/me')]);
    expect(again[0].id).toBe(s.id);
    const after = session.get()!;
    expect(after.accessToken).not.toBe('expired');
    expect(after.refreshToken).not.toBe(before.refreshToken); // rotated, and only once for both calls

    // a refresh token that was rotated away is refused: signed out, and the call's 401 is thrown
    session.set({ ...after, accessToken: 'expired', refreshToken: before.refreshToken });
    const out = await api.get('/api/strategies').catch((e: unknown) => e);
    expect((out as ApiError).status).toBe(401);
    expect(signedOut).toBe(1);
    expect(api.signedIn()).toBe(false);
  });

  it("another user's strategy is a 404 through the client, as on the API", async () => {
    const a = createApi({ base, session: memorySession() });
    const b = createApi({ base, session: memorySession() });
    await a.register(`wa${Date.now()}@test.io`, 'password123');
    await b.register(`wb${Date.now()}@test.io`, 'password123');
    const s = await a.post('/api/strategies/templates/sma-crossover');
    const e = (await b.get(`/api/strategies/${s.id}`).catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.code]).toEqual([404, 'NOT_FOUND']);
  });
});

describe("the page's live socket (web/live.js) against the real /ws", () => {
  it('subscribes, delivers events by channel, and re-subscribes after the connection drops', async () => {
    const api = createApi({ base, session: memorySession() });
    await api.register(`live${Date.now()}@test.io`, 'password123');
    const sockets: WebSocket[] = [];
    const states: string[] = [];
    const live = createLive({
      url: () => api.socketUrl(base),
      WebSocket: class extends WebSocket {
        constructor(url: string) {
          super(url);
          sockets.push(this);
        }
      },
      onState: (s) => states.push(s),
      backoffMs: () => 50,
    });
    const prices: number[] = [];
    const off = live.on('prices:BTCUSD', (e) => prices.push(e.data.price));
    live.start();
    const publish = async (price: number) => {
      await t.rt.bus.publish('market-data-updates', 'BTCUSD', 'ticks', {
        symbol: 'BTCUSD',
        ticks: [{ ts: Date.now(), price, size: 1 }],
      });
    };
    const waitFor = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !cond(); i++) {
        if (what.startsWith('price')) await publish(100 + i);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(cond(), what).toBe(true);
    };
    await waitFor(() => prices.length > 0, 'price before the drop');
    expect(live.channels()).toEqual(['prices:BTCUSD']);

    sockets[0]!.terminate(); // the connection is lost
    prices.length = 0;
    await waitFor(() => sockets.length === 2 && sockets[1]!.readyState === WebSocket.OPEN, 'a second connection');
    await waitFor(() => prices.length > 0, 'price after the reconnect');
    expect(states.filter((s) => s === 'open')).toHaveLength(2);

    off();
    expect(live.channels()).toEqual([]);
    live.stop();
  });
});

describe('a gateway without the web/ folder', () => {
  it('still starts and serves the API, and says why the page is not there', async () => {
    const { default: Fastify } = await import('fastify');
    const { webRoutes } = await import('@algotrade/services/gateway/web.routes');
    const app = Fastify();
    app.setErrorHandler((e: Error & { code?: string }, _req, reply) =>
      reply.status(e.code === 'NOT_FOUND' ? 404 : 500).send({ error: { code: e.code, message: e.message } }),
    );
    await app.register(webRoutes, { dir: path.join(WEB_DIR, 'no-such-folder') });
    const r = await app.inject({ url: '/app/' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.message).toMatch(/the browser app is not installed here .*docs at \/docs/);
    await app.close();
  });
});
