import { QuantileSketch, type QuantileSketchState, type SketchBucket } from './quantile-sketch.js';
import {
  describeValue,
  maxCategories,
  quote,
  readArray,
  readCount,
  readObject,
  readText,
  requireThat,
  type MemoryBudget,
} from './state-checks.js';
import { chiSquaredQuantile, chiSquaredSurvival, ksPValue, permutationNull } from './significance.js';
import { countCodes, type TextColumn } from './text-column.js';

/**
 * Drift of one column between the reference and the current dataset: PSI (numeric and
 * categorical) and the two-sample KS statistic (numeric).
 *
 * PSI = Σ_bins (c_i − r_i) · ln(c_i / r_i), where r_i and c_i are the reference and current
 * proportions of the bin, each replaced by `epsilon` when the bin is empty in that dataset.
 *
 * Numeric bins: the edges are the reference's j/B quantiles (j = 1..B−1, rank ⌊(j/B)(n−1)⌋),
 * each moved up to the upper edge of the sketch bucket that holds it (at most a relative
 * (1+α)/(1−α) − 1 away); equal edges collapse, so discrete features get fewer bins. Bins are
 * (−∞, e1], (e1, e2], …, (e_{B−1}, ∞). Because every edge is a bucket boundary, each bucket falls
 * wholly in one bin and the bin counts are exact and mergeable. Missing values (NaN, ±∞) form a
 * bin of their own when either dataset has any.
 *
 * Categorical bins: one per category seen in either dataset (missing values are the category "").
 *
 * KS: max over bucket boundaries of |F_ref − F_cur| on non-missing values. This is the exact KS
 * statistic of the data rounded to sketch buckets; it differs from the KS of the raw data by at
 * most the largest share of either dataset inside one bucket. Its p-value is Kolmogorov's
 * asymptotic one (significance.ts); ties from the buckets make it conservative.
 *
 * Whether a PSI could be chance at these sample sizes is `psiTest`, below.
 */
export interface DriftResult {
  psi: number;
  ks?: number;
  /** Two-sided p-value of `ks` against "same distribution", over the non-missing values. */
  ksPValue?: number;
  bins: number;
  /** Numeric only: the bin edges actually used. */
  edges?: number[];
  /** Rows per bin (the missing-value bin last, when there is one); what PSI and its test read. */
  referenceCounts: number[];
  currentCounts: number[];
  referenceRows: number;
  currentRows: number;
  /** Whether `psi` could be chance, when asked for. */
  psiTest?: PsiTest;
}

export interface NumericDriftState {
  kind: 'numeric';
  reference: QuantileSketchState;
  current: QuantileSketchState;
}

export interface CategoricalDriftState {
  kind: 'categorical';
  /** [category, reference count, current count] */
  categories: [string, number, number][];
}

export type DriftState = NumericDriftState | CategoricalDriftState;

export class NumericDrift {
  readonly kind = 'numeric';
  readonly reference: QuantileSketch;
  readonly current: QuantileSketch;

  /** From `state`, its sketches must have `relativeAccuracy`. */
  constructor(
    relativeAccuracy: number,
    state?: NumericDriftState,
    where = 'numeric drift',
    budget?: MemoryBudget,
  ) {
    this.reference = state
      ? QuantileSketch.fromJSON(state.reference, `${where}.reference`, relativeAccuracy, budget)
      : new QuantileSketch(relativeAccuracy, budget);
    this.current = state
      ? QuantileSketch.fromJSON(state.current, `${where}.current`, relativeAccuracy, budget)
      : new QuantileSketch(relativeAccuracy, budget);
  }

  sketchFor(dataset: 'reference' | 'current'): QuantileSketch {
    return dataset === 'reference' ? this.reference : this.current;
  }

  /** Rows counted per dataset, missing values included. */
  rows(): { reference: number; current: number } {
    return {
      reference: this.reference.count + this.reference.missing,
      current: this.current.count + this.current.missing,
    };
  }

  merge(other: NumericDrift): void {
    this.reference.merge(other.reference);
    this.current.merge(other.current);
  }

  /** PSI and KS; with `testing`, also whether the PSI could be chance (`psiTest`). */
  result(bins: number, epsilon: number, testing?: PsiTesting): DriftResult | undefined {
    const referenceRows = this.reference.count + this.reference.missing;
    const currentRows = this.current.count + this.current.missing;
    if (referenceRows === 0 || currentRows === 0) return undefined;
    const referenceBuckets = this.reference.buckets();
    const currentBuckets = this.current.buckets();
    const units = bucketUnits(referenceBuckets, currentBuckets, this.reference.missing, this.current.missing);
    const binned = binUnits(units.reference, units.current, bins, units.missing);
    const ks = ksStatistic(referenceBuckets, this.reference.count, currentBuckets, this.current.count);
    const result: DriftResult = {
      psi: psiFromCounts(binned.reference, referenceRows, binned.current, currentRows, epsilon),
      ...(ks === undefined ? {} : { ks, ksPValue: ksPValue(ks, this.reference.count, this.current.count) }),
      bins: binned.reference.length,
      edges: binned.edgeUnits.map((unit) => units.upperEdges[unit]!),
      referenceCounts: binned.reference,
      currentCounts: binned.current,
      referenceRows,
      currentRows,
    };
    if (testing) {
      // The permutation deals out sketch buckets and bins them afresh, as the edges would move.
      const rebinned = (reference: number[], current: number[]) => {
        const again = binUnits(reference, current, bins, units.missing);
        return psiFromCounts(again.reference, referenceRows, again.current, currentRows, epsilon);
      };
      result.psiTest = psiTest(result, units, rebinned, testing);
    }
    return result;
  }

  toJSON(): NumericDriftState {
    return { kind: 'numeric', reference: this.reference.toJSON(), current: this.current.toJSON() };
  }
}

export class CategoricalDrift {
  readonly kind = 'categorical';
  /** category → [reference count, current count] */
  readonly counts = new Map<string, [number, number]>();

  constructor(state?: CategoricalDriftState, where = 'categorical drift') {
    if (state === undefined) return;
    const categories = readArray(state.categories, `${where}.categories`, maxCategories);
    categories.forEach((entry, i) => {
      const at = `${where}.categories[${i}]`;
      const [category, reference, current] = readArray(entry, at, 3);
      const name = readText(category, `${at}[0]`);
      requireThat(!this.counts.has(name), `${at} repeats category ${quote(name)}`);
      this.counts.set(name, [readCount(reference, `${at}[1]`), readCount(current, `${at}[2]`)]);
    });
  }

  add(dataset: 'reference' | 'current', category: string, amount = 1): void {
    let entry = this.counts.get(category);
    if (entry === undefined) {
      entry = [0, 0];
      this.counts.set(category, entry);
    }
    entry[dataset === 'reference' ? 0 : 1] += amount;
  }

  /** Counts the rows (all, or those in `indices`) of a text column. */
  addAll(dataset: 'reference' | 'current', column: TextColumn, indices?: Int32Array): void {
    const counts = countCodes(column, indices);
    for (let code = 0; code < counts.length; code++)
      if (counts[code]! > 0) this.add(dataset, column.values[code]!, counts[code]);
  }

  /** Rows counted per dataset. */
  rows(): { reference: number; current: number } {
    let reference = 0;
    let current = 0;
    for (const [r, c] of this.counts.values()) {
      reference += r;
      current += c;
    }
    return { reference, current };
  }

  merge(other: CategoricalDrift): void {
    for (const [category, [reference, current]] of other.counts) {
      this.add('reference', category, reference);
      this.add('current', category, current);
    }
  }

  /** PSI; with `testing`, also whether it could be chance (`psiTest`). */
  result(epsilon: number, testing?: PsiTesting): DriftResult | undefined {
    let referenceRows = 0;
    let currentRows = 0;
    const referenceCounts: number[] = [];
    const currentCounts: number[] = [];
    // In category order, so the sum's rounding does not depend on the order rows arrived in.
    for (const [, reference, current] of this.toJSON().categories) {
      referenceRows += reference;
      currentRows += current;
      referenceCounts.push(reference);
      currentCounts.push(current);
    }
    if (referenceRows === 0 || currentRows === 0) return undefined;
    const result: DriftResult = {
      psi: psiFromCounts(referenceCounts, referenceRows, currentCounts, currentRows, epsilon),
      bins: referenceCounts.length,
      referenceCounts,
      currentCounts,
      referenceRows,
      currentRows,
    };
    if (testing) {
      const units = { reference: referenceCounts, current: currentCounts };
      const psi = (reference: number[], current: number[]) =>
        psiFromCounts(reference, referenceRows, current, currentRows, epsilon);
      result.psiTest = psiTest(result, units, psi, testing);
    }
    return result;
  }

  toJSON(): CategoricalDriftState {
    const categories: [string, number, number][] = [...this.counts]
      .map(([category, [reference, current]]): [string, number, number] => [category, reference, current])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { kind: 'categorical', categories };
  }
}

export type Drift = NumericDrift | CategoricalDrift;

/** A drift from its JSON, checked; numeric sketches must have `relativeAccuracy`. */
export function driftFromJSON(
  json: unknown,
  where: string,
  relativeAccuracy: number,
  budget?: MemoryBudget,
): Drift {
  const state = readObject(json, where) as unknown as DriftState;
  if (state.kind === 'numeric') return new NumericDrift(relativeAccuracy, state, where, budget);
  if (state.kind === 'categorical') return new CategoricalDrift(state, where);
  throw new Error(
    `${where}.kind is ${describeValue((state as { kind: unknown }).kind)}, expected "numeric" or "categorical"`,
  );
}

export function psiFromCounts(
  referenceCounts: readonly number[],
  referenceRows: number,
  currentCounts: readonly number[],
  currentRows: number,
  epsilon: number,
): number {
  let psi = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const r = referenceCounts[i]! > 0 ? referenceCounts[i]! / referenceRows : epsilon;
    const c = currentCounts[i]! > 0 ? currentCounts[i]! / currentRows : epsilon;
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

/** Whether one PSI could be chance: its p-value and noise band, and how they were found. */
export interface PsiTest {
  /** P(PSI ≥ the observed one) if both datasets came from one distribution; before correction. */
  pValue: number;
  /** [0, upper]: where PSI falls by chance alone with probability `confidence`. */
  noiseBand: [number, number];
  method: 'chi-squared' | 'permutation';
  /** Permutation only: the number of random permutations. */
  replicates?: number;
  /** The smallest count a bin is expected to hold in the smaller dataset if nothing changed. */
  minExpectedCount: number;
}

export interface PsiTesting {
  confidence: number;
  /** Random permutations, where the χ² approximation does not hold (`permutationReplicates`). */
  replicates: number;
}

/**
 * The χ² approximation is used only where every bin expects at least this many rows of the
 * smaller dataset; below, PSI's logarithm and the ε floor for empty bins make it too optimistic
 * (simulated rates in docs/metrics.md), and the permutation test is used.
 */
export const chiSquaredMinExpectedCount = 50;

/**
 * Permutations for a family of `tests` at level α: at least 999, and enough that the smallest
 * possible p-value, 1/(B + 1), is a quarter of Holm's strictest threshold α/m, so a clear drift
 * can be significant however many features there are.
 */
export function permutationReplicates(tests: number, alpha: number): number {
  return Math.max(1000, Math.ceil((4 * tests) / alpha)) - 1;
}

/**
 * PSI against "no change" from counts alone (so it merges: shards add counts). With R reference
 * and C current rows, PSI is the symmetric (Jeffreys) divergence of the binned shares, and with
 * no change PSI · RC/(R + C) tends to χ²(k − 1) over the k bins that hold any row (Yurdakul 2018).
 * Where a bin expects fewer than `chiSquaredMinExpectedCount` rows of the smaller dataset, the
 * p-value and band come instead from a permutation test: the rows of each unit (sketch bucket or
 * category) are dealt out again between the datasets at random, with a fixed seed, and
 * `statistic` (PSI, binned afresh for numeric features) scores each deal.
 */
function psiTest(
  result: DriftResult,
  units: { reference: readonly number[]; current: readonly number[] },
  statistic: (reference: number[], current: number[]) => number,
  { confidence, replicates }: PsiTesting,
): PsiTest {
  const { referenceCounts, currentCounts, referenceRows: reference, currentRows: current, psi } = result;
  let occupied = 0;
  let smallestBin = Infinity;
  for (let i = 0; i < referenceCounts.length; i++) {
    const pooled = referenceCounts[i]! + currentCounts[i]!;
    if (pooled > 0) {
      occupied++;
      smallestBin = Math.min(smallestBin, pooled);
    }
  }
  const minExpectedCount = (Math.min(reference, current) * smallestBin) / (reference + current);
  if (occupied < 2) return { pValue: 1, noiseBand: [0, 0], method: 'chi-squared', minExpectedCount };
  if (minExpectedCount >= chiSquaredMinExpectedCount) {
    const scale = (reference * current) / (reference + current);
    return {
      pValue: chiSquaredSurvival(psi * scale, occupied - 1),
      noiseBand: [0, chiSquaredQuantile(confidence, occupied - 1) / scale],
      method: 'chi-squared',
      minExpectedCount,
    };
  }
  const byChance = permutationNull(units.reference, units.current, statistic, replicates);
  // A deal that repeats the observed counts scores the same PSI, up to summation order.
  const atLeast = replicates - lowerBound(byChance, psi * (1 - 1e-12));
  return {
    pValue: (1 + atLeast) / (replicates + 1),
    noiseBand: [0, byChance[Math.min(replicates, Math.ceil(confidence * (replicates + 1))) - 1]!],
    method: 'permutation',
    replicates,
    minExpectedCount,
  };
}

/** The index of the first value ≥ `value` in ascending `sorted`. */
function lowerBound(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The two sketches' buckets as one list of units in value order (a bucket either dataset holds),
 * with each dataset's count per unit and the unit's upper edge; `missing` says whether a last unit
 * holds the missing values (when either dataset has any).
 */
function bucketUnits(
  referenceBuckets: SketchBucket[],
  currentBuckets: SketchBucket[],
  referenceMissing: number,
  currentMissing: number,
): { reference: number[]; current: number[]; upperEdges: number[]; missing: boolean } {
  const reference: number[] = [];
  const current: number[] = [];
  const upperEdges: number[] = [];
  let r = 0;
  let c = 0;
  while (r < referenceBuckets.length || c < currentBuckets.length) {
    const referenceOrder = referenceBuckets[r]?.order ?? Infinity;
    const currentOrder = currentBuckets[c]?.order ?? Infinity;
    const order = Math.min(referenceOrder, currentOrder);
    upperEdges.push((referenceOrder === order ? referenceBuckets[r] : currentBuckets[c])!.upperEdge);
    reference.push(referenceOrder === order ? referenceBuckets[r++]!.count : 0);
    current.push(currentOrder === order ? currentBuckets[c++]!.count : 0);
  }
  const missing = referenceMissing > 0 || currentMissing > 0;
  if (missing) {
    reference.push(referenceMissing);
    current.push(currentMissing);
  }
  return { reference, current, upperEdges, missing };
}

/**
 * Bins units (value-ordered, the missing-value unit last when `missing`): the edges are the units
 * holding the reference's values of rank ⌊(j/B)(n − 1)⌋, j = 1 … B − 1, over its n non-missing
 * values, repeated edges dropped; bin i holds the units after edge i − 1 up to edge i.
 */
function binUnits(
  referenceUnits: readonly number[],
  currentUnits: readonly number[],
  bins: number,
  missing: boolean,
): { reference: number[]; current: number[]; edgeUnits: number[] } {
  const valued = referenceUnits.length - (missing ? 1 : 0);
  let values = 0;
  for (let u = 0; u < valued; u++) values += referenceUnits[u]!;
  const edgeUnits: number[] = [];
  if (values > 0) {
    let seen = 0;
    let u = 0;
    for (let j = 1; j < bins; j++) {
      const rank = Math.floor((j / bins) * (values - 1));
      while (seen + referenceUnits[u]! <= rank) seen += referenceUnits[u++]!;
      if (edgeUnits[edgeUnits.length - 1] !== u) edgeUnits.push(u);
    }
  }
  const reference = new Array<number>(edgeUnits.length + 1).fill(0);
  const current = new Array<number>(edgeUnits.length + 1).fill(0);
  let bin = 0;
  for (let u = 0; u < valued; u++) {
    while (bin < edgeUnits.length && u > edgeUnits[bin]!) bin++;
    reference[bin]! += referenceUnits[u]!;
    current[bin]! += currentUnits[u]!;
  }
  if (missing) {
    reference.push(referenceUnits[valued]!);
    current.push(currentUnits[valued]!);
  }
  return { reference, current, edgeUnits };
}

function ksStatistic(
  referenceBuckets: SketchBucket[],
  referenceCount: number,
  currentBuckets: SketchBucket[],
  currentCount: number,
): number | undefined {
  if (referenceCount === 0 || currentCount === 0) return undefined;
  let r = 0;
  let c = 0;
  let referenceSeen = 0;
  let currentSeen = 0;
  let statistic = 0;
  while (r < referenceBuckets.length || c < currentBuckets.length) {
    const referenceOrder = referenceBuckets[r]?.order ?? Infinity;
    const currentOrder = currentBuckets[c]?.order ?? Infinity;
    const order = Math.min(referenceOrder, currentOrder);
    if (referenceOrder === order) referenceSeen += referenceBuckets[r++]!.count;
    if (currentOrder === order) currentSeen += currentBuckets[c++]!.count;
    statistic = Math.max(statistic, Math.abs(referenceSeen / referenceCount - currentSeen / currentCount));
  }
  return statistic;
}
