import { AccuracyDropAccumulator, type AccuracyDropState } from './accuracy-drop.js';
import { DemographicParityAccumulator, type DemographicParityState } from './demographic-parity.js';
import {
  CategoricalDrift,
  driftFromJSON,
  NumericDrift,
  type Drift,
  type DriftResult,
  type DriftState,
} from './drift.js';
import type { DisabledMetric, MetricOutcome, MetricResult } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';

/**
 * The row-based metrics of one population: the whole data, or one slice of it. Latency,
 * throughput, memory and energy are measured per model, not per row, so they exist overall only.
 */
export interface SliceGroupState {
  rows: { reference: number; current: number };
  accuracy: AccuracyDropState;
  fairness: DemographicParityState;
  predictions: DriftState | null;
  /** [feature, drift] */
  features: [string, DriftState][];
}

export interface FeatureDrift extends DriftResult {
  feature: string;
  kind: 'numeric' | 'categorical';
}

/** What the candidate's predictions are called in drift results. */
export const predictionDriftName = '(prediction)';

export class SliceGroup {
  rows = { reference: 0, current: 0 };
  accuracy: AccuracyDropAccumulator;
  fairness: DemographicParityAccumulator;
  predictions: Drift | undefined;
  readonly features = new Map<string, Drift>();

  constructor(
    private readonly options: EvaluationOptions,
    private readonly withFeatures: boolean,
    state?: SliceGroupState,
    where = 'slice group',
  ) {
    this.accuracy = state
      ? AccuracyDropAccumulator.fromJSON(state.accuracy, options)
      : new AccuracyDropAccumulator(options);
    this.fairness = state
      ? DemographicParityAccumulator.fromJSON(state.fairness, options)
      : new DemographicParityAccumulator(options);
    if (state) {
      this.rows = { reference: state.rows.reference, current: state.rows.current };
      if (state.predictions) this.predictions = driftFromJSON(state.predictions, `${where} predictions`);
      for (const [feature, drift] of state.features)
        this.features.set(feature, driftFromJSON(drift, `${where} feature ${feature}`));
    }
  }

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch } = decoded;
    const dataset = batch.dataset;
    const count = indices ? indices.length : batch.rows;
    this.rows[dataset] += count;
    this.accuracy.update(decoded, indices);
    this.fairness.update(decoded, indices);
    this.updatePredictions(decoded, indices, count);
    if (!this.withFeatures) return;
    for (const [feature, values] of Object.entries(batch.numericFeatures)) {
      const drift = this.featureDrift(feature, 'numeric') as NumericDrift;
      const sketch = drift.sketchFor(dataset);
      if (indices === undefined) sketch.addAll(values);
      else for (let j = 0; j < count; j++) sketch.add(values[indices[j]!]!);
    }
    for (const [feature, values] of Object.entries(batch.categoricalFeatures)) {
      (this.featureDrift(feature, 'categorical') as CategoricalDrift).addAll(dataset, values, indices);
    }
  }

  private updatePredictions(decoded: DecodedBatch, indices: Int32Array | undefined, count: number): void {
    const { batch } = decoded;
    const dataset = batch.dataset;
    if (batch.outputWidth === 1) {
      if (this.predictions === undefined)
        this.predictions = new NumericDrift(this.options.featureRelativeAccuracy);
      if (!(this.predictions instanceof NumericDrift))
        throw new Error(`${dataset} batch: outputWidth 1, but earlier batches had several classes`);
      const sketch = this.predictions.sketchFor(dataset);
      const scores = batch.candidateScores;
      for (let j = 0; j < count; j++) sketch.add(scores[indices ? indices[j]! : j]!);
      return;
    }
    if (this.predictions === undefined) this.predictions = new CategoricalDrift();
    if (!(this.predictions instanceof CategoricalDrift))
      throw new Error(
        `${dataset} batch: outputWidth ${batch.outputWidth}, but earlier batches had one score`,
      );
    const classes = decoded.candidateClass!;
    const perClass = new Array<number>(decoded.classCount).fill(0);
    for (let j = 0; j < count; j++) perClass[classes[indices ? indices[j]! : j]!]!++;
    perClass.forEach((n, k) => {
      if (n > 0) (this.predictions as CategoricalDrift).add(dataset, String(k), n);
    });
  }

  private featureDrift(feature: string, kind: 'numeric' | 'categorical'): Drift {
    let drift = this.features.get(feature);
    if (drift === undefined) {
      drift =
        kind === 'numeric' ? new NumericDrift(this.options.featureRelativeAccuracy) : new CategoricalDrift();
      this.features.set(feature, drift);
    } else if (drift.kind !== kind) {
      throw new Error(`feature ${feature} is ${kind} in this batch but was ${drift.kind} before`);
    }
    return drift;
  }

  merge(other: SliceGroup): void {
    this.rows.reference += other.rows.reference;
    this.rows.current += other.rows.current;
    this.accuracy.merge(other.accuracy);
    this.fairness.merge(other.fairness);
    if (other.predictions) {
      if (this.predictions === undefined) this.predictions = cloneDrift(other.predictions);
      else mergeDrift(this.predictions, other.predictions, predictionDriftName);
    }
    for (const [feature, drift] of other.features) {
      const ours = this.features.get(feature);
      if (ours === undefined) this.features.set(feature, cloneDrift(drift));
      else mergeDrift(ours, drift, feature);
    }
  }

  driftResults(): FeatureDrift[] {
    const results: FeatureDrift[] = [];
    const add = (feature: string, drift: Drift) => {
      const result =
        drift instanceof NumericDrift
          ? drift.result(this.options.psiBins, this.options.psiEpsilon)
          : drift.result(this.options.psiEpsilon);
      if (result) results.push({ feature, kind: drift.kind, ...result });
    };
    if (this.predictions) add(predictionDriftName, this.predictions);
    for (const feature of [...this.features.keys()].sort()) add(feature, this.features.get(feature)!);
    return results;
  }

  psi(): MetricOutcome {
    const results = this.driftResults();
    if (results.length === 0)
      return { disabled: { name: 'psi', reason: 'needs both reference and current rows' } };
    let worst = results[0]!;
    for (const result of results) if (result.psi > worst.psi) worst = result;
    return {
      computed: {
        name: 'psi',
        value: worst.psi,
        samples: Math.min(worst.referenceRows, worst.currentRows),
        detail:
          worst.feature === predictionDriftName
            ? 'worst: the predictions'
            : `worst: feature ${worst.feature}`,
      },
    };
  }

  metrics(): { metrics: MetricResult[]; disabled: DisabledMetric[] } {
    const metrics: MetricResult[] = [];
    const disabled: DisabledMetric[] = [];
    for (const outcome of [this.accuracy.result(), this.fairness.result(), this.psi()]) {
      if ('computed' in outcome) metrics.push(outcome.computed);
      else disabled.push(outcome.disabled);
    }
    return { metrics, disabled };
  }

  toJSON(): SliceGroupState {
    return {
      rows: { ...this.rows },
      accuracy: this.accuracy.toJSON(),
      fairness: this.fairness.toJSON(),
      predictions: this.predictions ? this.predictions.toJSON() : null,
      features: [...this.features].map(([feature, drift]): [string, DriftState] => [feature, drift.toJSON()]),
    };
  }
}

function cloneDrift(drift: Drift): Drift {
  return driftFromJSON(drift.toJSON(), 'drift');
}

function mergeDrift(ours: Drift, theirs: Drift, name: string): void {
  if (ours instanceof NumericDrift && theirs instanceof NumericDrift) ours.merge(theirs);
  else if (ours instanceof CategoricalDrift && theirs instanceof CategoricalDrift) ours.merge(theirs);
  else throw new Error(`cannot merge ${name}: ${theirs.kind} into ${ours.kind}`);
}
