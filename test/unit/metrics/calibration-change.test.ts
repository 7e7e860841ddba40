import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CalibrationChangeAccumulator,
  calibrationChangeMetric,
  confidenceBin,
  type CalibrationChangeState,
} from '../../../src/metrics/calibration-change.js';
import { zFor } from '../../../src/metrics/intervals.js';
import type { MetricResult } from '../../../src/metrics/metric-result.js';
import { EvaluationAccumulator, resolveOptions, type EvaluationOptions } from '../../../src/metrics/index.js';
import { decodeBatch } from '../../../src/metrics/predictions.js';
import { assertCloseDeep } from './close-enough.js';
import { handBatch } from './hand-batches.js';

type Rows = { teacher: number[]; candidate: number[]; labels?: number[]; width?: number };

function accumulate(rows: Rows, options: Partial<EvaluationOptions> = {}): CalibrationChangeAccumulator {
  const resolved = resolveOptions(options);
  const accumulator = new CalibrationChangeAccumulator(resolved);
  accumulator.update(decodeBatch(handBatch(rows), resolved));
  return accumulator;
}

function computed(accumulator: CalibrationChangeAccumulator): MetricResult {
  const outcome = accumulator.result();
  assert.ok('computed' in outcome, JSON.stringify(outcome));
  return outcome.computed;
}

const close = (actual: unknown, expected: number, what: string) =>
  assert.ok(Math.abs((actual as number) - expected) < 1e-12, `${what}: ${String(actual)} vs ${expected}`);

describe('calibrationChange', () => {
  test('confidence bins are (b/15, (b+1)/15]', () => {
    assert.deepEqual(
      [0, 1e-9, 1 / 15, 0.5, 0.75, 0.875, 14 / 15 + 1e-12, 1].map(confidenceBin),
      [0, 0, 0, 7, 11, 13, 14, 14],
    );
  });

  test('one score per row is P(class 1): ECE, Brier and the paired Brier difference by hand', () => {
    // Scores are binary fractions, exact in float32. Top label: class 1 at p ≥ ½, confidence max(p, 1 − p).
    // Teacher: right at .875, .875 (bin 13), wrong at .75 and right at .25 → .75 (bin 11).
    //   ECE = (|2 − 1.75| + |1 − 1.5|)/4 = 0.1875; Brier = (.125² + .125² + .75² + .25²)/4 = 0.1640625.
    // Candidate: right at .625 (bin 9), .875 (bin 13), .25 → .75 (bin 11); .5 → class 1, wrong (bin 7).
    //   ECE = (.375 + .125 + .25 + .5)/4 = 0.3125; Brier = (.375² + .125² + .25² + .5²)/4 = 0.1171875.
    const metric = computed(
      accumulate({
        teacher: [0.875, 0.875, 0.75, 0.25],
        candidate: [0.625, 0.875, 0.25, 0.5],
        labels: [1, 1, 0, 0],
      }),
    );
    assert.equal(metric.value, 0.125);
    assert.equal(metric.samples, 4);
    assert.equal(metric.interval, undefined);
    // Per-row differences d = (.125, 0, −.5, .1875): mean −0.046875, s² = (Σd² − n·mean²)/(n − 1).
    const d = [0.125, 0, -0.5, 0.1875];
    const mean = -0.046875;
    const s2 = (d.reduce((a, x) => a + x * x, 0) - 4 * mean * mean) / 3;
    const half = zFor(0.95) * Math.sqrt(s2 / 4);
    assertCloseDeep(metric.facts, {
      teacherEce: 0.1875,
      candidateEce: 0.3125,
      teacherBrier: 0.1640625,
      candidateBrier: 0.1171875,
      brierChange: mean,
      brierChangeInterval: [mean - half, mean + half],
      teacherSoftmaxRows: 0,
      candidateSoftmaxRows: 0,
      otherLabels: 0,
    });
    assert.equal(
      metric.detail,
      `ECE (15 bins) 18.8% (teacher) → 31.3% (candidate) on 4 labelled rows; Brier 0.1641 → 0.1172 (change −0.0469, 95% interval −${(half - mean).toFixed(4)} to +${(mean + half).toFixed(4)})`,
    );
  });

  // [what, width, teacher scores, candidate scores, labels, teacher ECE, candidate ECE, teacher Brier, candidate Brier, softmax rows (teacher, candidate)]
  const cases: [
    string,
    number,
    number[],
    number[],
    number[],
    number,
    number,
    number,
    number,
    [number, number],
  ][] = [
    [
      'three probabilities: Brier is Σ_k (p_k − y_k)²',
      3,
      [0.5, 0.25, 0.25, /**/ 0.25, 0.5, 0.25],
      [0.5, 0.25, 0.25, /**/ 0.5, 0.25, 0.25],
      [0, 1],
      // Teacher: both right at .5 (bin 7): |2 − 1|/2. Candidate: right at .5, wrong at .5: |1 − 1|/2.
      0.5,
      0,
      // (.25 + .0625 + .0625) per row; the candidate's second row: .25 + .5625 + .0625.
      0.375,
      (0.375 + 0.875) / 2,
      [0, 0],
    ],
    [
      'logits go through a softmax: [ln 2, 0, 0] is (½, ¼, ¼)',
      3,
      [Math.LN2, 0, 0, /**/ 0, Math.LN2, 0],
      [0.5, 0.25, 0.25, /**/ 0, 0, Math.LN2],
      [0, 1],
      // Teacher: (½, ¼, ¼) and (¼, ½, ¼), both right at ½. Candidate: right at ½, then (¼, ¼, ½), wrong at ½.
      0.5,
      0,
      0.375,
      (0.375 + 0.875) / 2,
      [2, 1],
    ],
    [
      'two probability columns: Brier is the binary (p₁ − y)²',
      2,
      [0.25, 0.75, /**/ 0.75, 0.25],
      [0.5, 0.5, /**/ 0.875, 0.125],
      [1, 0],
      // Teacher: right at .75 twice (bin 11): |2 − 1.5|/2. Candidate: .5 → class 0 (first maximum, as the predicted class is read), wrong (bin 7); right at .875 (bin 13).
      0.25,
      (0.5 + 0.125) / 2,
      0.0625,
      (0.25 + 0.015625) / 2,
      [0, 0],
    ],
    [
      'rows not summing to 1 within 1e-3 are scores, not probabilities',
      2,
      [0.5, 0.4985, /**/ 0.5, 0.502],
      [0.5, 0.4995, /**/ 0.5, 0.5],
      [0, 1],
      // The teacher's rows sum to 0.9985 and 1.002: softmax; the candidate's to 0.9995 and 1.
      Number.NaN,
      Number.NaN,
      Number.NaN,
      Number.NaN,
      [2, 0],
    ],
  ];
  for (const [
    what,
    width,
    teacher,
    candidate,
    labels,
    teacherEce,
    candidateEce,
    teacherBrier,
    candidateBrier,
    softmax,
  ] of cases)
    test(what, () => {
      const metric = computed(accumulate({ teacher, candidate, labels, width }));
      const facts = metric.facts!;
      assert.deepEqual([facts.teacherSoftmaxRows, facts.candidateSoftmaxRows], softmax);
      if (Number.isNaN(teacherEce)) return;
      // Float32 scores and exp(ln 2) round: equal to 1e-7.
      const near = (actual: unknown, expected: number, name: string) =>
        assert.ok(
          Math.abs((actual as number) - expected) < 1e-7,
          `${name}: ${String(actual)} vs ${expected}`,
        );
      near(facts.teacherEce, teacherEce, 'teacher ECE');
      near(facts.candidateEce, candidateEce, 'candidate ECE');
      near(facts.teacherBrier, teacherBrier, 'teacher Brier');
      near(facts.candidateBrier, candidateBrier, 'candidate Brier');
      near(metric.value, candidateEce - teacherEce, 'value');
    });

  test('a perfectly calibrated model and itself: no change, a zero-width Brier interval', () => {
    // At .75 three of four rows are class 1: accuracy .75 = confidence.
    const scores = [0.75, 0.75, 0.75, 0.75];
    const metric = computed(accumulate({ teacher: scores, candidate: scores, labels: [1, 1, 1, 0] }));
    assert.equal(metric.value, 0);
    assert.equal(metric.facts!.teacherEce, 0);
    assert.deepEqual(metric.facts!.brierChangeInterval, [0, 0]);
  });

  test('one row: no Brier interval', () => {
    const metric = computed(accumulate({ teacher: [0.75], candidate: [0.5], labels: [1] }));
    assert.equal(metric.facts!.brierChangeInterval, undefined);
    close(metric.facts!.brierChange, 0.25 - 0.0625, 'Brier change');
  });

  test('labels that are not a class index are left out and counted', () => {
    const metric = computed(
      accumulate({ teacher: [0.75, 0.75, 0.75], candidate: [0.75, 0.75, 0.75], labels: [1, 2, 0.5] }),
    );
    assert.equal(metric.samples, 1);
    assert.equal(metric.facts!.otherLabels, 2);
  });

  // [what, options, rows, reason]
  const disabled: [string, Partial<EvaluationOptions>, Rows, string][] = [
    [
      'regression',
      { task: 'regression' },
      { teacher: [1.5], candidate: [2], labels: [2] },
      'regression has no class probabilities; accuracyDrop (the MAE-based drop, per slice) covers it',
    ],
    ['no labels', {}, { teacher: [0.75], candidate: [0.75] }, 'no labels'],
    ['only unlabelled rows', {}, { teacher: [0.75], candidate: [0.75], labels: [NaN] }, 'no labels'],
    [
      'no label is a class',
      {},
      { teacher: [0.75], candidate: [0.75], labels: [3] },
      'no label is a class index',
    ],
    [
      'a single score outside [0, 1]',
      {},
      { teacher: [0.75, 2.5], candidate: [0.75, 0.5], labels: [1, 0] },
      '1 labelled rows have a score that is not finite or a single score outside [0, 1]; calibration needs probabilities (one score is P(class 1))',
    ],
    [
      'a score that is not finite',
      {},
      { teacher: [0.5, 0.5, 0.5, 0.5], candidate: [NaN, 1, 0.5, 0.5], labels: [0, 1], width: 2 },
      '1 labelled rows have a score that is not finite or a single score outside [0, 1]; calibration needs probabilities (one score is P(class 1))',
    ],
  ];
  for (const [what, options, rows, reason] of disabled)
    test(`disabled: ${what}`, () => {
      assert.deepEqual(accumulate(rows, options).result(), {
        disabled: { name: 'calibrationChange', reason },
      });
    });

  test('reference rows never count', () => {
    const options = resolveOptions({});
    const accumulator = new CalibrationChangeAccumulator(options);
    accumulator.update(
      decodeBatch(
        handBatch({ dataset: 'reference', teacher: [0.75], candidate: [0.5], labels: [1] }),
        options,
      ),
    );
    assert.equal(accumulator.labelled, 0);
  });

  /** 400 rows of three classes, logits for the teacher, probabilities for the candidate, some unlabelled. */
  function threeClasses() {
    const teacher: number[] = [];
    const candidate: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 400; i++) {
      const a = ((i * 37) % 101) / 25;
      const b = ((i * 53) % 97) / 30;
      teacher.push(a, b, 1);
      const e = [Math.exp(a / 2), Math.exp(b / 2), Math.E];
      const sum = e[0]! + e[1]! + e[2]!;
      candidate.push(...e.map((x) => x / sum));
      labels.push(i % 11 === 0 ? NaN : (i * 7) % 3);
    }
    return handBatch({
      teacher,
      candidate,
      width: 3,
      labels,
      slices: { region: labels.map((_, i) => (i % 3 === 0 ? 'eu' : 'us')) },
    });
  }

  test('merging shards, through JSON, is one pass (sums up to their order)', () => {
    const options = resolveOptions({});
    const whole = threeClasses();
    const one = new CalibrationChangeAccumulator(options);
    one.update(decodeBatch(whole, options));
    const shards = [0, 1, 2].map((r) => {
      const indices = Int32Array.from({ length: whole.rows }, (_, i) => i).filter((i) => i % 3 === r);
      const shard = new CalibrationChangeAccumulator(options);
      shard.update(decodeBatch(whole, options), indices);
      return calibrationChangeMetric.fromJSON(JSON.parse(JSON.stringify(shard.toJSON())), {
        options,
        where: 'shard',
        rows: { reference: 0, current: indices.length },
        reading: {},
      });
    });
    const merged = new CalibrationChangeAccumulator(options);
    for (const shard of shards) merged.merge(shard);
    assertCloseDeep(merged.toJSON(), one.toJSON());
    assertCloseDeep(merged.result(), one.result());
    assert.equal(one.toJSON().teacher.softmaxRows, one.toJSON().rows);
    assert.equal(one.toJSON().candidate.softmaxRows, 0);
  });

  test('through EvaluationAccumulator: update → toJSON → fromJSON → merge → result, overall and per slice', () => {
    const whole = threeClasses();
    const one = new EvaluationAccumulator({});
    one.update(whole);
    const half = (from: number, to: number) => {
      const part = new EvaluationAccumulator({});
      const w = whole.outputWidth;
      part.update({
        ...whole,
        rows: to - from,
        teacherScores: whole.teacherScores.slice(from * w, to * w),
        candidateScores: whole.candidateScores.slice(from * w, to * w),
        labels: whole.labels!.slice(from, to),
        slices: {
          region: { codes: whole.slices.region!.codes.slice(from, to), values: whole.slices.region!.values },
        },
      });
      return EvaluationAccumulator.fromJSON(JSON.parse(JSON.stringify(part.toJSON())));
    };
    const merged = half(0, 150).merge(half(150, 400));
    const pick = (engine: EvaluationAccumulator) => {
      const report = engine.result();
      return [
        report.metrics.find((m) => m.name === 'calibrationChange'),
        ...report.slices.map((s) => [s.slice, s.metrics.find((m) => m.name === 'calibrationChange')]),
      ];
    };
    const ours = pick(merged);
    assertCloseDeep(ours, pick(one));
    assert.ok(ours[0] !== undefined && ours.length === 3);
  });

  describe('fromJSON refuses a forged state, naming the path', () => {
    const options = resolveOptions({});
    const source = new CalibrationChangeAccumulator(options);
    source.update(
      decodeBatch(
        handBatch({
          teacher: [0.875, 0.875, 0.75, 0.25],
          candidate: [0.625, 0.875, 0.25, 0.5],
          labels: [1, 1, 0, 0],
        }),
        options,
      ),
    );
    const good = source.toJSON();
    const where = 'slices[0] ("region=eu").metrics.calibrationChange';
    const read = (state: unknown, current = 10, task: 'classification' | 'regression' = 'classification') =>
      calibrationChangeMetric.fromJSON(state, {
        options: resolveOptions({ task }),
        where,
        rows: { reference: 0, current },
        reading: {},
      });
    const change = (edit: (s: CalibrationChangeState) => void): CalibrationChangeState => {
      const copy = JSON.parse(JSON.stringify(good)) as CalibrationChangeState;
      edit(copy);
      return copy;
    };
    test('a good state reads back as it was', () => {
      assert.deepEqual(read(good).toJSON(), good);
      const empty = new CalibrationChangeAccumulator(options).toJSON();
      assert.deepEqual(read(empty, 0).toJSON(), empty);
    });
    const path = where.replace(/[.()[\]]/g, '\\$&');
    const forged: [string, unknown, RegExp, number?, ('classification' | 'regression')?][] = [
      ['not an object', 'x', new RegExp(`^${path} is "x", expected an object$`)],
      [
        'classes 1',
        change((s) => (s.classes = 1)),
        /calibrationChange\.classes is 1, expected 0 \(no row yet\) or 2 to 1024$/,
      ],
      [
        'rows without classes',
        change((s) => (s.classes = 0)),
        /classes is 0 but rows is 4; a state has classes exactly when it has used rows$/,
      ],
      [
        'a negative sum',
        change((s) => (s.teacher.sumBrier = -1)),
        /calibrationChange\.teacher\.sumBrier is -1, expected a finite number ≥ 0$/,
      ],
      [
        'a sum written as null (NaN)',
        change((s) => (s.sumSquaredBrierDifference = null as never)),
        /sumSquaredBrierDifference is null, expected a finite number ≥ 0$/,
      ],
      [
        'bins missing',
        change((s) => s.candidate.binRows.pop()),
        /calibrationChange\.candidate\.binRows has 14 bins, expected 15$/,
      ],
      [
        'too many bins',
        change((s) => s.candidate.binCorrect.push(0)),
        /candidate\.binCorrect has 16 entries, more than the 15 a state may hold$/,
      ],
      [
        'bins not holding the rows',
        change((s) => (s.teacher.binRows[0] = 1)),
        /teacher\.binRows add up to 5, expected rows \(4\)$/,
      ],
      [
        'more right than rows in a bin',
        change((s) => (s.teacher.binCorrect[13] = 3)),
        /teacher\.binCorrect\[13\] \(3\) exceeds binRows\[13\] \(2\)$/,
      ],
      [
        'a confidence outside its bin',
        change((s) => (s.teacher.binConfidence[13] = 1.5)),
        /teacher\.binConfidence\[13\] is 1\.5, outside what 2 confidences in \(13\/15, 14\/15\] sum to$/,
      ],
      [
        'a Brier score above 1 per row (two classes)',
        change((s) => (s.candidate.sumBrier = 4.5)),
        /candidate\.sumBrier is 4\.5, more than 1 per row over 4 rows$/,
      ],
      [
        'softmax rows beyond rows',
        change((s) => (s.teacher.softmaxRows = 5)),
        /teacher\.softmaxRows \(5\) exceeds rows \(4\)$/,
      ],
      [
        'squared differences below what their sum implies',
        change((s) => (s.sumSquaredBrierDifference = 0)),
        /sumSquaredBrierDifference is 0, impossible for 4 rows whose Brier scores differ by -0\.1875 in all$/,
      ],
      [
        'more labelled rows than current rows',
        change((s) => (s.otherLabels = 7)),
        /calibrationChange: it counts 11 labelled rows, more than the current rows \(10\)$/,
      ],
      [
        'rows for regression',
        good,
        /calibrationChange counts labelled rows, but the task is regression$/,
        10,
        'regression',
      ],
    ];
    for (const [what, state, message, current, task] of forged)
      test(what, () => assert.throws(() => read(state, current, task), { message }));
  });
});
