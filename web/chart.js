// @ts-check
/**
 * Line charts as SVG text, with no DOM: prices with trade markers, equity, drawdown. Pure, so the
 * scaling is tested in Node and the page only sets `innerHTML`.
 */

/** @param {unknown} s */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** @param {(number | null | undefined)[]} values */
export function extent(values) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values)
    if (v != null && Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  if (min === Infinity) return null;
  if (min === max) return { min: min - 1, max: max + 1 };
  return { min, max };
}

/**
 * The `d` of a path through `values`, left to right over `width`; a missing value (null, NaN: an
 * indicator's warm-up) breaks the line instead of drawing it at zero.
 * @param {(number | null | undefined)[]} values @param {{ min: number, max: number }} range
 * @param {number} width @param {number} height
 */
export function linePath(values, range, width, height) {
  const n = values.length;
  const dx = n > 1 ? width / (n - 1) : 0;
  const span = range.max - range.min;
  let d = '';
  let pen = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null || !Number.isFinite(v)) {
      pen = false;
      continue;
    }
    const x = i * dx;
    const y = height - ((v - range.min) / span) * height;
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** Drawdown from the running peak, in % (0 or negative), as the statistics define it. @param {number[]} equity */
export function drawdownPct(equity) {
  let peak = -Infinity;
  return equity.map((v) => {
    if (v > peak) peak = v;
    return peak > 0 ? ((v - peak) / peak) * 100 : 0;
  });
}

/**
 * Equity as % return on its first value, taken at `points` evenly spaced places (first and last
 * kept), so runs of different lengths share one chart's width. @param {number[]} equity @param {number} points
 */
export function returnCurve(equity, points = 300) {
  const n = equity.length;
  if (!n || !(equity[0] !== 0)) return [];
  const base = /** @type {number} */ (equity[0]);
  const m = Math.min(points, n);
  return Array.from({ length: m }, (_, i) => {
    const at = m > 1 ? Math.round((i * (n - 1)) / (m - 1)) : 0;
    return /** @type {number} */ (equity[at] / base - 1) * 100;
  });
}

/** @param {number} v */
export function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (a >= 100) return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return v.toLocaleString('en-US', { maximumSignificantDigits: 6 });
}

/**
 * @typedef {{ values: (number | null | undefined)[], color: string, label: string, fill?: boolean }} Series
 * @typedef {{ index: number, side: 'buy' | 'sell' }} Marker
 */

/**
 * One chart: every series on one scale, markers on the first series, the scale's ends and the first
 * and last time written at the edges.
 * @param {{ series: Series[], markers?: Marker[], times?: string[], width?: number, height?: number, title?: string }} o
 */
export function lineChart(o) {
  const width = o.width ?? 720;
  const height = o.height ?? 220;
  const pad = { l: 64, r: 12, t: o.title ? 22 : 8, b: 20 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const range = extent(o.series.flatMap((s) => s.values));
  const title = o.title ? `<text x="${pad.l}" y="14" class="chart-title">${esc(o.title)}</text>` : '';
  if (!range)
    return `<svg viewBox="0 0 ${width} ${height}" class="chart" role="img">${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="chart-empty">no data yet</text></svg>`;
  const paths = o.series
    .map((s) => {
      const d = linePath(s.values, range, w, h);
      const area =
        s.fill && d
          ? `<path d="${d}L${w},${h}L0,${h}Z" fill="${esc(s.color)}" fill-opacity="0.15" stroke="none"/>`
          : '';
      return `${area}<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.5"><title>${esc(s.label)}</title></path>`;
    })
    .join('');
  const first = o.series[0]?.values ?? [];
  const n = first.length;
  const marks = (o.markers ?? [])
    .filter((m) => m.index >= 0 && m.index < n && first[m.index] != null && Number.isFinite(first[m.index]))
    .map((m) => {
      const x = n > 1 ? (m.index * w) / (n - 1) : 0;
      const v = Number(first[m.index]);
      const y = h - ((v - range.min) / (range.max - range.min)) * h;
      const pts =
        m.side === 'buy'
          ? `${x},${y + 3} ${x - 5},${y + 12} ${x + 5},${y + 12}`
          : `${x},${y - 3} ${x - 5},${y - 12} ${x + 5},${y - 12}`;
      return `<polygon points="${pts}" class="mark-${m.side}"><title>${m.side} at ${fmt(/** @type {number} */ (first[m.index]))}</title></polygon>`;
    })
    .join('');
  const times = o.times ?? [];
  const axis =
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" class="chart-axis">${esc(fmt(range.max))}</text>` +
    `<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" class="chart-axis">${esc(fmt(range.min))}</text>` +
    (times.length
      ? `<text x="${pad.l}" y="${height - 4}" class="chart-axis">${esc(times[0])}</text><text x="${width - pad.r}" y="${height - 4}" text-anchor="end" class="chart-axis">${esc(times[times.length - 1])}</text>`
      : '');
  const legend = o.series
    .map(
      (s, i) =>
        `<text x="${width - pad.r - i * 110}" y="14" text-anchor="end" fill="${esc(s.color)}" class="chart-legend">${esc(s.label)}</text>`,
    )
    .join('');
  return (
    `<svg viewBox="0 0 ${width} ${height}" class="chart" role="img">${title}${legend}${axis}` +
    `<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" class="chart-frame"/>` +
    `<g transform="translate(${pad.l},${pad.t})">${paths}${marks}</g></svg>`
  );
}
