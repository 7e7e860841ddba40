import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { gradeMetric } from '../../../src/grading/grade.js';
import { ruleFor } from '../../../src/grading/overrides.js';
import {
  ClassRecallDropAccumulator,
  classRecallDropMetric,
  type ClassRecallDropState,
} from '../../../src/metrics/class-recall-drop.js';
import { newcombePaired } from '../../../src/metrics/intervals.js';
import type { MetricResult, PairedTest } from '../../../src/metrics/metric-result.js';
import { EvaluationAccumulator, resolveOptions, type EvaluationOptions } from '../../../src/metrics/index.js';
import { decodeBatch } from '../../../src/metrics/predictions.js';
import { holmAdjusted, mcnemarExactPValue } from '../../../src/metrics/significance.js';
import { handBatch } from './hand-batches.js';

/** A class's paired table: rows both models get right, only the teacher, only the candidate, neither. */
type Table = [both: number, teacherOnly: number, candidateOnly: number, neither: number];

/**
 * Rows of `tables.length` classes, one-hot scores: for class k a right answer is k, a wrong one
 * k + 1 (mod the classes). `region` alternates eu/us by row.
 */
function classBatch(tables: Table[], extraLabels: number[] = []) {
  const width = Math.max(2, tables.length);
  const teacher: number[] = [];
  const candidate: number[] = [];
  const labels: number[] = [];
  const oneHot = (k: number) => Array.from({ length: width }, (_, j) => (j === k ? 1 : 0));
  tables.forEach(([both, teacherOnly, candidateOnly, neither], k) => {
    const wrong = (k + 1) % width;
    const add = (count: number, t: number, c: number) => {
      for (let i = 0; i < count; i++) {
        teacher.push(...oneHot(t));
        candidate.push(...oneHot(c));
        labels.push(k);
      }
    };
    add(both, k, k);
    add(teacherOnly, k, wrong);
    add(candidateOnly, wrong, k);
    add(neither, wrong, wrong);
  });
  for (const label of extraLabels) {
    teacher.push(...oneHot(0));
    candidate.push(...oneHot(0));
    labels.push(label);
  }
  const region = labels.map((_, i) => (i % 2 === 0 ? 'eu' : 'us'));
  return handBatch({ teacher, candidate, width, labels, slices: { region } });
}

function accumulate(tables: Table[], options: Partial<EvaluationOptions> = {}, extraLabels: number[] = []) {
  const resolved = resolveOptions(options);
  const accumulator = new ClassRecallDropAccumulator(resolved);
  accumulator.update(decodeBatch(classBatch(tables, extraLabels), resolved));
  return accumulator;
}

function computed(accumulator: ClassRecallDropAccumulator): MetricResult {
  const outcome = accumulator.result();
  assert.ok('computed' in outcome, JSON.stringify(outcome));
  return outcome.computed;
}

describe('classRecallDrop', () => {
  test('the largest recall drop among classes, with its paired table, McNemar per class and Holm', () => {
    // Class 0 untouched, class 1 loses 10 of 40 rows, class 2 loses 2 and regains 3 of 40.
    const metric = computed(
      accumulate([
        [40, 0, 0, 0],
        [30, 10, 0, 0],
        [35, 2, 3, 0],
      ]),
    );
    assert.equal(metric.value, 0.25);
    assert.equal(metric.samples, 40);
    const interval = newcombePaired(30, 10, 0, 0, 0.95);
    assert.deepEqual(metric.interval, interval);
    const pValues = [1, mcnemarExactPValue(10, 0), mcnemarExactPValue(2, 3)];
    assert.equal(pValues[1], 2 / 1024);
    const adjusted = holmAdjusted(pValues);
    const tests = metric.tests!.values as PairedTest[];
    assert.deepEqual(
      tests.map((t) => [
        t.subject,
        t.value,
        t.pValue,
        t.adjustedPValue,
        t.samples,
        t.teacherOnlyCorrect,
        t.candidateOnlyCorrect,
      ]),
      [
        ['class 0', 0, 1, adjusted[0], 40, 0, 0],
        ['class 1', 0.25, 2 / 1024, adjusted[1], 40, 10, 0],
        ['class 2', -1 / 40, pValues[2], adjusted[2], 40, 2, 3],
      ],
    );
    assert.equal(adjusted[1], (3 * 2) / 1024);
    assert.deepEqual(metric.facts, {
      classesHurt: 1,
      classesCompared: 3,
      classesTooSmall: 0,
      worstClass: 1,
      worstClassRows: 40,
      worstClassTeacherRecall: 1,
      worstClassCandidateRecall: 0.75,
      worstClassInterval: [interval.lower, interval.upper],
      otherLabels: 0,
    });
    assert.equal(
      metric.detail,
      'class 1: recall 100.0% (teacher) vs 75.0% (candidate) on 40 labelled rows; 1 of 3 classes significantly hurt (McNemar, Holm)',
    );
  });

  // [what, tables, options, value, worst class, classes compared, too small, hurt]
  const cases: [string, Table[], Partial<EvaluationOptions>, number, number, number, number, number][] = [
    [
      'a class below minGroupCount does not decide, however bad',
      [
        [35, 5, 0, 0],
        [0, 10, 0, 0],
      ],
      {},
      5 / 40,
      0,
      1,
      1,
      0,
    ],
    [
      'minGroupCount lowered, it does',
      [
        [35, 5, 0, 0],
        [0, 10, 0, 0],
      ],
      { minGroupCount: 10 },
      1,
      1,
      2,
      0,
      1,
    ],
    [
      'every class improves: the value is the least gain',
      [
        [30, 0, 2, 0],
        [28, 0, 4, 0],
      ],
      {},
      -2 / 32,
      0,
      2,
      0,
      0,
    ],
    [
      'equal drops: the class with more rows',
      [
        [27, 3, 0, 0],
        [54, 6, 0, 0],
      ],
      {},
      0.1,
      1,
      2,
      0,
      0,
    ],
    [
      'both models wrong on a class: no drop there',
      [
        [0, 0, 0, 30],
        [29, 1, 0, 0],
      ],
      {},
      1 / 30,
      1,
      2,
      0,
      0,
    ],
    [
      'two classes, both hurt significantly',
      [
        [20, 10, 0, 0],
        [10, 20, 0, 0],
      ],
      {},
      20 / 30,
      1,
      2,
      0,
      2,
    ],
  ];
  for (const [what, tables, options, value, worst, compared, small, hurt] of cases)
    test(what, () => {
      const metric = computed(accumulate(tables, options));
      assert.ok(Math.abs(metric.value - value) < 1e-15, `${metric.value} vs ${value}`);
      const { worstClass, classesCompared, classesTooSmall, classesHurt } = metric.facts!;
      assert.deepEqual(
        [worstClass, classesCompared, classesTooSmall, classesHurt],
        [worst, compared, small, hurt],
      );
      assert.equal(metric.tests!.values.length, compared);
    });

  test('the detail names the classes too small to decide', () => {
    const metric = computed(
      accumulate([
        [35, 5, 0, 0],
        [0, 10, 0, 0],
        [3, 0, 0, 0],
      ]),
    );
    assert.match(metric.detail!, /; classes 1 and 2 have fewer than 30 labelled rows and do not decide$/);
  });

  test('the interval is the worst class’s only when that drop is significant; the facts keep it always', () => {
    // Class 0: 6 of 30 lost (McNemar 2/64, second smallest of 3, so Holm 2 × 2/64 = 0.0625: not
    // significant); class 1: 12 of 200 lost (2/4096, Holm 3 × that); class 2 untouched.
    const metric = computed(
      accumulate([
        [24, 6, 0, 0],
        [188, 12, 0, 0],
        [30, 0, 0, 0],
      ]),
    );
    assert.equal(metric.value, 0.2);
    assert.equal(metric.interval, undefined);
    const interval = newcombePaired(24, 6, 0, 0, 0.95);
    assert.deepEqual(metric.facts!.worstClassInterval, [interval.lower, interval.upper]);
    // Grading then shows the worst significant class: class 1, 6% > 5% target... and < 10%: Warning.
    const graded = gradeMetric(metric, ruleFor('classRecallDrop', {}));
    assert.equal(graded.grade, 'Warning');
    assert.equal(graded.value, 0.06);
    assert.match(graded.detail!, /^worst significant: class 1; class 0 reaches 20(\.0)?%, not significant/);
  });

  test('a breach no class supports is Inconclusive when graded', () => {
    const metric = computed(
      accumulate([
        [25, 5, 0, 0],
        [30, 0, 0, 0],
      ]),
    );
    const graded = gradeMetric(metric, ruleFor('classRecallDrop', {}));
    assert.equal(graded.grade, 'Inconclusive');
    assert.match(graded.reason!, /McNemar p = 0\.063 \(b=5, c=0\): the drop may be chance/);
  });

  test('labels that are not a class index of the outputs are counted apart', () => {
    const metric = computed(
      accumulate(
        [
          [30, 0, 0, 0],
          [30, 0, 0, 0],
        ],
        {},
        [2, -1, 0.5, NaN],
      ),
    );
    assert.equal(metric.facts!.otherLabels, 3);
  });

  // [what, task, tables or undefined (no labels), extra labels, options, reason]
  const disabled: [
    string,
    'classification' | 'regression',
    Table[] | undefined,
    number[],
    Partial<EvaluationOptions>,
    string,
  ][] = [
    [
      'regression',
      'regression',
      [[30, 0, 0, 0]],
      [],
      {},
      'regression has no classes; accuracyDrop (the MAE-based drop, per slice) covers it',
    ],
    ['no labels', 'classification', undefined, [], {}, 'no labels'],
    ['only unlabelled rows', 'classification', [], [NaN, NaN], {}, 'no labels'],
    ['no label is a class', 'classification', [], [7, 1.5], {}, 'no label is a class index'],
    [
      'no class large enough',
      'classification',
      [
        [10, 2, 0, 0],
        [20, 0, 1, 0],
      ],
      [],
      {},
      'no class has 30 labelled rows (minGroupCount); the most is 21, class 1',
    ],
  ];
  for (const [what, task, tables, extra, options, reason] of disabled)
    test(`disabled: ${what}`, () => {
      const resolved = resolveOptions({ ...options, task });
      const accumulator = new ClassRecallDropAccumulator(resolved);
      const batch = classBatch(tables ?? [[1, 0, 0, 0]], extra);
      if (tables === undefined) delete batch.labels;
      if (task === 'regression') {
        batch.outputWidth = 1;
        batch.teacherScores = new Float32Array(batch.rows);
        batch.candidateScores = new Float32Array(batch.rows);
      }
      accumulator.update(decodeBatch(batch, resolved));
      assert.deepEqual(accumulator.result(), { disabled: { name: 'classRecallDrop', reason } });
    });

  test('reference rows never count', () => {
    const options = resolveOptions({});
    const accumulator = new ClassRecallDropAccumulator(options);
    accumulator.update(decodeBatch({ ...classBatch([[30, 5, 0, 0]]), dataset: 'reference' }, options));
    assert.equal(accumulator.labelled, 0);
  });

  test('merging shards, through JSON, is one pass', () => {
    const options = resolveOptions({});
    const whole = classBatch([
      [40, 7, 1, 2],
      [30, 10, 3, 0],
      [35, 2, 3, 4],
    ]);
    const one = new ClassRecallDropAccumulator(options);
    one.update(decodeBatch(whole, options));
    // Three shards by row: even rows, rows ≡ 1 (mod 4) and rows ≡ 3 (mod 4).
    const shards = [0, 1, 3].map((r) => {
      const indices = Int32Array.from({ length: whole.rows }, (_, i) => i).filter((i) =>
        r === 0 ? i % 2 === 0 : i % 4 === r,
      );
      const shard = new ClassRecallDropAccumulator(options);
      shard.update(decodeBatch(whole, options), indices);
      const json = JSON.parse(JSON.stringify(shard.toJSON())) as unknown;
      return classRecallDropMetric.fromJSON(json, {
        options,
        where: 'shard',
        rows: { reference: 0, current: indices.length },
        reading: {},
      });
    });
    const merged = shards.reduce((a, b) => (a.merge(b), a));
    assert.deepEqual(merged.toJSON(), one.toJSON());
    assert.deepEqual(merged.result(), one.result());
    // Merging into an empty accumulator (no classes seen yet) works too.
    const empty = new ClassRecallDropAccumulator(options);
    empty.merge(one);
    assert.deepEqual(empty.toJSON(), one.toJSON());
  });

  test('through EvaluationAccumulator: update → toJSON → fromJSON → merge → result, overall and per slice', () => {
    const batch = classBatch([
      [40, 8, 0, 2],
      [50, 1, 1, 0],
      [45, 0, 0, 5],
    ]);
    const one = new EvaluationAccumulator({});
    one.update(batch);
    const rows = Int32Array.from({ length: batch.rows }, (_, i) => i);
    const shard = (keep: (i: number) => boolean) => {
      const indices = [...rows.filter(keep)];
      const pick = <T>(values: ArrayLike<T>) => indices.map((i) => values[i]!);
      const part = handBatch({
        teacher: indices.flatMap((i) => [...batch.teacherScores.subarray(i * 3, i * 3 + 3)]),
        candidate: indices.flatMap((i) => [...batch.candidateScores.subarray(i * 3, i * 3 + 3)]),
        width: 3,
        labels: pick(batch.labels!),
        slices: { region: indices.map((i) => (i % 2 === 0 ? 'eu' : 'us')) },
      });
      const accumulator = new EvaluationAccumulator({});
      accumulator.update(part);
      return EvaluationAccumulator.fromJSON(JSON.parse(JSON.stringify(accumulator.toJSON())));
    };
    const merged = shard((i) => i % 3 === 0).merge(shard((i) => i % 3 !== 0));
    const pick = (engine: EvaluationAccumulator) => {
      const report = engine.result();
      return [
        report.metrics.find((m) => m.name === 'classRecallDrop'),
        ...report.slices.map((s) => [s.slice, s.metrics.find((m) => m.name === 'classRecallDrop')]),
      ];
    };
    assert.deepEqual(pick(merged), pick(one));
    const overall = one.result().metrics.find((m) => m.name === 'classRecallDrop')!;
    assert.equal(overall.value, 8 / 50);
    assert.equal(one.result().slices.length, 2);
  });

  describe('fromJSON refuses a forged state, naming the path', () => {
    const good: ClassRecallDropState = {
      bothCorrect: [5, 6],
      teacherOnlyCorrect: [1, 0],
      candidateOnlyCorrect: [0, 2],
      neitherCorrect: [0, 1],
      otherLabels: 1,
    };
    const read = (state: unknown, current = 100, task: 'classification' | 'regression' = 'classification') =>
      classRecallDropMetric.fromJSON(state, {
        options: resolveOptions({ task }),
        where: 'overall.metrics.classRecallDrop',
        rows: { reference: 0, current },
        reading: {},
      });
    test('a good state reads back as it was', () => {
      assert.deepEqual(read(good).toJSON(), good);
    });
    const forged: [string, unknown, RegExp, number?, ('regression' | 'classification')?][] = [
      ['not an object', [1], /^overall\.metrics\.classRecallDrop is an array of 1, expected an object$/],
      [
        'a table missing',
        { ...good, neitherCorrect: undefined },
        /^overall\.metrics\.classRecallDrop\.neitherCorrect is missing, expected an array$/,
      ],
      [
        'a negative count',
        { ...good, teacherOnlyCorrect: [1, -2] },
        /^overall\.metrics\.classRecallDrop\.teacherOnlyCorrect\[1\] is -2, expected a non-negative integer$/,
      ],
      [
        'a fractional count',
        { ...good, bothCorrect: [5.5, 6] },
        /bothCorrect\[0\] is 5\.5, expected a non-negative integer$/,
      ],
      ['a count beyond 2^48', { ...good, otherLabels: 2 ** 50 }, /otherLabels is \d+, too large for a count/],
      [
        'tables of different lengths',
        { ...good, candidateOnlyCorrect: [0, 2, 0] },
        /candidateOnlyCorrect has 3 classes, expected 2 as bothCorrect has$/,
      ],
      [
        'more classes than a state may hold',
        { ...good, bothCorrect: new Array(1025).fill(0) },
        /bothCorrect has 1025 entries, more than the 1024 a state may hold$/,
      ],
      [
        'more labelled rows than current rows',
        good,
        /^overall\.metrics\.classRecallDrop: its classes hold 16 labelled rows, more than the current rows \(15\)$/,
        15,
      ],
      [
        'classes for regression',
        good,
        /^overall\.metrics\.classRecallDrop counts classes, but the task is regression$/,
        100,
        'regression',
      ],
    ];
    for (const [what, state, message, current, task] of forged)
      test(what, () => assert.throws(() => read(state, current, task), { message }));
  });
});
