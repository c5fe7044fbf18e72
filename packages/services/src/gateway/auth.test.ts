import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/helpers/app.ts';
import { hashPassword, verifyPassword } from '../http/auth.ts';

describe('accounts and gateway basics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  it('stops accepting an access token once it expires, even one it has seen before', async () => {
    const u = await t.user();
    const me = () => t.app.inject({ url: '/api/auth/me', headers: u.auth });
    expect((await me()).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(200); // the second time from the verified-token cache
    // times from the token itself (issued in whole seconds), not from when the test began: on a slow
    // machine the sign-up and the first reads take more than the second of margin
    const token = u.auth.authorization.slice('Bearer '.length);
    const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    expect(exp - iat).toBe(900); // 15 minutes by default
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(exp * 1000 - 1_000);
      expect((await me()).statusCode).toBe(200); // a second before it expires: still valid
      vi.setSystemTime(exp * 1000 + 1_000);
      const r = await me();
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toBe('UNAUTHORIZED');
    } finally {
      vi.useRealTimers();
    }
  });

  it('hashes passwords with a per-user salt', async () => {
    const a = await hashPassword('same password');
    const b = await hashPassword('same password');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('other password', a)).toBe(false);
  });

  it('registers, logs in and answers /me for the caller only', async () => {
    const reg = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'Ann@x.io', password: 'password123' },
    });
    expect(reg.statusCode).toBe(201);
    expect(reg.json()).toMatchObject({
      user: { email: 'Ann@x.io' },
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
    });
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'ann@X.io', password: 'password123' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('CONFLICT');
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ann@x.io', password: 'wrong-password' },
    });
    expect(bad.statusCode).toBe(401);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ann@x.io', password: 'password123' },
    });
    expect(login.statusCode).toBe(200);
    expect(login.json().expiresIn).toBe(900);
    const me = await t.app.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${login.json().accessToken}` },
    });
    expect(me.json()).toMatchObject({ id: reg.json().user.id, email: 'Ann@x.io' });
  });

  it('refuses /api without a valid token and validates bodies with useful 400s', async () => {
    expect((await t.app.inject({ url: '/api/auth/me' })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/auth/me', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(
      401,
    );
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'not-an-email', password: 'x' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('email') });
    const extra = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'a@b.io', password: 'password123', admin: true },
    });
    expect(extra.statusCode).toBe(400);
    const junk = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email":',
    });
    expect(junk.statusCode).toBe(400);
    expect(junk.body).not.toContain('at ');
  });

  it('rotates refresh tokens and revokes the family when a used one comes back', async () => {
    const u = await t.user();
    const r1 = await t.app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: u.refreshToken },
    });
    expect(r1.statusCode).toBe(200);
    const next = r1.json().refreshToken;
    expect(next).not.toBe(u.refreshToken);
    const reuse = await t.app.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: u.refreshToken },
    });
    expect(reuse.statusCode).toBe(401);
    // the whole family is revoked now, including the token issued by the legitimate rotation
    const after = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: next } });
    expect(after.statusCode).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const u = await t.user();
    expect(
      (await t.app.inject({ method: 'POST', url: '/api/auth/logout', payload: { refreshToken: u.refreshToken } }))
        .statusCode,
    ).toBe(204);
    expect(
      (await t.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: u.refreshToken } }))
        .statusCode,
    ).toBe(401);
  });

  it('serves health, detailed health, Prometheus metrics, OpenAPI and request ids', async () => {
    expect((await t.app.inject({ url: '/health' })).json()).toMatchObject({ status: 'ok' });
    const d = await t.app.inject({ url: '/health/detailed' });
    expect(d.json().dependencies.database).toMatchObject({ backend: 'pglite', status: 'ok' });
    const m = await t.app.inject({ url: '/metrics' });
    expect(m.body).toContain('http_request_duration_seconds_bucket');
    // the embedded database's checkpoints, as the checkpointer counts them
    expect(m.body).toMatch(/^embedded_db_checkpoints 0$/m);
    await t.rt.db.checkpointer!.checkpoint();
    const after = (await t.app.inject({ url: '/metrics' })).body;
    expect(after).toMatch(/^embedded_db_checkpoints 1$/m);
    const took = Number(/^embedded_db_checkpoint_last_seconds (\S+)$/m.exec(after)?.[1]);
    expect(took).toBeGreaterThan(0);
    expect(took).toBe(t.rt.db.checkpointer!.stats.lastMs / 1000);
    // the forward-test order journal: what it holds now, and the group commits it took
    const records = t.rt.db.orderJournal!.stats.records;
    expect(after).toMatch(new RegExp(`^forward_test_journal_records ${records}$`, 'm'));
    expect(after).toMatch(/^forward_test_journal_pending_rows \d+$/m);
    const docs = await t.app.inject({ url: '/docs/json' });
    expect(docs.json().paths['/api/auth/login']).toBeDefined();
    const withId = await t.app.inject({ url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(withId.headers['x-request-id']).toBe('abc-123');
    const nf = await t.app.inject({ url: '/api/nothing-here' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().error.code).toBe('NOT_FOUND');
  });

  it('rate-limits a runaway client with 429 and Retry-After', async () => {
    const small = await startTestApp({ RATE_LIMIT_ANON_PER_MINUTE: '5' });
    try {
      const codes: number[] = [];
      let retry: string | undefined;
      for (let i = 0; i < 7; i++) {
        const r = await small.app.inject({ url: '/api/auth/me' });
        codes.push(r.statusCode);
        retry ??= r.headers['retry-after'] as string | undefined;
      }
      expect(codes.slice(0, 5).every((c) => c === 401)).toBe(true);
      expect(codes.slice(5)).toEqual([429, 429]);
      expect(Number(retry)).toBeGreaterThan(0);
    } finally {
      await small.stop();
    }
  });
});
