import type { FastifyReply } from 'fastify';

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. Text that a spreadsheet
 * would run as a formula (starting with =, +, -, @, a tab or a carriage return) gets a leading
 * apostrophe, so an exported file never executes what a name or a reason held; numbers stay numbers.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as CSV with a header line: the given columns, or the first row's keys. */
export function toCsv(rows: readonly object[], columns?: readonly string[]): string {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  const lines = [cols.map(csvCell).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvCell((r as Record<string, unknown>)[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Sends rows as a CSV download named `filename` (the given columns, or the first row's keys). */
export function sendCsv(reply: FastifyReply, filename: string, rows: readonly object[], columns?: readonly string[]) {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`)
    .send(toCsv(rows, columns));
}
