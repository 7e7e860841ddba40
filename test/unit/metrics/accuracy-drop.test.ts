import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator, type MetricResult } from '../../../src/metrics/index.js';
import { mcnemarExactPValue } from '../../../src/metrics/significance.js';
import { handBatch, pairedBatch } from './hand-batches.js';

function accuracyDrop(engine: EvaluationAccumulator): MetricResult {
  const metric = engine.result().metrics.find((m) => m.name === 'accuracyDrop');
  assert.ok(metric, 'accuracyDrop computed');
  return metric;
}

test('labelled binary scores: teacher accuracy − candidate accuracy at the decision threshold', () => {
  const engine = new EvaluationAccumulator({});
  // teacher right on rows 0–8, candidate right on 0–6 and 9: 0.9 − 0.8 = 0.1
  engine.update(
    handBatch({
      teacher: [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.9, 0.1, 0.9],
      candidate: [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.1, 0.9, 0.1],
      labels: [1, 0, 1, 0, 1, 0, 1, 1, 0, 0],
    }),
  );
  const metric = accuracyDrop(engine);
  assert.ok(Math.abs(metric.value - 0.1) < 1e-12);
  assert.equal(metric.samples, 10);
  assert.equal(metric.interval?.method, 'newcombe-paired-score');
  assert.ok(metric.interval!.lower < 0.1 && metric.interval!.upper > 0.1);
  const details = engine.result().details.accuracy;
  assert.deepEqual(
    { mode: details.mode, teacher: details.teacherAccuracy, candidate: details.candidateAccuracy },
    { mode: 'labelled', teacher: 0.9, candidate: 0.8 },
  );
  assert.equal(details.agreement, 0.7);
});

test('a configured decision threshold moves the class boundary', () => {
  const engine = new EvaluationAccumulator({ decisionThreshold: 0.75 });
  engine.update(handBatch({ teacher: [0.8, 0.7], candidate: [0.7, 0.7], labels: [1, 0] }));
  // teacher: 1, 0 (both right); candidate: 0, 0 (one right)
  assert.equal(accuracyDrop(engine).value, 0.5);
});

test('multi-class: argmax, first maximum wins; unlabelled rows (NaN) are left out of accuracy', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(
    handBatch({
      width: 3,
      teacher: [0, 1, 0, /**/ 5, 5, 1, /**/ 0, 0, 2, /**/ 1, 0, 0],
      candidate: [0, 1, 0, /**/ 1, 5, 1, /**/ 0, 3, 2, /**/ 1, 0, 0],
      labels: [1, 0, 2, NaN],
    }),
  );
  // teacher classes 1, 0, 2, 0; candidate 1, 1, 1, 0; labelled rows 0–2: teacher 3/3, candidate 1/3
  const metric = accuracyDrop(engine);
  assert.ok(Math.abs(metric.value - 2 / 3) < 1e-12);
  assert.equal(metric.samples, 3);
  assert.equal(engine.result().details.accuracy.agreement, 0.5);
});

test('without labels: 1 − agreement with the teacher, Wilson interval', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(handBatch({ teacher: [0.9, 0.9, 0.1, 0.1], candidate: [0.9, 0.1, 0.1, 0.1] }));
  const metric = accuracyDrop(engine);
  assert.equal(metric.value, 0.25);
  assert.equal(metric.interval?.method, 'wilson');
  assert.match(metric.detail!, /label-free/);
});

test('reference rows never count toward accuracy', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(handBatch({ dataset: 'reference', teacher: [0.9], candidate: [0.1], labels: [1] }));
  engine.update(handBatch({ teacher: [0.9], candidate: [0.9], labels: [1] }));
  assert.equal(accuracyDrop(engine).value, 0);
});

test('regression, labelled: (MAE candidate − MAE teacher) / mean |label|', () => {
  const engine = new EvaluationAccumulator({ task: 'regression' });
  engine.update(handBatch({ teacher: [1, 2, 3, 4], candidate: [1.5, 2, 2, 4], labels: [1, 2, 4, 5] }));
  // teacher errors 0, 0, 1, 1 (MAE 0.5); candidate 0.5, 0, 2, 1 (MAE 0.875); mean |label| = 3
  const metric = accuracyDrop(engine);
  assert.ok(Math.abs(metric.value - 0.375 / 3) < 1e-9);
  const details = engine.result().details.accuracy;
  assert.equal(details.teacherMeanAbsoluteError, 0.5);
  assert.equal(details.candidateMeanAbsoluteError, 0.875);
});

test('regression, label-free: mean |candidate − teacher| / mean |teacher|', () => {
  const engine = new EvaluationAccumulator({ task: 'regression' });
  engine.update(handBatch({ teacher: [1, -2, 3, 2], candidate: [1.5, -2, 2, 2] }));
  const metric = accuracyDrop(engine);
  assert.ok(Math.abs(metric.value - 1.5 / 4 / 2) < 1e-9);
  assert.ok(metric.interval!.lower < metric.value && metric.interval!.upper > metric.value);
});

test('a labelled drop carries McNemar’s exact test of its discordant pairs; label-free and regression drops none', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(pairedBatch({ both: 119, teacherOnly: 7, candidateOnly: 3, unlabelled: 9 }));
  const metric = accuracyDrop(engine);
  assert.ok(Math.abs(metric.value - 4 / 129) < 1e-15);
  assert.deepEqual(metric.tests, {
    statistic: 'accuracyDrop',
    confidence: 0.95,
    correction: 'holm',
    values: [
      {
        subject: 'teacher vs candidate on the labelled rows',
        value: metric.value,
        pValue: mcnemarExactPValue(7, 3),
        adjustedPValue: mcnemarExactPValue(7, 3),
        method: 'mcnemar-exact',
        samples: 129,
        teacherOnlyCorrect: 7,
        candidateOnlyCorrect: 3,
      },
    ],
  });
  assert.ok(Math.abs(metric.tests!.values[0]!.pValue - 0.34375) < 1e-14);

  const labelFree = new EvaluationAccumulator({});
  labelFree.update(handBatch({ teacher: [0.9, 0.9], candidate: [0.9, 0.1] }));
  assert.equal(accuracyDrop(labelFree).tests, undefined);
  const regression = new EvaluationAccumulator({ task: 'regression' });
  regression.update(handBatch({ teacher: [1, 2], candidate: [1.5, 2], labels: [1, 2] }));
  assert.equal(accuracyDrop(regression).tests, undefined);
});
