import { decodeKeyedCounts, encodeKeyedCounts, type KeyedCount, type KeyRange } from './compact-counts.js';
import { readCount, readNumber, readObject, requireThat, type MemoryBudget } from './state-checks.js';

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

  constructor(private readonly budget?: MemoryBudget) {}

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
      this.budget?.charge(64 * 8, 'sketch buckets');
      this.counts = new Float64Array(64);
      this.offset = key - 32;
      return;
    }
    const low = Math.min(this.offset, key - 16);
    const high = Math.max(this.offset + this.counts.length, key + 17);
    const size = Math.max(high - low, this.counts.length * 2);
    this.budget?.charge((size - this.counts.length) * 8, 'sketch buckets');
    const grown = new Float64Array(size);
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
  private readonly positive: BucketStore;
  private readonly negative: BucketStore;
  count = 0;
  missing = 0;
  zero = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;

  /** With a budget, the bucket arrays (also those grown by merges into this sketch) are charged to it. */
  constructor(relativeAccuracy: number, budget?: MemoryBudget) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1))
      throw new Error(`quantile sketch: relative accuracy must be in (0, 1), got ${relativeAccuracy}`);
    this.relativeAccuracy = relativeAccuracy;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.inverseLogGamma = 1 / Math.log(this.gamma);
    this.positive = new BucketStore(budget);
    this.negative = new BucketStore(budget);
  }

  add(value: number): void {
    if (value - value !== 0) {
      this.missing++;
      return;
    }
    this.count++;
    this.sum += value;
    // `+ 0` stores −0 as 0, so min and max do not depend on the order shards merge in.
    if (value < this.min) this.min = value + 0;
    if (value > this.max) this.max = value + 0;
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
      if (value < min) min = value + 0;
      if (value > max) max = value + 0;
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

  /** The keys of finite values beyond ±1e-9, with one key of slack either side for rounding. */
  private keyRange(): KeyRange {
    return {
      lowest: this.keyOf(zeroWidth) - 1,
      highest: this.keyOf(Number.MAX_VALUE) + 1,
    };
  }

  /** The `order` of the bucket `value` falls in, as `buckets()` numbers them. */
  private orderOf(value: number): number {
    if (value > zeroWidth) return this.keyOf(value) + orderShift;
    if (value < -zeroWidth) return -(this.keyOf(value) + orderShift);
    return 0;
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

  /**
   * A sketch from its JSON, checked: its counts add up, min and max lie in its outermost buckets
   * and the sum between count × min and count × max (up to rounding). `relativeAccuracy` is the
   * one the options give; a state built with another is refused.
   */
  static fromJSON(
    json: unknown,
    where = 'quantile sketch',
    relativeAccuracy?: number,
    budget?: MemoryBudget,
  ): QuantileSketch {
    const state = readObject(json, where);
    const accuracy = readNumber(state.relativeAccuracy, `${where}.relativeAccuracy`);
    if (relativeAccuracy !== undefined && accuracy !== relativeAccuracy)
      throw new Error(
        `${where}.relativeAccuracy is ${accuracy}, expected ${relativeAccuracy} (from the options)`,
      );
    // Below 1e-4 bucket orders could collide (see orderShift).
    if (!(accuracy >= 1e-4 && accuracy < 1))
      throw new Error(`${where}.relativeAccuracy is ${accuracy}, expected a number in [0.0001, 1)`);
    const sketch = new QuantileSketch(accuracy, budget);
    sketch.count = readCount(state.count, `${where}.count`);
    sketch.missing = readCount(state.missing, `${where}.missing`);
    sketch.zero = readCount(state.zero, `${where}.zero`);
    sketch.sum = readNumber(state.sum, `${where}.sum`);
    if (sketch.count === 0) {
      requireThat(
        state.min === null && state.max === null && sketch.sum === 0,
        `${where}: a sketch with count 0 has min and max null and sum 0`,
      );
    } else {
      sketch.min = readNumber(state.min, `${where}.min`);
      sketch.max = readNumber(state.max, `${where}.max`);
      requireThat(sketch.min <= sketch.max, `${where}: min ${sketch.min} is above max ${sketch.max}`);
    }
    const keys = sketch.keyRange();
    let total = sketch.zero;
    for (const side of ['positive', 'negative'] as const) {
      const at = `${where}.${side}`;
      const packed = readObject(state[side], at);
      const store = side === 'positive' ? sketch.positive : sketch.negative;
      for (const { key, count } of decodeKeyedCounts(
        packed.firstKey as number,
        packed.packed as string,
        at,
        keys,
      )) {
        total += count;
        requireThat(total <= sketch.count, `${where}: its buckets count more than count (${sketch.count})`);
        store.add(key, count);
      }
    }
    requireThat(
      total === sketch.count,
      `${where}: zero and the buckets count ${total}, expected count (${sketch.count})`,
    );
    if (sketch.count > 0) sketch.checkExtremes(where);
    return sketch;
  }

  private checkExtremes(where: string): void {
    const buckets = this.buckets();
    requireThat(
      Math.abs(this.orderOf(this.min) - buckets[0]!.order) <= 1,
      `${where}: min ${this.min} is not in its lowest bucket`,
    );
    requireThat(
      Math.abs(this.orderOf(this.max) - buckets[buckets.length - 1]!.order) <= 1,
      `${where}: max ${this.max} is not in its highest bucket`,
    );
    const scale = this.count * Math.max(Math.abs(this.min), Math.abs(this.max));
    if (!Number.isFinite(scale)) return;
    // Summing n values rounds by at most n·ε of the sum of their magnitudes.
    const slack = this.count * Number.EPSILON * scale;
    requireThat(
      this.sum >= this.count * this.min - slack && this.sum <= this.count * this.max + slack,
      `${where}: sum ${this.sum} is outside count × [min, max] = [${this.count * this.min}, ${this.count * this.max}]`,
    );
  }
}

// Keys stay far below this for any finite double and α ≥ 1e-4, so signed orders never collide.
const orderShift = 1e7;
