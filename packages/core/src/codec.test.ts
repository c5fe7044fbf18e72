import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, envelopeIds } from './codec.ts';

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

  it('travel in an envelope unchanged', () => {
    const id = envelopeIds()();
    const env = { id, type: 't', ts: 1_700_000_000_000, key: 'k', data: { x: 1 } };
    expect(decodeEnvelope(encodeEnvelope(env)).id).toBe(id);
  });
});
