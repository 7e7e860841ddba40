import {
  CategoricalDrift,
  driftFromJSON,
  NumericDrift,
  permutationReplicates,
  type Drift,
  type DriftResult,
  type DriftState,
  type PsiTest,
} from './drift.js';
import type { DisabledMetric, MetricOutcome, MetricResult } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';
import type { RowAccumulator, RowMetricKind } from './row-metric.js';
import { evaluationStateVersion, rowMetrics } from './row-metrics.js';
import { holmAdjusted } from './significance.js';
import {
  maxClasses,
  quote,
  readArray,
  readCount,
  readObject,
  readText,
  requireThat,
  type MemoryBudget,
  type StateReading,
} from './state-checks.js';

/**
 * The row-based metrics of one population: the whole data, or one slice of it. Latency,
 * throughput, memory and energy are measured per model, not per row, so they exist overall only.
 */
export interface SliceGroupState {
  rows: { reference: number; current: number };
  /** Each row metric's state by its kind's name (row-metrics.ts). */
  metrics: Record<string, unknown>;
  predictions: DriftState | null;
  /** [feature, drift] */
  features: [string, DriftState][];
}

export interface FeatureDrift extends DriftResult {
  feature: string;
  kind: 'numeric' | 'categorical';
  /** Could this PSI be chance? `adjustedPValue` is Holm's, over the group's features and predictions. */
  psiTest: PsiTest & { adjustedPValue: number };
}

/** What the candidate's predictions are called in drift results. */
export const predictionDriftName = '(prediction)';

export class SliceGroup {
  rows = { reference: 0, current: 0 };
  predictions: Drift | undefined;
  readonly features = new Map<string, Drift>();
  /** The row metrics this group keeps, by kind. */
  private readonly accumulators = new Map<RowMetricKind, RowAccumulator>();
  /** Kinds a shard's state from an older evaluator did not carry, with the version it had. */
  private readonly absent = new Map<RowMetricKind, number>();
  private readonly budget: MemoryBudget | undefined;
  /** Overall, or per slice with featureDriftPerSlice. */
  private readonly withFeatures: boolean;

  /**
   * From `state`, checked: each part on its own, then against the group's rows (the predictions
   * count every row, a feature at most every row, each row metric checks its own) and against
   * what `reading.expected` allows (the spec's features, fairness only with a sensitive
   * attribute). `version` is the state's; a kind added since is absent, and says so.
   */
  constructor(
    private readonly options: EvaluationOptions,
    role: 'overall' | 'slice',
    state?: SliceGroupState,
    where = 'slice group',
    reading: StateReading = {},
    version = evaluationStateVersion,
  ) {
    this.budget = reading.budget;
    const overall = role === 'overall';
    this.withFeatures = overall || options.featureDriftPerSlice;
    const kinds = rowMetrics.filter((kind) => overall || kind.perSlice);
    if (state === undefined) {
      for (const kind of kinds) this.accumulators.set(kind, kind.create(options));
      return;
    }
    const checked = readObject(state, where);
    const rows = readObject(checked.rows, `${where}.rows`);
    this.rows = {
      reference: readCount(rows.reference, `${where}.rows.reference`),
      current: readCount(rows.current, `${where}.rows.current`),
    };
    const metrics = readObject(checked.metrics, `${where}.metrics`);
    for (const name of Object.keys(metrics))
      requireThat(
        kinds.some((kind) => kind.name === name),
        `${where}.metrics.${quote(name)} is not a row metric ${overall ? '' : 'kept per slice '}(known: ${kinds.map((kind) => kind.name).join(', ')})`,
      );
    for (const kind of kinds) {
      if (kind.since > version && metrics[kind.name] === undefined) {
        this.absent.set(kind, version);
        continue;
      }
      const context = { options, where: `${where}.metrics.${kind.name}`, rows: this.rows, reading };
      this.accumulators.set(kind, kind.fromJSON(metrics[kind.name], context));
    }
    if (checked.predictions !== null) this.readPredictions(checked.predictions, `${where}.predictions`);
    const predicted = this.predictions?.rows() ?? { reference: 0, current: 0 };
    requireThat(
      predicted.reference === this.rows.reference && predicted.current === this.rows.current,
      `${where}.predictions count ${predicted.reference} reference and ${predicted.current} current rows, expected rows (${this.rows.reference} and ${this.rows.current})`,
    );
    this.readFeatures(checked.features, `${where}.features`, reading);
  }

  private readPredictions(state: unknown, where: string): void {
    const predictions = driftFromJSON(state, where, this.options.featureRelativeAccuracy, this.budget);
    if (predictions instanceof CategoricalDrift) {
      requireThat(
        this.options.task === 'classification',
        `${where} are classes, but the task is ${this.options.task}`,
      );
      for (const category of predictions.counts.keys())
        requireThat(
          /^(0|[1-9][0-9]{0,3})$/.test(category) && Number(category) < maxClasses,
          `${where}: category ${quote(category)} is not a class index below ${maxClasses}`,
        );
    }
    this.predictions = predictions;
  }

  private readFeatures(state: unknown, where: string, { expected }: StateReading): void {
    const entries = readArray(state, where, expected ? expected.features.length : Infinity);
    requireThat(
      this.withFeatures || entries.length === 0,
      `${where} has ${entries.length} entries, but this group keeps no feature drift (featureDriftPerSlice is off)`,
    );
    entries.forEach((entry, i) => {
      const [name, drift] = readArray(entry, `${where}[${i}]`, 2);
      const feature = readText(name, `${where}[${i}][0]`);
      const at = `${where}[${quote(feature)}]`;
      requireThat(!this.features.has(feature), `${at} is listed twice`);
      if (expected) {
        requireThat(expected.features.includes(feature), `${at} is not one of the spec's data.features`);
      }
      const read = driftFromJSON(drift, at, this.options.featureRelativeAccuracy, this.budget);
      if (expected?.categoricalFeatures.includes(feature))
        requireThat(
          read.kind === 'categorical',
          `${at} is numeric, but the spec lists it in categoricalFeatures`,
        );
      const counted = read.rows();
      requireThat(
        counted.reference <= this.rows.reference && counted.current <= this.rows.current,
        `${at} counts ${counted.reference} reference and ${counted.current} current rows, more than the group's ${this.rows.reference} and ${this.rows.current}`,
      );
      this.features.set(feature, read);
    });
  }

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch } = decoded;
    const dataset = batch.dataset;
    const count = indices ? indices.length : batch.rows;
    this.rows[dataset] += count;
    for (const accumulator of this.accumulators.values()) accumulator.update(decoded, indices);
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
        this.predictions = new NumericDrift(
          this.options.featureRelativeAccuracy,
          undefined,
          undefined,
          this.budget,
        );
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
        kind === 'numeric'
          ? new NumericDrift(this.options.featureRelativeAccuracy, undefined, undefined, this.budget)
          : new CategoricalDrift();
      this.features.set(feature, drift);
    } else if (drift.kind !== kind) {
      throw new Error(`feature ${feature} is ${kind} in this batch but was ${drift.kind} before`);
    }
    return drift;
  }

  merge(other: SliceGroup): void {
    this.rows.reference += other.rows.reference;
    this.rows.current += other.rows.current;
    for (const [kind, theirs] of other.accumulators) {
      const ours = this.accumulators.get(kind);
      if (ours) ours.merge(theirs);
    }
    // A kind one side lacks (an older shard) cannot describe the merged rows.
    for (const [kind, version] of other.absent) {
      this.accumulators.delete(kind);
      this.absent.set(kind, Math.min(version, this.absent.get(kind) ?? version));
    }
    if (other.predictions) {
      if (this.predictions === undefined) this.predictions = this.clone(other.predictions);
      else mergeDrift(this.predictions, other.predictions, predictionDriftName);
    }
    for (const [feature, drift] of other.features) {
      const ours = this.features.get(feature);
      if (ours === undefined) this.features.set(feature, this.clone(drift));
      else mergeDrift(ours, drift, feature);
    }
  }

  private clone(drift: Drift): Drift {
    return driftFromJSON(drift.toJSON(), 'drift', this.options.featureRelativeAccuracy, this.budget);
  }

  /**
   * Drift of the predictions and of every feature, each PSI tested against "no change" and the
   * p-values adjusted (Holm) over this group's tests: one family per evaluation, and one per slice.
   */
  driftResults(): FeatureDrift[] {
    const { confidence, psiBins, psiEpsilon } = this.options;
    const drifts: [string, Drift][] = [
      ...(this.predictions ? [[predictionDriftName, this.predictions] as [string, Drift]] : []),
      ...[...this.features.keys()]
        .sort()
        .map((feature): [string, Drift] => [feature, this.features.get(feature)!]),
    ];
    const tested = drifts.filter(([, drift]) => {
      const rows = drift.rows();
      return rows.reference > 0 && rows.current > 0;
    });
    const testing = { confidence, replicates: permutationReplicates(tested.length, 1 - confidence) };
    const results = tested.map(([feature, drift]) => {
      const result =
        drift instanceof NumericDrift
          ? drift.result(psiBins, psiEpsilon, testing)!
          : drift.result(psiEpsilon, testing)!;
      return { feature, kind: drift.kind as FeatureDrift['kind'], ...result, psiTest: result.psiTest! };
    });
    const adjusted = holmAdjusted(results.map((r) => r.psiTest.pValue));
    return results.map((result, i) => ({
      ...result,
      psiTest: { ...result.psiTest, adjustedPValue: adjusted[i]! },
    }));
  }

  /** The worst PSI, with every feature's test so that grading can tell drift from chance. */
  psi(drift: FeatureDrift[] = this.driftResults()): MetricOutcome {
    if (drift.length === 0)
      return { disabled: { name: 'psi', reason: 'needs both reference and current rows' } };
    let worst = drift[0]!;
    for (const result of drift) if (result.psi > worst.psi) worst = result;
    return {
      computed: {
        name: 'psi',
        value: worst.psi,
        samples: Math.min(worst.referenceRows, worst.currentRows),
        detail: `worst: ${subjectOf(worst.feature)}`,
        tests: {
          statistic: 'PSI',
          confidence: this.options.confidence,
          correction: 'holm',
          values: drift.map((d) => ({
            subject: subjectOf(d.feature),
            value: d.psi,
            referenceSamples: d.referenceRows,
            currentSamples: d.currentRows,
            pValue: d.psiTest.pValue,
            adjustedPValue: d.psiTest.adjustedPValue,
            noiseBand: d.psiTest.noiseBand,
            method: d.psiTest.method,
          })),
        },
      },
    };
  }

  /** The row-based metrics; `drift` is `driftResults()`, passed in by callers that have it. */
  metrics(drift: FeatureDrift[] = this.driftResults()): {
    metrics: MetricResult[];
    disabled: DisabledMetric[];
  } {
    const metrics: MetricResult[] = [];
    const disabled: DisabledMetric[] = [];
    const outcomes: MetricOutcome[] = [this.psi(drift)];
    for (const kind of rowMetrics) {
      const accumulator = this.accumulators.get(kind);
      if (accumulator) outcomes.push(...accumulator.outcomes());
      const version = this.absent.get(kind);
      if (version !== undefined)
        for (const name of kind.metrics)
          outcomes.push({
            disabled: {
              name,
              reason: `a shard's evaluator is older (its state is version ${version}; ${name} needs ${kind.since})`,
            },
          });
    }
    for (const outcome of outcomes) {
      if ('computed' in outcome) metrics.push(outcome.computed);
      else disabled.push(outcome.disabled);
    }
    return { metrics, disabled };
  }

  /** The row metric of `kind`, if this group keeps it (and its states all carried it). */
  metric<A extends RowAccumulator>(kind: RowMetricKind<A>): A | undefined {
    return this.accumulators.get(kind) as A | undefined;
  }

  toJSON(): SliceGroupState {
    return {
      rows: { ...this.rows },
      metrics: Object.fromEntries(
        [...this.accumulators].map(([kind, accumulator]) => [kind.name, accumulator.toJSON()]),
      ),
      predictions: this.predictions ? this.predictions.toJSON() : null,
      features: [...this.features].map(([feature, drift]): [string, DriftState] => [feature, drift.toJSON()]),
    };
  }
}

function subjectOf(feature: string): string {
  return feature === predictionDriftName ? 'the predictions' : `feature ${feature}`;
}

function mergeDrift(ours: Drift, theirs: Drift, name: string): void {
  if (ours instanceof NumericDrift && theirs instanceof NumericDrift) ours.merge(theirs);
  else if (ours instanceof CategoricalDrift && theirs instanceof CategoricalDrift) ours.merge(theirs);
  else throw new Error(`cannot merge ${name}: ${theirs.kind} into ${ours.kind}`);
}
