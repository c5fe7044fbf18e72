import { define, Extreme, num, period, Ring } from './helpers.ts';

/** TA-Lib ATR of one bar at a time: the mean of the first n true ranges (from the second bar), then Wilder. */
export function atrStep(n: number): (h: number, l: number, c: number) => number {
  let prevC = NaN;
  let seen = 0;
  let atr = 0;
  return (h, l, c) => {
    if (h !== h || l !== l || c !== c) return NaN;
    if (prevC !== prevC) {
      prevC = c;
      return NaN;
    }
    const tr = Math.max(h - l, Math.abs(h - prevC), Math.abs(l - prevC));
    prevC = c;
    if (seen < n) {
      atr += tr;
      if (++seen < n) return NaN;
      atr /= n;
    } else atr = (atr * (n - 1) + tr) / n;
    return atr;
  };
}

/** Rolling population mean and standard deviation (TA-Lib STDDEV / BBANDS use population variance). */
function rollingStats(n: number) {
  const r = new Ring(n);
  let sum = 0;
  let sq = 0;
  const out = { mean: NaN, sd: NaN };
  return (x: number) => {
    const old = r.push(x);
    sum += x;
    sq += x * x;
    if (old === old) {
      sum -= old;
      sq -= old * old;
    }
    if (!r.full) {
      out.mean = out.sd = NaN;
      return out;
    }
    out.mean = sum / n;
    const variance = sq / n - out.mean * out.mean;
    out.sd = variance > 0 ? Math.sqrt(variance) : 0;
    return out;
  };
}

const extreme = (type: string, label: string, max: boolean) =>
  define({
    type,
    version: 1,
    category: 'indicator',
    label,
    description: `${max ? 'Highest' : 'Lowest'} value of the last \`period\` bars (this bar included), e.g. a Donchian channel.`,
    convention: `TA-Lib ${max ? 'MAX' : 'MIN'}`,
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const e = new Extreme(p.period as number, max);
      return (v) => {
        const x = v[i]!;
        v[o] = x !== x ? NaN : e.push(x);
      };
    },
  });

export const volatilityNodes = [
  define({
    type: 'indicator.bbands',
    version: 1,
    category: 'indicator',
    label: 'Bollinger Bands',
    description: 'Middle = SMA(period); upper/lower = middle ± stdDev × population standard deviation.',
    convention: 'TA-Lib BBANDS with SMA and population standard deviation',
    inputs: [num('value')],
    outputs: [num('upper'), num('middle'), num('lower')],
    params: [period(20), { name: 'stdDev', type: 'number', default: 2, min: 0.01, max: 10 }],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [ou, om, ol] = io.outputs as [number, number, number];
      const st = rollingStats(p.period as number);
      const k = p.stdDev as number;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[ou] = v[om] = v[ol] = NaN;
          return;
        }
        const s = st(x);
        v[om] = s.mean;
        v[ou] = s.mean + k * s.sd;
        v[ol] = s.mean - k * s.sd;
      };
    },
  }),
  define({
    type: 'indicator.stddev',
    version: 1,
    category: 'indicator',
    label: 'Standard deviation',
    description: 'Population standard deviation of the last `period` values.',
    convention: 'TA-Lib STDDEV (nbDev = 1)',
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(20)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const st = rollingStats(p.period as number);
      return (v) => {
        const x = v[i]!;
        v[o] = x !== x ? NaN : st(x).sd;
      };
    },
  }),
  define({
    type: 'indicator.atr',
    version: 1,
    category: 'indicator',
    label: 'ATR',
    description: 'Average true range with Wilder smoothing.',
    convention: 'TA-Lib ATR: first value = mean of the first `period` true ranges (from the second bar), then Wilder',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o] = io.outputs as [number];
      const atr = atrStep(p.period as number);
      return (v) => {
        v[o] = atr(v[ih]!, v[il]!, v[ic]!);
      };
    },
  }),
  define({
    type: 'indicator.adx',
    version: 1,
    category: 'indicator',
    label: 'ADX',
    description: 'Average directional index (trend strength, 0..100) with +DI and -DI.',
    convention: 'TA-Lib ADX/PLUS_DI/MINUS_DI with Wilder smoothing; first ADX after 2×period-1 bars',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('adx'), num('plusDi'), num('minusDi')],
    params: [period(14)],
    warmup: (p) => 2 * (p.period as number) - 1,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [oa, op, om] = io.outputs as [number, number, number];
      const n = p.period as number;
      let bar = 0;
      let ph = NaN;
      let pl = NaN;
      let pc = NaN;
      let sp = 0;
      let sm = 0;
      let st = 0;
      let sumDx = 0;
      let adx = NaN;
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        const c = v[ic]!;
        v[oa] = v[op] = v[om] = NaN;
        if (h !== h || l !== l || c !== c) return;
        if (bar++ === 0) {
          ph = h;
          pl = l;
          pc = c;
          return;
        }
        const up = h - ph;
        const down = pl - l;
        const pdm = up > 0 && up > down ? up : 0;
        const mdm = down > 0 && down > up ? down : 0;
        const tr = Math.max(h - l, Math.abs(h - pc), Math.abs(l - pc));
        ph = h;
        pl = l;
        pc = c;
        if (bar <= n) {
          // bars 1..n-1: plain sums seed the smoothing
          sp += pdm;
          sm += mdm;
          st += tr;
          return;
        }
        sp = sp - sp / n + pdm;
        sm = sm - sm / n + mdm;
        st = st - st / n + tr;
        const pdi = st === 0 ? 0 : (100 * sp) / st;
        const mdi = st === 0 ? 0 : (100 * sm) / st;
        const dx = pdi + mdi === 0 ? 0 : (100 * Math.abs(pdi - mdi)) / (pdi + mdi);
        v[op] = pdi;
        v[om] = mdi;
        if (bar <= 2 * n) {
          sumDx += dx;
          if (bar === 2 * n) adx = sumDx / n;
        } else adx = (adx * (n - 1) + dx) / n;
        v[oa] = adx;
      };
    },
  }),
  extreme('indicator.highest', 'Highest', true),
  extreme('indicator.lowest', 'Lowest', false),
];

export const volumeNodes = [
  define({
    type: 'indicator.vwap',
    version: 1,
    category: 'indicator',
    label: 'VWAP',
    description: 'Volume-weighted average of the typical price (H+L+C)/3 over `period` bars (0 = since the start).',
    convention: 'typical-price VWAP; rolling when period > 0',
    inputs: [num('high'), num('low'), num('close'), num('volume')],
    outputs: [num('value')],
    params: [{ name: 'period', type: 'integer', default: 0, min: 0, max: 100_000 }],
    warmup: (p) => Math.max(0, (p.period as number) - 1),
    createScalar: (p, io) => {
      const [ih, il, ic, iv] = io.inputs as [number, number, number, number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const pv = n > 0 ? new Ring(n) : null;
      const vv = n > 0 ? new Ring(n) : null;
      let spv = 0;
      let sv = 0;
      return (v) => {
        const tp = (v[ih]! + v[il]! + v[ic]!) / 3;
        const vol = v[iv]!;
        if (tp !== tp || vol !== vol) {
          v[o] = NaN;
          return;
        }
        spv += tp * vol;
        sv += vol;
        if (pv && vv) {
          const a = pv.push(tp * vol);
          const b = vv.push(vol);
          if (a === a) {
            spv -= a;
            sv -= b;
          }
          if (!pv.full) {
            v[o] = NaN;
            return;
          }
        }
        v[o] = sv === 0 ? tp : spv / sv;
      };
    },
  }),
  define({
    type: 'indicator.obv',
    version: 1,
    category: 'indicator',
    label: 'OBV',
    description: 'On-balance volume: running total of volume, added on up closes and subtracted on down closes.',
    convention: "TA-Lib OBV (starts at the first bar's volume)",
    inputs: [num('close'), num('volume')],
    outputs: [num('value')],
    params: [],
    warmup: () => 0,
    createScalar: (_p, io) => {
      const [ic, iv] = io.inputs as [number, number];
      const [o] = io.outputs as [number];
      let prev = NaN;
      let obv = 0;
      return (v) => {
        const c = v[ic]!;
        const vol = v[iv]!;
        if (c !== c || vol !== vol) {
          v[o] = NaN;
          return;
        }
        if (prev !== prev) obv = vol;
        else if (c > prev) obv += vol;
        else if (c < prev) obv -= vol;
        prev = c;
        v[o] = obv;
      };
    },
  }),
];
