import { decodeKeyedCounts, encodeKeyedCounts, type KeyedCount } from './compact-counts.js';

/**
 * DDSketch (Masson, Rim & Lee, VLDB 2019): values are counted in logarithmic buckets
 * (γ^(k−1), γ^k] with γ = (1+α)/(1−α), so any quantile is returned within relative error α,
 * and two sketches merge exactly by adding bucket counts. Negative values use a mirrored store;
 * |x| ≤ 1e-9 counts as zero. Non-finite values are counted as missing and never ranked.
 *
 * The bucket boundaries double as the exact bin edges for PSI and the evaluation points for KS
 * (see drift.ts), which is what keeps those mergeable.
 */

const zeroWidth = 1e-9;

export interface QuantileSketchState {
  relativeAccuracy: number;
  count: number;
  missing: number;
  zero: number;
  min: number | null;
  max: number | null;
  sum: number;
  positive: { firstKey: number; packed: string };
  negative: { firstKey: number; packed: string };
}

/** A bucket in value order, as drift statistics walk it. */
export interface SketchBucket {
  /** Sorts buckets of sketches with the same relative accuracy in value order. */
  order: number;
  /** Every value counted in the bucket is ≤ this (ties at a negative bucket's edge aside). */
  upperEdge: number;
  count: number;
}

class BucketStore {
  counts = new Float64Array(0);
  offset = 0;

  add(key: number, amount: number): void {
    let index = key - this.offset;
    if (index < 0 || index >= this.counts.length) {
      this.grow(key);
      index = key - this.offset;
    }
    this.counts[index]! += amount;
  }

  private grow(key: number): void {
    if (this.counts.length === 0) {
      this.counts = new Float64Array(64);
      this.offset = key - 32;
      return;
    }
    const low = Math.min(this.offset, key - 16);
    const high = Math.max(this.offset + this.counts.length, key + 17);
    const grown = new Float64Array(Math.max(high - low, this.counts.length * 2));
    grown.set(this.counts, this.offset - low);
    this.counts = grown;
    this.offset = low;
  }

  entries(): KeyedCount[] {
    const entries: KeyedCount[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const count = this.counts[i]!;
      if (count > 0) entries.push({ key: i + this.offset, count });
    }
    return entries;
  }
}

export class QuantileSketch {
  readonly relativeAccuracy: number;
  private readonly gamma: number;
  private readonly inverseLogGamma: number;
  private readonly positive = new BucketStore();
  private readonly negative = new BucketStore();
  count = 0;
  missing = 0;
  zero = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;

  constructor(relativeAccuracy: number) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1))
      throw new Error(`quantile sketch: relative accuracy must be in (0, 1), got ${relativeAccuracy}`);
    this.relativeAccuracy = relativeAccuracy;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.inverseLogGamma = 1 / Math.log(this.gamma);
  }

  add(value: number): void {
    if (value - value !== 0) {
      this.missing++;
      return;
    }
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value > zeroWidth) this.positive.add(Math.ceil(Math.log(value) * this.inverseLogGamma), 1);
    else if (value < -zeroWidth) this.negative.add(Math.ceil(Math.log(-value) * this.inverseLogGamma), 1);
    else this.zero++;
  }

  /** The hot path of every feature column: `add` with the store lookups hoisted out of the loop. */
  addAll(values: ArrayLike<number>): void {
    const inverseLogGamma = this.inverseLogGamma;
    const positive = this.positive;
    const negative = this.negative;
    let positiveCounts = positive.counts;
    let positiveOffset = positive.offset;
    let negativeCounts = negative.counts;
    let negativeOffset = negative.offset;
    let count = 0;
    let missing = 0;
    let zero = 0;
    let sum = 0;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value - value !== 0) {
        missing++;
        continue;
      }
      count++;
      sum += value;
      if (value < min) min = value;
      if (value > max) max = value;
      if (value > zeroWidth) {
        const index = Math.ceil(Math.log(value) * inverseLogGamma) - positiveOffset;
        if (index >= 0 && index < positiveCounts.length) positiveCounts[index]!++;
        else {
          positive.add(index + positiveOffset, 1);
          positiveCounts = positive.counts;
          positiveOffset = positive.offset;
        }
      } else if (value < -zeroWidth) {
        const index = Math.ceil(Math.log(-value) * inverseLogGamma) - negativeOffset;
        if (index >= 0 && index < negativeCounts.length) negativeCounts[index]!++;
        else {
          negative.add(index + negativeOffset, 1);
          negativeCounts = negative.counts;
          negativeOffset = negative.offset;
        }
      } else zero++;
    }
    this.count += count;
    this.missing += missing;
    this.zero += zero;
    this.sum += sum;
    this.min = min;
    this.max = max;
  }

  /** The bucket key a value falls in: what `buckets()` and the oracle tests agree on. */
  keyOf(value: number): number {
    return Math.ceil(Math.log(Math.abs(value)) * this.inverseLogGamma);
  }

  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy)
      throw new Error(
        `quantile sketch: cannot merge relative accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`,
      );
    for (const { key, count } of other.positive.entries()) this.positive.add(key, count);
    for (const { key, count } of other.negative.entries()) this.negative.add(key, count);
    this.count += other.count;
    this.missing += other.missing;
    this.zero += other.zero;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value of 0-based rank ⌊q·(n−1)⌋ (numpy's method='lower'), within relative error α. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    return this.valueAtRank(Math.floor(q * (this.count - 1)));
  }

  valueAtRank(rank: number): number {
    if (this.count === 0) return NaN;
    const target = Math.min(Math.max(rank, 0), this.count - 1);
    let seen = 0;
    for (const bucket of this.buckets()) {
      seen += bucket.count;
      if (seen > target) return Math.min(Math.max(bucket.representative, this.min), this.max);
    }
    return this.max;
  }

  /** All non-empty buckets in ascending value order. */
  buckets(): (SketchBucket & { representative: number })[] {
    const buckets: (SketchBucket & { representative: number })[] = [];
    const negative = this.negative.entries();
    for (let i = negative.length - 1; i >= 0; i--) {
      const { key, count } = negative[i]!;
      buckets.push({
        order: -(key + orderShift),
        upperEdge: -Math.pow(this.gamma, key - 1),
        count,
        representative: -this.representativeOf(key),
      });
    }
    if (this.zero > 0) buckets.push({ order: 0, upperEdge: zeroWidth, count: this.zero, representative: 0 });
    for (const { key, count } of this.positive.entries()) {
      buckets.push({
        order: key + orderShift,
        upperEdge: Math.pow(this.gamma, key),
        count,
        representative: this.representativeOf(key),
      });
    }
    return buckets;
  }

  private representativeOf(key: number): number {
    return (2 * Math.pow(this.gamma, key)) / (this.gamma + 1);
  }

  toJSON(): QuantileSketchState {
    return {
      relativeAccuracy: this.relativeAccuracy,
      count: this.count,
      missing: this.missing,
      zero: this.zero,
      min: this.count > 0 ? this.min : null,
      max: this.count > 0 ? this.max : null,
      sum: this.sum,
      positive: encodeKeyedCounts(this.positive.entries()),
      negative: encodeKeyedCounts(this.negative.entries()),
    };
  }

  static fromJSON(state: QuantileSketchState, where = 'quantile sketch'): QuantileSketch {
    const sketch = new QuantileSketch(state.relativeAccuracy);
    sketch.count = state.count;
    sketch.missing = state.missing;
    sketch.zero = state.zero;
    sketch.min = state.min ?? Infinity;
    sketch.max = state.max ?? -Infinity;
    sketch.sum = state.sum;
    for (const { key, count } of decodeKeyedCounts(state.positive.firstKey, state.positive.packed, where))
      sketch.positive.add(key, count);
    for (const { key, count } of decodeKeyedCounts(state.negative.firstKey, state.negative.packed, where))
      sketch.negative.add(key, count);
    return sketch;
  }
}

// Keys stay far below this for any finite double and α ≥ 1e-4, so signed orders never collide.
const orderShift = 1e7;
