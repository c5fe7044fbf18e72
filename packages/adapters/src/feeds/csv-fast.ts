/**
 * Fast path for big numeric OHLCV files: parses the bytes straight into columns (no string per
 * line or cell). Handles `ts,open,high,low,close[,volume]` columns in any order (header required),
 * epoch seconds/ms timestamps, and plain decimals. Anything else (quotes, ISO dates, exponents, a bad
 * row) returns null and the caller uses the general parser, which also reports errors by line.
 *
 * Decimals are exact: digits accumulate into an integer below 2^53 and are divided once by a power of
 * ten (a correctly rounded operation), which gives the same double as Number(text).
 */
import type { BarColumns } from '@algotrade/core';

export type Columns = BarColumns;

const latin1 = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TS = ['ts', 'date', 'time', 'datetime', 'timestamp', 'open_time', 'opentime'];

export function parseCandlesCsvFast(buf: Uint8Array): Columns | null {
  let p = 0;
  const n = buf.length;
  while (p < n && buf[p] !== 10) p++;
  const header = new TextDecoder()
    .decode(buf.subarray(0, p))
    .replace(/\r$/, '')
    .toLowerCase()
    .split(',')
    .map((h) => h.trim());
  const col = (names: string[]) => header.findIndex((h) => names.includes(h));
  const map = [
    col(TS),
    col(['open', 'o']),
    col(['high', 'h']),
    col(['low', 'l']),
    col(['close', 'c']),
    col(['volume', 'vol', 'v']),
  ];
  if (map.slice(0, 5).some((i) => i < 0) || header.length > 32) return null;
  const fieldOf = new Int8Array(header.length).fill(-1);
  map.forEach((c, f) => c >= 0 && (fieldOf[c] = f));
  let rows = 0;
  for (let i = p; i < n; i++) if (buf[i] === 10) rows++;
  rows++;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(rows));
  let r = 0;
  let scale = 0;
  p++;
  while (p < n) {
    // skip blank lines
    if (buf[p] === 10 || buf[p] === 13) {
      p++;
      continue;
    }
    let c = 0;
    let volumeSeen = false;
    for (;;) {
      const start = p;
      let neg = false;
      if (buf[p] === 45) {
        neg = true;
        p++;
      }
      let mant = 0;
      let digits = 0;
      let frac = 0;
      let dot = false;
      let ch = buf[p]!;
      while (p < n) {
        ch = buf[p]!;
        if (ch >= 48 && ch <= 57) {
          mant = mant * 10 + (ch - 48);
          digits++;
          if (dot) frac++;
        } else if (ch === 46 && !dot) dot = true;
        else break;
        p++;
      }
      if (digits === 0) return null;
      // beyond 15 digits the integer trick is not exact: let Number() read this one cell
      const v = digits > 15 || frac > 22 ? Number(latin1(buf, start, p)) : (neg ? -mant : mant) / POW10[frac]!;
      const f = c < fieldOf.length ? fieldOf[c]! : -1;
      if (f >= 0) {
        cols[f]![r] = v;
        if (f === 5) volumeSeen = true;
      }
      c++;
      if (p >= n || ch === 10 || ch === 13) break;
      if (ch !== 44) return null; // anything but a comma after a number: not for the fast path
      p++;
    }
    if (c !== header.length) return null;
    if (!volumeSeen) cols[5]![r] = 0;
    if (scale === 0) {
      const t = cols[0]![r]!;
      scale = t < 1e11 ? 1000 : t < 1e14 ? 1 : 0.001;
    }
    cols[0]![r] = Math.round(cols[0]![r]! * scale);
    const o = cols[1]![r]!,
      h = cols[2]![r]!,
      l = cols[3]![r]!,
      cl = cols[4]![r]!;
    if (!(o > 0) || h < (o > cl ? o : cl) || l > (o < cl ? o : cl) || cols[5]![r]! < 0) return null;
    if (r > 0 && cols[0]![r]! <= cols[0]![r - 1]!) return null; // unsorted or duplicate: general path
    r++;
    while (p < n && (buf[p] === 13 || buf[p] === 10)) p++;
  }
  const cut = (a: Float64Array) => a.subarray(0, r);
  return {
    ts: cut(cols[0]!),
    open: cut(cols[1]!),
    high: cut(cols[2]!),
    low: cut(cols[3]!),
    close: cut(cols[4]!),
    volume: cut(cols[5]!),
    length: r,
  };
}

/** Columns from a CSV file's bytes: the fast path when it applies, else the general parser (with its report). */
export async function candlesFromCsvBytes(
  buf: Uint8Array,
): Promise<{ columns: Columns; skipped: number; errors: { line: number; message: string }[] }> {
  const fast = parseCandlesCsvFast(buf);
  if (fast) return { columns: fast, skipped: 0, errors: [] };
  const { parseCandlesCsv } = await import('./csv.ts');
  const r = parseCandlesCsv(new TextDecoder().decode(buf));
  const n = r.candles.length;
  const columns: Columns = {
    ts: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
    length: n,
  };
  r.candles.forEach((c, i) => {
    columns.ts[i] = c.ts;
    columns.open[i] = c.open;
    columns.high[i] = c.high;
    columns.low[i] = c.low;
    columns.close[i] = c.close;
    columns.volume[i] = c.volume;
  });
  return { columns, skipped: r.skipped, errors: r.errors };
}
