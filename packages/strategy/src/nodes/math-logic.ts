import type { NodeType, Step } from '../types.ts';
import { define, num } from './helpers.ts';

type Kind = 'number' | 'boolean';
const node = (
  type: string,
  label: string,
  description: string,
  category: 'math' | 'logic',
  kind: Kind,
  out: Kind,
  create: (ins: readonly number[], o: number) => Step,
  inputs: readonly string[] = ['a', 'b'],
  warmup = 0,
): NodeType =>
  define({
    type,
    version: 1,
    category,
    label,
    description,
    inputs: inputs.map((name) => ({ name, kind })),
    outputs: [{ name: 'value', kind: out }],
    params: [],
    warmup: () => warmup,
    create: (_p, io) => create(io.inputs, io.outputs[0]!),
  });

// Each operator is its own loop (no shared per-bar callback), so V8 compiles a tight loop per node.
const add =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j]! + b[j]!;
  };
const sub =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j]! - b[j]!;
  };
const mul =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j]! * b[j]!;
  };
const div =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = b[j] === 0 ? NaN : a[j]! / b[j]!;
  };
// NaN while either is undefined (Math.min/max already give NaN for a NaN argument)
const min =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = Math.min(a[j]!, b[j]!);
  };
const max =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = Math.max(a[j]!, b[j]!);
  };
/** low <= value <= high; false while any is undefined (comparisons with NaN are false) */
const between =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const v = c[ins[0]!]!,
      lo = c[ins[1]!]!,
      hi = c[ins[2]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = v[j]! >= lo[j]! && v[j]! <= hi[j]! ? 1 : 0;
  };
const abs =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = Math.abs(a[j]!);
  };
const gt =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j]! > b[j]! ? 1 : 0;
  };
const lt =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j]! < b[j]! ? 1 : 0;
  };
const and =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j] === 1 && b[j] === 1 ? 1 : 0;
  };
const or =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j] === 1 || b[j] === 1 ? 1 : 0;
  };
const not =
  (ins: readonly number[], o: number): Step =>
  (c, n) => {
    const a = c[ins[0]!]!,
      r = c[o]!;
    for (let j = 0; j < n; j++) r[j] = a[j] === 1 ? 0 : 1;
  };
/** crosses keep the previous pair across blocks */
const crossAbove = (ins: readonly number[], o: number): Step => {
  const st = { pa: NaN, pb: NaN };
  return (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    let pa = st.pa,
      pb = st.pb;
    for (let j = 0; j < n; j++) {
      const x = a[j]!,
        y = b[j]!;
      r[j] = pa <= pb && x > y ? 1 : 0;
      pa = x;
      pb = y;
    }
    st.pa = pa;
    st.pb = pb;
  };
};
const crossBelow = (ins: readonly number[], o: number): Step => {
  const st = { pa: NaN, pb: NaN };
  return (c, n) => {
    const a = c[ins[0]!]!,
      b = c[ins[1]!]!,
      r = c[o]!;
    let pa = st.pa,
      pb = st.pb;
    for (let j = 0; j < n; j++) {
      const x = a[j]!,
        y = b[j]!;
      r[j] = pa >= pb && x < y ? 1 : 0;
      pa = x;
      pb = y;
    }
    st.pa = pa;
    st.pb = pb;
  };
};

export const mathNodes: NodeType[] = [
  node('math.add', 'Add', 'a + b', 'math', 'number', 'number', add),
  node('math.subtract', 'Subtract', 'a - b', 'math', 'number', 'number', sub),
  node('math.multiply', 'Multiply', 'a × b', 'math', 'number', 'number', mul),
  node('math.divide', 'Divide', 'a ÷ b (undefined when b is 0)', 'math', 'number', 'number', div),
  node('math.abs', 'Absolute', '|value|', 'math', 'number', 'number', abs, ['value']),
  node('math.min', 'Minimum', 'the smaller of a and b (undefined while either is)', 'math', 'number', 'number', min),
  node('math.max', 'Maximum', 'the larger of a and b (undefined while either is)', 'math', 'number', 'number', max),
  define({
    type: 'math.lag',
    version: 1,
    category: 'math',
    label: 'Lag',
    description: "The value `period` bars ago (e.g. the previous bar's Donchian high).",
    inputs: [num('value')],
    outputs: [num('value')],
    params: [{ name: 'period', type: 'integer', default: 1, min: 1, max: 5000 }],
    warmup: (p) => p.period as number,
    create: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const k = p.period as number;
      const buf = new Float64Array(k).fill(NaN);
      let pos = 0;
      return (c, n) => {
        const a = c[i]!,
          r = c[o]!;
        for (let j = 0; j < n; j++) {
          r[j] = buf[pos]!;
          buf[pos] = a[j]!;
          if (++pos === k) pos = 0;
        }
      };
    },
  }),
];

export const logicNodes: NodeType[] = [
  node('logic.greater', 'Greater than', 'a > b (false while either is undefined)', 'logic', 'number', 'boolean', gt),
  node('logic.less', 'Less than', 'a < b (false while either is undefined)', 'logic', 'number', 'boolean', lt),
  node(
    'logic.between',
    'Between',
    'low <= value <= high, e.g. an RSI inside 30..70 (false while any is undefined)',
    'logic',
    'number',
    'boolean',
    between,
    ['value', 'low', 'high'],
  ),
  node(
    'logic.crosses_above',
    'Crosses above',
    'True on the bar where a goes from at or below b to above b.',
    'logic',
    'number',
    'boolean',
    crossAbove,
    ['a', 'b'],
    1,
  ),
  node(
    'logic.crosses_below',
    'Crosses below',
    'True on the bar where a goes from at or above b to below b.',
    'logic',
    'number',
    'boolean',
    crossBelow,
    ['a', 'b'],
    1,
  ),
  node('logic.and', 'And', 'a and b', 'logic', 'boolean', 'boolean', and),
  node('logic.or', 'Or', 'a or b', 'logic', 'boolean', 'boolean', or),
  node('logic.not', 'Not', 'not value', 'logic', 'boolean', 'boolean', not, ['value']),
];
