import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from './csv.ts';

describe('CSV export', () => {
  it('quotes what needs quoting and keeps numbers as numbers', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(-12.5)).toBe('-12.5');
    expect(csvCell(1e-7)).toBe('1e-7');
    expect(csvCell(NaN)).toBe('');
    expect(csvCell(null)).toBe('');
    expect(csvCell(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(csvCell({ 'fast.period': 5 })).toBe('"{""fast.period"":5}"');
  });
  it('never hands a spreadsheet a formula from text', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const s of ['+1', '-1+2', '@SUM(A1)', '\tx']) expect(csvCell(s).replace(/^"/, '')).toMatch(/^'/);
  });
  it('writes a header and one line per row, CRLF-ended', () => {
    expect(
      toCsv([
        { a: 1, b: 'x' },
        { a: 2, b: 'y,z' },
      ]),
    ).toBe('a,b\r\n1,x\r\n2,"y,z"\r\n');
    expect(toCsv([{ a: 1, b: 2 }], ['b'])).toBe('b\r\n2\r\n');
  });
});
