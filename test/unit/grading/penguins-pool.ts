/**
 * The penguins fixture rows (reference.csv and current.jsonl, 333 rows) pooled into one
 * population, with the teacher's and the 70%-pruned candidate's real outputs for every row, so
 * that a test can split the pool at random (no drift by construction) and run the metric engine
 * on each split without running the models again.
 */
import { openTable } from '../../../src/evaluator/data/index.js';
import { openModel } from '../../../src/evaluator/models.js';
import type { EvaluationBatch } from '../../../src/metrics/index.js';
import { textColumn, textValues } from '../../../src/metrics/text-column.js';
import { fileUri, fixtureManifest } from '../evaluator/fixture-specs.js';

export const numericColumns = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'];
const islands = ['Biscoe', 'Dream', 'Torgersen'];
const species = ['Adelie', 'Chinstrap', 'Gentoo'];
const classes = species.length;

export interface PenguinsPool {
  rows: number;
  numeric: Record<string, Float64Array>;
  island: string[];
  sex: string[];
  labels: Float64Array;
  teacherScores: Float32Array;
  candidateScores: Float32Array;
}

export async function penguinsPool(): Promise<PenguinsPool> {
  const { data, models } = fixtureManifest.penguins;
  const numeric: Record<string, number[]> = Object.fromEntries(numericColumns.map((c) => [c, []]));
  const island: string[] = [];
  const sex: string[] = [];
  const labels: number[] = [];
  for (const file of [data.reference, data.current]) {
    for await (const batch of openTable(fileUri(file))) {
      for (const column of numericColumns) numeric[column]!.push(...(batch.columns[column] as Float64Array));
      island.push(...textValues(batch.columns.Island as never));
      sex.push(...textValues(batch.columns.Sex as never));
      labels.push(...textValues(batch.columns.Species as never).map((s) => species.indexOf(s)));
    }
  }
  const rows = island.length;
  // The models' input, as the fixtures README gives it: four measurements, then Island one-hot.
  const features = new Float32Array(rows * 7);
  for (let i = 0; i < rows; i++) {
    numericColumns.forEach((column, c) => (features[i * 7 + c] = numeric[column]![i]!));
    features[i * 7 + 4 + islands.indexOf(island[i]!)] = 1;
  }
  const scores = async (uri: string, role: 'teacher' | 'candidate') => {
    const model = await openModel(fileUri(uri), role);
    try {
      return await model.predict(features, rows);
    } finally {
      await model.close();
    }
  };
  return {
    rows,
    numeric: Object.fromEntries(numericColumns.map((c) => [c, Float64Array.from(numeric[c]!)])),
    island,
    sex,
    labels: Float64Array.from(labels),
    teacherScores: await scores(models.teacher, 'teacher'),
    candidateScores: await scores(models['pruned-70'], 'candidate'),
  };
}

/** The pool's rows `indices` as one batch of `dataset`, with Island as feature and slice and Sex as sensitive attribute. */
export function poolBatch(
  pool: PenguinsPool,
  dataset: 'reference' | 'current',
  indices: readonly number[],
): EvaluationBatch {
  const pick = <T>(values: ArrayLike<T>) => indices.map((i) => values[i]!);
  const pickScores = (scores: Float32Array) =>
    Float32Array.from(indices.flatMap((i) => [...scores.subarray(i * classes, (i + 1) * classes)]));
  return {
    dataset,
    rows: indices.length,
    numericFeatures: Object.fromEntries(
      numericColumns.map((c) => [c, Float64Array.from(pick(pool.numeric[c]!))]),
    ),
    categoricalFeatures: { Island: textColumn(pick(pool.island)) },
    teacherScores: pickScores(pool.teacherScores),
    candidateScores: pickScores(pool.candidateScores),
    outputWidth: classes,
    labels: Float64Array.from(pick(pool.labels)),
    sensitive: textColumn(pick(pool.sex)),
    slices: { Island: textColumn(pick(pool.island)) },
  };
}
