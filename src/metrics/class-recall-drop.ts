import { newcombePaired } from './intervals.js';
import type { MetricOutcome, PairedTest } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { DecodedBatch } from './predictions.js';
import type { RowMetricKind } from './row-metric.js';
import { holmAdjusted, mcnemarExactPValue } from './significance.js';
import { maxClasses, readArray, readCount, readObject, requireThat } from './state-checks.js';
import { percent } from './percent.js';

/**
 * classRecallDrop on the current dataset: what pruning breaks beyond the average. Pruning tends
 * to cost a few classes far more than the rest (Hooker et al. 2019, "What do compressed deep
 * neural networks forget?"), which an overall accuracy drop averages away. For each true class
 * k, the paired table of the labelled rows of class k (both right, only the teacher, only the
 * candidate, neither) gives the recall drop teacher − candidate, Newcombe's paired interval and
 * McNemar's exact test; the p-values are Holm-adjusted over the classes that have at least
 * `minGroupCount` labelled rows, and the value is the largest drop among those classes.
 * Smaller classes are counted but do not decide (as groups do in demographicParity).
 */
export interface ClassRecallDropState {
  /** Per true class (index = label), the paired table of its labelled rows. */
  bothCorrect: number[];
  teacherOnlyCorrect: number[];
  candidateOnlyCorrect: number[];
  neitherCorrect: number[];
  /** Labelled rows whose label is not a class index of the outputs: counted, in no class. */
  otherLabels: number;
}

const tableFields = ['bothCorrect', 'teacherOnlyCorrect', 'candidateOnlyCorrect', 'neitherCorrect'] as const;

/** One class's paired table and what it gives. */
interface ClassTable {
  label: number;
  both: number;
  teacherOnly: number;
  candidateOnly: number;
  neither: number;
  rows: number;
  drop: number;
}

export class ClassRecallDropAccumulator {
  private readonly state: ClassRecallDropState = {
    bothCorrect: [],
    teacherOnlyCorrect: [],
    candidateOnlyCorrect: [],
    neitherCorrect: [],
    otherLabels: 0,
  };

  constructor(private readonly options: EvaluationOptions) {}

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch, teacherClass, candidateClass, classCount } = decoded;
    const labels = batch.labels;
    if (batch.dataset !== 'current' || this.options.task === 'regression' || labels === undefined) return;
    if (classCount > maxClasses)
      throw new Error(
        `classRecallDrop: the models have ${classCount} outputs, more than the ${maxClasses} classes a state may hold`,
      );
    const s = this.state;
    for (const field of tableFields) while (s[field].length < classCount) s[field].push(0);
    const count = indices ? indices.length : batch.rows;
    for (let j = 0; j < count; j++) {
      const i = indices ? indices[j]! : j;
      const label = labels[i]!;
      if (label !== label) continue;
      if (!(Number.isInteger(label) && label >= 0 && label < classCount)) {
        s.otherLabels++;
        continue;
      }
      const teacherRight = teacherClass![i] === label;
      const candidateRight = candidateClass![i] === label;
      const field = teacherRight
        ? candidateRight
          ? 'bothCorrect'
          : 'teacherOnlyCorrect'
        : candidateRight
          ? 'candidateOnlyCorrect'
          : 'neitherCorrect';
      s[field][label]!++;
    }
  }

  merge(other: ClassRecallDropAccumulator): void {
    for (const field of tableFields) {
      const ours = this.state[field];
      other.state[field].forEach((n, k) => (ours[k] = (ours[k] ?? 0) + n));
    }
    this.state.otherLabels += other.state.otherLabels;
  }

  private tables(): ClassTable[] {
    const s = this.state;
    return s.bothCorrect.map((both, label) => {
      const teacherOnly = s.teacherOnlyCorrect[label]!;
      const candidateOnly = s.candidateOnlyCorrect[label]!;
      const neither = s.neitherCorrect[label]!;
      const rows = both + teacherOnly + candidateOnly + neither;
      return {
        label,
        both,
        teacherOnly,
        candidateOnly,
        neither,
        rows,
        drop: rows === 0 ? 0 : (teacherOnly - candidateOnly) / rows,
      };
    });
  }

  outcomes(): MetricOutcome[] {
    return [this.result()];
  }

  result(): MetricOutcome {
    const name = 'classRecallDrop';
    const { confidence, minGroupCount } = this.options;
    if (this.options.task === 'regression')
      return {
        disabled: {
          name,
          reason: 'regression has no classes; accuracyDrop (the MAE-based drop, per slice) covers it',
        },
      };
    const tables = this.tables().filter((t) => t.rows > 0);
    if (tables.length === 0)
      return {
        disabled: { name, reason: this.state.otherLabels > 0 ? 'no label is a class index' : 'no labels' },
      };
    const deciding = tables.filter((t) => t.rows >= minGroupCount);
    const small = tables.filter((t) => t.rows < minGroupCount);
    if (deciding.length === 0) {
      const largest = tables.reduce((a, b) => (b.rows > a.rows ? b : a));
      return {
        disabled: {
          name,
          reason: `no class has ${minGroupCount} labelled rows (minGroupCount); the most is ${largest.rows}, class ${largest.label}`,
        },
      };
    }
    const pValues = deciding.map((t) => mcnemarExactPValue(t.teacherOnly, t.candidateOnly));
    const adjusted = holmAdjusted(pValues);
    const alpha = 1 - confidence;
    const values: PairedTest[] = deciding.map((t, i) => ({
      subject: `class ${t.label}`,
      value: t.drop,
      pValue: pValues[i]!,
      adjustedPValue: adjusted[i]!,
      method: 'mcnemar-exact',
      samples: t.rows,
      teacherOnlyCorrect: t.teacherOnly,
      candidateOnlyCorrect: t.candidateOnly,
    }));
    // The largest drop; on a tie the class with more rows (the stronger evidence), then the lower index.
    let worstAt = 0;
    deciding.forEach((t, i) => {
      const w = deciding[worstAt]!;
      if (t.drop > w.drop || (t.drop === w.drop && t.rows > w.rows)) worstAt = i;
    });
    const worst = deciding[worstAt]!;
    const interval = newcombePaired(
      worst.both,
      worst.teacherOnly,
      worst.candidateOnly,
      worst.neither,
      confidence,
    );
    const hurt = values.filter((v) => v.value > 0 && v.adjustedPValue <= alpha).length;
    const teacherRecall = (worst.both + worst.teacherOnly) / worst.rows;
    const candidateRecall = (worst.both + worst.candidateOnly) / worst.rows;
    const parts = [
      `class ${worst.label}: recall ${percent(teacherRecall)} (teacher) vs ${percent(candidateRecall)} (candidate) on ${worst.rows} labelled rows`,
      `${hurt} of ${deciding.length} classes significantly hurt (McNemar, Holm)`,
    ];
    if (small.length > 0)
      parts.push(
        `${listed(small.map((t) => t.label))} ${small.length === 1 ? 'has' : 'have'} fewer than ${minGroupCount} labelled rows and ${small.length === 1 ? 'does' : 'do'} not decide`,
      );
    return {
      computed: {
        name,
        value: worst.drop,
        samples: worst.rows,
        // Grading checks the interval against the value it shows. When the worst class's drop is
        // not significant, grading shows the worst significant one instead (gradeTested), which
        // this interval does not describe; it is then only in the facts.
        ...(adjusted[worstAt]! <= alpha ? { interval } : {}),
        detail: parts.join('; '),
        tests: { statistic: name, confidence, correction: 'holm', values },
        facts: {
          classesHurt: hurt,
          classesCompared: deciding.length,
          classesTooSmall: small.length,
          worstClass: worst.label,
          worstClassRows: worst.rows,
          worstClassTeacherRecall: teacherRecall,
          worstClassCandidateRecall: candidateRecall,
          worstClassInterval: [interval.lower, interval.upper],
          otherLabels: this.state.otherLabels,
        },
      },
    };
  }

  toJSON(): ClassRecallDropState {
    const s = this.state;
    return {
      bothCorrect: [...s.bothCorrect],
      teacherOnlyCorrect: [...s.teacherOnlyCorrect],
      candidateOnlyCorrect: [...s.candidateOnlyCorrect],
      neitherCorrect: [...s.neitherCorrect],
      otherLabels: s.otherLabels,
    };
  }

  /** Labelled current rows counted, in a class or not. */
  get labelled(): number {
    const s = this.state;
    let rows = s.otherLabels;
    for (const field of tableFields) for (const n of s[field]) rows += n;
    return rows;
  }

  /**
   * From its JSON, checked: four tables of counts, one entry per class (at most maxClasses), all
   * of one length; nothing at all for regression.
   */
  static fromJSON(json: unknown, options: EvaluationOptions, where: string): ClassRecallDropAccumulator {
    const state = readObject(json, where);
    const accumulator = new ClassRecallDropAccumulator(options);
    const s = accumulator.state;
    for (const field of tableFields)
      s[field] = readArray(state[field], `${where}.${field}`, maxClasses).map((n, k) =>
        readCount(n, `${where}.${field}[${k}]`),
      );
    s.otherLabels = readCount(state.otherLabels, `${where}.otherLabels`);
    const classes = s.bothCorrect.length;
    for (const field of tableFields)
      requireThat(
        s[field].length === classes,
        `${where}.${field} has ${s[field].length} classes, expected ${classes} as bothCorrect has`,
      );
    if (options.task === 'regression')
      requireThat(
        classes === 0 && s.otherLabels === 0,
        `${where} counts classes, but the task is regression`,
      );
    return accumulator;
  }
}

export const classRecallDropMetric: RowMetricKind<ClassRecallDropAccumulator> = {
  name: 'classRecallDrop',
  since: 2,
  metrics: ['classRecallDrop'],
  perSlice: true,
  create: (options) => new ClassRecallDropAccumulator(options),
  fromJSON: (state, { options, where, rows }) => {
    const accumulator = ClassRecallDropAccumulator.fromJSON(state, options, where);
    requireThat(
      accumulator.labelled <= rows.current,
      `${where}: its classes hold ${accumulator.labelled} labelled rows, more than the current rows (${rows.current})`,
    );
    return accumulator;
  },
};

/** "class 3", "classes 3, 4 and 7", "classes 3, 4, … (12 in all)" */
function listed(labels: number[]): string {
  if (labels.length === 1) return `class ${labels[0]}`;
  if (labels.length > 8) return `classes ${labels.slice(0, 8).join(', ')}, … (${labels.length} in all)`;
  return `classes ${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
}
