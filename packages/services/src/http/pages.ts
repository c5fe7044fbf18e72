import { CURSOR_PATTERN, parseCursor, type Cursor } from '@algotrade/adapters';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * A list's page as a query asks for it: `limit` rows (1..max, `fallback` when absent) older than the
 * cursor `before` (what the previous page's `Link: <…>; rel="next"` carried). The list itself stays a
 * JSON array; the next page is named only in that header, absent on the last page.
 */
export const PageQuery = (fallback: number, max: number) => ({
  limit: z.coerce.number().int().min(1).max(max).default(fallback),
  before: z
    .string()
    .regex(CURSOR_PATTERN, "a page's cursor, as the Link header of the page before gave it")
    .transform((s) => parseCursor(s) as Cursor)
    .optional(),
});

/** the next page's address in a `Link` header (RFC 8288), as GitHub's lists give theirs */
export function linkNext(req: FastifyRequest, reply: FastifyReply, next: string | null): void {
  if (next === null) return;
  const u = new URL(req.url, 'http://x');
  u.searchParams.set('before', next);
  reply.header('link', `<${u.pathname}${u.search}>; rel="next"`);
}
