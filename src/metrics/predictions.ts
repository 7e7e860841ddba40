import type { EvaluationBatch } from './batch.js';
import type { EvaluationOptions } from './options.js';

/**
 * A batch with both models' predictions decoded once, shared by every accumulator and slice.
 * Classes: argmax over the class scores (first maximum wins), or for a single score
 * `score ≥ decisionThreshold` (default 0.5) is class 1. Regression has classes only when a
 * decisionThreshold is configured (for fairness).
 */
export interface DecodedBatch {
  batch: EvaluationBatch;
  teacherClass?: Int32Array;
  candidateClass?: Int32Array;
  /** Number of classes the class arrays range over (≥ 2). */
  classCount: number;
}

export function decodeBatch(batch: EvaluationBatch, options: EvaluationOptions): DecodedBatch {
  checkBatch(batch);
  const width = batch.outputWidth;
  const classCount = Math.max(2, width);
  if (options.task === 'regression') {
    if (options.decisionThreshold === undefined) return { batch, classCount };
    return {
      batch,
      classCount,
      teacherClass: thresholdClasses(batch.teacherScores, batch.rows, options.decisionThreshold),
      candidateClass: thresholdClasses(batch.candidateScores, batch.rows, options.decisionThreshold),
    };
  }
  if (width === 1) {
    const threshold = options.decisionThreshold ?? 0.5;
    return {
      batch,
      classCount,
      teacherClass: thresholdClasses(batch.teacherScores, batch.rows, threshold),
      candidateClass: thresholdClasses(batch.candidateScores, batch.rows, threshold),
    };
  }
  return {
    batch,
    classCount,
    teacherClass: argmaxClasses(batch.teacherScores, batch.rows, width),
    candidateClass: argmaxClasses(batch.candidateScores, batch.rows, width),
  };
}

function thresholdClasses(scores: Float32Array, rows: number, threshold: number): Int32Array {
  const classes = new Int32Array(rows);
  for (let i = 0; i < rows; i++) classes[i] = scores[i]! >= threshold ? 1 : 0;
  return classes;
}

function argmaxClasses(scores: Float32Array, rows: number, width: number): Int32Array {
  const classes = new Int32Array(rows);
  for (let i = 0, base = 0; i < rows; i++, base += width) {
    let best = 0;
    let bestScore = scores[base]!;
    for (let k = 1; k < width; k++) {
      const score = scores[base + k]!;
      if (score > bestScore) {
        bestScore = score;
        best = k;
      }
    }
    classes[i] = best;
  }
  return classes;
}

function checkBatch(batch: EvaluationBatch): void {
  const where = `${batch.dataset} batch`;
  const { rows, outputWidth } = batch;
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`${where}: rows must be a count, got ${rows}`);
  if (!Number.isInteger(outputWidth) || outputWidth < 1)
    throw new Error(`${where}: outputWidth must be ≥ 1, got ${outputWidth}`);
  for (const [name, scores] of [
    ['teacherScores', batch.teacherScores],
    ['candidateScores', batch.candidateScores],
  ] as const) {
    if (scores.length !== rows * outputWidth)
      throw new Error(
        `${where}: ${name} has ${scores.length} values, expected rows × outputWidth = ${rows} × ${outputWidth}`,
      );
  }
  const columns: [string, { length: number } | undefined][] = [
    ['labels', batch.labels],
    ['sensitive', batch.sensitive?.codes],
    ...Object.entries(batch.numericFeatures).map(([n, c]): [string, { length: number }] => [
      `feature ${n}`,
      c,
    ]),
    ...Object.entries(batch.categoricalFeatures).map(([n, c]): [string, { length: number }] => [
      `feature ${n}`,
      c.codes,
    ]),
    ...Object.entries(batch.slices).map(([n, c]): [string, { length: number }] => [
      `slice column ${n}`,
      c.codes,
    ]),
  ];
  for (const [name, column] of columns) {
    if (column !== undefined && column.length !== rows)
      throw new Error(`${where}: ${name} has ${column.length} values, expected ${rows} rows`);
  }
}
