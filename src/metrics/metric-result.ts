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
}

/** A metric that could not be computed, and why; it is never graded. */
export interface DisabledMetric {
  name: MetricName;
  reason: string;
}

export type MetricOutcome = { computed: MetricResult } | { disabled: DisabledMetric };
