import { TOPICS } from '@algotrade/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';

describe('API tokens', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<TestApp['user']>>;
  let b: Awaited<ReturnType<TestApp['user']>>;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const make = async (body: object, as = a) => {
    const r = await t.app.inject({ method: 'POST', url: '/api/auth/tokens', headers: as.auth, payload: body });
    expect(r.statusCode, r.body).toBe(201);
    return r.json();
  };
  beforeAll(async () => {
    t = await startTestApp();
    a = await t.user();
    b = await t.user();
  });
  afterAll(() => t.stop());

  it('act as their owner, shown once and stored only as a hash', async () => {
    const tok = await make({ name: 'my bot' });
    expect(tok).toMatchObject({ name: 'my bot', scope: 'write', expiresAt: null, lastUsedAt: null });
    expect(tok.token).toMatch(/^atk_[\w-]{40}$/);
    expect(tok.prefix).toBe(tok.token.slice(0, 10));
    const list = (await t.app.inject({ url: '/api/auth/tokens', headers: a.auth })).json();
    expect(list.map((x: { id: string }) => x.id)).toEqual([tok.id]);
    expect(JSON.stringify(list)).not.toContain(tok.token);
    const stored = await t.rt.db.db.selectFrom('api_tokens').selectAll().where('id', '=', tok.id).executeTakeFirst();
    expect(JSON.stringify(stored)).not.toContain(tok.token);

    const me = (await t.app.inject({ url: '/api/auth/me', headers: bearer(tok.token) })).json();
    expect(me.id).toBe(a.id);
    // it writes too: a strategy made with it is the owner's
    const s = await t.app.inject({
      method: 'POST',
      url: '/api/strategies/templates/sma-crossover',
      headers: bearer(tok.token),
    });
    expect(s.statusCode).toBe(201);
    expect((await t.app.inject({ url: `/api/strategies/${s.json().id}`, headers: a.auth })).statusCode).toBe(200);
    // and the fast lane's reads take it (the first read checks it, the next come from the memo)
    await t.rt.bus.publish(TOPICS.marketDataUpdates.name, 'TOKUSD', 'ticks', {
      symbol: 'TOKUSD',
      ticks: [{ ts: Date.now(), price: 5, size: 1 }],
    });
    for (let i = 0; i < 2; i++) {
      const r = await t.app.inject({ url: '/api/market/symbols/TOKUSD/latest?limit=5', headers: bearer(tok.token) });
      expect(r.statusCode).toBe(200);
    }
    // its last use shows in the list
    await vi.waitFor(async () => {
      const row = (await t.app.inject({ url: '/api/auth/tokens', headers: a.auth })).json()[0];
      expect(row.lastUsedAt).not.toBeNull();
    });
  });

  it('read-only tokens may only read', async () => {
    const tok = await make({ name: 'dashboard', scope: 'read' });
    expect(tok.scope).toBe('read');
    expect((await t.app.inject({ url: '/api/strategies', headers: bearer(tok.token) })).statusCode).toBe(200);
    const w = await t.app.inject({
      method: 'POST',
      url: '/api/strategies/templates/sma-crossover',
      headers: bearer(tok.token),
    });
    expect(w.statusCode).toBe(403);
    expect(w.json().error).toEqual({ code: 'FORBIDDEN', message: 'this API token is read-only: it may only GET' });
    // nor make a token that could write
    const mk = await t.app.inject({
      method: 'POST',
      url: '/api/auth/tokens',
      headers: bearer(tok.token),
      payload: { name: 'x' },
    });
    expect(mk.statusCode).toBe(403);
  });

  it('stop working when revoked (at once on this instance) or expired', async () => {
    const tok = await make({ name: 'short-lived', expiresInDays: 30 });
    expect(Date.parse(tok.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const me = () => t.app.inject({ url: '/api/auth/me', headers: bearer(tok.token) });
    expect((await me()).statusCode).toBe(200);
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/auth/tokens/${tok.id}`, headers: b.auth })).statusCode,
    ).toBe(404);
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/auth/tokens/${tok.id}`, headers: a.auth })).statusCode,
    ).toBe(204);
    expect((await me()).statusCode).toBe(401); // remembered a moment ago, forgotten by the revocation
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/auth/tokens/${tok.id}`, headers: a.auth })).statusCode,
    ).toBe(404);

    const old = await make({ name: 'expiring', expiresInDays: 1 });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 86_400_000 + 1000);
      expect((await t.app.inject({ url: '/api/auth/me', headers: bearer(old.token) })).statusCode).toBe(401);
    } finally {
      vi.useRealTimers();
    }
    // a made-up token, one letter off (a letter it does not end with: 1 in 64 ends with "x"), a
    // JWT-looking one: none get in
    const off = `${old.token.slice(0, -1)}${old.token.endsWith('x') ? 'y' : 'x'}`;
    for (const bad of ['atk_nothing', off, 'atk_'])
      expect((await t.app.inject({ url: '/api/auth/me', headers: bearer(bad) })).statusCode).toBe(401);
  });

  it('are checked: a name, a scope, a lifetime; and each user lists only theirs', async () => {
    const post = (payload: object) =>
      t.app.inject({ method: 'POST', url: '/api/auth/tokens', headers: a.auth, payload });
    expect((await post({})).statusCode).toBe(400);
    expect((await post({ name: 'x', scope: 'admin' })).statusCode).toBe(400);
    expect((await post({ name: 'x', expiresInDays: 0 })).statusCode).toBe(400);
    expect((await t.app.inject({ url: '/api/auth/tokens', headers: b.auth })).json()).toEqual([]);
    expect((await t.app.inject({ url: '/api/auth/tokens' })).statusCode).toBe(401);
  });
});
