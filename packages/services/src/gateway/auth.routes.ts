import { randomUUID } from 'node:crypto';
import { AppError } from '@algotrade/core';
import { refreshTokensRepo, usersRepo } from '@algotrade/adapters';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hashPassword, hashToken, newRefreshToken, signAccess, userOf, verifyPassword } from '../http/auth.ts';
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

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
