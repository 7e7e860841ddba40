/**
 * The metric engine: pure, mergeable accumulators for every metric in docs/metrics.md.
 * The evaluator feeds `EvaluationAccumulator` batches and measurements; shards travel as
 * `toJSON()` in EvaluationRun status and are combined with `fromJSON` + `merge`.
 */
export { EvaluationAccumulator } from './evaluation.js';
export type { EvaluationReport, EvaluationState, SliceReport } from './evaluation.js';
export type {
  DatasetRole,
  EnergyMethod,
  EnergySample,
  EvaluationBatch,
  LatencySamples,
  MemoryMeasurement,
  ThroughputRun,
} from './batch.js';
export { energyMethodNames } from './batch.js';
export { defaultEvaluationOptions, resolveOptions } from './options.js';
export type { EvaluationOptions, Task } from './options.js';
export type { DisabledMetric, MetricResult } from './metric-result.js';
export type { Interval } from './intervals.js';
export type { FeatureDrift } from './slice-group.js';
export { predictionDriftName } from './slice-group.js';
export type { AccuracyDetails } from './accuracy-drop.js';
export type { FairnessDetails, GroupRate } from './demographic-parity.js';
export type { LatencyDetails, LatencySummary } from './latency.js';
export type { EnergyDetails } from './energy.js';
export type { MemoryState } from './memory.js';
export { QuantileSketch } from './quantile-sketch.js';
