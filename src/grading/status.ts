import type { MetricResult, PrunedModelEvaluationSpec, SliceResult } from '../api/v1alpha1/index.js';
import type { EvaluationAccumulator, EvaluationReport } from '../metrics/index.js';
import { grade, type GradedReport } from './grade-report.js';
import type { GradedMetric } from './grade.js';
import type { GradingOverrides } from './overrides.js';

export interface GradedRun {
  graded: GradedReport;
  /** Current-data rows over all shards. */
  samples: number;
  metrics: MetricResult[];
  slices: SliceResult[];
  /** The inputs behind the values (docs/metrics.md's `details.*`): too large for a status. */
  details: EvaluationReport['details'];
}

/** spec.thresholds and spec.sliceThresholds in the grading engine's terms. */
export function gradingOverrides(spec: PrunedModelEvaluationSpec): GradingOverrides {
  const slices: NonNullable<GradingOverrides['slices']> = {};
  for (const entry of spec.sliceThresholds ?? []) {
    slices[entry.slice] = {
      ...slices[entry.slice],
      [entry.metric]: { target: entry.target, warning: entry.warning },
    };
  }
  return { thresholds: spec.thresholds, slices };
}

/** Grades one accumulator as the operator writes it to status; `pruneguard evaluate` prints the same. */
export function gradeEvaluation(
  accumulator: EvaluationAccumulator,
  spec: PrunedModelEvaluationSpec,
): GradedRun {
  const report = accumulator.result();
  const graded = grade(report, gradingOverrides(spec));
  return {
    graded,
    samples: report.rows.current,
    metrics: graded.metrics.map(statusMetric),
    slices: graded.slices.map((slice) => ({
      slice: slice.slice,
      samples: slice.samples,
      metrics: slice.metrics.map(statusMetric),
    })),
    details: report.details,
  };
}

function statusMetric(metric: GradedMetric): MetricResult {
  const detail: Record<string, unknown> = {};
  if (metric.detail) detail.note = metric.detail;
  if (metric.reason) detail.reason = metric.reason;
  const test = metric.test;
  if (test) {
    // What `pruneguard evaluate` and kubectl show next to a drift value or a drop: could it be chance?
    detail.pValue = roundForStatus(test.pValue);
    detail.adjustedPValue = roundForStatus(test.adjustedPValue);
    if (test.method === 'mcnemar-exact') {
      detail.teacherOnlyCorrect = test.teacherOnlyCorrect;
      detail.candidateOnlyCorrect = test.candidateOnlyCorrect;
    } else detail.noiseBand = test.noiseBand.map(roundForStatus);
    detail.testMethod = test.method;
    detail.tests = test.tests;
  }
  for (const [fact, value] of Object.entries(metric.facts ?? {}))
    detail[fact] = Array.isArray(value) ? value.map(roundForStatus) : roundFact(value);
  return {
    name: metric.name,
    value: roundForStatus(metric.value),
    grade: metric.decides ? metric.grade : 'Disabled',
    target: metric.target,
    warning: metric.warning,
    ...(metric.interval
      ? { interval: [roundForStatus(metric.interval.lower), roundForStatus(metric.interval.upper)] }
      : {}),
    samples: metric.samples,
    ...(Object.keys(detail).length > 0 ? { detail } : {}),
  };
}

/** Counts exactly, other numbers as `roundForStatus`. */
function roundFact(value: number): number {
  return Number.isInteger(value) ? value : roundForStatus(value);
}

/** Six significant digits: enough to reproduce a grade, and a status that does not churn on noise. */
function roundForStatus(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : value;
}
