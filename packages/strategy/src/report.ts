import { DAY_MS, firstAtLeast, type Stats, type StatusChange, type TradeRecord } from '@algotrade/core';

export interface ReportInput {
  title: string;
  time: ArrayLike<number>;
  open: ArrayLike<number>;
  high: ArrayLike<number>;
  low: ArrayLike<number>;
  close: ArrayLike<number>;
  equity: ArrayLike<number>;
  trades: readonly TradeRecord[];
  stats: Stats;
  /** more tables, shown above the statistics (a walk-forward's folds); text, escaped here */
  tables?: { title: string; head: string[]; rows: string[][] }[];
  /** the price chart's heading (default: price and trades) */
  priceTitle?: string;
  /** trade markers on the price chart (default true; a portfolio's trades are on other prices) */
  markers?: boolean;
  /** point charts, shown after the drawdown (a sweep's runs on two measures) */
  scatters?: ReportScatter[];
  /** times trading was stopped or paused (haltSpans), shaded on the charts */
  halted?: readonly HaltSpan[];
  /** a drawdown stop (`maxDrawdownPct`), its level dashed on the drawdown chart */
  drawdownStopPct?: number;
}

/** A time a risk limit stopped or paused trading: from `from` until `until` (Infinity: to the end), in ms. */
export interface HaltSpan {
  from: number;
  until: number;
  label: string;
}

/** A time to the minute, UTC, as the report writes it (`2026-12-05 18:25`). */
const minute = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/**
 * What a run's risk limits did as spans to shade: a daily loss that pauses (`resumeNextDay`) until the
 * next UTC day begins, any other halt to the end. `risk` is the run's limits (a portfolio's
 * `portfolioRisk`), `halts` what they did (times in ms or ISO).
 */
export function haltSpans(risk: object, halts: readonly { time: number | string; limit: string }[]): HaltSpan[] {
  const resumes = (risk as { resumeNextDay?: boolean }).resumeNextDay;
  return halts.map((x) => {
    const from = typeof x.time === 'number' ? x.time : Date.parse(x.time);
    const paused = x.limit === 'max_daily_loss' && resumes;
    return {
      from,
      until: paused ? (Math.floor(from / DAY_MS) + 1) * DAY_MS : Infinity,
      label: `${haltText(x.limit, { resumeNextDay: resumes })} (${minute(from)})`,
    };
  });
}

/**
 * What stopped or paused a paper session, in words, from its timeline change's reason: a limit of its own
 * (`risk`) or of its paper portfolio (`portfolioRisk`), a failure, or the user. The session page says it
 * the same way (web/limits.js sessionHaltText; a test holds the two together).
 */
export function sessionHaltText(
  e: Pick<StatusChange, 'status' | 'reason'>,
  limits: { risk?: object; portfolioRisk?: object },
): string {
  const m = /^(portfolio )?risk limit: (\w+)/.exec(e.reason ?? '');
  if (m) {
    const risk = ((m[1] ? limits.portfolioRisk : limits.risk) ?? {}) as { resumeNextDay?: boolean };
    const what =
      m[2] === 'max_daily_loss'
        ? `${risk.resumeNextDay ? 'Paused for the day' : 'Paused'}: daily loss`
        : m[2] === 'max_drawdown'
          ? 'Trading stopped: drawdown'
          : `${e.status === 'stopped' ? 'Stopped' : 'Paused'}: ${m[2]}`;
    return `${m[1] ? 'Portfolio: ' : ''}${what}`;
  }
  if (e.status === 'failed') return `Failed: ${e.reason ?? 'unknown'}`;
  const verb = e.status === 'stopped' ? 'Stopped' : 'Paused';
  return e.reason ? `${verb}: ${e.reason}` : `${verb} by hand`;
}

/**
 * The times paper sessions did not trade once started, as spans to shade, from their timelines (oldest
 * first; a paper portfolio's sessions' as one, each change with its `sessionId`): from the change that
 * left none of them running until the first that let one trade again, or to the end. A span starts at
 * the latest market time among the changes that halted them (the wall clock where a change has none).
 * One session's are the session page's bands, a portfolio's its page's (web/limits.js).
 */
export function timelineSpans(
  events: readonly (StatusChange & { sessionId?: string })[],
  limits: { risk?: object; portfolioRisk?: object },
): HaltSpan[] {
  const running = new Set<string | undefined>();
  const spans: HaltSpan[] = [];
  let open: HaltSpan | null = null;
  let latest = -Infinity;
  for (const e of events) {
    const t = Date.parse(e.ts ?? e.at);
    if (e.status === 'running') {
      running.add(e.sessionId);
      latest = -Infinity;
      if (open) spans.push({ ...open, until: t });
      open = null;
    } else if (running.delete(e.sessionId)) {
      latest = Math.max(latest, t);
      if (!running.size)
        open = { from: latest, until: Infinity, label: `${sessionHaltText(e, limits)} (${minute(latest)})` };
    }
  }
  if (open) spans.push(open);
  return spans;
}

/** A point chart of a report: points on two measures, those marked (a Pareto front) joined and drawn blue. */
export interface ReportScatter {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number; label: string; marked: boolean }[];
}

/** A portfolio backtest's legs as a report table (`tables` of renderReport). */
export function legsTable(
  legs: readonly {
    symbol: string;
    weight: number;
    startingBalance: number;
    finalEquity: number;
    contributionPct: number;
    stats: object;
  }[],
) {
  const get = (o: object, k: string) => (o as Record<string, unknown>)[k];
  const pct = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(2)}%` : '-');
  return {
    title: 'Symbols',
    head: ['Symbol', 'Weight', 'Start', 'Final equity', 'Return', 'Contribution', 'Max drawdown', 'Trades', 'Win rate'],
    rows: legs.map((l) => [
      l.symbol,
      `${(l.weight * 100).toFixed(1)}%`,
      l.startingBalance.toFixed(2),
      l.finalEquity.toFixed(2),
      pct(get(l.stats, 'returnPct')),
      pct(l.contributionPct),
      pct(get(l.stats, 'maxDrawdownPct')),
      String(get(l.stats, 'trades') ?? '-'),
      pct(get(l.stats, 'winRatePct')),
    ]),
  };
}

/**
 * What a run's risk limits did, in one cell: the first stop or pause with its date and loss, how many
 * more, the entries refused ('none reached' when nothing happened). The browser app's haltsCell says the same.
 */
export function limitsCell(limits: {
  halts: readonly { time: string; limit: string; pct: number }[];
  refused: Readonly<Record<string, number>>;
}): string {
  const refused = Object.values(limits.refused).reduce((a, n) => a + n, 0);
  const parts: string[] = [];
  const first = limits.halts[0];
  if (first)
    parts.push(
      `${first.time.slice(0, 10)}: ${first.limit === 'max_drawdown' ? 'drawdown' : 'daily loss'} ${first.pct.toFixed(1)} %` +
        (limits.halts.length > 1 ? ` (+${limits.halts.length - 1} more)` : ''),
    );
  if (refused) parts.push(`${refused} ${refused === 1 ? 'entry' : 'entries'} refused`);
  return parts.join('; ') || 'none reached';
}

/**
 * What each leg of a portfolio's window made of its share, in one cell: `GOOG +312.50 (4), BTCUSD -20.10
 * (1)`, its PnL and closed trades. The browser app's legsCell says the same.
 */
export function legsCell(legs: readonly { symbol: string; startEquity: number; endEquity: number; trades: number }[]) {
  return legs
    .map((l) => {
      const pnl = l.endEquity - l.startEquity;
      return `${l.symbol} ${pnl >= 0 ? '+' : ''}${pnl.toFixed(2)} (${l.trades})`;
    })
    .join(', ');
}

/** Walk-forward folds as a report table (`tables` of renderReport). */
export function foldsTable(
  folds: readonly {
    fold: number;
    inSample: { from: string; to: string };
    outOfSample: { from: string; to: string };
    chosen: Record<string, unknown>;
    inSampleStats: object;
    outOfSampleStats: object;
    limits?: Parameters<typeof limitsCell>[0];
    legs?: Parameters<typeof legsCell>[0];
  }[],
  rankBy: string,
) {
  const get = (o: object, k: string) => (o as Record<string, unknown>)[k];
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '-');
  // with risk limits: what they did in each out-of-sample window
  const limited = folds.some((f) => f.limits);
  // over a portfolio: what each leg made out of sample
  const legged = folds.some((f) => f.legs);
  return {
    title: 'Walk-forward folds (each pick made in sample, traded out of sample)',
    head: [
      'Fold',
      'In sample',
      'Out of sample',
      'Picked',
      `IS ${rankBy}`,
      `OOS ${rankBy}`,
      'OOS return %',
      'Trades',
      ...(limited ? ['Risk limits'] : []),
      ...(legged ? ['By symbol: PnL (trades)'] : []),
    ],
    rows: folds.map((f) => [
      String(f.fold),
      `${f.inSample.from.slice(0, 10)} – ${f.inSample.to.slice(0, 10)}`,
      `${f.outOfSample.from.slice(0, 10)} – ${f.outOfSample.to.slice(0, 10)}`,
      Object.entries(f.chosen)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
      n(get(f.inSampleStats, rankBy)),
      n(get(f.outOfSampleStats, rankBy)),
      n(get(f.outOfSampleStats, 'returnPct')),
      String(get(f.outOfSampleStats, 'trades') ?? '-'),
      ...(limited ? [f.limits ? limitsCell(f.limits) : '-'] : []),
      ...(legged ? [f.legs ? legsCell(f.legs) : '-'] : []),
    ]),
  };
}

/** What a risk limit's halt did, in words: `risk` says whether a daily loss paused trading or ended it. */
export function haltText(limit: string, risk: { resumeNextDay?: boolean }): string {
  if (limit === 'max_drawdown') return 'trading stopped: drawdown';
  return risk.resumeNextDay ? 'paused for the day: daily loss' : 'trading ended: daily loss';
}

/**
 * A backtest's risk limits (a paper session's `risk`) and what they did as a report table: each time a
 * limit stopped or paused trading, with its loss, and the entries refused.
 */
export function limitsTable(
  risk: object,
  did: { halts: readonly { time: number | string; limit: string; pct: number }[]; refused: Record<string, number> },
) {
  const rows = [
    ...did.halts.map((h) => [
      new Date(h.time).toISOString().slice(0, 10),
      haltText(h.limit, risk as { resumeNextDay?: boolean }),
      `${h.pct.toFixed(2)}%`,
    ]),
    ...Object.entries(did.refused).map(([code, n]) => [
      '',
      `${n} ${n === 1 ? 'entry' : 'entries'} refused: ${code}`,
      '',
    ]),
  ];
  const set = Object.entries(risk as Record<string, unknown>);
  return {
    // without limits: the entries an exchange's minimum order value held back
    title: set.length
      ? `Risk limits: ${set.map(([k, v]) => (v === true ? k : `${k} ${String(v)}`)).join(', ')}`
      : 'Orders refused',
    head: ['Day', 'What the limit did', 'Loss'],
    rows: rows.length ? rows : [['', 'no limit was reached', '']],
  };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const W = 1100;

/** Indices of at most `max` points spread over n, always keeping the first and last. */
function sample(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < max; k++) out.push(Math.round((k * (n - 1)) / (max - 1)));
  return out;
}

function scale(values: number[], h: number, pad = 8) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  return { y: (v: number) => pad + (h - 2 * pad) * (1 - (v - lo) / span), lo, hi };
}

function linePath(idx: number[], get: (i: number) => number, x: (i: number) => number, y: (v: number) => number) {
  return idx.map((i, k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)},${y(get(i)).toFixed(1)}`).join('');
}

const fmtDuration = (ms: number) =>
  Number.isFinite(ms) ? `${(ms / 86_400_000).toFixed(ms < 86_400_000 ? 2 : 0)} days` : '–';
const fmt = (v: number, d = 2) =>
  Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–';

/** The stats table like backtesting.py prints it (label, value). */
export function statsRows(s: Stats): [string, string][] {
  return [
    ['Start', s.start],
    ['End', s.end],
    ['Duration', fmtDuration(s.durationMs)],
    ['Exposure Time [%]', fmt(s.exposureTimePct)],
    ['Equity Final [$]', fmt(s.equityFinal)],
    ['Equity Peak [$]', fmt(s.equityPeak)],
    ['Return [%]', fmt(s.returnPct)],
    ['Buy & Hold Return [%]', fmt(s.buyAndHoldReturnPct)],
    ['Return (Ann.) [%]', fmt(s.returnAnnPct)],
    ['Volatility (Ann.) [%]', fmt(s.volatilityAnnPct)],
    ['CAGR [%]', fmt(s.cagrPct)],
    ['Sharpe Ratio', fmt(s.sharpe, 3)],
    ['Sortino Ratio', fmt(s.sortino, 3)],
    ['Calmar Ratio', fmt(s.calmar, 3)],
    ['Alpha [%]', fmt(s.alphaPct)],
    ['Beta', fmt(s.beta, 3)],
    ['Max. Drawdown [%]', fmt(s.maxDrawdownPct)],
    ['Avg. Drawdown [%]', fmt(s.avgDrawdownPct)],
    ['Max. Drawdown Duration', fmtDuration(s.maxDrawdownDurationMs)],
    ['Avg. Drawdown Duration', fmtDuration(s.avgDrawdownDurationMs)],
    ['# Trades', String(s.trades)],
    ['Win Rate [%]', fmt(s.winRatePct)],
    ['Best Trade [%]', fmt(s.bestTradePct)],
    ['Worst Trade [%]', fmt(s.worstTradePct)],
    ['Avg. Trade [%]', fmt(s.avgTradePct)],
    ['Max. Trade Duration', fmtDuration(s.maxTradeDurationMs)],
    ['Avg. Trade Duration', fmtDuration(s.avgTradeDurationMs)],
    ['Profit Factor', fmt(s.profitFactor, 3)],
    ['Expectancy [%]', fmt(s.expectancyPct)],
    ['SQN', fmt(s.sqn, 3)],
    ['Kelly Criterion', fmt(s.kelly, 4)],
    ['Total fees [$]', fmt(s.totalFees)],
  ];
}

/** A scatter as inline SVG (points without finite values left out; the marked ones joined by x, from the highest). */
function scatterSvg(c: ReportScatter): string {
  const h = 300;
  const pts = c.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (!pts.length) return `<h2>${esc(c.title)}</h2><p>no points with both values</p>`;
  const ys = scale(
    pts.map((p) => p.y),
    h,
  );
  // scale() gives y downwards; x runs left to right over [50, W - 10]
  const xs = { lo: Math.min(...pts.map((p) => p.x)), hi: Math.max(...pts.map((p) => p.x)) };
  const X = (v: number) => 50 + (W - 60) * ((v - xs.lo) / (xs.hi - xs.lo || 1));
  const line = pts
    .filter((p) => p.marked)
    .sort((a, b) => b.x - a.x)
    .map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${ys.y(p.y).toFixed(1)}`)
    .join('');
  const dots = [...pts.filter((p) => !p.marked), ...pts.filter((p) => p.marked)]
    .map(
      (p) =>
        `<circle cx="${X(p.x).toFixed(1)}" cy="${ys.y(p.y).toFixed(1)}" r="${p.marked ? 4 : 3}" fill="${p.marked ? '#2563eb' : '#9ca3af'}"${p.marked ? '' : ' fill-opacity="0.6"'}><title>${esc(`${p.label}: ${c.xLabel} ${p.x.toFixed(3)}, ${c.yLabel} ${p.y.toFixed(3)}`)}</title></circle>`,
    )
    .join('');
  const axis =
    `<text x="4" y="14" class="ax">${esc(`${c.yLabel} ${ys.hi.toFixed(2)}`)}</text>` +
    `<text x="4" y="${h - 4}" class="ax">${esc(`${ys.lo.toFixed(2)}`)}</text>` +
    `<text x="50" y="${h - 4}" class="ax">${esc(`${c.xLabel} ${xs.lo.toFixed(2)}`)}</text>` +
    `<text x="${W - 10}" y="${h - 4}" class="ax" text-anchor="end">${esc(xs.hi.toFixed(2))}</text>`;
  return (
    `<h2>${esc(c.title)}</h2><svg viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${esc(c.title)}">` +
    `<rect width="${W}" height="${h}" fill="#fafafa"/>${line ? `<path d="${line}" fill="none" stroke="#2563eb" stroke-width="1.5"/>` : ''}${dots}${axis}</svg>`
  );
}

/**
 * A self-contained HTML report (inline SVG, no scripts or network): price with trade markers
 * (candles when there are few enough bars), equity, drawdown, the stats table and the trade list.
 */
export function renderReport(r: ReportInput): string {
  const n = r.close.length;
  const idx = sample(n, 1500);
  const x = (i: number) => 50 + ((W - 60) * i) / Math.max(1, n - 1);
  const priceH = 320;
  const prices = idx.flatMap((i) => [r.high[i]!, r.low[i]!]);
  const ps = scale(prices, priceH);
  let price = '';
  if (n <= 400) {
    const bw = Math.max(1, ((W - 60) / n) * 0.6);
    for (let i = 0; i < n; i++) {
      const up = r.close[i]! >= r.open[i]!;
      const col = up ? '#1a9850' : '#d73027';
      price += `<line x1="${x(i)}" x2="${x(i)}" y1="${ps.y(r.high[i]!)}" y2="${ps.y(r.low[i]!)}" stroke="${col}"/>`;
      const top = ps.y(Math.max(r.open[i]!, r.close[i]!));
      price += `<rect x="${x(i) - bw / 2}" y="${top}" width="${bw}" height="${Math.max(1, ps.y(Math.min(r.open[i]!, r.close[i]!)) - top)}" fill="${col}"/>`;
    }
  } else
    price = `<path d="${linePath(idx, (i) => r.close[i]!, x, ps.y)}" fill="none" stroke="#4575b4" stroke-width="1.2"/>`;
  const markers = (r.markers === false ? [] : r.trades)
    .slice(0, 2000)
    .map((t) => {
      const e = `<path d="M${x(t.entryBar)},${ps.y(t.entryPrice) + (t.size > 0 ? 10 : -10)} l-5,${t.size > 0 ? 8 : -8} l10,0 z" fill="${t.size > 0 ? '#1a9850' : '#d73027'}"><title>${t.size > 0 ? 'long' : 'short'} ${t.size} @ ${t.entryPrice}</title></path>`;
      const c = `<circle cx="${x(t.exitBar)}" cy="${ps.y(t.exitPrice)}" r="3.5" fill="none" stroke="${t.pnl >= 0 ? '#1a9850' : '#d73027'}" stroke-width="2"><title>exit @ ${t.exitPrice}, PnL ${t.pnl.toFixed(2)}</title></circle>`;
      return e + c;
    })
    .join('');
  const eqH = 200;
  const es = scale(
    idx.map((i) => r.equity[i]!),
    eqH,
  );
  const dd: number[] = [];
  let peak = -Infinity;
  for (let i = 0; i < n; i++) {
    peak = Math.max(peak, r.equity[i]!);
    dd.push(-(1 - r.equity[i]! / peak) * 100);
  }
  const ddH = 140;
  const stop = r.drawdownStopPct;
  const ds = scale([0, ...(stop !== undefined ? [-stop] : []), ...idx.map((i) => dd[i]!)], ddH);
  const ddPath = `${linePath(idx, (i) => dd[i]!, x, ds.y)}L${x(n - 1)},${ds.y(0)}L${x(0)},${ds.y(0)}Z`;
  const stopLine =
    stop !== undefined
      ? `<line x1="${x(0)}" x2="${x(n - 1)}" y1="${ds.y(-stop).toFixed(1)}" y2="${ds.y(-stop).toFixed(1)}" stroke="#7f1d1d" stroke-width="1.2" stroke-dasharray="6 4" class="stop"><title>stop at -${stop}%</title></line>`
      : '';
  const axis = (h: number, lo: number, hi: number, f: (v: number) => string) =>
    `<text x="4" y="14" class="ax">${f(hi)}</text><text x="4" y="${h - 4}" class="ax">${f(lo)}</text>`;
  // the halts' bands, behind each chart's lines: from the first bar at or after a halt to the first at
  // or after its end (the last bar when none is)
  const at = (t: number) => firstAtLeast(r.time, t);
  const spans = (r.halted ?? [])
    .map((s) => ({ i: at(s.from), j: Math.min(n - 1, at(s.until)), label: s.label }))
    .filter((s) => s.i < n);
  const bands = (h: number) =>
    spans
      .map((s) => {
        // at least 2 units wide, inside the plot at its right end (x(n - 1))
        const x1 = Math.min(x(n - 1), Math.max(x(s.j), x(s.i) + 2));
        const x0 = Math.min(x(s.i), x1 - 2);
        const w = x1 - x0;
        return `<rect x="${x0.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${h}" fill="#d73027" fill-opacity="0.08" class="halt"><title>${esc(s.label)}</title></rect>`;
      })
      .join('');
  const svg = (h: number, body: string, label: string) =>
    `<h2>${label}</h2><svg viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${label}"><rect width="${W}" height="${h}" fill="#fafafa"/>${bands(h)}${body}</svg>`;
  const pctOf = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '');
  const rows = statsRows(r.stats)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join('');
  const tradeRows = r.trades
    .slice(0, 1000)
    .map(
      (t) =>
        `<tr><td>${t.size}</td><td>${minute(t.entryTime)}</td><td>${t.entryPrice.toFixed(4)}</td><td>${t.entries ?? 1}</td><td>${minute(t.exitTime)}</td><td>${t.exitPrice.toFixed(4)}</td><td class="${t.pnl >= 0 ? 'pos' : 'neg'}">${t.pnl.toFixed(2)}</td><td>${(t.returnPct * 100).toFixed(2)}%</td><td>${pctOf(t.mae)}</td><td>${pctOf(t.mfe)}</td><td>${esc(t.entryReason ?? '')}</td><td>${esc(t.exitReason ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse}th,td{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}th{text-align:left;font-weight:500}
.ax{font-size:11px;fill:#666}.pos{color:#1a9850}.neg{color:#d73027}.grid{display:flex;gap:32px;flex-wrap:wrap}</style></head><body>
<h1>${esc(r.title)}</h1>
${svg(priceH, price + markers + axis(priceH, ps.lo, ps.hi, (v) => v.toFixed(2)), r.priceTitle ?? 'Price and trades (▲ long entry, ▼ short entry, ○ exit)')}
${svg(eqH, `<path d="${linePath(idx, (i) => r.equity[i]!, x, es.y)}" fill="none" stroke="#313695" stroke-width="1.4"/>` + axis(eqH, es.lo, es.hi, (v) => v.toFixed(0)), 'Equity')}
${svg(ddH, `<path d="${ddPath}" fill="#f4a582" stroke="#d73027"/>` + stopLine + axis(ddH, ds.lo, ds.hi, (v) => `${v.toFixed(1)}%`), 'Drawdown')}
${(r.scatters ?? []).map(scatterSvg).join('')}
${(r.tables ?? [])
  .map(
    (t) =>
      `<h2>${esc(t.title)}</h2><table><tr>${t.head.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${t.rows
        .map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
        .join('')}</table>`,
  )
  .join('')}
<div class="grid"><div><h2>Statistics</h2><table>${rows}</table></div>
<div><h2>Trades${r.trades.length > 1000 ? ' (first 1000)' : ''}</h2><table><tr><th>Size</th><th>Entry</th><th>Price</th><th>Entries</th><th>Exit</th><th>Price</th><th>PnL</th><th>Return</th><th>MAE</th><th>MFE</th><th>Opened by</th><th>Closed by</th></tr>${tradeRows}</table></div></div>
</body></html>`;
}
