// @ts-check
/**
 * What risk limits did, as the pages say and draw it: a halt in words, and the times trading was stopped
 * or paused as spans to shade on the charts. No DOM, so tested in Node against the real API.
 */
import { when } from './time.js';

/** When the UTC day after time `t` (ms) begins: where a daily loss's pause with resumeNextDay ends. @param {number} t */
const nextDay = (t) => (Math.floor(t / 86_400_000) + 1) * 86_400_000;

/**
 * What a limit's halt did, in words (a daily loss pauses trading for the day with resumeNextDay, else ends it).
 * @param {string} limit @param {Record<string, number | boolean>} limits
 */
export const haltText = (limit, limits) =>
  limit === 'max_drawdown'
    ? 'Trading stopped: drawdown'
    : limits.resumeNextDay
      ? 'Paused for the day: daily loss'
      : 'Trading ended: daily loss';

/**
 * The times a run's risk limits stopped or paused trading, as spans to shade on its charts: a daily loss
 * that pauses (resumeNextDay) until the next UTC day begins, any other halt to the end.
 * @param {Record<string, number | boolean>} limits the run's `risk` (a portfolio's `portfolioRisk`)
 * @param {{ time: string, limit: string }[]} halts what its metrics' `limits` say
 */
export function haltSpans(limits, halts) {
  return halts.map((x) => {
    const from = Date.parse(x.time);
    const paused = x.limit === 'max_daily_loss' && limits.resumeNextDay;
    return {
      from,
      until: paused ? nextDay(from) : Infinity,
      label: `${haltText(x.limit, limits)} (${when(x.time)})`,
    };
  });
}

/**
 * What stopped or paused a paper session, in words, from its timeline event's reason: a limit of its own
 * or of its paper portfolio (a daily loss pauses it for the day with resumeNextDay, else until resumed by
 * hand; a drawdown stops it), a failure, or the user.
 * @param {{ status: string, reason: string | null }} e @param {{ config?: any }} s the session
 */
export function sessionHaltText(e, s) {
  const m = /^(portfolio )?risk limit: (\w+)/.exec(e.reason ?? '');
  if (m) {
    const limits = (m[1] ? s.config?.portfolio?.risk : s.config?.risk) ?? {};
    const what =
      m[2] === 'max_daily_loss'
        ? `${limits.resumeNextDay ? 'Paused for the day' : 'Paused'}: daily loss`
        : m[2] === 'max_drawdown'
          ? haltText('max_drawdown', limits)
          : `${e.status === 'stopped' ? 'Stopped' : 'Paused'}: ${m[2]}`;
    return `${m[1] ? 'Portfolio: ' : ''}${what}`;
  }
  if (e.status === 'failed') return `Failed: ${e.reason ?? 'unknown'}`;
  const verb = e.status === 'stopped' ? 'Stopped' : 'Paused';
  return e.reason ? `${verb}: ${e.reason}` : `${verb} by hand`;
}

/**
 * The times paper sessions did not trade once started, as spans to shade on their charts, from their
 * timelines (oldest first; a paper portfolio's sessions' as one, each change with its `sessionId`): from
 * the change that left none of them running (their limits, their paper portfolio's on the summed
 * equity, a failure, or the user) until the first that let one trade again, or to the end. A span
 * starts at the latest market time among the changes that halted them (each at its own symbol's tick;
 * the wall clock's where a change has none), and is named by the change that halted the last of them.
 * The reports draw the same (timelineSpans in packages/strategy/src/report.ts).
 * @param {{ sessionId?: string, status: string, reason: string | null, ts: string | null, at: string }[]} events
 * @param {{ config?: any }} s the session (for a portfolio: its limits as `config.portfolio.risk`)
 */
function timelineSpans(events, s) {
  const running = new Set();
  /** @type {{ from: number, until: number, label: string }[]} */
  const spans = [];
  /** @type {{ from: number, until: number, label: string } | null} */
  let open = null;
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
        open = {
          from: latest,
          until: Infinity,
          label: `${sessionHaltText(e, s)} (${when(new Date(latest).toISOString())})`,
        };
    }
  }
  if (open) spans.push(open);
  return spans;
}

/**
 * The times a paper session was not trading once started (its timeline, GET /api/forward-tests/:id/events):
 * each pause or stop from running until it ran again, or to the end; a pause then a stop is one span.
 * @param {{ status: string, was: string | null, reason: string | null, ts: string | null, at: string }[]} events oldest first
 * @param {{ config?: any }} s the session
 */
export const sessionHaltSpans = (events, s) => timelineSpans(events, s);

/**
 * The times no session of a paper portfolio traded once it had started (its sessions' timelines as one,
 * GET /api/forward-tests/portfolios/:id/events, in the order made).
 * @param {{ sessionId: string, status: string, reason: string | null, ts: string | null, at: string }[]} events
 * @param {Record<string, number | boolean> | undefined} portfolioRisk the portfolio's limits, for the words
 */
export const portfolioHaltSpans = (events, portfolioRisk) =>
  timelineSpans(events, { config: { portfolio: { risk: portfolioRisk ?? {} } } });

/**
 * A session's timeline as rows to list: when (market time, else wall clock), the change, and why.
 * @param {{ status: string, was: string | null, reason: string | null, ts: string | null, at: string }[]} events
 */
export const timelineRows = (events) =>
  events.map((e) => ({
    when: when(e.ts ?? e.at),
    change: e.was ? `${e.was} → ${e.status}` : e.status,
    why: e.reason ?? (e.was ? 'by hand' : ''),
  }));

/**
 * A paper session's activity (its analytics report's `activity`) in a sentence: the share of the time
 * since its start it traded, and what stopped it trading, by why.
 * @param {{ startedAt: number | null, runningPct: number | null, halts: number, byReason: { reason: string, count: number }[] } | undefined} a
 */
export function activityText(a) {
  if (!a || a.startedAt === null) return 'Not started yet.';
  const share = a.runningPct === null ? '' : `Trading ${a.runningPct.toFixed(1)} % of the time since its start`;
  const halts = a.halts
    ? `stopped trading ${a.halts} time${a.halts > 1 ? 's' : ''}: ${a.byReason.map((r) => `${r.count} × ${r.reason}`).join(', ')}`
    : 'never stopped trading';
  return share ? `${share}; ${halts}.` : `${halts[0]?.toUpperCase()}${halts.slice(1)}.`;
}
