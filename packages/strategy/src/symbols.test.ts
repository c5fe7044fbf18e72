import type { BarColumns, Candle } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import { googBars } from '../../../test/helpers/goog.ts';
import { freqtradeMinutes } from '../../../test/helpers/freqtrade.ts';
import { aboveBelow, graphOf, viaOtherSymbol } from '../../../test/helpers/graphs.ts';
import { alignBars, type CompiledPlan } from './plan.ts';
import { previewPlan } from './preview.ts';
import { toColumns } from './sample-data.ts';
import { templateById } from './templates.ts';
import { viewBars } from './walk-forward.ts';

// real one-minute candles, with gaps of up to 8 minutes (freqtrade's test data; test/fixtures/SOURCES.md)
const minutes: Candle[] = freqtradeMinutes();
/** A second symbol on the same clock: the same market a little later, with gaps of its own (every 7th bar missing). */
const other: Candle[] = minutes
  .slice(15)
  .filter((_c, i) => i % 7 !== 3)
  .map((c) => ({ ...c, open: c.open * 2, high: c.high * 2, low: c.low * 2, close: c.close * 2.01 }));

const planOf = (g: ReturnType<typeof graphOf>): CompiledPlan => {
  const r = compileGraph(g);
  expect(r.report.errors).toEqual([]);
  return r.plan!;
};

/** The ratio of the strategy's close to another symbol's (a pair's spread), and a buy/sell on it. */
const ratio = (symbol = 'ETHUSD', level = 0.5) =>
  aboveBelow(
    [
      ['close', 'price.close'],
      ['eth', 'symbol.bar', { symbol }],
      ['ratio', 'math.divide'],
      ['level', 'constant', { value: level }],
    ],
    [
      ['close', 'value', 'ratio', 'a'],
      ['eth', 'close', 'ratio', 'b'],
    ],
    ['ratio', 'value'],
    ['level', 'value'],
  );

/** The definition the slow way: the other symbol's last bar that opened at or before `ts`, or undefined. */
const lastAtOrBefore = (bars: readonly Candle[], ts: number) => bars.filter((b) => b.ts <= ts).at(-1);

describe('other symbols in a strategy', () => {
  it('aligns another series on the strategy bar times: the bar of the same time, else the last before, NaN before its first', () => {
    const cols = toColumns(minutes);
    const aligned = alignBars(cols.ts, toColumns(other));
    expect(aligned).toHaveLength(5);
    let carried = 0;
    minutes.forEach((m, i) => {
      const want = lastAtOrBefore(other, m.ts);
      const got = aligned.map((col) => col[i]!);
      if (!want) expect(got.every(Number.isNaN), `bar ${i}`).toBe(true);
      else {
        expect(got, `bar ${i}`).toEqual([want.open, want.high, want.low, want.close, want.volume]);
        if (want.ts < m.ts) carried++;
      }
    });
    expect(carried).toBeGreaterThan(100); // the gaps were exercised
  });

  it('compiles the symbol into the plan (upper-case, sorted, once each) and refuses a malformed one on its node', () => {
    const two = graphOf(
      [
        ['a', 'symbol.bar', { symbol: 'solusd' }],
        ['b', 'symbol.bar', { symbol: 'ETHUSD' }],
        ['c', 'symbol.bar', { symbol: 'SOLUSD' }],
        ['gt', 'logic.greater'],
        ['lt', 'logic.less'],
        ['both', 'logic.and'],
        ['buy', 'action.buy'],
      ],
      [
        ['a', 'close', 'gt', 'a'],
        ['b', 'close', 'gt', 'b'],
        ['c', 'open', 'lt', 'a'],
        ['b', 'open', 'lt', 'b'],
        ['gt', 'value', 'both', 'a'],
        ['lt', 'value', 'both', 'b'],
        ['both', 'value', 'buy', 'trigger'],
      ],
    );
    const plan = planOf(two);
    expect(plan.symbols).toEqual(['ETHUSD', 'SOLUSD']);
    expect(plan.symbolSources.map((s) => s.symbol)).toEqual([1, 0, 1]);
    const bad = compileGraph(ratio('ETH USD'));
    expect(bad.report.ok).toBe(false);
    expect(bad.report.errors[0]).toMatchObject({ nodeId: 'eth', code: 'INVALID_PARAM' });
    expect(bad.report.errors[0]!.message).toContain('symbol');
    // without the other symbol's bars a run says what is missing
    expect(() => runBacktest(planOf(ratio()), toColumns(minutes), { cash: 1000 })).toThrow(/ETHUSD/);
  });

  it("reads the other symbol's value on every bar; bar by bar (a session) equals blocks of any size (a backtest)", () => {
    const plan = planOf(ratio());
    const bars: BarColumns = toColumns(minutes);
    bars.others = alignBars(bars.ts, toColumns(other));
    const slot = plan.nodes.find((n) => n.id === 'ratio')!.outputs[0]!;
    const valuesIn = (blockSize: number) => {
      const inst = plan.instantiate(blockSize);
      const out: number[] = [];
      inst.run(bars, new Int32Array(bars.length), 0, bars.length, (_s, n) => {
        for (let j = 0; j < n; j++) out.push(inst.cols[slot]![j]!);
      });
      return out;
    };
    const blocks = valuesIn(256);
    minutes.forEach((m, i) => {
      const o = lastAtOrBefore(other, m.ts);
      if (!o) expect(blocks[i], `bar ${i}`).toBeNaN();
      else expect(blocks[i], `bar ${i}`).toBe(m.close / o.close);
    });
    for (const size of [1, 7, 64]) expect(valuesIn(size)).toEqual(blocks);
    const one = plan.instantiate(1);
    const stepped = minutes.map((m, i) => {
      one.step(
        m.open,
        m.high,
        m.low,
        m.close,
        m.volume,
        m.ts / 1000,
        bars.others!.map((c) => c[i]!),
      );
      return one.value(slot);
    });
    expect(stepped).toEqual(blocks);
    // a window of the series (walk-forward folds) sees the same values
    const inst = plan.instantiate();
    const part: number[] = [];
    inst.run(viewBars(bars, 500, 900), new Int32Array(400), 0, 400, (_s, n) => {
      for (let j = 0; j < n; j++) part.push(inst.cols[slot]![j]!);
    });
    expect(part).toEqual(blocks.slice(500, 900));
    // the preview shows it too
    const preview = previewPlan(plan, minutes, bars.others);
    expect(preview.series.ratio!.value!.slice(100, 110)).toEqual(blocks.slice(100, 110));
    expect(preview.signals.length).toBeGreaterThan(0);
  });

  it('a strategy filtering on another symbol equals the same strategy on that symbol itself, trade for trade (GOOG)', () => {
    // the SMA(10/30) crossover, its SMAs read from "another symbol" that is GOOG's own bars
    const base = templateById('sma-crossover')!.graph;
    const viaOther = viaOtherSymbol(base, 'GOOG');
    const goog = googBars();
    const withOther: BarColumns = { ...goog, others: alignBars(goog.ts, goog) };
    const options = { cash: 10_000, allowShort: true, wholeUnits: true };
    const plain = runBacktest(planOf(base as ReturnType<typeof graphOf>), goog, options);
    const other = runBacktest(planOf(viaOther as ReturnType<typeof graphOf>), withOther, options);
    expect(plain.trades.length).toBeGreaterThan(50);
    expect(other.trades).toEqual(plain.trades);
    expect(other.stats).toEqual(plain.stats);
  });
});
