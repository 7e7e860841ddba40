/**
 * Checks for accumulator states read from elsewhere: a shard's state comes from an
 * evaluation pod, which is only as trustworthy as the models and data it ran on, and what the
 * operator does with the merged result (roll a canary forward or back) must not rest on a count
 * that is negative, infinite or inconsistent with the rest of the state. Each state type checks
 * its own fields in its `fromJSON` with these helpers, and an error names the value's path:
 * `overall.accuracy.rows is -3, expected a non-negative integer`.
 */
import type { EvaluationOptions } from './options.js';

/**
 * The largest count a state may hold. 2^48 rows is far beyond any evaluation, and 32 shards
 * (the most a run has) of such counts still add up exactly in a double (below 2^53).
 */
export const maxCount = 2 ** 48;

/** Output columns of a classifier, one per class; ImageNet's 1000 fit. */
export const maxClasses = 1024;

/**
 * Distinct values of one categorical feature, or groups of the sensitive attribute, in one state.
 * Drift per category and parity per group are for low-cardinality columns (as slices are, with
 * maxSliceValues); the bound keeps a forged state from filling memory with names.
 */
export const maxCategories = 10_000;

/**
 * What a shard's state may hold according to the run's spec. Without it (the evaluator reading
 * its own metric thread's state) only the state's own consistency is checked.
 */
export interface StateExpectations {
  /** Exactly the options the evaluator builds from the spec. */
  options: EvaluationOptions;
  /** spec.data.features: the only feature drifts a state may hold. */
  features: readonly string[];
  /** spec.data.categoricalFeatures: these must be binned by category. */
  categoricalFeatures: readonly string[];
  /** spec.data.slices: each is a slice on its own; crosses are options.sliceCrosses. */
  sliceColumns: readonly string[];
  /** Whether the spec names a sensitive attribute; without one a state has no fairness groups. */
  sensitiveAttribute: boolean;
}

/**
 * Sketch buckets are stored densely from a store's lowest key to its highest, so two buckets far
 * apart cost the whole span between them (up to 18k keys, 146 KB, at α = 0.02): a few bytes of
 * JSON per sketch could otherwise make the reader allocate gigabytes over thousands of slices.
 * Stores read from outside charge their allocations here, and so do the merges into them.
 */
export class MemoryBudget {
  private used = 0;

  constructor(
    readonly limitBytes: number,
    /** What sets the limit, for the message: a command-line flag. */
    private readonly limitName: string,
  ) {}

  charge(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.limitBytes)
      throw new Error(`${what} take more than ${this.limitBytes} bytes in all (limit ${this.limitName})`);
  }
}

/** How a state read from outside is checked: against the spec, and within a memory budget. */
export interface StateReading {
  expected?: StateExpectations;
  budget?: MemoryBudget;
}

/** A value as an error message shows it: short, and never the whole of a forged string or array. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return 'an object';
}

/** A name inside a path or message, quoted and cut short. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
}

function invalid(where: string, value: unknown, expected: string): Error {
  return new Error(`${where} is ${describeValue(value)}, expected ${expected}`);
}

/** Throws `message` unless the state holds together. */
export function requireThat(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

export function readObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(where, value, 'an object');
  return value as Record<string, unknown>;
}

export function readArray(value: unknown, where: string, maxLength: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(where, value, 'an array');
  if (value.length > maxLength)
    throw new Error(`${where} has ${value.length} entries, more than the ${maxLength} a state may hold`);
  return value;
}

export function readText(value: unknown, where: string): string {
  if (typeof value !== 'string') throw invalid(where, value, 'a string');
  return value;
}

/** Any finite number (a JSON 1e309 reads as Infinity; NaN and infinities are written as null). */
export function readNumber(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(where, value, 'a finite number');
  return value;
}

/** A sum of magnitudes: finite and ≥ 0. */
export function readNonNegative(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalid(where, value, 'a finite number ≥ 0');
  return value;
}

/** A count of rows, samples or buckets: an integer in [0, maxCount]. */
export function readCount(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw invalid(where, value, 'a non-negative integer');
  if (value > maxCount)
    throw new Error(`${where} is ${value}, too large for a count (at most 2^48 = ${maxCount})`);
  return value;
}

/** A count that may also be null (a measurement not taken). */
export function readOptionalCount(value: unknown, where: string): number | null {
  return value === null ? null : readCount(value, where);
}
