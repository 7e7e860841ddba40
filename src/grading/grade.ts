import { metricDefinitions, type MetricName, type Threshold } from '../api/v1alpha1/thresholds.js';
import type { MetricResult } from '../metrics/index.js';

export type Grade = 'Pass' | 'Warning' | 'Critical' | 'Inconclusive';

/**
 * How bad a grade is, for "worst of". Inconclusive sits between Pass and Warning: a confirmed
 * Warning says more than "cannot tell", and both hold a rollout; only a confirmed Critical acts.
 */
export const gradeSeverity: Record<Grade, number> = { Pass: 0, Inconclusive: 1, Warning: 2, Critical: 3 };

export interface GradedMetric {
  name: MetricName;
  value: number;
  grade: Grade;
  target: number;
  warning: number;
  interval?: { lower: number; upper: number };
  samples: number;
  detail?: string;
  /** Why a breach is Inconclusive. */
  reason?: string;
  /** False when switched off by an override: shown, but not part of the verdict. */
  decides: boolean;
}

export interface GradingRule extends Threshold {
  minSamples: number;
  enabled: boolean;
}

/** The band a value falls in, by the design table's edges (see `passAtTarget`). */
export function bandOf(
  name: MetricName,
  value: number,
  threshold: Threshold,
): 'Pass' | 'Warning' | 'Critical' {
  const { direction, passAtTarget } = metricDefinitions[name];
  const worseThan =
    direction === 'lowerIsBetter' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  if (worseThan(value, threshold.warning)) return 'Critical';
  if (worseThan(value, threshold.target) || (!passAtTarget && value === threshold.target)) return 'Warning';
  return 'Pass';
}

/**
 * A breach counts only when the data supports it: with too few samples, or when the interval's
 * better end falls in a better band than the point (the interval straddles the edge), the grade
 * is Inconclusive. A point that passes passes: small samples must be able to pass.
 */
export function gradeMetric(result: MetricResult, rule: GradingRule): GradedMetric {
  const graded: GradedMetric = {
    name: result.name,
    value: result.value,
    grade: 'Pass',
    target: rule.target,
    warning: rule.warning,
    samples: result.samples,
    decides: rule.enabled,
  };
  if (result.interval) graded.interval = { lower: result.interval.lower, upper: result.interval.upper };
  if (result.detail !== undefined) graded.detail = result.detail;
  if (Number.isNaN(result.value)) {
    graded.grade = 'Inconclusive';
    graded.reason = 'the value is not a number';
    return graded;
  }
  const point = bandOf(result.name, result.value, rule);
  graded.grade = point;
  if (point === 'Pass') return graded;
  if (result.samples < rule.minSamples) {
    graded.grade = 'Inconclusive';
    graded.reason = `only ${result.samples} samples, fewer than the ${rule.minSamples} needed to grade`;
    return graded;
  }
  if (result.interval) {
    const better =
      metricDefinitions[result.name].direction === 'lowerIsBetter'
        ? result.interval.lower
        : result.interval.upper;
    const supported = bandOf(result.name, better, rule);
    if (supported !== point) {
      graded.grade = 'Inconclusive';
      const edge = point === 'Critical' ? 'warning' : 'target';
      graded.reason = `the ${Math.round(result.interval.confidence * 100)}% interval reaches back across the ${edge} edge`;
    }
  }
  return graded;
}
