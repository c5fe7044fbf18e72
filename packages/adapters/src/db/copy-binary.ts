/**
 * Rows in PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`), written straight into
 * one growing Buffer. The server then stores each field as sent: no text or JSON to parse, no type
 * input functions (uuid_in, numeric_in, timestamptz_in), which were most of its time for an order row.
 * Only the types the order log needs are here. Format: PostgreSQL documentation, "COPY", "Binary Format";
 * each type's binary form is its `*_send` function's.
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix milliseconds */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;
const POW10 = [1, 10, 100, 1000];
/** hex digit values by character code (-1: not a hex digit) */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

export class CopyWriter {
  private buf: Buffer;
  private o = 0;
  private ended = false;
  /** scratch for `numeric`: decimal digits (exponent forms), base-10000 groups (plain decimals) */
  private readonly digits: number[] = [];
  private readonly groups = new Uint16Array(96);

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 64));
    // the first 5 bytes are left for the CopyData message header (see `message`)
    this.buf.set(SIGNATURE, 5);
    this.buf.writeInt32BE(0, 16); // flags: no OIDs
    this.buf.writeInt32BE(0, 20); // header extension length
    this.o = 24;
  }

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.o + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.o);
    this.buf = b;
  }

  /** starts a row of `fields` fields */
  row(fields: number): void {
    this.room(2);
    this.o = this.buf.writeInt16BE(fields, this.o);
  }

  null(): void {
    this.room(4);
    this.o = this.buf.writeInt32BE(-1, this.o);
  }

  /** a uuid from its canonical text (8-4-4-4-12 hex digits) */
  uuid(s: string): void {
    // decoded here rather than by Buffer#write(hex): five native calls a uuid cost more than this loop
    if (s.length !== 36) throw new Error(`not a uuid: ${s}`);
    this.room(20);
    const b = this.buf;
    let o = b.writeInt32BE(16, this.o);
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++; // the dashes
      const hi = HEX[s.charCodeAt(i)] ?? -1;
      const lo = HEX[s.charCodeAt(i + 1)] ?? -1;
      if (hi < 0 || lo < 0) throw new Error(`not a uuid: ${s}`);
      b[o++] = (hi << 4) | lo;
    }
    if (o - this.o !== 20) throw new Error(`not a uuid: ${s}`);
    this.o = o;
  }

  /** text (or varchar) as UTF-8 */
  text(s: string): void {
    const n = s.length;
    this.room(4 + 3 * n);
    const b = this.buf;
    const at = this.o + 4;
    // ASCII (ids, actions, symbols) byte by byte: cheaper than a native call for short strings
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[at + i] = c;
    }
    const len = i === n ? n : i + b.write(s.slice(i), at + i, 'utf8');
    b.writeInt32BE(len, this.o);
    this.o = at + len;
  }

  textOrNull(s: string | null | undefined): void {
    if (s === null || s === undefined) this.null();
    else this.text(s);
  }

  float8(x: number): void {
    this.room(12);
    this.o = this.buf.writeInt32BE(8, this.o);
    this.o = this.buf.writeDoubleBE(x, this.o);
  }

  int4(x: number): void {
    this.room(8);
    this.o = this.buf.writeInt32BE(4, this.o);
    this.o = this.buf.writeInt32BE(x, this.o);
  }

  /** a timestamptz from Unix milliseconds (whole milliseconds, as `new Date(ms)` keeps them) */
  timestamptz(ms: number): void {
    const us = (Math.trunc(ms) - PG_EPOCH_MS) * 1000; // exact: |us| < 2^53 for any date of this era
    const hi = Math.floor(us / TWO_32);
    this.room(12);
    let o = this.buf.writeInt32BE(8, this.o);
    o = this.buf.writeInt32BE(hi, o);
    this.o = this.buf.writeUInt32BE(us - hi * TWO_32, o);
  }

  /**
   * bytea of `n` bytes, filled by `fill(buffer, offset)` in place (no intermediate Buffer)
   */
  bytea(n: number, fill: (b: Buffer, at: number) => void): void {
    this.room(4 + n);
    this.o = this.buf.writeInt32BE(n, this.o);
    fill(this.buf, this.o);
    this.o += n;
  }

  /** bytea from bytes already encoded */
  bytes(b: Uint8Array): void {
    this.room(4 + b.length);
    this.o = this.buf.writeInt32BE(b.length, this.o);
    this.buf.set(b, this.o);
    this.o += b.length;
  }

  /**
   * A double as numeric: exactly the decimal that `String(x)` (and JSON) writes for it, its shortest
   * round-trip form. The column's own scale then rounds it on the server as it rounds text input
   * (numeric_recv applies the type modifier). NaN and ±Infinity are stored as NULL, as JSON sends them.
   */
  numeric(x: number): void {
    if (!Number.isFinite(x)) return this.null();
    const s = String(x);
    // plain decimals (every |x| from 1e-6 to 1e21) go digit by digit straight into base-10000 groups;
    // the exponent forms take the general path
    const len = s.length;
    const neg = s.charCodeAt(0) === 45; // '-'
    const start = neg ? 1 : 0;
    let dot = len;
    for (let i = start; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c === 46) dot = i;
      else if (c === 101) return this.numericGeneral(s);
    }
    const g = this.groups;
    let n = 0;
    // the integer part, in groups aligned on the point: the first may hold fewer than four digits
    let v = 0;
    for (let i = start; i < dot; i++) {
      v = v * 10 + s.charCodeAt(i) - 48;
      if ((dot - i - 1) % 4 === 0) {
        g[n++] = v;
        v = 0;
      }
    }
    const weight0 = n - 1; // the first group's power of 10000
    // the fraction, four digits a group, the last padded with zeros
    const fracDigits = dot < len ? len - dot - 1 : 0;
    for (let i = dot + 1; i < len; i += 4) {
      v = 0;
      for (let k = i; k < i + 4; k++) v = v * 10 + (k < len ? s.charCodeAt(k) - 48 : 0);
      g[n++] = v;
    }
    // PostgreSQL's canonical form: no zero groups at either end
    let first = 0;
    while (first < n && g[first] === 0) first++;
    if (first === n) return this.zero();
    while (g[n - 1] === 0) n--;
    const groups = n - first;
    this.room(12 + 2 * groups);
    // byte by byte: each field is small and in range, and Buffer's checked writes were half this call
    const b = this.buf;
    let o = this.o;
    const size = 8 + 2 * groups;
    const weight = (weight0 - first) & 0xffff;
    b[o] = 0;
    b[o + 1] = 0;
    b[o + 2] = size >> 8;
    b[o + 3] = size & 0xff;
    b[o + 4] = groups >> 8;
    b[o + 5] = groups & 0xff;
    b[o + 6] = weight >> 8;
    b[o + 7] = weight & 0xff;
    b[o + 8] = neg ? 0x40 : 0;
    b[o + 9] = 0;
    b[o + 10] = fracDigits >> 8;
    b[o + 11] = fracDigits & 0xff;
    o += 12;
    for (let k = first; k < n; k++) {
      const d = g[k]!;
      b[o++] = d >> 8;
      b[o++] = d & 0xff;
    }
    this.o = o;
  }

  /** numeric zero: no digits, weight 0, positive, scale 0 */
  private zero(): void {
    this.room(12);
    let o = this.buf.writeInt32BE(8, this.o);
    o = this.buf.writeInt32BE(0, o);
    this.o = this.buf.writeInt32BE(0, o);
  }

  /** numeric() for any decimal String writes, exponent forms included (1e21, 1.5e-7) */
  private numericGeneral(s: string): void {
    const d = this.digits;
    d.length = 0;
    let i = 0;
    const neg = s.charCodeAt(0) === 45; // '-'
    if (neg) i = 1;
    let intDigits = -1; // digits before the decimal point in the mantissa
    let exp = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 46)
        intDigits = d.length; // '.'
      else if (c === 101) {
        exp = Number(s.slice(i + 1)); // 'e', then an optionally signed integer
        break;
      } else d.push(c - 48);
    }
    if (intDigits < 0) intDigits = d.length;
    // drop leading and trailing zeros: d then holds the significant digits, its first at 10^(point - 1)
    let first = 0;
    while (first < d.length && d[first] === 0) first++;
    let last = d.length - 1;
    while (last >= first && d[last] === 0) last--;
    if (last < first) {
      this.zero();
      return;
    }
    const point = intDigits + exp - first; // significant digits before the decimal point (may be <= 0)
    const n = last - first + 1;
    const dscale = Math.max(0, n - point);
    // base-10000 groups, aligned on the decimal point: the digit at 10^p is in group floor(p / 4)
    const top = Math.floor((point - 1) / 4);
    const bottom = Math.floor((point - n) / 4);
    const groups = top - bottom + 1;
    this.room(12 + 2 * groups);
    let o = this.buf.writeInt32BE(8 + 2 * groups, this.o);
    o = this.buf.writeInt16BE(groups, o);
    o = this.buf.writeInt16BE(top, o); // weight: the first group's power of 10000
    o = this.buf.writeUInt16BE(neg ? 0x4000 : 0, o);
    o = this.buf.writeInt16BE(dscale, o);
    for (let g = top; g >= bottom; g--) {
      let v = 0;
      for (let p = 4 * g + 3; p >= 4 * g; p--) {
        const at = first + (point - 1 - p); // index in d of the digit at 10^p
        if (at >= first && at <= last) v += d[at]! * POW10[p - 4 * g]!;
      }
      o = this.buf.writeInt16BE(v, o);
    }
    this.o = o;
  }

  numericOrNull(x: number | null | undefined): void {
    if (x === null || x === undefined) this.null();
    else this.numeric(x);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.room(2 + 5);
    this.o = this.buf.writeInt16BE(-1, this.o);
  }

  /** the finished COPY data: header, rows and trailer */
  end(): Buffer {
    this.finish();
    return this.buf.subarray(5, this.o);
  }

  /** the finished data as the frontend sends it: one CopyData message, then CopyDone */
  message(): Buffer {
    this.finish();
    const b = this.buf;
    b[0] = 0x64; // 'd'
    b.writeInt32BE(this.o - 1, 1); // its length counts itself, not the type byte
    b[this.o] = 0x63; // 'c'
    b.writeInt32BE(4, this.o + 1);
    return b.subarray(0, this.o + 5);
  }
}

/** the parts of node-postgres's connection a COPY uses */
interface PgConnection {
  query(text: string): void;
  stream: { write(b: Buffer): boolean };
}

/**
 * `COPY ... FROM STDIN` of `w`'s rows on one pg client; resolves with the rows copied. The data goes out
 * right behind the statement, without waiting for the server's CopyInResponse: a busy event loop would
 * otherwise hold it back for as long as it takes to get to that reply. The protocol allows it: a server
 * that refuses the COPY itself ignores the copy messages that follow (PostgreSQL docs, "Message Flow",
 * "COPY Operations"). Any error (a unique violation, say) rejects with PostgreSQL's error, code included.
 */
export function copyIn(client: { query(q: unknown): unknown }, text: string, w: CopyWriter): Promise<number> {
  const data = w.message();
  return new Promise((resolve, reject) => {
    let rows = 0;
    let failed = false;
    // a Submittable: node-postgres hands it the connection when the client is free, then the replies
    client.query({
      text,
      submit(c: PgConnection) {
        c.query(text);
        c.stream.write(data);
      },
      handleCopyInResponse() {},
      handleCommandComplete(msg: { text?: string }) {
        rows = Number(/^COPY (\d+)/.exec(msg.text ?? '')?.[1] ?? 0);
      },
      handleError(e: Error) {
        failed = true;
        reject(e);
      },
      handleReadyForQuery() {
        if (!failed) resolve(rows);
      },
      // node-postgres sets this for query timeouts; none here
      callback() {},
    });
  });
}
