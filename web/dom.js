// @ts-check
/** A few DOM helpers for the page's views (no framework: the views are small and mostly tables). */
import { ApiError } from './api.js';

/**
 * An element with attributes (`on*` functions become listeners; `class`, `style`, others as set) and
 * children (strings become text, so nothing from the API is ever parsed as HTML).
 * @param {string} tag @param {Record<string, any> | null} [attrs] @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') /** @type {HTMLInputElement} */ (el).value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Trusted SVG text (from chart.js, which escapes what it draws) inside a container. @param {string} svg */
export function svgBox(svg, cls = 'chart-box') {
  const el = h('div', { class: cls });
  el.innerHTML = svg;
  return el;
}

/** @param {string} message @param {'info' | 'error'} [kind] */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 5000);
}

/** A number as money or a quantity, or a dash. @param {unknown} v @param {number} [digits] */
export function num(v, digits = 2) {
  if (v == null || v === '' || !Number.isFinite(Number(v))) return '–';
  return Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// a time as the page writes it (in time.js, which modules without the DOM share)
export { when } from './time.js';

/**
 * A table of `rows`, one column per `[heading, cell]`.
 * @template T @param {[string, (row: T) => any][]} cols @param {T[]} rows @param {string} [empty]
 */
export function table(cols, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    { class: 'grid' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        cols.map(([t]) => h('th', null, t)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((r) =>
        h(
          'tr',
          null,
          cols.map(([, f]) => h('td', null, f(r))),
        ),
      ),
    ),
  );
}

/** A form's fields by name. @param {HTMLFormElement} form @returns {Record<string, string>} */
export function fields(form) {
  /** @type {Record<string, string>} */
  const out = {};
  new FormData(form).forEach((v, k) => (out[k] = String(v)));
  return out;
}

/** Runs `fn`, showing an API error as a toast; its result, or undefined when it failed. @template T @param {() => Promise<T>} fn */
export async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    toast(e instanceof ApiError ? e.message : String(e), 'error');
    return undefined;
  }
}

/** A progress bar for a share done (0..1). @param {number} p */
export function progressBar(p) {
  const pct = Math.round(Math.max(0, Math.min(1, p)) * 100);
  return h(
    'div',
    { class: 'progress', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 },
    h('div', { style: `width:${pct}%` }),
    h('span', null, `${pct} %`),
  );
}

/** The candle intervals the forms offer (the API takes these among others). */
export const FORM_INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'];

/** A select of the candle intervals, named `name`, with `dflt` chosen. @param {string} name @param {string} dflt */
export function intervalSelect(name, dflt) {
  return h(
    'select',
    { name },
    FORM_INTERVALS.map((i) => h('option', { value: i, selected: i === dflt }, i)),
  );
}

/** Saves text as a file the browser downloads (a link to it, clicked). @param {string} text @param {string} filename @param {string} type */
export function saveFile(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A secret shown this once (a token, a signing key), selectable, with what to do with it. @param {string} title @param {string} secret @param {string} note */
export function shownOnce(title, secret, note) {
  return h(
    'div',
    { class: 'card secret' },
    h('strong', null, `${title} (shown this once): `),
    h('code', null, secret),
    h('p', { class: 'muted' }, note),
  );
}

/** What a sweep may rank by, and the measures of its Pareto front (the API's RANK_BY; higher is better on each). */
export const MEASURES = ['sharpe', 'sortino', 'returnPct', 'calmar', 'profitFactor', 'sqn', 'maxDrawdownPct'];
