import { applyFill, newLedger, planOrder } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { packLedger, unpackLedger } from './repos/forward-tests.repo.ts';

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

  it('reads ledgers stored as objects (rows written before the packed form) as they are', () => {
    const l = ledger();
    expect(unpackLedger(JSON.parse(JSON.stringify(l)))).toEqual(l);
    expect(unpackLedger(null)).toEqual({});
  });

  it('refuses a packed ledger of another format rather than misreading its fields', () => {
    expect(() => unpackLedger([2, 1, 2, 3])).toThrow(/ledger format/);
    expect(() => unpackLedger([1, 1, 2])).toThrow(/ledger format/);
  });
});
