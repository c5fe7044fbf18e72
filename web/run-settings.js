// @ts-check
/**
 * The run forms' fields (as strings, from FormData) read into the API's request bodies for a
 * backtest, a sweep, a walk-forward or a paper session. Empty optional fields are left out, so the API's defaults
 * apply; the API validates the rest and its message is shown as it is.
 */

/** @param {string | undefined} v */
const given = (v) => v !== undefined && v.trim() !== '';

/**
 * @param {Record<string, string>} f the form's fields
 * @param {'backtest' | 'sweep' | 'walk-forward' | 'session'} kind
 * @returns {Record<string, unknown>}
 */
export function runBody(f, kind) {
  /** @type {Record<string, unknown>} */
  const body = {
    symbol: f.symbol,
    startingBalance: Number(f.balance),
    feeRate: Number(f.fee ?? 0) / 100,
  };
  if (given(f.slippageBps)) body.slippageBps = Number(f.slippageBps);
  if (f.allowShort === 'on') body.allowShort = true;
  if (kind !== 'session') {
    body.interval = f.interval;
    if (given(f.from)) body.from = f.from;
    if (given(f.to)) body.to = f.to;
    if (kind === 'walk-forward') {
      if (given(f.folds)) body.folds = Number(f.folds);
      if (given(f.outOfSamplePct)) body.outOfSamplePct = Number(f.outOfSamplePct);
      if (f.anchored === 'on') body.anchored = true;
    }
    return body;
  }
  if (given(f.name)) body.name = String(f.name).trim();
  if (given(f.evaluation) && f.evaluation !== 'tick') body.evaluation = { mode: 'candle', interval: f.evaluation };
  /** @type {Record<string, number>} */
  const risk = {};
  for (const k of ['maxDrawdownPct', 'maxPositionPct', 'maxDailyLossPct']) if (given(f[k])) risk[k] = Number(f[k]);
  if (Object.keys(risk).length) body.risk = risk;
  return body;
}
