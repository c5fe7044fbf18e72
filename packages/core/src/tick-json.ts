import type { Tick } from './types.ts';

// toISOString() is the dearest part of encoding a tick; ticks come in bursts within one second,
// so the "YYYY-MM-DDTHH:MM:SS." part is reused for as long as the second does not change
let isoSecond = NaN;
let isoPrefix = '';

/** `new Date(ms).toISOString()`, faster for runs of timestamps within the same second. */
export function isoTime(t: number): string {
  const ms = Math.trunc(t); // as Date does with fractional milliseconds
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    const iso = new Date(ms).toISOString();
    // outside years 0000-9999 the ISO form has a sign and six-digit year: no shortcut
    if (iso.length !== 24) return iso;
    isoSecond = sec;
    isoPrefix = iso.slice(0, 20);
  }
  const m = ms - sec * 1000;
  return `${isoPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

/** The wire form of a tick in `GET .../latest` (ISO timestamp, optional fields omitted). */
export function tickToJson(t: Tick): string {
  let s = `{"ts":"${isoTime(t.ts)}","price":${t.price},"size":${t.size}`;
  if (t.bid !== undefined) s += `,"bid":${t.bid}`;
  if (t.ask !== undefined) s += `,"ask":${t.ask}`;
  if (t.seq !== undefined) s += `,"seq":${t.seq}`;
  return s + '}';
}
