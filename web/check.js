// What POST /api/strategies/check found, as the editor shows it: whether the strategy looks ahead, whether it
// evaluates one bar at a time (a paper session) as in blocks (a backtest), and how much history each of its
// values needs (docs/strategies.md#checking-a-strategy).
import { lineChart } from './chart.js';
import { h, svgBox, table, when } from './dom.js';

const COLORS = ['#2563eb', '#dc2626', '#0f766e', '#9333ea', '#ea580c', '#0891b2', '#65a30d', '#be185d'];

/** @param {number | null} x */
const value = (x) => (x === null ? 'undefined' : String(Number(x.toPrecision(8))));
/** @param {number | null} x */
const pct = (x) => (x === null ? 'undefined' : x < 0.0005 ? '0' : x < 10 ? x.toFixed(3) : x.toFixed(1));

/**
 * One check's verdict and, when it failed, its first differences.
 * @param {string} title @param {{ ok: boolean, barsChecked: number, mismatches: any[] }} r @param {string} okText @param {string} badText
 */
function verdict(title, r, okText, badText) {
  return h(
    'div',
    { class: r.ok ? 'check-ok' : 'check-bad' },
    h('p', null, h('strong', null, `${title}: `), r.ok ? okText : badText),
    r.ok
      ? ''
      : h(
          'ul',
          null,
          r.mismatches
            .slice(0, 10)
            .map((m) =>
              h(
                'li',
                null,
                m.port === '(signal)'
                  ? `${when(m.time)} bar ${m.index}: signal ${m.expectedAction ?? 'none'} with all the data, ${m.actualAction ?? 'none'} here`
                  : `${when(m.time)} bar ${m.index}: ${m.nodeId}.${m.port} ${value(m.expected)} with all the data, ${value(m.actual)} here`,
              ),
            ),
        ),
  );
}

/**
 * The check's report: two verdicts, then the warm-up table (one row per value the strategy uses, one column
 * per start tried) and the recommendation.
 * @param {any} r the route's answer (ok: true)
 */
export function checkView(r) {
  const w = r.warmup;
  /** @typedef {{ label: string, cells: string[], settled: string }} Row */
  /** @type {Row[]} */
  const rows = w.outputs
    .filter((/** @type {any} */ o) => o.used)
    .map((/** @type {any} */ o) => ({
      label: `${o.nodeId}.${o.port}`,
      cells: o.diffPct.map(pct),
      settled: o.settledBars === null ? 'not yet' : `${o.settledBars} bars`,
    }));
  // the signals: the share of the points whose signal differs, settled where none does from there on
  let agreeFrom = null;
  for (let k = w.starts.length - 1; k >= 0 && w.signalsAgreePct[k] === 100; k--) agreeFrom = w.starts[k];
  rows.push({
    label: 'signals (differ, % of points)',
    cells: w.signalsAgreePct.map((/** @type {number} */ a) => pct(100 - a)),
    settled: agreeFrom === null ? 'not yet' : `${agreeFrom} bars`,
  });
  /** @type {[string, (row: Row) => any][]} */
  const cols = [
    ['value', (row) => row.label],
    ...w.starts.map(
      (/** @type {number} */ s, /** @type {number} */ k) =>
        /** @type {[string, (row: Row) => any]} */ ([`${s} bars`, (row) => row.cells[k]]),
    ),
    ['settled from', (row) => row.settled],
  ];
  return h(
    'div',
    { class: 'strategy-check' },
    h('h3', null, `Strategy check on ${r.bars} bars`),
    verdict(
      'Look-ahead',
      r.lookahead,
      `none: ${r.lookahead.barsChecked} bars evaluated again on the data cut after each gave the same values and signals.`,
      'values change when the data ends at the bar: the strategy sees later bars.',
    ),
    verdict(
      'One bar at a time',
      r.live,
      `the same: fed bar by bar, as a paper session feeds ticks, all ${r.live.barsChecked} bars gave what the backtest's blocks gave.`,
      'different from the blocks a backtest evaluates.',
    ),
    w.starts.length
      ? h(
          'div',
          null,
          h(
            'p',
            null,
            `Warm-up: started that many bars before ${w.points.length} points near the end, each value's largest difference from the run over all the data, in % of its mean size (true/false values: % of the points where it differs). Settled: within ${w.tolerancePct} % from there on.`,
          ),
          table(cols, rows),
          warmupChart(w),
          h(
            'p',
            { class: 'check-advice' },
            w.recommendedBars === null
              ? `Recommended warm-up: more than ${w.starts[w.starts.length - 1]} bars: no start tried settles every value and signal.`
              : `Recommended warm-up: ${w.recommendedBars} bars (the compiler declares ${r.declaredWarmup}). A paper session and a walk-forward window warm on ${10 * r.declaredWarmup + 1} (a session's ticks: at most 1,000).`,
          ),
        )
      : h('p', { class: 'muted' }, 'Warm-up: too few bars to try any start.'),
  );
}

/**
 * The numeric values' differences against the bars of history they started with, one line each (a gap
 * where a value was still undefined): how fast each forgets where it started.
 * @param {any} w the check's `warmup`
 */
export function warmupChart(w) {
  const lines = w.outputs.filter(
    (/** @type {any} */ o) => o.used && !o.boolean && o.diffPct.some((/** @type {any} */ d) => d),
  );
  if (!lines.length || w.starts.length < 2) return '';
  return svgBox(
    lineChart({
      title: 'Difference from all the history (% of each value’s size) by bars of history',
      height: 180,
      series: lines.slice(0, COLORS.length).map((/** @type {any} */ o, /** @type {number} */ k) => ({
        values: o.diffPct,
        color: COLORS[k],
        label: `${o.nodeId}.${o.port}`,
      })),
      times: [`${w.starts[0]} bars`, `${w.starts[w.starts.length - 1]} bars`],
    }),
  );
}
