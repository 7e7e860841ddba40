/**
 * The metrics pruneguard grades and their default thresholds: the table in docs/metrics.md
 * (from the design's "Metrics and default thresholds"). This is the single source for the CRD
 * schema defaults, the grading engine and the docs.
 *
 * A threshold has two edges. For a metric where lower is better, a value better than `target`
 * passes, a value between `target` and `warning` is a Warning, and a value worse than `warning`
 * is Critical; for higher-is-better metrics the comparisons flip. `passAtTarget` says on which
 * side a value exactly on `target` falls, as the design table writes it ("< 0.02" vs "≤ 0.50").
 */
export const metricNames = [
  'accuracyDrop',
  'negativeFlipRate',
  'classRecallDrop',
  'calibrationChange',
  'p95LatencyMs',
  'memoryRatio',
  'powerWatts',
  'energyPer1kInferencesJoules',
  'demographicParity',
  'psi',
  'missingValueIncrease',
  'throughputQps',
  'carbonKgPer1M',
] as const;

export type MetricName = (typeof metricNames)[number];

export type Direction = 'lowerIsBetter' | 'higherIsBetter';

export interface Threshold {
  target: number;
  warning: number;
}

export interface MetricDefinition {
  direction: Direction;
  defaults: Threshold;
  passAtTarget: boolean;
  unit: string;
  description: string;
}

export const metricDefinitions: Record<MetricName, MetricDefinition> = {
  accuracyDrop: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.02, warning: 0.05 },
    passAtTarget: false,
    unit: 'fraction',
    description:
      'teacher accuracy − candidate accuracy (absolute); without labels, 1 − top-1 agreement with the teacher',
  },
  negativeFlipRate: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.02, warning: 0.05 },
    passAtTarget: false,
    unit: 'fraction',
    description:
      'share of labelled rows the teacher gets right and the candidate gets wrong (negative flips, Yan et al. 2021)',
  },
  classRecallDrop: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.05, warning: 0.1 },
    passAtTarget: false,
    unit: 'fraction',
    description:
      'largest per-class recall drop, teacher − candidate, over classes with at least minGroupCount labelled rows (McNemar per class, Holm)',
  },
  calibrationChange: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.02, warning: 0.05 },
    passAtTarget: false,
    unit: 'fraction',
    description:
      'expected calibration error (top label, 15 equal-width bins) of the candidate − the teacher’s, on labelled rows',
  },
  p95LatencyMs: {
    direction: 'lowerIsBetter',
    defaults: { target: 100, warning: 200 },
    passAtTarget: false,
    unit: 'ms',
    description: 'candidate p95 latency, one request at a time after warm-up, on the pod’s own hardware',
  },
  memoryRatio: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.5, warning: 0.7 },
    passAtTarget: true,
    unit: 'ratio',
    description: 'candidate runtime resident memory / teacher runtime resident memory',
  },
  powerWatts: {
    direction: 'lowerIsBetter',
    defaults: { target: 150, warning: 300 },
    passAtTarget: false,
    unit: 'W',
    description:
      'attributed power: average power while the candidate runs minus the same meter’s idle power before it (NVML, RAPL or an estimate; the status says which)',
  },
  energyPer1kInferencesJoules: {
    direction: 'lowerIsBetter',
    defaults: { target: 150, warning: 600 },
    passAtTarget: false,
    unit: 'J',
    description: 'attributed energy (under load − idle, one meter) per 1000 candidate inferences',
  },
  demographicParity: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.01, warning: 0.05 },
    passAtTarget: false,
    unit: 'fraction',
    description: 'max − min positive-prediction rate across groups of the sensitive attribute',
  },
  psi: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.1, warning: 0.25 },
    passAtTarget: false,
    unit: 'index',
    description: 'population stability index, reference vs current, per feature and for predictions',
  },
  missingValueIncrease: {
    direction: 'lowerIsBetter',
    defaults: { target: 0.01, warning: 0.05 },
    passAtTarget: false,
    unit: 'fraction',
    description:
      'worst feature: share of current rows with the value missing or invalid − the same share in the reference',
  },
  throughputQps: {
    direction: 'higherIsBetter',
    defaults: { target: 1000, warning: 500 },
    passAtTarget: true,
    unit: 'inferences/s',
    description: 'sustained inferences per second at the configured batch size and concurrency',
  },
  carbonKgPer1M: {
    direction: 'lowerIsBetter',
    defaults: { target: 1, warning: 5 },
    passAtTarget: false,
    unit: 'kg CO2e',
    description: 'energy per inference × 1e6 × grid intensity (kg CO2e/kWh) × PUE',
  },
};
