import type { EvaluationBatch } from '../../../src/metrics/index.js';
import { textColumn, type TextColumn } from '../../../src/metrics/text-column.js';

const textColumns = (record: Record<string, string[]>): Record<string, TextColumn> =>
  Object.fromEntries(Object.entries(record).map(([name, values]) => [name, textColumn(values)]));

/** A small batch written out by hand: one score per row unless `width` says otherwise. */
export function handBatch(spec: {
  dataset?: 'reference' | 'current';
  teacher: number[];
  candidate: number[];
  width?: number;
  labels?: number[];
  sensitive?: string[];
  slices?: Record<string, string[]>;
  numeric?: Record<string, number[]>;
  categorical?: Record<string, string[]>;
}): EvaluationBatch {
  const width = spec.width ?? 1;
  const batch: EvaluationBatch = {
    dataset: spec.dataset ?? 'current',
    rows: spec.teacher.length / width,
    numericFeatures: Object.fromEntries(
      Object.entries(spec.numeric ?? {}).map(([k, v]) => [k, Float64Array.from(v)]),
    ),
    categoricalFeatures: textColumns(spec.categorical ?? {}),
    teacherScores: Float32Array.from(spec.teacher),
    candidateScores: Float32Array.from(spec.candidate),
    outputWidth: width,
    slices: textColumns(spec.slices ?? {}),
  };
  if (spec.labels) batch.labels = Float64Array.from(spec.labels);
  if (spec.sensitive) batch.sensitive = textColumn(spec.sensitive);
  return batch;
}
