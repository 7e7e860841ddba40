/**
 * status.summary: the graded metrics as the short strings `kubectl get pme` prints. The controller
 * writes `summarize(status.metrics)` next to the metrics it summarizes.
 */
import type { MetricResult, Summary } from './status.js';
import { metricDefinitions } from './thresholds.js';

/** Three significant digits without an exponent: 0.0612 → "0.0612", 1234.5 → "1230". */
function significant(value: number): string {
  return String(Number(value.toPrecision(3)));
}

const byUnit: Record<string, (value: number) => string> = {
  fraction: (value) => `${(value * 100).toFixed(2)}%`,
  ms: (value) => `${significant(value)}ms`,
  W: (value) => `${significant(value)}W`,
  'inferences/s': (value) => `${significant(value)}/s`,
  'kg CO2e': (value) => `${significant(value)}kg`,
};

export function formatMetric(metric: MetricResult): string {
  if (!Number.isFinite(metric.value)) return String(metric.value);
  const format = byUnit[metricDefinitions[metric.name].unit] ?? significant;
  return format(metric.value);
}

export function summarize(metrics: readonly MetricResult[]): Summary {
  return Object.fromEntries(metrics.map((metric) => [metric.name, formatMetric(metric)]));
}
