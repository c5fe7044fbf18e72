import { applyFill, newLedger, planOrder } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { decodeLedger, encodeLedger, LedgerLog, packLedger, unpackLedger } from './repos/forward-tests.repo.ts';

describe('the ledger as the order log stores it', () => {
  const cfg = {
    startingBalance: 1000,
    feeRate: 0.001,
    feeFixed: 0,
    slippageBps: 1,
    allowShort: false,
    wholeUnits: false,
  };
  const ledger = () => {
    const l = newLedger(cfg, Date.UTC(2026, 0, 1));
    const out = planOrder(
      l,
      cfg,
      {},
      { action: 'buy', sizing: 'all', amount: 0, price: 101.25, ts: Date.UTC(2026, 0, 1, 1) },
    );
    if (out.kind !== 'fill') throw new Error(out.kind);
    applyFill(l, out.fill, out.closedTrade);
    return l;
  };

  it('packs every field without its key and unpacks to the same ledger, through JSON', () => {
    const l = ledger();
    const packed = JSON.stringify(packLedger(l));
    expect(packed.length).toBeLessThan(JSON.stringify(l).length * 0.6);
    expect(unpackLedger(JSON.parse(packed))).toEqual(l);
  });

  it('logs ledgers one after another: each view keeps its bytes when the buffer fills and is replaced', () => {
    const log = new LedgerLog(400); // room for two ledgers: the third and later go into new buffers
    const ledgers: ReturnType<typeof ledger>[] = [];
    const views: Uint8Array[] = [];
    for (let i = 0; i < 7; i++) {
      const l = ledger();
      l.cash += i;
      for (let k = 0; k < i % 3; k++) l.recentOrders.push(Date.UTC(2026, 0, 1, 2, k));
      ledgers.push(l);
      views.push(log.put(l));
    }
    // the writes moved on to new buffers: earlier views still read as written
    views.forEach((v, i) => {
      expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toEqual(encodeLedger(ledgers[i]!));
      expect(decodeLedger(v)).toEqual(ledgers[i]);
    });
    expect(views.reduce((n, v) => n + v.byteLength, 0)).toBeGreaterThan(3 * 400); // three buffers at least
  });

  it('reads ledgers stored as objects (rows written before the packed form) as they are', () => {
    const l = ledger();
    expect(unpackLedger(JSON.parse(JSON.stringify(l)))).toEqual(l);
    expect(unpackLedger(null)).toEqual({});
  });

  it('refuses a packed ledger of another format rather than misreading its fields', () => {
    expect(() => unpackLedger([2, 1, 2, 3])).toThrow(/ledger format/);
    expect(() => unpackLedger([1, 1, 2])).toThrow(/ledger format/);
  });

  it('encodes every field in binary and decodes the same numbers, bit for bit', () => {
    const l = { ...ledger(), stopDist: 1.5, targetDist: 0, trailDist: 0, coolStreak: 2 };
    const b = encodeLedger(l);
    // a format byte and one float64 per field and per recent order (no window's exit times)
    expect(b.length).toBe(1 + 8 * (Object.keys(l).length - 2 + l.recentOrders.length));
    expect(decodeLedger(b)).toEqual(l);
    // what JSON would lose comes back as it was
    const odd = { ...l, qty: -0, avgPrice: Number.NaN, peakEquity: Number.POSITIVE_INFINITY, cash: 0.1 + 0.2 };
    const back = decodeLedger(encodeLedger(odd));
    expect(Object.is(back.qty, -0)).toBe(true);
    expect(back.avgPrice).toBeNaN();
    expect(back.peakEquity).toBe(Number.POSITIVE_INFINITY);
    expect(back.cash).toBe(0.1 + 0.2);
  });

  it('keeps each field in its own place (a distinct value in every field)', () => {
    const l = ledger();
    const keys = Object.keys(l).filter((k) => k !== 'recentOrders' && k !== 'coolTimes');
    const distinct = Object.fromEntries(keys.map((k, i) => [k, i + 0.5])) as unknown as typeof l;
    distinct.recentOrders = [1e12 + 1, 1e12 + 2];
    distinct.coolTimes = [];
    expect(decodeLedger(encodeLedger(distinct))).toEqual(distinct);
    // and the window's exit times between the fields and the recent orders (format 9)
    distinct.coolTimes = [1e12 - 2, 1e12 - 1, 1e12];
    expect(decodeLedger(encodeLedger(distinct))).toEqual(distinct);
  });

  it('reads the formats before the cooldown (2: its 20 fields), before funding (3: 21), before the entry count (4: 24), before the take profit flag (5: 25), before the rules at a distance (6: 26) and before the cooldown run (7: 29), then the recent orders', () => {
    const l = {
      ...ledger(),
      recentOrders: [Date.UTC(2026, 0, 1, 1), Date.UTC(2026, 0, 1, 1, 0, 30)],
      cooldownUntil: 7,
      funding: 1.5,
      entryFunding: 0.5,
      fundedTo: Date.UTC(2026, 0, 1, 1),
      entries: 3,
      targetTaken: 1,
      stopDist: 2.5,
      targetDist: 7.25,
      trailDist: 3.125,
    };
    const b = encodeLedger(l);
    expect(b[0]).toBe(7);
    expect(decodeLedger(b)).toEqual(l);
    // with a cooldown's run of exits under way it is written as format 8, one field longer
    const run = encodeLedger({ ...l, coolStreak: 2 });
    expect([run[0], run.length - b.length]).toEqual([8, 8]);
    expect(decodeLedger(run)).toEqual({ ...l, coolStreak: 2 });
    // with a cooldown window's exit times, format 9: format 8's fields, their count, the times
    const times = [Date.UTC(2026, 0, 1, 0, 10), Date.UTC(2026, 0, 1, 0, 40)];
    const win = encodeLedger({ ...l, coolStreak: 2, coolTimes: times });
    expect([win[0], win.length - run.length]).toEqual([9, 8 * 3]);
    expect(decodeLedger(win)).toEqual({ ...l, coolStreak: 2, coolTimes: times });
    // a count that does not fit the bytes is refused, not misread
    const bad = Uint8Array.from(win);
    new DataView(bad.buffer).setFloat64(1 + 8 * 30, 40, true);
    expect(() => decodeLedger(bad)).toThrow(/ledger format/);
    // without distances it is written as format 6, three fields shorter
    const plain = encodeLedger({ ...l, stopDist: 0, targetDist: 0, trailDist: 0 });
    expect([plain[0], b.length - plain.length]).toEqual([6, 24]);
    expect(decodeLedger(plain)).toEqual({ ...l, stopDist: 0, targetDist: 0, trailDist: 0 });
    /** format k: the first n fields of format 7, then the recent orders */
    const older = (k: number, n: number) =>
      Uint8Array.from([k, ...b.subarray(1, 1 + 8 * n), ...b.subarray(1 + 8 * 29)]);
    // format 6 lacks the rules at a distance: the position's rules are the strategy's percents
    const noDist = { stopDist: 0, targetDist: 0, trailDist: 0 };
    expect(decodeLedger(older(6, 26))).toEqual({ ...l, ...noDist });
    // format 5 the take profit flag too: none taken
    expect(decodeLedger(older(5, 25))).toEqual({ ...l, ...noDist, targetTaken: 0 });
    // format 4 the entry count too: an open position had one entry
    expect(decodeLedger(older(4, 24))).toEqual({ ...l, ...noDist, entries: 1, targetTaken: 0 });
    expect(decodeLedger(Uint8Array.from([4, ...encodeLedger({ ...l, qty: 0 }).subarray(1, 1 + 8 * 24)]))).toEqual({
      ...l,
      ...noDist,
      qty: 0,
      entries: 0,
      targetTaken: 0,
      recentOrders: [],
    });
    // format 3 funding's three fields too, format 2 the cooldown's too
    const none = { ...noDist, funding: 0, entryFunding: 0, fundedTo: 0, entries: 1, targetTaken: 0 };
    expect(decodeLedger(older(3, 21))).toEqual({ ...l, ...none });
    expect(decodeLedger(older(2, 20))).toEqual({ ...l, ...none, cooldownUntil: 0 });
  });

  it('keeps any number of recent orders, none included', () => {
    for (const n of [0, 1, 7, 120]) {
      const l = { ...ledger(), recentOrders: Array.from({ length: n }, (_, i) => Date.UTC(2026, 0, 1) + i * 997) };
      expect(decodeLedger(encodeLedger(l))).toEqual(l);
    }
  });

  it('decodes from a view into a larger buffer (as database drivers hand bytea over)', () => {
    const b = encodeLedger(ledger());
    const big = new Uint8Array(b.length + 13);
    big.set(b, 5);
    expect(decodeLedger(big.subarray(5, 5 + b.length))).toEqual(ledger());
  });

  it('refuses a binary ledger of another format or a cut one rather than misreading it', () => {
    const b = encodeLedger(ledger());
    expect(() => decodeLedger(Uint8Array.from([8, ...b.subarray(1)]))).toThrow(/ledger format/);
    expect(() => decodeLedger(Uint8Array.from([1, ...b.subarray(1)]))).toThrow(/ledger format/);
    expect(() => decodeLedger(b.subarray(0, b.length - 3))).toThrow(/ledger format/);
    expect(() => decodeLedger(b.subarray(0, 1 + 8 * 5))).toThrow(/ledger format/);
  });
});
