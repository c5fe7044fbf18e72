import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, envelopeCounter, envelopeIds } from './codec.ts';

describe('envelope ids', () => {
  it('never repeat within a publisher or across publishers', () => {
    const a = envelopeIds();
    const b = envelopeIds();
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      seen.add(a());
      seen.add(b());
    }
    expect(seen.size).toBe(200_000);
  });

  it('give back their counter, and -1 for any id another publisher made', () => {
    const a = envelopeIds();
    for (let i = 1; i <= 5000; i++) expect(envelopeCounter(a(), a.prefix)).toBe(i);
    const b = envelopeIds();
    expect(envelopeCounter(b(), a.prefix)).toBe(-1);
    for (const other of [
      'same-id',
      a.prefix,
      `${a.prefix}0`,
      `${a.prefix}01`,
      `${a.prefix}1A`,
      `${a.prefix}1-`,
      `${a.prefix}zzzzzzzzzzz`,
    ])
      expect(envelopeCounter(other, a.prefix)).toBe(-1);
    expect(envelopeCounter(`${a.prefix}zzzzzzzzzz`, a.prefix)).toBe(36 ** 10 - 1);
  });

  it('travel in an envelope unchanged', () => {
    const id = envelopeIds()();
    const env = { id, type: 't', ts: 1_700_000_000_000, key: 'k', data: { x: 1 } };
    expect(decodeEnvelope(encodeEnvelope(env)).id).toBe(id);
  });
});

describe('envelope encoding', () => {
  // the encoding with the replacer on every value, as it was before the plain path
  const tagged = (env: unknown) =>
    JSON.stringify(env, function (this: Record<string, unknown>, key, value) {
      const raw = this[key];
      if (raw instanceof Date) return { $date: raw.toISOString() };
      if (typeof raw === 'bigint') return { $bigint: raw.toString() };
      return value;
    });
  const env = (data: unknown) => ({ id: 'i', type: 't', ts: 1_700_000_000_000, key: 'k', data });
  const when = new Date('2026-01-02T03:04:05.678Z');
  const deep = (n: number, leaf: unknown): unknown => (n === 0 ? leaf : { d: [deep(n - 1, leaf)] });

  it('writes what the replacer writes, with or without dates and bigints anywhere', () => {
    const cases = [
      { ticks: [{ ts: 1, price: 2.5, size: 0, bid: undefined, ask: null }], s: 'x' },
      { when, n: 10n ** 20n },
      { list: [1, [2, [3, when]]], amount: '123.456789012345678901' },
      { big: [{ a: 1 }, { b: 2n }] },
      deep(40, when),
      deep(40, 7),
      { money: { toJSON: () => ({ at: when }) } },
      { money: { toJSON: () => '1.50' } },
      [],
      'text',
      42,
      null,
    ];
    for (const c of cases) {
      const e = env(c);
      expect(encodeEnvelope(e)).toBe(tagged(e));
    }
  });

  it('round-trips dates and bigints at any depth', () => {
    const e = env({ a: [{ when }], n: 5n, deep: deep(40, when) });
    const back = decodeEnvelope(encodeEnvelope(e)).data as { a: { when: Date }[]; n: bigint; deep: unknown };
    expect(back.a[0]!.when).toEqual(when);
    expect(back.n).toBe(5n);
    expect(back.deep).toEqual(deep(40, when));
  });
});
