/**
 * "Could this be chance?": the distributions, the multiple-test correction and the seeded
 * sampler behind the drift tests (docs/metrics.md, "Is the drift real?") and McNemar's test of
 * the accuracy drop. Pure functions, no I/O; every result is a function of its arguments only, so
 * merged shards give the same p-values.
 *
 * References: Press, Teukolsky, Vetterling & Flannery, Numerical Recipes, 3rd ed. (2007),
 * §6.1–6.2 (log-gamma, incomplete gamma) and §14.3.3 (Kolmogorov–Smirnov); Stephens, J. R. Stat.
 * Soc. B 32 (1970) 115–122; Holm, Scand. J. Stat. 6 (1979) 65–70; McNemar, Psychometrika 12
 * (1947) 153–157; Loader, "Fast and accurate computation of binomial probabilities" (2000).
 */
import { seededRandom } from './seeded-random.js';

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error < 1e-14). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < c.length; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * The regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 − P(a, x), each computed
 * directly where it is small (series below x = a + 1, continued fraction above), so tail
 * probabilities keep their relative precision.
 */
export function incompleteGamma(a: number, x: number): { lower: number; upper: number } {
  if (!(a > 0)) throw new Error(`incomplete gamma: a must be > 0, got ${a}`);
  if (x <= 0) return { lower: 0, upper: 1 };
  const front = Math.exp(a * Math.log(x) - x - logGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 100_000 && Math.abs(term) > Math.abs(sum) * 1e-17; n++) {
      term *= x / (a + n);
      sum += term;
    }
    const lower = Math.min(1, sum * front);
    return { lower, upper: 1 - lower };
  }
  // Modified Lentz on the continued fraction for Q.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  const upper = Math.min(1, front * h);
  return { lower: 1 - upper, upper };
}

/** P(X ≥ x) for X ~ χ²(dof). */
export function chiSquaredSurvival(x: number, dof: number): number {
  return incompleteGamma(dof / 2, x / 2).upper;
}

/** The p-quantile of χ²(dof): the x with P(X ≤ x) = p. */
export function chiSquaredQuantile(p: number, dof: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`chi-squared quantile: p must be in (0, 1), got ${p}`);
  const below = (x: number) => incompleteGamma(dof / 2, x / 2).lower < p;
  let low = 0;
  let high = Math.max(1, dof);
  while (below(high)) {
    low = high;
    high *= 2;
  }
  // Bisection to the last bit: a few dozen evaluations, once per distinct (p, dof).
  for (let i = 0; i < 200 && high - low > 1e-15 * high; i++) {
    const middle = (low + high) / 2;
    if (below(middle)) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * Kolmogorov's limiting distribution: P(K > λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}, and for small
 * λ the equivalent 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)}, which converges fast there.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let j = 1; j <= 20; j++) sum += Math.exp(-(2 * j - 1) * (2 * j - 1) * w);
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += j % 2 === 1 ? term : -term;
    if (term < 1e-300) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * The two-sided two-sample KS p-value for statistic D from samples of n and m: Kolmogorov's
 * limit at Stephens' λ = (√nₑ + 0.12 + 0.11/√nₑ)·D with nₑ = nm/(n+m) (Numerical Recipes §14.3.3).
 */
export function ksPValue(statistic: number, n: number, m: number): number {
  const effective = (n * m) / (n + m);
  const root = Math.sqrt(effective);
  return kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic);
}

/**
 * McNemar's exact test that two classifiers are right equally often, from the discordant pairs of
 * their paired table: `onlyFirst` rows only the first got right, `onlySecond` only the second.
 * Under "equally often" each discordant row is either kind with probability ½, so the two-sided
 * p-value is min(1, 2·P(X ≤ min(onlyFirst, onlySecond))) with X ~ Bin(onlyFirst + onlySecond, ½)
 * (what statsmodels' `mcnemar(table, exact=True)` computes). No discordant row: p = 1.
 */
export function mcnemarExactPValue(onlyFirst: number, onlySecond: number): number {
  const discordant = onlyFirst + onlySecond;
  if (discordant === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(onlyFirst, onlySecond), discordant));
}

/**
 * P(X ≤ k) for X ~ Bin(n, ½), k ≤ n/2: the term at k from Loader's saddle-point form, whose
 * exponent keeps its absolute precision at any n (differences of ln Γ lose digits to cancellation
 * once n is large), then the terms below it by the ratio P(X = i − 1)/P(X = i) = i/(n − i + 1)
 * until they no longer change the sum: at most about 9·√n terms, fewer the further k lies below
 * n/2. Relative error: 1e-14 for small n, about 1e-13 at n = 10⁶ (the summed rounding).
 */
export function binomialHalfCdf(k: number, n: number): number {
  if (k >= n) return 1;
  let term = binomialHalfProbability(k, n);
  let sum = term;
  for (let i = k; i > 0 && term > sum * 1e-17; i--) {
    term *= i / (n - i + 1);
    sum += term;
  }
  return Math.min(1, sum);
}

/** P(X = k) for X ~ Bin(n, ½) (Loader 2000: Stirling's error terms and a stable deviance). */
function binomialHalfProbability(k: number, n: number): number {
  if (k === 0 || k === n) return Math.exp(-n * Math.LN2);
  const half = n / 2;
  const exponent =
    stirlingError(n) - stirlingError(k) - stirlingError(n - k) - deviance(k, half) - deviance(n - k, half);
  return Math.exp(exponent) / Math.sqrt(2 * Math.PI * k * (1 - k / n));
}

/** ln n! − [(n + ½) ln n − n + ln √(2π)], for a whole n ≥ 1 (n! is exact in a double up to 18!). */
function stirlingError(n: number): number {
  if (n <= 15) {
    let factorial = 1;
    for (let i = 2; i <= n; i++) factorial *= i;
    return Math.log(factorial) - (n + 0.5) * Math.log(n) + n - 0.5 * Math.log(2 * Math.PI);
  }
  const squared = n * n;
  return (
    (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / squared) / squared) / squared) / squared) / n
  );
}

/** x ln(x/m) + m − x, by its series where x is near m (the two terms would cancel). */
function deviance(x: number, m: number): number {
  if (Math.abs(x - m) >= 0.1 * (x + m)) return x * Math.log(x / m) + m - x;
  const v = (x - m) / (x + m);
  const v2 = v * v;
  let sum = (x - m) * v;
  let power = 2 * x * v;
  for (let j = 1; j < 1000; j++) {
    power *= v2;
    const next = sum + power / (2 * j + 1);
    if (next === sum) break;
    sum = next;
  }
  return sum;
}

/**
 * Holm's step-down adjusted p-values, in the order given: with p₍₁₎ ≤ … ≤ p₍ₘ₎,
 * p̃₍ᵢ₎ = max_{j≤i} min(1, (m − j + 1)·p₍ⱼ₎). Rejecting where p̃ ≤ α keeps the chance of any false
 * rejection at most α, whatever the dependence between the tests.
 */
export function holmAdjusted(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]! || a - b);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]!));
    adjusted[index] = running;
  });
  return adjusted;
}

/** Below this mean a hypergeometric count is drawn exactly (inversion); above, from its normal approximation. */
const exactDrawMean = 50;

/**
 * The number of marked items among `draws` drawn without replacement from `total` items of which
 * `successes` are marked. Exact (inversion) where the mean, after the symmetries that bring draws
 * and marks below half the total, is below 50; above, the normal approximation, rounded and
 * clamped to the support, whose skewness is then below 0.15.
 */
export function hypergeometricSample(
  total: number,
  successes: number,
  draws: number,
  random: () => number,
): number {
  if (draws <= 0 || successes <= 0) return 0;
  if (successes >= total) return draws;
  if (draws >= total) return successes;
  if (2 * draws > total) return successes - hypergeometricSample(total, successes, total - draws, random);
  if (2 * successes > total) return draws - hypergeometricSample(total, total - successes, draws, random);
  // Now draws + successes ≤ total, so the support is 0 … min(draws, successes).
  const top = Math.min(draws, successes);
  const mean = (draws * successes) / total;
  if (mean >= exactDrawMean) {
    const variance = (mean * (1 - successes / total) * (total - draws)) / (total - 1);
    const u = Math.max(random(), 1e-300);
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.min(top, Math.max(0, Math.round(mean + Math.sqrt(variance) * normal)));
  }
  const others = total - successes;
  let probability = Math.exp(
    logGamma(others + 1) - logGamma(others - draws + 1) + logGamma(total - draws + 1) - logGamma(total + 1),
  );
  let u = random();
  let x = 0;
  while (u > probability && x < top && probability > 0) {
    u -= probability;
    probability *= ((successes - x) * (draws - x)) / ((x + 1) * (others - draws + x + 1));
    x++;
  }
  return x;
}

/** How many of `draws` rows drawn without replacement fall in each group of `counts`, into `into`. */
export function multivariateHypergeometricSample(
  counts: readonly number[],
  draws: number,
  random: () => number,
  into: number[],
): number[] {
  let left = counts.reduce((a, b) => a + b, 0);
  let toDraw = draws;
  for (let i = 0; i < counts.length; i++) {
    const drawn =
      i === counts.length - 1 || toDraw === 0
        ? toDraw
        : hypergeometricSample(left, counts[i]!, toDraw, random);
    into[i] = drawn;
    toDraw -= drawn;
    left -= counts[i]!;
  }
  return into;
}

/**
 * The seed of a permutation test: a hash (FNV-1a) of the observed counts. The result is then a
 * function of the counts alone, so merged shards agree, never depending on when it is computed,
 * while different data draw different permutations, so Monte Carlo error does not repeat itself.
 */
export function permutationSeed(
  referenceCounts: readonly number[],
  currentCounts: readonly number[],
): number {
  let hash = 0x811c9dc5;
  for (const counts of [referenceCounts, currentCounts]) {
    for (const count of counts) {
      for (const word of [count >>> 0, Math.floor(count / 4294967296) >>> 0]) {
        for (let shift = 0; shift < 32; shift += 8) {
          hash ^= (word >>> shift) & 0xff;
          hash = Math.imul(hash, 0x01000193);
        }
      }
    }
    hash = Math.imul(hash ^ 0xff, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The null distribution of a two-sample statistic by random permutations: `replicates` times,
 * the pooled rows of each group (bin, sketch bucket, category) are dealt out again at random, as
 * many to the current dataset as it had, the rest to the reference, and the statistic recomputed.
 * Conditioned on the pooled counts (sufficient if nothing changed), this makes the test exact:
 * valid at any sample size and whatever the distribution. Returns the replicate statistics, sorted.
 */
export function permutationNull(
  referenceCounts: readonly number[],
  currentCounts: readonly number[],
  statistic: (reference: number[], current: number[]) => number,
  replicates: number,
): Float64Array {
  const groups = referenceCounts.length;
  const pooled = referenceCounts.map((r, i) => r + currentCounts[i]!);
  const total = pooled.reduce((a, b) => a + b, 0);
  const current = currentCounts.reduce((a, b) => a + b, 0);
  const random = seededRandom(permutationSeed(referenceCounts, currentCounts));
  const dealtReference = new Array<number>(groups).fill(0);
  const dealtCurrent = new Array<number>(groups).fill(0);
  // Few rows to deal: one by one (a partial shuffle of a row list of at most 16 MiB); many: one
  // hypergeometric draw per group.
  const fewer = Math.min(current, total - current);
  const rows = fewer <= 32 * groups && total <= 1 << 22 ? rowGroups(pooled, total) : undefined;
  const smaller = current <= total - current ? dealtCurrent : dealtReference;
  const larger = smaller === dealtCurrent ? dealtReference : dealtCurrent;
  const values = new Float64Array(replicates);
  for (let b = 0; b < replicates; b++) {
    if (rows) {
      smaller.fill(0);
      for (let i = 0; i < fewer; i++) {
        const j = i + Math.floor(random() * (total - i));
        const group = rows[j]!;
        rows[j] = rows[i]!;
        rows[i] = group;
        smaller[group]!++;
      }
    } else {
      multivariateHypergeometricSample(pooled, fewer, random, smaller);
    }
    for (let i = 0; i < groups; i++) larger[i] = pooled[i]! - smaller[i]!;
    values[b] = statistic(dealtReference, dealtCurrent);
  }
  return values.sort();
}

/** One entry per row: the index of its group. */
function rowGroups(counts: readonly number[], total: number): Int32Array {
  const rows = new Int32Array(total);
  let at = 0;
  counts.forEach((count, group) => rows.fill(group, at, (at += count)));
  return rows;
}
