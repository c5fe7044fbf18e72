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

/** A chart with nothing to draw yet: its title and why. @param {number} width @param {number} height @param {string} title @param {string} why */
function emptyChart(width, height, title, why) {
  return `<svg viewBox="0 0 ${width} ${height}" class="chart" role="img">${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="chart-empty">${why}</text></svg>`;
}

/** @param {number} v */
export function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (a >= 100) return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return v.toLocaleString('en-US', { maximumSignificantDigits: 6 });
}

/**
 * @typedef {{ values: (number | null | undefined)[], color: string, label: string, fill?: boolean, dash?: boolean }} Series
 *   `dash`: drawn dashed (a level, as a drawdown stop's)
 * @typedef {{ index: number, side: 'buy' | 'sell' }} Marker
 * @typedef {{ from: number, to: number, label: string }} Band a span of the first series' points
 *   (indexes, `to` included) shaded the chart's full height: a time trading was stopped or paused
 */

/**
 * A chart's box (720 wide unless given; `height` unless given), its padding (left `l`, bottom `b`, the
 * top larger with a title) and the plot area inside.
 * @param {{ width?: number, height?: number, title?: string }} o @param {number} height @param {number} l @param {number} b
 */
function frame(o, height, l, b) {
  const width = o.width ?? 720;
  const tall = o.height ?? height;
  const pad = { l, r: 12, t: o.title ? 22 : 8, b };
  return { width, height: tall, pad, w: width - pad.l - pad.r, h: tall - pad.t - pad.b };
}

/**
 * One chart: every series on one scale, markers on the first series, bands shaded behind them, the
 * scale's ends and the first and last time written at the edges.
 * @param {{ series: Series[], markers?: Marker[], bands?: Band[], times?: string[], width?: number, height?: number, title?: string }} o
 */
export function lineChart(o) {
  const { width, height, pad, w, h } = frame(o, 220, 64, 20);
  const range = extent(o.series.flatMap((s) => s.values));
  const title = o.title ? `<text x="${pad.l}" y="14" class="chart-title">${esc(o.title)}</text>` : '';
  if (!range) return emptyChart(width, height, title, 'no data yet');
  const paths = o.series
    .map((s) => {
      const d = linePath(s.values, range, w, h);
      const area =
        s.fill && d
          ? `<path d="${d}L${w},${h}L0,${h}Z" fill="${esc(s.color)}" fill-opacity="0.15" stroke="none"/>`
          : '';
      const dash = s.dash ? ' stroke-dasharray="5 4"' : '';
      return `${area}<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.5"${dash}><title>${esc(s.label)}</title></path>`;
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
  const xOf = (/** @type {number} */ i) => (n > 1 ? (i * w) / (n - 1) : 0);
  const bands = (o.bands ?? [])
    .filter((b) => b.from <= b.to && b.to >= 0 && b.from < n)
    .map((b) => {
      // at least 2 units wide, so a pause between two points still shows (inside the plot at its right end)
      const x1 = Math.min(w, Math.max(xOf(Math.min(n - 1, b.to)), xOf(Math.max(0, b.from)) + 2));
      const x0 = Math.min(xOf(Math.max(0, b.from)), x1 - 2);
      return `<rect x="${x0.toFixed(1)}" y="0" width="${(x1 - x0).toFixed(1)}" height="${h}" class="chart-band"><title>${esc(b.label)}</title></rect>`;
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
    `<g transform="translate(${pad.l},${pad.t})">${bands}${paths}${marks}</g></svg>`
  );
}

/**
 * Spans of time as bands on a chart's points: each from its first point at or after `from` to its first
 * point at or after `until` (the last point when none is: a stop to the end). `times` ascending (ms);
 * a span after the last point has no band.
 * @param {number[]} times @param {{ from: number, until: number, label: string }[]} spans @returns {Band[]}
 */
export function bandsAt(times, spans) {
  const n = times.length;
  const first = (/** @type {number} */ t) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (/** @type {number} */ (times[mid]) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return spans
    .map((s) => ({ from: first(s.from), to: Math.min(n - 1, first(s.until)), label: s.label }))
    .filter((b) => b.from < n);
}

/**
 * A sweep's two parameters as a grid: x and y the keys with the most distinct values (ties: the order
 * the keys come in), each cell the best value of `rankBy` among the combinations there (over every
 * other parameter's values, when there are more than two), null where none has a value. Values sorted,
 * numbers as numbers.
 * @param {{ combo?: Record<string, number | string>, [k: string]: unknown }[]} ranked @param {string} rankBy
 * @returns {{ x: string, y: string | null, xs: (number | string)[], ys: (number | string)[], cells: (number | null)[][], others: string[] } | null}
 */
export function sweepGrid(ranked, rankBy) {
  const keys = [...new Set(ranked.flatMap((r) => Object.keys(r.combo ?? {})))];
  if (!keys.length) return null;
  /** @param {string} k */
  const valuesOf = (k) =>
    [...new Set(ranked.map((r) => r.combo?.[k]).filter((v) => v !== undefined))].sort((a, b) =>
      typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)),
    );
  const byCount = [...keys].sort((a, b) => valuesOf(b).length - valuesOf(a).length);
  const x = /** @type {string} */ (byCount[0]);
  const y = byCount[1] ?? null;
  const xs = /** @type {(number | string)[]} */ (valuesOf(x));
  const ys = /** @type {(number | string)[]} */ (y ? valuesOf(y) : ['']);
  /** @type {(number | null)[][]} */
  const cells = ys.map(() => xs.map(() => null));
  for (const r of ranked) {
    const v = r[rankBy];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const i = xs.indexOf(/** @type {number | string} */ (r.combo?.[x]));
    const j = y ? ys.indexOf(/** @type {number | string} */ (r.combo?.[y])) : 0;
    if (i < 0 || j < 0) continue;
    const row = /** @type {(number | null)[]} */ (cells[j]);
    const cur = row[i];
    if (cur === null || cur === undefined || v > cur) row[i] = v;
  }
  return { x, y, xs, ys, cells, others: keys.filter((k) => k !== x && k !== y) };
}

/**
 * A heatmap as SVG text: one cell per (x, y), red (the lowest value) through pale yellow to green (the
 * highest), grey where there is no value; each cell's value in its title, and written in it when the
 * cells are wide enough. @param {{ xs: (number | string)[], ys: (number | string)[], cells: (number | null)[][], xLabel: string, yLabel: string, title?: string, width?: number }} o
 */
export function heatmap(o) {
  const width = o.width ?? 720;
  const pad = { l: 90, r: 12, t: o.title ? 26 : 8, b: 40 };
  const w = width - pad.l - pad.r;
  const cw = w / Math.max(1, o.xs.length);
  const ch = Math.max(14, Math.min(36, 320 / Math.max(1, o.ys.length)));
  const height = pad.t + ch * o.ys.length + pad.b;
  const range = extent(o.cells.flat());
  /** @param {number} v */
  const color = (v) => {
    const t = range && range.max > range.min ? (v - range.min) / (range.max - range.min) : 0.5;
    // red (215,48,39) -> pale yellow (255,255,191) -> green (26,152,80), as ColorBrewer's RdYlGn
    const [a, b, u] = t < 0.5 ? [[215, 48, 39], [255, 255, 191], t * 2] : [[255, 255, 191], [26, 152, 80], t * 2 - 1];
    return `rgb(${a.map((c, k) => Math.round(c + /** @type {number} */ (b[k] - c) * u)).join(',')})`;
  };
  const rects = o.ys
    .map((yv, j) =>
      o.xs
        .map((xv, i) => {
          const v = o.cells[j]?.[i];
          const has = typeof v === 'number' && Number.isFinite(v);
          const label = `${o.xLabel}=${xv}${o.yLabel ? `, ${o.yLabel}=${yv}` : ''}: ${has ? fmt(v) : 'no value'}`;
          const text =
            has && cw >= 44
              ? `<text x="${(i + 0.5) * cw}" y="${(j + 0.5) * ch + 4}" text-anchor="middle" class="heat-value">${esc(fmt(Number(v.toPrecision(3))))}</text>`
              : '';
          return `<rect x="${i * cw}" y="${j * ch}" width="${cw}" height="${ch}" fill="${has ? color(v) : '#e5e7eb'}" class="heat-cell"><title>${esc(label)}</title></rect>${text}`;
        })
        .join(''),
    )
    .join('');
  const step = Math.max(1, Math.ceil(o.xs.length / Math.floor(w / 40)));
  const xTicks = o.xs
    .map((xv, i) =>
      i % step === 0
        ? `<text x="${pad.l + (i + 0.5) * cw}" y="${pad.t + ch * o.ys.length + 14}" text-anchor="middle" class="chart-axis">${esc(String(xv))}</text>`
        : '',
    )
    .join('');
  const yStep = Math.max(1, Math.ceil(14 / ch));
  const yTicks = o.ys
    .map((yv, j) =>
      j % yStep === 0
        ? `<text x="${pad.l - 6}" y="${pad.t + (j + 0.5) * ch + 4}" text-anchor="end" class="chart-axis">${esc(String(yv))}</text>`
        : '',
    )
    .join('');
  const title = o.title ? `<text x="${pad.l}" y="16" class="chart-title">${esc(o.title)}</text>` : '';
  const labels =
    `<text x="${pad.l + w / 2}" y="${height - 6}" text-anchor="middle" class="chart-axis">${esc(o.xLabel)}</text>` +
    (o.yLabel ? `<text x="8" y="${pad.t - 4}" class="chart-axis">${esc(o.yLabel)}</text>` : '');
  return (
    `<svg viewBox="0 0 ${width} ${height}" class="chart heatmap" role="img">${title}${labels}${xTicks}${yTicks}` +
    `<g transform="translate(${pad.l},${pad.t})">${rects}</g></svg>`
  );
}

/**
 * Counts over bins as bars (SVG text): the bars below `split` red, the rest green; each bar's range and
 * count in its title. @param {{ edges: number[], counts: number[], split?: number, title?: string, xLabel?: string, width?: number, height?: number }} o
 */
export function histogram(o) {
  const { width, height, pad, w, h } = frame(o, 180, 40, 32);
  const max = Math.max(1, ...o.counts);
  const bw = w / Math.max(1, o.counts.length);
  const split = o.split ?? -Infinity;
  const bars = o.counts
    .map((c, i) => {
      const y = h - (c / max) * h;
      const [lo, hi] = [o.edges[i] ?? i, o.edges[i + 1] ?? i + 1];
      const cls = hi <= split ? 'bar-low' : 'bar-high';
      return `<rect x="${i * bw + 1}" y="${y}" width="${Math.max(1, bw - 2)}" height="${h - y}" class="${cls}"><title>${esc(`${fmt(lo)} to ${fmt(hi)}: ${c}`)}</title></rect>`;
    })
    .join('');
  const ticks = o.edges
    .map((e, i) =>
      i % 2 === 0
        ? `<text x="${pad.l + i * bw}" y="${pad.t + h + 14}" text-anchor="middle" class="chart-axis">${esc(fmt(e))}</text>`
        : '',
    )
    .join('');
  const title = o.title ? `<text x="${pad.l}" y="16" class="chart-title">${esc(o.title)}</text>` : '';
  const label = o.xLabel
    ? `<text x="${pad.l + w / 2}" y="${height - 4}" text-anchor="middle" class="chart-axis">${esc(o.xLabel)}</text>`
    : '';
  return (
    `<svg viewBox="0 0 ${width} ${height}" class="chart histogram" role="img">${title}${label}${ticks}` +
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" class="chart-axis">${max}</text>` +
    `<g transform="translate(${pad.l},${pad.t})">${bars}</g></svg>`
  );
}

/**
 * Trades as points: x each trade's maximum adverse excursion, y its return, both in %; winners green,
 * losers red (J. Sweeney's MAE chart: where losers' MAE gathers is where a stop would have cut them,
 * and how far winners went against you first). Points without both values are left out.
 * @param {{ mae?: number | null, returnPct: number }[]} trades @param {{ width?: number, height?: number, title?: string }} [o]
 */
export function maeScatter(trades, o = {}) {
  const width = o.width ?? 720;
  const height = o.height ?? 240;
  const pad = { l: 64, r: 12, t: o.title ? 22 : 8, b: 30 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const pts = trades
    .filter((t) => typeof t.mae === 'number' && Number.isFinite(t.mae) && Number.isFinite(t.returnPct))
    .map((t) => ({ x: /** @type {number} */ (t.mae) * 100, y: t.returnPct * 100 }));
  const title = o.title ? `<text x="${pad.l}" y="14" class="chart-title">${esc(o.title)}</text>` : '';
  const xr = extent([...pts.map((p) => p.x), 0]);
  const yr = extent([...pts.map((p) => p.y), 0]);
  if (!pts.length || !xr || !yr) return emptyChart(width, height, title, 'no trades yet');
  /** @param {number} v */
  const X = (v) => ((v - xr.min) / (xr.max - xr.min)) * w;
  /** @param {number} v */
  const Y = (v) => h - ((v - yr.min) / (yr.max - yr.min)) * h;
  const dots = pts
    .map(
      (p) =>
        `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" class="${p.y > 0 ? 'mark-buy' : 'mark-sell'}" fill-opacity="0.7"><title>MAE ${esc(fmt(Number(p.x.toFixed(2))))} %, return ${esc(fmt(Number(p.y.toFixed(2))))} %</title></circle>`,
    )
    .join('');
  const zero = `<line x1="0" x2="${w}" y1="${Y(0).toFixed(1)}" y2="${Y(0).toFixed(1)}" class="chart-frame"/>`;
  const axis =
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" class="chart-axis">${esc(fmt(yr.max))} %</text>` +
    `<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" class="chart-axis">${esc(fmt(yr.min))} %</text>` +
    `<text x="${pad.l}" y="${height - 14}" class="chart-axis">${esc(fmt(xr.min))} %</text>` +
    `<text x="${width - pad.r}" y="${height - 14}" text-anchor="end" class="chart-axis">${esc(fmt(xr.max))} %</text>` +
    `<text x="${pad.l + w / 2}" y="${height - 2}" text-anchor="middle" class="chart-axis">maximum adverse excursion (%) against the trade's return (%)</text>`;
  return (
    `<svg viewBox="0 0 ${width} ${height}" class="chart mae" role="img">${title}${axis}` +
    `<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" class="chart-frame"/>` +
    `<g transform="translate(${pad.l},${pad.t})">${zero}${dots}</g></svg>`
  );
}

/**
 * A sweep's backtests as points on two measures (x right, y up: higher better on both), the Pareto
 * front's points in blue joined from the highest x, the others grey; each point a link to its
 * backtest, its parameters and values in its title. Points without both values are left out.
 * @param {{ points: { id: string, x: number | null, y: number | null, label: string, front: boolean }[], xLabel: string, yLabel: string, title?: string, width?: number, height?: number }} o
 */
export function paretoChart(o) {
  const { width, height, pad, w, h } = frame(o, 260, 64, 34);
  const title = o.title ? `<text x="${pad.l}" y="14" class="chart-title">${esc(o.title)}</text>` : '';
  const pts = /** @type {{ id: string, x: number, y: number, label: string, front: boolean }[]} */ (
    o.points.filter(
      (p) => typeof p.x === 'number' && Number.isFinite(p.x) && typeof p.y === 'number' && Number.isFinite(p.y),
    )
  );
  const xr = extent(pts.map((p) => p.x));
  const yr = extent(pts.map((p) => p.y));
  if (!pts.length || !xr || !yr) return emptyChart(width, height, title, 'no finished backtest with both values yet');
  // a single value on an axis still gets a span, so its points sit in the middle
  const span = (/** @type {{ min: number, max: number }} */ r) =>
    r.max > r.min ? r : { min: r.min - 1, max: r.max + 1 };
  const [xs, ys] = [span(xr), span(yr)];
  /** @param {number} v */
  const X = (v) => ((v - xs.min) / (xs.max - xs.min)) * w;
  /** @param {number} v */
  const Y = (v) => h - ((v - ys.min) / (ys.max - ys.min)) * h;
  const front = pts.filter((p) => p.front).sort((a, b) => b.x - a.x);
  const line =
    front.length > 1
      ? `<path d="${front.map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join('')}" class="pareto-line"/>`
      : '';
  const dots = [...pts.filter((p) => !p.front), ...front]
    .map(
      (p) =>
        `<a href="#/backtests/${esc(encodeURIComponent(p.id))}"><circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="${p.front ? 4 : 3}" class="${p.front ? 'pareto-front' : 'pareto-other'}"><title>${esc(`${p.label}: ${o.xLabel} ${fmt(p.x)}, ${o.yLabel} ${fmt(p.y)}${p.front ? ' (on the front)' : ''}`)}</title></circle></a>`,
    )
    .join('');
  const axis =
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" class="chart-axis">${esc(fmt(ys.max))}</text>` +
    `<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" class="chart-axis">${esc(fmt(ys.min))}</text>` +
    `<text x="${pad.l}" y="${height - 16}" class="chart-axis">${esc(fmt(xs.min))}</text>` +
    `<text x="${width - pad.r}" y="${height - 16}" text-anchor="end" class="chart-axis">${esc(fmt(xs.max))}</text>` +
    `<text x="${pad.l + w / 2}" y="${height - 2}" text-anchor="middle" class="chart-axis">${esc(`${o.xLabel} (right is better) against ${o.yLabel} (up is better)`)}</text>`;
  return (
    `<svg viewBox="0 0 ${width} ${height}" class="chart pareto" role="img">${title}${axis}` +
    `<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" class="chart-frame"/>` +
    `<g transform="translate(${pad.l},${pad.t})">${line}${dots}</g></svg>`
  );
}
