import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@algotrade/core';

/** The browser app's files (web/ at the repository root: plain ES modules, no build step). */
export const WEB_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// The page loads only its own files and talks only to its own origin (HTTP and WebSocket); the views
// set element styles, and a backtest report is shown in a sandboxed srcdoc frame with inline styles.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

interface WebFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every servable file of `dir`, read once: the set is fixed, so no request can name another path. */
export function loadWebFiles(dir = WEB_DIR): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  // an install without web/ (an image built without it) still runs the API; the page then says so
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    files.set(name, { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` });
  }
  return files;
}

/**
 * The browser app at `/app/` (and `/` redirects there). Files are answered from memory with an ETag
 * (`no-cache`: the browser revalidates, so a new release is picked up at once) and a CSP of their own.
 * Not rate-limited: opening the page is a handful of requests, none of which reaches a service.
 */
export const webRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, opts) => {
  const files = loadWebFiles(opts.dir);
  const common = { schema: { hide: true }, config: { rateLimit: false } } as const;
  app.get('/', common, async (_req, reply) => reply.redirect('/app/'));
  app.get('/app', common, async (_req, reply) => reply.redirect('/app/'));
  const serve = (name: string, req: FastifyRequest, reply: FastifyReply) => {
    const f = files.get(name);
    if (!f)
      throw new AppError(
        'NOT_FOUND',
        files.size
          ? `no file ${JSON.stringify(name)} in the web app`
          : 'the browser app is not installed here (its web/ folder is missing); the API is at /api and its docs at /docs',
      );
    reply.header('etag', f.etag).header('cache-control', 'no-cache');
    if (f.type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    if (req.headers['if-none-match'] === f.etag) return reply.status(304).send();
    return reply.type(f.type).send(f.body);
  };
  // `/app` (no slash) redirects: the page's relative module paths resolve under `/app/` only
  app.get('/app/', common, async (req, reply) => serve('index.html', req, reply));
  app.get<{ Params: { file: string } }>('/app/:file', common, async (req, reply) => serve(req.params.file, req, reply));
};
