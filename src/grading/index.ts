/**
 * Grading: thresholds → grade per metric and slice → verdict, with intervals and hysteresis.
 */
export { grade } from './grade-report.js';
export type { GradedReport, GradedSlice, Verdict } from './grade-report.js';
export { bandOf, gradeMetric, gradeSeverity } from './grade.js';
export type { Grade, GradedMetric, GradingRule } from './grade.js';
export { defaultMinSamples, defaultMinSliceSamples, ruleFor, validateOverrides } from './overrides.js';
export type { GradingOverrides, MetricOverride, ThresholdOverrides } from './overrides.js';
export { applyHysteresis } from './hysteresis.js';
export type { HysteresisOutcome, HysteresisPolicy, HysteresisState } from './hysteresis.js';
export { describe as describeGrade, formatValue } from './explanation.js';
export { gradeEvaluation, gradingOverrides, type GradedRun } from './status.js';
