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
 * most the largest share of either dataset inside one bucket.
 */
export interface DriftResult {
  psi: number;
  ks?: number;
  bins: number;
  /** Numeric only: the bin edges actually used. */
  edges?: number[];
  referenceRows: number;
  currentRows: number;
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

  result(bins: number, epsilon: number): DriftResult | undefined {
    const referenceRows = this.reference.count + this.reference.missing;
    const currentRows = this.current.count + this.current.missing;
    if (referenceRows === 0 || currentRows === 0) return undefined;
    const referenceBuckets = this.reference.buckets();
    const currentBuckets = this.current.buckets();

    const edgeOrders: number[] = [];
    const edges: number[] = [];
    if (this.reference.count > 0) {
      let seen = 0;
      let b = 0;
      for (let j = 1; j < bins; j++) {
        const rank = Math.floor((j / bins) * (this.reference.count - 1));
        while (seen + referenceBuckets[b]!.count <= rank) seen += referenceBuckets[b++]!.count;
        const bucket = referenceBuckets[b]!;
        if (edgeOrders[edgeOrders.length - 1] !== bucket.order) {
          edgeOrders.push(bucket.order);
          edges.push(bucket.upperEdge);
        }
      }
    }
    const referenceCounts = binCounts(referenceBuckets, edgeOrders);
    const currentCounts = binCounts(currentBuckets, edgeOrders);
    if (this.reference.missing > 0 || this.current.missing > 0) {
      referenceCounts.push(this.reference.missing);
      currentCounts.push(this.current.missing);
    }
    return {
      psi: psiFromCounts(referenceCounts, referenceRows, currentCounts, currentRows, epsilon),
      ks: ksStatistic(referenceBuckets, this.reference.count, currentBuckets, this.current.count),
      bins: referenceCounts.length,
      edges,
      referenceRows,
      currentRows,
    };
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

  result(epsilon: number): DriftResult | undefined {
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
    return {
      psi: psiFromCounts(referenceCounts, referenceRows, currentCounts, currentRows, epsilon),
      bins: referenceCounts.length,
      referenceRows,
      currentRows,
    };
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
  referenceCounts: number[],
  referenceRows: number,
  currentCounts: number[],
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

function binCounts(buckets: SketchBucket[], edgeOrders: number[]): number[] {
  const counts = new Array<number>(edgeOrders.length + 1).fill(0);
  let bin = 0;
  for (const bucket of buckets) {
    while (bin < edgeOrders.length && bucket.order > edgeOrders[bin]!) bin++;
    counts[bin]! += bucket.count;
  }
  return counts;
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
