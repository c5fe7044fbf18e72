import type { Candle } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { firstTradingBar, runBacktest } from './backtest.ts';
import { compileGraph } from './compiler.ts';
import type { Graph } from './graph.ts';
import { freqtradeMinutes } from '../../../test/helpers/freqtrade.ts';
import { aboveSmaOf, graphOf } from '../../../test/helpers/graphs.ts';
import { barSecondsOf, type CompiledPlan } from './plan.ts';
import { previewPlan } from './preview.ts';
import { registry } from './registry.ts';
import { generateCandles, toColumns } from './sample-data.ts';
import { templateById } from './templates.ts';

// real one-minute candles, with gaps of up to 8 minutes (freqtrade's test data; test/fixtures/SOURCES.md)
const minutes: Candle[] = freqtradeMinutes();

/** close > SMA(3) of hourly closes: buy; below: sell. */
const hourlySma = (timeframe = '1h', period = 3): Graph => aboveSmaOf('htf', ['timeframe.bar', { timeframe }], period);

const planOf = (g: Graph): CompiledPlan => {
  const r = compileGraph(g);
  expect(r.report.errors).toEqual([]);
  return r.plan!;
};

/**
 * The definition, computed the slow way for one strategy bar: the higher bars completed by the close of
 * bar j (every bar of their bucket seen, and either bar j closes the bucket or bar j is in a later one),
 * each the open of its first bar, highest high, lowest low, close of its last bar and summed volume.
 */
function completedAt(c: readonly Candle[], j: number, seconds: number, barSeconds: number, offset = 0) {
  const bucketOf = (ts: number) => Math.floor((ts / 1000 - offset) / seconds);
  const now = bucketOf(c[j]!.ts);
  const closesNow = c[j]!.ts / 1000 + barSeconds >= (now + 1) * seconds + offset;
  const out: Candle[] = [];
  for (let i = 0; i <= j; i++) {
    const b = bucketOf(c[i]!.ts);
    if (b === now && !closesNow) break;
    const last = out.at(-1);
    if (last && bucketOf(last.ts) === b) {
      last.high = Math.max(last.high, c[i]!.high);
      last.low = Math.min(last.low, c[i]!.low);
      last.close = c[i]!.close;
      last.volume += c[i]!.volume;
    } else out.push({ ...c[i]!, ts: (b * seconds + offset) * 1000 });
  }
  return out;
}

describe('higher timeframes', () => {
  it('gives each minute the last completed hour and its SMA(3), as the slow definition does, on real data with gaps', () => {
    const plan = planOf(hourlySma());
    const p = previewPlan(plan, minutes);
    let defined = 0;
    for (let j = 0; j < minutes.length; j++) {
      const hours = completedAt(minutes, j, 3600, 60);
      const last = hours.at(-1);
      for (const f of ['open', 'high', 'low', 'close', 'volume'] as const)
        if (last) expect(p.series.htf![f]![j], `${f} at ${j}`).toBeCloseTo(last[f], 10);
        else expect(p.series.htf![f]![j]).toBeNull();
      const sma = hours.length >= 3 ? hours.slice(-3).reduce((a, h) => a + h.close, 0) / 3 : null;
      if (sma === null) expect(p.series.sma!.value![j]).toBeNull();
      else {
        expect(p.series.sma!.value![j], `sma at ${j}`).toBeCloseTo(sma, 12);
        defined++;
      }
    }
    expect(defined).toBeGreaterThan(1500);
    // the data has gaps: some hours complete with the first bar of the next hour, not with their last minute
    const lateHours = minutes.filter(
      (m, j) => j > 0 && m.ts % 3_600_000 === 0 && minutes[j - 1]!.ts % 3_600_000 !== 3_540_000,
    );
    expect(lateHours.length).toBeGreaterThan(0);
  });

  it('never looks ahead: every value on a bar is the same when the data ends at that bar', () => {
    const plan = planOf(templateById('daily-trend-filter')!.graph);
    const candles = generateCandles(4 * 1440, 5, Date.UTC(2024, 0, 1), 15 * 60_000); // 60 days of 15 minutes
    const full = previewPlan(plan, candles);
    for (const end of [95, 96, 97, 2000, 3 * 1440 + 17, candles.length - 1]) {
      const cut = previewPlan(plan, candles.slice(0, end + 1));
      for (const id of Object.keys(cut.series))
        for (const [port, values] of Object.entries(cut.series[id]!))
          expect(values, `${id}.${port} up to ${end}`).toEqual(full.series[id]![port]!.slice(0, end + 1));
      expect(cut.signals).toEqual(full.signals.filter((s) => s.index <= end));
    }
  });

  it('gives the same values one bar at a time (a live session) as in blocks of any size (a backtest)', () => {
    // three timeframes; constants read on the hourly and weekly bars; a comparison across two timeframes
    const g = graphOf(
      [
        ['close', 'price.close', {}],
        ['h', 'timeframe.bar', { timeframe: '1h' }],
        ['d', 'timeframe.bar', { timeframe: '1d' }],
        ['w', 'timeframe.bar', { timeframe: '1w' }],
        ['k', 'constant', { value: 1 }],
        ['three', 'constant', { value: 3 }],
        ['hx', 'math.multiply', {}],
        ['hema', 'indicator.ema', { period: 5 }],
        ['dsma', 'indicator.sma', { period: 3 }],
        ['wrange', 'math.subtract', {}],
        ['trend', 'logic.greater', {}],
        ['wide', 'logic.greater', {}],
        ['entry', 'logic.and', {}],
        ['dip', 'logic.less', {}],
        ['buy', 'action.buy', {}],
        ['sell', 'action.sell', {}],
      ],
      [
        ['h', 'close', 'hx', 'a'],
        ['k', 'value', 'hx', 'b'],
        ['hx', 'value', 'hema', 'value'],
        ['d', 'high', 'dsma', 'value'],
        ['w', 'high', 'wrange', 'a'],
        ['w', 'low', 'wrange', 'b'],
        ['hema', 'value', 'trend', 'a'],
        ['dsma', 'value', 'trend', 'b'],
        ['wrange', 'value', 'wide', 'a'],
        ['three', 'value', 'wide', 'b'],
        ['trend', 'value', 'entry', 'a'],
        ['wide', 'value', 'entry', 'b'],
        ['close', 'value', 'dip', 'a'],
        ['hema', 'value', 'dip', 'b'],
        ['entry', 'value', 'buy', 'trigger'],
        ['dip', 'value', 'sell', 'trigger'],
      ],
    );
    const plan = planOf(g);
    expect(plan.timeframes.map((t) => [t.seconds, t.nodes.map((n) => n.id)])).toEqual([
      [3600, ['h', 'k', 'hx', 'hema']],
      [86_400, ['d', 'dsma']],
      [604_800, ['w', 'three', 'wrange', 'wide']],
    ]);
    expect(plan.nodes.find((n) => n.id === 'trend')!.timeframe).toBe(0); // hourly against daily: on the strategy's bars
    const candles = generateCandles(3000, 9, Date.UTC(2024, 0, 3, 7), 17 * 60_000); // 17 minutes from a Wednesday
    const bars = toColumns(candles);
    const slots = plan.nodes.flatMap((n) => n.outputs);
    const blocks = (size: number) => {
      const inst = plan.instantiate(size, 17 * 60);
      const values: number[][] = [];
      const signals = new Int32Array(bars.length);
      inst.run(bars, signals, 0, bars.length, (_s, n) => {
        for (let j = 0; j < n; j++) values.push(slots.map((s) => inst.cols[s]![j]!));
      });
      return { values, signals: [...signals] };
    };
    const one = plan.instantiate(1, 17 * 60);
    const live = { values: [] as number[][], signals: [] as number[] };
    for (const c of candles) {
      live.signals.push(one.step(c.open, c.high, c.low, c.close, c.volume, c.ts / 1000));
      live.values.push(slots.map((s) => one.value(s)));
    }
    for (const size of [1, 7, 64, 256]) expect(blocks(size)).toEqual(live);
    expect(live.values.filter((v) => v.every(Number.isFinite)).length).toBeGreaterThan(1000);
    expect(new Set(live.signals)).toEqual(new Set([-1, 0, 1]));
  });

  it('starts weeks on Monday and days at midnight UTC, whatever day the data starts', () => {
    const days = generateCandles(40, 2, Date.UTC(2024, 0, 3), 86_400_000); // daily bars from Wednesday 3 January
    const p = previewPlan(planOf(hourlySma('1w', 1)), days);
    for (let j = 0; j < days.length; j++) {
      const weeks = completedAt(days, j, 604_800, 86_400, 4 * 86_400);
      expect(p.series.htf!.open![j]).toBe(weeks.at(-1)?.open ?? null);
      expect(p.series.htf!.close![j]).toBe(weeks.at(-1)?.close ?? null);
    }
    // the first week is Wednesday to Sunday (5 days); it completes with Sunday's bar (7 January, index 4)
    expect(p.series.htf!.close!.findIndex((x) => x !== null)).toBe(4);
    expect(p.series.htf!.open![4]).toBe(days[0]!.open);
    expect(p.series.htf!.close![4]).toBe(days[4]!.close);
    expect(p.series.htf!.open![5]).toBe(days[0]!.open); // Monday still sees the week before
    expect(p.series.htf!.open![11]).toBe(days[5]!.open); // the next Sunday: Monday 8 January's open
  });

  it('without the bar interval (live ticks), completes a bucket with the first bar of a later one', () => {
    const plan = planOf(hourlySma('1h', 1));
    const candles = generateCandles(180, 4, Date.UTC(2024, 0, 1), 60_000);
    const ticks = plan.instantiate(1, 0);
    const closes: number[] = [];
    for (const c of candles) {
      ticks.step(c.open, c.high, c.low, c.close, c.volume, c.ts / 1000);
      closes.push(ticks.value(plan.nodes.find((n) => n.id === 'sma')!.outputs[0]!));
    }
    expect(closes.slice(0, 60).every(Number.isNaN)).toBe(true);
    expect(closes[60]).toBe(candles[59]!.close); // at 01:00, the hour 00:00-01:00 just completed
    expect(closes[119]).toBe(candles[59]!.close);
    expect(closes[120]).toBe(candles[119]!.close);
  });

  it('reports the warm-up in seconds, and backtests count it in bars of their own interval', () => {
    const r = compileGraph(templateById('daily-trend-filter')!.graph).report;
    expect(r).toMatchObject({ ok: true, warmup: 26, warmupSeconds: 20 * 86_400 }); // SMA(20) of days: 20 of them
    const plan = compileGraph(templateById('daily-trend-filter')!.graph).plan!;
    const candles = generateCandles(40 * 24, 3, Date.UTC(2024, 0, 1), 3_600_000); // hourly, 40 days
    const bars = toColumns(candles);
    expect(barSecondsOf(bars.ts)).toBe(3600);
    // at most the strategy's own warm-up (EMA(26): 25 bars) and the days' (480 hours) one after the other
    const first = firstTradingBar(plan, 3600);
    expect(firstTradingBar(plan)).toBe(25);
    expect(first).toBe(25 + 20 * 24);
    const p = previewPlan(plan, candles);
    // the 20th day completes with its last hour, bar 20 × 24 - 1
    expect(p.series['daily-sma']!.value!.findIndex((x) => x !== null)).toBe(20 * 24 - 1);
    expect(p.signals.every((s) => s.action !== 'buy' || s.index >= 20 * 24 - 1)).toBe(true);
    // and a backtest's statistics start there (buy and hold from the first bar that can trade)
    const bt = runBacktest(plan, bars, { cash: 10_000 });
    expect(bt.stats.buyAndHoldReturnPct).toBeCloseTo((candles.at(-1)!.close / candles[first]!.close - 1) * 100, 6);
  });

  it('is in the palette, and a timeframe the list does not have is a clear error', () => {
    const t = registry.get('timeframe.bar')!;
    expect(t.params[0]).toMatchObject({ name: 'timeframe', type: 'enum' });
    const g = hourlySma();
    g.nodes.find((n) => n.id === 'htf')!.data = { timeframe: '3h' };
    const r = compileGraph(g).report;
    expect(r.errors).toEqual([
      expect.objectContaining({
        nodeId: 'htf',
        code: 'INVALID_PARAM',
        message: expect.stringContaining('timeframe must be one of 5m, 15m'),
      }),
    ]);
  });
});
