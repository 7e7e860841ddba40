/**
 * Confidence intervals used by the metrics. All are two-sided at `confidence`.
 * References: Wilson (1927); Newcombe, Stat. Med. 17 (1998) 873–890 (independent proportions,
 * method 10) and 2635–2650 (paired proportions, method 10).
 */

import { binomialHalfCdf } from './significance.js';

export interface Interval {
  lower: number;
  upper: number;
  confidence: number;
  method: string;
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normal quantile: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

export function zFor(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** Wilson score interval for a proportion `successes / trials`. */
export function wilson(successes: number, trials: number, confidence: number): Interval {
  if (trials <= 0) return { lower: 0, upper: 1, confidence, method: 'wilson' };
  const z = zFor(confidence);
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return {
    lower: Math.max(0, centre - half),
    upper: Math.min(1, centre + half),
    confidence,
    method: 'wilson',
  };
}

/** Newcombe's hybrid score interval for p1 − p2 from two independent samples. */
export function newcombeIndependent(
  successes1: number,
  trials1: number,
  successes2: number,
  trials2: number,
  confidence: number,
): Interval {
  const p1 = successes1 / trials1;
  const p2 = successes2 / trials2;
  const w1 = wilson(successes1, trials1, confidence);
  const w2 = wilson(successes2, trials2, confidence);
  const below = Math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2);
  const above = Math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2);
  return { lower: p1 - p2 - below, upper: p1 - p2 + above, confidence, method: 'newcombe-hybrid-score' };
}

/**
 * Newcombe's interval for the difference of paired proportions p1 − p2 from the 2×2 table
 * (both, onlyFirst, onlySecond, neither) — here teacher correct/candidate correct.
 */
export function newcombePaired(
  both: number,
  onlyFirst: number,
  onlySecond: number,
  neither: number,
  confidence: number,
): Interval {
  const n = both + onlyFirst + onlySecond + neither;
  if (n === 0) return { lower: -1, upper: 1, confidence, method: 'newcombe-paired-score' };
  const p1 = (both + onlyFirst) / n;
  const p2 = (both + onlySecond) / n;
  const w1 = wilson(both + onlyFirst, n, confidence);
  const w2 = wilson(both + onlySecond, n, confidence);
  const marginals = (both + onlyFirst) * (onlySecond + neither) * (both + onlySecond) * (onlyFirst + neither);
  const phi = marginals === 0 ? 0 : (both * neither - onlyFirst * onlySecond) / Math.sqrt(marginals);
  const l1 = p1 - w1.lower;
  const u1 = w1.upper - p1;
  const l2 = p2 - w2.lower;
  const u2 = w2.upper - p2;
  const below = Math.sqrt(Math.max(0, l1 * l1 - 2 * phi * l1 * u2 + u2 * u2));
  const above = Math.sqrt(Math.max(0, u1 * u1 - 2 * phi * u1 * l2 + l2 * l2));
  return { lower: p1 - p2 - below, upper: p1 - p2 + above, confidence, method: 'newcombe-paired-score' };
}

/**
 * Distribution-free interval for the q-quantile: the 0-based ranks whose binomial coverage
 * brackets q·n (normal approximation of the order-statistic interval).
 */
export function quantileRankInterval(
  q: number,
  n: number,
  confidence: number,
): { lower: number; upper: number } {
  const z = zFor(confidence);
  const spread = z * Math.sqrt(n * q * (1 - q));
  return {
    lower: Math.max(0, Math.floor(n * q - spread) - 1),
    upper: Math.min(n - 1, Math.ceil(n * q + spread)),
  };
}

/**
 * Distribution-free interval for the median of n values, exact: the order statistics x₍ₗ₎ and
 * x₍ₙ₊₁₋ₗ₎ (1-based) enclose it with probability 1 − 2·P(X ≤ l − 1), X ~ Bin(n, ½), whatever the
 * distribution, and l is the largest that keeps this at least `confidence`. Returns 0-based ranks,
 * or undefined when even the extremes enclose it less often (n < 6 at 95%).
 */
export function medianRankInterval(
  n: number,
  confidence: number,
): { lower: number; upper: number } | undefined {
  let l = 0;
  // P(X ≤ n/2) ≥ ½, so this stops below the middle, where binomialHalfCdf is defined.
  while (2 * binomialHalfCdf(l, n) <= 1 - confidence) l++;
  return l === 0 ? undefined : { lower: l - 1, upper: n - l };
}
