// @ts-check
/**
 * The run forms' fields (as strings, from FormData) read into the API's request bodies for a
 * backtest, a sweep, a walk-forward or a paper session. Empty optional fields are left out, so the API's defaults
 * apply; the API validates the rest and its message is shown as it is.
 */

/** @param {string | undefined} v */
const given = (v) => v !== undefined && v.trim() !== '';

/**
 * An exchange's rules among a run's settings (the API's ExchangeInput, whose keys a test holds these
 * to): what a backtest's **Paper trade it** carries over when the backtest had them.
 */
export const EXCHANGE_KEYS = /** @type {const} */ (['makerFeeRate', 'qtyStep', 'minNotional', 'borrowRatePct']);

/**
 * @param {Record<string, string>} f the form's fields
 * @param {'backtest' | 'sweep' | 'walk-forward' | 'portfolio' | 'session'} kind
 * @returns {Record<string, unknown>}
 */
export function runBody(f, kind) {
  /** @type {Record<string, unknown>} */
  const body = {
    symbol: f.symbol,
    startingBalance: Number(f.balance),
    feeRate: Number(f.fee ?? 0) / 100,
  };
  // a limit order filled at its level, as a maker (empty: the fee, as a taker's)
  if (given(f.makerFeePct)) body.makerFeeRate = Number(f.makerFeePct) / 100;
  // an exchange's lot size and minimum order value (empty: whole shares or 1e-8; no minimum); a
  // portfolio's symbols may each have their own (`0.01, BTCUSD=0.001`): its symbolRules
  /** @type {Record<string, Record<string, number>>} */
  const symbolRules = {};
  for (const key of /** @type {const} */ (['qtyStep', 'minNotional'])) {
    if (!given(f[key])) continue;
    const lots = parseLots(/** @type {string} */ (f[key]), key === 'qtyStep' ? 'quantity step' : 'min order value');
    if ('error' in lots) throw new Error(lots.error);
    if (lots.value !== undefined) body[key] = lots.value;
    for (const [symbol, n] of Object.entries(lots.bySymbol)) (symbolRules[symbol] ??= {})[key] = n;
  }
  // a short's borrow fee, % a year
  if (given(f.borrowRatePct) && Number(f.borrowRatePct) !== 0) body.borrowRatePct = Number(f.borrowRatePct);
  if (given(f.slippageBps)) body.slippageBps = Number(f.slippageBps);
  if (f.allowShort === 'on') body.allowShort = true;
  // margin trading: leverage above 1, and the maintenance margin that sets the liquidation price
  if (given(f.leverage) && Number(f.leverage) !== 1) body.leverage = Number(f.leverage);
  if (given(f.maintenanceMarginPct)) body.maintenanceMarginPct = Number(f.maintenanceMarginPct);
  if (given(f.fundingRatePct) && Number(f.fundingRatePct) !== 0) body.fundingRatePct = Number(f.fundingRatePct);
  // a paper session's risk limits (a backtest applies them as the session would)
  /** @type {Record<string, number | boolean>} */
  const risk = {};
  for (const k of ['maxDrawdownPct', 'maxPositionPct', 'maxDailyLossPct']) if (given(f[k])) risk[k] = Number(f[k]);
  // a daily loss's pause ends with the day (the session resumes the next day; a backtest trades on)
  if (given(f.maxDailyLossPct) && f.resumeNextDay === 'on') risk.resumeNextDay = true;
  if (Object.keys(risk).length) body.risk = risk;
  // what the run is called (a session's, a backtest's, a sweep's)
  if (given(f.name)) body.name = String(f.name).trim();
  if (kind !== 'session') {
    // a portfolio: a portfolio backtest, or a sweep or walk-forward given symbols (each of its backtests a portfolio's)
    const portfolio = kind === 'portfolio' || ((kind === 'sweep' || kind === 'walk-forward') && given(f.symbols));
    body.interval = f.interval;
    if (given(f.from)) body.from = f.from;
    if (given(f.to)) body.to = f.to;
    // a detail timeframe (not for a portfolio: each symbol would need its own finer candles)
    if (given(f.detailInterval) && !portfolio) body.detailInterval = f.detailInterval;
    if (portfolio) {
      delete body.symbol;
      const p = parsePortfolio(f.symbols ?? '');
      if ('error' in p) throw new Error(p.error);
      body.symbols = p.symbols;
      if (p.weights) body.weights = p.weights;
      if (Object.keys(symbolRules).length) body.symbolRules = symbolRules;
      // limits on the summed equity (a paper portfolio's portfolioRisk: each backtest, each window, applies them)
      /** @type {Record<string, number | boolean>} */
      const pr = {};
      if (given(f.portfolioDrawdownPct)) pr.maxDrawdownPct = Number(f.portfolioDrawdownPct);
      if (given(f.portfolioDailyLossPct)) {
        pr.maxDailyLossPct = Number(f.portfolioDailyLossPct);
        if (f.resumeNextDay === 'on') pr.resumeNextDay = true;
      }
      if (Object.keys(pr).length) body.portfolioRisk = pr;
    }
    if (kind === 'walk-forward') {
      if (given(f.folds)) body.folds = Number(f.folds);
      if (given(f.outOfSamplePct)) body.outOfSamplePct = Number(f.outOfSamplePct);
      if (f.anchored === 'on') body.anchored = true;
      if (f.pick === 'robust') body.pick = 'robust';
    }
    if (!portfolio) {
      noSymbolRules(symbolRules);
      if (given(f.portfolioDrawdownPct) || given(f.portfolioDailyLossPct))
        throw new Error("the portfolio drawdown stop and daily loss are a portfolio's: give its symbols");
    }
    return body;
  }
  noSymbolRules(symbolRules);
  if (given(f.evaluation) && f.evaluation !== 'tick') body.evaluation = { mode: 'candle', interval: f.evaluation };
  return body;
}

/** a symbol's own lot size or minimum is a portfolio's @param {Record<string, unknown>} rules */
function noSymbolRules(rules) {
  const [symbol] = Object.keys(rules);
  if (symbol) throw new Error(`${symbol}=…: a symbol's own quantity step or min order value is for a portfolio`);
}

/**
 * A quantity step or minimum order value as typed: a number (the run's), or for a portfolio also its
 * symbols' own, `0.01, BTCUSD=0.001` (the run's, then BTCUSD's). Each a number of 0 or more.
 * @param {string} text @param {string} what the field, for the message
 * @returns {{ value?: number, bySymbol: Record<string, number> } | { error: string }}
 */
export function parseLots(text, what) {
  /** @type {{ value?: number, bySymbol: Record<string, number> }} */
  const out = { bySymbol: {} };
  for (const part of text.split(/[,;]/).map((x) => x.trim())) {
    if (!part) continue;
    const [sym, value] = part.includes('=') ? part.split('=', 2).map((x) => x.trim()) : [undefined, part];
    const n = value === '' ? NaN : Number(value);
    if (!(n >= 0)) return { error: `${what}: "${part}" is not a number` };
    if (sym === undefined) out.value = n;
    else if (!/^[A-Za-z0-9._:-]{1,40}$/.test(sym)) return { error: `${what}: "${sym}" is not a symbol` };
    else out.bySymbol[sym.toUpperCase()] = n;
  }
  return out;
}

/**
 * A portfolio's symbols as typed: `GOOG, BTCUSD` (equal weights) or `GOOG:3, BTCUSD:1` (weights, in any
 * unit: the API normalises them). Either every symbol has a weight or none does; 2-20 symbols, each once.
 * @param {string} text
 * @returns {{ symbols: string[], weights?: number[] } | { error: string }}
 */
export function parsePortfolio(text) {
  const parts = text
    .split(/[,;\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);
  if (parts.length < 2) return { error: 'give at least two symbols, e.g. GOOG, BTCUSD' };
  if (parts.length > 20) return { error: `${parts.length} symbols; at most 20` };
  /** @type {string[]} */
  const symbols = [];
  /** @type {number[]} */
  const weights = [];
  for (const part of parts) {
    const [sym = '', w, ...rest] = part.split(':');
    if (!/^[A-Za-z0-9._\-/]{1,40}$/.test(sym) || rest.length) return { error: `"${part}" is not a symbol` };
    const symbol = sym.toUpperCase();
    if (symbols.includes(symbol)) return { error: `${symbol} is there twice` };
    symbols.push(symbol);
    if (w !== undefined) {
      const n = Number(w);
      if (!(n > 0)) return { error: `the weight of ${symbol} must be a positive number` };
      weights.push(n);
    }
  }
  if (weights.length && weights.length !== symbols.length)
    return { error: 'give every symbol a weight (GOOG:3, BTCUSD:1) or none' };
  return weights.length ? { symbols, weights } : { symbols };
}

/** a fraction as a percent, without float noise (0.0002: "0.02 %") @param {number} x */
const pct = (x) => `${Number((x * 100).toPrecision(6))} %`;

/**
 * A run's money and exchange settings in a line, as its page shows them (a backtest's `parameters`, a
 * paper session's `config`): what is set beyond the defaults, the fee always.
 * @param {Record<string, any>} p
 * @returns {string}
 */
export function settingsText(p) {
  /** @type {string[]} */
  const parts = [];
  if (p.startingBalance !== undefined) parts.push(`balance ${p.startingBalance}`);
  parts.push(`fee ${pct(p.feeRate ?? 0)}`);
  if (p.makerFeeRate !== undefined) parts.push(`maker fee ${pct(p.makerFeeRate)}`);
  if (p.feeFixed) parts.push(`fixed fee ${p.feeFixed}`);
  if (p.slippageBps) parts.push(`slippage ${p.slippageBps} bps`);
  if (p.allowShort) parts.push('shorts allowed');
  if (p.fillOn === 'close') parts.push('fills on closes');
  if (p.leverage > 1) parts.push(`leverage ${p.leverage}×`);
  if (p.fundingRatePct) parts.push(`funding ${p.fundingRatePct} % / 8 h`);
  if (p.qtyStep !== undefined) parts.push(`quantity step ${p.qtyStep}`);
  else if (p.wholeUnits) parts.push('whole units');
  if (p.minNotional) parts.push(`min order value ${p.minNotional}`);
  // its own risk limits (a session's, or a backtest's applying them as a session would)
  const r = p.risk ?? {};
  if (r.maxDrawdownPct !== undefined) parts.push(`drawdown stop ${r.maxDrawdownPct} %`);
  if (r.maxDailyLossPct !== undefined)
    parts.push(`daily loss ${r.maxDailyLossPct} %${r.resumeNextDay ? ' (resumes the next day)' : ''}`);
  if (r.maxPositionPct !== undefined) parts.push(`max position ${r.maxPositionPct} % of equity`);
  if (r.maxPositionValue !== undefined) parts.push(`max position value ${r.maxPositionValue}`);
  if (r.maxOrderQty !== undefined) parts.push(`max order ${r.maxOrderQty} units`);
  if (r.maxOrdersPerMinute !== undefined) parts.push(`${r.maxOrdersPerMinute} orders a minute`);
  // a portfolio's limits on its summed equity
  const pr = p.portfolio?.risk;
  if (pr?.maxDrawdownPct !== undefined) parts.push(`portfolio drawdown stop ${pr.maxDrawdownPct} %`);
  if (pr?.maxDailyLossPct !== undefined)
    parts.push(`portfolio daily loss ${pr.maxDailyLossPct} %${pr.resumeNextDay ? ' (resumes the next day)' : ''}`);
  // a portfolio's symbols with lot sizes or minimums of their own
  for (const [symbol, r] of Object.entries(p.portfolio?.rules ?? {})) {
    const own = [];
    if (r.qtyStep !== undefined) own.push(`quantity step ${r.qtyStep}`);
    if (r.minNotional !== undefined) own.push(`min order value ${r.minNotional}`);
    parts.push(`${symbol}: ${own.join(', ')}`);
  }
  if (p.borrowRatePct) parts.push(`short borrow ${p.borrowRatePct} % a year`);
  if (p.detailInterval) parts.push(`detail ${p.detailInterval}`);
  return parts.join(' · ');
}

/**
 * The limits a running session's edit form offers, [field, label]: the rest of its `risk`
 * (maxPositionValue, maxOrderQty) is kept as it is.
 */
export const EDITABLE_LIMITS = /** @type {const} */ ([
  ['maxDrawdownPct', 'stop at drawdown (%)'],
  ['maxDailyLossPct', 'max daily loss (%)'],
  ['maxPositionPct', 'max position (% of equity)'],
  ['maxOrdersPerMinute', 'max orders a minute'],
]);

/**
 * The `PATCH /api/forward-tests/:id` body from a session's edit form: its name (empty: none) and its
 * own risk limits, the ones the form offers as typed (empty: none) over the rest of `risk` as it was.
 * @param {Record<string, number | boolean>} risk the session's `config.risk` now
 * @param {Record<string, string>} f the form's fields (`resumeNextDay` 'on' when ticked)
 * @param {boolean} limits whether its limits may change (not once it is stopped or failed)
 */
export function sessionPatch(risk, f, limits) {
  /** @type {Record<string, unknown>} */
  const body = { name: given(f.name) ? String(f.name).trim() : null };
  if (!limits) return body;
  /** @type {Record<string, number | boolean>} */
  const next = { ...risk };
  for (const [k] of EDITABLE_LIMITS) {
    delete next[k];
    if (given(f[k])) next[k] = Number(f[k]);
  }
  delete next.resumeNextDay;
  if (next.maxDailyLossPct !== undefined && f.resumeNextDay === 'on') next.resumeNextDay = true;
  body.risk = next;
  return body;
}

/**
 * The `PATCH /api/forward-tests/portfolios/:id` body from a paper portfolio's limits form: its drawdown
 * stop and daily loss on the summed equity as typed; both empty: none (null).
 * @param {Record<string, string>} f the form's fields (`resumeNextDay` 'on' when ticked)
 */
export function portfolioRiskPatch(f) {
  /** @type {Record<string, number | boolean>} */
  const pr = {};
  if (given(f.maxDrawdownPct)) pr.maxDrawdownPct = Number(f.maxDrawdownPct);
  if (given(f.maxDailyLossPct)) {
    pr.maxDailyLossPct = Number(f.maxDailyLossPct);
    if (f.resumeNextDay === 'on') pr.resumeNextDay = true;
  }
  return { portfolioRisk: Object.keys(pr).length ? pr : null };
}
