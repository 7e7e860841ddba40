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

/**
 * A binary batch with the paired table given as counts: `both` rows both models get right,
 * `teacherOnly` (b) only the teacher, `candidateOnly` (c) only the candidate, `neither`, then
 * `unlabelled` rows on which the two disagree.
 */
export function pairedBatch(table: {
  both?: number;
  teacherOnly?: number;
  candidateOnly?: number;
  neither?: number;
  unlabelled?: number;
  slices?: (row: number) => Record<string, string>;
}): EvaluationBatch {
  const teacher: number[] = [];
  const candidate: number[] = [];
  const labels: number[] = [];
  const add = (count: number | undefined, teacherRight: boolean, candidateRight: boolean, label = 1) => {
    for (let i = 0; i < (count ?? 0); i++) {
      teacher.push(teacherRight ? 0.9 : 0.1);
      candidate.push(candidateRight ? 0.9 : 0.1);
      labels.push(label);
    }
  };
  add(table.both, true, true);
  add(table.teacherOnly, true, false);
  add(table.candidateOnly, false, true);
  add(table.neither, false, false);
  add(table.unlabelled, true, false, NaN);
  const slices: Record<string, string[]> = {};
  if (table.slices)
    teacher.forEach((_, row) => {
      for (const [column, value] of Object.entries(table.slices!(row))) (slices[column] ??= []).push(value);
    });
  return handBatch({ teacher, candidate, labels, slices });
}
