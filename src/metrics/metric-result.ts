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
   * Values tested against "no difference", where a breach counts only if it is significant: each
   * feature's and the predictions' PSI (the metric is the worst of them), or the accuracy drop
   * itself (McNemar's test).
   */
  tests?: TestedValues;
  /** Numbers the status shows beside the value: `{positiveFlipRate: 0.01, agreement: 0.95, …}`. */
  facts?: Record<string, number | [number, number]>;
}

export interface TestedValues {
  /** What the values are called in a sentence: "PSI", "accuracyDrop". */
  statistic: string;
  /** Significance is adjusted p ≤ 1 − confidence. */
  confidence: number;
  /** How the p-values were adjusted for testing them all. */
  correction: 'holm';
  values: TestedValue[];
}

/** One value and its test: one feature's PSI, or the accuracy drop. */
export type TestedValue = DriftTest | PairedTest;

interface TestOfValue {
  /** What it is the value of, in words: "feature amount", "the predictions". */
  subject: string;
  value: number;
  /** P(a value at least this extreme) if nothing differs, before correction. */
  pValue: number;
  /** After the correction over all of `TestedValues.values`. */
  adjustedPValue: number;
}

/** A PSI against "the reference and current data come from one population". */
export interface DriftTest extends TestOfValue {
  method: 'chi-squared' | 'permutation';
  referenceSamples: number;
  currentSamples: number;
  /** [0, upper]: where the value falls by chance alone with probability `confidence`. */
  noiseBand: [number, number];
}

/**
 * McNemar's exact test of "the teacher and the candidate are right equally often" on the
 * labelled rows where exactly one of them is right.
 */
export interface PairedTest extends TestOfValue {
  method: 'mcnemar-exact';
  /** Labelled rows. */
  samples: number;
  /** b: rows only the teacher got right. */
  teacherOnlyCorrect: number;
  /** c: rows only the candidate got right. */
  candidateOnlyCorrect: number;
}

/** A metric that could not be computed, and why; it is never graded. */
export interface DisabledMetric {
  name: MetricName;
  reason: string;
}

export type MetricOutcome = { computed: MetricResult } | { disabled: DisabledMetric };
