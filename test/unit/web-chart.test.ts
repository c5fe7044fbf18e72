import { describe, expect, it } from 'vitest';
import { compileGraph, runBacktest, templateById } from '@algotrade/strategy';
import { bandsAt, drawdownPct, extent, heatmap, lineChart, linePath, returnCurve, sweepGrid } from '../../web/chart.js';
import { backtestingPy, googBars } from '../helpers/goog.ts';

describe("the browser app's charts (web/chart.js)", () => {
  it("draws the drawdown whose deepest point is backtesting.py's max drawdown for SMA(10/30) on GOOG", () => {
    const bars = googBars();
    const res = runBacktest(compileGraph(templateById('sma-crossover')!.graph).plan!, bars, {
      cash: 10_000,
      allowShort: true,
      wholeUnits: true,
    });
    const expected = JSON.parse(backtestingPy('expected/smacross_10_30_stats.json')).stats[
      'Max. Drawdown [%]'
    ] as number;
    const dd = drawdownPct([...res.equity]);
    expect(Math.min(...dd)).toBeCloseTo(expected, 9);
    expect(Math.max(...dd)).toBe(0);
  });

  it('scales values into the box, top is the largest, and breaks the line where a value is missing', () => {
    expect(extent([3, null, 1, NaN, 2])).toEqual({ min: 1, max: 3 });
    expect(extent([5, 5])).toEqual({ min: 4, max: 6 }); // a flat line is drawn mid-box, not divided by zero
    expect(extent([null, NaN])).toBeNull();
    const d = linePath([1, 3, null, 2, 1], { min: 1, max: 3 }, 400, 100);
    expect(d).toBe('M0.0,100.0L100.0,0.0M300.0,50.0L400.0,100.0');
  });

  it('places bands on the points by time: from the first at or after a span, to the first at or after its end', () => {
    const times = [10, 20, 30, 40, 50];
    expect(
      bandsAt(times, [
        { from: 20, until: 35, label: 'a' }, // on a point, ending between two
        { from: 5, until: 10, label: 'b' }, // before the first point
        { from: 41, until: Infinity, label: 'c' }, // to the end
        { from: 51, until: 60, label: 'd' }, // after the last point: none
      ]),
    ).toEqual([
      { from: 1, to: 3, label: 'a' },
      { from: 0, to: 0, label: 'b' },
      { from: 4, to: 4, label: 'c' },
    ]);
    const svg = lineChart({
      series: [{ values: [1, 2, 3, 4, 5], color: '#000', label: 'x' }],
      bands: [
        { from: 1, to: 3, label: '<b>paused</b>' },
        { from: 4, to: 4, label: 'stopped' },
      ],
      width: 416, // a plot 340 wide: 85 a point
    });
    const rects = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="0" width="([\d.]+)" [^>]*class="chart-band"><title>([^<]*)</g),
    ];
    expect(rects.map((m) => [Number(m[1]), Number(m[2]), m[3]])).toEqual([
      [85, 170, '&#60;b&#62;paused&#60;/b&#62;'],
      [338, 2, 'stopped'], // one point, the last: 2 wide so it shows, inside the plot
    ]);
    // behind the line
    expect(svg.indexOf('chart-band')).toBeLessThan(svg.indexOf('<path'));
  });

  it('escapes what it writes, so a symbol or label cannot inject markup', () => {
    const svg = lineChart({
      title: '<script>alert(1)</script>',
      series: [{ values: [1, 2, 3], color: '"/><script>', label: '<b>x</b>' }],
      markers: [{ index: 1, side: 'buy' }],
      times: ['<i>', 'end'],
    });
    expect(svg).not.toMatch(/<script|<b>|<i>/);
    expect(svg).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(svg).toContain('class="mark-buy"');
    expect(lineChart({ series: [{ values: [], color: '#000', label: 'x' }] })).toContain('no data yet');
  });
});

describe('return curves for comparing runs', () => {
  it('are % on the first value, at evenly spaced places with the ends kept', () => {
    expect(returnCurve([100, 110, 90, 120])).toEqual([0, 10.000000000000009, -9.999999999999998, 19.999999999999996]);
    expect(returnCurve([100, 110, 90, 120], 2)).toEqual([0, 19.999999999999996]);
    const long = Array.from({ length: 1001 }, (_, i) => 100 + i);
    const c = returnCurve(long, 11);
    expect(c).toHaveLength(11);
    expect(c[5]).toBeCloseTo(500, 9); // the middle point, bar 500
    expect(c[10]).toBeCloseTo(1000, 9);
  });
  it('are empty without a first value to measure from', () => {
    expect(returnCurve([])).toEqual([]);
    expect(returnCurve([0, 5])).toEqual([]);
  });
});

describe('sweep heatmaps', () => {
  it("lays a sweep's ranking out as a grid of its two busiest parameters, the best over the rest", () => {
    const ranked = [
      { combo: { 'f.period': 5, 's.period': 30, 'b.amount': 50 }, sharpe: 0.4 },
      { combo: { 'f.period': 5, 's.period': 30, 'b.amount': 100 }, sharpe: 0.9 },
      { combo: { 'f.period': 10, 's.period': 30, 'b.amount': 50 }, sharpe: -0.2 },
      { combo: { 'f.period': 20, 's.period': 30, 'b.amount': 50 }, sharpe: null },
      { combo: { 'f.period': 5, 's.period': 60, 'b.amount': 50 }, sharpe: 1.5 },
      { combo: { 'f.period': 20, 's.period': 60, 'b.amount': 100 }, sharpe: 0.1 },
    ];
    expect(sweepGrid(ranked, 'sharpe')).toEqual({
      x: 'f.period',
      y: 's.period',
      xs: [5, 10, 20],
      ys: [30, 60],
      cells: [
        [0.9, -0.2, null], // 5 / 30: the better of the two amounts; 20 / 30: no Sharpe
        [1.5, null, 0.1], // 10 / 60: not run
      ],
      others: ['b.amount'],
    });
    // one parameter: one row
    expect(
      sweepGrid(
        [
          { combo: { 'a.b': 2 }, x: 1 },
          { combo: { 'a.b': 1 }, x: 3 },
        ],
        'x',
      ),
    ).toMatchObject({
      x: 'a.b',
      y: null,
      xs: [1, 2],
      cells: [[3, 1]],
    });
  });

  it('colours a heatmap from red (lowest) to green (highest), grey where there is no value, each cell titled', () => {
    const svg = heatmap({
      xs: [5, 10],
      ys: [30, 60],
      cells: [
        [1, 3],
        [null, 2],
      ],
      xLabel: 'fast<x>',
      yLabel: 'slow',
      title: 'sharpe',
    });
    const cells = [...svg.matchAll(/<rect [^>]*fill="([^"]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => [m[2], m[1]]);
    expect(cells).toEqual([
      ['fast&#60;x&#62;=5, slow=30: 1', 'rgb(215,48,39)'],
      ['fast&#60;x&#62;=10, slow=30: 3', 'rgb(26,152,80)'],
      ['fast&#60;x&#62;=5, slow=60: no value', '#e5e7eb'],
      ['fast&#60;x&#62;=10, slow=60: 2', 'rgb(255,255,191)'],
    ]);
    expect(svg).not.toContain('<x>');
  });
});
