import { define, Extreme, num, period, rollingSum } from './helpers.ts';
import { smaStep } from './moving-averages.ts';
import { rsiStep } from './oscillators.ts';

export const momentumNodes = [
  define({
    type: 'indicator.willr',
    version: 1,
    category: 'indicator',
    label: 'Williams %R',
    description: 'Williams %R: where the close sits in the high-low range of the last `period` bars, -100..0.',
    convention: 'TA-Lib WILLR: -100 × (highest high - close) / (highest high - lowest low); 0 when the range is empty',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o] = io.outputs as [number];
      const hh = new Extreme(p.period as number, true);
      const ll = new Extreme(p.period as number, false);
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        const c = v[ic]!;
        if (h !== h || l !== l || c !== c) {
          v[o] = NaN;
          return;
        }
        const hi = hh.push(h);
        const lo = ll.push(l);
        v[o] = hi !== hi ? NaN : hi === lo ? 0 : (-100 * (hi - c)) / (hi - lo);
      };
    },
  }),
  define({
    type: 'indicator.mfi',
    version: 1,
    category: 'indicator',
    label: 'MFI',
    description: 'Money flow index: RSI-like ratio of up-day to all money flow (typical price × volume), 0..100.',
    convention:
      'TA-Lib MFI: flows of the last `period` changes of the typical price (H+L+C)/3, simple sums; an unchanged price counts in neither; 0 with no flow',
    inputs: [num('high'), num('low'), num('close'), num('volume')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [ih, il, ic, iv] = io.inputs as [number, number, number, number];
      const [o] = io.outputs as [number];
      const pos = rollingSum(p.period as number);
      const neg = rollingSum(p.period as number);
      let prev = NaN;
      return (v) => {
        const tp = (v[ih]! + v[il]! + v[ic]!) / 3;
        const vol = v[iv]!;
        if (tp !== tp || vol !== vol) {
          v[o] = NaN;
          return;
        }
        if (prev !== prev) {
          prev = tp;
          v[o] = NaN;
          return;
        }
        const flow = tp * vol;
        const ps = pos(tp > prev ? flow : 0);
        const ns = neg(tp < prev ? flow : 0);
        prev = tp;
        if (ps !== ps) {
          v[o] = NaN;
          return;
        }
        const all = ps + ns;
        v[o] = all <= 0 ? 0 : (100 * ps) / all;
      };
    },
  }),
  define({
    type: 'indicator.cmo',
    version: 1,
    category: 'indicator',
    label: 'CMO',
    description:
      'Chande momentum oscillator: (sum of gains - sum of losses) / (their total) over `period` changes, -100..100.',
    convention: "Chande's (Achelis, Technical Analysis from A to Z): plain sums over the last `period` changes",
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const gains = rollingSum(p.period as number);
      const losses = rollingSum(p.period as number);
      let prev = NaN;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        if (prev !== prev) {
          prev = x;
          v[o] = NaN;
          return;
        }
        const d = x - prev;
        prev = x;
        const g = gains(d > 0 ? d : 0);
        const l = losses(d < 0 ? -d : 0);
        if (g !== g) {
          v[o] = NaN;
          return;
        }
        v[o] = g + l <= 0 ? 0 : (100 * (g - l)) / (g + l);
      };
    },
  }),
  define({
    type: 'indicator.aroon',
    version: 1,
    category: 'indicator',
    label: 'Aroon',
    description:
      'Aroon up/down: how recently the highest high and lowest low of the last `period`+1 bars happened, 0..100, and the oscillator up - down.',
    convention: 'TA-Lib AROON/AROONOSC: a window of period+1 bars; on ties the most recent bar counts',
    inputs: [num('high'), num('low')],
    outputs: [num('up'), num('down'), num('oscillator')],
    params: [period(14)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [ih, il] = io.inputs as [number, number];
      const [ou, od, oo] = io.outputs as [number, number, number];
      const n = p.period as number;
      // monotonic deques over period+1 bars: O(1) a bar, the newest of equal extremes kept
      const highs = new Extreme(n + 1, true);
      const lows = new Extreme(n + 1, false);
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        if (h !== h || l !== l) {
          v[ou] = v[od] = v[oo] = NaN;
          return;
        }
        const hi = highs.push(h);
        lows.push(l);
        if (hi !== hi) {
          v[ou] = v[od] = v[oo] = NaN;
          return;
        }
        const up = (100 * (n - highs.age)) / n;
        const down = (100 * (n - lows.age)) / n;
        v[ou] = up;
        v[od] = down;
        v[oo] = up - down;
      };
    },
  }),
  define({
    type: 'indicator.ultosc',
    version: 1,
    category: 'indicator',
    label: 'Ultimate oscillator',
    description:
      "Williams' ultimate oscillator: buying pressure over true range on three horizons, weighted 4:2:1, 0..100.",
    convention:
      'TA-Lib ULTOSC: buying pressure = close - min(low, previous close), true range = max(high, previous close) - min(low, previous close)',
    inputs: [num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [period(7, 'short'), period(14, 'medium'), period(28, 'long')],
    warmup: (p) => Math.max(p.short as number, p.medium as number, p.long as number),
    createScalar: (p, io) => {
      const [ih, il, ic] = io.inputs as [number, number, number];
      const [o] = io.outputs as [number];
      const periods = [p.short as number, p.medium as number, p.long as number].sort((a, b) => a - b);
      const bp = periods.map((k) => rollingSum(k));
      const tr = periods.map((k) => rollingSum(k));
      const avg = [0, 0, 0];
      let prevC = NaN;
      return (v) => {
        const h = v[ih]!;
        const l = v[il]!;
        const c = v[ic]!;
        if (h !== h || l !== l || c !== c) {
          v[o] = NaN;
          return;
        }
        if (prevC !== prevC) {
          prevC = c;
          v[o] = NaN;
          return;
        }
        const lo = Math.min(l, prevC);
        const b = c - lo;
        const t = Math.max(h, prevC) - lo;
        prevC = c;
        for (let k = 0; k < 3; k++) {
          const sb = bp[k]!(b);
          const st = tr[k]!(t);
          avg[k] = st > 0 ? sb / st : st === 0 ? 0 : NaN;
        }
        if (avg[2] !== avg[2]) {
          v[o] = NaN;
          return;
        }
        // weights 4:2:1 from the shortest horizon to the longest
        v[o] = (100 * (4 * avg[0]! + 2 * avg[1]! + avg[2]!)) / 7;
      };
    },
  }),
  define({
    type: 'indicator.stochrsi',
    version: 1,
    category: 'indicator',
    label: 'Stochastic RSI',
    description:
      'Stochastic of the RSI: where the RSI sits in its range over `stochPeriod` values (0..100), %K smoothed by an SMA and %D the SMA of %K.',
    convention:
      'RSI as TA-Lib (Wilder); %K = SMA(kSmoothing) of 100 × (RSI - lowest RSI) / (highest - lowest), 0 when the range is empty; %D = SMA(dPeriod) of %K (TradingView defaults 14, 14, 3, 3)',
    inputs: [num('value')],
    outputs: [num('k'), num('d')],
    params: [period(14, 'rsiPeriod'), period(14, 'stochPeriod'), period(3, 'kSmoothing'), period(3, 'dPeriod')],
    warmup: (p) =>
      (p.rsiPeriod as number) +
      (p.stochPeriod as number) -
      1 +
      (p.kSmoothing as number) -
      1 +
      (p.dPeriod as number) -
      1,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [ok, od] = io.outputs as [number, number];
      const rsi = rsiStep(p.rsiPeriod as number);
      const hh = new Extreme(p.stochPeriod as number, true);
      const ll = new Extreme(p.stochPeriod as number, false);
      const smK = smaStep(p.kSmoothing as number);
      const smD = smaStep(p.dPeriod as number);
      return (v) => {
        const r = rsi(v[i]!);
        if (r !== r) {
          v[ok] = v[od] = NaN;
          return;
        }
        const hi = hh.push(r);
        const lo = ll.push(r);
        const raw = hi !== hi ? NaN : hi === lo ? 0 : (100 * (r - lo)) / (hi - lo);
        const k = smK(raw);
        const d = smD(k);
        v[ok] = d === d ? k : NaN;
        v[od] = d;
      };
    },
  }),
  define({
    type: 'indicator.ao',
    version: 1,
    category: 'indicator',
    label: 'Awesome oscillator',
    description: "Bill Williams' awesome oscillator: SMA(fast) - SMA(slow) of the bar midpoint (high + low) / 2.",
    convention:
      'SMA(5) - SMA(34) of (high + low) / 2 by default, as Tulip Indicators ao; first value after slow-1 bars',
    inputs: [num('high'), num('low')],
    outputs: [num('value')],
    params: [period(5, 'fast'), period(34, 'slow')],
    warmup: (p) => Math.max(p.fast as number, p.slow as number) - 1,
    createScalar: (p, io) => {
      const [ih, il] = io.inputs as [number, number];
      const [o] = io.outputs as [number];
      const fast = smaStep(p.fast as number);
      const slow = smaStep(p.slow as number);
      return (v) => {
        const mid = (v[ih]! + v[il]!) / 2;
        if (mid !== mid) {
          v[o] = NaN;
          return;
        }
        const f = fast(mid);
        const s = slow(mid);
        v[o] = f === f && s === s ? f - s : NaN;
      };
    },
  }),
  define({
    type: 'indicator.bop',
    version: 1,
    category: 'indicator',
    label: 'Balance of power',
    description: 'Balance of power: (close - open) / (high - low), -1..1: who won the bar.',
    convention: 'TA-Lib BOP; 0 for a bar with no range',
    inputs: [num('open'), num('high'), num('low'), num('close')],
    outputs: [num('value')],
    params: [],
    warmup: () => 0,
    createScalar: (_p, io) => {
      const [io_, ih, il, ic] = io.inputs as [number, number, number, number];
      const [o] = io.outputs as [number];
      return (v) => {
        const range = v[ih]! - v[il]!;
        const d = v[ic]! - v[io_]!;
        v[o] = d !== d || range !== range ? NaN : range > 0 ? d / range : 0;
      };
    },
  }),
  define({
    type: 'indicator.qstick',
    version: 1,
    category: 'indicator',
    label: 'Qstick',
    description: "Chande's Qstick: the average of (close - open) over the last `period` bars.",
    convention: 'SMA(period) of close - open, as Achelis and Tulip Indicators',
    inputs: [num('open'), num('close')],
    outputs: [num('value')],
    params: [period(14)],
    warmup: (p) => (p.period as number) - 1,
    createScalar: (p, io) => {
      const [iopen, ic] = io.inputs as [number, number];
      const [o] = io.outputs as [number];
      const sma = smaStep(p.period as number);
      return (v) => {
        const d = v[ic]! - v[iopen]!;
        v[o] = d !== d ? NaN : sma(d);
      };
    },
  }),
  define({
    type: 'indicator.vhf',
    version: 1,
    category: 'indicator',
    label: 'VHF',
    description:
      'Vertical horizontal filter: the range of the last `period` closes over the sum of their moves; high in a trend, low in a range.',
    convention:
      "White's, as Achelis and Tulip Indicators: (highest - lowest of period+1 closes) / sum of the period changes",
    inputs: [num('value')],
    outputs: [num('value')],
    params: [period(28)],
    warmup: (p) => p.period as number,
    createScalar: (p, io) => {
      const [i] = io.inputs as [number];
      const [o] = io.outputs as [number];
      const n = p.period as number;
      const hh = new Extreme(n, true);
      const ll = new Extreme(n, false);
      const moves = rollingSum(n);
      let prev = NaN;
      return (v) => {
        const x = v[i]!;
        if (x !== x) {
          v[o] = NaN;
          return;
        }
        const hi = hh.push(x);
        const lo = ll.push(x);
        const sum = prev === prev ? moves(Math.abs(x - prev)) : NaN;
        prev = x;
        v[o] = hi !== hi || sum !== sum ? NaN : sum > 0 ? (hi - lo) / sum : 0;
      };
    },
  }),
];
