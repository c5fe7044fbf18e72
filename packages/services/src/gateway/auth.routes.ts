import { randomBytes, randomUUID } from 'node:crypto';
import { AppError, notFound } from '@algotrade/core';
import { isUuid } from '@algotrade/adapters';
import { refreshTokensRepo, usersRepo } from '@algotrade/adapters';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  API_TOKEN_PREFIX,
  hashPassword,
  hashToken,
  newRefreshToken,
  signAccess,
  userOf,
  verifyPassword,
  type TokenMemo,
} from '../http/auth.ts';
import type { ServiceContext } from '../context.ts';

const Credentials = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(8, 'password must have at least 8 characters').max(256),
});

export const authRoutes: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const users = usersRepo(ctx.rt.db.db);
  const tokens = refreshTokensRepo(ctx.rt.db.db);
  const { accessTtlSeconds, refreshTtlDays } = ctx.rt.config.auth;

  async function issuePair(user: { id: string; email: string }, familyId: string = randomUUID()) {
    const refreshToken = newRefreshToken();
    const id = await tokens.insert({
      userId: user.id,
      familyId,
      tokenHash: hashToken(refreshToken),
      expiresAt: new Date(Date.now() + refreshTtlDays * 86_400_000),
    });
    return { id, pair: { accessToken: signAccess(app, user), refreshToken, expiresIn: accessTtlSeconds } };
  }

  app.post('/register', { schema: { tags: ['auth'], body: Credentials } }, async (req, reply) => {
    const { email, password } = req.body;
    const user = await users.create(email, await hashPassword(password));
    if (!user) throw new AppError('CONFLICT', 'an account with this e-mail already exists');
    const { pair } = await issuePair(user);
    return reply.status(201).send({ user: { id: user.id, email: user.email }, ...pair });
  });

  app.post('/login', { schema: { tags: ['auth'], body: Credentials } }, async (req) => {
    const user = await users.byEmail(req.body.email);
    // verify against a dummy hash when the user is unknown so timing does not reveal accounts
    const ok = await verifyPassword(req.body.password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) throw new AppError('UNAUTHORIZED', 'e-mail or password is wrong');
    return (await issuePair(user)).pair;
  });

  app.post(
    '/refresh',
    { schema: { tags: ['auth'], body: z.strictObject({ refreshToken: z.string().min(10).max(200) }) } },
    async (req) => {
      const row = await tokens.byHash(hashToken(req.body.refreshToken));
      if (!row || row.expires_at < new Date())
        throw new AppError('UNAUTHORIZED', 'refresh token is invalid or expired');
      if (row.revoked_at) {
        // reuse of a rotated token: someone else may hold the family, revoke all of it
        await tokens.revokeFamily(row.family_id);
        throw new AppError('UNAUTHORIZED', 'refresh token was already used; please log in again');
      }
      const user = await users.byId(row.user_id);
      if (!user) throw new AppError('UNAUTHORIZED', 'refresh token is invalid or expired');
      const next = await issuePair(user, row.family_id);
      if (!(await tokens.consume(row.id, next.id))) {
        await tokens.revokeFamily(row.family_id);
        throw new AppError('UNAUTHORIZED', 'refresh token was already used; please log in again');
      }
      return next.pair;
    },
  );

  app.post(
    '/logout',
    { schema: { tags: ['auth'], body: z.strictObject({ refreshToken: z.string().min(10).max(200) }) } },
    async (req, reply) => {
      const row = await tokens.byHash(hashToken(req.body.refreshToken));
      if (row) await tokens.revokeFamily(row.family_id);
      return reply.status(204).send();
    },
  );

  app.get('/me', { schema: { tags: ['auth'] }, preHandler: app.requireUser }, async (req) => {
    const user = await users.byId(userOf(req).id);
    if (!user) throw new AppError('UNAUTHORIZED', 'the account no longer exists');
    return { id: user.id, email: user.email, createdAt: user.createdAt.toISOString() };
  });
};

const CreateToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  /** read: GET requests only (dashboards, exports); write: everything the account may do */
  scope: z.enum(['read', 'write']).default('write'),
  /** days until it stops working; left out: until revoked */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
const MAX_TOKENS = 50;

/**
 * API tokens: long-lived bearer tokens for scripts and bots (`Authorization: Bearer atk_...`, or
 * `?token=` on the WebSocket), each named, full or read-only, optionally expiring, revocable. Only a
 * hash is stored; the token is shown once. Made and revoked with a signed-in session or a full token.
 */
export const apiTokenRoutes: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const db = ctx.rt.db.db;
  const memo = ctx.shared.tokenMemo as TokenMemo | undefined;
  const view = (r: {
    id: string;
    name: string;
    prefix: string;
    read_only: boolean;
    expires_at: Date | string | null;
    last_used_at: Date | string | null;
    created_at: Date | string;
  }) => ({
    id: r.id,
    name: r.name,
    scope: r.read_only ? 'read' : 'write',
    /** the token's first characters, to tell tokens apart */
    prefix: r.prefix,
    expiresAt: r.expires_at ? new Date(r.expires_at).toISOString() : null,
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at).toISOString() : null,
    createdAt: new Date(r.created_at).toISOString(),
  });
  app.addHook('preHandler', app.requireUser);

  app.post('/', { schema: { tags: ['auth'], body: CreateToken } }, async (req, reply) => {
    const user = userOf(req);
    const live = await db
      .selectFrom('api_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(live.n) >= MAX_TOKENS)
      throw new AppError('CONFLICT', `at most ${MAX_TOKENS} API tokens per user; revoke one first`);
    const token = `${API_TOKEN_PREFIX}${randomBytes(30).toString('base64url')}`;
    const row = await db
      .insertInto('api_tokens')
      .values({
        user_id: user.id,
        name: req.body.name,
        token_hash: hashToken(token),
        prefix: token.slice(0, API_TOKEN_PREFIX.length + 6),
        read_only: req.body.scope === 'read',
        expires_at: req.body.expiresInDays ? new Date(Date.now() + req.body.expiresInDays * 86_400_000) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    // the token itself, this once: only its hash is kept
    return reply.status(201).send({ ...view(row), token });
  });

  app.get('/', { schema: { tags: ['auth'] } }, async (req) => {
    const rows = await db
      .selectFrom('api_tokens')
      .selectAll()
      .where('user_id', '=', userOf(req).id)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(view);
  });

  app.delete(
    '/:id',
    { schema: { tags: ['auth'], params: z.object({ id: z.string().max(64) }) } },
    async (req, reply) => {
      const id = req.params.id;
      const done = isUuid(id)
        ? await db
            .updateTable('api_tokens')
            .set({ revoked_at: new Date() })
            .where('id', '=', id)
            .where('user_id', '=', userOf(req).id)
            .where('revoked_at', 'is', null)
            .returning('id')
            .executeTakeFirst()
        : undefined;
      if (!done) throw notFound('API token');
      memo?.forgetApiToken(id); // refused here from now on; elsewhere within API_TOKEN_RECHECK_MS
      return reply.status(204).send();
    },
  );
};

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
