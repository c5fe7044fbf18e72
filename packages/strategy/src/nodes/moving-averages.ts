import { define, num, period, Ring } from './helpers.ts';

/** Incremental SMA of single values, for composite nodes (stochastic smoothing). NaN inputs are skipped. */
export function smaStep(n: number): (x: number) => number {
  const r = new Ring(n);
  let sum = 0;
  return (x) => {
    if (x !== x) return NaN;
    const old = r.push(x);
    sum += x;
    if (old === old) sum -= old;
    return r.full ? sum / n : NaN;
  };
}

/** TA-Lib EMA of single values: seeded with the SMA of the first n values, then k = 2 / (n + 1). */
export function emaStep(n: number): (x: number) => number {
  const k = 2 / (n + 1);
  let seen = 0;
  let acc = 0;
  let ema = NaN;
  return (x) => {
    if (x !== x) return NaN;
    if (seen < n) {
      acc += x;
      if (++seen === n) ema = acc / n;
      return ema;
    }
    ema = (x - ema) * k + ema;
    return ema;
  };
}

export const movingAverageNodes = [
  define({
    type: 'indicator.sma',
    version: 1,
    category: 'indicator',
    label: 'SMA',
    description: 'Simple moving average of the last `period` values.',
    convention: 'TA-Lib SMA',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    create: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const buf = new Float64Array(n);
      const st = { pos: 0, count: 0, sum: 0 };
      return (c, len) => {
        const x = c[i]!;
        const out = c[o]!;
        // state in locals inside the loop: closure variables would be re-read from the heap every bar
        let { pos, count, sum } = st;
        let j = 0;
        // warm-up bars, then a steady-state loop without the warm-up branch
        for (; j < len && count < n; j++) {
          const v = x[j]!;
          if (v !== v) {
            out[j] = NaN;
            continue;
          }
          sum += v - buf[pos]!;
          buf[pos] = v;
          if (++pos === n) pos = 0;
          if (count < n) count++;
          out[j] = count < n ? NaN : sum / n;
        }
        const inv = 1 / n;
        for (; j < len; j++) {
          const v = x[j]!;
          if (v !== v) {
            out[j] = NaN;
            continue;
          }
          sum += v - buf[pos]!;
          buf[pos] = v;
          pos = pos + 1 === n ? 0 : pos + 1;
          out[j] = sum * inv;
        }
        st.pos = pos;
        st.count = count;
        st.sum = sum;
      };
    },
  }),
  define({
    type: 'indicator.ema',
    version: 1,
    category: 'indicator',
    label: 'EMA',
    description: 'Exponential moving average, k = 2/(period+1), seeded with the SMA of the first period values.',
    convention: 'TA-Lib EMA (classic seeding with SMA)',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    create: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const k = 2 / (n + 1);
      const st = { seen: 0, acc: 0, ema: NaN };
      return (c, len) => {
        const x = c[i]!;
        const out = c[o]!;
        let { seen, acc, ema } = st;
        for (let j = 0; j < len; j++) {
          const v = x[j]!;
          if (v !== v) {
            out[j] = NaN;
            continue;
          }
          if (seen < n) {
            acc += v;
            if (++seen === n) ema = acc / n;
          } else ema = (v - ema) * k + ema;
          out[j] = ema;
        }
        st.seen = seen;
        st.acc = acc;
        st.ema = ema;
      };
    },
  }),
  define({
    type: 'indicator.wma',
    version: 1,
    category: 'indicator',
    label: 'WMA',
    description: 'Linearly weighted moving average (newest weight = period).',
    convention: 'TA-Lib WMA',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    create: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const r = new Ring(n);
      const denom = (n * (n + 1)) / 2;
      let sum = 0;
      let wsum = 0;
      return (c, len) => {
        const x = c[i]!;
        const out = c[o]!;
        for (let j = 0; j < len; j++) {
          const v = x[j]!;
          if (v !== v) {
            out[j] = NaN;
            continue;
          }
          if (!r.full) {
            r.push(v);
            wsum += r.count * v;
            sum += v;
            out[j] = r.full ? wsum / denom : NaN;
            continue;
          }
          const old = r.push(v);
          // every weight drops by one (subtract the old sum), the new value enters with weight n
          wsum += n * v - sum;
          sum += v - old;
          out[j] = wsum / denom;
        }
      };
    },
  }),
];
