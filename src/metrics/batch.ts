/**
 * What the evaluator hands the metric engine. Row data arrives in batches (one per chunk of a
 * data file); performance measurements arrive separately because they are not per row.
 */

import type { PowerMethod } from '../api/v1alpha1/index.js';
import type { TextColumn } from './text-column.js';

export type DatasetRole = 'reference' | 'current';

/**
 * One chunk of rows from one dataset, with both models' outputs for those rows. Columns are
 * parallel arrays of length `rows`; scores are `rows × outputWidth`, row-major.
 *
 * Accuracy, agreement and fairness are computed on `current` rows; drift (PSI, KS) compares
 * `reference` with `current` for each feature and for the candidate's predictions.
 */
export interface EvaluationBatch {
  dataset: DatasetRole;
  rows: number;
  numericFeatures: Record<string, Float64Array>;
  categoricalFeatures: Record<string, TextColumn>;
  teacherScores: Float32Array;
  candidateScores: Float32Array;
  /** Scores per row: 1 for a single score (binary probability, or a regression value), else one per class. */
  outputWidth: number;
  /** Class index (classification) or target value (regression); NaN marks an unlabelled row. */
  labels?: Float64Array;
  /** Value of the sensitive attribute per row. */
  sensitive?: TextColumn;
  /** Value of each slice column per row. */
  slices: Record<string, TextColumn>;
  /**
   * What the evaluator found screening the rows this batch came from for missing or invalid
   * feature values (spec.data.missingValues): `rows` are the kept ones, rowsRead − rowsRejected.
   * Without it the batch's own feature columns are what was read.
   */
  screening?: Screening;
}

/** Rows read, rows rejected, and per feature the cells missing or invalid among all rows read. */
export interface Screening {
  rowsRead: number;
  rowsRejected: number;
  missingByFeature: Record<string, number>;
}

export interface LatencySamples {
  model: 'candidate' | 'teacher';
  /** One request at a time, after warm-up, in milliseconds. */
  milliseconds: ArrayLike<number>;
}

export interface ThroughputRun {
  inferences: number;
  seconds: number;
  batchSize?: number;
  concurrency?: number;
}

export interface MemoryMeasurement {
  /** Runtime resident memory while each model is loaded and running. */
  candidateBytes: number;
  teacherBytes: number;
  candidateFileBytes?: number;
  teacherFileBytes?: number;
  candidateNonZeroParameters?: number;
  teacherNonZeroParameters?: number;
}

export const energyMethods = ['nvml', 'rapl', 'estimate'] as const;

export type EnergyMethod = (typeof energyMethods)[number];

/** What users read for each method (status.powerMethod, the energy metrics' details). */
export const energyMethodNames: Record<EnergyMethod, PowerMethod> = {
  nvml: 'NVML',
  rapl: 'RAPL',
  estimate: 'Estimate',
};

/** One metered run of the candidate: the loaded window after the ramp, and the idle baseline before it. */
export interface EnergySample {
  /** What the meter read in the loaded window (board, socket or estimate: the idle power included). */
  joules: number;
  /** Inferences counted in that window. */
  inferences: number;
  seconds: number;
  method: EnergyMethod;
  /**
   * Mean power the same meter read idle before the run; attributed energy is
   * joules − idleWatts × seconds. Without it (evaluators before idle baselines) the sample counts
   * its whole reading, and the interval reaches down to attributing none of it.
   */
  idleWatts?: number;
  /** Of the attributed joules, from the spread of the readings (default 0). */
  joulesStandardError?: number;
}
