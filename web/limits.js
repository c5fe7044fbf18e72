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

/** the sources of the closes a session's limits make: its own, and its paper portfolio's on the sum */
export const LIMIT_SOURCES = ['max_drawdown', 'max_daily_loss', 'portfolio_max_drawdown', 'portfolio_max_daily_loss'];

/**
 * The times a paper session's risk limits (its own, or its paper portfolio's on the summed equity)
 * stopped or paused it, as spans to shade on its charts, from its fills: a limit is reached only while
 * a position is open (a flat session's equity does not move), so each closed it with a fill whose source
 * names the limit. A drawdown's stop runs to the end; a daily loss's pause to the next UTC day when the
 * session resumes then (`resumeNextDay`), to the end while it is still paused by it; one resumed by hand
 * (when is not kept) is marked at its time only.
 * @param {{ ts: string, source?: string }[]} fills the session's, in time order
 * @param {{ status: string, config?: any }} s the session
 */
export function sessionHaltSpans(fills, s) {
  const halts = fills.filter((f) => f.source !== undefined && LIMIT_SOURCES.includes(f.source));
  return halts.map((f, k) => {
    const source = /** @type {string} */ (f.source);
    const portfolio = source.startsWith('portfolio_');
    const limit = portfolio ? source.slice('portfolio_'.length) : source;
    const limits = (portfolio ? s.config?.portfolio?.risk : s.config?.risk) ?? {};
    const from = Date.parse(f.ts);
    const until =
      limit === 'max_drawdown'
        ? Infinity
        : limits.resumeNextDay
          ? nextDay(from)
          : k === halts.length - 1 && s.status === 'paused'
            ? Infinity
            : from;
    return { from, until, label: `${portfolio ? 'Portfolio: ' : ''}${haltText(limit, limits)} (${when(f.ts)})` };
  });
}
