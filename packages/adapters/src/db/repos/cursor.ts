import { type RawBuilder, sql } from 'kysely';
import { isUuid } from './strategies.repo.ts';

/**
 * A page's place in a list ordered newest first (by creation time, then id): the last row's creation
 * time in microseconds since 1970, as the database keeps it (a JavaScript Date holds milliseconds, so
 * rows made within one millisecond would be skipped or repeated), and its id. Written `<micros>.<id>`;
 * the next page is the rows strictly before it, so a row deleted meanwhile moves nothing.
 */
export interface Cursor {
  micros: string;
  id: string;
}

export const CURSOR_PATTERN = /^(\d{1,17})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export function parseCursor(text: string): Cursor | null {
  const m = CURSOR_PATTERN.exec(text);
  return m ? { micros: m[1]!, id: m[2]!.toLowerCase() } : null;
}

export const cursorText = (c: Cursor): string => `${c.micros}.${c.id}`;

/** a table's creation time as the cursor counts it (exact: `extract` answers a numeric) */
export const microsOf = (column: string): RawBuilder<string> =>
  sql<string>`(extract(epoch from ${sql.ref(column)}) * 1000000)::bigint::text`;

/** rows strictly older than the cursor: (created, id) < (its time, its id) */
export const olderThan = (created: string, id: string, c: Cursor): RawBuilder<boolean> =>
  sql<boolean>`(${sql.ref(created)}, ${sql.ref(id)}) < (timestamptz 'epoch' + ${c.micros}::bigint * interval '1 microsecond', ${c.id}::uuid)`;

/**
 * One page of `limit` out of `rows` read with limit + 1 (so the extra row says whether there is more),
 * and the cursor of the page after, or null on the last page.
 */
export function pageOf<T extends { id: string }>(
  rows: (T & { cursor_us: string })[],
  limit: number,
): { rows: (T & { cursor_us: string })[]; next: string | null } {
  if (rows.length <= limit) return { rows, next: null };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1]!;
  return { rows: page, next: cursorText({ micros: last.cursor_us, id: last.id }) };
}

/** rows of a strategy (none for what cannot be a strategy's id) */
export const ofStrategy = (column: string, strategyId: string): RawBuilder<boolean> =>
  isUuid(strategyId) ? sql<boolean>`${sql.ref(column)} = ${strategyId}` : sql<boolean>`false`;

/** the few methods of a select that newestPage uses */
interface Pageable<Q> {
  where(e: RawBuilder<boolean>): Q;
  orderBy(e: RawBuilder<unknown>, direction: 'desc'): Q;
  limit(n: number): Q;
  execute(): Promise<unknown[]>;
}

/**
 * A page of `q`'s rows newest first by (`created`, `id`), older than `before`, each with its
 * `cursor_us` selected (microsOf), and the cursor of the page after (see pageOf).
 */
export async function newestPage<Q extends Pageable<Q>, R extends { id: string; cursor_us: string }>(
  q: Q,
  created: string,
  id: string,
  limit: number,
  before?: Cursor,
): Promise<{ rows: R[]; next: string | null }> {
  if (before) q = q.where(olderThan(created, id, before));
  const rows = await q
    .orderBy(sql.ref(created), 'desc')
    .orderBy(sql.ref(id), 'desc')
    .limit(limit + 1)
    .execute();
  return pageOf(rows as R[], limit);
}
