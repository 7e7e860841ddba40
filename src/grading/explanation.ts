import { metricDefinitions } from '../api/v1alpha1/thresholds.js';
import type { GradedMetric } from './grade.js';

/** A number the way a person reads it for this metric's unit. */
export function formatValue(metric: GradedMetric['name'], value: number): string {
  if (!Number.isFinite(value)) return String(value);
  switch (metricDefinitions[metric].unit) {
    case 'fraction':
      return `${trim((value * 100).toFixed(Math.abs(value) < 0.001 && value !== 0 ? 3 : 1))}%`;
    case 'ms':
      return `${trim(value.toFixed(value < 10 ? 2 : 0))} ms`;
    case 'W':
      return `${trim(value.toFixed(1))} W`;
    case 'J':
      return `${trim(Math.abs(value) < 0.1 && value !== 0 ? value.toPrecision(3) : value.toFixed(1))} J`;
    case 'inferences/s':
      return `${trim(value.toFixed(0))}/s`;
    case 'kg CO2e':
      return `${trim(value.toPrecision(3))} kg`;
    default:
      return trim(value.toFixed(Math.abs(value) < 0.01 && value !== 0 ? 4 : 2));
  }
}

function trim(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** "accuracyDrop 6.1% [5.2%, 7%] > 5% critical in slice region=eu" */
export function describe(metric: GradedMetric, slice?: string): string {
  const { direction } = metricDefinitions[metric.name];
  const worse = direction === 'lowerIsBetter' ? '>' : '<';
  const value = formatValue(metric.name, metric.value);
  const interval = metric.interval
    ? ` [${formatValue(metric.name, metric.interval.lower)}, ${formatValue(metric.name, metric.interval.upper)}]`
    : '';
  const where = slice === undefined ? '' : ` in slice ${slice}`;
  const about = metric.detail ? ` (${metric.detail})` : '';
  const target = formatValue(metric.name, metric.target);
  const warning = formatValue(metric.name, metric.warning);
  switch (metric.grade) {
    case 'Critical':
      return `${metric.name} ${value}${interval} ${worse} ${warning} critical${where}${about}`;
    case 'Warning':
      return `${metric.name} ${value}${interval} misses the ${target} target${where}${about}, within the ${warning} warning limit`;
    case 'Inconclusive':
      return `${metric.name} ${value}${interval} looks like a breach${where}${about} but is inconclusive: ${metric.reason ?? 'too little data'}`;
    case 'Pass':
      return `${metric.name} ${value}${interval} meets the ${target} target${where}`;
  }
}
