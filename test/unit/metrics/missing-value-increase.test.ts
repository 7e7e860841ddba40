import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ruleFor } from '../../../src/grading/overrides.js';
import { gradeMetric } from '../../../src/grading/grade.js';
import type { EvaluationBatch } from '../../../src/metrics/batch.js';
import { newcombeIndependent } from '../../../src/metrics/intervals.js';
import type { MetricResult } from '../../../src/metrics/metric-result.js';
import {
  MissingValueAccumulator,
  missingValueIncreaseMetric,
} from '../../../src/metrics/missing-value-increase.js';
import { resolveOptions } from '../../../src/metrics/options.js';
import { decodeBatch } from '../../../src/metrics/predictions.js';
import type { RowStateContext } from '../../../src/metrics/row-metric.js';
import { handBatch } from './hand-batches.js';

const options = resolveOptions({});

/** `kept` rows of one dataset, with what screening the rows read found. */
function screened(
  dataset: 'reference' | 'current',
  kept: number,
  screening?: EvaluationBatch['screening'],
): EvaluationBatch {
  const batch = handBatch({
    dataset,
    teacher: Array<number>(kept).fill(0.9),
    candidate: Array<number>(kept).fill(0.9),
    numeric: { mass: Array<number>(kept).fill(4000) },
  });
  if (screening) batch.screening = screening;
  return batch;
}

function accumulate(...batches: EvaluationBatch[]): MissingValueAccumulator {
  const accumulator = missingValueIncreaseMetric.create(options);
  for (const batch of batches) accumulator.update(decodeBatch(batch, options));
  return accumulator;
}

function computed(accumulator: MissingValueAccumulator): MetricResult {
  const [outcome] = accumulator.outcomes();
  assert.ok(outcome && 'computed' in outcome, JSON.stringify(outcome));
  return outcome.computed;
}

function context(rows: { reference: number; current: number }, features?: string[]): RowStateContext {
  return {
    options,
    where: 'overall.metrics.missingValueIncrease',
    rows,
    reading: features
      ? {
          expected: {
            options,
            features,
            categoricalFeatures: [],
            sliceColumns: [],
            sensitiveAttribute: false,
          },
        }
      : {},
  };
}

describe('missingValueIncrease', () => {
  test("the worst feature's current rate − reference rate, with Newcombe's interval for independent samples", () => {
    const accumulator = accumulate(
      screened('reference', 196, {
        rowsRead: 200,
        rowsRejected: 4,
        missingByFeature: { mass: 4, island: 0 },
      }),
      screened('current', 85, { rowsRead: 133, rowsRejected: 48, missingByFeature: { mass: 1, island: 48 } }),
    );
    const metric = computed(accumulator);
    assert.equal(metric.name, 'missingValueIncrease');
    assert.equal(metric.value, 48 / 133 - 0);
    assert.equal(metric.samples, 133);
    const interval = newcombeIndependent(48, 133, 0, 200, 0.95);
    assert.deepEqual(metric.interval, interval);
    assert.equal(
      metric.detail,
      'worst: feature island, missing or invalid in 48 of 133 current rows (36.1%) and 0 of 200 reference rows (0%); rows rejected: 48 of 133 current, 4 of 200 reference',
    );
    assert.deepEqual(metric.facts, {
      currentMissingRate: 48 / 133,
      referenceMissingRate: 0,
      currentRowsRead: 133,
      referenceRowsRead: 200,
      currentRowsRejected: 48,
      referenceRowsRejected: 4,
    });
  });

  test('without screening, the batch is what was read: NaN and ±∞ in numeric columns, empty text in categorical ones', () => {
    const batch = (dataset: 'reference' | 'current', mass: number[], island: string[]) =>
      handBatch({
        dataset,
        teacher: mass.map(() => 0.9),
        candidate: mass.map(() => 0.9),
        numeric: { mass },
        categorical: { island },
      });
    const accumulator = accumulate(
      batch('reference', [1, 2, 3, 4], ['a', 'b', 'a', 'b']),
      batch('current', [NaN, Infinity, -Infinity, 4], ['a', '', 'a', 'b']),
    );
    assert.deepEqual(accumulator.screening().current, {
      rowsRead: 4,
      rowsRejected: 0,
      missingByFeature: { island: 1, mass: 3 },
    });
    assert.equal(computed(accumulator).value, 0.75);
  });

  test('nothing missing anywhere: 0, and the detail says so; negative when the reference had more', () => {
    const clean = computed(
      accumulate(
        screened('reference', 10, { rowsRead: 10, rowsRejected: 0, missingByFeature: { mass: 0 } }),
        screened('current', 10, { rowsRead: 10, rowsRejected: 0, missingByFeature: { mass: 0 } }),
      ),
    );
    assert.equal(clean.value, 0);
    assert.equal(clean.detail, 'no missing or invalid feature values');
    const better = computed(
      accumulate(
        screened('reference', 8, { rowsRead: 10, rowsRejected: 2, missingByFeature: { mass: 2 } }),
        screened('current', 10, { rowsRead: 10, rowsRejected: 0, missingByFeature: { mass: 0 } }),
      ),
    );
    assert.equal(better.value, -0.2);
  });

  test('a tie names the first feature by name, whatever order the counts came in', () => {
    const a = computed(
      accumulate(
        screened('reference', 10, { rowsRead: 10, rowsRejected: 0, missingByFeature: { b: 0, a: 0 } }),
        screened('current', 8, { rowsRead: 10, rowsRejected: 2, missingByFeature: { b: 2, a: 2 } }),
      ),
    );
    assert.match(a.detail!, /^worst: feature a,/);
  });

  test('disabled until both datasets have rows read', () => {
    assert.deepEqual(
      accumulate(screened('current', 5, { rowsRead: 5, rowsRejected: 0, missingByFeature: {} })).outcomes(),
      [{ disabled: { name: 'missingValueIncrease', reason: 'needs both reference and current rows' } }],
    );
  });

  test('every row of a dataset rejected: a batch of no rows carries the counts', () => {
    const metric = computed(
      accumulate(
        screened('reference', 10, { rowsRead: 10, rowsRejected: 0, missingByFeature: { mass: 0 } }),
        screened('current', 0, { rowsRead: 7, rowsRejected: 7, missingByFeature: { mass: 7 } }),
      ),
    );
    assert.equal(metric.value, 1);
  });

  test('screening counts that do not add up to the batch are refused', () => {
    assert.throws(
      () => accumulate(screened('current', 5, { rowsRead: 6, rowsRejected: 0, missingByFeature: {} })),
      /current batch: screening read 6 rows and rejected 0, but the batch keeps 5/,
    );
    assert.throws(
      () =>
        accumulate(screened('current', 5, { rowsRead: 5, rowsRejected: 0, missingByFeature: { mass: 9 } })),
      /screening counts 9 missing values of feature "mass" in 5 rows/,
    );
  });

  test('merging shards equals one pass, and the state reads back', () => {
    const batches = [
      screened('reference', 90, {
        rowsRead: 100,
        rowsRejected: 10,
        missingByFeature: { mass: 10, island: 3 },
      }),
      screened('reference', 100, {
        rowsRead: 100,
        rowsRejected: 0,
        missingByFeature: { mass: 0, island: 0 },
      }),
      screened('current', 40, { rowsRead: 60, rowsRejected: 20, missingByFeature: { mass: 20, island: 1 } }),
      screened('current', 70, { rowsRead: 73, rowsRejected: 3, missingByFeature: { mass: 3, island: 0 } }),
    ];
    const whole = accumulate(...batches);
    const first = accumulate(batches[0]!, batches[2]!);
    first.merge(accumulate(batches[1]!, batches[3]!));
    assert.deepEqual(first.toJSON(), whole.toJSON());
    const read = missingValueIncreaseMetric.fromJSON(
      JSON.parse(JSON.stringify(whole.toJSON())),
      context({ reference: 190, current: 110 }, ['mass', 'island']),
    );
    assert.deepEqual(read.outcomes(), whole.outcomes());
    assert.deepEqual(whole.toJSON().current, {
      rowsRead: 133,
      rowsRejected: 23,
      missing: [
        ['island', 1],
        ['mass', 23],
      ],
    });
  });

  const state = {
    reference: { rowsRead: 10, rowsRejected: 0, missing: [['mass', 0]] },
    current: { rowsRead: 10, rowsRejected: 2, missing: [['mass', 2]] },
  };
  for (const [what, edit, rows, features, message] of [
    [
      'kept rows that are not the group’s',
      (s: typeof state) => s,
      { reference: 10, current: 10 },
      undefined,
      /overall\.metrics\.missingValueIncrease\.current read 10 rows and rejected 2, but the group kept 10 current rows/,
    ],
    [
      'a feature the spec does not name',
      (s: typeof state) => ({ ...s, reference: { ...s.reference, missing: [['wings', 0]] } }),
      { reference: 10, current: 8 },
      ['mass'],
      /reference\.missing\["wings"\] is not one of the spec's data\.features/,
    ],
    [
      'more missing values than rows',
      (s: typeof state) => ({ ...s, reference: { ...s.reference, missing: [['mass', 11]] } }),
      { reference: 10, current: 8 },
      undefined,
      /reference\.missing\["mass"\] counts 11 missing values, more than the 10 rows read/,
    ],
    [
      'a feature twice',
      (s: typeof state) => ({
        ...s,
        reference: {
          ...s.reference,
          missing: [
            ['mass', 0],
            ['mass', 1],
          ],
        },
      }),
      { reference: 10, current: 8 },
      undefined,
      /reference\.missing\["mass"\] is listed twice/,
    ],
    [
      'a negative count',
      (s: typeof state) => ({ ...s, current: { ...s.current, rowsRejected: -1 } }),
      { reference: 10, current: 11 },
      undefined,
      /current\.rowsRejected is -1, expected a non-negative integer/,
    ],
  ] as const) {
    test(`a state with ${what} is refused, naming the path`, () => {
      assert.throws(
        () =>
          missingValueIncreaseMetric.fromJSON(
            edit(structuredClone(state)),
            context(rows, features ? [...features] : undefined),
          ),
        message,
      );
    });
  }
});

describe('grading missingValueIncrease with the default thresholds (target 0.01, warning 0.05)', () => {
  const rule = ruleFor('missingValueIncrease', {});
  // [current missing of 133, reference missing of 200, grade]; penguins sizes.
  for (const [current, reference, grade] of [
    [0, 0, 'Pass'],
    [1, 0, 'Pass'],
    // 1.5% > 1%, but the interval reaches down to −0.7%: 2 rows cannot tell a broken pipeline.
    [2, 0, 'Inconclusive'],
    // 4.5% [1.4%, 9.5%]: above the target for sure, the warning edge within reach.
    [6, 0, 'Warning'],
    // 9% [4.8%, 15.1%]: beyond the warning edge, but the interval reaches back across it.
    [12, 0, 'Inconclusive'],
    [13, 0, 'Critical'],
    // The fixture test's case: one feature blanked on one species' 48 current rows.
    [48, 0, 'Critical'],
    // Missing as often as in the reference: a feature that is often absent, not a broken one.
    [48, 72, 'Pass'],
  ] as const) {
    test(`${current}/133 current vs ${reference}/200 reference: ${grade}`, () => {
      const accumulator = accumulate(
        screened('reference', 200 - reference, {
          rowsRead: 200,
          rowsRejected: reference,
          missingByFeature: { mass: reference },
        }),
        screened('current', 133 - current, {
          rowsRead: 133,
          rowsRejected: current,
          missingByFeature: { mass: current },
        }),
      );
      const graded = gradeMetric(computed(accumulator), rule);
      assert.equal(
        graded.grade,
        grade,
        `${graded.value} [${graded.interval?.lower}, ${graded.interval?.upper}]`,
      );
    });
  }
});
