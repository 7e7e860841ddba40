import { maxSliceValuesLimit } from '../api/v1alpha1/spec.js';
import type { AccuracyDetails } from './accuracy-drop.js';
import type {
  EnergySample,
  EvaluationBatch,
  LatencySamples,
  MemoryMeasurement,
  ThroughputRun,
} from './batch.js';
import type { FairnessDetails } from './demographic-parity.js';
import { EnergyAccumulator, type EnergyDetails, type EnergyState } from './energy.js';
import { LatencyAccumulator, type LatencyDetails, type LatencyState } from './latency.js';
import { MemoryAccumulator, type MemoryState } from './memory.js';
import type { DisabledMetric, MetricOutcome, MetricResult } from './metric-result.js';
import { assertSameOptions, readOptions, resolveOptions, type EvaluationOptions } from './options.js';
import { decodeBatch, type DecodedBatch } from './predictions.js';
import { SliceGroup, type FeatureDrift, type SliceGroupState } from './slice-group.js';
import { accuracyDropMetric } from './accuracy-drop.js';
import { demographicParityMetric } from './demographic-parity.js';
import { evaluationStateVersion } from './row-metrics.js';
import { describeWorstSlice, worstSlice } from './worst-slice.js';
import {
  quote,
  readArray,
  readObject,
  readText,
  requireThat,
  type MemoryBudget,
  type StateReading,
} from './state-checks.js';
import type { TextColumn } from './text-column.js';
import { ThroughputAccumulator, type ThroughputState } from './throughput.js';
import { metricNames, type MetricName } from '../api/v1alpha1/thresholds.js';

/**
 * Every metric of one evaluation run, overall and per slice, as one mergeable accumulator.
 * Shards each build one from their part of the data; `merge` (or `fromJSON` + `merge`) combines
 * them into exactly the result of one pass over all of it (quantiles within the sketch's
 * relative error, floating-point sums up to rounding).
 */
export interface EvaluationState {
  /** `evaluationStateVersion`; states one version older are read too (`upgradeState`). */
  version: number;
  options: EvaluationOptions;
  overall: SliceGroupState;
  /** e.g. {slice: 'region=eu,device_type=mobile', columns: ['region', 'device_type'], …} */
  slices: { slice: string; columns: string[]; state: SliceGroupState }[];
  latency: LatencyState;
  throughput: ThroughputState;
  memory: MemoryState;
  energy: EnergyState;
}

export interface SliceReport {
  /** `column=value`, or `a=x,b=y` for a slice cross. */
  slice: string;
  /** Current rows in the slice (what accuracy and fairness rest on). */
  samples: number;
  referenceSamples: number;
  metrics: MetricResult[];
  disabled: DisabledMetric[];
  drift: FeatureDrift[];
  fairness?: FairnessDetails;
}

export interface EvaluationReport {
  rows: { reference: number; current: number };
  metrics: MetricResult[];
  disabled: DisabledMetric[];
  slices: SliceReport[];
  details: {
    accuracy: AccuracyDetails;
    drift: FeatureDrift[];
    fairness?: FairnessDetails;
    latency: LatencyDetails;
    memory: MemoryState;
    energy: EnergyDetails;
  };
}

export class EvaluationAccumulator {
  readonly options: EvaluationOptions;
  private overall: SliceGroup;
  private readonly slices = new Map<string, SliceGroup>();
  private readonly sliceColumns = new Map<string, string[]>();
  private readonly sliceValues = new Map<string, Set<string>>();
  private latency: LatencyAccumulator;
  private throughput: ThroughputAccumulator;
  private memory: MemoryAccumulator;
  private energy: EnergyAccumulator;
  /** Read from outside: what its sketches, and the merges into them, may allocate. */
  private budget: MemoryBudget | undefined;
  /** The version of the state it was read from: its slices lack the row metrics added since. */
  private stateVersion = evaluationStateVersion;

  constructor(options: Partial<EvaluationOptions> = {}) {
    this.options = resolveOptions(options);
    this.overall = new SliceGroup(this.options, 'overall');
    this.latency = new LatencyAccumulator(this.options.latencyRelativeAccuracy, this.options.confidence);
    this.throughput = new ThroughputAccumulator();
    this.memory = new MemoryAccumulator();
    this.energy = new EnergyAccumulator(this.options);
  }

  update(batch: EvaluationBatch): void {
    if (batch.rows === 0 && !batch.screening) return;
    const decoded = decodeBatch(batch, this.options);
    this.overall.update(decoded);
    for (const [column, values] of Object.entries(batch.slices)) {
      this.updateSlices([column], [values], decoded);
    }
    for (const cross of this.options.sliceCrosses) {
      const columns = cross.map((column) => {
        const values = batch.slices[column];
        if (values === undefined)
          throw new Error(
            `${batch.dataset} batch: slice cross ${cross.join(' × ')} needs slice column ${column}`,
          );
        return values;
      });
      this.updateSlices(cross, columns, decoded);
    }
  }

  /** Splits the batch's rows by slice value (a counting sort) and feeds each slice its rows. */
  private updateSlices(columns: string[], values: TextColumn[], decoded: DecodedBatch): void {
    const rows = decoded.batch.rows;
    const { groupOf, groups, firstRow } = groupRows(values, rows);
    const counts = new Int32Array(groups + 1);
    for (let i = 0; i < rows; i++) counts[groupOf[i]! + 1]!++;
    for (let g = 1; g <= groups; g++) counts[g]! += counts[g - 1]!;
    const starts = counts.slice();
    const order = new Int32Array(rows);
    for (let i = 0; i < rows; i++) order[starts[groupOf[i]!]!++] = i;
    for (let g = 0; g < groups; g++) {
      if (counts[g + 1] === counts[g]) continue;
      const row = firstRow[g]!;
      const key = columns
        .map((column, c) => `${column}=${values[c]!.values[values[c]!.codes[row]!]}`)
        .join(',');
      this.slice(key, columns).update(decoded, order.subarray(counts[g]!, counts[g + 1]!));
    }
  }

  private slice(
    key: string,
    columns: string[],
    state?: SliceGroupState,
    where = `slice ${key}`,
    reading: StateReading = {},
  ): SliceGroup {
    let group = this.slices.get(key);
    if (group !== undefined) return group;
    const columnsKey = columns.join(' × ');
    let seen = this.sliceValues.get(columnsKey);
    if (seen === undefined) {
      seen = new Set();
      this.sliceValues.set(columnsKey, seen);
    }
    seen.add(key);
    if (seen.size > this.options.maxSliceValues)
      throw new Error(
        `slice column ${columnsKey} has more than ${this.options.maxSliceValues} distinct values (now ${key}); slices are meant for low-cardinality columns (spec.data.maxSliceValues raises the limit, up to ${maxSliceValuesLimit})`,
      );
    group = new SliceGroup(
      this.options,
      'slice',
      state,
      where,
      { ...reading, budget: this.budget },
      this.stateVersion,
    );
    this.slices.set(key, group);
    this.sliceColumns.set(key, columns);
    return group;
  }

  recordLatency(samples: LatencySamples): void {
    this.latency.record(samples);
  }

  recordThroughput(run: ThroughputRun): void {
    this.throughput.record(run);
  }

  recordMemory(measurement: MemoryMeasurement): void {
    this.memory.record(measurement);
  }

  recordEnergy(sample: EnergySample): void {
    this.energy.record(sample);
  }

  /** Adds another shard's results into this one. */
  merge(other: EvaluationAccumulator): this {
    assertSameOptions(this.options, other.options);
    this.overall.merge(other.overall);
    for (const [key, group] of other.slices) this.slice(key, other.sliceColumns.get(key)!).merge(group);
    this.latency.merge(other.latency);
    this.throughput.merge(other.throughput);
    this.memory.merge(other.memory);
    this.energy.merge(other.energy);
    return this;
  }

  result(): EvaluationReport {
    const metrics: MetricResult[] = [];
    const disabled: DisabledMetric[] = [];
    // Drift is tested once per group (permutation tests cost the most) and shared by psi and details.
    const overallDrift = this.overall.driftResults();
    const overall = this.overall.metrics(overallDrift);
    const outcomes: MetricOutcome[] = [
      ...overall.metrics.map((computed) => ({ computed })),
      ...overall.disabled.map((d) => ({ disabled: d })),
      this.latency.result(),
      this.memory.result(),
      ...this.energy.results(),
      this.throughput.result(),
    ];
    for (const outcome of outcomes) {
      if ('computed' in outcome) metrics.push(outcome.computed);
      else disabled.push(outcome.disabled);
    }
    const byName = (a: { name: MetricName }, b: { name: MetricName }) =>
      metricNames.indexOf(a.name) - metricNames.indexOf(b.name);
    metrics.sort(byName);
    disabled.sort(byName);

    const slices: SliceReport[] = [...this.slices.keys()].sort().map((slice) => {
      const group = this.slices.get(slice)!;
      const drift = group.driftResults();
      const sliceMetrics = group.metrics(drift);
      const report: SliceReport = {
        slice,
        samples: group.rows.current,
        referenceSamples: group.rows.reference,
        metrics: sliceMetrics.metrics.sort(byName),
        disabled: sliceMetrics.disabled.sort(byName),
        drift,
      };
      const fairness = group.metric(demographicParityMetric)?.details();
      if (fairness) report.fairness = fairness;
      return report;
    });

    const summary = worstSlice(slices, this.options);
    const drop = metrics.find((metric) => metric.name === 'accuracyDrop');
    if (summary && drop) {
      const { detail, facts } = describeWorstSlice(summary);
      drop.detail = drop.detail ? `${drop.detail} (${detail})` : detail;
      drop.facts = { ...drop.facts, ...facts };
    }

    const report: EvaluationReport = {
      rows: { ...this.overall.rows },
      metrics,
      disabled,
      slices,
      details: {
        // Every state version carries it (since 1), so the whole data always has it.
        accuracy: this.overall.metric(accuracyDropMetric)!.details(),
        drift: overallDrift,
        latency: this.latency.details(),
        memory: this.memory.details(),
        energy: this.energy.details(),
      },
    };
    const fairness = this.overall.metric(demographicParityMetric)?.details();
    if (fairness) report.details.fairness = fairness;
    return report;
  }

  toJSON(): EvaluationState {
    return {
      version: evaluationStateVersion,
      options: this.options,
      overall: this.overall.toJSON(),
      slices: [...this.slices].map(([slice, group]) => ({
        slice,
        columns: this.sliceColumns.get(slice)!,
        state: group.toJSON(),
      })),
      latency: this.latency.toJSON(),
      throughput: this.throughput.toJSON(),
      memory: this.memory.toJSON(),
      energy: this.energy.toJSON(),
    };
  }

  /**
   * An accumulator from its JSON, every part checked as it is read (see state-checks.ts). With
   * `reading.expected` the state must also be one the run's spec asks for: its options exactly, its
   * features, slice columns and crosses among the spec's. With `reading.budget` its sketches draw
   * their bucket arrays from the budget, and so do later merges into this accumulator.
   */
  static fromJSON(json: unknown, reading: StateReading = {}): EvaluationAccumulator {
    const state = upgradeState(json);
    for (const key of [
      'options',
      'overall',
      'slices',
      'latency',
      'throughput',
      'memory',
      'energy',
    ] as const) {
      if (typeof state[key] !== 'object' || state[key] === null)
        throw new Error(`evaluation state: ${key} is missing or not an object`);
    }
    const { expected, budget } = reading;
    const accumulator = new EvaluationAccumulator(readOptions(state.options, 'options', expected?.options));
    const options = accumulator.options;
    accumulator.budget = budget;
    accumulator.stateVersion = state.version;
    accumulator.overall = new SliceGroup(
      options,
      'overall',
      state.overall,
      'overall',
      reading,
      state.version,
    );
    accumulator.readSlices(state.slices, reading);
    accumulator.latency = new LatencyAccumulator(
      options.latencyRelativeAccuracy,
      options.confidence,
      state.latency,
      'latency',
      budget,
    );
    accumulator.throughput = new ThroughputAccumulator(state.throughput);
    accumulator.memory = new MemoryAccumulator(state.memory);
    accumulator.energy = new EnergyAccumulator(options, state.energy);
    return accumulator;
  }

  /**
   * Each slice is named after its columns (`a=x,b=y`), once; its columns are one slice column or
   * cross (with `expected`, one the spec lists), and the slices of one column or cross count no
   * more rows than the whole: every row is in at most one of them.
   */
  private readSlices(json: unknown, reading: StateReading): void {
    const { expected } = reading;
    const allowed = expected
      ? new Set([...expected.sliceColumns.map((c) => [c]), ...this.options.sliceCrosses].map(columnsKey))
      : undefined;
    const entries = readArray(
      json,
      'slices',
      allowed ? allowed.size * this.options.maxSliceValues : Number.POSITIVE_INFINITY,
    );
    const counted = new Map<string, { reference: number; current: number }>();
    entries.forEach((entry, i) => {
      const at = `slices[${i}]`;
      const { slice, columns, state } = readObject(entry, at);
      const name = readText(slice, `${at}.slice`);
      const named = `${at} (${quote(name)})`;
      const list = readArray(columns, `${at}.columns`, 3).map((c, k) => readText(c, `${at}.columns[${k}]`));
      const key = columnsKey(list);
      requireThat(list.length > 0, `${named}.columns is empty`);
      if (allowed)
        requireThat(allowed.has(key), `${named}: columns ${key} are not a slice column or cross of the spec`);
      requireThat(sliceNameFits(name, list), `${named} is not named after its columns ${key}`);
      requireThat(!this.slices.has(name), `${named} is listed twice`);
      const groupState = readObject(state, `${named}.state`) as unknown as SliceGroupState;
      const group = this.slice(name, list, groupState, named, reading);
      const total = counted.get(key) ?? { reference: 0, current: 0 };
      total.reference += group.rows.reference;
      total.current += group.rows.current;
      counted.set(key, total);
      requireThat(
        total.reference <= this.overall.rows.reference && total.current <= this.overall.rows.current,
        `${named}: with it the ${key} slices count ${total.reference} reference and ${total.current} current rows, more than overall (${this.overall.rows.reference} and ${this.overall.rows.current})`,
      );
    });
  }
}

/**
 * A state of this version, or of the one before (version 1 kept the row metrics as `accuracy`
 * and `fairness` beside each other), moved to this version's shape; newer or older ones are
 * refused with what the operator reads, so that a mismatched evaluator image says so.
 */
function upgradeState(json: unknown): EvaluationState {
  const state = readObject(json, 'evaluation state');
  const version = state.version;
  if (version === evaluationStateVersion) return state as unknown as EvaluationState;
  if (version !== 1)
    throw new Error(
      `evaluation state: version ${JSON.stringify(version)} is not one this operator reads (${1}–${evaluationStateVersion}); the evaluator image and the operator must come from compatible releases`,
    );
  const upgradeGroup = (group: unknown, where: string): unknown => {
    const { accuracy, fairness, ...rest } = readObject(group, where);
    return { ...rest, metrics: { accuracyDrop: accuracy, demographicParity: fairness } };
  };
  return {
    ...state,
    overall: upgradeGroup(state.overall, 'overall'),
    slices: readArray(state.slices, 'slices', Number.POSITIVE_INFINITY).map((entry, i) => {
      const slice = readObject(entry, `slices[${i}]`);
      return { ...slice, state: upgradeGroup(slice.state, `slices[${i}].state`) };
    }),
  } as unknown as EvaluationState;
}

function columnsKey(columns: readonly string[]): string {
  return columns.join(' × ');
}

/** Whether `name` reads `c1=…,c2=…` for `columns` (values may themselves hold commas). */
function sliceNameFits(name: string, columns: readonly string[]): boolean {
  if (!name.startsWith(`${columns[0]}=`)) return false;
  let position = columns[0]!.length + 1;
  for (const column of columns.slice(1)) {
    const next = name.indexOf(`,${column}=`, position);
    if (next < 0) return false;
    position = next + column.length + 2;
  }
  return true;
}

/**
 * Each row's group: the combination of its codes in `columns`. One column's codes are its groups
 * (some may hold no row of this batch); each further column is folded in through a map from
 * (group, code) to a dense group number. `firstRow` names a row of each group, −1 if none.
 */
function groupRows(
  columns: TextColumn[],
  rows: number,
): { groupOf: Int32Array; groups: number; firstRow: Int32Array } {
  let groupOf = columns[0]!.codes;
  let groups = columns[0]!.values.length;
  for (let c = 1; c < columns.length; c++) {
    const codes = columns[c]!.codes;
    const width = columns[c]!.values.length;
    const dense = new Map<number, number>();
    const next = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const combined = groupOf[i]! * width + codes[i]!;
      let group = dense.get(combined);
      if (group === undefined) {
        group = dense.size;
        dense.set(combined, group);
      }
      next[i] = group;
    }
    groupOf = next;
    groups = dense.size;
  }
  const firstRow = new Int32Array(groups).fill(-1);
  for (let i = rows - 1; i >= 0; i--) firstRow[groupOf[i]!] = i;
  return { groupOf, groups, firstRow };
}
