import { newcombePaired, wilson, zFor } from './intervals.js';
import type { MetricOutcome, MetricResult, TestedValues } from './metric-result.js';
import { negativeFlipRate } from './negative-flip-rate.js';
import type { EvaluationOptions } from './options.js';
import type { RowMetricKind } from './row-metric.js';
import type { DecodedBatch } from './predictions.js';
import { holmAdjusted, mcnemarExactPValue } from './significance.js';
import { readCount, readNonNegative, readNumber, readObject, requireThat } from './state-checks.js';

/**
 * accuracyDrop on the current dataset.
 *
 * Classification, labelled rows present: teacher accuracy − candidate accuracy over the
 * labelled rows, with Newcombe's paired score interval on the 2×2 table of (teacher correct,
 * candidate correct), and McNemar's exact test of its discordant pairs, so that grading can tell
 * a drop from chance. Without labels: 1 − top-1 agreement with the teacher, with a Wilson
 * interval on the disagreement rate. The same table gives negativeFlipRate
 * (negative-flip-rate.ts).
 *
 * Regression, labelled: (MAE_candidate − MAE_teacher) / mean|label|, the extra error as a
 * fraction of the label scale; label-free the same with the teacher as the label:
 * mean|candidate − teacher| / mean|teacher|. The interval is the normal interval of the mean
 * per-row numerator (the denominator taken as fixed).
 */
export interface AccuracyDropState {
  rows: number;
  /** Classification: the paired table over labelled rows, and agreement over all rows. */
  agreements: number;
  bothCorrect: number;
  teacherOnlyCorrect: number;
  candidateOnlyCorrect: number;
  neitherCorrect: number;
  /** Regression sums. */
  labelled: number;
  sumAbsLabel: number;
  sumTeacherAbsError: number;
  sumCandidateAbsError: number;
  sumExtraError: number;
  sumSquaredExtraError: number;
  sumAbsTeacher: number;
  sumDeviation: number;
  sumSquaredDeviation: number;
}

const countFields = [
  'rows',
  'agreements',
  'bothCorrect',
  'teacherOnlyCorrect',
  'candidateOnlyCorrect',
  'neitherCorrect',
  'labelled',
] as const;
/** Classification counts; regression leaves them 0 (labelled aside). */
const classificationFields = [
  'agreements',
  'bothCorrect',
  'teacherOnlyCorrect',
  'candidateOnlyCorrect',
  'neitherCorrect',
] as const;
/** Regression sums over labelled rows, then over all rows; classification leaves them 0. */
const labelledSums = [
  'sumAbsLabel',
  'sumTeacherAbsError',
  'sumCandidateAbsError',
  'sumExtraError',
  'sumSquaredExtraError',
] as const;
const rowSums = ['sumAbsTeacher', 'sumDeviation', 'sumSquaredDeviation'] as const;

/** Teacher against candidate, row by row: top-1 agreement over all rows, correctness over labelled ones. */
export type PairedTable = Pick<
  AccuracyDropState,
  'rows' | 'labelled' | (typeof classificationFields)[number]
>;

export interface AccuracyDetails {
  mode: 'labelled' | 'label-free';
  rows: number;
  labelledRows: number;
  teacherAccuracy?: number;
  candidateAccuracy?: number;
  agreement?: number;
  teacherMeanAbsoluteError?: number;
  candidateMeanAbsoluteError?: number;
}

export class AccuracyDropAccumulator {
  private state: AccuracyDropState = {
    rows: 0,
    agreements: 0,
    bothCorrect: 0,
    teacherOnlyCorrect: 0,
    candidateOnlyCorrect: 0,
    neitherCorrect: 0,
    labelled: 0,
    sumAbsLabel: 0,
    sumTeacherAbsError: 0,
    sumCandidateAbsError: 0,
    sumExtraError: 0,
    sumSquaredExtraError: 0,
    sumAbsTeacher: 0,
    sumDeviation: 0,
    sumSquaredDeviation: 0,
  };

  constructor(private readonly options: EvaluationOptions) {}

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch } = decoded;
    if (batch.dataset !== 'current') return;
    const count = indices ? indices.length : batch.rows;
    if (this.options.task === 'regression') this.updateRegression(decoded, indices, count);
    else this.updateClassification(decoded, indices, count);
  }

  private updateClassification(decoded: DecodedBatch, indices: Int32Array | undefined, count: number): void {
    const teacher = decoded.teacherClass!;
    const candidate = decoded.candidateClass!;
    const labels = decoded.batch.labels;
    const s = this.state;
    let agreements = 0;
    let both = 0;
    let teacherOnly = 0;
    let candidateOnly = 0;
    let neither = 0;
    for (let j = 0; j < count; j++) {
      const i = indices ? indices[j]! : j;
      const t = teacher[i]!;
      const c = candidate[i]!;
      if (t === c) agreements++;
      if (labels === undefined) continue;
      const label = labels[i]!;
      if (label !== label) continue;
      const teacherRight = t === label;
      const candidateRight = c === label;
      if (teacherRight) {
        if (candidateRight) both++;
        else teacherOnly++;
      } else if (candidateRight) candidateOnly++;
      else neither++;
    }
    s.rows += count;
    s.agreements += agreements;
    s.bothCorrect += both;
    s.teacherOnlyCorrect += teacherOnly;
    s.candidateOnlyCorrect += candidateOnly;
    s.neitherCorrect += neither;
    s.labelled += both + teacherOnly + candidateOnly + neither;
  }

  private updateRegression(decoded: DecodedBatch, indices: Int32Array | undefined, count: number): void {
    const { batch } = decoded;
    if (batch.outputWidth !== 1)
      throw new Error(`regression needs one output per row, the batch has outputWidth ${batch.outputWidth}`);
    const teacher = batch.teacherScores;
    const candidate = batch.candidateScores;
    const labels = batch.labels;
    const s = this.state;
    for (let j = 0; j < count; j++) {
      const i = indices ? indices[j]! : j;
      const t = teacher[i]!;
      const c = candidate[i]!;
      const deviation = Math.abs(c - t);
      s.sumAbsTeacher += Math.abs(t);
      s.sumDeviation += deviation;
      s.sumSquaredDeviation += deviation * deviation;
      if (labels === undefined) continue;
      const label = labels[i]!;
      if (label !== label) continue;
      const teacherError = Math.abs(t - label);
      const candidateError = Math.abs(c - label);
      const extra = candidateError - teacherError;
      s.labelled++;
      s.sumTeacherAbsError += teacherError;
      s.sumCandidateAbsError += candidateError;
      s.sumAbsLabel += Math.abs(label);
      s.sumExtraError += extra;
      s.sumSquaredExtraError += extra * extra;
    }
    s.rows += count;
  }

  merge(other: AccuracyDropAccumulator): void {
    for (const key of Object.keys(this.state) as (keyof AccuracyDropState)[])
      this.state[key] += other.state[key];
  }

  result(): MetricOutcome {
    const s = this.state;
    const confidence = this.options.confidence;
    if (s.rows === 0) return { disabled: { name: 'accuracyDrop', reason: 'no current rows' } };
    if (this.options.task === 'regression') {
      const labelled = s.labelled > 0;
      const n = labelled ? s.labelled : s.rows;
      const scale = (labelled ? s.sumAbsLabel : s.sumAbsTeacher) / n;
      if (!(scale > 0))
        return {
          disabled: {
            name: 'accuracyDrop',
            reason: labelled
              ? 'every label is 0, the relative error is undefined'
              : 'every teacher output is 0',
          },
        };
      const sum = labelled ? s.sumExtraError : s.sumDeviation;
      const sumSquares = labelled ? s.sumSquaredExtraError : s.sumSquaredDeviation;
      const mean = sum / n;
      const value = mean / scale;
      const computed: MetricResult = {
        name: 'accuracyDrop',
        value,
        samples: n,
        detail: labelled
          ? '(MAE candidate − MAE teacher) / mean |label|'
          : 'label-free: mean |candidate − teacher| / mean |teacher|',
      };
      // One row has no spread to estimate; grading then falls back on minSamples.
      if (n > 1) {
        const variance = Math.max(0, (sumSquares - n * mean * mean) / (n - 1));
        const half = (zFor(confidence) * Math.sqrt(variance / n)) / scale;
        computed.interval = { lower: value - half, upper: value + half, confidence, method: 'normal-mean' };
      }
      return { computed };
    }
    if (s.labelled > 0) {
      const value = (s.teacherOnlyCorrect - s.candidateOnlyCorrect) / s.labelled;
      const pValue = mcnemarExactPValue(s.teacherOnlyCorrect, s.candidateOnlyCorrect);
      const tests: TestedValues = {
        statistic: 'accuracyDrop',
        confidence,
        correction: 'holm',
        values: [
          {
            subject: 'teacher vs candidate on the labelled rows',
            value,
            pValue,
            // One test per evaluation and per slice: Holm over a family of one leaves p as it is.
            adjustedPValue: holmAdjusted([pValue])[0]!,
            method: 'mcnemar-exact',
            samples: s.labelled,
            teacherOnlyCorrect: s.teacherOnlyCorrect,
            candidateOnlyCorrect: s.candidateOnlyCorrect,
          },
        ],
      };
      return {
        computed: {
          name: 'accuracyDrop',
          value,
          samples: s.labelled,
          interval: newcombePaired(
            s.bothCorrect,
            s.teacherOnlyCorrect,
            s.candidateOnlyCorrect,
            s.neitherCorrect,
            confidence,
          ),
          detail: 'teacher accuracy − candidate accuracy',
          tests,
        },
      };
    }
    const disagreements = s.rows - s.agreements;
    return {
      computed: {
        name: 'accuracyDrop',
        value: disagreements / s.rows,
        samples: s.rows,
        interval: wilson(disagreements, s.rows, confidence),
        detail: 'label-free: 1 − top-1 agreement with the teacher',
      },
    };
  }

  details(): AccuracyDetails {
    const s = this.state;
    const labelled = s.labelled > 0;
    const base: AccuracyDetails = {
      mode: labelled ? 'labelled' : 'label-free',
      rows: s.rows,
      labelledRows: s.labelled,
    };
    if (this.options.task === 'regression') {
      if (labelled) {
        base.teacherMeanAbsoluteError = s.sumTeacherAbsError / s.labelled;
        base.candidateMeanAbsoluteError = s.sumCandidateAbsError / s.labelled;
      }
      return base;
    }
    if (s.rows > 0) base.agreement = s.agreements / s.rows;
    if (labelled) {
      base.teacherAccuracy = (s.bothCorrect + s.teacherOnlyCorrect) / s.labelled;
      base.candidateAccuracy = (s.bothCorrect + s.candidateOnlyCorrect) / s.labelled;
    }
    return base;
  }

  /** The classification counts negativeFlipRate rests on; undefined for regression. */
  pairedTable(): PairedTable | undefined {
    if (this.options.task === 'regression') return undefined;
    const s = this.state;
    return {
      rows: s.rows,
      agreements: s.agreements,
      labelled: s.labelled,
      bothCorrect: s.bothCorrect,
      teacherOnlyCorrect: s.teacherOnlyCorrect,
      candidateOnlyCorrect: s.candidateOnlyCorrect,
      neitherCorrect: s.neitherCorrect,
    };
  }

  /** accuracyDrop, and negativeFlipRate from the same paired table. */
  outcomes(): MetricOutcome[] {
    return [this.result(), negativeFlipRate(this.pairedTable(), this.options)];
  }

  toJSON(): AccuracyDropState {
    return { ...this.state };
  }

  /** Current rows counted (what the slice group's current rows must equal). */
  get rows(): number {
    return this.state.rows;
  }

  /**
   * From its JSON, checked: every count a non-negative integer, every sum finite (and ≥ 0 but for
   * the signed extra error), the paired table adding up to the labelled rows, and the fields of
   * the other task 0.
   */
  static fromJSON(json: unknown, options: EvaluationOptions, where: string): AccuracyDropAccumulator {
    const state = readObject(json, where);
    const accumulator = new AccuracyDropAccumulator(options);
    const s = accumulator.state;
    for (const key of countFields) s[key] = readCount(state[key], `${where}.${key}`);
    for (const key of [...labelledSums, ...rowSums])
      s[key] =
        key === 'sumExtraError'
          ? readNumber(state[key], `${where}.${key}`)
          : readNonNegative(state[key], `${where}.${key}`);
    requireThat(s.agreements <= s.rows, `${where}: agreements (${s.agreements}) exceed rows (${s.rows})`);
    requireThat(s.labelled <= s.rows, `${where}: labelled (${s.labelled}) exceeds rows (${s.rows})`);
    const zero = (keys: readonly (keyof AccuracyDropState)[], why: string) => {
      for (const key of keys)
        if (s[key] !== 0) throw new Error(`${where}.${key} is ${s[key]}, expected 0 ${why}`);
    };
    if (options.task === 'classification') {
      const table = s.bothCorrect + s.teacherOnlyCorrect + s.candidateOnlyCorrect + s.neitherCorrect;
      requireThat(
        table === s.labelled,
        `${where}: bothCorrect + teacherOnlyCorrect + candidateOnlyCorrect + neitherCorrect = ${table}, expected labelled (${s.labelled})`,
      );
      zero([...labelledSums, ...rowSums], 'for classification');
    } else {
      zero(classificationFields, 'for regression');
      if (s.labelled === 0) zero(labelledSums, 'without labelled rows');
      if (s.rows === 0) zero(rowSums, 'without rows');
    }
    return accumulator;
  }
}

export const accuracyDropMetric: RowMetricKind<AccuracyDropAccumulator> = {
  name: 'accuracyDrop',
  since: 1,
  metrics: ['accuracyDrop', 'negativeFlipRate'],
  perSlice: true,
  create: (options) => new AccuracyDropAccumulator(options),
  fromJSON: (state, { options, where, rows }) => {
    const accumulator = AccuracyDropAccumulator.fromJSON(state, options, where);
    requireThat(
      accumulator.rows === rows.current,
      `${where}.rows is ${accumulator.rows}, expected the current rows (${rows.current})`,
    );
    return accumulator;
  },
};
