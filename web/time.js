// @ts-check
/** A time in the reader's locale, or a dash. No DOM: modules tested in Node share it. @param {unknown} ts */
export function when(ts) {
  if (!ts) return '–';
  const d = new Date(String(ts));
  return Number.isNaN(d.getTime()) ? '–' : d.toLocaleString();
}
