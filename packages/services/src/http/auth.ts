import { createHash, createHmac, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '@algotrade/core';
import { ConfigError, type Config } from '@algotrade/adapters';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;

/** scrypt (memory-hard: N=2^15, r=8 uses 32 MiB) with a random 16-byte salt per user. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, key] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(expected, got);
}

export const newRefreshToken = (): string => randomBytes(32).toString('base64url');
export const hashToken = (t: string): string => createHash('sha256').update(t).digest('hex');

/**
 * The JWT signing secret: from JWT_SECRET, or in the embedded default generated once and kept under
 * DATA_DIR so tokens survive a restart. Outside the embedded default a missing secret stops start-up.
 */
export function resolveJwtSecret(cfg: Config): string {
  if (cfg.auth.secret) return cfg.auth.secret;
  if (!cfg.embedded)
    throw new ConfigError('JWT_SECRET is required when real services are configured: expected at least 32 characters.');
  const file = path.join(cfg.dataDir, 'secrets', 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}

/**
 * The gateway's key (an HMAC of the JWT secret, which gateway and services share): the gateway sends it
 * as `x-algotrade-gateway` on what it forwards, and a service seeing it knows the request already passed
 * the edge (rate limits counted there, security and CORS headers added there). Without the secret it
 * cannot be forged.
 */
export const GATEWAY_HEADER = 'x-algotrade-gateway';
export const gatewayKey = (secret: string): string =>
  createHmac('sha256', secret).update('algotrade-gateway-v1').digest('base64url');

export interface AuthUser {
  id: string;
  email: string;
  /** set when the caller used an API token: its id, and whether it may only read */
  tokenId?: string;
  readOnly?: boolean;
}

/** An API token as the auth hook needs it (looked up by the SHA-256 of its text). */
export interface ApiTokenGrant {
  id: string;
  userId: string;
  email: string;
  readOnly: boolean;
  expiresAt: Date | null;
}
/** API tokens start with this, so the hook knows one from a JWT without trying to parse it */
export const API_TOKEN_PREFIX = 'atk_';
/** how long an instance trusts an API token it has checked before checking it again (a revocation elsewhere) */
export const API_TOKEN_RECHECK_MS = 60_000;

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; email: string; jti?: string };
    user: AuthUser;
  }
}
declare module 'fastify' {
  interface FastifyRequest {
    authUser?: AuthUser;
  }
  interface FastifyInstance {
    requireUser: (req: FastifyRequest) => Promise<void>;
  }
}

/**
 * Tokens already verified, by their exact text, until they expire, so hot routes do not re-check the
 * signature (a map lookup; fast-jwt's own cache hashed the token on every request, ~40 µs here). The
 * fast lane reads it too.
 */
export class TokenMemo {
  private verified = new Map<string, { user: AuthUser; expMs: number }>();

  user(token: string): AuthUser | undefined {
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    if (hit.expMs > Date.now()) return hit.user;
    this.verified.delete(token);
    return undefined;
  }

  remember(token: string, user: AuthUser, expMs: number): void {
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, { user, expMs });
  }

  /** Drops what is remembered for an API token (revoked here: no request in this process gets through with it). */
  forgetApiToken(tokenId: string): void {
    for (const [k, v] of this.verified) if (v.user.tokenId === tokenId) this.verified.delete(k);
  }
}

/** the token of an `Authorization: Bearer <token>` header (undefined for anything else) */
export const bearerToken = (header: string): string | undefined => /^Bearer\s+(.+)$/i.exec(header)?.[1];

/** whether `value` is the gateway's key (compared in constant time) */
export function isGatewayKey(value: unknown, key: Buffer): boolean {
  return typeof value === 'string' && value.length === key.length && timingSafeEqual(Buffer.from(value), key);
}

/** Resolves the caller from the bearer token (header, or `?token=` for WebSocket upgrades) for every request. */
export const authPlugin = fp(
  async (
    app: FastifyInstance,
    opts: {
      secret: string;
      accessTtlSeconds: number;
      memo: TokenMemo;
      /** finds an API token by the SHA-256 of its text (unrevoked); API tokens are refused without it */
      apiToken?: (hash: string) => Promise<ApiTokenGrant | undefined>;
      /** told when a token was used (at most once a minute per token per process) */
      tokenUsed?: (id: string) => void;
    },
  ) => {
    await app.register(fastifyJwt, {
      secret: opts.secret,
      sign: { expiresIn: opts.accessTtlSeconds },
      formatUser: (p) => ({ id: p.sub, email: p.email }),
    });
    const { memo } = opts;
    app.addHook('onRequest', async (req) => {
      const header = req.headers.authorization;
      const q = (req.query as Record<string, unknown> | undefined)?.token;
      if (!header && typeof q !== 'string') return;
      try {
        const token = header ? bearerToken(header) : (q as string);
        if (!token) return;
        const known = memo.user(token);
        if (known) {
          req.authUser = known;
          return;
        }
        if (token.startsWith(API_TOKEN_PREFIX)) {
          const grant = await opts.apiToken?.(hashToken(token));
          if (!grant || (grant.expiresAt && grant.expiresAt.getTime() <= Date.now())) return;
          req.authUser = { id: grant.userId, email: grant.email, tokenId: grant.id, readOnly: grant.readOnly };
          // trusted for a minute (or until it expires), then looked up again: a revocation made through
          // another instance takes effect within that minute; through this one, at once
          const until = Math.min(grant.expiresAt?.getTime() ?? Infinity, Date.now() + API_TOKEN_RECHECK_MS);
          memo.remember(token, req.authUser, until);
          opts.tokenUsed?.(grant.id);
          return;
        }
        const payload = app.jwt.verify<{ sub: string; email: string; exp?: number }>(token);
        req.authUser = { id: payload.sub, email: payload.email };
        if (payload.exp !== undefined) memo.remember(token, req.authUser, payload.exp * 1000);
      } catch {
        // an invalid token is the same as none; protected routes answer 401
      }
    });
    app.decorate('requireUser', async (req: FastifyRequest) => {
      if (!req.authUser) throw new AppError('UNAUTHORIZED', 'a valid bearer token is required');
      if (req.authUser.readOnly && req.method !== 'GET' && req.method !== 'HEAD')
        throw new AppError('FORBIDDEN', 'this API token is read-only: it may only GET');
    });
  },
);

export const signAccess = (app: FastifyInstance, u: AuthUser): string =>
  app.jwt.sign({ sub: u.id, email: u.email, jti: randomUUID() });

/** The caller; only valid behind `requireUser`. */
export function userOf(req: FastifyRequest): AuthUser {
  if (!req.authUser) throw new AppError('UNAUTHORIZED', 'a valid bearer token is required');
  return req.authUser;
}
