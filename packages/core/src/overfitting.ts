import { normalCdf, normalQuantile } from './normal.ts';

/**
 * How much a parameter search's best result owes to the search: the Probabilistic and Deflated Sharpe
 * Ratios (Bailey and López de Prado, 2012 and 2014) and the Probability of Backtest Overfitting by
 * combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado and Zhu, 2015).
 * Everything here works on per-bar returns and per-bar (not annualised) Sharpe ratios.
 */

/** The Euler-Mascheroni constant. */
const GAMMA = 0.5772156649015329;

/** A return series' size, mean, standard deviation (n - 1), skewness and kurtosis (not excess: 3 for a normal). */
export interface Moments {
  n: number;
  mean: number;
  sd: number;
  skew: number;
  kurt: number;
}

export function momentsOf(r: ArrayLike<number>): Moments {
  const n = r.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += r[i]!;
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = r[i]! - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  const pop = m2 / n;
  return {
    n,
    mean,
    sd: n > 1 ? Math.sqrt(m2 / (n - 1)) : NaN,
    skew: pop > 0 ? m3 / n / pop ** 1.5 : 0,
    kurt: pop > 0 ? m4 / n / (pop * pop) : 3,
  };
}

/** The per-bar Sharpe ratio of a series: mean / standard deviation (0 for a series that never moves). */
export const sharpeOf = (m: Moments): number => (m.sd > 0 ? m.mean / m.sd : 0);

/**
 * The Probabilistic Sharpe Ratio: the probability that the true per-bar Sharpe ratio is above
 * `benchmark`, given `sr` measured over n returns of the given skewness and kurtosis:
 * Φ((sr − benchmark) √(n − 1) / √(1 − skew·sr + (kurt − 1)/4 · sr²)).
 */
export function probabilisticSharpe(sr: number, m: Pick<Moments, 'n' | 'skew' | 'kurt'>, benchmark = 0): number {
  const v = 1 - m.skew * sr + ((m.kurt - 1) / 4) * sr * sr;
  if (!(m.n > 1) || !(v > 0)) return NaN;
  return normalCdf(((sr - benchmark) * Math.sqrt(m.n - 1)) / Math.sqrt(v));
}

/**
 * The Sharpe ratio the best of `trials` strategies with no skill would show, given the variance of
 * their measured Sharpe ratios (the False Strategy Theorem):
 * √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))).
 */
export function expectedMaxSharpe(variance: number, trials: number): number {
  if (trials < 2 || !(variance >= 0)) return 0;
  return (
    Math.sqrt(variance) *
    ((1 - GAMMA) * normalQuantile(1 - 1 / trials) + GAMMA * normalQuantile(1 - 1 / (trials * Math.E)))
  );
}

export interface DeflatedSharpe {
  /** the best per-bar Sharpe ratio among the trials */
  sharpe: number;
  /** the probability that its true Sharpe ratio is above 0 */
  psr: number;
  /** what the best of as many skill-less trials would show (the benchmark the deflated ratio uses) */
  expectedMax: number;
  /** the probability that its true Sharpe ratio is above expectedMax: the Deflated Sharpe Ratio */
  dsr: number;
  trials: number;
}

/**
 * The Deflated Sharpe Ratio of the best of several trials: its PSR against the Sharpe ratio the best
 * of as many trials would show by luck (expectedMaxSharpe over the variance of every trial's Sharpe
 * ratio). `best` is the chosen trial's returns; `sharpes` every trial's per-bar Sharpe ratio.
 */
export function deflatedSharpe(best: ArrayLike<number>, sharpes: readonly number[]): DeflatedSharpe {
  const m = momentsOf(best);
  const sr = sharpeOf(m);
  const mean = sharpes.reduce((s, x) => s + x, 0) / sharpes.length;
  const variance = sharpes.length > 1 ? sharpes.reduce((s, x) => s + (x - mean) ** 2, 0) / (sharpes.length - 1) : 0;
  const expectedMax = expectedMaxSharpe(variance, sharpes.length);
  return {
    sharpe: sr,
    psr: probabilisticSharpe(sr, m),
    expectedMax,
    dsr: probabilisticSharpe(sr, m, expectedMax),
    trials: sharpes.length,
  };
}

/**
 * The trial with the highest per-bar Sharpe ratio (the one a search picks) and its Deflated Sharpe
 * Ratio among all of them: `at` is its index in `returns`.
 */
export function bestDeflated(returns: readonly ArrayLike<number>[]): DeflatedSharpe & { at: number } {
  const sharpes = returns.map((r) => sharpeOf(momentsOf(r)));
  const at = sharpes.indexOf(Math.max(...sharpes));
  return { ...deflatedSharpe(returns[at]!, sharpes), at };
}

export interface Pbo {
  /** the share of splits in which the best in sample ranks at or below the median out of sample */
  pbo: number;
  /** per split: logit of the in-sample best's relative rank out of sample (above 0: above the median) */
  logits: number[];
  blocks: number;
  /** returns per block (the first bars that do not fill a block are left out) */
  blockBars: number;
  /** the mean out-of-sample relative rank of the in-sample best (0.5 for luck, towards 1 for skill) */
  meanRank: number;
  /**
   * the slope of the in-sample best's out-of-sample Sharpe ratio on its in-sample one, across splits
   * (the paper's performance degradation: at or below 0, a better in-sample score promises nothing)
   */
  slope: number;
}

/**
 * The Probability of Backtest Overfitting by combinatorially symmetric cross-validation: the trials'
 * returns (one series each, on the same bars) are cut into `blocks` (even) equal blocks; for every way
 * of choosing half of them as in sample (the rest out of sample), the trial with the best Sharpe ratio
 * in sample is ranked among all out of sample. PBO is the share of those splits where it ranks in the
 * lower half (logit of its relative rank ω/(N + 1) at or below 0).
 */
export function pboCscv(returns: readonly ArrayLike<number>[], blocks = 16): Pbo {
  const steps = pboSteps(returns, blocks);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** pboCscv giving the event loop a turn every 20 ms (a server computing it for a request). */
export async function pboCscvAsync(returns: readonly ArrayLike<number>[], blocks = 16): Promise<Pbo> {
  const steps = pboSteps(returns, blocks);
  let since = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - since > 20) {
      await new Promise((res) => setImmediate(res));
      since = performance.now();
    }
  }
}

/** pboCscv's work, yielding after every 64 splits. */
function* pboSteps(returns: readonly ArrayLike<number>[], blocks: number): Generator<void, Pbo> {
  const n = returns.length;
  const t = Math.min(...returns.map((r) => r.length));
  if (n < 2) throw new RangeError('PBO needs at least two trials');
  if (blocks < 2 || blocks % 2) throw new RangeError('PBO needs an even number of blocks, at least 2');
  const size = Math.floor(t / blocks);
  if (size < 2) throw new RangeError(`PBO needs at least ${2 * blocks} returns for ${blocks} blocks (got ${t})`);
  const skip = t - size * blocks;
  // per trial and block: the sum and the sum of squares of its returns; and over all blocks
  const sum = new Float64Array(n * blocks);
  const sq = new Float64Array(n * blocks);
  const allSum = new Float64Array(n);
  const allSq = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const r = returns[k]!;
    const off = r.length - t + skip;
    for (let b = 0; b < blocks; b++) {
      let s = 0;
      let q = 0;
      for (let i = off + b * size; i < off + (b + 1) * size; i++) {
        s += r[i]!;
        q += r[i]! * r[i]!;
      }
      sum[k * blocks + b] = s;
      sq[k * blocks + b] = q;
      allSum[k]! += s;
      allSq[k]! += q;
    }
  }
  const half = blocks / 2;
  const m = half * size;
  const ratio = (s: number, q: number) => {
    const mean = s / m;
    const v = (q - m * mean * mean) / (m - 1);
    return v > 1e-30 ? mean / Math.sqrt(v) : 0;
  };
  const logits: number[] = [];
  const isBest: number[] = [];
  const oosOfBest: number[] = [];
  let rankSum = 0;
  const oos = new Float64Array(n);
  // every subset of half the blocks as in sample, in lexicographic order (the rest out of sample)
  const pick = Array.from({ length: half }, (_, i) => i);
  for (let split = 0; ; split++) {
    let best = 0;
    let bestIs = -Infinity;
    for (let k = 0; k < n; k++) {
      let s = 0;
      let q = 0;
      for (const b of pick) {
        s += sum[k * blocks + b]!;
        q += sq[k * blocks + b]!;
      }
      const is = ratio(s, q);
      if (is > bestIs) [best, bestIs] = [k, is];
      oos[k] = ratio(allSum[k]! - s, allSq[k]! - q);
    }
    // its rank out of sample, 1 the lowest; ties share the mean of their ranks
    let below = 0;
    let same = 0;
    for (let k = 0; k < n; k++)
      if (oos[k]! < oos[best]!) below++;
      else if (oos[k] === oos[best]) same++;
    const w = (below + (same + 1) / 2) / (n + 1);
    logits.push(Math.log(w / (1 - w)));
    rankSum += w;
    isBest.push(bestIs);
    oosOfBest.push(oos[best]!);
    // the next subset: the rightmost index that can move, moved, the ones after it following it
    let i = half - 1;
    while (i >= 0 && pick[i] === blocks - half + i) i--;
    if (i < 0) break;
    pick[i]!++;
    for (let j = i + 1; j < half; j++) pick[j] = pick[j - 1]! + 1;
    if (split % 64 === 63) yield;
  }
  const mx = isBest.reduce((s, x) => s + x, 0) / isBest.length;
  const my = oosOfBest.reduce((s, x) => s + x, 0) / oosOfBest.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < isBest.length; i++) {
    sxy += (isBest[i]! - mx) * (oosOfBest[i]! - my);
    sxx += (isBest[i]! - mx) ** 2;
  }
  return {
    pbo: logits.filter((l) => l <= 0).length / logits.length,
    logits,
    blocks,
    blockBars: size,
    meanRank: rankSum / logits.length,
    slope: sxx > 0 ? sxy / sxx : 0,
  };
}

/** Per-bar returns of an equity curve: e[i] / e[i − 1] − 1 (0 where the equity before was not above 0). */
export function returnsOf(equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(Math.max(0, equity.length - 1));
  for (let i = 1; i < equity.length; i++) {
    const prev = equity[i - 1]!;
    out[i - 1] = prev > 0 ? equity[i]! / prev - 1 : 0;
  }
  return out;
}
