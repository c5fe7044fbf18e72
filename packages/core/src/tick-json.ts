import type { Tick } from './types.ts';

/** The wire form of a tick in `GET .../latest` (ISO timestamp, optional fields omitted). */
export function tickToJson(t: Tick): string {
  let s = `{"ts":"${new Date(t.ts).toISOString()}","price":${t.price},"size":${t.size}`;
  if (t.bid !== undefined) s += `,"bid":${t.bid}`;
  if (t.ask !== undefined) s += `,"ask":${t.ask}`;
  if (t.seq !== undefined) s += `,"seq":${t.seq}`;
  return s + '}';
}
