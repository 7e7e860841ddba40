import { zFor } from './intervals.js';
import type { MetricOutcome } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';
import type { RowMetricKind } from './row-metric.js';
import {
  maxClasses,
  readArray,
  readCount,
  readNonNegative,
  readObject,
  requireThat,
} from './state-checks.js';
import { percent } from './percent.js';

/**
 * calibrationChange on the labelled current rows: how much less the candidate's confidence can be
 * trusted than the teacher's. The value is the expected calibration error (ECE; Guo et al. 2017,
 * "On Calibration of Modern Neural Networks") of the candidate minus the teacher's: top-label
 * confidence in 15 equal-width bins, ECE = Σ_b (n_b/n)·|accuracy_b − mean confidence_b|. Beside
 * it, each model's Brier score and their paired difference with a normal interval, which is a
 * proper scoring rule and a mean of per-row terms (ECE, a binned and biased statistic, has no
 * interval of its own).
 *
 * Scores become probabilities per row: one score is P(class 1); several are taken as they are
 * when each lies in [0, 1] and they sum to 1 within 1e-3, and through a softmax otherwise.
 */
export const calibrationBins = 15;

/** A row's scores sum to 1 within this to be read as probabilities. */
const probabilityTolerance = 1e-3;

/** One model's sums over the rows used. */
export interface CalibrationSums {
  /** Per confidence bin b, (b/15, (b+1)/15]: rows, their summed top-label confidence, rows right. */
  binRows: number[];
  binConfidence: number[];
  binCorrect: number[];
  /** Σ of the per-row Brier score (multiclass: Σ_k (p_k − y_k)²; two classes: half of it). */
  sumBrier: number;
  /** Rows whose scores were not probabilities and went through a softmax. */
  softmaxRows: number;
}

export interface CalibrationChangeState {
  /** Classes the probabilities range over; 0 until a row is used. */
  classes: number;
  /** Labelled rows used. */
  rows: number;
  /** Σ (candidate Brier − teacher Brier)² over the rows used; Σ of the differences is the difference of sumBrier. */
  sumSquaredBrierDifference: number;
  teacher: CalibrationSums;
  candidate: CalibrationSums;
  /** Labelled rows whose label is not a class index of the outputs: left out. */
  otherLabels: number;
  /** Labelled rows with a score that is not finite, or a single score outside [0, 1]: left out. */
  notProbabilities: number;
}

function emptySums(): CalibrationSums {
  const zeros = () => new Array<number>(calibrationBins).fill(0);
  return { binRows: zeros(), binConfidence: zeros(), binCorrect: zeros(), sumBrier: 0, softmaxRows: 0 };
}

/** One row's probabilities, read into `into`; false when they are not probabilities at all. */
function readProbabilities(
  scores: Float32Array,
  row: number,
  width: number,
  into: Float64Array,
): 'as-is' | 'softmax' | false {
  const base = row * width;
  if (width === 1) {
    const p = scores[base]!;
    if (!(p >= 0 && p <= 1)) return false;
    into[0] = 1 - p;
    into[1] = p;
    return 'as-is';
  }
  let sum = 0;
  let within = true;
  let max = -Infinity;
  for (let k = 0; k < width; k++) {
    const s = scores[base + k]!;
    if (!Number.isFinite(s)) return false;
    if (s < 0 || s > 1) within = false;
    sum += s;
    if (s > max) max = s;
  }
  if (within && Math.abs(sum - 1) <= probabilityTolerance) {
    for (let k = 0; k < width; k++) into[k] = scores[base + k]!;
    return 'as-is';
  }
  let total = 0;
  for (let k = 0; k < width; k++) total += into[k] = Math.exp(scores[base + k]! - max);
  for (let k = 0; k < width; k++) into[k]! /= total;
  return 'softmax';
}

/** The bin of a top-label confidence: (b/15, (b+1)/15], 0 in the first. */
export function confidenceBin(confidence: number): number {
  return Math.min(calibrationBins - 1, Math.max(0, Math.ceil(confidence * calibrationBins) - 1));
}

export class CalibrationChangeAccumulator {
  private state: CalibrationChangeState = {
    classes: 0,
    rows: 0,
    sumSquaredBrierDifference: 0,
    teacher: emptySums(),
    candidate: emptySums(),
    otherLabels: 0,
    notProbabilities: 0,
  };

  constructor(private readonly options: EvaluationOptions) {}

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch } = decoded;
    const labels = batch.labels;
    if (batch.dataset !== 'current' || this.options.task === 'regression' || labels === undefined) return;
    const width = batch.outputWidth;
    const classes = Math.max(2, width);
    const s = this.state;
    const teacher = new Float64Array(classes);
    const candidate = new Float64Array(classes);
    const count = indices ? indices.length : batch.rows;
    for (let j = 0; j < count; j++) {
      const i = indices ? indices[j]! : j;
      const label = labels[i]!;
      if (label !== label) continue;
      if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
        s.otherLabels++;
        continue;
      }
      const teacherRead = readProbabilities(batch.teacherScores, i, width, teacher);
      const candidateRead = readProbabilities(batch.candidateScores, i, width, candidate);
      if (teacherRead === false || candidateRead === false) {
        s.notProbabilities++;
        continue;
      }
      if (s.classes === 0) s.classes = classes;
      else if (s.classes !== classes)
        throw new Error(`calibrationChange: a batch has ${classes} classes, earlier ones had ${s.classes}`);
      const teacherBrier = addRow(s.teacher, teacher, label, teacherRead === 'softmax', width === 1);
      const candidateBrier = addRow(s.candidate, candidate, label, candidateRead === 'softmax', width === 1);
      const difference = candidateBrier - teacherBrier;
      s.sumSquaredBrierDifference += difference * difference;
      s.rows++;
    }
  }

  merge(other: CalibrationChangeAccumulator): void {
    const ours = this.state;
    const theirs = other.state;
    if (ours.classes !== 0 && theirs.classes !== 0 && ours.classes !== theirs.classes)
      throw new Error(`calibrationChange: cannot merge ${theirs.classes} classes into ${ours.classes}`);
    if (ours.classes === 0) ours.classes = theirs.classes;
    ours.rows += theirs.rows;
    ours.sumSquaredBrierDifference += theirs.sumSquaredBrierDifference;
    ours.otherLabels += theirs.otherLabels;
    ours.notProbabilities += theirs.notProbabilities;
    for (const model of ['teacher', 'candidate'] as const) {
      const into = ours[model];
      const from = theirs[model];
      for (let b = 0; b < calibrationBins; b++) {
        into.binRows[b]! += from.binRows[b]!;
        into.binConfidence[b]! += from.binConfidence[b]!;
        into.binCorrect[b]! += from.binCorrect[b]!;
      }
      into.sumBrier += from.sumBrier;
      into.softmaxRows += from.softmaxRows;
    }
  }

  outcomes(): MetricOutcome[] {
    return [this.result()];
  }

  result(): MetricOutcome {
    const name = 'calibrationChange';
    const s = this.state;
    if (this.options.task === 'regression')
      return {
        disabled: {
          name,
          reason:
            'regression has no class probabilities; accuracyDrop (the MAE-based drop, per slice) covers it',
        },
      };
    if (s.notProbabilities > 0)
      return {
        disabled: {
          name,
          reason: `${s.notProbabilities} labelled rows have a score that is not finite or a single score outside [0, 1]; calibration needs probabilities (one score is P(class 1))`,
        },
      };
    if (s.rows === 0)
      return { disabled: { name, reason: s.otherLabels > 0 ? 'no label is a class index' : 'no labels' } };
    const n = s.rows;
    const teacherEce = expectedCalibrationError(s.teacher, n);
    const candidateEce = expectedCalibrationError(s.candidate, n);
    const teacherBrier = s.teacher.sumBrier / n;
    const candidateBrier = s.candidate.sumBrier / n;
    const brierChange = candidateBrier - teacherBrier;
    const facts: Record<string, number | [number, number]> = {
      teacherEce,
      candidateEce,
      teacherBrier,
      candidateBrier,
      brierChange,
    };
    let brierText = `Brier ${teacherBrier.toFixed(4)} → ${candidateBrier.toFixed(4)}`;
    // One row has no spread to estimate.
    if (n > 1) {
      const variance = Math.max(0, (s.sumSquaredBrierDifference - n * brierChange * brierChange) / (n - 1));
      const half = zFor(this.options.confidence) * Math.sqrt(variance / n);
      facts.brierChangeInterval = [brierChange - half, brierChange + half];
      brierText += ` (change ${signed(brierChange)}, ${Math.round(this.options.confidence * 100)}% interval ${signed(brierChange - half)} to ${signed(brierChange + half)})`;
    }
    facts.teacherSoftmaxRows = s.teacher.softmaxRows;
    facts.candidateSoftmaxRows = s.candidate.softmaxRows;
    facts.otherLabels = s.otherLabels;
    return {
      computed: {
        name,
        value: candidateEce - teacherEce,
        samples: n,
        detail: `ECE (${calibrationBins} bins) ${percent(teacherEce)} (teacher) → ${percent(candidateEce)} (candidate) on ${n} labelled rows; ${brierText}`,
        facts,
      },
    };
  }

  toJSON(): CalibrationChangeState {
    const copy = (sums: CalibrationSums): CalibrationSums => ({
      binRows: [...sums.binRows],
      binConfidence: [...sums.binConfidence],
      binCorrect: [...sums.binCorrect],
      sumBrier: sums.sumBrier,
      softmaxRows: sums.softmaxRows,
    });
    const s = this.state;
    return { ...s, teacher: copy(s.teacher), candidate: copy(s.candidate) };
  }

  /** Labelled current rows counted: used, or left out with a reason. */
  get labelled(): number {
    return this.state.rows + this.state.otherLabels + this.state.notProbabilities;
  }

  /**
   * From its JSON, checked: counts are counts; each model's bins hold exactly the rows used, no
   * bin more right rows than rows, and a bin's summed confidence within its edges; Brier sums
   * within [0, 2·rows] (two classes: [0, rows]); the squared differences at least what their sum
   * implies; everything 0 before a row is used, and for regression.
   */
  static fromJSON(json: unknown, options: EvaluationOptions, where: string): CalibrationChangeAccumulator {
    const state = readObject(json, where);
    const accumulator = new CalibrationChangeAccumulator(options);
    const s = accumulator.state;
    s.classes = readCount(state.classes, `${where}.classes`);
    requireThat(
      s.classes === 0 || (s.classes >= 2 && s.classes <= maxClasses),
      `${where}.classes is ${s.classes}, expected 0 (no row yet) or 2 to ${maxClasses}`,
    );
    s.rows = readCount(state.rows, `${where}.rows`);
    s.otherLabels = readCount(state.otherLabels, `${where}.otherLabels`);
    s.notProbabilities = readCount(state.notProbabilities, `${where}.notProbabilities`);
    s.sumSquaredBrierDifference = readNonNegative(
      state.sumSquaredBrierDifference,
      `${where}.sumSquaredBrierDifference`,
    );
    requireThat(
      (s.classes === 0) === (s.rows === 0),
      `${where}: classes is ${s.classes} but rows is ${s.rows}; a state has classes exactly when it has used rows`,
    );
    const maxBrier = s.classes === 2 ? 1 : 2;
    for (const model of ['teacher', 'candidate'] as const)
      s[model] = readSums(state[model], `${where}.${model}`, s.rows, maxBrier);
    // Cauchy–Schwarz: Σd² ≥ (Σd)²/n; each |d| ≤ maxBrier.
    const sumDifference = s.candidate.sumBrier - s.teacher.sumBrier;
    const squares = s.sumSquaredBrierDifference;
    requireThat(
      squares * s.rows >= sumDifference * sumDifference * (1 - 1e-9) - 1e-9 &&
        squares <= maxBrier * maxBrier * s.rows * (1 + 1e-12),
      `${where}.sumSquaredBrierDifference is ${s.sumSquaredBrierDifference}, impossible for ${s.rows} rows whose Brier scores differ by ${sumDifference} in all`,
    );
    if (options.task === 'regression')
      requireThat(accumulator.labelled === 0, `${where} counts labelled rows, but the task is regression`);
    return accumulator;
  }
}

function readSums(json: unknown, where: string, rows: number, maxBrier: number): CalibrationSums {
  const state = readObject(json, where);
  const bins = (
    field: 'binRows' | 'binConfidence' | 'binCorrect',
    read: (v: unknown, at: string) => number,
  ) => {
    const values = readArray(state[field], `${where}.${field}`, calibrationBins).map((v, b) =>
      read(v, `${where}.${field}[${b}]`),
    );
    requireThat(
      values.length === calibrationBins,
      `${where}.${field} has ${values.length} bins, expected ${calibrationBins}`,
    );
    return values;
  };
  const sums: CalibrationSums = {
    binRows: bins('binRows', readCount),
    binConfidence: bins('binConfidence', readNonNegative),
    binCorrect: bins('binCorrect', readCount),
    sumBrier: readNonNegative(state.sumBrier, `${where}.sumBrier`),
    softmaxRows: readCount(state.softmaxRows, `${where}.softmaxRows`),
  };
  const binned = sums.binRows.reduce((a, b) => a + b, 0);
  requireThat(binned === rows, `${where}.binRows add up to ${binned}, expected rows (${rows})`);
  requireThat(sums.softmaxRows <= rows, `${where}.softmaxRows (${sums.softmaxRows}) exceeds rows (${rows})`);
  for (let b = 0; b < calibrationBins; b++) {
    const n = sums.binRows[b]!;
    requireThat(
      sums.binCorrect[b]! <= n,
      `${where}.binCorrect[${b}] (${sums.binCorrect[b]}) exceeds binRows[${b}] (${n})`,
    );
    const confidence = sums.binConfidence[b]!;
    const slack = 1e-9 * (n + 1);
    requireThat(
      confidence >= (n * b) / calibrationBins - slack &&
        confidence <= (n * (b + 1)) / calibrationBins + slack,
      `${where}.binConfidence[${b}] is ${confidence}, outside what ${n} confidences in (${b}/${calibrationBins}, ${b + 1}/${calibrationBins}] sum to`,
    );
  }
  requireThat(
    sums.sumBrier <= maxBrier * rows * (1 + 1e-12),
    `${where}.sumBrier is ${sums.sumBrier}, more than ${maxBrier} per row over ${rows} rows`,
  );
  return sums;
}

/** Adds a row to one model's sums; returns its Brier score. */
function addRow(
  sums: CalibrationSums,
  probabilities: Float64Array,
  label: number,
  softmax: boolean,
  oneScore: boolean,
): number {
  let top = 0;
  let brier = 0;
  for (let k = 0; k < probabilities.length; k++) {
    const p = probabilities[k]!;
    if (p > probabilities[top]!) top = k;
    const error = p - (k === label ? 1 : 0);
    brier += error * error;
  }
  // Two classes: half the sum, (p₁ − y)², the binary Brier score (sklearn's brier_score_loss).
  if (probabilities.length === 2) brier /= 2;
  // One score: class 1 at p = ½, as the predicted class is read (the first maximum would say 0).
  if (oneScore && probabilities[1] === probabilities[0]) top = 1;
  const confidence = probabilities[top]!;
  const bin = confidenceBin(confidence);
  sums.binRows[bin]!++;
  sums.binConfidence[bin]! += confidence;
  if (top === label) sums.binCorrect[bin]!++;
  sums.sumBrier += brier;
  if (softmax) sums.softmaxRows++;
  return brier;
}

function expectedCalibrationError(sums: CalibrationSums, rows: number): number {
  let gap = 0;
  for (let b = 0; b < calibrationBins; b++) gap += Math.abs(sums.binCorrect[b]! - sums.binConfidence[b]!);
  return gap / rows;
}

export const calibrationChangeMetric: RowMetricKind<CalibrationChangeAccumulator> = {
  name: 'calibrationChange',
  since: 2,
  metrics: ['calibrationChange'],
  perSlice: true,
  create: (options) => new CalibrationChangeAccumulator(options),
  fromJSON: (state, { options, where, rows }) => {
    const accumulator = CalibrationChangeAccumulator.fromJSON(state, options, where);
    requireThat(
      accumulator.labelled <= rows.current,
      `${where}: it counts ${accumulator.labelled} labelled rows, more than the current rows (${rows.current})`,
    );
    return accumulator;
  },
};

function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
}
