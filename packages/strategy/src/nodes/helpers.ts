import type { NodeType, ParamSpec } from '../types.ts';

export const num = (name: string) => ({ name, kind: 'number' as const });
export const bool = (name: string) => ({ name, kind: 'boolean' as const });
export const period = (def: number, name = 'period', max = 5000): ParamSpec => ({
  name,
  type: 'integer',
  default: def,
  min: 1,
  max,
});
export const define = (t: NodeType): NodeType => t;

/** Fixed-size ring of the last n values with an O(1) push that returns the value pushed out. */
export class Ring {
  readonly buf: Float64Array;
  i = 0;
  count = 0;
  constructor(readonly n: number) {
    this.buf = new Float64Array(n);
  }
  push(x: number): number {
    const old = this.buf[this.i]!;
    this.buf[this.i] = x;
    this.i = this.i + 1 === this.n ? 0 : this.i + 1;
    if (this.count < this.n) {
      this.count++;
      return NaN;
    }
    return old;
  }
  get full(): boolean {
    return this.count === this.n;
  }
}

/** Sum of the last n values, O(1) a push; NaN until n values have come. */
export function rollingSum(n: number): (x: number) => number {
  const r = new Ring(n);
  let sum = 0;
  return (x) => {
    const old = r.push(x);
    sum += x;
    if (old === old) sum -= old;
    return r.full ? sum : NaN;
  };
}

/** Sliding max (or min) over the last n values with a monotonic deque: amortised O(1). */
export class Extreme {
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  private head = 0;
  private tail = 0;
  private t = 0;
  constructor(
    private readonly n: number,
    private readonly max: boolean,
  ) {
    this.idx = new Int32Array(n + 1);
    this.val = new Float64Array(n + 1);
  }
  push(x: number): number {
    // the deque lives in a ring of n+1 slots; wrap with a compare, not %, and keep the ends in locals
    const cap = this.n + 1;
    const idx = this.idx;
    const val = this.val;
    let tail = this.tail;
    let head = this.head;
    while (head !== tail) {
      const last = tail === 0 ? cap - 1 : tail - 1;
      if (this.max ? val[last]! <= x : val[last]! >= x) tail = last;
      else break;
    }
    const t = this.t;
    idx[tail] = t;
    val[tail] = x;
    tail = tail + 1 === cap ? 0 : tail + 1;
    while (idx[head]! <= t - this.n) head = head + 1 === cap ? 0 : head + 1;
    this.tail = tail;
    this.head = head;
    this.t = t + 1;
    return t + 1 >= this.n ? val[head]! : NaN;
  }
  /** bars since the current extreme (0 = the newest value); on ties the newest counts */
  get age(): number {
    return this.t - 1 - this.idx[this.head]!;
  }
}
