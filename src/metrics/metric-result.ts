import type { MetricName } from '../api/v1alpha1/thresholds.js';
import type { Interval } from './intervals.js';

/** One computed metric, overall or within a slice: what grading reads. */
export interface MetricResult {
  name: MetricName;
  value: number;
  /** Rows (or requests, inferences, measurements) the value rests on. */
  samples: number;
  interval?: Interval;
  /** What the value is, in words: "label-free: 1 − agreement with the teacher", "worst: feature amount". */
  detail?: string;
  /**
   * For a metric that is the worst of several values each tested against "no change" (psi: each
   * feature and the predictions), every one of them: a breach counts only where it is significant.
   */
  tests?: TestedValues;
}

export interface TestedValues {
  /** What the values are called in a sentence: "PSI". */
  statistic: string;
  /** Significance is adjusted p ≤ 1 − confidence. */
  confidence: number;
  /** How the p-values were adjusted for testing them all. */
  correction: 'holm';
  values: TestedValue[];
}

/** One value and its test, e.g. one feature's PSI. */
export interface TestedValue {
  /** What it is the value of, in words: "feature amount", "the predictions". */
  subject: string;
  value: number;
  referenceSamples: number;
  currentSamples: number;
  /** P(a value at least this large) if nothing changed, before correction. */
  pValue: number;
  /** After the correction over all of `TestedValues.values`. */
  adjustedPValue: number;
  /** [0, upper]: where the value falls by chance alone with probability `confidence`. */
  noiseBand: [number, number];
  method: 'chi-squared' | 'permutation';
}

/** A metric that could not be computed, and why; it is never graded. */
export interface DisabledMetric {
  name: MetricName;
  reason: string;
}

export type MetricOutcome = { computed: MetricResult } | { disabled: DisabledMetric };
