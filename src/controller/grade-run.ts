import type {
  EvaluationRun,
  MetricResult,
  PrunedModelEvaluationSpec,
  SliceResult,
} from '../api/v1alpha1/index.js';
import { grade, type GradedMetric, type GradedReport, type GradingOverrides } from '../grading/index.js';
import { EvaluationAccumulator } from '../metrics/index.js';

export interface GradedRun {
  graded: GradedReport;
  /** Current-data rows over all shards. */
  samples: number;
  metrics: MetricResult[];
  slices: SliceResult[];
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

/**
 * Merges every shard's accumulator state (exact for counts and histograms, within the sketch's
 * relative error for quantiles) and grades the result with the thresholds the run ran with.
 */
export function gradeRun(run: EvaluationRun): GradedRun {
  const shards = [...(run.status?.shards ?? [])].sort((a, b) => a.index - b.index);
  if (shards.length === 0) throw new Error(`EvaluationRun ${run.metadata.name} has no shard results`);
  const [first, ...rest] = shards.map((shard) => {
    try {
      return EvaluationAccumulator.fromJSON(shard.state);
    } catch (error) {
      throw new Error(
        `shard ${shard.index} of ${run.metadata.name} wrote an unreadable result: ${(error as Error).message}`,
      );
    }
  });
  for (const other of rest) first!.merge(other);
  const report = first!.result();
  const graded = grade(report, gradingOverrides(run.spec.evaluationSpec));
  return {
    graded,
    samples: report.rows.current,
    metrics: graded.metrics.map(statusMetric),
    slices: graded.slices.map((slice) => ({
      slice: slice.slice,
      samples: slice.samples,
      metrics: slice.metrics.map(statusMetric),
    })),
  };
}

function statusMetric(metric: GradedMetric): MetricResult {
  const detail: Record<string, string> = {};
  if (metric.detail) detail.note = metric.detail;
  if (metric.reason) detail.reason = metric.reason;
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

/** Six significant digits: enough to reproduce a grade, and a status that does not churn on noise. */
function roundForStatus(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : value;
}
