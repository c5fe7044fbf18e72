import { BAR_SLOTS } from '../types.ts';
import { define, num } from './helpers.ts';

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
];
