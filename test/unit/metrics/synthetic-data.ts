import {
  EvaluationAccumulator,
  type EvaluationBatch,
  type EvaluationOptions,
} from '../../../src/metrics/index.js';
import { textColumn, type TextColumn } from '../../../src/metrics/text-column.js';
import { gaussian, seededRandom } from '../../../scripts/fixtures/random.js';

export { gaussian, seededRandom };

export interface SyntheticOptions {
  dataset: 'reference' | 'current';
  rows: number;
  seed: number;
  outputWidth?: number;
  labels?: boolean;
  /** Shift of the numeric features and the candidate's noise level, to create drift and disagreement. */
  shift?: number;
  candidateNoise?: number;
}

/** A batch shaped like the evaluator's: two numeric and one categorical feature, two slice columns. */
export function syntheticBatch(options: SyntheticOptions): EvaluationBatch {
  const random = seededRandom(options.seed);
  const width = options.outputWidth ?? 1;
  const rows = options.rows;
  const shift = options.shift ?? 0;
  const noise = options.candidateNoise ?? 0.3;
  const amount = new Float64Array(rows);
  const hour = new Float64Array(rows);
  const merchant: string[] = [];
  const region: string[] = [];
  const device: string[] = [];
  const sensitive: string[] = [];
  const teacher = new Float32Array(rows * width);
  const candidate = new Float32Array(rows * width);
  const labels = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    amount[i] = Math.exp(gaussian(random) + shift);
    hour[i] = Math.floor(random() * 24);
    merchant.push(['food', 'travel', 'retail', 'other'][Math.floor(random() * (shift > 0 ? 3 : 4))]!);
    region.push(random() < 0.6 ? 'eu' : 'us');
    device.push(random() < 0.5 ? 'mobile' : 'web');
    sensitive.push(random() < 0.3 ? 'a' : random() < 0.5 ? 'b' : 'c');
    const signal = gaussian(random) + (sensitive[i] === 'a' ? 0.3 : 0);
    if (width === 1) {
      teacher[i] = 1 / (1 + Math.exp(-signal));
      candidate[i] = 1 / (1 + Math.exp(-(signal + noise * gaussian(random))));
      labels[i] = random() < (teacher[i] as number) ? 1 : 0;
    } else {
      for (let k = 0; k < width; k++) {
        const base = signal * (k - (width - 1) / 2) + gaussian(random) * 0.5;
        teacher[i * width + k] = base;
        candidate[i * width + k] = base + noise * gaussian(random);
      }
      labels[i] = Math.floor(random() * width);
    }
  }
  const batch: EvaluationBatch = {
    dataset: options.dataset,
    rows,
    numericFeatures: { amount, hour },
    categoricalFeatures: { merchant: textColumn(merchant) },
    teacherScores: teacher,
    candidateScores: candidate,
    outputWidth: width,
    sensitive: textColumn(sensitive),
    slices: { region: textColumn(region), device: textColumn(device) },
  };
  if (options.labels) batch.labels = labels;
  return batch;
}

/** Rows [start, end) of a batch, as a shard of it would see them. */
export function sliceBatch(batch: EvaluationBatch, start: number, end: number): EvaluationBatch {
  const pick = <T extends { slice(a: number, b: number): T }>(column: T) => column.slice(start, end);
  const pickText = (column: TextColumn): TextColumn => ({ codes: pick(column.codes), values: column.values });
  const mapValues = <T extends { slice(a: number, b: number): T }>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [k, pick(v)]));
  const mapTexts = (record: Record<string, TextColumn>) =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [k, pickText(v)]));
  const w = batch.outputWidth;
  const part: EvaluationBatch = {
    dataset: batch.dataset,
    rows: end - start,
    numericFeatures: mapValues(batch.numericFeatures),
    categoricalFeatures: mapTexts(batch.categoricalFeatures),
    teacherScores: batch.teacherScores.slice(start * w, end * w),
    candidateScores: batch.candidateScores.slice(start * w, end * w),
    outputWidth: w,
    slices: mapTexts(batch.slices),
  };
  if (batch.labels) part.labels = pick(batch.labels);
  if (batch.sensitive) part.sensitive = pickText(batch.sensitive);
  return part;
}

/** The columns of the penguins fixture spec (test/unit/evaluator/fixture-specs.ts). */
export const penguinsColumns = {
  numeric: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'],
  islands: ['Biscoe', 'Dream', 'Torgersen'],
  sexes: ['FEMALE', 'MALE'],
  classes: 3,
};

/**
 * A batch as the evaluator hands the metrics for the penguins fixture spec: four numeric
 * features (times `featureScale`), Island as a categorical feature and as the slice, Sex as the
 * sensitive attribute, three classes. Its states are what that spec's checks accept.
 */
export function penguinsBatch(options: {
  dataset: 'reference' | 'current';
  rows: number;
  seed: number;
  featureScale?: number;
}): EvaluationBatch {
  const random = seededRandom(options.seed);
  const { rows } = options;
  const width = penguinsColumns.classes;
  const scale = options.featureScale ?? 1;
  const numericFeatures = Object.fromEntries(
    penguinsColumns.numeric.map((name, f) => [
      name,
      Float64Array.from({ length: rows }, () => scale * (10 + f * 20) * Math.exp(0.2 * gaussian(random))),
    ]),
  );
  const pick = (values: string[]) =>
    textColumn(Array.from({ length: rows }, () => values[Math.floor(random() * values.length)]!));
  const island = pick(penguinsColumns.islands);
  const teacher = Float32Array.from({ length: rows * width }, () => random());
  const candidate = teacher.map((score) => score + 0.3 * gaussian(random));
  return {
    dataset: options.dataset,
    rows,
    numericFeatures,
    categoricalFeatures: { Island: island },
    teacherScores: teacher,
    candidateScores: candidate,
    outputWidth: width,
    labels: Float64Array.from({ length: rows }, () => Math.floor(random() * width)),
    sensitive: pick(penguinsColumns.sexes),
    slices: { Island: island },
  };
}

/** One shard's accumulator over penguins batches (`rows` per dataset), with every measurement. */
export function penguinsAccumulator(
  options: Partial<EvaluationOptions>,
  seed: number,
  { rows = 60, featureScale = 1 }: { rows?: number; featureScale?: number } = {},
): EvaluationAccumulator {
  const accumulator = new EvaluationAccumulator(options);
  accumulator.update(penguinsBatch({ dataset: 'reference', rows, seed, featureScale }));
  accumulator.update(penguinsBatch({ dataset: 'current', rows, seed: seed + 1, featureScale }));
  accumulator.recordLatency({ model: 'candidate', milliseconds: [3, 4.5, 5 + (seed % 7)] });
  accumulator.recordLatency({ model: 'teacher', milliseconds: [6, 7, 9] });
  accumulator.recordThroughput({ inferences: 1000 + seed, seconds: 1.5 });
  accumulator.recordMemory({
    candidateBytes: 1000,
    teacherBytes: 3000,
    candidateNonZeroParameters: 250,
    teacherNonZeroParameters: 750,
  });
  accumulator.recordEnergy({ joules: 5, inferences: 1000, seconds: 1.5, method: 'estimate' });
  return accumulator;
}
