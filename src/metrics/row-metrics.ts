import { accuracyDropMetric } from './accuracy-drop.js';
import { calibrationChangeMetric } from './calibration-change.js';
import { classRecallDropMetric } from './class-recall-drop.js';
import { demographicParityMetric } from './demographic-parity.js';
import { missingValueIncreaseMetric } from './missing-value-increase.js';
import type { RowMetricKind } from './row-metric.js';

/**
 * Every row metric, by name (row-metric.ts). A shard's state keeps each one's state under its
 * name; the order here is only the order of their states.
 */
export const rowMetrics: readonly RowMetricKind[] = [
  accuracyDropMetric,
  demographicParityMetric,
  missingValueIncreaseMetric,
  classRecallDropMetric,
  calibrationChangeMetric,
];

/**
 * The evaluation state's version. 2: row metrics keyed by name in `metrics` (1 had `accuracy`
 * and `fairness`). A kind added later says so in `since`; states up to 1 version older read.
 */
export const evaluationStateVersion = 2;
