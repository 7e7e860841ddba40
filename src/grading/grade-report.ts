import { metricNames } from '../api/v1alpha1/thresholds.js';
import type { DisabledMetric, EvaluationReport } from '../metrics/index.js';
import { describe } from './explanation.js';
import { gradeMetric, gradeSeverity, type Grade, type GradedMetric } from './grade.js';
import { defaultMinSliceSamples, ruleFor, validateOverrides, type GradingOverrides } from './overrides.js';

export type Verdict = Grade;

export interface GradedSlice {
  slice: string;
  samples: number;
  /** False when the slice has fewer than minSliceSamples rows: shown, not part of the verdict. */
  decides: boolean;
  metrics: GradedMetric[];
}

export interface GradedReport {
  verdict: Verdict;
  metrics: GradedMetric[];
  slices: GradedSlice[];
  /** Metrics that could not be computed (no labels or teacher, no sensitive attribute, no energy samples…). */
  disabled: DisabledMetric[];
  /** One sentence: why the verdict is what it is. */
  explanation: string;
}

/**
 * Grades every computed metric overall and per slice against its threshold (defaults from
 * src/api/v1alpha1/thresholds.ts, then overrides). The verdict is the worst grade among the
 * metrics and slices that decide; with nothing to grade it is Inconclusive.
 */
export function grade(report: EvaluationReport, overrides: GradingOverrides = {}): GradedReport {
  validateOverrides(overrides);
  const minSliceSamples = overrides.minSliceSamples ?? defaultMinSliceSamples;
  const metrics = report.metrics.map((result) => gradeMetric(result, ruleFor(result.name, overrides)));
  const slices = report.slices.map((slice): GradedSlice => ({
    slice: slice.slice,
    samples: slice.samples,
    decides: slice.samples >= minSliceSamples,
    metrics: slice.metrics.map((result) => gradeMetric(result, ruleFor(result.name, overrides, slice.slice))),
  }));

  const deciding: { metric: GradedMetric; slice?: string }[] = [
    ...metrics.filter((m) => m.decides).map((metric) => ({ metric })),
    ...slices
      .filter((s) => s.decides)
      .flatMap((s) => s.metrics.filter((m) => m.decides).map((metric) => ({ metric, slice: s.slice }))),
  ];
  if (deciding.length === 0) {
    return {
      verdict: 'Inconclusive',
      metrics,
      slices,
      disabled: report.disabled,
      explanation:
        report.disabled.length > 0
          ? `nothing could be graded: ${report.disabled.map((d) => `${d.name} (${d.reason})`).join('; ')}`
          : 'nothing could be graded: no metric was computed or enabled',
    };
  }

  let verdict: Verdict = 'Pass';
  for (const { metric } of deciding)
    if (gradeSeverity[metric.grade] > gradeSeverity[verdict]) verdict = metric.grade;
  return { verdict, metrics, slices, disabled: report.disabled, explanation: explain(verdict, deciding) };
}

function explain(verdict: Verdict, deciding: { metric: GradedMetric; slice?: string }[]): string {
  if (verdict === 'Pass') {
    const overall = deciding.filter((d) => d.slice === undefined).length;
    const sliced = new Set(deciding.filter((d) => d.slice !== undefined).map((d) => d.slice)).size;
    return `all ${overall} graded metrics meet their targets${sliced > 0 ? `, overall and in ${sliced} slices` : ''}`;
  }
  const culprits = deciding.filter((d) => d.metric.grade === verdict);
  // The largest excess over the edge that decided the grade is the most telling example.
  culprits.sort((a, b) => excess(b.metric) - excess(a.metric) || order(a) - order(b));
  const first = culprits[0]!;
  const others = culprits.length - 1;
  return `${describe(first.metric, first.slice)}${others > 0 ? ` (and ${others} more ${verdict.toLowerCase()})` : ''}`;
}

function excess(metric: GradedMetric): number {
  const edge = metric.grade === 'Critical' ? metric.warning : metric.target;
  const scale = Math.abs(edge) > 0 ? Math.abs(edge) : 1;
  return Math.abs(metric.value - edge) / scale;
}

function order(entry: { metric: GradedMetric; slice?: string }): number {
  return (entry.slice === undefined ? 0 : 100) + metricNames.indexOf(entry.metric.name);
}
