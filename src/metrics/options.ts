import { defaultEnergy, defaultMaxSliceValues } from '../api/v1alpha1/spec.js';
export type Task = 'classification' | 'regression';

export interface EvaluationOptions {
  task: Task;
  /**
   * The class whose prediction counts as "positive" for demographic parity. Unset with several
   * classes: every class is checked one-vs-rest and the worst is reported.
   */
  positiveClass?: number;
  /** A single score at or above this is the positive class (classification); regression uses it for fairness only. */
  decisionThreshold?: number;
  /** Quantile bins of the reference for numeric PSI. */
  psiBins: number;
  /** Smallest proportion an empty PSI bin is given, so ln(0) never happens. */
  psiEpsilon: number;
  /** Slice crosses such as [['region', 'device_type']], besides every single slice column. */
  sliceCrosses: string[][];
  /** Also compute per-feature drift per slice (state grows by features × slices). */
  featureDriftPerSlice: boolean;
  /** Sensitive groups with fewer rows are reported but do not decide demographic parity. */
  minGroupCount: number;
  /** A slice column with more distinct values than this is refused: slices are for low-cardinality columns. */
  maxSliceValues: number;
  /** Two-sided confidence level of every interval. */
  confidence: number;
  /** Relative accuracy of the latency quantile sketch. */
  latencyRelativeAccuracy: number;
  /** Relative accuracy of the feature and prediction sketches behind PSI bins and KS. */
  featureRelativeAccuracy: number;
  gridIntensityKgPerKWh: number;
  /** Power usage effectiveness of the data centre (1 = no overhead). */
  pue: number;
}

export const defaultEvaluationOptions: EvaluationOptions = {
  task: 'classification',
  psiBins: 10,
  psiEpsilon: 1e-4,
  sliceCrosses: [],
  featureDriftPerSlice: false,
  minGroupCount: 30,
  maxSliceValues: defaultMaxSliceValues,
  confidence: 0.95,
  latencyRelativeAccuracy: 0.01,
  featureRelativeAccuracy: 0.02,
  gridIntensityKgPerKWh: defaultEnergy.gridIntensityKgPerKWh,
  pue: defaultEnergy.pue,
};

export function resolveOptions(options: Partial<EvaluationOptions>): EvaluationOptions {
  const resolved: EvaluationOptions = { ...defaultEvaluationOptions };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  const problems: string[] = [];
  // Types first: comparisons alone would take the string "0.5" for a number.
  for (const [key, fallback] of Object.entries(defaultEvaluationOptions)) {
    const value = (resolved as unknown as Record<string, unknown>)[key];
    const wrong = Array.isArray(fallback)
      ? !Array.isArray(value)
      : typeof value !== typeof fallback || (typeof value === 'number' && !Number.isFinite(value));
    if (wrong) problems.push(`${key} must be ${describeType(fallback)}, got ${JSON.stringify(value)}`);
  }
  if (
    resolved.positiveClass !== undefined &&
    !(Number.isInteger(resolved.positiveClass) && resolved.positiveClass >= 0)
  )
    problems.push(
      `positiveClass must be a class index (an integer ≥ 0), got ${JSON.stringify(resolved.positiveClass)}`,
    );
  if (
    resolved.decisionThreshold !== undefined &&
    !(typeof resolved.decisionThreshold === 'number' && Number.isFinite(resolved.decisionThreshold))
  )
    problems.push(`decisionThreshold must be a number, got ${JSON.stringify(resolved.decisionThreshold)}`);
  if (problems.length > 0) throw new Error(`evaluation options: ${problems.join('; ')}`);
  if (resolved.task !== 'classification' && resolved.task !== 'regression')
    problems.push(`task must be classification or regression, got ${String(resolved.task)}`);
  if (!Number.isInteger(resolved.psiBins) || resolved.psiBins < 2)
    problems.push(`psiBins must be an integer ≥ 2, got ${resolved.psiBins}`);
  if (!(resolved.psiEpsilon > 0 && resolved.psiEpsilon < 0.1))
    problems.push(`psiEpsilon must be in (0, 0.1), got ${resolved.psiEpsilon}`);
  if (!(resolved.confidence > 0.5 && resolved.confidence < 1))
    problems.push(`confidence must be in (0.5, 1), got ${resolved.confidence}`);
  if (!Number.isInteger(resolved.maxSliceValues) || resolved.maxSliceValues < 1)
    problems.push(`maxSliceValues must be an integer ≥ 1, got ${resolved.maxSliceValues}`);
  if (!(resolved.minGroupCount >= 1))
    problems.push(`minGroupCount must be ≥ 1, got ${resolved.minGroupCount}`);
  for (const key of ['latencyRelativeAccuracy', 'featureRelativeAccuracy'] as const) {
    if (!(resolved[key] > 0 && resolved[key] < 0.5))
      problems.push(`${key} must be in (0, 0.5), got ${resolved[key]}`);
  }
  if (!(resolved.gridIntensityKgPerKWh >= 0))
    problems.push(`gridIntensityKgPerKWh must be ≥ 0, got ${resolved.gridIntensityKgPerKWh}`);
  if (!(resolved.pue >= 1)) problems.push(`pue must be ≥ 1, got ${resolved.pue}`);
  for (const cross of resolved.sliceCrosses) {
    if (!Array.isArray(cross) || cross.length < 2 || !cross.every((column) => typeof column === 'string'))
      problems.push(`each slice cross needs at least two slice columns, got ${JSON.stringify(cross)}`);
  }
  if (problems.length > 0) throw new Error(`evaluation options: ${problems.join('; ')}`);
  return resolved;
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'number' ? 'a finite number' : `a ${typeof value}`;
}

/** Every option a state may carry: the defaults' keys and the two without a default. */
const optionKeys = new Set([...Object.keys(defaultEvaluationOptions), 'positiveClass', 'decisionThreshold']);

/**
 * The options of a state read from outside. With `expected`, they must be exactly those: a shard
 * that ran with other options (more bins, another confidence, other crosses) measured something
 * other than what the spec asks for.
 */
export function readOptions(json: unknown, where: string, expected?: EvaluationOptions): EvaluationOptions {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${where} is not an object of evaluation options`);
  const options = json as Record<string, unknown>;
  for (const key of Object.keys(options))
    if (!optionKeys.has(key))
      throw new Error(`${where} has an unknown option ${JSON.stringify(key.slice(0, 60))}`);
  if (expected) {
    const wanted = expected as unknown as Record<string, unknown>;
    for (const key of optionKeys) {
      const actual = JSON.stringify(options[key]);
      const spec = JSON.stringify(wanted[key]);
      if (actual !== spec)
        throw new Error(
          `${where}.${key} is ${(actual ?? 'unset').slice(0, 200)}, expected ${spec ?? 'unset'} (from the run's spec)`,
        );
    }
  }
  return resolveOptions(options as Partial<EvaluationOptions>);
}

/** Accumulators built with different options cannot be merged: their numbers mean different things. */
export function assertSameOptions(a: EvaluationOptions, b: EvaluationOptions): void {
  const left = JSON.stringify(a, Object.keys(a).sort());
  const right = JSON.stringify(b, Object.keys(b).sort());
  if (left !== right) throw new Error(`cannot merge evaluations with different options: ${left} vs ${right}`);
}
