import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateNode } from './evaluate-node.ts';
import { registry } from './registry.ts';
import type { Params } from './types.ts';
import { BAR_SLOT_COUNT, stepOf } from './types.ts';

/**
 * Reference values from Tulip Indicators' test files (test/fixtures/indicators/tulipindicators):
 * `atoz.txt` holds the worked examples of Achelis, "Technical Analysis from A to Z" (and its companion
 * spreadsheets), `untest.txt` Tulip's own outputs. Each block: a name and options, the input arrays,
 * then the output arrays, which end on the last input bar.
 */
interface Case {
  opts: number[];
  arrays: string[][];
}
const dir = new URL('../../../test/fixtures/indicators/', import.meta.url);
function parse(file: string): Record<string, Case[]> {
  const out: Record<string, Case[]> = {};
  for (const block of readFileSync(new URL(file, dir), 'utf8').split(/\r?\n\s*\r?\n/)) {
    const lines = block
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    if (!lines[0] || lines[0].startsWith('{')) continue;
    const [name, ...opts] = lines[0].split(/\s+/);
    const arrays = lines.filter((l) => l.startsWith('{')).map((l) => l.slice(1, -1).split(','));
    (out[name!] ??= []).push({ opts: opts.map(Number), arrays });
  }
  return out;
}
const atoz = parse('tulipindicators/atoz.txt');
const tulip = parse('tulipindicators/untest.txt');

/** one unit in the last decimal the reference prints (the book's figures are rounded or cut) */
const tolerance = (s: string) => 10 ** -(s.split('.')[1]?.length ?? 0) + 1e-9 * Math.abs(Number(s));

interface Spec {
  type: string;
  params: (opts: number[]) => Params;
  inputs: number;
  /** our output index for each reference output array, in the file's order */
  outputs?: number[];
  /** our value as the reference scales it */
  scale?: number;
  /** bars at the start the reference defines and we do not (a convention's different first bar) */
  skip?: number;
}

function check(src: Record<string, Case[]>, name: string, spec: Spec) {
  const cases = src[name];
  expect(cases, `${name} in the reference file`).toBeDefined();
  for (const c of cases!) {
    const inputs = c.arrays.slice(0, spec.inputs).map((a) => a.map(Number));
    const outs = evaluateNode(spec.type, spec.params(c.opts), inputs);
    const len = inputs[0]!.length;
    (spec.outputs ?? [0]).forEach((ours, k) => {
      const want = c.arrays[spec.inputs + k]!;
      const off = len - want.length;
      const got = outs[ours]!;
      // the first output falls on the reference's first bar (no earlier, no later)
      if (!spec.skip && off > 0) expect(Number.isNaN(got[off - 1]!), `${name}: defined before bar ${off}`).toBe(true);
      let checked = 0;
      want.forEach((w, j) => {
        if (j < (spec.skip ?? 0)) return;
        const g = got[off + j]! * (spec.scale ?? 1);
        expect(
          Math.abs(g - Number(w)),
          `${name} ${c.opts.join(' ')} output ${k} bar ${off + j}: ${g} vs ${w}`,
        ).toBeLessThanOrEqual(tolerance(w));
        checked++;
      });
      expect(checked).toBeGreaterThan(1);
    });
  }
}

const p1 = (o: number[]) => ({ period: o[0]! });

describe('indicators against Achelis, Technical Analysis from A to Z (Tulip Indicators atoz.txt)', () => {
  const cases: [string, Spec][] = [
    ['willr', { type: 'indicator.willr', params: p1, inputs: 3 }],
    ['mfi', { type: 'indicator.mfi', params: p1, inputs: 4 }],
    ['cmo', { type: 'indicator.cmo', params: p1, inputs: 1 }],
    // the file lists Aroon down, then up
    ['aroon', { type: 'indicator.aroon', params: p1, inputs: 2, outputs: [1, 0] }],
    ['ultosc', { type: 'indicator.ultosc', params: (o) => ({ short: o[0]!, medium: o[1]!, long: o[2]! }), inputs: 3 }],
    ['dema', { type: 'indicator.dema', params: p1, inputs: 1 }],
    ['tema', { type: 'indicator.tema', params: p1, inputs: 1 }],
    ['trix', { type: 'indicator.trix', params: p1, inputs: 1 }],
    ['psar', { type: 'indicator.psar', params: (o) => ({ acceleration: o[0]!, maximum: o[1]! }), inputs: 2 }],
    ['ad', { type: 'indicator.ad', params: () => ({}), inputs: 4 }],
    ['adosc', { type: 'indicator.adosc', params: (o) => ({ fast: o[0]!, slow: o[1]! }), inputs: 4 }],
    ['trima', { type: 'indicator.trima', params: p1, inputs: 1 }],
    ['qstick', { type: 'indicator.qstick', params: p1, inputs: 2 }],
    ['vhf', { type: 'indicator.vhf', params: p1, inputs: 1 }],
  ];
  for (const [name, spec] of cases) it(`${name} (${spec.type})`, () => check(atoz, name, spec));
});

describe("indicators against Tulip Indicators' outputs (untest.txt)", () => {
  const cases: [string, Spec][] = [
    ['willr', { type: 'indicator.willr', params: p1, inputs: 3 }],
    ['mfi', { type: 'indicator.mfi', params: p1, inputs: 4 }],
    ['cmo', { type: 'indicator.cmo', params: p1, inputs: 1 }],
    ['mom', { type: 'indicator.mom', params: p1, inputs: 1 }],
    ['aroon', { type: 'indicator.aroon', params: p1, inputs: 2, outputs: [1, 0] }],
    ['aroonosc', { type: 'indicator.aroon', params: p1, inputs: 2, outputs: [2] }],
    ['ultosc', { type: 'indicator.ultosc', params: (o) => ({ short: o[0]!, medium: o[1]!, long: o[2]! }), inputs: 3 }],
    // Tulip's is one bar of stochastic over the RSI, 0..1: ours with no smoothing, scaled
    [
      'stochrsi',
      {
        type: 'indicator.stochrsi',
        params: (o) => ({ rsiPeriod: o[0]!, stochPeriod: o[0]!, kSmoothing: 1, dPeriod: 1 }),
        inputs: 1,
        scale: 0.01,
      },
    ],
    ['dema', { type: 'indicator.dema', params: p1, inputs: 1 }],
    ['tema', { type: 'indicator.tema', params: p1, inputs: 1 }],
    // Tulip also prints the seed (the value itself) on the bar before TA-Lib's first KAMA
    ['kama', { type: 'indicator.kama', params: p1, inputs: 1, skip: 1 }],
    ['hma', { type: 'indicator.hma', params: p1, inputs: 1 }],
    ['vwma', { type: 'indicator.vwma', params: p1, inputs: 2 }],
    ['psar', { type: 'indicator.psar', params: (o) => ({ acceleration: o[0]!, maximum: o[1]! }), inputs: 2 }],
    ['ad', { type: 'indicator.ad', params: () => ({}), inputs: 4 }],
    ['adosc', { type: 'indicator.adosc', params: (o) => ({ fast: o[0]!, slow: o[1]! }), inputs: 4 }],
    // one node, four of Tulip's (and TA-Lib's) outputs
    ['linreg', { type: 'indicator.linreg', params: p1, inputs: 1, outputs: [0] }],
    ['linregslope', { type: 'indicator.linreg', params: p1, inputs: 1, outputs: [1] }],
    ['linregintercept', { type: 'indicator.linreg', params: p1, inputs: 1, outputs: [2] }],
    ['tsf', { type: 'indicator.linreg', params: p1, inputs: 1, outputs: [3] }],
    ['trima', { type: 'indicator.trima', params: p1, inputs: 1 }],
    ['bop', { type: 'indicator.bop', params: () => ({}), inputs: 4 }],
    ['qstick', { type: 'indicator.qstick', params: p1, inputs: 2 }],
    ['vhf', { type: 'indicator.vhf', params: p1, inputs: 1 }],
  ];
  for (const [name, spec] of cases) it(`${name} (${spec.type})`, () => check(tulip, name, spec));

  it("TRIX follows Achelis, not Tulip's denominator (Tulip divides the change by the new value)", () => {
    const c = tulip.trix![0]!;
    const x = c.arrays[0]!.map(Number);
    const [ours] = evaluateNode('indicator.trix', { period: c.opts[0]! }, [x]);
    const want = c.arrays[1]!.map(Number);
    const off = x.length - want.length;
    // Tulip's t = 100 (e - e') / e and ours r = 100 (e - e') / e' give r = t / (1 - t/100)
    want.forEach((t, j) => expect(Math.abs(ours![off + j]! - t / (1 - t / 100))).toBeLessThan(0.002));
  });
});

const bars = (() => {
  const [head, ...rows] = readFileSync(new URL('talib-regtest-252bars.csv', dir), 'utf8').trim().split(/\r?\n/);
  const cols = head!.split(',');
  return Object.fromEntries(cols.map((c, k) => [c, rows.map((r) => Number(r.split(',')[k]))])) as Record<
    'open' | 'high' | 'low' | 'close' | 'volume',
    number[]
  >;
})();
const seriesFor = (name: string) =>
  name === 'high' ? bars.high : name === 'low' ? bars.low : name === 'volume' ? bars.volume : bars.close;

describe('every indicator node type', () => {
  const indicators = [...registry.values()].filter((t) => t.category === 'indicator');

  it('gives the same values in blocks of any size as over the whole series at once (live ticks = backtest)', () => {
    for (const t of indicators) {
      const params = Object.fromEntries(t.params.map((p) => [p.name, p.default]));
      const inputs = t.inputs.map((p) => seriesFor(p.name));
      const whole = evaluateNode(t.type, params, inputs);
      const nIn = t.inputs.length;
      const io = {
        inputs: t.inputs.map((_, k) => BAR_SLOT_COUNT + k),
        outputs: t.outputs.map((_, k) => BAR_SLOT_COUNT + nIn + k),
      };
      const step = stepOf(t, params, io)!;
      const len = bars.close.length;
      const cols = Array.from({ length: BAR_SLOT_COUNT + nIn + t.outputs.length }, () => new Float64Array(1));
      const got = t.outputs.map(() => new Float64Array(len));
      // blocks of 1, 2, 3, 5, 8 ... bars, as a live session (one tick) and a backtest (256) feed them
      for (let start = 0, size = 1, prev = 1; start < len; [size, prev] = [size + prev, size]) {
        const n = Math.min(size, len - start);
        for (let k = 0; k < cols.length; k++) cols[k] = new Float64Array(n).fill(NaN);
        inputs.forEach((s, k) => cols[io.inputs[k]!]!.set(s.slice(start, start + n)));
        step(cols, n);
        io.outputs.forEach((slot, k) => got[k]!.set(cols[slot]!, start));
        start += n;
      }
      whole.forEach((w, k) =>
        expect(Array.from(got[k]!), `${t.type} output ${t.outputs[k]!.name}`).toEqual(Array.from(w)),
      );
    }
  });

  it('declares the warm-up it has: every output is defined from bar `warmup` on (what walk-forward and sessions rely on)', () => {
    for (const t of indicators) {
      const params = Object.fromEntries(t.params.map((p) => [p.name, p.default]));
      const outs = evaluateNode(
        t.type,
        params,
        t.inputs.map((p) => seriesFor(p.name)),
      );
      const first = Math.max(...outs.map((o) => o.findIndex((x) => !Number.isNaN(x))));
      expect(first, t.type).toBe(t.warmup(params));
    }
  });
});
