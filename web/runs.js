// @ts-check
/**
 * Backtests and paper-trading sessions: lists, and one page each that follows the run live (progress
 * and results of a backtest; fills, equity and status of a session) with equity and drawdown charts.
 */
import {
  bandsAt,
  drawdownPct,
  heatmap,
  histogram,
  lineChart,
  maeScatter,
  paretoChart,
  returnCurve,
  sweepGrid,
} from './chart.js';
import { ApiError } from './api.js';
import { attempt, h, MEASURES, num, progressBar, saveFile, svgBox, table, toast, when } from './dom.js';
import { applyCombo } from './graph-model.js';
import { EDITABLE_LIMITS, EXCHANGE_KEYS, portfolioRiskPatch, sessionPatch, settingsText } from './run-settings.js';
import { moveBody, openOrderText, orderBody, orderText, ORDER_SIZINGS, ORDER_TYPES } from './orders.js';
import { activityText, haltSpans, haltText, portfolioHaltSpans, sessionHaltSpans, timelineRows } from './limits.js';

/** A value from the API for a table cell: numbers rounded, times readable. @param {unknown} v */
function cell(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : num(v, Math.abs(v) < 1 ? 4 : 2);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return when(v);
  if (v && typeof v === 'object') return JSON.stringify(v);
  return v == null ? '–' : String(v);
}

/** Rows of objects as a table, one column per key of the first row (at most `max`). @param {any[]} rows */
function autoTable(rows, max = 10, empty = 'None.') {
  const keys = Object.keys(rows[0] ?? {})
    .filter((k) => !['sessionId', 'userId', 'id', 'signalId'].includes(k))
    .slice(0, max);
  return table(
    keys.map((k) => /** @type {[string, (r: any) => any]} */ ([k, (r) => cell(r[k])])),
    rows,
    empty,
  );
}

/** Exit rules by name (TradeRecord.exitReason); any other reason is the id of the action node whose signal closed the trade. */
const EXIT_RULES = /** @type {Record<string, string>} */ ({
  stop_loss: 'stop loss',
  trailing_stop: 'trailing stop',
  time_exit: 'time exit',
  take_profit: 'take profit',
  end: 'end of data',
  max_drawdown: 'drawdown limit',
  max_daily_loss: 'daily loss limit',
  manual_close: 'closed by hand',
  manual: 'an order by hand',
  session_stop: 'session stopped',
});
/** What closed a trade, as a person reads it. @param {unknown} reason */
export function exitLabel(reason) {
  if (typeof reason !== 'string') return '';
  return EXIT_RULES[reason] ?? `signal (${reason})`;
}

/**
 * The trades by what closed them: how many, how many won, their mean return and PnL (the risk report's
 * `exits`), or by what opened them (`entries`: the entry's action node, with `opened`).
 * @param {{ reason: string, trades: number, winRatePct: number, avgReturnPct: number, pnl: number }[]} exits
 */
function exitsTable(exits, opened = false) {
  return table(
    [
      opened
        ? ['Opened by', (e) => (e.reason === 'manual' ? 'an order by hand' : cell(e.reason))]
        : ['Closed by', (e) => exitLabel(e.reason)],
      ['Trades', (e) => cell(e.trades)],
      ['Won %', (e) => cell(e.winRatePct)],
      ['Avg return %', (e) => cell(e.avgReturnPct)],
      ['PnL', (e) => cell(e.pnl)],
    ],
    exits,
    'No trades.',
  );
}

/**
 * A backtest's trades: side and size, entry and exit, what closed it, PnL and return, and how far each
 * went against and for the position while open (MAE, MFE). @param {any[]} trades
 */
function tradesTable(trades) {
  const pct = (/** @type {unknown} */ v) => (typeof v === 'number' && Number.isFinite(v) ? cell(v * 100) : cell(v));
  return table(
    [
      ['Size', (t) => cell(t.size)],
      ['Entry', (t) => when(t.entryTime)],
      ['Entry price', (t) => cell(t.entryPrice)],
      // a position added to has several entries, its entry price their average
      ['Entries', (t) => cell(t.entries ?? 1)],
      ['Exit', (t) => when(t.exitTime)],
      ['Exit price', (t) => cell(t.exitPrice)],
      ['Opened by', (t) => cell(t.entryReason)],
      ['Closed by', (t) => exitLabel(t.exitReason)],
      ['PnL', (t) => cell(t.pnl)],
      ['Return %', (t) => pct(t.returnPct)],
      ['MAE %', (t) => pct(t.mae)],
      ['MFE %', (t) => pct(t.mfe)],
      ['Fees', (t) => cell(t.fees)],
    ],
    trades,
    'No trades.',
  );
}

/** A statistics object as a two-column table, in the API's order. @param {Record<string, unknown>} stats */
function statsTable(stats) {
  return h(
    'table',
    { class: 'grid stats' },
    h(
      'tbody',
      null,
      Object.entries(stats ?? {})
        // the figures only (tables such as the exits are drawn on their own)
        .filter(([, v]) => v === null || typeof v !== 'object')
        .map(([k, v]) => h('tr', null, h('th', null, k), h('td', { class: 'num' }, cell(v)))),
    ),
  );
}

/** the limits' names as the page says them */
const LIMIT_NAMES = /** @type {Record<string, string>} */ ({
  maxDrawdownPct: 'stop at drawdown',
  maxDailyLossPct: 'max daily loss',
  maxPositionPct: 'max position (% of equity)',
  maxPositionValue: 'max position value',
  maxOrderQty: 'max order quantity',
  maxOrdersPerMinute: 'orders a minute',
  resumeNextDay: 'resume the next day',
});

/**
 * What a backtest's risk limits (a paper session's) did: the limits, each time one stopped or paused
 * trading, and the entries they refused.
 * @param {Record<string, number | boolean>} limits the backtest's `risk`
 * @param {{ halts: { time: string, limit: string, pct: number }[], refused: Record<string, number> } | undefined} did its metrics' `limits`
 */
export function limitsSummary(limits, did) {
  const refused = Object.entries(did?.refused ?? {});
  const set = Object.entries(limits).filter(([, v]) => v !== false);
  return h(
    'div',
    { class: 'limits' },
    // without limits: the entries an exchange's minimum order value held back
    h('h2', null, set.length ? 'Risk limits' : 'Orders refused'),
    set.length
      ? h(
          'p',
          null,
          // a switch (resumeNextDay) by its name when on
          set.map(([k, v]) => (v === true ? (LIMIT_NAMES[k] ?? k) : `${LIMIT_NAMES[k] ?? k} ${v}`)).join(' · '),
        )
      : '',
    did
      ? h(
          'ul',
          null,
          did.halts.map((x) => h('li', null, `${when(x.time)} ${haltText(x.limit, limits)} of ${x.pct.toFixed(2)} %`)),
          refused.map(([code, n]) => h('li', null, `${n} ${n === 1 ? 'entry' : 'entries'} refused: ${code}`)),
          did.halts.length || refused.length ? '' : h('li', null, 'No limit was reached.'),
        )
      : '',
  );
}

/**
 * What the risk limits did in one run, in a table cell (a sweep's ranking, a walk-forward's folds): the
 * first stop or pause with its date and loss, how many more, the entries refused; empty for a run without
 * limits. Said as report.ts's limitsCell says it (the browser app does not import the packages).
 * @param {{ halts: { time: string, limit: string, pct: number }[], refused: Record<string, number> } | undefined} did its metrics' `limits`
 */
export function haltsCell(did) {
  if (!did) return '';
  const refused = Object.values(did.refused ?? {}).reduce((a, n) => a + n, 0);
  const parts = [];
  const first = did.halts[0];
  if (first)
    parts.push(
      `${String(first.time).slice(0, 10)}: ${first.limit === 'max_drawdown' ? 'drawdown' : 'daily loss'} ${first.pct.toFixed(1)} %` +
        (did.halts.length > 1 ? ` (+${did.halts.length - 1} more)` : ''),
    );
  if (refused) parts.push(`${refused} ${refused === 1 ? 'entry' : 'entries'} refused`);
  return parts.join('; ') || 'none reached';
}

/**
 * An equity curve's drawdown as a chart's series, and a drawdown stop's level dashed beside it.
 * @param {number[]} eq @param {number} [stopPct] @returns {import('./chart.js').Series[]}
 */
function drawdownSeries(eq, stopPct) {
  /** @type {import('./chart.js').Series[]} */
  const dd = [{ values: drawdownPct(eq), color: '#dc2626', label: 'drawdown %', fill: true }];
  if (stopPct !== undefined && eq.length)
    dd.push({ values: eq.map(() => -stopPct), color: '#7f1d1d', label: `stop at -${stopPct} %`, dash: true });
  return dd;
}

/**
 * Equity and its drawdown, one chart each, the times trading was stopped or paused shaded, and a
 * drawdown stop's level dashed on the drawdown.
 * @param {{ ts: string, equity: number }[]} points
 * @param {{ from: number, until: number, label: string }[]} [halted] haltSpans
 * @param {number} [stopPct] the run's drawdown stop (`maxDrawdownPct`), if it has one
 */
export function equityCharts(points, title = 'Equity', halted = [], stopPct) {
  const eq = points.map((p) => p.equity);
  const times = points.length ? [when(points[0]?.ts), when(points[points.length - 1]?.ts)] : [];
  const bands = halted.length
    ? bandsAt(
        points.map((p) => Date.parse(p.ts)),
        halted,
      )
    : [];
  const dd = drawdownSeries(eq, stopPct);
  return h(
    'div',
    null,
    svgBox(lineChart({ title, series: [{ values: eq, color: '#0f766e', label: 'equity' }], bands, times })),
    svgBox(lineChart({ title: 'Drawdown %', height: 140, series: dd, bands, times })),
  );
}

/**
 * The tiles of sessions summed (all of a user's, or a paper portfolio's): sessions by status, equity,
 * PnL, return, realised PnL, fees. @param {any} p @returns {[string, string][]}
 */
function sumTiles(p) {
  const byStatus = Object.entries(p.byStatus ?? {})
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return [
    ['Sessions', byStatus],
    ['Equity', num(p.equity)],
    ['PnL', num(p.pnl)],
    ['Return', `${num(p.returnPct)} %`],
    ['Realised', num(p.realizedPnl)],
    ['Fees', num(p.fees)],
  ];
}

/** Headline figures as tiles. @param {[string, string][]} items */
function figureGrid(items) {
  return h(
    'div',
    { class: 'figures' },
    items.map(([k, v]) => h('div', { class: 'figure' }, h('small', null, k), h('strong', null, v))),
  );
}

/**
 * Deletes what `path` names once the user confirms, then shows `back` again.
 * @param {import('./app.js').Ctx} c @param {string} path @param {string} what @param {string} back
 */
function removeButton(c, path, what, back) {
  const onclick = async () => {
    if (!confirm(`Delete ${what}?`)) return;
    if ((await attempt(() => c.api.del(path))) !== undefined) c.go(back);
  };
  return h('button', { class: 'link danger', onclick }, 'Delete');
}

/**
 * A button that fetches a CSV export (with the page's credentials) and saves it as `filename`.
 * @param {import('./app.js').Ctx} c @param {string | (() => string)} path (or what gives it when clicked)
 * @param {string} filename
 */
export function csvButton(c, path, filename, label = 'CSV') {
  const onclick = async () => {
    const url = typeof path === 'function' ? path() : path;
    const text = await attempt(() => c.api.request('GET', url, undefined, { text: true }));
    if (text !== undefined) saveFile(String(text), filename, 'text/csv');
  };
  return h('button', { class: 'link', title: `download ${filename}`, onclick }, label);
}

/**
 * Saves a run's strategy with parameters from its sweep or walk-forward as a new strategy, and opens
 * it in the editor (to paper-trade what the optimisation picked).
 * @param {import('./app.js').Ctx} c @param {string} backtestId @param {Record<string, unknown>} combo
 */
async function saveCombo(c, backtestId, combo) {
  const made = await attempt(async () =>
    copyWithCombo(c, await c.api.get(`/api/backtests/${encodeURIComponent(backtestId)}`), combo),
  );
  if (made) c.go(`#/strategies/${made.id}`);
}

/**
 * A copy of backtest b's strategy with a combination's parameters set, saved as a strategy of its own
 * (named after them). Throws when b ran a graph, not a saved strategy.
 * @param {import('./app.js').Ctx} c @param {any} b @param {Record<string, unknown>} combo @returns {Promise<any>}
 */
async function copyWithCombo(c, b, combo) {
  if (!b.strategyId) throw new Error('this run was made from a graph, not a saved strategy: there is none to copy');
  const s = await c.api.get(`/api/strategies/${encodeURIComponent(b.strategyId)}`);
  const label = Object.entries(combo)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return c.api.post('/api/strategies', {
    name: `${s.name} (${label})`.slice(0, 200),
    ...(s.description ? { description: s.description } : {}),
    graph: applyCombo(s.graph, combo),
  });
}

/** the most runs one comparison shows */
export const MAX_COMPARE = 6;
const COLORS = ['#0f766e', '#7c3aed', '#dc2626', '#2563eb', '#d97706', '#475569'];
/** the statistics a comparison lines up, in this order */
const COMPARED = [
  'returnPct',
  'returnAnnPct',
  'buyAndHoldReturnPct',
  'sharpe',
  'sortino',
  'calmar',
  'maxDrawdownPct',
  'volatilityAnnPct',
  'trades',
  'winRatePct',
  'profitFactor',
  'exposureTimePct',
  'totalFees',
];

/**
 * Runs side by side: their returns on one chart, their statistics in columns.
 * @param {string} title
 * @param {{ href: string, label: string, equity: number[], stats: Record<string, any> | null | undefined }[]} runs
 */
function compareRuns(title, runs) {
  return h(
    'section',
    { class: 'compare' },
    h('h1', null, title),
    svgBox(
      lineChart({
        title: 'Return % (each run over its own span)',
        series: runs.map((r, i) => ({
          values: returnCurve(r.equity),
          color: COLORS[i % COLORS.length] ?? '#000',
          label: r.label,
        })),
      }),
    ),
    h(
      'table',
      { class: 'grid stats' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, ''),
          runs.map((r) => h('th', null, h('a', { href: r.href }, r.label))),
        ),
      ),
      h(
        'tbody',
        null,
        h(
          'tr',
          null,
          h('th', null, 'period'),
          runs.map((r) => h('td', null, `${when(r.stats?.start)} – ${when(r.stats?.end)}`)),
        ),
        COMPARED.map((k) =>
          h(
            'tr',
            null,
            h('th', null, k),
            runs.map((r) => h('td', { class: 'num' }, cell(r.stats?.[k]))),
          ),
        ),
      ),
    ),
  );
}

/**
 * A list's checkboxes and what acts on the rows ticked: **Compare selected** (two to MAX_COMPARE, each
 * one `comparable`, opens `route`/<the ids>) and each of `actions` (any number ticked: asked once, then
 * done row by row, each refusal said, and the list read again).
 * @param {import('./app.js').Ctx} c @param {string} route @param {string} label the checkbox's
 * @param {(row: any) => boolean} comparable
 * @param {{ label: string, ask: (n: number) => string, run: (id: string) => Promise<unknown>, done: string, back: string }[]} [actions]
 */
function rowPicker(c, route, label, comparable, actions = []) {
  /** @type {Map<string, any>} */
  const picked = new Map();
  const compare = /** @type {HTMLButtonElement} */ (
    h('button', { class: 'secondary', disabled: true }, 'Compare selected')
  );
  compare.addEventListener('click', () => c.go(`${route}/${[...picked.keys()].join(',')}`));
  const buttons = actions.map((a) => {
    const b = /** @type {HTMLButtonElement} */ (h('button', { class: 'secondary', disabled: true }, a.label));
    b.addEventListener('click', async () => {
      if (!confirm(a.ask(picked.size))) return;
      let ok = 0;
      /** @type {string[]} */
      const refused = [];
      for (const id of picked.keys()) {
        try {
          await a.run(id);
          ok++;
        } catch (e) {
          refused.push(e instanceof ApiError ? e.message : String(e));
        }
      }
      toast(
        `${a.done}: ${ok}${refused.length ? `; ${refused.length} refused (${refused[0]})` : ''}`,
        refused.length ? 'error' : 'info',
      );
      c.go(a.back);
    });
    return b;
  });
  const update = () => {
    compare.disabled = picked.size < 2 || picked.size > MAX_COMPARE || [...picked.values()].some((r) => !comparable(r));
    for (const b of buttons) b.disabled = picked.size === 0;
  };
  const pick = (/** @type {any} */ row) =>
    h('input', {
      type: 'checkbox',
      'aria-label': label,
      onchange: (/** @type {Event} */ ev) => {
        if (/** @type {HTMLInputElement} */ (ev.target).checked) picked.set(row.id, row);
        else picked.delete(row.id);
        update();
      },
    });
  return { compare, pick, actions: buttons };
}

/**
 * Finished backtests side by side (compareRuns).
 * @param {import('./app.js').Ctx} c @param {string} idList comma-separated backtest ids
 */
export async function compareView(c, idList) {
  const ids = [...new Set(idList.split(','))].slice(0, MAX_COMPARE);
  const runs = await Promise.all(
    ids.map(async (id) => {
      const enc = encodeURIComponent(id);
      const [b, equity] = await Promise.all([
        c.api.get(`/api/backtests/${enc}`),
        c.api.get(`/api/backtests/${enc}/equity`),
      ]);
      return { b, equity: /** @type {any[]} */ (equity) };
    }),
  );
  const label = (/** @type {any} */ b, /** @type {number} */ i) =>
    `${i + 1}. ${b.symbol} ${b.interval}${b.kind === 'walk-forward' || b.kind === 'portfolio' ? ` (${b.kind})` : ''}${b.parameters?.combo ? ` ${Object.values(b.parameters.combo).join('/')}` : ''}`;
  return compareRuns(
    `Comparing ${runs.length} backtests`,
    runs.map((r, i) => ({
      href: `#/backtests/${r.b.id}`,
      label: label(r.b, i),
      equity: r.equity.map((p) => p.equity),
      stats: r.b.metrics,
    })),
  );
}

/**
 * Paper sessions side by side, as they stand (compareRuns over their equity series and their statistics so far).
 * @param {import('./app.js').Ctx} c @param {string} idList comma-separated session ids
 */
export async function compareSessionsView(c, idList) {
  const ids = [...new Set(idList.split(','))].slice(0, MAX_COMPARE);
  const runs = await Promise.all(
    ids.map(async (id, i) => {
      const enc = encodeURIComponent(id);
      const [s, m, equity] = await Promise.all([
        c.api.get(`/api/forward-tests/${enc}`),
        c.api.get(`/api/forward-tests/${enc}/metrics`),
        c.api.get(`/api/forward-tests/${enc}/equity`),
      ]);
      return {
        href: `#/sessions/${s.id}`,
        label: `${i + 1}. ${s.name ?? s.id.slice(0, 8)} · ${s.symbol} (${s.status})`,
        equity: /** @type {any[]} */ (equity).map((p) => p.equity),
        stats: m.stats,
      };
    }),
  );
  return compareRuns(`Comparing ${runs.length} paper sessions`, runs);
}

/**
 * A list read a page at a time into `into`: its table, and an Older button while there are more (each
 * page's rows added under the ones before).
 * @template T
 * @param {import('./app.js').Ctx} c @param {string} path the first page
 * @param {[string, (row: T) => any][]} cols @param {string} empty @param {HTMLElement} into
 */
async function pagedTable(c, path, cols, empty, into) {
  /** @type {T[]} */
  const rows = [];
  /** @type {string | null} */
  let next = path;
  const older = h('button', { class: 'secondary older' }, 'Older');
  const more = async () => {
    if (!next) return;
    const page = await c.api.page(next);
    rows.push(...page.items);
    next = page.next;
    into.replaceChildren(table(cols, rows, empty), next ? older : '');
  };
  older.addEventListener('click', () => void attempt(more));
  await more();
}

/** The kinds of run the backtests list can be narrowed to (a sweep's are on its own page). */
const RUN_KINDS = [
  ['', 'All runs'],
  ['single', 'Single'],
  ['portfolio', 'Portfolio'],
  ['walk-forward', 'Walk-forward'],
];
const RUN_STATUSES = ['', 'queued', 'running', 'done', 'failed', 'cancelled'];
const SESSION_STATUSES = ['', 'created', 'running', 'paused', 'stopped', 'failed'];

/**
 * A sweep's best point as its list line says it: the measure's value and the combination.
 * @param {any} s a line of GET /api/backtests/sweeps
 */
const sweepBestText = (s) =>
  s.best
    ? `${num(s.best[s.rankBy])} · ${Object.entries(s.best.combo ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`
    : '–';

/** @param {import('./app.js').Ctx} c */
export async function backtestsView(c) {
  // finished runs ticked to compare
  // runs ticked: compared (finished ones), cancelled or deleted together
  const picker = rowPicker(c, '#/compare', 'tick this run', (b) => b.status === 'done', [
    {
      label: 'Cancel selected',
      ask: (n) => `Cancel the ${n} selected runs that are still queued or running?`,
      run: (id) => c.api.post(`/api/backtests/${encodeURIComponent(id)}/cancel`),
      done: 'Cancelled',
      back: '#/backtests',
    },
    {
      label: 'Delete selected',
      ask: (n) => `Delete the ${n} selected runs with their results?`,
      run: (id) => c.api.del(`/api/backtests/${encodeURIComponent(id)}`),
      done: 'Deleted',
      back: '#/backtests',
    },
  ]);
  const { compare, pick } = picker;
  /** @type {[string, (b: any) => any][]} */
  const cols = [
    ['', pick],
    ['Started', (b) => h('a', { href: `#/backtests/${b.id}` }, when(b.createdAt))],
    ['Name', (b) => h('span', { title: b.note ?? '' }, b.name ?? '')],
    ['Symbol', (b) => `${b.symbol} ${b.interval ?? ''}`],
    ['Kind', (b) => (b.kind === 'single' ? '' : b.kind)],
    ['Status', (b) => (b.status === 'running' ? progressBar(b.progress ?? 0) : b.status)],
    ['Return %', (b) => cell(b.metrics?.returnPct)],
    ['Sharpe', (b) => cell(b.metrics?.sharpe)],
    ['Max DD %', (b) => cell(b.metrics?.maxDrawdownPct)],
    ['Trades', (b) => cell(b.metrics?.trades)],
    ['', (b) => removeButton(c, `/api/backtests/${encodeURIComponent(b.id)}`, 'this backtest', '#/backtests')],
  ];
  /** @type {[string, (s: any) => any][]} */
  const sweepCols = [
    ['Started', (s) => h('a', { href: `#/sweeps/${s.sweepId}` }, when(s.createdAt))],
    ['Name', (s) => s.name ?? ''],
    ['Symbol', (s) => `${s.symbol} ${s.interval}`],
    ['Search', (s) => s.method],
    ['Points', (s) => `${s.done + s.failed} of ${s.total}`],
    ['Status', (s) => (s.status === 'running' ? progressBar(s.progress) : s.status)],
    ['Ranked by', (s) => s.rankBy],
    ['Best so far', sweepBestText],
    [
      '',
      (s) =>
        removeButton(
          c,
          `/api/backtests/sweeps/${encodeURIComponent(s.sweepId)}`,
          `this sweep and its ${s.queued + s.running + s.done + s.failed + s.cancelled} backtests`,
          '#/backtests',
        ),
    ],
  ];
  const runs = h('div', { class: 'runs' });
  const sweeps = h('div', { class: 'sweeps' });
  // the runs narrowed by kind, symbol and status (each change reads the first page again)
  const kind = h(
    'select',
    { name: 'kind', 'aria-label': 'kind' },
    RUN_KINDS.map(([v, t]) => h('option', { value: v }, t)),
  );
  const status = h(
    'select',
    { name: 'status', 'aria-label': 'status' },
    RUN_STATUSES.map((v) => h('option', { value: v }, v || 'Any status')),
  );
  const symbol = h('input', { name: 'symbol', placeholder: 'Symbol', 'aria-label': 'symbol', size: 10 });
  const words = h('input', { name: 'q', type: 'search', placeholder: 'Name or note', 'aria-label': 'name or note' });
  /** the list's address with the filters as they stand, and `extra` */
  const listPath = (/** @type {Record<string, string>} */ extra) => {
    const q = new URLSearchParams(extra);
    for (const el of [kind, status, symbol, words]) {
      const v = /** @type {HTMLInputElement} */ (el).value.trim();
      if (v) q.set(/** @type {HTMLInputElement} */ (el).name, v);
    }
    return `/api/backtests?${q}`;
  };
  const load = () => pagedTable(c, listPath({ limit: '50' }), cols, 'No backtests here.', runs);
  // every run the filters keep, a line each with its figures
  const csv = csvButton(c, () => listPath({ format: 'csv' }), 'backtests.csv', 'CSV of these runs');
  for (const el of [kind, status, symbol, words]) el.addEventListener('change', () => void attempt(load));
  await Promise.all([load(), pagedTable(c, '/api/backtests/sweeps?limit=20', sweepCols, 'No sweeps yet.', sweeps)]);
  return h(
    'section',
    null,
    h('h1', null, 'Backtests'),
    h(
      'p',
      { class: 'muted' },
      `Run one from a strategy\u2019s page. Tick two to ${MAX_COMPARE} finished runs to compare them.`,
    ),
    h('div', { class: 'row filters' }, kind, symbol, status, words, compare, ...picker.actions, csv),
    runs,
    h('h2', null, 'Sweeps'),
    h('p', { class: 'muted' }, 'Each sweep\u2019s backtests are on its page, ranked.'),
    sweeps,
  );
}

/**
 * What each leg of a portfolio's walk-forward window made, in one cell (the report's legsCell says the same).
 * @param {{ symbol: string, startEquity: number, endEquity: number, trades: number }[] | undefined} legs
 */
const legsCell = (legs) =>
  (legs ?? [])
    .map((l) => {
      const pnl = l.endEquity - l.startEquity;
      return `${l.symbol} ${pnl >= 0 ? '+' : ''}${pnl.toFixed(2)} (${l.trades})`;
    })
    .join(', ') || '–';

/**
 * A sweep's or a walk-forward's portfolio as a line says it: each symbol with its weight in percent.
 * @param {{ symbols: string[], weights: number[] }} p
 */
const legsText = (p) => p.symbols.map((x, i) => `${x} ${(p.weights[i] * 100).toFixed(0)} %`).join(', ');

/**
 * A walk-forward's folds: what was picked on each in-sample window and how it did on the next one,
 * with the figures that say whether the optimisation holds up on data it had not seen.
 * @param {any} wf the API's GET /api/backtests/:id/walk-forward
 */
export function walkForwardSummary(wf, /** @type {(() => void) | undefined} */ saveLatest) {
  const rankBy = wf.spec?.rankBy ?? 'sharpe';
  const day = (/** @type {string} */ t) => String(t).slice(0, 10);
  const combo = (/** @type {Record<string, unknown>} */ x) =>
    Object.entries(x ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const oosReturn = wf.folds.length ? wf.folds[wf.folds.length - 1].endEquity / wf.folds[0].startEquity - 1 : NaN;
  return h(
    'div',
    { class: 'walk-forward' },
    h('h2', null, 'Walk-forward'),
    // over a portfolio: each window's backtests portfolio backtests of these symbols and weights
    wf.portfolio
      ? h(
          'p',
          { class: 'wf-portfolio' },
          `Over a portfolio: ${legsText(wf.portfolio)}. Each window shares its starting equity out by these weights again.`,
        )
      : null,
    h(
      'p',
      { class: 'muted' },
      `${wf.folds.length} folds, ${wf.spec?.outOfSamplePct}% out of sample, ${wf.spec?.anchored ? 'anchored' : 'rolling'}, ranked by ${rankBy}${wf.spec?.minTrades ? ` (at least ${wf.spec.minTrades} trades in sample)` : ''}` +
        (wf.spec?.search
          ? `, each window searched adaptively (TPE: ${wf.spec.search.count} of ${wf.spec.search.of} points, the first ${wf.spec.search.startup} at random, seed ${wf.spec.search.seed})`
          : '') +
        '. ' +
        (wf.spec?.pick === 'robust'
          ? 'Each fold picks the most robust combination on its in-sample window (the best with its neighbours in the grid) and trades it, unchanged, on the window after.'
          : 'Each fold picks the best combination on its in-sample window and trades it, unchanged, on the window after.'),
    ),
    figureGrid([
      ['Out-of-sample return', `${num(oosReturn * 100)} %`],
      ['Efficiency', wf.efficiency == null ? '–' : num(wf.efficiency)],
      ['Full-period pick', combo(wf.fullPeriod?.combo)],
      ['Its in-sample return', `${num(wf.fullPeriod?.stats?.returnPct)} %`],
    ]),
    table(
      [
        ['Fold', (f) => String(f.fold)],
        ['In sample', (f) => `${day(f.inSample.from)} – ${day(f.inSample.to)}`],
        ['Out of sample', (f) => `${day(f.outOfSample.from)} – ${day(f.outOfSample.to)}`],
        ['Picked', (f) => combo(f.chosen)],
        [`IS ${rankBy}`, (f) => cell(f.inSampleStats?.[rankBy])],
        [`OOS ${rankBy}`, (f) => cell(f.outOfSampleStats?.[rankBy])],
        ['OOS return %', (f) => cell(f.outOfSampleStats?.returnPct)],
        ['Trades', (f) => cell(f.outOfSampleStats?.trades)],
        // with risk limits: what they did in each out-of-sample window
        ...(wf.folds.some((/** @type {any} */ f) => f.limits)
          ? /** @type {[string, (f: any) => any][]} */ ([['Risk limits', (f) => haltsCell(f.limits)]])
          : []),
        // over a portfolio: what each leg made of its share out of sample
        ...(wf.folds.some((/** @type {any} */ f) => f.legs)
          ? /** @type {[string, (f: any) => any][]} */ ([['By symbol: PnL (trades)', (f) => legsCell(f.legs)]])
          : []),
      ],
      wf.folds,
      'No folds.',
    ),
    (wf.warnings ?? []).map((/** @type {string} */ w) => h('p', { class: 'muted' }, `Note: ${w}`)),
    saveLatest && wf.folds.length
      ? h(
          'button',
          {
            class: 'secondary',
            onclick: saveLatest,
            title: 'the pick of the last fold: what the optimisation would trade next',
          },
          `Save the latest pick (${combo(wf.folds[wf.folds.length - 1].chosen)}) as a strategy`,
        )
      : '',
  );
}

/**
 * A Monte Carlo over a run's trades: its spread of final returns and drawdowns beside the run's own.
 * @param {any} mc the API's GET /api/analytics/backtests/:id/monte-carlo
 */
export function monteCarloView(mc) {
  const pct = (/** @type {number} */ v) => `${num(v)} %`;
  return h(
    'div',
    { class: 'monte-carlo' },
    h(
      'h2',
      null,
      `Monte Carlo: ${mc.runs.toLocaleString('en-US')} runs, ${mc.method === 'shuffle' ? 'trades shuffled' : 'trades drawn with replacement'}`,
    ),
    figureGrid([
      ['Return, this run', pct(mc.actual.returnPct)],
      ['Return 5th / 50th / 95th pct', `${pct(mc.returnPct.p5)} / ${pct(mc.returnPct.p50)} / ${pct(mc.returnPct.p95)}`],
      ['Chance of a loss', `${num(mc.probabilityOfLoss * 100, 1)} %`],
      ['Max DD, this run', pct(mc.actual.maxDrawdownPct)],
      ['Max DD 5th / 50th pct', `${pct(mc.maxDrawdownPct.p5)} / ${pct(mc.maxDrawdownPct.p50)}`],
      ['Chance of a deeper DD', `${num(mc.probabilityOfWorseDrawdown * 100, 1)} %`],
    ]),
    svgBox(
      lineChart({
        title: 'Final return % of every run, lowest to highest',
        height: 160,
        series: [{ values: mc.returnQuantiles, color: '#7c3aed', label: 'return %' }],
        times: ['worst run', 'best run'],
      }),
    ),
  );
}

/**
 * A portfolio backtest's legs (what each symbol made of its share) and how their returns moved together.
 * @param {any} pf the API's GET /api/backtests/:id/portfolio
 */
export function portfolioSummary(pf) {
  const symbols = pf.correlation?.symbols ?? [];
  return h(
    'div',
    { class: 'portfolio' },
    h('h2', null, 'Portfolio'),
    h(
      'p',
      { class: 'muted' },
      `${pf.legs.length} symbols, each traded by the strategy with its share of the balance and its own cash; the equity below is their sum.`,
    ),
    table(
      [
        ['Symbol', (l) => l.symbol],
        ['Weight %', (l) => num(l.weight * 100, 1)],
        ['Start', (l) => num(l.startingBalance)],
        ['Final equity', (l) => num(l.finalEquity)],
        ['Return %', (l) => cell(l.stats?.returnPct)],
        ['Contribution %', (l) => cell(l.contributionPct)],
        ['Max drawdown %', (l) => cell(l.stats?.maxDrawdownPct)],
        ['Trades', (l) => cell(l.stats?.trades)],
        ['Win rate %', (l) => cell(l.stats?.winRatePct)],
      ],
      pf.legs,
      'No symbols.',
    ),
    symbols.length > 1
      ? [
          h('h3', null, 'Correlation of the symbols’ returns'),
          table(
            [
              ['', (/** @type {number} */ i) => symbols[i]],
              ...symbols.map(
                (/** @type {string} */ s, /** @type {number} */ j) =>
                  /** @type {[string, (i: number) => any]} */ ([s, (i) => cell(pf.correlation.matrix[i][j])]),
              ),
            ],
            symbols.map((/** @type {string} */ _s, /** @type {number} */ i) => i),
          ),
        ]
      : '',
  );
}

/**
 * The paper session a backtest leads to: the same strategy on the live feed of its symbol, with its
 * money settings, evaluated on each closed candle of its interval. When the strategy has been changed
 * since the backtest, the session trades the strategy as it is now, and the page says so. A sweep's
 * point trades its combination: saved as a strategy of its own first.
 * @param {import('./app.js').Ctx} c @param {any} b the backtest
 * @param {HTMLInputElement} [limit] a portfolio's drawdown limit (%), if typed
 */
export async function paperTrade(c, b, limit) {
  // a sweep's point: its combination saved as a strategy of its own first, then traded
  const combo = b.kind === 'sweep' ? b.parameters?.combo : undefined;
  const strategy = await attempt(() =>
    combo ? copyWithCombo(c, b, combo) : c.api.get(`/api/strategies/${encodeURIComponent(b.strategyId)}`),
  );
  if (!strategy) return;
  const p = b.parameters ?? {};
  const settings = {
    strategyId: strategy.id,
    name: `${strategy.name} (from backtest ${String(b.id).slice(0, 8)})`,
    startingBalance: p.startingBalance,
    feeRate: p.feeRate,
    feeFixed: p.feeFixed,
    // an exchange's rules, when the backtest had them
    ...Object.fromEntries(EXCHANGE_KEYS.filter((k) => p[k] !== undefined).map((k) => [k, p[k]])),
    slippageBps: p.slippageBps,
    allowShort: p.allowShort,
    ...(p.leverage ? { leverage: p.leverage, maintenanceMarginPct: p.maintenanceMarginPct } : {}),
    ...(p.fundingRatePct ? { fundingRatePct: p.fundingRatePct } : {}),
    // the risk limits the backtest applied, the session's own
    ...(p.risk ? { risk: p.risk } : {}),
    evaluation: { mode: 'candle', interval: b.interval },
  };
  // a portfolio backtest becomes a paper portfolio: a session per symbol, each with its weight's share
  const pf = p.portfolio;
  const s = await attempt(() =>
    pf
      ? c.api.post('/api/forward-tests/portfolio', {
          ...settings,
          symbols: pf.symbols,
          weights: pf.weights,
          // each symbol's own lot size and minimum, when the backtest had them
          ...(pf.rules ? { symbolRules: pf.rules } : {}),
          ...portfolioRiskOf(pf.risk, limit),
        })
      : c.api.post('/api/forward-tests', { ...settings, symbol: b.symbol }),
  );
  if (!s) return;
  if (!combo && p.strategyVersion && strategy.version !== p.strategyVersion)
    toast(`The strategy changed since this backtest (v${p.strategyVersion}); the session trades v${strategy.version}.`);
  c.go(pf ? `#/paper-portfolios/${s.id}` : `#/sessions/${s.id}`);
}

/**
 * A paper portfolio's limits from its backtest's (`risk`) and the drawdown typed beside the button (it
 * replaces the backtest's; emptied, none): `{portfolioRisk}`, or nothing without a limit.
 * @param {Record<string, number | boolean> | undefined} risk @param {HTMLInputElement | undefined} typed
 */
function portfolioRiskOf(risk, typed) {
  /** @type {Record<string, number | boolean>} */
  const r = { ...risk };
  delete r.maxDrawdownPct;
  if (typed?.value.trim()) r.maxDrawdownPct = Number(typed.value);
  return r.maxDrawdownPct !== undefined || r.maxDailyLossPct !== undefined ? { portfolioRisk: r } : {};
}

/**
 * A form of `fields` and a Save button that sends them, read into a body by `bodyOf`, as a PATCH to
 * `url`, and hands the answer to `done` (a refusal is the API's message in a toast).
 * @param {import('./app.js').Ctx} c @param {string} url
 * @param {(f: Record<string, string>) => unknown} bodyOf @param {(r: any) => unknown} done
 * @param {...(Node | string)} fields
 * @returns {HTMLFormElement}
 */
function patchForm(c, url, bodyOf, done, ...fields) {
  const form = /** @type {HTMLFormElement} */ (
    h(
      'form',
      {
        class: 'row',
        onsubmit: async (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          const f = /** @type {Record<string, string>} */ (Object.fromEntries(new FormData(form)));
          const r = await attempt(() => c.api.patch(url, bodyOf(f)));
          if (r) await done(r);
        },
      },
      ...fields,
      h('button', { class: 'secondary' }, 'Save'),
    )
  );
  return form;
}

/**
 * A paper portfolio: its sessions' sums, each session with its weight and contribution, the summed
 * equity beside buying and holding the same allocation, and the buttons that drive every session at once.
 * Refreshed every 2 s while shown. @param {import('./app.js').Ctx} c @param {string} id
 */
export async function paperPortfolioView(c, id) {
  const enc = encodeURIComponent(id);
  const body = h('div');
  const load = async () => {
    const [pf, equity, events] = await Promise.all([
      c.api.get(`/api/forward-tests/portfolios/${enc}`),
      c.api.get(`/api/forward-tests/portfolios/${enc}/equity`),
      c.api.get(`/api/forward-tests/portfolios/${enc}/events`),
    ]);
    // the times none of its sessions traded (its limits on the sum, or you), shaded on both charts
    const bands = bandsAt(
      equity.map((/** @type {any} */ p) => Date.parse(p.ts)),
      portfolioHaltSpans(events, pf.portfolioRisk),
    );
    const verb = (/** @type {string} */ v, /** @type {string} */ label) =>
      h(
        'button',
        {
          class: 'secondary',
          onclick: async () => {
            if (await attempt(() => c.api.post(`/api/forward-tests/portfolios/${enc}/${v}`))) await load();
          },
        },
        label,
      );
    const times = equity.length ? [when(equity[0].ts), when(equity[equity.length - 1].ts)] : [];
    body.replaceChildren(
      h('p', null, `${pf.name ?? 'Paper portfolio'} · ${pf.symbols.join(', ')}`),
      figureGrid([
        ...sumTiles(pf),
        ['Trades', cell(pf.trades)],
        ['Max drawdown', pf.stats ? `${num(pf.stats.maxDrawdownPct)} %` : '–'],
        // the portfolio's limits on its summed equity, when it has them
        ...(pf.portfolioRisk?.maxDrawdownPct !== undefined
          ? [/** @type {[string, string]} */ (['Stops at drawdown', `${num(pf.portfolioRisk.maxDrawdownPct)} %`])]
          : []),
        ...(pf.portfolioRisk?.maxDailyLossPct !== undefined
          ? [/** @type {[string, string]} */ (['Pauses at daily loss', `${num(pf.portfolioRisk.maxDailyLossPct)} %`])]
          : []),
      ]),
      h(
        'div',
        { class: 'row' },
        pf.byStatus?.created ? verb('start', 'Start') : '',
        pf.byStatus?.running ? verb('pause', 'Pause') : '',
        pf.byStatus?.paused ? verb('resume', 'Resume') : '',
        pf.byStatus?.running || pf.byStatus?.paused || pf.byStatus?.created ? verb('stop', 'Stop') : '',
        removeButton(c, `/api/forward-tests/portfolios/${enc}`, 'this paper portfolio and its sessions', '#/sessions'),
      ),
      h(
        'div',
        { class: 'portfolio-legs' },
        table(
          [
            ['Session', (s) => h('a', { href: `#/sessions/${s.id}` }, s.symbol)],
            ['Weight %', (s) => cell(s.weight * 100)],
            ['Status', (s) => s.status],
            ['Equity', (s) => num(s.equity)],
            ['Return %', (s) => cell(s.returnPct)],
            ['Contribution %', (s) => cell(s.contributionPct)],
            ['Trades', (s) => cell(s.trades)],
          ],
          pf.sessions,
          'No sessions.',
        ),
      ),
      svgBox(
        lineChart({
          title: 'Equity (all symbols together) and buy and hold of the same allocation',
          series: [
            { values: equity.map((/** @type {any} */ p) => p.equity), color: '#0f766e', label: 'equity' },
            { values: equity.map((/** @type {any} */ p) => p.buyAndHold), color: '#94a3b8', label: 'buy and hold' },
          ],
          bands,
          times,
        }),
      ),
      svgBox(
        lineChart({
          title: 'Drawdown %',
          height: 140,
          // with the drawdown stop on the summed equity, if it has one
          series: drawdownSeries(
            equity.map((/** @type {any} */ p) => p.equity),
            pf.portfolioRisk?.maxDrawdownPct,
          ),
          bands,
          times,
        }),
      ),
      // its sessions' timelines as one, newest first
      h(
        'div',
        { class: 'timeline' },
        h(
          'h2',
          null,
          `Timeline (${events.length}) `,
          csvButton(
            c,
            `/api/forward-tests/portfolios/${enc}/events?format=csv&limit=10000`,
            `portfolio-${id}-events.csv`,
          ),
        ),
        autoTable(
          timelineRows(events)
            .map((r, i) => ({ symbol: events[i].symbol, ...r }))
            .reverse()
            .slice(0, 200),
          4,
          'Nothing yet.',
        ),
      ),
    );
    return pf;
  };
  const first = await load();
  // its limits on the summed equity, changed while it runs (both empty: none); built apart from the
  // 2-second refresh, so what is being typed stays
  const limitsBox = h('details', { class: 'portfolio-limits' });
  const drawLimits = (/** @type {Record<string, any> | null} */ pr, /** @type {{ at: string }[]} */ changes = []) => {
    const form = patchForm(
      c,
      `/api/forward-tests/portfolios/${enc}`,
      portfolioRiskPatch,
      async (r) => {
        limitsBox.removeAttribute('open');
        drawLimits(r.portfolioRisk, r.portfolioRiskChanges);
        toast('Saved: the summed equity is checked against these from now on.');
        await load();
      },
      h(
        'label',
        null,
        'stop at drawdown of the sum (%) ',
        h('input', { name: 'maxDrawdownPct', type: 'number', min: 0, step: 'any', value: pr?.maxDrawdownPct ?? '' }),
      ),
      h(
        'label',
        null,
        'pause at daily loss of the sum (%) ',
        h('input', { name: 'maxDailyLossPct', type: 'number', min: 0, step: 'any', value: pr?.maxDailyLossPct ?? '' }),
      ),
      h(
        'label',
        null,
        h('input', { name: 'resumeNextDay', type: 'checkbox', ...(pr?.resumeNextDay ? { checked: '' } : {}) }),
        ' resume the next day',
      ),
    );
    limitsBox.replaceChildren(
      h('summary', null, 'Limits on the sum'),
      form,
      // when they were changed (portfolioRiskChanges, the last 100)
      changes.length
        ? h(
            'p',
            { class: 'muted risk-changes' },
            `Limits on the sum changed ${changes.length} time${changes.length > 1 ? 's' : ''} while it ran, last ${when(changes[changes.length - 1]?.at)}.`,
          )
        : '',
    );
  };
  drawLimits(first.portfolioRisk, first.portfolioRiskChanges);
  const timer = setInterval(() => {
    if (!body.isConnected) clearInterval(timer);
    else void load().catch(() => undefined);
  }, 2000);
  return h('section', null, h('h1', null, 'Paper portfolio'), limitsBox, body);
}

/** @param {import('./app.js').Ctx} c @param {string} id */
export async function backtestView(c, id) {
  const enc = encodeURIComponent(id);
  const head = h('div');
  const body = h('div');
  let shown = '';
  const show = async (/** @type {any} */ b) => {
    head.replaceChildren(
      h('p', null, `${b.symbol} ${b.interval ?? ''} · ${b.status}${b.error ? `: ${b.error}` : ''}`),
      b.parameters ? h('p', { class: 'muted settings' }, settingsText(b.parameters)) : '',
      b.status === 'running' || b.status === 'queued' ? progressBar(b.progress ?? 0) : '',
      b.status === 'running' || b.status === 'queued'
        ? h(
            'button',
            { class: 'secondary', onclick: () => void attempt(() => c.api.post(`/api/backtests/${enc}/cancel`)) },
            'Cancel',
          )
        : '',
    );
    if (b.status !== 'done' || shown === 'done') return;
    shown = 'done';
    const wf = b.kind === 'walk-forward';
    const [risk, equity, trades, folds, pf] = await Promise.all([
      c.api.get(`/api/analytics/backtests/${enc}`),
      c.api.get(`/api/backtests/${enc}/equity`),
      c.api.get(`/api/backtests/${enc}/trades`),
      wf ? c.api.get(`/api/backtests/${enc}/walk-forward`) : undefined,
      b.kind === 'portfolio' ? c.api.get(`/api/backtests/${enc}/portfolio`) : undefined,
    ]);
    const reportBox = h('div');
    // in a sandboxed frame (no scripts, an origin of its own): whatever the report holds cannot
    // reach this page's session
    const showReport = async () => {
      const html = await attempt(() => c.api.request('GET', `/api/backtests/${enc}/report`, undefined, { text: true }));
      if (html)
        reportBox.replaceChildren(
          h('iframe', { class: 'report', sandbox: '', title: 'backtest report', srcdoc: html }),
        );
    };
    const mcBox = h('div');
    const showMonteCarlo = async (/** @type {'bootstrap' | 'shuffle'} */ method) => {
      const mc = await attempt(() =>
        c.api.get(`/api/analytics/backtests/${enc}/monte-carlo?runs=2000&method=${method}`),
      );
      if (mc) mcBox.replaceChildren(monteCarloView(mc));
    };
    const portfolioLimit = /** @type {HTMLInputElement} */ (
      h('input', {
        name: 'portfolioDrawdownPct',
        type: 'number',
        min: 0.01,
        max: 100,
        step: 'any',
        size: 5,
        // the backtest's own, when it had one
        value: b.parameters?.portfolio?.risk?.maxDrawdownPct,
      })
    );
    body.replaceChildren(
      h(
        'div',
        { class: 'row' },
        h('button', { class: 'secondary', onclick: () => void showReport() }, 'Show the full report'),
        (b.kind === 'single' || b.kind === 'portfolio' || b.kind === 'sweep') && b.strategyId
          ? h(
              'button',
              {
                class: 'secondary',
                title:
                  (b.kind === 'sweep' ? "this combination's parameters saved as a strategy, then " : '') +
                  (b.parameters?.portfolio
                    ? 'paper sessions of the same strategy on the live feeds of these symbols, each with its share, with these settings'
                    : 'a paper session of the same strategy on the live feed of this symbol, with these settings'),
                onclick: () => void paperTrade(c, b, portfolioLimit),
              },
              b.kind === 'sweep' ? 'Paper trade this combination' : 'Paper trade it',
            )
          : '',
        b.parameters?.portfolio && b.strategyId
          ? h(
              'label',
              { title: 'every session stopped when the summed equity falls this far from its peak' },
              'stop the paper portfolio at a drawdown of (%) ',
              portfolioLimit,
            )
          : '',
        h(
          'button',
          {
            class: 'secondary',
            title: '2,000 runs of as many trades drawn from this run’s (with replacement)',
            onclick: () => void showMonteCarlo('bootstrap'),
          },
          'Monte Carlo',
        ),
        h(
          'button',
          {
            class: 'secondary',
            title: '2,000 runs of this run’s trades in random orders: the drawdowns order alone can make',
            onclick: () => void showMonteCarlo('shuffle'),
          },
          'Shuffle trades',
        ),
      ),
      reportBox,
      mcBox,
      folds ? walkForwardSummary(folds, () => void saveCombo(c, id, folds.folds.at(-1)?.chosen ?? {})) : '',
      pf ? portfolioSummary(pf) : '',
      // the risk limits and what they did, or the entries under an exchange's minimum order value not made
      // a portfolio's limits are on its summed equity (its legs' own are in each leg's run)
      b.parameters?.risk || b.metrics?.limits
        ? limitsSummary(b.parameters?.portfolio?.risk ?? b.parameters?.risk ?? {}, b.metrics?.limits)
        : '',
      equityCharts(
        equity,
        wf ? 'Equity out of sample (the folds chained)' : pf ? 'Equity (all symbols together)' : 'Equity',
        // shaded where the limits stopped or paused trading (a walk-forward's in its folds)
        haltSpans(
          b.parameters?.portfolio?.risk ?? b.parameters?.risk ?? {},
          b.metrics?.limits?.halts ?? (folds?.folds ?? []).flatMap((/** @type {any} */ f) => f.limits?.halts ?? []),
        ),
        // the drawdown stop's level (not a walk-forward's: each window's is from its own start); a
        // portfolio's on its summed equity (its legs' own are not on the sum)
        wf ? undefined : (b.parameters?.portfolio ? b.parameters.portfolio.risk : b.parameters?.risk)?.maxDrawdownPct,
      ),
      h(
        'div',
        { class: 'two' },
        h(
          'div',
          null,
          h('h2', null, 'Statistics and risk'),
          statsTable(risk.report),
          h('h2', null, 'Exits'),
          h('div', { class: 'exits' }, exitsTable(risk.report?.exits ?? [])),
          h('h2', null, 'Entries'),
          h('div', { class: 'entries' }, exitsTable(risk.report?.entries ?? [], true)),
        ),
        h(
          'div',
          null,
          h(
            'h2',
            null,
            `Trades (${trades.length}) `,
            csvButton(c, `/api/backtests/${enc}/trades?format=csv`, `backtest-${id}-trades.csv`),
            csvButton(c, `/api/backtests/${enc}/equity?format=csv`, `backtest-${id}-equity.csv`, 'equity CSV'),
          ),
          tradesTable(trades.slice(-200)),
        ),
      ),
      trades.length
        ? svgBox(maeScatter(trades, { title: 'Trades: how far each went against you, and how it ended' }))
        : '',
    );
  };
  let state = await c.api.get(`/api/backtests/${enc}`);
  await show(state);
  // its name and note, changed here (the list finds it by either)
  const title = h('h1');
  const noteLine = h('p', { class: 'note' });
  const labelBox = h('details', { class: 'edit-label' });
  const drawLabel = (/** @type {any} */ b) => {
    title.textContent = b.name ? `Backtest: ${b.name}` : 'Backtest';
    noteLine.textContent = b.note ?? '';
    labelBox.replaceChildren(
      h('summary', null, 'Name and note'),
      patchForm(
        c,
        `/api/backtests/${enc}`,
        (f) => ({ name: f.name.trim() || null, note: f.note.trim() || null }),
        (r) => {
          state = { ...state, name: r.name, note: r.note };
          labelBox.removeAttribute('open');
          drawLabel(state);
          toast('Saved.');
        },
        h('label', null, 'name ', h('input', { name: 'name', maxlength: 200, value: b.name ?? '' })),
        h('label', null, 'note ', h('input', { name: 'note', maxlength: 2000, size: 40, value: b.note ?? '' })),
      ),
    );
  };
  drawLabel(state);
  c.onLeave(
    c.live.on(`backtest:${id}`, (e) => {
      // each of these events carries the status, progress and error the page shows (no refetch)
      if (
        e.type === 'backtest.progress' ||
        e.type === 'backtest.status' ||
        e.type === 'backtest.done' ||
        e.type === 'backtest.failed'
      ) {
        state = { ...state, ...e.data };
        void attempt(() => show(state));
      }
    }),
  );
  return h('section', null, title, noteLine, labelBox, head, body);
}

/** @param {import('./app.js').Ctx} c */
export async function sessionsView(c) {
  // sessions ticked to compare
  // sessions ticked: compared, paused, resumed, stopped or deleted together
  /** @param {string} verb */
  const each = (verb) => (/** @type {string} */ id) =>
    c.api.post(`/api/forward-tests/${encodeURIComponent(id)}/${verb}`);
  const picker = rowPicker(c, '#/compare-sessions', 'tick this session', () => true, [
    {
      label: 'Pause selected',
      ask: (n) => `Pause the ${n} selected sessions?`,
      run: each('pause'),
      done: 'Paused',
      back: '#/sessions',
    },
    {
      label: 'Resume selected',
      ask: (n) => `Resume the ${n} selected sessions?`,
      run: each('resume'),
      done: 'Resumed',
      back: '#/sessions',
    },
    {
      label: 'Stop selected',
      ask: (n) => `Stop the ${n} selected sessions? A stopped session cannot be started again.`,
      run: each('stop'),
      done: 'Stopped',
      back: '#/sessions',
    },
    {
      label: 'Delete selected',
      ask: (n) => `Delete the ${n} selected sessions and their trades?`,
      run: (id) => c.api.del(`/api/forward-tests/${encodeURIComponent(id)}`),
      done: 'Deleted',
      back: '#/sessions',
    },
  ]);
  const { compare, pick } = picker;
  /** @type {[string, (s: any) => any][]} */
  const cols = [
    ['', pick],
    ['Session', (s) => h('a', { href: `#/sessions/${s.id}` }, s.name ?? s.id.slice(0, 8))],
    ['Symbol', (s) => s.symbol],
    ['Status', (s) => s.status],
    ['Equity', (s) => num(s.equity)],
    ['Return %', (s) => cell(s.returnPct)],
    ['Trades', (s) => cell(s.trades)],
    ['Started', (s) => when(s.startedAt ?? s.createdAt)],
    [
      '',
      (s) =>
        removeButton(c, `/api/forward-tests/${encodeURIComponent(s.id)}`, 'this session and its trades', '#/sessions'),
    ],
  ];
  const sessions = h('div', { class: 'runs' });
  // narrowed by status (each change reads the first page again)
  const status = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { name: 'status', 'aria-label': 'status' },
      SESSION_STATUSES.map((v) => h('option', { value: v }, v || 'Any status')),
    )
  );
  const load = () =>
    pagedTable(
      c,
      `/api/forward-tests?limit=100${status.value ? `&status=${status.value}` : ''}`,
      cols,
      status.value ? `No ${status.value} sessions.` : 'No sessions yet.',
      sessions,
    );
  status.addEventListener('change', () => void attempt(load));
  const [p, portfolios] = await Promise.all([
    c.api.get('/api/analytics/portfolio'),
    c.api.get('/api/forward-tests/portfolios'),
    load(),
  ]);
  return h(
    'section',
    null,
    h('h1', null, 'Paper trading'),
    h(
      'p',
      { class: 'muted' },
      `Start a session from a strategy\u2019s page; it trades on live ticks with paper money. Tick two to ${MAX_COMPARE} sessions to compare them.`,
    ),
    p.sessions ? figureGrid([...sumTiles(p), ['Exposure', num(p.exposure)], ['Trades', cell(p.trades)]]) : '',
    portfolios.length
      ? h(
          'div',
          { class: 'paper-portfolios' },
          h('h2', null, 'Paper portfolios'),
          table(
            [
              ['Portfolio', (x) => h('a', { href: `#/paper-portfolios/${x.id}` }, x.name ?? x.id.slice(0, 8))],
              ['Symbols', (x) => x.symbols.join(', ')],
              ['Equity', (x) => num(x.equity)],
              ['Return %', (x) => cell(x.returnPct)],
              ['Trades', (x) => cell(x.trades)],
              ['Started', (x) => when(x.createdAt)],
            ],
            portfolios,
            '',
          ),
          h('h2', null, 'Sessions'),
        )
      : '',
    p.sessions ? h('div', { class: 'row filters' }, status, compare, ...picker.actions) : '',
    sessions,
  );
}

/** @param {import('./app.js').Ctx} c @param {string} id */
export async function sessionView(c, id) {
  const enc = encodeURIComponent(id);
  const [s0, equity0, trades0, refused0, events0] = await Promise.all([
    c.api.get(`/api/forward-tests/${enc}`),
    c.api.get(`/api/forward-tests/${enc}/equity`),
    // its newest 1,000 fills (a long session has more), in the order applied
    c.api.get(`/api/forward-tests/${enc}/trades?order=desc&limit=1000`),
    c.api.get(`/api/forward-tests/${enc}/orders?status=refused&limit=50`),
    c.api.get(`/api/forward-tests/${enc}/events`),
  ]);
  // its timeline: each change of its status, when and why
  let events = /** @type {any[]} */ (events0);
  let s = s0;
  const points = /** @type {{ ts: string, equity: number }[]} */ (
    equity0.map((/** @type {any} */ p) => ({ ts: p.ts, equity: p.equity }))
  );
  const trades = /** @type {any[]} */ (trades0).reverse();
  const figures = h('div');
  const charts = h('div');
  const tradeBox = h('div');
  const reportBox = h('div', { class: 'session-report' });
  const actions = h('div', { class: 'row' });
  // an order by hand, at the market now (a running or paused session): what it did, or why not, below it
  const orderResult = h('p', { class: 'order-result muted' });
  const orderForm = /** @type {HTMLFormElement} */ (
    h(
      'form',
      {
        class: 'order-form row',
        'aria-label': 'order by hand',
        onsubmit: async (/** @type {SubmitEvent} */ e) => {
          e.preventDefault();
          const f = new FormData(orderForm);
          const v = orderBody({
            action: String(f.get('action')),
            sizing: String(f.get('sizing')),
            amount: String(f.get('amount') ?? ''),
            type: String(f.get('type')),
            price: String(f.get('price') ?? ''),
            trailPercent: String(f.get('trailPercent') ?? ''),
            ocoGroup: String(f.get('ocoGroup') ?? ''),
            validMinutes: String(f.get('validMinutes') ?? ''),
            stopLoss: String(f.get('stopLoss') ?? ''),
            takeProfit: String(f.get('takeProfit') ?? ''),
          });
          if ('error' in v) {
            orderResult.textContent = v.error;
            return;
          }
          const r = await attempt(() => c.api.post(`/api/forward-tests/${enc}/orders`, v.body));
          orderResult.textContent = r ? orderText(r) : 'The order was not placed (see the message).';
          if (r) {
            s = r.session;
            drawFigures();
          }
        },
      },
      h(
        'select',
        { name: 'action', 'aria-label': 'order' },
        h('option', { value: 'buy' }, 'Buy'),
        h('option', { value: 'sell' }, 'Sell'),
        h('option', { value: 'close' }, 'Close %'),
      ),
      h('input', {
        name: 'amount',
        type: 'number',
        step: 'any',
        min: '0',
        placeholder: 'amount',
        'aria-label': 'amount',
      }),
      h(
        'select',
        { name: 'sizing', 'aria-label': 'sizing' },
        ORDER_SIZINGS.map(([value, label]) => h('option', { value }, label)),
      ),
      h(
        'select',
        { name: 'type', 'aria-label': 'order type' },
        ORDER_TYPES.map(([value, label]) => h('option', { value }, label)),
      ),
      h('input', {
        name: 'price',
        type: 'number',
        step: 'any',
        min: '0',
        placeholder: 'price (limit, stop)',
        'aria-label': 'price',
      }),
      h('input', {
        name: 'trailPercent',
        type: 'number',
        step: 'any',
        min: '0',
        max: '50',
        placeholder: 'trail % (trailing stop)',
        'aria-label': 'trail percent',
        title:
          'a trailing stop: its distance from the best price since it was placed, which it follows (on a buy or sell of another type: a trailing stop closing its position, from its fill price)',
      }),
      h('input', {
        name: 'ocoGroup',
        placeholder: 'OCO group',
        'aria-label': 'one-cancels-the-other group',
        title: 'resting orders with the same group: once one triggers, the others are cancelled',
        size: 10,
      }),
      h('input', {
        name: 'validMinutes',
        type: 'number',
        step: '1',
        min: '1',
        placeholder: 'minutes it rests',
        'aria-label': 'minutes it rests',
      }),
      h('input', {
        name: 'stopLoss',
        type: 'number',
        step: 'any',
        min: '0',
        placeholder: 'stop loss price',
        'aria-label': 'stop loss price',
        title: 'a buy or sell: once it fills, a stop closing the position at this price',
      }),
      h('input', {
        name: 'takeProfit',
        type: 'number',
        step: 'any',
        min: '0',
        placeholder: 'take profit price',
        'aria-label': 'take profit price',
        title: 'a buy or sell: once it fills, a limit closing the position at this price',
      }),
      h(
        'button',
        {
          class: 'secondary',
          title: 'at the market now, or resting at a price (limit, stop); the strategy manages the position as its own',
        },
        'Place order',
      ),
    )
  );
  // its limit and stop orders by hand resting, each with a Cancel
  const openBox = h('div', { class: 'open-orders' });
  let openKey = '';
  /**
   * each resting order's line, by its id: kept across redraws, only its words changing (a trailing stop's
   * level moves with the pushes), so a click on its Move or Cancel and what is typed in its box stay
   * @type {Map<string, { o: any, words: Text, li: HTMLElement }>}
   */
  const lines = new Map();
  const lineOf = (/** @type {any} */ o) => {
    let line = lines.get(o.id);
    if (!line) {
      const trailing = o.type === 'trailing_stop';
      const words = document.createTextNode('');
      // a resting order moved to a price typed beside it (its stop to break-even, its limit nearer; a
      // trailing stop: its trail %)
      const input = h('input', {
        type: 'number',
        step: 'any',
        min: '0',
        value: String(trailing ? o.trailPercent : o.price),
        'aria-label': trailing ? 'trail it by this percent' : 'move it to this price',
        class: 'move-price',
      });
      const move = async () => {
        const out = moveBody(/** @type {HTMLInputElement} */ (input).value, held.o);
        if ('error' in out) return void (orderResult.textContent = out.error);
        const r = await attempt(() =>
          c.api.patch(`/api/forward-tests/${enc}/open-orders/${encodeURIComponent(o.id)}`, out.body),
        );
        if (r) {
          orderResult.textContent = `Moved: ${openOrderText(r.open)}.`;
          void refresh();
        }
      };
      const cancel = async () => {
        const r = await attempt(() => c.api.del(`/api/forward-tests/${enc}/open-orders/${encodeURIComponent(o.id)}`));
        if (r !== undefined) void refresh();
      };
      const li = h(
        'li',
        null,
        words,
        h(
          'span',
          null,
          input,
          ' ',
          h(
            'button',
            {
              class: 'secondary',
              title: trailing
                ? 'amend the trailing stop: it trails the best price by this percent from now on'
                : 'amend the order: it rests at this price from now on',
              onclick: move,
            },
            'Move',
          ),
          ' ',
        ),
        h('button', { class: 'secondary', onclick: cancel }, 'Cancel'),
      );
      const held = { o, words, li };
      line = held;
      lines.set(o.id, held);
    }
    line.o = o;
    line.words.textContent = `${openOrderText(o)} `;
    return line.li;
  };
  const openHead = h('h2');
  const openList = h('ul');
  const drawOpen = () => {
    const list = /** @type {any[]} */ (s.openOrders ?? []);
    // drawn again only when what rests changed (the figures redraw on every push), each order's line kept
    const key = list.map((o) => `${o.id}@${o.amendedAt ?? ''}@${o.price}`).join();
    if (key === openKey && openBox.isConnected) return;
    openKey = key;
    for (const id of lines.keys()) if (!list.some((o) => o.id === id)) lines.delete(id);
    openHead.textContent = `Resting orders (${list.length})`;
    openList.replaceChildren(...list.map(lineOf));
    if (!list.length) openBox.replaceChildren();
    else if (!openList.isConnected) openBox.replaceChildren(openHead, openList);
  };
  const orderBox = h('div', { class: 'order-box' });
  // its name and its own limits, changed while it runs (a stopped one: its name only)
  const settingsLine = h('p', { class: 'muted settings' });
  const editBox = h('details', { class: 'edit-session' });
  const drawEdit = () => {
    const risk = s.config?.risk ?? {};
    const limits = s.status !== 'stopped' && s.status !== 'failed';
    const form = patchForm(
      c,
      `/api/forward-tests/${enc}`,
      (f) => sessionPatch(risk, f, limits),
      (r) => {
        s = r;
        editBox.removeAttribute('open');
        drawHead();
        drawFigures();
        drawCharts();
        toast('Saved: it trades under these from its next tick.');
      },
      h('label', null, 'name ', h('input', { name: 'name', maxlength: 200, value: s.name ?? '' })),
      ...(limits
        ? [
            ...EDITABLE_LIMITS.map(([k, label]) =>
              h(
                'label',
                null,
                `${label} `,
                h('input', { name: k, type: 'number', min: 0, step: 'any', value: risk[k] ?? '' }),
              ),
            ),
            h(
              'label',
              { title: "a daily loss's pause ends with the UTC day" },
              h('input', { name: 'resumeNextDay', type: 'checkbox', ...(risk.resumeNextDay ? { checked: '' } : {}) }),
              ' resume the next day',
            ),
          ]
        : []),
    );
    // when its limits were changed (config.riskChanges, the last 100)
    const changes = /** @type {{ at: string, risk: object }[]} */ (s.config?.riskChanges ?? []);
    editBox.replaceChildren(
      h('summary', null, limits ? 'Name and limits' : 'Name'),
      form,
      changes.length
        ? h(
            'p',
            { class: 'muted risk-changes' },
            `Limits changed ${changes.length} time${changes.length > 1 ? 's' : ''} while it ran, last ${when(changes[changes.length - 1]?.at)}.`,
          )
        : '',
    );
  };
  const title = h('h1');
  const drawHead = () => {
    title.textContent = `Session ${s.name ?? id.slice(0, 8)} · ${s.symbol}`;
    settingsLine.textContent = s.config ? settingsText(s.config) : '';
    drawEdit();
  };
  // the risk report of the session so far (statistics, VaR, streaks, MAE/MFE, the trades by what closed them)
  const showReport = async () => {
    const an = await attempt(() => c.api.get(`/api/analytics/sessions/${enc}`));
    if (!an) return;
    reportBox.replaceChildren(
      // how much of its life it traded, and what stopped it (its timeline)
      h('p', { class: 'activity' }, activityText(an.activity)),
      ...(an.report
        ? [
            h(
              'div',
              { class: 'two' },
              h('div', null, h('h2', null, 'Statistics and risk'), statsTable(an.report)),
              h(
                'div',
                null,
                h('h2', null, 'Exits'),
                h('div', { class: 'exits' }, exitsTable(an.report.exits ?? [])),
                h('h2', null, 'Entries'),
                h('div', { class: 'entries' }, exitsTable(an.report.entries ?? [], true)),
              ),
            ),
          ]
        : [h('p', { class: 'muted' }, an.reason ?? 'no report yet')]),
    );
  };
  const act = (/** @type {string} */ what) => async () => {
    const r = await attempt(() => c.api.post(`/api/forward-tests/${enc}/${what}`));
    if (r) void refresh();
  };
  const drawFigures = () => {
    figures.replaceChildren(
      figureGrid(
        /** @type {[string, string][]} */ ([
          ['Status', s.status],
          ['Equity', num(s.equity)],
          ['Cash', num(s.cash)],
          [
            'Position',
            s.position
              ? `${cell(s.position.quantity)} @ ${num(s.position.avgPrice)}` +
                (s.position.entries > 1 ? ` (${s.position.entries} entries)` : '')
              : 'flat',
          ],
          // a limit or stop order resting on the ticks, and until when
          ...(s.restingOrder
            ? [
                [
                  'Resting order',
                  `${s.restingOrder.action} ${s.restingOrder.orderType} @ ${num(s.restingOrder.level)} until ${when(s.restingOrder.until)}`,
                ],
              ]
            : []),
          // what its strategy warmed on when it last started or resumed
          ...(s.warmedOn
            ? [
                [
                  'Warmed on',
                  (s.warmedOn.storedCandles ? `${s.warmedOn.storedCandles} stored candles, ` : '') +
                    `${s.warmedOn.windowTicks} ticks`,
                ],
              ]
            : []),
          // with leverage: where the position would be liquidated
          ...(s.position?.liquidationPrice != null ? [['Liquidation at', num(s.position.liquidationPrice)]] : []),
          // the open position's stop loss and take profit (a percent's, or a distance's such as 2 × ATR)
          ...(s.position?.stopLoss != null ? [['Stop loss at', num(s.position.stopLoss)]] : []),
          ...(s.position?.takeProfit != null ? [['Take profit at', num(s.position.takeProfit)]] : []),
          ...(s.position?.targetsTaken ? [['Take-profit steps taken', String(s.position.targetsTaken)]] : []),
          ...(s.position?.trailingStop != null ? [['Trailing stop at', num(s.position.trailingStop)]] : []),
          // a Cooldown node's: entries held back until, and the run of exits toward its count
          ...(s.cooldownUntil ? [['No new position until', when(s.cooldownUntil)]] : []),
          ...(s.cooldownRun ? [['Exits counted toward the cooldown', String(s.cooldownRun)]] : []),
          ['PnL', num(s.pnl)],
          ['Return', `${num(s.returnPct)} %`],
          ['Max DD', `${num(s.maxDrawdownPct)} %`],
          ['Fees', num(s.fees)],
          // perpetual futures' funding paid (negative: received), when the session has a rate
          ...(s.funding ? [['Funding', num(s.funding)]] : []),
          ['Trades', cell(s.trades)],
          ['Win rate', `${num(s.winRatePct, 1)} %`],
        ]),
      ),
    );
    drawActions();
    const open = s.status === 'running' || s.status === 'paused';
    if (open !== orderBox.childElementCount > 0)
      orderBox.replaceChildren(...(open ? [orderForm, orderResult, openBox] : []));
    drawOpen();
  };
  // the buttons rebuilt only when which of them show changes (its status, or whether it holds a
  // position), so a click landing while the figures redraw on a tick is not lost
  let actionsKey = '';
  const drawActions = () => {
    const key = `${s.status}|${s.position ? 1 : 0}`;
    if (key === actionsKey) return;
    actionsKey = key;
    actions.replaceChildren(
      s.status === 'running' ? h('button', { class: 'secondary', onclick: act('pause') }, 'Pause') : '',
      s.status === 'paused' ? h('button', { class: 'secondary', onclick: act('resume') }, 'Resume') : '',
      s.status === 'created' ? h('button', { onclick: act('start') }, 'Start') : '',
      s.position && (s.status === 'running' || s.status === 'paused')
        ? h(
            'button',
            {
              class: 'secondary',
              title: 'close the open position at the market now; the strategy trades on from flat',
              onclick: act('close-position'),
            },
            'Close position',
          )
        : '',
      s.status !== 'stopped' && s.status !== 'failed'
        ? h('button', { class: 'danger', onclick: act('stop') }, 'Stop')
        : '',
      h('button', { class: 'secondary', onclick: () => void showReport() }, 'Risk report'),
      // the same graph and settings again, as a new session (a stopped one run again, or one beside it)
      h(
        'button',
        {
          class: 'secondary',
          title: 'a new session with the same strategy graph and settings',
          onclick: async () => {
            const r = await attempt(() => c.api.post(`/api/forward-tests/${enc}/clone`, {}));
            if (r) c.go(`#/sessions/${r.id}`);
          },
        },
        'Run again',
      ),
    );
  };
  // the times it was stopped or paused (by its limits, its paper portfolio's, or by hand) shaded, with
  // its drawdown stop's level (a paper portfolio's, on the sum, is not the session's)
  const drawCharts = () =>
    charts.replaceChildren(
      equityCharts(
        points,
        `Equity (${points.length} points)`,
        sessionHaltSpans(events, s),
        s.config?.risk?.maxDrawdownPct,
      ),
    );
  const timelineBox = h('div', { class: 'timeline' });
  const drawTimeline = () =>
    timelineBox.replaceChildren(
      h(
        'h2',
        null,
        `Timeline (${events.length}) `,
        csvButton(c, `/api/forward-tests/${enc}/events?format=csv&limit=10000`, `session-${id}-events.csv`),
      ),
      autoTable(timelineRows(events).reverse(), 3, 'Nothing yet.'),
    );
  const refused = /** @type {any[]} */ (refused0);
  const refusedBox = h('div');
  const drawRefused = () =>
    refusedBox.replaceChildren(
      refused.length ? h('h2', null, `Refused orders (${refused.length})`) : '',
      refused.length ? autoTable(refused.slice(0, 50), 8) : '',
    );
  const drawTrades = () =>
    tradeBox.replaceChildren(
      h(
        'h2',
        null,
        // a long session's newest fills only (the figures count them all)
        `Trades (${s.trades > trades.length ? `the newest ${trades.length} of ${s.trades}` : trades.length}) `,
        csvButton(c, `/api/forward-tests/${enc}/trades?format=csv&limit=10000`, `session-${id}-trades.csv`),
      ),
      autoTable(trades.slice(-200).reverse(), 9, 'No fills yet.'),
    );
  const refresh = async () => {
    s = await c.api.get(`/api/forward-tests/${enc}`);
    drawFigures();
  };
  // its name or limits changed (here or elsewhere): the heading, the settings line and the charts' stop level
  const refreshHead = async () => {
    const r = await attempt(() => c.api.get(`/api/forward-tests/${enc}`));
    if (!r) return;
    s = r;
    drawHead();
    drawFigures();
    drawCharts();
  };
  // a change of status: the figures, the timeline and the charts' spans again
  const refreshTimeline = async () => {
    const r = await attempt(() => c.api.get(`/api/forward-tests/${enc}/events`));
    if (!r) return;
    events = r;
    drawTimeline();
    drawCharts();
  };
  drawHead();
  drawFigures();
  drawCharts();
  drawTrades();
  drawRefused();
  drawTimeline();
  let scheduled = false;
  c.onLeave(
    c.live.on(`session:${id}`, (e) => {
      if (e.type === 'order.refused') {
        refused.unshift(e.data);
        drawRefused();
      }
      if (e.type === 'trade') {
        trades.push(e.data);
        drawTrades();
      } else if (e.type === 'equity' && Number.isFinite(e.data?.equity)) {
        points.push({ ts: e.data.ts ?? e.ts, equity: e.data.equity });
        drawCharts();
      }
      if (e.type === 'portfolio' || e.type === 'equity') s = { ...s, ...e.data };
      if (e.type === 'session.updated') void refreshHead();
      else if (e.type.startsWith('session.')) {
        void refresh();
        void refreshTimeline();
      } else if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(() => ((scheduled = false), drawFigures()));
      }
    }),
  );
  return h(
    'section',
    null,
    title,
    settingsLine,
    editBox,
    actions,
    orderBox,
    figures,
    reportBox,
    charts,
    tradeBox,
    timelineBox,
    refusedBox,
  );
}

/** A parameter sweep: its progress, then every combination ranked. @param {import('./app.js').Ctx} c @param {string} id */
export async function sweepView(c, id) {
  const enc = encodeURIComponent(id);
  const head = h('div');
  const conv = h('div');
  const map = h('div');
  const imp = h('div');
  const front = h('div', { class: 'pareto-chart' });
  const body = h('div');
  // the two measures of the Pareto front: return against drawdown unless chosen
  let [px, py] = ['returnPct', 'maxDrawdownPct'];
  const url = () => `/api/backtests/sweeps/${enc}?pareto=${px},${py}`;
  const measure = (/** @type {string} */ name, /** @type {string} */ value, /** @type {(v: string) => void} */ set) => {
    const sel = /** @type {HTMLSelectElement} */ (
      h(
        'select',
        {
          name,
          'aria-label': `Pareto front: ${name}`,
          onchange: (/** @type {Event} */ e) => {
            const v = /** @type {HTMLSelectElement} */ (e.target).value;
            // the other axis takes the old value when the same measure is picked twice
            if (name === 'x' && v === py) py = px;
            if (name === 'y' && v === px) px = py;
            set(v);
            void refresh();
          },
        },
        MEASURES.map((k) => h('option', { value: k }, k)),
      )
    );
    sel.value = value;
    return sel;
  };
  const combo = (/** @type {Record<string, unknown>} */ x) =>
    Object.entries(x ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
  const show = (/** @type {any} */ r) => {
    head.replaceChildren(
      h(
        'p',
        null,
        `${r.done} of ${r.total} backtests done, ranked by ${r.rankBy}` +
          (r.minTrades ? ` (fewer than ${r.minTrades} trades: last)` : ''),
      ),
      r.sample ? h('p', { class: 'muted' }, searchText(r.sample)) : '',
      // what every point ran with
      r.settings ? h('p', { class: 'muted settings' }, settingsText({ ...r.settings, portfolio: r.portfolio })) : '',
      r.asOf
        ? h(
            'p',
            { class: 'as-of', title: 'every backtest of the sweep runs on the bars closed by then' },
            `On the bars closed by ${String(r.asOf).slice(0, 16).replace('T', ' ')} UTC`,
          )
        : '',
      r.portfolio
        ? h('p', { class: 'portfolio-text' }, `Each point a portfolio backtest of ${legsText(r.portfolio)}`)
        : '',
      r.done ? csvButton(c, `/api/backtests/sweeps/${enc}?format=csv`, `sweep-${id}.csv`, 'Ranking as CSV') : '',
      removeButton(c, `/api/backtests/sweeps/${enc}`, `this sweep and its ${r.created} backtests`, '#/backtests'),
      r.progress < 1 ? progressBar(r.progress) : '',
      r.progress < 1
        ? h(
            'button',
            {
              class: 'secondary',
              title: 'cancel the backtests not yet finished; an adaptive search proposes no more',
              onclick: async () => {
                const x = await attempt(() => c.api.post(`/api/backtests/sweeps/${enc}/cancel`, {}));
                if (x) toast(`Sweep stopped: ${x.cancelled} backtests cancelled`);
                void refresh();
              },
            },
            'Stop sweep',
          )
        : '',
    );
    // an adaptive search: the best score backtest by backtest, beside each one's own
    conv.replaceChildren(r.convergence?.length > 1 ? svgBox(convergenceChart(r)) : '');
    // the measure over the two parameters with the most values, as a heatmap (from two finished points)
    const g = r.ranked.length > 1 ? sweepGrid(r.ranked, r.rankBy) : null;
    map.replaceChildren(
      g && g.xs.length * g.ys.length > 1
        ? svgBox(
            heatmap({
              xs: g.xs,
              ys: g.ys,
              cells: g.cells,
              xLabel: g.x,
              yLabel: g.y ?? '',
              title: `${r.rankBy} by ${g.y ? `${g.x} and ${g.y}` : g.x}${g.others.length ? ` (the best over ${g.others.join(', ')})` : ''}`,
            }),
          )
        : '',
    );
    // the trade-offs: the backtests no other beats on both measures, among all of them
    const onFront = r.pareto?.ids?.length ?? 0;
    front.replaceChildren(
      r.ranked.length > 1 && r.pareto
        ? h(
            'div',
            null,
            h(
              'p',
              { class: 'pareto-text' },
              `Pareto front: ${onFront} of ${r.ranked.length} backtests, those no other beats on both `,
              measure('x', r.pareto.x, (v) => (px = v)),
              ' and ',
              measure('y', r.pareto.y, (v) => (py = v)),
              ' (higher is better on each; a drawdown is negative).',
            ),
            svgBox(
              paretoChart({
                points: r.ranked.map((/** @type {any} */ x) => ({
                  id: x.id,
                  x: x.metrics?.[r.pareto.x] ?? null,
                  y: x.metrics?.[r.pareto.y] ?? null,
                  label: combo(x.combo),
                  front: !!x.pareto,
                })),
                xLabel: r.pareto.x,
                yLabel: r.pareto.y,
              }),
            ),
          )
        : '',
    );
    // a plateau or a spike: the best point's neighbours in the grid, and the point best with its neighbours
    const top = r.ranked[0];
    const around = (/** @type {any} */ p) =>
      p?.neighbours
        ? `its ${p.neighbours} neighbour${p.neighbours > 1 ? 's' : ''} run ${num(p.mean, 3)} on average (worst ${num(p.worst, 3)})`
        : 'none of its neighbours run';
    const robust =
      r.robust && top
        ? h(
            'p',
            { class: 'robust' },
            r.robust.id === top.id
              ? `The best, ${combo(top.combo)}, also stands best with its neighbours: ${r.rankBy} ${num(top[r.rankBy], 3)}, ${around(top.plateau)}. `
              : `Most robust: ${combo(r.robust.combo)} (#${r.robust.rank}), ${r.rankBy} ${num(r.robust[r.rankBy], 3)}, ${around(r.robust)}: ` +
                  `${num(r.robust.withNeighbours, 3)} with them, against ${num(top.plateau?.withNeighbours, 3)} for the best, ` +
                  `${combo(top.combo)} (${r.rankBy} ${num(top[r.rankBy], 3)}, ${around(top.plateau)}). `,
            // what to trade: the most robust point as a strategy of its own
            h(
              'button',
              { class: 'link', onclick: () => void saveCombo(c, r.robust.id, r.robust.combo ?? {}) },
              `Save the most robust (${combo(r.robust.combo)}) as a strategy`,
            ),
          )
        : '';
    // which parameters the measure depends on: each one's share of its spread (ω²), and its best values
    imp.replaceChildren(
      robust,
      r.importance?.length > 1
        ? h(
            'p',
            { class: 'importance' },
            `What ${r.rankBy} depends on: ` +
              r.importance
                .map(
                  (/** @type {{ key: string, share: number, best: string }} */ p) =>
                    `${p.key} ${num(p.share * 100, 0)} % (best ${p.best})`,
                )
                .join(', ') +
              ' of its spread over the combinations run.',
          )
        : '',
      // pairs that explain more together than each alone (1 % or more)
      r.interactions?.some((/** @type {{ share: number }} */ x) => x.share >= 0.01)
        ? h(
            'p',
            { class: 'interactions' },
            'Together, beyond each alone: ' +
              r.interactions
                .filter((/** @type {{ share: number }} */ x) => x.share >= 0.01)
                .map(
                  (/** @type {{ keys: string[], share: number }} */ x) =>
                    `${x.keys.join(' × ')} ${num(x.share * 100, 0)} %`,
                )
                .join(', ') +
              '.',
          )
        : '',
    );
    body.replaceChildren(
      table(
        [
          ['#', (x) => String(x.rank)],
          ['Parameters', (x) => h('a', { href: `#/backtests/${x.id}` }, combo(x.combo))],
          [r.rankBy, (x) => cell(x[r.rankBy])],
          ['Return %', (x) => cell(x.metrics?.returnPct)],
          ['Max DD %', (x) => cell(x.metrics?.maxDrawdownPct)],
          [
            'Neighbours',
            (x) =>
              x.plateau?.neighbours
                ? h(
                    'span',
                    {
                      title: `the mean ${r.rankBy} of the ${x.plateau.neighbours} neighbours run (one step in one parameter)`,
                    },
                    `${cell(x.plateau.mean)} (${x.plateau.neighbours})`,
                  )
                : '',
          ],
          [
            'Front',
            (x) =>
              x.pareto ? h('span', { title: `on the Pareto front of ${r.pareto.x} and ${r.pareto.y}` }, '●') : '',
          ],
          [
            'Trades',
            (x) =>
              x.tooFewTrades
                ? h('span', { class: 'muted', title: 'too few trades to rank' }, `${cell(x.metrics?.trades)} (too few)`)
                : cell(x.metrics?.trades),
          ],
          // the sweep's risk limits (a paper session's): what they did in each combination
          ...(r.ranked.some((/** @type {any} */ x) => x.metrics?.limits)
            ? /** @type {[string, (x: any) => any][]} */ ([['Risk limits', (x) => haltsCell(x.metrics?.limits)]])
            : []),
          [
            '',
            (x) =>
              h('button', { class: 'link', onclick: () => void saveCombo(c, x.id, x.combo ?? {}) }, 'Save as strategy'),
          ],
        ],
        r.ranked,
        'No combination has finished yet.',
      ),
    );
  };
  let stopped = false;
  c.onLeave(() => (stopped = true));
  // each of the sweep's backtests says on the sweep's channel when it ends: the ranking is fetched
  // again then (at most every 250 ms); subscribed before the first fetch, so no end falls between
  let fetching = false;
  let again = false;
  const refresh = async () => {
    if (fetching) return void (again = true);
    fetching = true;
    try {
      do {
        again = false;
        const next = await c.api.get(url()).catch(() => null);
        if (next && !stopped) show((r = next));
        if (again) await new Promise((res) => setTimeout(res, 250));
      } while (again && !stopped);
    } finally {
      fetching = false;
    }
  };
  c.onLeave(
    c.live.on(`sweep:${id}`, (e) => {
      if (e.type === 'backtest.done' || e.type === 'backtest.failed' || e.type === 'backtest.cancelled') void refresh();
    }),
  );
  let r = await c.api.get(url());
  show(r);
  // a safety net for ends the socket missed while it reconnected: a look every 10 s until all are done
  void (async () => {
    while (!stopped && r.progress < 1) {
      await new Promise((res) => setTimeout(res, 10_000));
      if (!stopped && r.progress < 1) await refresh();
    }
  })();
  // how overfit the best is, computed when asked (it reads every backtest's equity)
  const overfit = h(
    'div',
    { class: 'overfitting' },
    h(
      'button',
      {
        class: 'secondary',
        title: 'the Probability of Backtest Overfitting (CSCV) and the Deflated Sharpe Ratio of the best',
        onclick: async () => {
          const o = await attempt(() => c.api.get(`/api/backtests/sweeps/${enc}/overfitting`));
          if (o) overfit.replaceChildren(overfittingView(o));
        },
      },
      'Check overfitting',
    ),
  );
  // its name, given to every backtest of it
  const title = h('h1');
  const nameBox = h('details', { class: 'edit-label' });
  const drawName = (/** @type {string | null} */ name) => {
    title.textContent = name ? `Sweep: ${name}` : 'Sweep';
    nameBox.replaceChildren(
      h('summary', null, 'Name'),
      patchForm(
        c,
        `/api/backtests/sweeps/${enc}`,
        (f) => ({ name: f.name.trim() || null }),
        (x) => {
          nameBox.removeAttribute('open');
          drawName(x.name);
          toast('Saved.');
        },
        h('label', null, 'name ', h('input', { name: 'name', maxlength: 200, value: name ?? '' })),
      ),
    );
  };
  drawName(r.name);
  return h('section', null, title, nameBox, head, conv, map, imp, front, overfit, body);
}

/**
 * A sweep's overfitting figures: PBO with the histogram of its logits, and the best Sharpe ratio deflated
 * for the number of trials. @param {any} o the API's `/sweeps/:id/overfitting`
 */
export function overfittingView(o) {
  const pct = (/** @type {number} */ x) => `${num(x * 100, 1)} %`;
  const combo = Object.entries(o.best.combo ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return h(
    'div',
    null,
    h('h2', null, 'Overfitting'),
    h(
      'p',
      { class: 'pbo' },
      `Probability of backtest overfitting: ${pct(o.pbo)}. In ${pct(o.pbo)} of ${o.splits} ways of splitting the ` +
        `${o.bars} bars' ${o.blocks} blocks of ${o.blockBars} into halves, the best combination of one half ranked in the ` +
        `lower half of the ${o.trials} on the other (about 50 % is what luck alone gives; near 0 %, the best keeps its lead).`,
    ),
    h(
      'p',
      { class: 'dsr' },
      `Best by Sharpe ratio (${combo}): Deflated Sharpe Ratio ${num(o.best.dsr, 3)}, the probability that its ` +
        `Sharpe ratio beats what the best of ${o.trials} trials with no skill would show; without the deflation ` +
        `(PSR) ${num(o.best.psr, 3)}.`,
    ),
    svgBox(
      histogram({
        edges: o.logits.edges,
        counts: o.logits.counts,
        split: 0,
        title: 'Out-of-sample rank (logit) of the in-sample best, per split: red at or below the median',
        xLabel: 'logit of the relative rank',
      }),
    ),
  );
}

/**
 * How a sweep drew its points: at random (how many of how many, the seed), or adaptively (TPE: the
 * random start, how many at a time).
 * @param {{ method?: string, count: number, of: number, seed: number, startup?: number, parallel?: number }} s
 */
export function searchText(s) {
  return s.method === 'tpe'
    ? `Adaptive search (TPE): ${s.count} of ${s.of} points, the first ${s.startup} at random, then each proposed from the results so far, ${s.parallel} at a time; seed ${s.seed}`
    : `Random search: ${s.count} of ${s.of} points, seed ${s.seed}`;
}

/**
 * An adaptive sweep's best score after each backtest (in the order proposed) over each one's own score.
 * @param {{ rankBy: string, sample?: { startup?: number }, convergence: { n: number, score: number | null, best: number | null }[] }} r
 */
export function convergenceChart(r) {
  const n = r.convergence.length;
  return lineChart({
    title: `Best ${r.rankBy} by backtest, in the order proposed (the first ${r.sample?.startup ?? 0} at random)`,
    height: 180,
    series: [
      { values: r.convergence.map((x) => x.best), color: '#2563eb', label: `best ${r.rankBy}` },
      { values: r.convergence.map((x) => x.score), color: '#9ca3af', label: 'each backtest' },
    ],
    times: ['1st backtest', `${n}th`],
  });
}
