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
