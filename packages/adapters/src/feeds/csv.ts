import type { Candle } from '@algotrade/core';

export interface CsvImportResult {
  candles: Candle[];
  skipped: number;
  errors: { line: number; message: string }[];
}

const TS_NAMES = ['ts', 'date', 'time', 'datetime', 'timestamp', 'open_time', 'opentime'];
const FIELDS = ['open', 'high', 'low', 'close', 'volume'] as const;

/** Seconds, milliseconds or microseconds since the epoch, or an ISO-8601 / date string, to ms. */
export function parseTimestamp(raw: string): number {
  const s = raw.trim().replace(/^"|"$/g, '');
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    if (n < 1e11) return Math.round(n * 1000); // seconds (until year 5138)
    if (n < 1e14) return Math.round(n); // milliseconds
    return Math.round(n / 1000); // microseconds
  }
  const iso = /^\d{4}-\d{2}-\d{2}( |T)\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)
    ? `${s.replace(' ', 'T')}Z`
    : /^\d{4}-\d{2}-\d{2}$/.test(s)
      ? `${s}T00:00:00Z`
      : s;
  return Date.parse(iso);
}

/**
 * Tolerant OHLCV CSV parser: finds the header (timestamp column named ts/date/time/datetime/timestamp,
 * then open/high/low/close/volume in any order and case); without a header assumes
 * `ts,open,high,low,close[,volume]`. Bad rows are reported with their line number and skipped.
 */
export function parseCandlesCsv(text: string, maxErrors = 100): CsvImportResult {
  const lines = text.split(/\r?\n/);
  const errors: CsvImportResult['errors'] = [];
  const candles: Candle[] = [];
  let skipped = 0;
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  const sep =
    (lines[first] ?? '').includes(';') && !(lines[first] ?? '').includes(',')
      ? ';'
      : (lines[first] ?? '').includes('\t')
        ? '\t'
        : ',';
  const head = (lines[first] ?? '').split(sep).map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  const hasHeader = head.some((h) => h !== '' && !/^-?[\d.eE+:TZ -]+$/.test(h));
  let idx: Record<string, number>;
  if (hasHeader) {
    let tsCol = head.findIndex((h) => TS_NAMES.includes(h));
    // pandas writes its (time) index as a first column with an empty name
    if (tsCol === -1 && head[0] === '') tsCol = 0;
    idx = { ts: tsCol };
    for (const f of FIELDS) idx[f] = head.findIndex((h) => h === f || h === f[0] || h === `${f}_price`);
    if (idx.volume === -1) idx.volume = head.findIndex((h) => h === 'vol' || h === 'v');
    const missing = ['ts', 'open', 'high', 'low', 'close'].filter((k) => idx[k] === -1);
    if (missing.length) {
      errors.push({
        line: first + 1,
        message: `header lacks ${missing.map((m) => (m === 'ts' ? 'a timestamp column (ts/date/time/datetime/timestamp)' : m)).join(', ')}`,
      });
      return { candles, skipped: lines.length - first - 1, errors };
    }
    first++;
  } else idx = { ts: 0, open: 1, high: 2, low: 3, close: 4, volume: 5 };

  // numeric epoch timestamps are the common case of big files: decide once, from the first data row
  const firstTs = (lines[first] ?? '').split(sep)[idx.ts!]?.trim() ?? '';
  const numericTs = /^\d+(\.\d+)?$/.test(firstTs);
  const scale = numericTs ? (Number(firstTs) < 1e11 ? 1000 : Number(firstTs) < 1e14 ? 1 : 0.001) : 0;
  const cell = (raw: string | undefined): number => {
    if (raw === undefined || raw.length === 0) return NaN;
    // Number() ignores surrounding blanks; quotes are rare, so only then pay for a replace
    return Number(raw.charCodeAt(0) === 34 ? raw.replace(/"/g, '') : raw);
  };
  const iO = idx.open!,
    iH = idx.high!,
    iL = idx.low!,
    iC = idx.close!,
    iV = idx.volume!,
    iT = idx.ts!;
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0 || (line.length < 3 && line.trim() === '')) continue;
    const cells = line.split(sep);
    const fail = (message: string) => {
      skipped++;
      if (errors.length < maxErrors) errors.push({ line: i + 1, message });
    };
    const rawTs = cells[iT];
    let ts = numericTs ? Math.round(Number(rawTs) * scale) : NaN;
    if (!Number.isFinite(ts)) ts = parseTimestamp(rawTs ?? '');
    if (!Number.isFinite(ts)) {
      fail(`unreadable timestamp "${rawTs ?? ''}"`);
      continue;
    }
    const open = cell(cells[iO]);
    const high = cell(cells[iH]);
    const low = cell(cells[iL]);
    const close = cell(cells[iC]);
    const rawV = iV >= 0 ? cells[iV] : undefined;
    const volume = rawV === undefined || rawV.trim() === '' ? 0 : cell(rawV);
    if (!(open === open && high === high && low === low && close === close && volume === volume)) {
      const names = ['open', 'high', 'low', 'close', 'volume'] as const;
      const vals = [open, high, low, close, volume];
      const k = vals.findIndex((v) => v !== v);
      const raw = cells[[iO, iH, iL, iC, iV][k]!];
      fail(raw === undefined || raw.trim() === '' ? `missing ${names[k]}` : `${names[k]} "${raw}" is not a number`);
      continue;
    }
    if (high < (open > close ? open : close) || high < low || low > (open < close ? open : close)) {
      fail('high/low do not contain open and close');
      continue;
    }
    if (open <= 0 || volume < 0) {
      fail('prices must be positive and volume not negative');
      continue;
    }
    candles.push({ ts, open, high, low, close, volume });
  }
  let sorted = true;
  for (let i = 1; i < candles.length && sorted; i++) if (candles[i]!.ts < candles[i - 1]!.ts) sorted = false;
  if (!sorted) candles.sort((a, b) => a.ts - b.ts);
  // the same timestamp twice: keep the last row
  const dedup: Candle[] = [];
  for (const c of candles) {
    if (dedup.length && dedup[dedup.length - 1]!.ts === c.ts) {
      dedup[dedup.length - 1] = c;
      skipped++;
    } else dedup.push(c);
  }
  return { candles: dedup, skipped, errors };
}
