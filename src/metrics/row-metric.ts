import type { MetricName } from '../api/v1alpha1/thresholds.js';
import type { MetricOutcome } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';
import type { StateReading } from './state-checks.js';

/**
 * A metric computed from rows, as one mergeable accumulator per population (the whole data, and
 * each slice where `perSlice`). Shards keep its state under its kind's `name` in their evaluation
 * state; the operator merges them and asks for the outcomes. Adding one is a file exporting a
 * `RowMetricKind` and a line in row-metrics.ts (and the thresholds of what it grades in
 * api/v1alpha1/thresholds.ts).
 */
export interface RowAccumulator {
  /** Adds a batch's rows: all of them, or those at `indices` (one slice's). */
  update(decoded: DecodedBatch, indices?: Int32Array): void;
  /** Adds an accumulator of the same kind, built with the same options. */
  merge(other: RowAccumulator): void;
  /** Its state as plain JSON, read back by its kind's `fromJSON`. */
  toJSON(): unknown;
  /** Every metric it grades, computed or disabled with the reason, in `metrics` order. */
  outcomes(): MetricOutcome[];
}

/** What a state is checked against as it is read: the group's own row counts, the spec. */
export interface RowStateContext {
  options: EvaluationOptions;
  /** The path of the state in messages: `slices[2] ("region=eu").metrics.accuracyDrop`. */
  where: string;
  /** The population's rows; an accumulator counts no more than these. */
  rows: { reference: number; current: number };
  reading: StateReading;
}

export interface RowMetricKind<A extends RowAccumulator = RowAccumulator> {
  /** Its key in a population's `metrics` state. Never renamed: older shards carry it. */
  name: string;
  /**
   * The first evaluation state version that carries it. A shard's state from an older evaluator
   * lacks it, and its metrics are disabled with that reason instead of the state being unreadable.
   */
  since: number;
  /** The graded metrics it reports. */
  metrics: readonly MetricName[];
  /** Kept for every slice too, or only for the whole data. */
  perSlice: boolean;
  create(options: EvaluationOptions): A;
  /** From a state read from outside, every field checked with state-checks.ts. */
  fromJSON(state: unknown, context: RowStateContext): A;
}
