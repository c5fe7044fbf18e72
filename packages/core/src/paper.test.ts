import { describe, expect, it } from 'vitest';
import {
  addScaleOf,
  addStepFor,
  applyFill,
  applyOutcome,
  assignLedger,
  balanceOf,
  coolRunAt,
  cooldownStep,
  copyLedger,
  equityOf,
  floorUnits,
  fundingPct,
  paysFunding,
  partialUnits,
  markLedger,
  markLedgerWithin,
  newLedger,
  planOrder,
  roundTrips,
  settleFunding,
  storedLedger,
  type Cooldown,
  type Fill,
  type OrderRequest,
  type PaperConfig,
  type RiskLimits,
} from './paper.ts';
import { seededRandom } from './random.ts';
import type { TradeRecord } from './stats.ts';

const cfg = (over: Partial<PaperConfig> = {}): PaperConfig => ({
  startingBalance: 100_000,
  feeRate: 0.001,
  feeFixed: 0,
  slippageBps: 5,
  allowShort: false,
  wholeUnits: false,
  ...over,
});

describe('paper ledger', () => {
  it('fills a buy at the ask plus slippage, charges the fee and keeps the ledger identity', () => {
    const s = newLedger(cfg());
    const out = planOrder(s, cfg(), {}, { action: 'buy', sizing: 'fixed_qty', amount: 2, price: 100, ask: 101, ts: 1 });
    expect(out.kind).toBe('fill');
    if (out.kind !== 'fill') return;
    expect(out.fill.price).toBeCloseTo(101 * 1.0005, 10);
    expect(out.fill.fee).toBeCloseTo(2 * 101 * 1.0005 * 0.001, 8);
    expect(out.fill.slippage).toBeCloseTo(2 * 101 * 0.0005, 8);
    applyFill(s, out.fill);
    expect(s.qty).toBe(2);
    expect(s.cash).toBeCloseTo(100_000 - 2 * out.fill.price - out.fill.fee, 8);
    expect(balanceOf(s)).toBeCloseTo(100_000 - out.fill.fee, 8);
    const sell = planOrder(s, cfg(), {}, { action: 'sell', sizing: 'all', amount: 0, price: 110, bid: 109, ts: 2 });
    if (sell.kind !== 'fill') throw new Error(sell.kind);
    expect(sell.fill.side).toBe('sell');
    expect(sell.fill.quantity).toBe(2); // closes the long; no short without allowShort
    expect(sell.fill.realizedPnl).toBeCloseTo(2 * (109 * 0.9995 - out.fill.price), 8);
    expect(sell.closedTrade!.pnl).toBeCloseTo(sell.fill.realizedPnl - out.fill.fee - sell.fill.fee, 8);
    applyFill(s, sell.fill, sell.closedTrade);
    expect(s.qty).toBe(0);
    expect(s.cash).toBeCloseTo(100_000 + s.realizedPnl - s.fees, 8);
    expect(s.closedTrades).toBe(1);
    expect(s.wins).toBe(1);
  });

  it("a resting limit order filled at its level pays the maker's fee rate, everything else the taker's", () => {
    const c = cfg({ makerFeeRate: 0.0002 });
    const s = newLedger(c);
    const limit: OrderRequest = {
      action: 'buy',
      sizing: 'all',
      amount: 0,
      price: 100,
      ts: 1,
      atPrice: true,
      maker: true,
    };
    const out = planOrder(s, c, {}, limit);
    if (out.kind !== 'fill') throw new Error(out.kind);
    expect(out.fill.price).toBe(100);
    expect(out.fill.fee).toBeCloseTo(out.fill.quantity * 100 * 0.0002, 8);
    // "all" is sized at the maker's rate: the cash pays for the units and their fee
    expect(out.fill.quantity * 100 * 1.0002).toBeLessThanOrEqual(100_000);
    expect(out.fill.quantity).toBeCloseTo(100_000 / 100.02, 5);
    applyFill(s, out.fill);
    // a market order (a stop, a signal's) pays the taker's rate; without a maker's rate the limit does too
    const sell = planOrder(s, c, {}, { action: 'sell', sizing: 'all', amount: 0, price: 110, ts: 2 });
    if (sell.kind !== 'fill') throw new Error(sell.kind);
    expect(sell.fill.fee).toBeCloseTo(out.fill.quantity * 110 * 0.9995 * 0.001, 8);
    expect(sell.closedTrade!.fees).toBeCloseTo(out.fill.fee + sell.fill.fee, 8);
    applyFill(s, sell.fill, sell.closedTrade);
    expect(s.cash).toBeCloseTo(100_000 + s.realizedPnl - s.fees, 8);
    // a rebate: the maker is paid, and the identity holds
    const r = cfg({ makerFeeRate: -0.0001 });
    const paid = newLedger(r);
    const rebate = planOrder(paid, r, {}, limit);
    if (rebate.kind !== 'fill') throw new Error(rebate.kind);
    expect(rebate.fill.fee).toBeCloseTo(-rebate.fill.quantity * 100 * 0.0001, 8);
    applyFill(paid, rebate.fill);
    expect(balanceOf(paid)).toBeCloseTo(100_000 - paid.fees, 8);
    expect(paid.fees).toBeLessThan(0);
    const taker = planOrder(newLedger(cfg()), cfg(), {}, limit);
    if (taker.kind !== 'fill') throw new Error(taker.kind);
    expect(taker.fill.fee / taker.fill.quantity).toBeCloseTo(100 * 0.001, 10);
  });

  it('refuses with a reason instead of overspending, breaching limits or shorting when shorts are off', () => {
    const s = newLedger(cfg());
    const req = { price: 100, ts: 1 } as const;
    const tooBig = planOrder(s, cfg(), {}, { ...req, action: 'buy', sizing: 'fixed_qty', amount: 5000 });
    expect(tooBig).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_CASH' });
    // a price far below any market's would size a position beyond what the order log holds
    expect(planOrder(s, cfg(), {}, { ...req, price: 1e-20, action: 'buy', sizing: 'all', amount: 0 })).toMatchObject({
      kind: 'refused',
      code: 'MAX_ORDER_QTY',
    });
    expect(planOrder(s, cfg(), {}, { ...req, action: 'buy', sizing: 'fixed_qty', amount: 1e308 })).toMatchObject({
      kind: 'refused',
      code: 'MAX_ORDER_QTY',
    });
    // a size whose cost overflows: Infinity, and with no fee rate Infinity × 0 = NaN (once filled)
    for (const feeRate of [0, 0.001]) {
      const huge = planOrder(
        s,
        { ...cfg(), feeRate },
        {},
        { ...req, price: 1e300, action: 'buy', sizing: 'fixed_qty', amount: 1e20 },
      );
      expect(huge).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_CASH' });
      if (huge.kind === 'refused') expect(huge.reason).toMatch(/^its cost is beyond any balance/);
    }
    expect(planOrder(s, cfg(), {}, { ...req, action: 'sell', sizing: 'all', amount: 0 })).toMatchObject({
      kind: 'refused',
      code: 'SHORTS_NOT_ALLOWED',
    });
    expect(
      planOrder(s, cfg(), { maxOrderQty: 3 }, { ...req, action: 'buy', sizing: 'fixed_qty', amount: 4 }),
    ).toMatchObject({ kind: 'refused', code: 'MAX_ORDER_QTY' });
    // proportional sizing shrinks to the limit instead of being refused
    const capped = planOrder(s, cfg(), { maxPositionPct: 10 }, { ...req, action: 'buy', sizing: 'all', amount: 0 });
    if (capped.kind !== 'fill') throw new Error(capped.kind);
    expect(capped.fill.quantity * 100).toBeLessThanOrEqual(10_000 + 1e-6);
    expect(capped.fill.quantity * 100).toBeGreaterThan(9_900);
    const rate: RiskLimits = { maxOrdersPerMinute: 1 };
    s.recentOrders.push(0);
    expect(planOrder(s, cfg(), rate, { ...req, action: 'buy', sizing: 'all', amount: 0 })).toMatchObject({
      code: 'RATE_LIMIT',
    });
    expect(planOrder(s, cfg(), rate, { ...req, ts: 61_000, action: 'buy', sizing: 'all', amount: 0 }).kind).toBe(
      'fill',
    );
    expect(planOrder(s, cfg(), {}, { ...req, action: 'close', sizing: 'all', amount: 0 }).kind).toBe('noop');
  });

  it('reconciles to the cent over thousands of random orders, longs, shorts and flips', () => {
    const rnd = seededRandom(42);
    const c = cfg({ allowShort: true, feeFixed: 0.35, slippageBps: 3 });
    const s = newLedger(c);
    const fills: Fill[] = [];
    let price = 100;
    for (let i = 0; i < 5000; i++) {
      price *= 1 + (rnd() - 0.5) * 0.02;
      markLedger(s, price, i * 1000, {});
      const action = (['buy', 'sell', 'close'] as const)[Math.floor(rnd() * 3)]!;
      const sizing = (['all', 'pct_equity', 'fixed_cash', 'fixed_qty'] as const)[Math.floor(rnd() * 4)]!;
      const amount = sizing === 'fixed_qty' ? 1 + Math.floor(rnd() * 50) : sizing === 'fixed_cash' ? 5000 : 50;
      const out = planOrder(
        s,
        c,
        {},
        { action, sizing, amount, price, bid: price * 0.9999, ask: price * 1.0001, ts: i * 1000 },
      );
      if (out.kind === 'fill') {
        applyFill(s, out.fill, out.closedTrade);
        fills.push(out.fill);
      }
      expect(s.cash).toBeGreaterThan(-1e-6 - Math.max(0, -s.qty) * price * 3); // never spends cash it lacks
    }
    expect(fills.length).toBeGreaterThan(1000);
    const realized = fills.reduce((a, f) => a + f.realizedPnl, 0);
    const fees = fills.reduce((a, f) => a + f.fee, 0);
    const qty = fills.reduce((a, f) => a + (f.side === 'buy' ? f.quantity : -f.quantity), 0);
    // the identity, from the fills alone, to a hundredth of a cent
    expect(Math.abs(100_000 + realized - fees - balanceOf(s))).toBeLessThan(1e-4);
    expect(Math.abs(qty - s.qty)).toBeLessThan(1e-6);
    expect(fills.every((f) => f.quantity === Math.round(f.quantity * 1e8) / 1e8)).toBe(true);
    expect(equityOf(s, price)).toBeCloseTo(s.cash + s.qty * price, 6);
    // round trips rebuilt from the fills agree with the live counters
    const trips = roundTrips(fills);
    expect(trips.length).toBe(s.closedTrades);
    // each round trip opened by the fill that opened its position (a flip's opens the next)
    const sources = fills.map((f, i) => ({ ...f, source: `o${i}` }));
    let open = 0;
    let openedBy = '';
    const expected: string[] = [];
    for (const f of sources) {
      // positions are on the 1e-8 grid every quantity lies on: a close leaves nothing, not a float residue
      const q = Math.round((open + (f.side === 'buy' ? f.quantity : -f.quantity)) * 1e8) / 1e8;
      if (open !== 0 && Math.sign(q) !== Math.sign(open)) expected.push(openedBy);
      if (q !== 0 && Math.sign(q) !== Math.sign(open)) openedBy = f.source;
      open = q;
    }
    expect(roundTrips(sources).map((t) => t.entryReason)).toEqual(expected);
    expect(trips.filter((t) => t.pnl > 0).length).toBe(s.wins);
  });

  it('with leverage: sizes are margins, the margin is what is checked, and a liquidation fills at its price', () => {
    const c = cfg({ leverage: 5, allowShort: true, slippageBps: 0 });
    const s = newLedger(c);
    // all of the equity as margin, the fee on the whole value: worth five times it, less the fee's share
    const all = planOrder(s, c, {}, { action: 'buy', sizing: 'all', amount: 0, price: 100, ts: 1 });
    if (all.kind !== 'fill') throw new Error(all.kind);
    expect(all.fill.quantity * 100).toBeCloseTo(100_000 / (1 / 5 + 0.001), -1);
    expect((all.fill.quantity * 100) / 5 + all.fill.fee).toBeLessThanOrEqual(100_000);
    // a fixed quantity whose margin is more than the equity is refused, naming what it needs
    const big = planOrder(s, c, {}, { action: 'sell', sizing: 'fixed_qty', amount: 6000, price: 100, ts: 1 });
    expect(big).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_CASH' });
    if (big.kind === 'refused') expect(big.reason).toMatch(/^needs 120600\.00 but 100000\.00 is available/);
    // a position limit still counts the position's whole value
    const capped = planOrder(
      s,
      c,
      { maxPositionPct: 100 },
      { action: 'buy', sizing: 'all', amount: 0, price: 100, ts: 1 },
    );
    if (capped.kind !== 'fill') throw new Error(capped.kind);
    expect(capped.fill.quantity).toBeCloseTo(1000, 5);
    applyFill(s, all.fill);
    // the ledger identity holds with cash below zero (the position is mostly borrowed)
    expect(s.cash).toBeLessThan(0);
    expect(balanceOf(s)).toBeCloseTo(100_000 - all.fill.fee, 6);
    // a liquidation fills at its price exactly: not at the bid, no slippage
    const slippy = { ...c, slippageBps: 50 };
    const liq = planOrder(
      s,
      slippy,
      {},
      {
        action: 'close',
        sizing: 'all',
        amount: 0,
        price: 80.5,
        bid: 80,
        ts: 2,
        source: 'liquidation',
        atPrice: true,
      },
    );
    if (liq.kind !== 'fill') throw new Error(liq.kind);
    expect(liq.fill).toMatchObject({ price: 80.5, slippage: 0 });
    applyFill(s, liq.fill, liq.closedTrade);
    expect(balanceOf(s)).toBeCloseTo(100_000 + liq.fill.realizedPnl - all.fill.fee - liq.fill.fee, 6);
    expect(s.cash).toBeGreaterThan(0);
  });

  it('funding: the open position pays its rate at each funding time it was open at, in its trade and the identity', () => {
    const c = cfg({ allowShort: true, slippageBps: 0, fundingRatePct: 0.01 });
    const H = 3_600_000;
    const T = Date.UTC(2026, 0, 5, 6); // 06:00 UTC: the next funding time is 08:00
    const s = newLedger(c, T);
    // flat: the clock starts, nothing is paid, and times passed while flat are never charged later
    settleFunding(s, 0.01, 100, T);
    settleFunding(s, 0.01, 100, T + 3 * H);
    expect([s.funding, s.fundedTo]).toEqual([0, T + 3 * H]);
    const buy = planOrder(s, c, {}, { action: 'buy', sizing: 'fixed_qty', amount: 10, price: 100, ts: T + 3 * H });
    if (buy.kind !== 'fill') throw new Error(buy.kind);
    applyFill(s, buy.fill);
    // 09:00 → 17:00: one funding time (16:00), on the value at the price it is settled at
    settleFunding(s, 0.01, 110, T + 11 * H);
    expect(s.funding).toBeCloseTo(10 * 110 * 0.0001, 10);
    // 17:00 → next day 09:00: two (00:00 and 08:00); settling twice at one time pays once
    settleFunding(s, 0.01, 90, T + 27 * H);
    settleFunding(s, 0.01, 90, T + 27 * H);
    expect(s.funding).toBeCloseTo(0.11 + 2 * 10 * 90 * 0.0001, 10);
    expect(s.entryFunding).toBe(s.funding);
    // the identity with funding in it: start + realised - fees - funding = cash + qty × average entry
    expect(balanceOf(s)).toBeCloseTo(100_000 - s.fees - s.funding, 8);
    // the flip's close carries the long's funding in its PnL; the short starts with none and receives
    const flip = planOrder(s, c, {}, { action: 'sell', sizing: 'fixed_qty', amount: 10, price: 95, ts: T + 28 * H });
    if (flip.kind !== 'fill' || !flip.closedTrade) throw new Error(flip.kind);
    expect(flip.closedTrade.funding).toBeCloseTo(0.29, 10);
    expect(flip.closedTrade.pnl).toBeCloseTo(10 * (95 - 100) - flip.closedTrade.fees - 0.29, 8);
    applyFill(s, flip.fill, flip.closedTrade);
    expect(s.entryFunding).toBe(0);
    settleFunding(s, 0.01, 95, T + 35 * H); // 16:00
    expect(s.entryFunding).toBeCloseTo(-10 * 95 * 0.0001, 10);
    expect(s.funding).toBeCloseTo(0.29 - 0.095, 10);
    expect(balanceOf(s)).toBeCloseTo(100_000 + s.realizedPnl - s.fees - s.funding, 8);
    // with a borrow rate of 10.95 % a year, the short also pays 0.01 % of its value at each funding time
    const b = { ...c, borrowRatePct: 10.95 };
    expect(paysFunding(b) && paysFunding({ borrowRatePct: 3 }) && !paysFunding({})).toBe(true);
    expect(fundingPct(b, 10)).toBe(0.01); // a long: the funding rate alone
    expect(fundingPct(b, -10)).toBeCloseTo(0, 12); // a short: receives 0.01 %, pays 0.01 %
    expect(fundingPct({ borrowRatePct: 10.95 }, -10)).toBeCloseTo(-0.01, 12);
    settleFunding(s, fundingPct({ borrowRatePct: 10.95 }, s.qty), 100, T + 43 * H); // 00:00: pays 10 × 100 × 0.0001
    expect(s.entryFunding).toBeCloseTo(-0.095 + 0.1, 10);
    expect(balanceOf(s)).toBeCloseTo(100_000 + s.realizedPnl - s.fees - s.funding, 8);
  });

  it('flags drawdown and daily loss limits when marked', () => {
    const s = newLedger(cfg(), Date.UTC(2026, 0, 1));
    const out = planOrder(
      s,
      cfg({ feeRate: 0, slippageBps: 0 }),
      {},
      { action: 'buy', sizing: 'all', amount: 0, price: 100, ts: Date.UTC(2026, 0, 1, 9) },
    );
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s, out.fill);
    const t0 = Date.UTC(2026, 0, 1, 10);
    expect(markLedger(s, 100, t0, { maxDailyLossPct: 5, maxDrawdownPct: 10 })).toBeNull();
    expect(markLedger(s, 94.9, t0 + 1000, { maxDailyLossPct: 5, maxDrawdownPct: 10 })).toBe('max_daily_loss');
    expect(markLedger(s, 89, t0 + 2000, { maxDailyLossPct: 50, maxDrawdownPct: 10 })).toBe('max_drawdown');
    expect(s.maxDrawdownPct).toBeCloseTo(11, 6);
    expect(s.exposureMs).toBe(3_600_000 + 2000); // from the fill at 09:00 to the last mark
  });

  it('marks with limits given as numbers exactly as with a limits object (Infinity: no limit)', () => {
    const a = newLedger(cfg(), Date.UTC(2026, 0, 1));
    a.qty = 500;
    a.cash = 50_000;
    a.avgPrice = 100;
    const b = copyLedger(a);
    const rnd = seededRandom(3);
    let price = 100;
    for (let i = 1; i <= 2_000; i++) {
      price *= 1 + (rnd() - 0.5) * 0.01;
      const ts = Date.UTC(2026, 0, 1) + i * 60_000;
      const limits: RiskLimits = i % 2 ? { maxDailyLossPct: 3, maxDrawdownPct: 8 } : {};
      const x = markLedger(a, price, ts, limits);
      const y = markLedgerWithin(b, price, ts, limits.maxDrawdownPct ?? Infinity, limits.maxDailyLossPct ?? Infinity);
      expect(y).toBe(x);
    }
    expect(b).toEqual(a);
  });

  it('reads a stored ledger: its fields as stored, the missing ones from a new ledger, in one field order', () => {
    const l = storedLedger(cfg(), { cash: 123.5, qty: 2, fills: 1 });
    expect(l).toEqual({ ...newLedger(cfg()), cash: 123.5, qty: 2, fills: 1 });
    expect(Object.keys(l)).toEqual(Object.keys(newLedger(cfg())));
    expect(storedLedger(cfg(), null)).toEqual(newLedger(cfg()));
    // a stored ledger's array is its own
    const stored = { recentOrders: [5] };
    storedLedger(cfg(), stored).recentOrders.push(6);
    expect(stored.recentOrders).toEqual([5]);
  });

  it('copies a ledger whole, sharing nothing that a fill changes', () => {
    const s = newLedger(cfg(), 1_000);
    const out = planOrder(s, cfg(), {}, { action: 'buy', sizing: 'all', amount: 0, price: 100, ts: 2_000 });
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(s, out.fill);
    const c = copyLedger(s);
    expect(c).toEqual(s);
    expect(c).not.toBe(s);
    expect(Object.keys(c)).toEqual(Object.keys(newLedger(cfg()))); // one field order for every ledger
    const sold = planOrder(c, cfg(), {}, { action: 'sell', sizing: 'all', amount: 0, price: 101, ts: 3_000 });
    if (sold.kind !== 'fill') throw new Error(sold.kind);
    applyFill(c, sold.fill);
    expect(c.qty).toBe(0);
    expect(s.qty).toBeGreaterThan(0);
    expect(s.recentOrders).toEqual([2_000]);
    expect(c.recentOrders).toEqual([2_000, 3_000]);
  });

  it('assigns a planned ledger into the live one in place', () => {
    const live = newLedger(cfg(), 1_000);
    const work = copyLedger(live);
    const out = planOrder(work, cfg(), {}, { action: 'buy', sizing: 'all', amount: 0, price: 100, ts: 2_000 });
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(work, out.fill);
    markLedger(work, 101, 3_000, {});
    const same = live;
    assignLedger(live, work);
    expect(live).toBe(same);
    expect(live).toEqual(work);
    expect(Object.keys(live)).toEqual(Object.keys(newLedger(cfg())));
    // the recent order times are copied, not shared: the working copy is reused for other batches
    expect(live.recentOrders).not.toBe(work.recentOrders);
    work.recentOrders.push(9_000);
    work.cash = 1;
    expect(live.recentOrders).toEqual([2_000]);
    // and a shorter list replaces a longer one exactly
    assignLedger(work, newLedger(cfg(), 1_000));
    expect(work.recentOrders).toEqual([]);
    assignLedger(live, work);
    expect(live).toEqual(newLedger(cfg(), 1_000));
  });

  describe("a cooldown (a strategy's Cooldown node)", () => {
    const c = cfg({ allowShort: true, slippageBps: 0 });
    /** plans and applies an order at a price and time; the outcome */
    const order = (
      s: ReturnType<typeof newLedger>,
      action: OrderRequest['action'],
      price: number,
      ts: number,
      cd: Cooldown,
      source: string = action,
    ) => {
      const out = planOrder(s, c, {}, { action, sizing: 'all', amount: 0, price, ts, source }, cd);
      if (out.kind === 'fill') applyOutcome(s, out);
      return out;
    };

    it('after any exit: an entry before its end is refused, one at its end fills', () => {
      const cd: Cooldown = { ms: 60_000, after: 'any' };
      const s = newLedger(c);
      order(s, 'buy', 100, 1_000, cd);
      expect(s.cooldownUntil).toBe(0);
      order(s, 'close', 101, 2_000, cd);
      expect(s.cooldownUntil).toBe(62_000);
      expect(order(s, 'buy', 101, 61_999, cd)).toMatchObject({ kind: 'refused', code: 'COOLDOWN' });
      expect(order(s, 'sell', 101, 30_000, cd)).toMatchObject({
        kind: 'refused',
        code: 'COOLDOWN',
        reason: `cooldown: no new position before ${new Date(62_000).toISOString()}`,
      });
      expect(order(s, 'buy', 101, 62_000, cd).kind).toBe('fill');
      expect(s.qty).toBeGreaterThan(0);
    });

    it('a flip whose close starts a cooldown only closes; exits are never held back', () => {
      const cd: Cooldown = { ms: 60_000, after: 'any' };
      const s = newLedger(c);
      order(s, 'buy', 100, 1_000, cd);
      const flip = order(s, 'sell', 99, 2_000, cd);
      if (flip.kind !== 'fill') throw new Error(flip.kind);
      expect(flip.fill.quantity).toBeCloseTo(flip.closedTrade!.size, 9); // the long's units, no short
      expect(s.qty).toBe(0);
      expect(s.cooldownUntil).toBe(62_000);
      // without the cooldown the same flip goes short
      const free = newLedger(c);
      order(free, 'buy', 100, 1_000, { ms: 0, after: 'any' });
      const sold = planOrder(free, c, {}, { action: 'sell', sizing: 'all', amount: 0, price: 99, ts: 2_000 });
      if (sold.kind !== 'fill') throw new Error(sold.kind);
      expect(sold.fill.quantity).toBeGreaterThan(1.9 * flip.fill.quantity);
      expect(Math.abs(100_000 + s.realizedPnl - s.fees - balanceOf(s))).toBeLessThan(1e-6);
    });

    it("after a loss: a losing trade starts one, a winning one does not; after a stop: only a stop's exit", () => {
      const loss: Cooldown = { ms: 60_000, after: 'loss' };
      const s = newLedger(c);
      order(s, 'buy', 100, 1_000, loss);
      order(s, 'close', 105, 2_000, loss); // a win
      expect(s.cooldownUntil).toBe(0);
      order(s, 'buy', 105, 3_000, loss);
      // a flip at a loss: closes only
      const flip = order(s, 'sell', 100, 4_000, loss);
      expect(flip.kind === 'fill' && flip.closedTrade!.pnl < 0).toBe(true);
      expect([s.qty, s.cooldownUntil]).toEqual([0, 64_000]);

      const stop: Cooldown = { ms: 60_000, after: 'stop' };
      const t = newLedger(c);
      order(t, 'buy', 100, 1_000, stop);
      order(t, 'close', 95, 2_000, stop, 'sell'); // a signal's exit at a loss
      expect(t.cooldownUntil).toBe(0);
      order(t, 'buy', 95, 3_000, stop);
      order(t, 'close', 93, 4_000, stop, 'trailing_stop');
      expect(t.cooldownUntil).toBe(64_000);
      expect(order(t, 'buy', 93, 5_000, stop)).toMatchObject({ code: 'COOLDOWN' });
    });

    it('after two losses in a row: the ledger counts the run, a win or a partial exit does not end it early', () => {
      const two: Cooldown = { ms: 60_000, after: 'loss', count: 2 };
      const s = newLedger(c);
      order(s, 'buy', 100, 1_000, two);
      order(s, 'close', 99, 2_000, two); // the first loss
      expect([s.coolStreak, s.cooldownUntil]).toEqual([1, 0]);
      order(s, 'buy', 99, 3_000, two);
      order(s, 'close', 101, 4_000, two); // a win: the run starts again
      expect([s.coolStreak, s.cooldownUntil]).toEqual([0, 0]);
      order(s, 'buy', 101, 5_000, two);
      order(s, 'close', 100, 6_000, two); // a loss
      order(s, 'buy', 100, 7_000, two);
      // half closed at a loss: a partial exit, not counted
      const half = planOrder(
        s,
        c,
        {},
        { action: 'close', sizing: 'all', amount: 0, percent: 50, price: 98, ts: 8_000, source: 'trim' },
        two,
      );
      if (half.kind !== 'fill') throw new Error(half.kind);
      expect(half.closedTrade!.pnl).toBeLessThan(0);
      expect([half.cooldownUntil, half.coolStreak]).toEqual([undefined, undefined]);
      applyOutcome(s, half);
      expect([s.coolStreak, s.cooldownUntil]).toEqual([1, 0]);
      // the rest closed at a loss, a flip: the second loss in a row, so it only closes
      const flip = order(s, 'sell', 98, 9_000, two);
      expect(flip).toMatchObject({ kind: 'fill', cooldownUntil: 69_000, coolStreak: 0 });
      expect([s.qty, s.coolStreak, s.cooldownUntil]).toEqual([0, 0, 69_000]);
      expect(order(s, 'buy', 98, 68_999, two)).toMatchObject({ code: 'COOLDOWN' });
      expect(order(s, 'buy', 98, 69_000, two).kind).toBe('fill');
    });

    it('after two stops within ten seconds: a win between them changes nothing, a stop older than the window drops out', () => {
      const win: Cooldown = { ms: 60_000, after: 'stop', count: 2, withinMs: 10_000 };
      const s = newLedger(c);
      const round = (at: number, exit: number, source: string) => {
        order(s, 'buy', 100, at, win);
        return order(s, 'close', exit, at + 1_000, win, source);
      };
      round(1_000, 98, 'stop_loss'); // a stop at 2 s
      expect([s.coolStreak, s.coolTimes, s.cooldownUntil]).toEqual([1, [2_000], 0]);
      round(3_000, 103, 'sell'); // a win between: in a row it would end the run, here it changes nothing
      expect([s.coolStreak, s.coolTimes]).toEqual([1, [2_000]]);
      expect(coolRunAt(win, s, 11_999)).toBe(1);
      // a stop at 13 s: the one at 2 s is 11 s before, out of the window, so a run of one again
      round(12_000, 98, 'stop_loss');
      expect([s.coolStreak, s.coolTimes, s.cooldownUntil]).toEqual([1, [13_000], 0]);
      expect(coolRunAt(win, s, 23_000)).toBe(0);
      // a flip at a stop 9 s later: the second within ten seconds, so it only closes and starts the cooldown
      order(s, 'buy', 100, 20_000, win);
      const flip = order(s, 'sell', 97, 22_000, win, 'stop_loss');
      expect(flip).toMatchObject({ kind: 'fill', cooldownUntil: 82_000, coolStreak: 0, coolTimes: [] });
      expect([s.qty, s.coolStreak, s.coolTimes, s.cooldownUntil]).toEqual([0, 0, [], 82_000]);
      expect(order(s, 'buy', 97, 81_999, win)).toMatchObject({ code: 'COOLDOWN' });
      // the same exits in a row: the win ended the first run, and the second and third stops made one
      const row = { ...win, withinMs: 0 };
      const steps = [
        [98, 'stop_loss'],
        [103, 'sell'],
        [98, 'stop_loss'],
        [97, 'stop_loss'],
      ] as const;
      let streak = 0;
      const starts = steps.map(([exit, why]) => {
        const k = cooldownStep(row, streak, exit - 100, why);
        streak = k.streak;
        return k.starts;
      });
      expect(starts).toEqual([false, false, false, true]);
    });
  });

  describe("an exchange's lot size (qtyStep) and minimum order value (minNotional)", () => {
    it('rounds down to whole steps: a quantity as given a hair under one from float error is that step', () => {
      expect(floorUnits(0.003, 0.001, 1)).toBe(0.003); // 0.003 / 0.001 is 2.9999999999999996
      expect(floorUnits(1.23456, 0.001, 1 - 1e-9)).toBe(1.234);
      expect(floorUnits(0.7, 0.1, 1)).toBe(0.7); // not 0.7000000000000001
      expect(floorUnits(0.0999, 0.1, 1)).toBe(0);
      expect(floorUnits(26, 5, 1)).toBe(25); // a lot of five shares
      // a size worked out from money is never rounded up into a step it cannot pay for
      expect(floorUnits(1.4999999999, 0.5, 1 - 1e-9)).toBe(1);
      // whole units and 1e-8 as before steps existed
      expect(floorUnits(12.9, 1, 1)).toBe(12);
      expect(floorUnits(0.123456789, 1e-8, 1)).toBe(0.12345678);
      expect(partialUnits(0.005, 50, 0.001)).toBe(0.002);
      expect(partialUnits(0.0015, 50, 0.001)).toBe(0); // under one step
      expect(partialUnits(0.3, 50, 0.1)).toBe(0.1); // 0.15 rounded down to a step
    });

    it('sizes entries, additions and partial closes in steps, and refuses entries worth less than the minimum', () => {
      const c = cfg({ qtyStep: 0.001, minNotional: 5, allowShort: true });
      const s = newLedger(c);
      const buy = planOrder(s, c, {}, { action: 'buy', sizing: 'all', amount: 0, price: 30_000, ts: 1 });
      if (buy.kind !== 'fill') throw new Error(buy.kind);
      // all of 100,000 at 30,000 × 1.0005 and the fee: 3.328 BTC, a multiple of the step
      expect(buy.fill.quantity).toBe(3.328);
      expect(Math.round(buy.fill.quantity / 0.001)).toBeCloseTo(buy.fill.quantity / 0.001, 9);
      applyFill(s, buy.fill);
      // a fixed quantity off the step is rounded down to it
      const more: OrderRequest = { action: 'buy', sizing: 'fixed_qty', amount: 0.0035, price: 30_000, ts: 2 };
      const fixed = planOrder(newLedger(c), c, {}, more);
      if (fixed.kind !== 'fill') throw new Error(fixed.kind);
      expect(fixed.fill.quantity).toBe(0.003);
      // under one step: refused, saying so
      const tiny = planOrder(newLedger(c), c, {}, { ...more, amount: 0.0004 });
      expect(tiny).toMatchObject({
        kind: 'refused',
        code: 'INSUFFICIENT_CASH',
        reason: '0.0004 units is under one lot (0.001)',
      });
      // 4 in cash at 1,000: 0.003 after the slippage and fee, worth 3, under the minimum of 5
      const under = planOrder(newLedger(c), c, {}, { ...more, sizing: 'fixed_cash', amount: 4, price: 1000 });
      expect(under).toMatchObject({ kind: 'refused', code: 'MIN_NOTIONAL' });
      expect(under.kind === 'refused' && under.reason).toMatch(/under the minimum of 5/);
      // a close of a third, in steps; a close worth less than the minimum is never refused
      const third = planOrder(
        s,
        c,
        {},
        { action: 'close', sizing: 'all', amount: 0, price: 30_000, ts: 3, percent: 33.3 },
      );
      if (third.kind !== 'fill') throw new Error(third.kind);
      expect(third.fill.quantity).toBe(1.108); // 33.3 % of 3.328 is 1.108224
      applyFill(s, third.fill, third.closedTrade);
      const rest = planOrder(s, c, {}, { action: 'close', sizing: 'all', amount: 0, price: 1, ts: 4 });
      if (rest.kind !== 'fill') throw new Error(rest.kind);
      expect(rest.fill.quantity).toBe(2.22); // 3.328 - 1.108 without float residue
      expect(s.qty).toBe(2.22);
      applyFill(s, rest.fill, rest.closedTrade);
      expect(s.qty).toBe(0);
      expect(s.cash).toBeCloseTo(100_000 + s.realizedPnl - s.fees, 8);
      // a sell that would turn a long short with less than a lot, or less than the minimum: it only closes
      for (const amount of [0.0004, 0.002]) {
        const long = newLedger(c);
        applyFill(long, fixed.fill);
        const flip = planOrder(long, c, {}, { action: 'sell', sizing: 'fixed_qty', amount, price: 1000, ts: 5 });
        if (flip.kind !== 'fill') throw new Error(`${amount}: ${flip.kind}`);
        expect(flip.fill.quantity).toBe(0.003);
        applyFill(long, flip.fill, flip.closedTrade);
        expect(long.qty).toBe(0);
      }
    });
  });

  describe('adding to a position (maxEntries) and closing part of it (percent)', () => {
    const fill = (s: ReturnType<typeof newLedger>, c: PaperConfig, o: OrderRequest, risk: RiskLimits = {}) => {
      const out = planOrder(s, c, risk, o);
      if (out.kind !== 'fill') throw new Error(`${out.kind}: ${out.reason}`);
      applyOutcome(s, out);
      return out;
    };

    it('adds while the position has fewer entries than the order allows, at the average entry price', () => {
      const c = cfg({ slippageBps: 0 });
      const s = newLedger(c);
      const buy = (price: number, amount = 30): OrderRequest => ({
        action: 'buy',
        sizing: 'pct_equity',
        amount,
        price,
        ts: price,
        maxEntries: 3,
      });
      const a = fill(s, c, buy(100)).fill;
      // the equity is 100,000: 30 % of it buys 30,000 / (100 × 1.001) units
      expect(a.quantity).toBe(Math.floor((30_000 / (100 * 1.001)) * 1e8 * (1 - 1e-9)) / 1e8);
      expect(s.entries).toBe(1);
      const eq = s.cash + a.quantity * 90; // the equity at 90: the cash and the position at 90
      const b = fill(s, c, buy(90)).fill;
      // 30 % of that equity, within the cash left
      expect(b.quantity).toBeCloseTo((0.3 * eq) / (90 * 1.001), 6);
      expect(s.entries).toBe(2);
      expect(s.avgPrice).toBeCloseTo((a.quantity * 100 + b.quantity * 90) / (a.quantity + b.quantity), 9);
      expect(s.entryFees).toBeCloseTo(a.fee + b.fee, 9);
      expect(s.entryTs).toBe(100); // the first entry's time: a time exit counts from it
      // `all`: the cash left, no more
      const all = fill(s, c, { ...buy(80), sizing: 'all' }).fill;
      expect(all.quantity * 80 + all.fee).toBeLessThanOrEqual(
        100_000 - a.quantity * 100 - a.fee - b.quantity * 90 - b.fee + 1e-6,
      );
      expect(s.cash).toBeGreaterThanOrEqual(-1e-6);
      expect(s.cash).toBeLessThan(1);
      expect(s.entries).toBe(3);
      // a fourth is not an order (the action allows three), and an action allowing one does nothing either
      expect(planOrder(s, c, {}, buy(70))).toEqual({ kind: 'noop', reason: 'already long (3 entries of at most 3)' });
      expect(planOrder(s, c, {}, { ...buy(70), maxEntries: 1 })).toEqual({ kind: 'noop', reason: 'already long' });
      const more = planOrder(s, c, {}, { ...buy(70), sizing: 'fixed_qty', amount: 10, maxEntries: 5 });
      expect(more).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_CASH' });
      expect(more.kind === 'refused' && more.reason).toMatch(/^needs 700\.70 but 0\.\d\d is available$/);
      // one trade when it closes: every entry's fee in it, the average entry price, three entries
      const units = s.qty;
      const out = fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 95, ts: 200 });
      const t = out.closedTrade!;
      expect(t.size).toBe(units);
      expect(t.entries).toBe(3);
      expect(t.entryPrice).toBeCloseTo((a.quantity * 100 + b.quantity * 90 + all.quantity * 80) / units, 9);
      expect(t.fees).toBeCloseTo(a.fee + b.fee + all.fee + out.fill.fee, 9);
      expect(t.pnl).toBeCloseTo(units * (95 - t.entryPrice) - t.fees, 6);
      expect(s.entries).toBe(0);
      expect(Math.abs(100_000 + s.realizedPnl - s.fees - balanceOf(s))).toBeLessThan(1e-6);
      expect(s.cash).toBeCloseTo(100_000 + t.pnl, 6);
    });

    it('each addition addScale times the entry before it: 2, 3, 4.5 units, rounded down to whole units', () => {
      const c = cfg({ slippageBps: 0, feeRate: 0 });
      const s = newLedger(c);
      const buy = (price: number, o: Partial<OrderRequest> = {}): OrderRequest => ({
        action: 'buy',
        sizing: 'fixed_qty',
        amount: 2,
        price,
        ts: price,
        maxEntries: 4,
        addScale: 1.5,
        ...o,
      });
      expect([100, 95, 90].map((p) => fill(s, c, buy(p)).fill.quantity)).toEqual([2, 3, 4.5]);
      expect([s.qty, s.entries]).toEqual([9.5, 3]);
      // whole units: the third entry's 4.5 is 4
      const w = newLedger(cfg({ slippageBps: 0, feeRate: 0, wholeUnits: true }));
      const wc = cfg({ slippageBps: 0, feeRate: 0, wholeUnits: true });
      expect([100, 95, 90].map((p) => fill(w, wc, buy(p)).fill.quantity)).toEqual([2, 3, 4]);
      // a share of the equity: 10 %, then 20 % (addScale 2), of the equity at the fill price
      const e = newLedger(c);
      const pct = (price: number) => buy(price, { sizing: 'pct_equity', amount: 10, addScale: 2 });
      const first = fill(e, c, pct(100)).fill.quantity;
      expect(first).toBeCloseTo(100, 6);
      const eq = e.cash + e.qty * 80;
      expect(fill(e, c, pct(80)).fill.quantity).toBeCloseTo((0.2 * eq) / 80, 6);
      // addStepScale: the first addition 5 % under the average, the second 10 % (97.5 → 87.75)
      const st = newLedger(c);
      const dip = (price: number) => buy(price, { addScale: 1, addStepPct: 5, addStepScale: 2 });
      fill(st, c, dip(100));
      fill(st, c, dip(95));
      expect(planOrder(st, c, {}, dip(91))).toMatchObject({
        kind: 'noop',
        reason: 'the price is not 10 % under the average entry (97.5) yet',
      });
      expect(fill(st, c, dip(87.75)).fill.quantity).toBe(2);
      expect([addStepFor(5, 2, 1), addStepFor(5, 2, 3), addStepFor(0, 2, 3), addStepFor(5, undefined, 3)]).toEqual([
        5, 20, 0, 5,
      ]);
      // the first entry is never scaled, nor is an addition sized `all`
      expect(addScaleOf(2, 1)).toBe(2);
      expect(addScaleOf(2, 3)).toBe(8);
      expect(addScaleOf(undefined, 3)).toBe(1);
    });

    it('adds only once the price is addStepPct against the average entry (averaging down in steps)', () => {
      const c = cfg({ slippageBps: 0, feeRate: 0 });
      const s = newLedger(c);
      const buy = (price: number): OrderRequest => ({
        action: 'buy',
        sizing: 'fixed_qty',
        amount: 10,
        price,
        ask: price + 0.01,
        ts: price,
        maxEntries: 3,
        addStepPct: 5,
      });
      fill(s, c, buy(100));
      // 5 % under the average entry (100.01, at the ask): 95.0095 or lower, the market's price (not the ask)
      expect(planOrder(s, c, {}, buy(97))).toEqual({
        kind: 'noop',
        reason: 'the price is not 5 % under the average entry (100.01) yet',
      });
      fill(s, c, buy(95));
      expect(s.avgPrice).toBeCloseTo((100.01 + 95.01) / 2, 9);
      // the next step is from the new average, 97.51: 92.6345
      expect(planOrder(s, c, {}, buy(93)).kind).toBe('noop');
      fill(s, c, buy(92.6));
      expect(s.entries).toBe(3);
      // a short's additions go the other way
      const sc = cfg({ slippageBps: 0, feeRate: 0, allowShort: true });
      const short = newLedger(sc);
      const sell = (price: number): OrderRequest => ({ ...buy(price), action: 'sell', ask: undefined });
      fill(short, sc, sell(100));
      expect(planOrder(short, sc, {}, sell(104)).kind).toBe('noop');
      expect(planOrder(short, sc, {}, sell(105)).kind).toBe('fill');
    });

    it('marks a partial take profit taken until the position is closed or a new one opens', () => {
      const c = cfg({ slippageBps: 0, allowShort: true });
      const s = newLedger(c);
      fill(s, c, { action: 'buy', sizing: 'fixed_qty', amount: 10, price: 100, ts: 1 });
      // a partial exit of the strategy's own does not count
      fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 101, ts: 2, percent: 10, source: 'trim' });
      expect(s.targetTaken).toBe(0);
      fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 105, ts: 3, percent: 50, source: 'take_profit' });
      expect([s.qty, s.targetTaken]).toEqual([4.5, 1]);
      // a flip opens a new position: none taken
      fill(s, c, { action: 'sell', sizing: 'fixed_qty', amount: 2, price: 104, ts: 4 });
      expect([s.qty, s.targetTaken]).toEqual([-2, 0]);
      fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 99, ts: 5, percent: 50, source: 'take_profit' });
      expect(s.targetTaken).toBe(1);
      fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 99, ts: 6 });
      expect([s.qty, s.targetTaken]).toEqual([0, 0]);
    });

    it('caps an addition by the position limits, counting what is held', () => {
      const c = cfg({ slippageBps: 0, feeRate: 0 });
      const s = newLedger(c);
      const buy: OrderRequest = { action: 'buy', sizing: 'fixed_qty', amount: 300, price: 100, ts: 1, maxEntries: 4 };
      fill(s, c, buy, { maxPositionValue: 50_000 });
      expect(planOrder(s, c, { maxPositionValue: 50_000 }, buy)).toMatchObject({ code: 'MAX_POSITION' });
      const pct = fill(s, c, { ...buy, sizing: 'pct_equity', amount: 50 }, { maxPositionValue: 50_000 }).fill;
      expect(pct.quantity).toBeCloseTo(200, 6); // 500 units is the limit, 300 are held
      // 40 % of the equity is less than the 500 units held: nothing more
      expect(planOrder(s, c, { maxPositionPct: 40 }, { ...buy, sizing: 'all', amount: 0 })).toMatchObject({
        kind: 'refused',
      });
    });

    it('adds to a short on the margin left (a short without leverage locks its value), and to a leveraged long', () => {
      const c = cfg({ slippageBps: 0, allowShort: true });
      const s = newLedger(c);
      const sell: OrderRequest = { action: 'sell', sizing: 'pct_equity', amount: 50, price: 100, ts: 1, maxEntries: 2 };
      const first = fill(s, c, sell).fill;
      const second = fill(s, c, { ...sell, sizing: 'all', price: 110 }).fill;
      // what the first left: the balance less the first's value
      const avail = 100_000 - first.fee - first.quantity * 100;
      expect(second.quantity * 110 + second.fee).toBeLessThanOrEqual(avail + 1e-6);
      expect(second.quantity * 110 + second.fee).toBeGreaterThan(avail - 1e-3);
      expect(s.qty).toBeCloseTo(-(first.quantity + second.quantity), 9);
      expect(Math.abs(100_000 + s.realizedPnl - s.fees - balanceOf(s))).toBeLessThan(1e-6);

      const lc = cfg({ slippageBps: 0, leverage: 10, feeRate: 0 });
      const l = newLedger(lc);
      const buy: OrderRequest = { action: 'buy', sizing: 'pct_equity', amount: 40, price: 100, ts: 1, maxEntries: 2 };
      fill(l, lc, buy);
      expect(l.qty).toBeCloseTo(4000, 4); // 40,000 of margin for ten times its value
      fill(l, lc, { ...buy, sizing: 'all', price: 95 });
      // the margin left, 60,000, buys ten times its value at 95
      expect(l.qty).toBeCloseTo(4000 + 600_000 / 95, 4);
      expect(l.avgPrice).toBeCloseTo((4000 * 100 + 600_000) / l.qty, 6);
      expect(l.entries).toBe(2);
    });

    it('closes part of a position: its share of the entry fees in its trade, the rest open at the same entry', () => {
      const c = cfg({ slippageBps: 0, wholeUnits: true });
      const s = newLedger(c);
      const a = fill(s, c, { action: 'buy', sizing: 'fixed_qty', amount: 7, price: 100, ts: 1 }).fill;
      const half = fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 110, ts: 2, percent: 50 });
      // 50 % of 7 whole units is 3
      expect(half.fill.quantity).toBe(3);
      const t1 = half.closedTrade!;
      expect(t1.size).toBe(3);
      expect(t1.fees).toBeCloseTo(Math.round(a.fee * (3 / 7) * 1e8) / 1e8 + half.fill.fee, 9);
      expect(t1.pnl).toBeCloseTo(3 * 10 - t1.fees, 9);
      expect(s.qty).toBe(4);
      expect(s.avgPrice).toBe(100);
      expect(s.entries).toBe(1);
      expect(s.closedTrades).toBe(1);
      // 10 % of 4 whole units is under one: nothing to do
      expect(
        planOrder(s, c, {}, { action: 'close', sizing: 'all', amount: 0, price: 110, ts: 3, percent: 10 }),
      ).toMatchObject({
        kind: 'noop',
      });
      const rest = fill(s, c, { action: 'close', sizing: 'all', amount: 0, price: 90, ts: 4 });
      const t2 = rest.closedTrade!;
      expect(t2.size).toBe(4);
      // the two trades' fees are every fee paid, their PnL the ledger's
      expect(t1.fees + t2.fees).toBeCloseTo(s.fees, 8);
      expect(t1.pnl + t2.pnl).toBeCloseTo(s.realizedPnl - s.fees, 8);
      expect(s.cash).toBeCloseTo(100_000 + t1.pnl + t2.pnl, 8);
      // rebuilt from the fills alike
      const trips = roundTrips([a, half.fill, rest.fill]);
      expect(trips.map((t) => [t.size, t.fees, t.pnl])).toEqual(
        [
          [3, t1.fees, t1.pnl],
          [4, t2.fees, t2.pnl],
        ].map(([x, f, p]) => [x, expect.closeTo(f!, 8), expect.closeTo(p!, 8)]),
      );
    });

    it('reconciles to the cent over thousands of random additions and partial exits, with funding', () => {
      const rnd = seededRandom(7);
      const c = cfg({ allowShort: true, feeFixed: 0.2, slippageBps: 2, fundingRatePct: 0.01 });
      const s = newLedger(c);
      const fills: Fill[] = [];
      const closedTrades: TradeRecord[] = [];
      let tradesPnl = 0;
      let trades = 0;
      let price = 100;
      let partials = 0;
      let adds = 0;
      for (let i = 0; i < 5000; i++) {
        const ts = i * 600_000; // ten minutes apart: a funding time every 48 orders
        price *= 1 + (rnd() - 0.5) * 0.02;
        settleFunding(s, c.fundingRatePct!, price, ts);
        markLedger(s, price, ts, {});
        const action = (['buy', 'sell', 'close'] as const)[Math.floor(rnd() * 3)]!;
        const sizing = (['all', 'pct_equity', 'fixed_cash', 'fixed_qty'] as const)[Math.floor(rnd() * 4)]!;
        const amount = sizing === 'fixed_qty' ? 1 + Math.floor(rnd() * 50) : sizing === 'fixed_cash' ? 5000 : 20;
        const o: OrderRequest = { action, sizing, amount, price, bid: price * 0.9999, ask: price * 1.0001, ts };
        if (action === 'close') o.percent = [25, 50, 100][Math.floor(rnd() * 3)]!;
        else o.maxEntries = 1 + Math.floor(rnd() * 4);
        const qtyBefore = s.qty;
        const out = planOrder(s, c, {}, o);
        if (out.kind !== 'fill') continue;
        applyFill(s, out.fill, out.closedTrade);
        // as the order log keeps it: the funding paid in all once the fill was applied
        fills.push({ ...out.fill, fundingAfter: s.funding });
        if (out.closedTrade) closedTrades.push(out.closedTrade);
        if (out.closedTrade) {
          tradesPnl += out.closedTrade.pnl;
          trades++;
          if (Math.abs(out.closedTrade.size) < Math.abs(qtyBefore) - 1e-12) partials++;
        }
        if (Math.sign(s.qty) === Math.sign(qtyBefore) && Math.abs(s.qty) > Math.abs(qtyBefore)) adds++;
        expect(s.entries).toBeLessThanOrEqual(4);
        // the identity after every fill
        expect(Math.abs(100_000 + s.realizedPnl - s.fees - s.funding - balanceOf(s))).toBeLessThan(1e-6);
      }
      expect(partials).toBeGreaterThan(200);
      expect(adds).toBeGreaterThan(200);
      // the closed trades' PnL is all the money made but what the open position has paid so far
      expect(tradesPnl).toBeCloseTo(s.realizedPnl - (s.fees - s.entryFees) - (s.funding - s.entryFunding), 5);
      expect(trades).toBe(s.closedTrades);
      // rebuilt from the fills: the same trades, funding and all
      const trips = roundTrips(fills);
      expect(trips.length).toBe(s.closedTrades);
      expect(trips.map((t) => [t.size, t.pnl, t.fees, t.funding ?? 0])).toEqual(
        closedTrades.map((t) => [t.size, t.pnl, t.fees, t.funding ?? 0].map((x) => expect.closeTo(x, 6))),
      );
      expect(trips.filter((t) => t.funding).length).toBeGreaterThan(100);
      // without what each fill's ledger had paid, the same trades without funding
      const bare = roundTrips(fills.map(({ fundingAfter: _, ...f }) => f));
      expect(bare.reduce((a, t) => a + t.pnl, 0)).toBeCloseTo(s.realizedPnl - (s.fees - s.entryFees), 5);
    });
  });
});
