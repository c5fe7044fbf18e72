import type { ParamSpec } from '../types.ts';
import { define, Extreme, num, period, Ring, rollingSum } from './helpers.ts';
import { emaStep, smaStep } from './moving-averages.ts';
import { atrStep } from './volatility.ts';

const real = (name: string, def: number, min: number, max: number): ParamSpec => ({
  name,
  type: 'number',
  default: def,
  min,
  max,
});

/** Incremental WMA of single values (weights 1..n, newest heaviest). NaN inputs are skipped. */
export function wmaStep(n: number): (x: number) => number {
  const r = new Ring(n);
  const denom = (n * (n + 1)) / 2;
  let sum = 0;
  let wsum = 0;
  return (x) => {
    if (x !== x) return NaN;
    if (!r.full) {
      r.push(x);
      sum += x;
      wsum += r.count * x;
      return r.full ? wsum / denom : NaN;
    }
    // sliding on: every weight drops by one (the oldest's to zero), the new value takes weight n
    wsum += n * x - sum;
    sum += x - r.push(x);
    return wsum / denom;
  };
}

/** EMA seeded with its first value (TA-Lib's ADOSC, Chaikin's own definition). */
function emaFromFirst(n: number): (x: number) => number {
  const k = 2 / (n + 1);
  let ema = NaN;
  return (x) => (ema = ema !== ema ? x : (x - ema) * k + ema);
}

/**
 * `levels` EMAs of EMAs as Achelis and Tulip Indicators chain them for DEMA, TEMA and TRIX: the first
 * seeded with the first value, each next one started with the one before's value `n`-1 bars after that
 * one started. Fills `out[0..levels-1]`; a level not started yet is NaN.
 */
function emaCascade(n: number, levels: number): (x: number, out: Float64Array) => void {
  const k = 2 / (n + 1);
  const ema = new Float64Array(levels).fill(NaN);
  let bar = 0;
  return (x, out) => {
    for (let l = 0; l < levels; l++) {
      const input = l === 0 ? x : ema[l - 1]!;
      if (ema[l] !== ema[l]) {
        if (bar === l * (n - 1)) ema[l] = input;
      } else ema[l] = (input - ema[l]!) * k + ema[l]!;
      out[l] = ema[l]!;
    }
    bar++;
  };
}

/** DEMA and TEMA: a weighted sum of `weights.length` chained EMAs (Mulloy). */
function chainedEma(type: string, label: string, description: string, weights: readonly number[]) {
  const levels = weights.length;
  return define({
    type,
    version: 1,
    category: 'indicator',
    label,
    description,
    convention: `Mulloy's, as Achelis (Technical Analysis from A to Z) and Tulip Indicators: the first EMA seeded with the first value, each next with the one before's value period-1 bars after it started; first value after ${levels}×(period-1) bars`,
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => levels * ((p.period as number) - 1),
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const ema = emaCascade(p.period as number, levels);
      const e = new Float64Array(levels);
      const start = levels * ((p.period as number) - 1);
      let bar = 0;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        ema(x, e);
        let acc = 0;
        for (let l = 0; l < levels; l++) acc += weights[l]! * e[l]!;
        v[o] = bar++ >= start ? acc : NaN;
      };
    },
  });
}

/**
 * Chaikin's accumulation/distribution line, a bar at a time: the running total of close location value
 * × volume (0 for a bar with no range); NaN for a bar with an undefined field, which adds nothing.
 */
function adLine(): (h: number, l: number, c: number, vol: number) => number {
  let ad = 0;
  return (h, l, c, vol) => {
    if (h !== h || l !== l || c !== c || vol !== vol) return NaN;
    if (h > l) ad += ((c - l - (h - c)) / (h - l)) * vol;
    return ad;
  };
}

export const trendNodes = [
  chainedEma(
    'indicator.dema',
    'DEMA',
    'Double exponential moving average: 2 × EMA - EMA(EMA), less lag than an EMA.',
    [2, -1],
  ),
  chainedEma(
    'indicator.tema',
    'TEMA',
    'Triple exponential moving average: 3 × EMA - 3 × EMA(EMA) + EMA(EMA(EMA)).',
    [3, -3, 1],
  ),
  define({
    type: 'indicator.trix',
    version: 1,
    category: 'indicator',
    label: 'TRIX',
    description: 'TRIX: one-bar rate of change, in percent, of a triple-smoothed EMA.',
    convention:
      "Hutson's, as Achelis (Technical Analysis from A to Z) and Tulip Indicators: EMAs chained as in TEMA; the one-bar change of the third in percent of its previous value; first value after 3×(period-1)+1 bars",
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(15)],
    warmup: (p) => 3 * ((p.period as number) - 1) + 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const ema = emaCascade(p.period as number, 3);
      const e = new Float64Array(3);
      const start = 3 * ((p.period as number) - 1) + 1;
      let prev = NaN;
      let bar = 0;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        ema(x, e);
        const t = e[2]!;
        v[o] = bar++ >= start && prev !== 0 ? (100 * (t - prev)) / prev : NaN;
        prev = t;
      };
    },
  }),
  define({
    type: 'indicator.kama',
    version: 1,
    category: 'indicator',
    label: 'KAMA',
    description:
      "Kaufman's adaptive moving average: follows fast in a trend and slowly in noise (efficiency ratio over `period` changes).",
    convention:
      'TA-Lib KAMA: seeded with the value before the first output; smoothing = (ER × (2/(fast+1) - 2/(slow+1)) + 2/(slow+1))²',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(10), period(2, 'fast', 1000), period(30, 'slow', 1000)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const fastSc = 2 / ((p.fast as number) + 1);
      const slowSc = 2 / ((p.slow as number) + 1);
      const values = new Ring(n + 1);
      const moves = new Ring(n);
      let noise = 0;
      let kama = NaN;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        const last = values.count ? values.buf[(values.i + values.n - 1) % values.n]! : NaN;
        values.push(x);
        if (last === last) {
          const m = Math.abs(x - last);
          const old = moves.push(m);
          noise += m;
          if (old === old) noise -= old;
        }
        if (!values.full) {
          v[o] = NaN;
          return;
        }
        if (kama !== kama) kama = last;
        const change = Math.abs(x - values.buf[values.i]!);
        const er = noise > 0 && change < noise ? change / noise : 1;
        const sc = (er * (fastSc - slowSc) + slowSc) ** 2;
        kama += sc * (x - kama);
        v[o] = kama;
      };
    },
  }),
  define({
    type: 'indicator.hma',
    version: 1,
    category: 'indicator',
    label: 'Hull MA',
    description: 'Hull moving average: WMA over √period of 2 × WMA(period/2) - WMA(period).',
    convention: "Alan Hull's, as Tulip Indicators: period/2 and √period rounded down",
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1 + Math.max(1, Math.floor(Math.sqrt(p.period as number))) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const half = wmaStep(Math.max(1, Math.floor(n / 2)));
      const full = wmaStep(n);
      const outer = wmaStep(Math.max(1, Math.floor(Math.sqrt(n))));
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        const h = half(x);
        const f = full(x);
        v[o] = f === f ? outer(2 * h - f) : NaN;
      };
    },
  }),
  define({
    type: 'indicator.vwma',
    version: 1,
    category: 'indicator',
    label: 'VWMA',
    description: 'Volume-weighted moving average of the last `period` values.',
    convention: 'sum(value × volume) / sum(volume); the plain mean when the window has no volume',
    inputs: [num('value'), num('volume')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i, iv] = io.inputs as [number, number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const pv = rollingSum(n);
      const vol = rollingSum(n);
      const val = rollingSum(n);
      return (v) => {
        const x = v[i]!;
        const w = v[iv]!;
        if (x !== x || w !== w) {
          v[o] = NaN;
          return;
        }
        const spv = pv(x * w);
        const sv = vol(w);
        const sx = val(x);
        v[o] = sv > 0 ? spv / sv : sx / n; // NaN until the window is full
      };
    },
  }),
  define({
    type: 'indicator.psar',
    version: 1,
    category: 'indicator',
    label: 'Parabolic SAR',
    description:
      "Wilder's parabolic stop and reverse: a trailing level below the price in an up trend, above it in a down trend; trend is 1 (up) or -1 (down).",
    convention:
      "Wilder's: the first trend from the first two bars' midpoints, the SAR never inside the prior two bars' range, the acceleration stepping up on each new extreme to `maximum`",
    inputs: [num('high'), num('low')],
    outputs: [num('value'), num('trend')],
    params: [real('acceleration', 0.02, 0.001, 1), real('maximum', 0.2, 0.001, 1)],
    warmup: () => 1,
    createScalar: (p, io) => {
      const [ih, il] = io.inputs as [number, number];
      const [o, ot] = io.outputs as [number, number];
      const step = p.acceleration as number;
      const max = Math.max(step, p.maximum as number);
      let bar = 0;
      let h1 = NaN; // previous bar
      let l1 = NaN;
      let l2 = NaN; // the bar before it
      let h2 = NaN;
      let up = true;
      let sar = NaN;
      let extreme = NaN;
      let accel = step;
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        if (h !== h || l !== l) {
          v[o] = v[ot] = NaN;
          return;
        }
        if (bar++ === 0) {
          h1 = h;
          l1 = l;
          v[o] = v[ot] = NaN;
          return;
        }
        if (bar === 2) {
          // the first trend: up when this bar's midpoint is not below the first's
          up = h1 + l1 <= h + l;
          sar = up ? l1 : h1;
          extreme = up ? h1 : l1;
        }
        sar += (extreme - sar) * accel;
        if (up) {
          if (l2 === l2 && sar > l2) sar = l2;
          if (sar > l1) sar = l1;
          if (h > extreme) {
            extreme = h;
            accel = Math.min(max, accel + step);
          }
        } else {
          if (h2 === h2 && sar < h2) sar = h2;
          if (sar < h1) sar = h1;
          if (l < extreme) {
            extreme = l;
            accel = Math.min(max, accel + step);
          }
        }
        if ((up && l < sar) || (!up && h > sar)) {
          // stop and reverse: the SAR jumps to the extreme of the trend that ended
          up = !up;
          accel = step;
          sar = extreme;
          extreme = up ? h : l;
        }
        h2 = h1;
        l2 = l1;
        h1 = h;
        l1 = l;
        v[o] = sar;
        v[ot] = up ? 1 : -1;
      };
    },
  }),
  define({
    type: 'indicator.supertrend',
    version: 1,
    category: 'indicator',
    label: 'SuperTrend',
    description:
      'SuperTrend: a band `multiplier` × ATR from the bar midpoint that only tightens while the trend lasts; the line sits below the price in an up trend (trend 1) and above it in a down trend (-1).',
    convention:
      "TradingView's ta.supertrend with TA-Lib's Wilder ATR (first value after `period` bars); the first trend is down",
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value'), num('trend')],
    params: [period(10), real('multiplier', 3, 0.01, 100)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o, ot] = io.outputs as [number, number];
      const atr = atrStep(p.period as number);
      const m = p.multiplier as number;
      let prevClose = NaN;
      let upper = NaN;
      let lower = NaN;
      let trend = 0; // 0 before the first value
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        const c = v[ic]!;
        const a = atr(h, l, c);
        if (a !== a) {
          v[o] = v[ot] = NaN;
          if (c === c) prevClose = c;
          return;
        }
        const mid = (h + l) / 2;
        let up = mid + m * a;
        let lo = mid - m * a;
        if (trend !== 0) {
          if (!(lo > lower || prevClose < lower)) lo = lower;
          if (!(up < upper || prevClose > upper)) up = upper;
          trend = trend === -1 ? (c > up ? 1 : -1) : c < lo ? -1 : 1;
        } else trend = -1;
        upper = up;
        lower = lo;
        prevClose = c;
        v[o] = trend === 1 ? lo : up;
        v[ot] = trend;
      };
    },
  }),
  define({
    type: 'indicator.keltner',
    version: 1,
    category: 'indicator',
    label: 'Keltner channels',
    description: 'Keltner channels: an EMA of the close with bands `multiplier` × ATR above and below.',
    convention: 'middle = TA-Lib EMA(period) of the close; bands ± multiplier × TA-Lib ATR(atrPeriod)',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('upper'), num('middle'), num('lower')],
    params: [period(20), real('multiplier', 2, 0.01, 100), period(10, 'atrPeriod')],
    warmup: (p) => Math.max((p.period as number) - 1, p.atrPeriod as number),
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [ou, om, ol] = io.outputs as [number, number, number];
      const ema = emaStep(p.period as number);
      const atr = atrStep(p.atrPeriod as number);
      const m = p.multiplier as number;
      return (v) => {
        const c = v[ic]!;
        const a = atr(v[ih]!, v[il]!, c);
        const mid = ema(c);
        const ok = a === a && mid === mid;
        v[om] = ok ? mid : NaN;
        v[ou] = ok ? mid + m * a : NaN;
        v[ol] = ok ? mid - m * a : NaN;
      };
    },
  }),
  define({
    type: 'indicator.natr',
    version: 1,
    category: 'indicator',
    label: 'NATR',
    description: 'Normalised average true range: ATR as a percentage of the close.',
    convention: 'TA-Lib NATR: 100 × ATR / close',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o] = io.outputs as [number];
      const atr = atrStep(p.period as number);
      return (v) => {
        const c = v[ic]!;
        const a = atr(v[ih]!, v[il]!, c);
        v[o] = a === a && c !== 0 ? (100 * a) / c : NaN;
      };
    },
  }),
  define({
    type: 'indicator.ad',
    version: 1,
    category: 'indicator',
    label: 'Accumulation/distribution',
    description:
      "Chaikin's accumulation/distribution line: running total of volume × close location in the bar's range.",
    convention: 'TA-Lib AD: ((close - low) - (high - close)) / (high - low) × volume, 0 for a bar with no range',
    inputs: [num('high'), num('low'), num('close'), num('volume')],
    outputs: [num('value')],
    params: [],
    warmup: () => 0,
    createScalar: (_p, io) => {
      const [ih, il, ic, iv] = io.inputs as [number, number, number, number];
      const [o] = io.outputs as [number];
      const ad = adLine();
      return (v) => {
        v[o] = ad(v[ih]!, v[il]!, v[ic]!, v[iv]!);
      };
    },
  }),
  define({
    type: 'indicator.adosc',
    version: 1,
    category: 'indicator',
    label: 'Chaikin oscillator',
    description: 'Chaikin A/D oscillator: fast EMA minus slow EMA of the accumulation/distribution line.',
    convention: 'TA-Lib ADOSC: both EMAs seeded with the first A/D value; first value after slow-1 bars',
    inputs: [num('high'), num('low'), num('close'), num('volume')],
    outputs: [num('value')],
    params: [period(3, 'fast'), period(10, 'slow')],
    warmup: (p) => Math.max(p.fast as number, p.slow as number) - 1,
    createScalar: (p, io) => {
      const [ih, il, ic, iv] = io.inputs as [number, number, number, number];
      const [o] = io.outputs as [number];
      const fast = emaFromFirst(p.fast as number);
      const slow = emaFromFirst(p.slow as number);
      const start = Math.max(p.fast as number, p.slow as number) - 1;
      const ad = adLine();
      let bar = 0;
      return (v) => {
        const x = ad(v[ih]!, v[il]!, v[ic]!, v[iv]!);
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        const d = fast(x) - slow(x);
        v[o] = bar++ >= start ? d : NaN;
      };
    },
  }),
  define({
    type: 'indicator.linreg',
    version: 1,
    category: 'indicator',
    label: 'Linear regression',
    description:
      'Least-squares line through the last `period` values: its value on this bar, its slope per bar, its value on the first bar of the window (intercept) and on the next bar (forecast).',
    convention:
      'TA-Lib LINEARREG, LINEARREG_SLOPE, LINEARREG_INTERCEPT and TSF (as Tulip Indicators linreg, linregslope, linregintercept, tsf)',
    inputs: [num('value')],
    outputs: [num('value'), num('slope'), num('intercept'), num('forecast')],
    params: [period(14)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [ov, os, oi, of] = io.outputs as [number, number, number, number];
      const n = p.period as number;
      const r = new Ring(n);
      // x = 1..n, oldest first: sums of y and of x·y slide like a WMA's (every x drops by one)
      const sx = (n * (n + 1)) / 2;
      const sxx = (n * (n + 1) * (2 * n + 1)) / 6;
      const den = n * sxx - sx * sx;
      let sy = 0;
      let sxy = 0;
      return (v) => {
        const y = v[i]!;
        if (y !== y) {
          v[ov] = v[os] = v[oi] = v[of] = NaN;
          return;
        }
        if (!r.full) {
          r.push(y);
          sy += y;
          sxy += r.count * y;
        } else {
          sxy += n * y - sy;
          sy += y - r.push(y);
        }
        if (!r.full) {
          v[ov] = v[os] = v[oi] = v[of] = NaN;
          return;
        }
        const m = n > 1 ? (n * sxy - sx * sy) / den : 0;
        const b = (sy - m * sx) / n; // the line's value at x = 0
        v[os] = m;
        v[oi] = b + m;
        v[ov] = b + m * n;
        v[of] = b + m * (n + 1);
      };
    },
  }),
  define({
    type: 'indicator.trima',
    version: 1,
    category: 'indicator',
    label: 'TRIMA',
    description: 'Triangular moving average: an SMA of an SMA, weighting the middle of the window most.',
    convention:
      'TA-Lib TRIMA: odd period n: SMA((n+1)/2) of SMA((n+1)/2); even: SMA(n/2+1) of SMA(n/2); first value after period-1 bars',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const a = n % 2 ? (n + 1) / 2 : n / 2;
      const b = n % 2 ? (n + 1) / 2 : n / 2 + 1;
      const inner = smaStep(a);
      const outer = smaStep(b);
      return (v) => {
        const x = v[i]!;
        v[o] = x !== x ? NaN : outer(inner(x));
      };
    },
  }),
  define({
    type: 'indicator.donchian',
    version: 1,
    category: 'indicator',
    label: 'Donchian channels',
    description: 'Donchian channels: the highest high and lowest low of the last `period` bars, and their midpoint.',
    convention: 'upper = highest high, lower = lowest low over `period` bars including this one; middle = their mean',
    inputs: [num('high'), num('low')],
    outputs: [num('upper'), num('middle'), num('lower')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [ih, il] = io.inputs as [number, number];
      const [ou, om, ol] = io.outputs as [number, number, number];
      const hh = new Extreme(p.period as number, true);
      const ll = new Extreme(p.period as number, false);
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        if (h !== h || l !== l) {
          v[ou] = v[om] = v[ol] = NaN;
          return;
        }
        const hi = hh.push(h);
        const lo = ll.push(l);
        v[ou] = hi;
        v[ol] = lo;
        v[om] = (hi + lo) / 2;
      };
    },
  }),
];
