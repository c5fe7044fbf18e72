import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CopyWriter } from './copy-binary.ts';

/** reads back the fields of the single row `w` holds (header and trailer checked) */
function fieldsOf(data: Buffer): (Buffer | null)[] {
  expect(data.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(data.readInt32BE(11)).toBe(0);
  expect(data.readInt32BE(15)).toBe(0);
  let o = 19;
  const n = data.readInt16BE(o);
  o += 2;
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = data.readInt32BE(o);
    o += 4;
    if (len < 0) out.push(null);
    else {
      out.push(data.subarray(o, o + len));
      o += len;
    }
  }
  expect(data.readInt16BE(o)).toBe(-1); // trailer
  expect(o + 2).toBe(data.length);
  return out;
}

/** the exact decimal value of a binary numeric, as [sign, digits, power of ten of the last digit] */
function decodeNumeric(b: Buffer): { value: bigint; exp10: number; dscale: number } {
  const n = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  expect(b.length).toBe(8 + 2 * n);
  let v = 0n;
  for (let i = 0; i < n; i++) {
    const d = b.readInt16BE(8 + 2 * i);
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThan(10000);
    v = v * 10000n + BigInt(d);
  }
  expect([0, 0x4000]).toContain(sign);
  // PostgreSQL's canonical form (what numeric_send writes): no zero group at either end
  if (n > 0) expect([b.readInt16BE(8), b.readInt16BE(6 + 2 * n)]).not.toContain(0);
  return { value: sign ? -v : v, exp10: 4 * (weight - n + 1), dscale };
}

/** the exact decimal String(x) writes, as value × 10^exp10 */
function decimalOf(x: number): { value: bigint; exp10: number; fraction: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x))!;
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? 0);
  const value = BigInt(m[1] + m[2] + frac);
  return { value, exp10: exp - frac.length, fraction: Math.max(0, frac.length - exp) };
}

/** a × 10^p == b × 10^q, exactly */
const sameDecimal = (a: bigint, p: number, b: bigint, q: number) =>
  p <= q ? a === b * 10n ** BigInt(q - p) : a * 10n ** BigInt(p - q) === b;

describe('binary COPY rows', () => {
  it('writes numbers as the exact decimal JSON would send, with its scale', () => {
    const check = (x: number) => {
      const w = new CopyWriter(32);
      w.row(1);
      w.numeric(x);
      const [f] = fieldsOf(w.end());
      const got = decodeNumeric(f!);
      const want = decimalOf(x);
      expect(sameDecimal(got.value, got.exp10, want.value, want.exp10), `${x}`).toBe(true);
      expect(got.dscale, `${x}`).toBe(want.fraction); // digits after the point, as numeric_in counts them
    };
    for (const x of [
      0,
      -0,
      1,
      -1,
      0.05,
      100,
      10000,
      123.45,
      -9999.9999,
      1e21,
      1.5e-7,
      5e-9,
      0.1 + 0.2,
      2 ** 53,
      1 / 3,
      1e-6,
      0.000123,
      1e20,
      123456789.000001,
      10000.0001,
      -0.0001,
    ])
      check(x);
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e25, max: 1e25 }), check), {
      numRuns: 2000,
    });
  });

  it('writes NaN and infinities as NULL, as JSON does', () => {
    const w = new CopyWriter();
    w.row(3);
    w.numeric(NaN);
    w.numeric(Infinity);
    w.numericOrNull(undefined);
    expect(fieldsOf(w.end())).toEqual([null, null, null]);
  });

  it('writes uuids, text, times, integers, doubles and bytes in their binary forms', () => {
    const w = new CopyWriter(8); // grows as it goes
    const id = '0123abcd-4567-89ef-0123-456789abcdef';
    w.row(7);
    w.uuid(id);
    w.text('réason "quoted", \\ and more');
    w.timestamptz(Date.UTC(2026, 11, 1, 15, 30, 0, 123));
    w.int4(-42);
    w.float8(12.345);
    w.bytea(3, (b, at) => b.set([1, 2, 3], at));
    w.textOrNull(null);
    const [u, t, ts, i, f, by, nul] = fieldsOf(w.end());
    expect(u!.toString('hex')).toBe(id.replaceAll('-', ''));
    expect(t!.toString('utf8')).toBe('réason "quoted", \\ and more');
    // microseconds since 2000-01-01T00:00:00Z
    expect(ts!.readBigInt64BE(0)).toBe(BigInt(Date.UTC(2026, 11, 1, 15, 30, 0, 123) - Date.UTC(2000, 0, 1)) * 1000n);
    expect(i!.readInt32BE(0)).toBe(-42);
    expect(f!.readDoubleBE(0)).toBe(12.345);
    expect([...by!]).toEqual([1, 2, 3]);
    expect(nul).toBeNull();
  });

  it('writes times before 2000 (negative offsets) exactly', () => {
    const w = new CopyWriter();
    w.row(1);
    w.timestamptz(Date.UTC(1999, 11, 31, 23, 59, 59, 999));
    expect(fieldsOf(w.end())[0]!.readBigInt64BE(0)).toBe(-1000n);
  });

  it('refuses a uuid that is not one', () => {
    const w = new CopyWriter();
    expect(() => w.uuid('not-a-uuid')).toThrow(/uuid/);
    expect(() => w.uuid('zz23abcd-4567-89ef-0123-456789abcdef')).toThrow(/uuid/);
  });
});
