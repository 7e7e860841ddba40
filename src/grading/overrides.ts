import { metricDefinitions, metricNames, type MetricName } from '../api/v1alpha1/thresholds.js';
import type { GradingRule } from './grade.js';

/** What a user may change per metric (spec.thresholds), overall or for some slices. */
export interface MetricOverride {
  target?: number;
  warning?: number;
  /** false: still computed and shown, never part of the verdict. */
  enabled?: boolean;
  /** Fewer samples than this turn a breach into Inconclusive. */
  minSamples?: number;
}

export type ThresholdOverrides = Partial<Record<MetricName, MetricOverride>>;

export interface GradingOverrides {
  thresholds?: ThresholdOverrides;
  /**
   * Per-slice overrides, keyed by an exact slice ("region=eu", "region=eu,device_type=mobile")
   * or by a slice column ("region", for all its values). The exact slice wins over the column,
   * the column over `thresholds`.
   */
  slices?: Record<string, ThresholdOverrides>;
  /** Slices with fewer current rows are graded and shown but do not decide the verdict. */
  minSliceSamples?: number;
}

/**
 * Samples below which a breach is not believed. Metrics with an interval mostly rely on it;
 * these floors catch the cases where an interval is unavailable or its approximation is poor.
 */
export const defaultMinSamples: Record<MetricName, number> = {
  accuracyDrop: 30,
  negativeFlipRate: 30,
  classRecallDrop: 30,
  calibrationChange: 100,
  p95LatencyMs: 20,
  memoryRatio: 1,
  powerWatts: 1,
  energyPer1kInferencesJoules: 1,
  demographicParity: 30,
  psi: 100,
  missingValueIncrease: 30,
  throughputQps: 1,
  carbonKgPer1M: 1,
};

export const defaultMinSliceSamples = 100;

export function ruleFor(name: MetricName, overrides: GradingOverrides, slice?: string): GradingRule {
  const { defaults } = metricDefinitions[name];
  const layers: (MetricOverride | undefined)[] = [overrides.thresholds?.[name]];
  if (slice !== undefined) {
    const parts = slice.split(',');
    if (parts.length === 1 && parts[0]!.includes('=')) {
      layers.push(overrides.slices?.[parts[0]!.slice(0, parts[0]!.indexOf('='))]?.[name]);
    }
    layers.push(overrides.slices?.[slice]?.[name]);
  }
  const rule: GradingRule = { ...defaults, minSamples: defaultMinSamples[name], enabled: true };
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (layer.target !== undefined) rule.target = layer.target;
    if (layer.warning !== undefined) rule.warning = layer.warning;
    if (layer.enabled !== undefined) rule.enabled = layer.enabled;
    if (layer.minSamples !== undefined) rule.minSamples = layer.minSamples;
  }
  return rule;
}

/** Refuses overrides that make no sense, naming the metric and where the override came from. */
export function validateOverrides(overrides: GradingOverrides): void {
  const problems: string[] = [];
  const check = (where: string, thresholds: ThresholdOverrides | undefined, slice?: string) => {
    for (const [name, override] of Object.entries(thresholds ?? {})) {
      if (!(metricNames as readonly string[]).includes(name)) {
        problems.push(`${where}: unknown metric ${name} (known: ${metricNames.join(', ')})`);
        continue;
      }
      const metric = name as MetricName;
      const rule =
        slice === undefined
          ? ruleFor(metric, { thresholds: { [metric]: override } })
          : ruleFor(
              metric,
              { thresholds: overrides.thresholds, slices: { [slice]: { [metric]: override } } },
              slice,
            );
      for (const key of ['target', 'warning', 'minSamples'] as const) {
        const value = override?.[key];
        if (value !== undefined && !Number.isFinite(value))
          problems.push(`${where}.${name}.${key} must be a number`);
      }
      const lowerIsBetter = metricDefinitions[metric].direction === 'lowerIsBetter';
      if (lowerIsBetter ? rule.warning < rule.target : rule.warning > rule.target)
        problems.push(
          `${where}.${name}: warning ${rule.warning} must be ${lowerIsBetter ? 'at or above' : 'at or below'} target ${rule.target} (${lowerIsBetter ? 'lower' : 'higher'} is better)`,
        );
    }
  };
  check('thresholds', overrides.thresholds);
  for (const [slice, thresholds] of Object.entries(overrides.slices ?? {}))
    check(`slices[${slice}]`, thresholds, slice);
  if (problems.length > 0) throw new Error(`grading overrides: ${problems.join('; ')}`);
}
