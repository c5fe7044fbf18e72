import { BAR_SLOTS } from '../types.ts';
import { bool, define, num } from './helpers.ts';

/** The higher timeframes a strategy can read, in seconds. */
export const TIMEFRAMES: Readonly<Record<string, number>> = {
  '5m': 300,
  '15m': 900,
  '30m': 1800,
  '1h': 3600,
  '2h': 7200,
  '4h': 14_400,
  '6h': 21_600,
  '12h': 43_200,
  '1d': 86_400,
  '1w': 604_800,
};

const price = (field: keyof typeof BAR_SLOTS, label: string) =>
  define({
    type: `price.${field}`,
    version: 1,
    category: 'source',
    label,
    description: `The bar's ${field}.`,
    inputs: [],
    outputs: [num('value')],
    params: [],
    warmup: () => 0,
    barSlot: BAR_SLOTS[field],
  });

export const sourceNodes = [
  price('open', 'Open'),
  price('high', 'High'),
  price('low', 'Low'),
  price('close', 'Close'),
  price('volume', 'Volume'),
  define({
    type: 'constant',
    version: 1,
    category: 'source',
    label: 'Constant',
    description: 'A fixed number, e.g. an RSI threshold.',
    inputs: [],
    outputs: [num('value')],
    params: [{ name: 'value', type: 'number', default: 0, min: -1e12, max: 1e12 }],
    warmup: () => 0,
    timeless: true,
    create: (p, io) => {
      const o = io.outputs[0]!;
      const k = p.value as number;
      return (c, n) => {
        c[o]!.fill(k, 0, n);
      };
    },
  }),
  define({
    type: 'time.of_day',
    version: 1,
    category: 'source',
    label: 'Time of day',
    description: 'Hours since midnight UTC of the bar time (e.g. 13.5 = 13:30).',
    inputs: [],
    outputs: [num('hours')],
    params: [],
    warmup: () => 0,
    create: (_p, io) => {
      const o = io.outputs[0]!;
      // the time column holds epoch seconds
      return (c, n) => {
        const t = c[BAR_SLOTS.time]!;
        const out = c[o]!;
        for (let j = 0; j < n; j++) out[j] = (t[j]! % 86_400) / 3600;
      };
    },
  }),
  define({
    type: 'timeframe.bar',
    version: 1,
    category: 'source',
    label: 'Higher timeframe',
    description:
      "The last completed bar of a higher timeframe (e.g. 1d on minute bars), built from the strategy's bars; " +
      'indicators fed by it run on those bars. A bar completes with the strategy bar that closes it, never before.',
    inputs: [],
    outputs: [num('open'), num('high'), num('low'), num('close'), num('volume')],
    params: [{ name: 'timeframe', type: 'enum', default: '1h', values: Object.keys(TIMEFRAMES) }],
    warmup: () => 0,
    timeframe: (p) => TIMEFRAMES[p.timeframe as string]!,
    convention:
      'UTC buckets (weeks from Monday 00:00); a bucket completes at the bar whose close reaches its end, or at the first bar of a later bucket',
  }),
  define({
    type: 'symbol.bar',
    version: 1,
    category: 'source',
    label: 'Other symbol',
    description:
      "Another symbol's bar at the same time (e.g. BTCUSD as a market filter for ETHUSD, or a pair's spread): " +
      'its last bar that opened at or before the strategy bar, of the same interval.',
    inputs: [],
    outputs: [num('open'), num('high'), num('low'), num('close'), num('volume')],
    params: [{ name: 'symbol', type: 'symbol', default: 'BTCUSD', label: 'Symbol' }],
    warmup: () => 0,
    otherSymbol: (p) => p.symbol as string,
    convention:
      'backtests: the bar of the same open time, else the last before it (carried); paper sessions: its last tick (tick mode) or its candle of the same minute so far, else its last',
  }),
  define({
    type: 'position.state',
    version: 1,
    category: 'source',
    label: 'Position',
    description:
      "The strategy's own position at the bar's close: long or short, its profit in % of the average entry " +
      '(at the close, before fees) and the best it has been at a close since entry, the minutes since its first ' +
      'entry, its average entry price and its entries. ' +
      'Flat: long and short false, the rest undefined. Exits by profit or time held, entries only when flat, ' +
      'additions by profit (freqtrade custom_exit).',
    inputs: [],
    outputs: [
      bool('long'),
      bool('short'),
      num('profit_pct'),
      num('max_profit_pct'),
      num('minutes_held'),
      num('entry_price'),
      num('entries'),
    ],
    params: [],
    warmup: () => 0,
    position: true,
    convention:
      'backtests: the position after the bar (its fills at the open and its stops within it), at the close; ' +
      'paper sessions: long, short and entries as the signals sent make them, the rest from the fill on',
  }),
];
