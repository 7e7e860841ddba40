import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator } from '../../../src/metrics/index.js';
import { handBatch } from './hand-batches.js';

const repeat = <T>(value: T, times: number): T[] => Array.from({ length: times }, () => value);

test('max − min positive-prediction rate across groups, and the disparate impact ratio', () => {
  const engine = new EvaluationAccumulator({ minGroupCount: 4 });
  // group x: 3 of 4 positive; group y: 1 of 4; group z: 2 of 4
  const candidate = [0.9, 0.9, 0.9, 0.1, /**/ 0.9, 0.1, 0.1, 0.1, /**/ 0.9, 0.9, 0.1, 0.1];
  engine.update(
    handBatch({
      teacher: candidate,
      candidate,
      sensitive: [...repeat('x', 4), ...repeat('y', 4), ...repeat('z', 4)],
    }),
  );
  const report = engine.result();
  const parity = report.metrics.find((m) => m.name === 'demographicParity')!;
  assert.equal(parity.value, 0.5);
  assert.equal(parity.samples, 12);
  assert.equal(report.details.fairness!.disparateImpactRatio, 1 / 3);
  assert.deepEqual(
    report.details.fairness!.groups.map((g) => [g.group, g.positiveRate]),
    [
      ['x', 0.75],
      ['y', 0.25],
      ['z', 0.5],
    ],
  );
});

test('groups below minGroupCount are reported but do not decide', () => {
  const engine = new EvaluationAccumulator({ minGroupCount: 3 });
  engine.update(
    handBatch({
      teacher: [0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.1],
      candidate: [0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.1],
      sensitive: ['a', 'a', 'a', 'b', 'b', 'b', 'tiny'],
    }),
  );
  const report = engine.result();
  assert.ok(Math.abs(report.metrics.find((m) => m.name === 'demographicParity')!.value - 1 / 3) < 1e-12);
  const tiny = report.details.fairness!.groups.find((g) => g.group === 'tiny')!;
  assert.deepEqual([tiny.positiveRate, tiny.decides], [0, false]);
});

test('several classes without a positive class: the worst one-vs-rest gap', () => {
  const engine = new EvaluationAccumulator({ minGroupCount: 1 });
  // classes predicted: group a → 0, 1; group b → 2, 2. Gaps: class 0: 0.5, class 1: 0.5, class 2: 1.
  engine.update(
    handBatch({
      width: 3,
      teacher: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
      candidate: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
      sensitive: ['a', 'a', 'b', 'b'],
    }),
  );
  const report = engine.result();
  assert.equal(report.metrics.find((m) => m.name === 'demographicParity')!.value, 1);
  assert.equal(report.details.fairness!.positiveClass, 2);
  const withPositiveClass = new EvaluationAccumulator({ minGroupCount: 1, positiveClass: 0 });
  withPositiveClass.update(
    handBatch({
      width: 3,
      teacher: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
      candidate: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
      sensitive: ['a', 'a', 'b', 'b'],
    }),
  );
  assert.equal(withPositiveClass.result().metrics.find((m) => m.name === 'demographicParity')!.value, 0.5);
});

test('disabled without a sensitive attribute or with fewer than two large groups', () => {
  const none = new EvaluationAccumulator({});
  none.update(handBatch({ teacher: [0.9], candidate: [0.9] }));
  assert.match(
    none.result().disabled.find((d) => d.name === 'demographicParity')!.reason,
    /no sensitive attribute/,
  );
  const small = new EvaluationAccumulator({ minGroupCount: 2 });
  small.update(handBatch({ teacher: [0.9, 0.9], candidate: [0.9, 0.9], sensitive: ['a', 'b'] }));
  assert.match(small.result().disabled.find((d) => d.name === 'demographicParity')!.reason, /fewer than two/);
});
