import { describe, expect, it } from 'vitest';
import { normalCdf, normalQuantile } from './normal.ts';
import {
  bestDeflated,
  deflatedSharpe,
  expectedMaxSharpe,
  momentsOf,
  pboCscv,
  pboCscvAsync,
  probabilisticSharpe,
  returnsOf,
  sharpeOf,
} from './overfitting.ts';
import { gaussian, seededRandom } from './random.ts';

/** n returns of mean mu and standard deviation 1 %, seeded */
const series = (rand: () => number, n: number, mu = 0) =>
  Float64Array.from({ length: n }, () => mu + 0.01 * gaussian(rand));

describe('the normal distribution', () => {
  it('matches reference values of its CDF (to 1e-14, relative) and inverts it', () => {
    // R: pnorm(x)
    const ref: [number, number][] = [
      [1.96, 0.9750021048517795],
      [-1, 0.15865525393145707],
      [3, 0.9986501019683699],
      [-5, 2.866515718791939e-7],
      [0.3, 0.6179114221889527],
      [-8, 6.22096057427178e-16],
      [-2.5, 0.006209665325776132],
      [0, 0.5],
    ];
    for (const [x, p] of ref) expect(Math.abs(normalCdf(x) - p) / p, String(x)).toBeLessThan(1e-14);
    // R: qnorm(p)
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263478740408408, 13);
    for (const p of [1e-12, 0.001, 0.2, 0.5, 0.77, 0.999999]) expect(normalCdf(normalQuantile(p))).toBeCloseTo(p, 15);
    expect([normalQuantile(0), normalQuantile(1), normalQuantile(2)]).toEqual([-Infinity, Infinity, NaN]);
  });
});

describe('the Probabilistic and Deflated Sharpe Ratios', () => {
  it('PSR is Φ(SR √(n − 1) / √(1 − skew SR + (kurt − 1)/4 SR²))', () => {
    const sr = 0.1;
    expect(probabilisticSharpe(sr, { n: 253, skew: 0, kurt: 3 })).toBeCloseTo(
      normalCdf((0.1 * Math.sqrt(252)) / Math.sqrt(1 + 0.5 * 0.01)),
      15,
    );
    // a negative skew and fat tails make the same Sharpe ratio less sure
    expect(probabilisticSharpe(sr, { n: 253, skew: -2, kurt: 10 })).toBeLessThan(
      probabilisticSharpe(sr, { n: 253, skew: 0, kurt: 3 }),
    );
  });

  it("expects the best of N skill-less trials at about a Monte Carlo's mean maximum", () => {
    const rand = seededRandom(5);
    for (const n of [10, 100, 1000]) {
      let mean = 0;
      for (let rep = 0; rep < 2000; rep++) {
        let max = -Infinity;
        for (let k = 0; k < n; k++) max = Math.max(max, 0.5 * gaussian(rand));
        mean += max / 2000;
      }
      // the theorem's approximation is within a few % of the simulated expectation
      expect(expectedMaxSharpe(0.25, n) / mean, String(n)).toBeGreaterThan(0.97);
      expect(expectedMaxSharpe(0.25, n) / mean, String(n)).toBeLessThan(1.05);
    }
  });

  it('deflates the best of many noise strategies, which the plain PSR calls significant', () => {
    let psrHits = 0;
    let dsrHits = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rand = seededRandom(seed);
      const trials = Array.from({ length: 30 }, () => series(rand, 500));
      const sharpes = trials.map((r) => sharpeOf(momentsOf(r)));
      const best = trials[sharpes.indexOf(Math.max(...sharpes))]!;
      const d = deflatedSharpe(best, sharpes);
      if (d.psr > 0.95) psrHits++;
      if (d.dsr > 0.95) dsrHits++;
    }
    expect(psrHits).toBeGreaterThan(20);
    expect(dsrHits).toBeLessThanOrEqual(4);
    // a strategy with a real edge among them keeps a high deflated ratio
    const rand = seededRandom(99);
    const trials = [...Array.from({ length: 29 }, () => series(rand, 500)), series(rand, 500, 0.002)];
    const d = deflatedSharpe(
      trials[29]!,
      trials.map((r) => sharpeOf(momentsOf(r))),
    );
    expect(d.dsr).toBeGreaterThan(0.95);
  });
  it('counts every trial of a correlated search: false discoveries stay near 5 %, whatever the correlation', () => {
    // a search's trials move together (nearby parameters trade alike). With r_k = √ρ f + √(1 − ρ) e_k the
    // best's expected lead is √((1 − ρ) σ²) E[max of N]: the variance of the trials' Sharpe ratios
    // shrinks by (1 − ρ) just as that lead does, so N stays every trial
    for (const rho of [0.5, 0.9, 0.99]) {
      let psrHits = 0;
      let dsrHits = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const rand = seededRandom(1000 * rho + seed);
        const f = series(rand, 500);
        const trials = Array.from({ length: 30 }, () => {
          const e = series(rand, 500);
          return e.map((x, i) => Math.sqrt(rho) * f[i]! + Math.sqrt(1 - rho) * x);
        });
        const d = bestDeflated(trials);
        if (d.psr > 0.95) psrHits++;
        if (d.dsr > 0.95) dsrHits++;
      }
      // 5 % of 200 is 10 (binomial sd 3.1); the plain PSR finds far more at the lower correlations
      expect(dsrHits, String(rho)).toBeLessThanOrEqual(18);
      expect(psrHits, String(rho)).toBeGreaterThan(dsrHits);
    }
  });
});

describe('the Probability of Backtest Overfitting (CSCV)', () => {
  it('is one half for noise on average, near 0 with one real edge among the trials', async () => {
    // one noise sweep's PBO swings widely (its splits share their blocks); over twelve it centres on 1/2
    let mean = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const rand = seededRandom(seed);
      mean += pboCscv(Array.from({ length: 30 }, () => series(rand, 480))).pbo / 12;
    }
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
    const rand = seededRandom(1);
    const noise = Array.from({ length: 60 }, () => series(rand, 800));
    const p = pboCscv(noise);
    expect(p.logits).toHaveLength(12_870); // C(16, 8) splits
    expect(p.blockBars).toBe(50);
    const edge = pboCscv([...noise.slice(1), series(rand, 800, 0.002)]);
    expect(edge.pbo).toBeLessThan(0.1);
    expect(edge.meanRank).toBeGreaterThan(0.9);
    // given the event loop turns, the same
    expect(await pboCscvAsync(noise)).toEqual(p);
    expect(pboCscv(noise, 4).logits).toHaveLength(6);
  });

  it('says what it needs', () => {
    const r = [new Float64Array(100), new Float64Array(100)];
    expect(() => pboCscv([r[0]!])).toThrow(/at least two trials/);
    expect(() => pboCscv(r, 5)).toThrow(/even number of blocks/);
    expect(() => pboCscv(r, 64)).toThrow(/at least 128 returns for 64 blocks/);
    const r2 = returnsOf([100, 110, 99, 0, 5]);
    expect(r2[0]).toBeCloseTo(0.1, 15);
    expect(r2[1]).toBeCloseTo(-0.1, 15);
    expect([r2[2], r2[3]]).toEqual([-1, 0]);
  });
});
