import { newcombeIndependent } from './intervals.js';
import type { MetricOutcome } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import type { RowMetricKind } from './row-metric.js';
import type { DecodedBatch } from './predictions.js';
import {
  maxCategories,
  maxClasses,
  quote,
  readArray,
  readCount,
  readObject,
  readText,
  requireThat,
} from './state-checks.js';
import { percent } from './percent.js';

/**
 * demographicParity on the current dataset: for the positive class, the candidate's
 * positive-prediction rate per sensitive group; the value is max − min over groups with at
 * least `minGroupCount` rows. With several classes and no `positiveClass`, each class is taken
 * one-vs-rest and the class with the largest gap is reported. The interval is Newcombe's
 * hybrid score interval for the difference of the two extreme groups' rates (it does not
 * account for having picked the extremes). The disparate impact ratio is min / max rate.
 */
export interface DemographicParityState {
  /** Rows and positive predictions per class, per group. */
  groups: { group: string; rows: number; positives: number[] }[];
}

export interface GroupRate {
  group: string;
  rows: number;
  positiveRate: number;
  /** False when the group has fewer than minGroupCount rows: reported, but not deciding. */
  decides: boolean;
}

export interface FairnessDetails {
  positiveClass: number;
  groups: GroupRate[];
  disparateImpactRatio?: number;
}

interface WorstClass {
  positiveClass: number;
  rates: GroupRate[];
  highest: GroupRate;
  lowest: GroupRate;
  positivesOf: (group: string) => number;
}

export class DemographicParityAccumulator {
  private readonly groups = new Map<string, { rows: number; positives: number[] }>();

  constructor(private readonly options: EvaluationOptions) {}

  update(decoded: DecodedBatch, indices?: Int32Array): void {
    const { batch, candidateClass } = decoded;
    if (batch.dataset !== 'current' || batch.sensitive === undefined || candidateClass === undefined) return;
    const sensitive = batch.sensitive;
    const codes = sensitive.codes;
    const count = indices ? indices.length : batch.rows;
    const classCount = decoded.classCount;
    // Positives per (code, class) for this batch, then one map update per group present.
    const positives = new Int32Array(sensitive.values.length * classCount);
    const rows = new Int32Array(sensitive.values.length);
    for (let j = 0; j < count; j++) {
      const i = indices ? indices[j]! : j;
      const code = codes[i]!;
      rows[code]!++;
      positives[code * classCount + candidateClass[i]!]!++;
    }
    for (let code = 0; code < rows.length; code++) {
      if (rows[code] === 0) continue;
      const group = sensitive.values[code]!;
      let entry = this.groups.get(group);
      if (entry === undefined) {
        entry = { rows: 0, positives: [] };
        this.groups.set(group, entry);
      }
      while (entry.positives.length < classCount) entry.positives.push(0);
      entry.rows += rows[code]!;
      for (let k = 0; k < classCount; k++) entry.positives[k]! += positives[code * classCount + k]!;
    }
  }

  merge(other: DemographicParityAccumulator): void {
    for (const [group, theirs] of other.groups) {
      const ours = this.groups.get(group);
      if (ours === undefined) {
        this.groups.set(group, { rows: theirs.rows, positives: [...theirs.positives] });
        continue;
      }
      ours.rows += theirs.rows;
      for (let k = 0; k < theirs.positives.length; k++)
        ours.positives[k] = (ours.positives[k] ?? 0) + theirs.positives[k]!;
    }
  }

  private candidateClasses(): number[] {
    if (this.options.positiveClass !== undefined) return [this.options.positiveClass];
    let width = 0;
    for (const { positives } of this.groups.values()) width = Math.max(width, positives.length);
    // Two classes: both one-vs-rest gaps are equal; class 1 reads as "the positive class".
    if (width <= 2) return [1];
    return Array.from({ length: width }, (_, k) => k);
  }

  /** The class with the worst gap, its per-group rates, and the two extreme deciding groups. */
  private worst(): WorstClass | undefined {
    let worst: WorstClass | undefined;
    for (const positiveClass of this.candidateClasses()) {
      const rates: GroupRate[] = [...this.groups.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([group, { rows, positives }]) => ({
          group,
          rows,
          positiveRate: (positives[positiveClass] ?? 0) / rows,
          decides: rows >= this.options.minGroupCount,
        }));
      const deciding = rates.filter((r) => r.decides);
      if (deciding.length < 2) continue;
      let highest = deciding[0]!;
      let lowest = deciding[0]!;
      for (const rate of deciding) {
        if (rate.positiveRate > highest.positiveRate) highest = rate;
        if (rate.positiveRate < lowest.positiveRate) lowest = rate;
      }
      const gap = highest.positiveRate - lowest.positiveRate;
      if (worst === undefined || gap > worst.highest.positiveRate - worst.lowest.positiveRate) {
        worst = {
          positiveClass,
          rates,
          highest,
          lowest,
          positivesOf: (g) => this.groups.get(g)?.positives[positiveClass] ?? 0,
        };
      }
    }
    return worst;
  }

  result(): MetricOutcome {
    if (this.groups.size === 0)
      return {
        disabled: {
          name: 'demographicParity',
          reason: 'no sensitive attribute (or no predicted classes) in the data',
        },
      };
    const worst = this.worst();
    if (worst === undefined)
      return {
        disabled: {
          name: 'demographicParity',
          reason: `fewer than two sensitive groups have at least ${this.options.minGroupCount} rows`,
        },
      };
    const { highest, lowest, positiveClass, positivesOf } = worst;
    const samples = worst.rates.filter((r) => r.decides).reduce((sum, r) => sum + r.rows, 0);
    return {
      computed: {
        name: 'demographicParity',
        value: highest.positiveRate - lowest.positiveRate,
        samples,
        interval: newcombeIndependent(
          positivesOf(highest.group),
          highest.rows,
          positivesOf(lowest.group),
          lowest.rows,
          this.options.confidence,
        ),
        detail: `class ${positiveClass}: ${highest.group} ${percent(highest.positiveRate)} vs ${lowest.group} ${percent(lowest.positiveRate)}`,
      },
    };
  }

  details(): FairnessDetails | undefined {
    const worst = this.worst();
    if (worst === undefined) return undefined;
    const details: FairnessDetails = { positiveClass: worst.positiveClass, groups: worst.rates };
    if (worst.highest.positiveRate > 0)
      details.disparateImpactRatio = worst.lowest.positiveRate / worst.highest.positiveRate;
    return details;
  }

  outcomes(): MetricOutcome[] {
    return [this.result()];
  }

  toJSON(): DemographicParityState {
    return {
      groups: [...this.groups].map(([group, { rows, positives }]) => ({
        group,
        rows,
        positives: [...positives],
      })),
    };
  }

  /** Current rows counted over all groups. */
  get rows(): number {
    let rows = 0;
    for (const group of this.groups.values()) rows += group.rows;
    return rows;
  }

  /**
   * From its JSON, checked: each group named once, with at least one row, and its positives per
   * class (at most maxClasses) adding up to its rows: every row is predicted exactly one class.
   */
  static fromJSON(json: unknown, options: EvaluationOptions, where: string): DemographicParityAccumulator {
    const state = readObject(json, where);
    const accumulator = new DemographicParityAccumulator(options);
    const groups = readArray(state.groups, `${where}.groups`, maxCategories);
    groups.forEach((entry, i) => {
      const at = `${where}.groups[${i}]`;
      const { group, rows, positives } = readObject(entry, at);
      const name = readText(group, `${at}.group`);
      requireThat(!accumulator.groups.has(name), `${at} repeats group ${quote(name)}`);
      const count = readCount(rows, `${at}.rows`);
      requireThat(count > 0, `${at}.rows is 0, but a group is written only once it has rows`);
      const perClass = readArray(positives, `${at}.positives`, maxClasses).map((n, k) =>
        readCount(n, `${at}.positives[${k}]`),
      );
      const predicted = perClass.reduce((sum, n) => sum + n, 0);
      requireThat(predicted === count, `${at}: positives add up to ${predicted}, expected rows (${count})`);
      accumulator.groups.set(name, { rows: count, positives: perClass });
    });
    return accumulator;
  }
}

export const demographicParityMetric: RowMetricKind<DemographicParityAccumulator> = {
  name: 'demographicParity',
  since: 1,
  metrics: ['demographicParity'],
  perSlice: true,
  create: (options) => new DemographicParityAccumulator(options),
  fromJSON: (state, { options, where, rows, reading }) => {
    const accumulator = DemographicParityAccumulator.fromJSON(state, options, where);
    requireThat(
      accumulator.rows <= rows.current,
      `${where}: its groups hold ${accumulator.rows} rows, more than the current rows (${rows.current})`,
    );
    if (reading.expected && !reading.expected.sensitiveAttribute)
      requireThat(accumulator.rows === 0, `${where} has groups, but the spec names no sensitiveAttribute`);
    return accumulator;
  },
};
