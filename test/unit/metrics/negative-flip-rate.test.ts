import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator, type MetricResult } from '../../../src/metrics/index.js';
import { wilson } from '../../../src/metrics/intervals.js';
import { handBatch, pairedBatch } from './hand-batches.js';
import { asVersion1 } from './older-states.js';

function negativeFlipRate(engine: EvaluationAccumulator): MetricResult {
  const metric = engine.result().metrics.find((m) => m.name === 'negativeFlipRate');
  assert.ok(metric, 'negativeFlipRate computed');
  return metric;
}

test('b / labelled rows with a Wilson interval; positive flips and agreement (over every row) beside it', () => {
  const engine = new EvaluationAccumulator({});
  // a = 80, b = 12, c = 5, d = 3 over 100 labelled rows; 20 unlabelled rows where the models disagree.
  engine.update(pairedBatch({ both: 80, teacherOnly: 12, candidateOnly: 5, neither: 3, unlabelled: 20 }));
  const metric = negativeFlipRate(engine);
  assert.equal(metric.value, 0.12);
  assert.equal(metric.samples, 100);
  const interval = wilson(12, 100, 0.95);
  assert.deepEqual([metric.interval!.lower, metric.interval!.upper], [interval.lower, interval.upper]);
  assert.equal(metric.interval!.method, 'wilson');
  // Agreement: a + d = 83 of 120 rows (every b, c and unlabelled row is a disagreement).
  const agreement = wilson(83, 120, 0.95);
  const positive = wilson(5, 100, 0.95);
  assert.deepEqual(metric.facts, {
    negativeFlips: 12,
    positiveFlips: 5,
    positiveFlipRate: 0.05,
    positiveFlipRateInterval: [positive.lower, positive.upper],
    agreement: 83 / 120,
    agreementInterval: [agreement.lower, agreement.upper],
  });
  assert.equal(
    metric.detail,
    'teacher right, candidate wrong on 12 of 100 labelled rows, the reverse on 5; the two agree on 83 of 120 rows',
  );
  // accuracyDrop nets the positive flips off: (12 − 5)/100.
  const drop = engine.result().metrics.find((m) => m.name === 'accuracyDrop')!;
  assert.ok(Math.abs(drop.value - 0.07) < 1e-15);
});

test('disabled without labels, for regression and without current rows, with the reason', () => {
  const reason = (engine: EvaluationAccumulator) => {
    const report = engine.result();
    assert.equal(
      report.metrics.find((m) => m.name === 'negativeFlipRate'),
      undefined,
    );
    return report.disabled.find((d) => d.name === 'negativeFlipRate')?.reason;
  };
  const labelFree = new EvaluationAccumulator({});
  labelFree.update(handBatch({ teacher: [0.9, 0.1, 0.9], candidate: [0.1, 0.1, 0.9] }));
  assert.equal(reason(labelFree), 'no labels');
  // Labels present but all missing is label-free too.
  const missing = new EvaluationAccumulator({});
  missing.update(handBatch({ teacher: [0.9, 0.1], candidate: [0.1, 0.1], labels: [NaN, NaN] }));
  assert.equal(reason(missing), 'no labels');
  const regression = new EvaluationAccumulator({ task: 'regression' });
  regression.update(handBatch({ teacher: [1, 2], candidate: [1.5, 2], labels: [1, 2] }));
  assert.equal(reason(regression), 'regression has no classes to flip');
  const referenceOnly = new EvaluationAccumulator({});
  referenceOnly.update(handBatch({ dataset: 'reference', teacher: [0.9], candidate: [0.1], labels: [1] }));
  assert.equal(reason(referenceOnly), 'no current rows');
});

test('per slice, like the other row metrics', () => {
  const engine = new EvaluationAccumulator({});
  // Rows 0–59: both right; 60–69: only the teacher; 70–79: only the candidate. Even rows are eu.
  engine.update(
    pairedBatch({
      both: 60,
      teacherOnly: 10,
      candidateOnly: 10,
      slices: (row) => ({ region: row % 2 === 0 ? 'eu' : 'us' }),
    }),
  );
  const report = engine.result();
  for (const slice of report.slices) {
    const metric = slice.metrics.find((m) => m.name === 'negativeFlipRate')!;
    assert.equal(metric.value, 5 / 40, slice.slice);
    assert.equal(metric.facts!.positiveFlipRate, 5 / 40, slice.slice);
  }
  assert.deepEqual(
    report.slices.map((s) => s.slice),
    ['region=eu', 'region=us'],
  );
});

test('adds nothing to the shard state: a state written before it reads, merges and gives it', () => {
  // The accuracy state's fields as version-1 states have always written them.
  const before = {
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
  const shard = new EvaluationAccumulator({});
  shard.update(pairedBatch({ both: 30, teacherOnly: 4, candidateOnly: 1, neither: 5 }));
  const state = shard.toJSON();
  assert.deepEqual(
    Object.keys(state.overall.metrics.accuracyDrop as object).sort(),
    Object.keys(before).sort(),
  );
  // A version 1 state, written out as JSON with exactly those counts: a = 30, b = 4, c = 1, d = 5.
  const older = asVersion1(state);
  const other = new EvaluationAccumulator({});
  other.update(pairedBatch({ both: 50, teacherOnly: 6, candidateOnly: 2, neither: 2 }));
  const merged = EvaluationAccumulator.fromJSON(older).merge(other);
  const metric = negativeFlipRate(merged);
  assert.equal(metric.value, 10 / 100);
  assert.equal(metric.facts!.positiveFlips, 3);
  // The same as one pass over both.
  const once = new EvaluationAccumulator({});
  once.update(pairedBatch({ both: 30, teacherOnly: 4, candidateOnly: 1, neither: 5 }));
  once.update(pairedBatch({ both: 50, teacherOnly: 6, candidateOnly: 2, neither: 2 }));
  assert.deepEqual(negativeFlipRate(once), metric);
});
