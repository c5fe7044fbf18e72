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

/**
 * The request body of an order from the form's values, or why it cannot be sent. `amount` is what was
 * typed: a buy's or sell's amount in its sizing's terms, a close's share of the position in % (empty: all).
 * @param {{ action: string, sizing: string, amount: string }} v
 * @returns {{ body: Record<string, unknown> } | { error: string }}
 */
export function orderBody(v) {
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
 * What a placed order did, in words: its fill (a trade), from the API's answer.
 * @param {{ trade: { side: string, quantity: number, price: number, fee: number, ts: string } | null, session: { symbol: string } }} r
 */
export function orderText(r) {
  const t = r.trade;
  if (!t) return 'The order did nothing.';
  const verb = t.side === 'buy' ? 'Bought' : 'Sold';
  const n = (/** @type {number} */ x) => String(Number(x.toPrecision(8)));
  return `${verb} ${n(t.quantity)} ${r.session.symbol} at ${n(t.price)} (fee ${n(t.fee)}), ${when(t.ts)}.`;
}
