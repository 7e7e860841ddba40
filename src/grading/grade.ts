import {
  metricDefinitions,
  type Direction,
  type MetricName,
  type Threshold,
} from '../api/v1alpha1/thresholds.js';
import type { MetricResult } from '../metrics/index.js';
import type { TestedValue, TestedValues } from '../metrics/metric-result.js';
import { formatValue } from './explanation.js';

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
  /** For a metric graded on tested values (psi, accuracyDrop): the test of the value shown. */
  test?: ShownTest;
  /** Numbers shown beside the value (the metric's `facts`). */
  facts?: Record<string, number | [number, number]>;
  /** False when switched off by an override: shown, but not part of the verdict. */
  decides: boolean;
}

/** The shown value's test, with the size of the family Holm's correction ran over (`tests`). */
export type ShownTest = TestedValue & { tests: number; confidence: number };

export interface GradingRule extends Threshold {
  minSamples: number;
  enabled: boolean;
}

export type Band = 'Pass' | 'Warning' | 'Critical';

/** The band a value falls in, by the design table's edges (see `passAtTarget`). */
export function bandOf(name: MetricName, value: number, threshold: Threshold): Band {
  const { direction, passAtTarget } = metricDefinitions[name];
  return band(value, threshold, direction, passAtTarget);
}

/** The band a value falls in; `passAtTarget` says on which side a value exactly on target falls. */
export function band(value: number, threshold: Threshold, direction: Direction, passAtTarget: boolean): Band {
  const worseThan =
    direction === 'lowerIsBetter' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  if (worseThan(value, threshold.warning)) return 'Critical';
  if (worseThan(value, threshold.target) || (!passAtTarget && value === threshold.target)) return 'Warning';
  return 'Pass';
}

/**
 * Why a breach graded on its point is not supported by its interval, or undefined: the interval's
 * better end lies in a better band than the point, so the data cannot tell the breach from chance.
 */
export function intervalDoubt(point: Grade, betterEnd: Band, confidence: number): string | undefined {
  if ((point !== 'Warning' && point !== 'Critical') || betterEnd === point) return undefined;
  const edge = point === 'Critical' ? 'warning' : 'target';
  return `the ${Math.round(confidence * 100)}% interval reaches back across the ${edge} edge`;
}

/**
 * A breach counts only when the data supports it: with too few samples, or, for a metric whose
 * values are tested against "no difference" (psi, accuracyDrop), when no breaching value is
 * significant, or when the interval's better end falls in a better band than the point (the
 * interval straddles the edge), the grade is Inconclusive. A point that passes passes: small
 * samples must be able to pass.
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
  if (result.facts !== undefined) graded.facts = result.facts;
  if (Number.isNaN(result.value)) {
    graded.grade = 'Inconclusive';
    graded.reason = 'the value is not a number';
    return graded;
  }
  const point = bandOf(result.name, result.value, rule);
  graded.grade = point;
  if (point === 'Pass') {
    if (result.tests) showTest(graded, result.tests, worstOf(result.name, result.tests.values));
    return graded;
  }
  if (result.samples < rule.minSamples) {
    graded.grade = 'Inconclusive';
    graded.reason = `only ${result.samples} samples, fewer than the ${rule.minSamples} needed to grade`;
    if (result.tests) showTest(graded, result.tests, worstOf(result.name, result.tests.values));
    return graded;
  }
  if (result.tests && gradeTested(graded, result.tests, rule).grade === 'Inconclusive') return graded;
  if (result.interval) {
    const better =
      metricDefinitions[result.name].direction === 'lowerIsBetter'
        ? result.interval.lower
        : result.interval.upper;
    const doubt = intervalDoubt(graded.grade, bandOf(result.name, better, rule), result.interval.confidence);
    if (doubt) {
      graded.grade = 'Inconclusive';
      graded.reason = doubt;
    }
  }
  return graded;
}

/**
 * A value breaches only where it clears two bars: it lies beyond the target (the effect-size
 * floor: the thresholds say how much drift or drop matters) and it is significant after the
 * correction (the data says it is not chance). The metric is graded on the worst value that
 * clears both; when the worst value breaches but none that breaches is significant, it is
 * Inconclusive. The one place significance turns a breach Inconclusive, for every tested metric.
 */
function gradeTested(graded: GradedMetric, tests: TestedValues, rule: GradingRule): GradedMetric {
  const alpha = 1 - tests.confidence;
  const worst = worstOf(graded.name, tests.values);
  const supported = tests.values.filter(
    (v) => bandOf(graded.name, v.value, rule) !== 'Pass' && v.adjustedPValue <= alpha,
  );
  if (supported.length === 0) {
    graded.grade = 'Inconclusive';
    graded.reason = chanceReason(graded.name, tests, worst, rule);
    showTest(graded, tests, worst);
    return graded;
  }
  const shown = worstOf(graded.name, supported);
  graded.grade = bandOf(graded.name, shown.value, rule);
  if (shown !== worst) {
    graded.value = shown.value;
    graded.samples = samplesOf(shown);
    graded.detail = `worst significant: ${shown.subject}; ${worst.subject} reaches ${formatValue(graded.name, worst.value)}, ${
      worst.adjustedPValue > alpha ? 'not significant' : 'significant too'
    }`;
  }
  showTest(graded, tests, shown);
  return graded;
}

function worstOf(name: MetricName, values: TestedValue[]): TestedValue {
  const lowerIsBetter = metricDefinitions[name].direction === 'lowerIsBetter';
  return values.reduce((worst, v) =>
    (lowerIsBetter ? v.value > worst.value : v.value < worst.value) ? v : worst,
  );
}

function samplesOf(value: TestedValue): number {
  return value.method === 'mcnemar-exact'
    ? value.samples
    : Math.min(value.referenceSamples, value.currentSamples);
}

/**
 * Records the shown value's test and says it in the detail: its p-value and, unless the reason
 * already gives it, a drift test's noise band.
 */
function showTest(graded: GradedMetric, tests: TestedValues, shown: TestedValue): void {
  graded.test = { ...shown, tests: tests.values.length, confidence: tests.confidence };
  const parts = [graded.detail ?? shown.subject, testText(shown)];
  if (tests.values.length > 1)
    parts[1] += `, Holm-adjusted ${pValueText(shown.adjustedPValue)} over ${tests.values.length} tests`;
  if (graded.reason === undefined && shown.method !== 'mcnemar-exact')
    parts.push(`${percent(tests.confidence)} noise band ${bandText(graded.name, shown.noiseBand)}`);
  graded.detail = parts.join('; ');
}

/**
 * "n=133 vs 200: PSI 0.18 is within the 95% noise band 0–0.21",
 * "accuracyDrop 3.1% > 2% but McNemar p = 0.21 (b=7, c=3): the drop may be chance"
 */
function chanceReason(name: MetricName, tests: TestedValues, worst: TestedValue, rule: GradingRule): string {
  const alpha = 1 - tests.confidence;
  const value = `${tests.statistic} ${formatValue(name, worst.value)}`;
  const holm = `not significant after Holm's correction over ${tests.values.length} tests (adjusted ${pText(worst.adjustedPValue)})`;
  if (worst.method === 'mcnemar-exact') {
    const lowerIsBetter = metricDefinitions[name].direction === 'lowerIsBetter';
    const edge = bandOf(name, worst.value, rule) === 'Critical' ? rule.warning : rule.target;
    const what = `${value} ${lowerIsBetter ? '>' : '<'} ${formatValue(name, edge)} but ${testText(worst)}`;
    return worst.pValue > alpha ? `${what}: the drop may be chance` : `${what}, ${holm}`;
  }
  const band = `the ${percent(tests.confidence)} noise band ${bandText(name, worst.noiseBand)}`;
  const what = `n=${worst.currentSamples} vs ${worst.referenceSamples}: ${value}`;
  if (worst.pValue > alpha) return `${what} is within ${band}`;
  return `${what} is above ${band} (${pText(worst.pValue)}) but ${holm}`;
}

/** "p = 0.25", "McNemar p = 0.21 (b=7, c=3)" */
function testText(value: TestedValue): string {
  return value.method === 'mcnemar-exact'
    ? `McNemar ${pText(value.pValue)} (b=${value.teacherOnlyCorrect}, c=${value.candidateOnlyCorrect})`
    : pText(value.pValue);
}

/** "0.31", "< 0.001" */
function pValueText(p: number): string {
  return p < 0.001 ? '< 0.001' : String(Number(p.toPrecision(2)));
}

/** "p = 0.31", "p < 0.001" */
export function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${pValueText(p)}`;
}

function percent(confidence: number): string {
  return `${Number((confidence * 100).toPrecision(4))}%`;
}

function bandText(name: MetricName, [lower, upper]: [number, number]): string {
  return `${formatValue(name, lower)}–${formatValue(name, upper)}`;
}
