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
  private readonly cap = () => this.n + 1;
  push(x: number): number {
    const cap = this.cap();
    while (this.head !== this.tail) {
      const last = (this.tail - 1 + cap) % cap;
      if (this.max ? this.val[last]! <= x : this.val[last]! >= x) this.tail = last;
      else break;
    }
    this.idx[this.tail] = this.t;
    this.val[this.tail] = x;
    this.tail = (this.tail + 1) % cap;
    while (this.idx[this.head]! <= this.t - this.n) this.head = (this.head + 1) % cap;
    this.t++;
    return this.t >= this.n ? this.val[this.head]! : NaN;
  }
}
