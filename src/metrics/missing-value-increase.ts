import type { DatasetRole, EvaluationBatch, Screening } from './batch.js';
import { newcombeIndependent } from './intervals.js';
import type { MetricOutcome } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';
import type { RowAccumulator, RowMetricKind, RowStateContext } from './row-metric.js';
import {
  maxCategories,
  quote,
  readArray,
  readCount,
  readObject,
  readText,
  requireThat,
} from './state-checks.js';
import { shortPercent } from './percent.js';

/**
 * missingValueIncrease: for each feature, the share of current rows whose value was missing or
 * invalid minus the same share in the reference; the value is the largest, with Newcombe's
 * interval for the difference of two independent proportions. A feature pipeline that breaks
 * (a join that stops matching, a renamed field) empties one column for many rows at once, and
 * the models would otherwise see NaN for it, or its rows would quietly leave the evaluation.
 *
 * The counts are over every row read, kept or not: the evaluator screens rows before the models
 * see them (spec.data.missingValues) and hands the counts over in `batch.screening`. A batch
 * without it was fed as read, and its own feature columns are counted: NaN or ±∞ in a numeric
 * one, '' in a categorical one. Kept for the whole data only: screening counts are per batch.
 */
export interface MissingValueState {
  reference: DatasetScreeningState;
  current: DatasetScreeningState;
}

export interface DatasetScreeningState {
  rowsRead: number;
  rowsRejected: number;
  /** [feature, cells missing or invalid], every feature seen, zeros included, sorted by name. */
  missing: [string, number][];
}

interface DatasetCounts {
  rowsRead: number;
  rowsRejected: number;
  missing: Map<string, number>;
}

const name = 'missingValueIncrease';

export class MissingValueAccumulator implements RowAccumulator {
  private readonly counts: Record<DatasetRole, DatasetCounts> = {
    reference: { rowsRead: 0, rowsRejected: 0, missing: new Map() },
    current: { rowsRead: 0, rowsRejected: 0, missing: new Map() },
  };

  constructor(private readonly options: EvaluationOptions) {}

  update({ batch }: DecodedBatch, indices?: Int32Array): void {
    if (indices !== undefined)
      throw new Error(`${name} is kept for the whole data only: screening counts are per batch, not per row`);
    const counts = this.counts[batch.dataset];
    const screening = batch.screening ?? screenedAsRead(batch);
    const { rowsRead, rowsRejected, missingByFeature } = screening;
    if (!(Number.isInteger(rowsRejected) && rowsRejected >= 0 && rowsRead - rowsRejected === batch.rows))
      throw new Error(
        `${batch.dataset} batch: screening read ${rowsRead} rows and rejected ${rowsRejected}, but the batch keeps ${batch.rows}`,
      );
    counts.rowsRead += rowsRead;
    counts.rowsRejected += rowsRejected;
    for (const [feature, missing] of Object.entries(missingByFeature)) {
      if (!(Number.isInteger(missing) && missing >= 0 && missing <= rowsRead))
        throw new Error(
          `${batch.dataset} batch: screening counts ${missing} missing values of feature ${quote(feature)} in ${rowsRead} rows`,
        );
      counts.missing.set(feature, (counts.missing.get(feature) ?? 0) + missing);
    }
  }

  merge(other: RowAccumulator): void {
    if (!(other instanceof MissingValueAccumulator))
      throw new Error(`cannot merge ${other.constructor.name} into ${name}`);
    for (const dataset of ['reference', 'current'] as const) {
      const ours = this.counts[dataset];
      const theirs = other.counts[dataset];
      ours.rowsRead += theirs.rowsRead;
      ours.rowsRejected += theirs.rowsRejected;
      for (const [feature, missing] of theirs.missing)
        ours.missing.set(feature, (ours.missing.get(feature) ?? 0) + missing);
    }
  }

  outcomes(): MetricOutcome[] {
    const { reference, current } = this.counts;
    if (reference.rowsRead === 0 || current.rowsRead === 0)
      return [{ disabled: { name, reason: 'needs both reference and current rows' } }];
    const rate = (counts: DatasetCounts, feature: string) =>
      (counts.missing.get(feature) ?? 0) / counts.rowsRead;
    // Sorted, so that a tie names the same feature whatever order the shards merged in.
    const features = [...new Set([...reference.missing.keys(), ...current.missing.keys()])].sort();
    let worst: string | undefined;
    let value = 0;
    for (const feature of features) {
      const increase = rate(current, feature) - rate(reference, feature);
      if (worst === undefined || increase > value) {
        worst = feature;
        value = increase;
      }
    }
    const currentMissing = worst === undefined ? 0 : (current.missing.get(worst) ?? 0);
    const referenceMissing = worst === undefined ? 0 : (reference.missing.get(worst) ?? 0);
    const rejected =
      reference.rowsRejected + current.rowsRejected > 0
        ? `; rows rejected: ${current.rowsRejected} of ${current.rowsRead} current, ${reference.rowsRejected} of ${reference.rowsRead} reference`
        : '';
    const anyMissing = features.some(
      (feature) => (current.missing.get(feature) ?? 0) + (reference.missing.get(feature) ?? 0) > 0,
    );
    return [
      {
        computed: {
          name,
          value,
          samples: Math.min(reference.rowsRead, current.rowsRead),
          interval: newcombeIndependent(
            currentMissing,
            current.rowsRead,
            referenceMissing,
            reference.rowsRead,
            this.options.confidence,
          ),
          detail: anyMissing
            ? `worst: feature ${worst}, missing or invalid in ${currentMissing} of ${current.rowsRead} current rows (${shortPercent(currentMissing / current.rowsRead)}) and ${referenceMissing} of ${reference.rowsRead} reference rows (${shortPercent(referenceMissing / reference.rowsRead)})${rejected}`
            : 'no missing or invalid feature values',
          facts: {
            currentMissingRate: currentMissing / current.rowsRead,
            referenceMissingRate: referenceMissing / reference.rowsRead,
            currentRowsRead: current.rowsRead,
            referenceRowsRead: reference.rowsRead,
            currentRowsRejected: current.rowsRejected,
            referenceRowsRejected: reference.rowsRejected,
          },
        },
      },
    ];
  }

  /** Each dataset's counts, every feature's included. */
  screening(): Record<DatasetRole, Screening> {
    const of = ({ rowsRead, rowsRejected, missing }: DatasetCounts) => ({
      rowsRead,
      rowsRejected,
      missingByFeature: Object.fromEntries([...missing].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    });
    return { reference: of(this.counts.reference), current: of(this.counts.current) };
  }

  toJSON(): MissingValueState {
    const screening = this.screening();
    const of = (dataset: DatasetRole): DatasetScreeningState => ({
      rowsRead: screening[dataset].rowsRead,
      rowsRejected: screening[dataset].rowsRejected,
      missing: Object.entries(screening[dataset].missingByFeature),
    });
    return { reference: of('reference'), current: of('current') };
  }

  /**
   * From a state read from outside: counts, a kept count (read − rejected) equal to the group's
   * rows of that dataset, each feature once and (with a spec) one of its features, and no more
   * missing values than rows read.
   */
  static fromJSON(
    json: unknown,
    { options, where, rows, reading }: RowStateContext,
  ): MissingValueAccumulator {
    const state = readObject(json, where);
    const accumulator = new MissingValueAccumulator(options);
    const features = reading.expected?.features;
    for (const dataset of ['reference', 'current'] as const) {
      const at = `${where}.${dataset}`;
      const read = readObject(state[dataset], at);
      const counts = accumulator.counts[dataset];
      counts.rowsRead = readCount(read.rowsRead, `${at}.rowsRead`);
      counts.rowsRejected = readCount(read.rowsRejected, `${at}.rowsRejected`);
      requireThat(
        counts.rowsRead - counts.rowsRejected === rows[dataset],
        `${at} read ${counts.rowsRead} rows and rejected ${counts.rowsRejected}, but the group kept ${rows[dataset]} ${dataset} rows`,
      );
      const entries = readArray(read.missing, `${at}.missing`, features ? features.length : maxCategories);
      entries.forEach((entry, i) => {
        const [feature, missing] = readArray(entry, `${at}.missing[${i}]`, 2);
        const featureName = readText(feature, `${at}.missing[${i}][0]`);
        const named = `${at}.missing[${quote(featureName)}]`;
        requireThat(!counts.missing.has(featureName), `${named} is listed twice`);
        if (features)
          requireThat(features.includes(featureName), `${named} is not one of the spec's data.features`);
        const count = readCount(missing, `${at}.missing[${i}][1]`);
        requireThat(
          count <= counts.rowsRead,
          `${named} counts ${count} missing values, more than the ${counts.rowsRead} rows read`,
        );
        counts.missing.set(featureName, count);
      });
    }
    return accumulator;
  }
}

/** A batch fed as read: nothing rejected, its own columns counted. */
function screenedAsRead(batch: EvaluationBatch): Screening {
  const missingByFeature: Record<string, number> = {};
  for (const [feature, values] of Object.entries(batch.numericFeatures)) {
    let missing = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) missing++;
    missingByFeature[feature] = missing;
  }
  for (const [feature, column] of Object.entries(batch.categoricalFeatures)) {
    const empty = column.values.indexOf('');
    let missing = 0;
    if (empty >= 0) for (let i = 0; i < column.codes.length; i++) if (column.codes[i] === empty) missing++;
    missingByFeature[feature] = missing;
  }
  return { rowsRead: batch.rows, rowsRejected: 0, missingByFeature };
}

export const missingValueIncreaseMetric: RowMetricKind<MissingValueAccumulator> = {
  name,
  since: 2,
  metrics: [name],
  perSlice: false,
  create: (options) => new MissingValueAccumulator(options),
  fromJSON: (state, context) => MissingValueAccumulator.fromJSON(state, context),
};
