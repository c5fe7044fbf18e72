import { define, Extreme, num, period, Ring } from './helpers.ts';
import { emaStep, smaStep } from './moving-averages.ts';

/** A node of the value and the value `period` bars before it (ROC, momentum). */
function lagged(
  type: string,
  label: string,
  description: string,
  convention: string,
  f: (x: number, old: number) => number,
) {
  return define({
    type,
    version: 1,
    category: 'indicator',
    label,
    description,
    convention,
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(10)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const r = new Ring((p.period as number) + 1);
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        r.push(x);
        // after the push, r.i points at the oldest of the period+1 values
        v[o] = r.full ? f(x, r.buf[r.i]!) : NaN;
      };
    },
  });
}

/** Wilder RSI of single values (TA-Lib seeding): the RSI node's, and the stochastic RSI's. */
export function rsiStep(n: number): (x: number) => number {
  let prev = NaN;
  let seen = 0;
  let gain = 0;
  let loss = 0;
  return (x) => {
    if (x !== x) return NaN;
    if (prev !== prev) {
      prev = x;
      return NaN;
    }
    const d = x - prev;
    prev = x;
    const g = d > 0 ? d : 0;
    const l = d < 0 ? -d : 0;
    if (seen < n) {
      gain += g;
      loss += l;
      if (++seen < n) return NaN;
      gain /= n;
      loss /= n;
    } else {
      gain = (gain * (n - 1) + g) / n;
      loss = (loss * (n - 1) + l) / n;
    }
    return gain + loss === 0 ? 0 : (100 * gain) / (gain + loss);
  };
}

export const oscillatorNodes = [
  define({
    type: 'indicator.rsi',
    version: 1,
    category: 'indicator',
    label: 'RSI',
    description: 'Relative strength index with Wilder smoothing.',
    convention: 'TA-Lib RSI: averages seeded with the simple mean of the first `period` changes, then Wilder smoothing',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const rsi = rsiStep(p.period as number);
      return (v) => {
        v[o] = rsi(v[i]!);
      };
    },
  }),
  define({
    type: 'indicator.macd',
    version: 1,
    category: 'indicator',
    label: 'MACD',
    description: 'MACD line (fast EMA - slow EMA), signal (EMA of the line) and histogram.',
    convention:
      "TA-Lib MACD: both EMAs SMA-seeded so that they start on the same bar (the fast EMA seeded from the fast-period values ending on the slow EMA's first bar); first output after slow-1+signal-1 bars",
    inputs: [num('value')],
    outputs: [num('macd'), num('signal'), num('histogram')],
    params: [period(12, 'fast'), period(26, 'slow'), period(9, 'signal')],
    warmup: (p) => Math.max(p.fast as number, p.slow as number) - 1 + (p.signal as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [om, os, oh] = io.outputs as [number, number, number];
      let fast = p.fast as number;
      let slow = p.slow as number;
      if (slow < fast) [fast, slow] = [slow, fast];
      const kf = 2 / (fast + 1);
      const slowEma = emaStep(slow);
      const sig = emaStep(p.signal as number);
      const last = new Ring(fast);
      let fastEma = NaN;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[om] = v[os] = v[oh] = NaN;
          return;
        }
        last.push(x);
        const s = slowEma(x);
        if (s !== s) {
          v[om] = v[os] = v[oh] = NaN;
          return;
        }
        if (fastEma !== fastEma) {
          // seed the fast EMA with the SMA of the `fast` values ending on this bar (TA-Lib)
          let acc = 0;
          for (let k = 0; k < fast; k++) acc += last.buf[k]!;
          fastEma = acc / fast;
        } else fastEma = (x - fastEma) * kf + fastEma;
        const m = fastEma - s;
        const sg = sig(m);
        v[om] = sg === sg ? m : NaN;
        v[os] = sg;
        v[oh] = m - sg;
      };
    },
  }),
  define({
    type: 'indicator.stoch',
    version: 1,
    category: 'indicator',
    label: 'Stochastic',
    description: 'Slow stochastic: %K = SMA(fast %K, kSmoothing), %D = SMA(%K, dPeriod).',
    convention: 'TA-Lib STOCH with SMA smoothing',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('k'), num('d')],
    params: [period(5, 'kPeriod'), period(3, 'kSmoothing'), period(3, 'dPeriod')],
    warmup: (p) => (p.kPeriod as number) - 1 + (p.kSmoothing as number) - 1 + (p.dPeriod as number) - 1,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [ok, od] = io.outputs as [number, number];
      const hh = new Extreme(p.kPeriod as number, true);
      const ll = new Extreme(p.kPeriod as number, false);
      const smK = smaStep(p.kSmoothing as number);
      const smD = smaStep(p.dPeriod as number);
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        const c = v[ic]!;
        if (h !== h || l !== l || c !== c) {
          v[ok] = v[od] = NaN;
          return;
        }
        const hi = hh.push(h);
        const lo = ll.push(l);
        const fastK = hi !== hi ? NaN : hi === lo ? 0 : (100 * (c - lo)) / (hi - lo);
        const k = smK(fastK);
        const d = smD(k);
        v[ok] = d === d ? k : NaN;
        v[od] = d;
      };
    },
  }),
  lagged(
    'indicator.roc',
    'ROC',
    'Rate of change in percent: 100 * (x - x[period]) / x[period].',
    'TA-Lib ROC',
    (x, old) => (old !== 0 ? (100 * (x - old)) / old : NaN),
  ),
  lagged(
    'indicator.mom',
    'Momentum',
    'Momentum: the value minus the value `period` bars ago.',
    'TA-Lib MOM',
    (x, old) => x - old,
  ),
  define({
    type: 'indicator.cci',
    version: 1,
    category: 'indicator',
    label: 'CCI',
    description: 'Commodity channel index of the typical price (H+L+C)/3 with the 0.015 constant.',
    convention: 'TA-Lib CCI (mean deviation recomputed over the period: O(period) per bar)',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const r = new Ring(n);
      let sum = 0;
      return (v) => {
        const tp = (v[ih]! + v[il]! + v[ic]!) / 3;
        if (tp !== tp) {
          v[o] = NaN;
          return;
        }
        const old = r.push(tp);
        sum += tp;
        if (old === old) sum -= old;
        if (!r.full) {
          v[o] = NaN;
          return;
        }
        const mean = sum / n;
        let dev = 0;
        for (let k = 0; k < n; k++) dev += Math.abs(r.buf[k]! - mean);
        dev /= n;
        v[o] = dev === 0 ? 0 : (tp - mean) / (0.015 * dev);
      };
    },
  }),
];
