/**
 * What the evaluator hands the metric engine. Row data arrives in batches (one per chunk of a
 * data file); performance measurements arrive separately because they are not per row.
 */

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

export interface EnergySample {
  joules: number;
  inferences: number;
  seconds: number;
  method: EnergyMethod;
}
