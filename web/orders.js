// @ts-check
/**
 * Orders by hand on a paper session (`POST /api/forward-tests/:id/orders`), as its page's order form
 * sends them and says what they did. No DOM, so tested in Node against the real API.
 */
import { when } from './time.js';

/** The sizings a buy or sell takes, as the form offers them: [value, label]. */
export const ORDER_SIZINGS = /** @type {const} */ ([
  ['pct_equity', '% of equity'],
  ['fixed_cash', 'cash'],
  ['fixed_qty', 'units'],
  ['all', 'all the equity'],
]);

/** The order types the form offers: [value, label]. */
export const ORDER_TYPES = /** @type {const} */ ([
  ['market', 'at the market now'],
  ['limit', 'limit: at a price or better'],
  ['stop', 'stop: at the market once the price reaches it'],
  ['trailing_stop', 'trailing stop: a stop that follows the price by a percent'],
]);

/** a trailing stop's distance the API takes, % (over 0, up to 50) @param {number} pct */
const isTrail = (pct) => pct > 0 && pct <= 50;

/**
 * The request body of an order from the form's values, or why it cannot be sent. `amount` is what was
 * typed: a buy's or sell's amount in its sizing's terms, a close's share of the position in % (empty: all).
 * A limit or stop order takes a `price` and, optionally, the minutes it rests (`validMinutes`, empty:
 * until it fills or is cancelled). A buy or sell may carry a bracket: the prices its position's stop
 * (`stopLoss`) and target (`takeProfit`) close at once it fills.
 * `trailPercent` (a trail %): a trailing stop's distance from the best price since placed, instead of a
 * price; on a buy or sell of another type, its bracket's trailing stop (`trailingStopPercent`).
 * `ocoGroup`: a resting order's one-cancels-the-other group (empty: none).
 * @param {{ action: string, sizing: string, amount: string, type?: string, price?: string, trailPercent?: string, validMinutes?: string, stopLoss?: string, takeProfit?: string, ocoGroup?: string }} v
 * @returns {{ body: Record<string, unknown> } | { error: string }}
 */
export function orderBody(v) {
  const sized = sizedBody(v);
  if ('error' in sized) return sized;
  const type = v.type ?? 'market';
  if (type !== 'market' && type !== 'limit' && type !== 'stop' && type !== 'trailing_stop')
    return { error: `no such order type: ${type}` };
  /** @type {Record<string, unknown>} */
  const bracket = {};
  for (const [k, label] of /** @type {const} */ ([
    ['stopLoss', 'stop loss'],
    ['takeProfit', 'take profit'],
  ])) {
    const text = (v[k] ?? '').trim();
    if (!text) continue;
    if (v.action === 'close')
      return { error: `a ${label} price is for a buy or sell (a close at a price: type limit or stop)` };
    const n = Number(text);
    if (!(n > 0) || !Number.isFinite(n)) return { error: `a ${label} price over 0, or none` };
    bracket[k] = n;
  }
  const trail = (v.trailPercent ?? '').trim();
  const pct = Number(trail);
  if (trail && !isTrail(pct)) return { error: 'a trail %: over 0 and up to 50' };
  if (trail && type !== 'trailing_stop') {
    if (v.action === 'close') return { error: 'a trail % on a close: type trailing stop' };
    bracket.trailingStopPercent = pct;
  }
  const base = { ...sized.body, ...bracket };
  const group = (v.ocoGroup ?? '').trim();
  if (group && !/^[A-Za-z0-9._:-]{1,64}$/.test(group))
    return { error: 'a one-cancels-the-other group: up to 64 letters, digits and . _ : -' };
  if (type === 'market')
    return group ? { error: 'a group is for resting orders (limit, stop, trailing stop)' } : { body: base };
  if (group) base.ocoGroup = group;
  /** @type {Record<string, unknown>} */
  let body;
  if (type === 'trailing_stop') {
    if (!trail) return { error: 'a trailing stop needs its trail %, over 0 and up to 50' };
    if ((v.price ?? '').trim()) return { error: 'a trailing stop follows the price: give its trail %, not a price' };
    body = { ...base, type, trailPercent: pct };
  } else {
    const price = Number((v.price ?? '').trim());
    if (!(v.price ?? '').trim() || !(price > 0) || !Number.isFinite(price))
      return { error: `a ${type} order needs a price over 0` };
    body = { ...base, type, price };
  }
  const minutes = (v.validMinutes ?? '').trim();
  if (!minutes) return { body };
  const m = Number(minutes);
  if (!Number.isInteger(m) || m < 1 || m > 129_600)
    return { error: 'minutes it rests: a whole number from 1 to 129,600 (90 days)' };
  return { body: { ...body, validMinutes: m } };
}

/** @param {{ action: string, sizing: string, amount: string }} v @returns {{ body: Record<string, unknown> } | { error: string }} */
function sizedBody(v) {
  const text = v.amount.trim();
  const n = Number(text);
  if (v.action === 'close') {
    if (text === '') return { body: { action: 'close' } };
    if (!(n > 0 && n <= 100)) return { error: 'a close takes a share of the position, over 0 and up to 100 %' };
    return { body: n === 100 ? { action: 'close' } : { action: 'close', percent: n } };
  }
  if (v.action !== 'buy' && v.action !== 'sell') return { error: `no such order: ${v.action}` };
  if (v.sizing === 'all') return { body: { action: v.action, sizing: 'all' } };
  if (text === '' || !(n > 0) || !Number.isFinite(n)) return { error: 'type an amount over 0' };
  if (v.sizing === 'pct_equity' && n > 100) return { error: 'a share of the equity is at most 100 %' };
  return { body: { action: v.action, sizing: v.sizing, amount: n } };
}

/**
 * A resting order by hand in words (GET .../open-orders, a session's `openOrders`).
 * @param {{ action: string, side: string, type: string, price: number, sizing: string, amount: number, percent?: number, until: string | null, stopLoss?: number, takeProfit?: number, parent?: string, amendedAt?: string, trailPercent?: number, extreme?: number, trailingStopPercent?: number, ocoGroup?: string }} o
 */
export function openOrderText(o) {
  const n = (/** @type {number} */ x) => String(Number(x.toPrecision(8)));
  const size =
    o.action === 'close'
      ? `close ${o.percent === undefined ? 'all' : `${n(o.percent)} %`} (${o.side})`
      : `${o.side} ${o.sizing === 'all' ? 'all the equity' : `${n(o.amount)} ${(ORDER_SIZINGS.find(([v]) => v === o.sizing) ?? ['', o.sizing])[1]}`}`;
  const kind =
    o.type === 'limit'
      ? `limit at ${n(o.price)}`
      : o.type === 'trailing_stop'
        ? `trailing stop at ${n(o.price)} (${n(o.trailPercent ?? 0)} % ${o.side === 'sell' ? 'under the high' : 'over the low'} of ${n(o.extreme ?? 0)})`
        : `stop at ${n(o.price)}`;
  const bracket = [
    o.stopLoss !== undefined ? `stop loss ${n(o.stopLoss)}` : '',
    o.takeProfit !== undefined ? `take profit ${n(o.takeProfit)}` : '',
    o.trailingStopPercent !== undefined ? `a ${n(o.trailingStopPercent)} % trailing stop` : '',
  ].filter(Boolean);
  return (
    `${size}, ${kind}${bracket.length ? `, then ${bracket.join(' and ')}` : ''}` +
    `${o.parent ? ', a bracket' : o.ocoGroup ? `, one cancels the other in ${o.ocoGroup}` : ''}` +
    `, ${o.until ? `until ${when(o.until)}` : 'until cancelled'}` +
    `${o.amendedAt ? ' (amended)' : ''}`
  );
}

/**
 * The body that moves a resting order to the price typed (`PATCH .../open-orders/:orderId`), or why it
 * cannot be sent: a price over 0 that differs from the one it rests at (a trailing stop: its trail %).
 * @param {string} typed
 * @param {{ price: number, type?: string, trailPercent?: number }} o
 * @returns {{ body: { price: number } | { trailPercent: number } } | { error: string }}
 */
export function moveBody(typed, o) {
  const text = typed.trim();
  if (o.type === 'trailing_stop') {
    const pct = Number(text);
    if (!text || !isTrail(pct)) return { error: 'type a trail % over 0 and up to 50' };
    if (pct === o.trailPercent) return { error: `it trails by ${pct} % already` };
    return { body: { trailPercent: pct } };
  }
  const price = Number(text);
  if (!text || !(price > 0) || !Number.isFinite(price)) return { error: 'type a price over 0 to move it to' };
  if (price === o.price) return { error: `it rests at ${price} already` };
  return { body: { price } };
}

/**
 * What a placed order did, in words: its fill (a trade), from the API's answer.
 * @param {{ trade?: { side: string, quantity: number, price: number, fee: number, ts: string } | null, open?: Parameters<typeof openOrderText>[0], session: { symbol: string } }} r
 */
export function orderText(r) {
  if ('open' in r && r.open) return `Resting: ${openOrderText(r.open)}.`;
  const t = r.trade;
  if (!t) return 'The order did nothing.';
  const verb = t.side === 'buy' ? 'Bought' : 'Sold';
  const n = (/** @type {number} */ x) => String(Number(x.toPrecision(8)));
  return `${verb} ${n(t.quantity)} ${r.session.symbol} at ${n(t.price)} (fee ${n(t.fee)}), ${when(t.ts)}.`;
}
