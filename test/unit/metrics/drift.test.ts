import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator, predictionDriftName, type FeatureDrift } from '../../../src/metrics/index.js';
import { handBatch } from './hand-batches.js';

// 1.1^i: consecutive values are further apart than one sketch bucket (2% relative), so each has its own.
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => 1.1 ** (from + i));

function driftOf(
  reference: { numeric?: Record<string, number[]>; categorical?: Record<string, string[]> },
  current: { numeric?: Record<string, number[]>; categorical?: Record<string, string[]> },
  feature: string,
): FeatureDrift {
  const engine = new EvaluationAccumulator({});
  for (const [dataset, columns] of [
    ['reference', reference],
    ['current', current],
  ] as const) {
    const rows = Object.values({ ...columns.numeric, ...columns.categorical })[0]!.length;
    const zeros = new Array<number>(rows).fill(0);
    engine.update(handBatch({ dataset, teacher: zeros, candidate: zeros, ...columns }));
  }
  return engine.result().details.drift.find((d) => d.feature === feature)!;
}

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} vs ${expected}`);

test('categorical PSI by category', () => {
  const drift = driftOf(
    { categorical: { colour: [...Array(50).fill('a'), ...Array(50).fill('b')] } },
    { categorical: { colour: [...Array(75).fill('a'), ...Array(25).fill('b')] } },
    'colour',
  );
  // (0.75 − 0.5)·ln 1.5 + (0.25 − 0.5)·ln 0.5
  close(drift.psi, 0.274653, 'PSI');
  assert.equal(drift.ks, undefined);
});

test('an empty bin gets epsilon = 1e-4 instead of 0', () => {
  const drift = driftOf(
    { categorical: { colour: Array(100).fill('a') } },
    { categorical: { colour: [...Array(90).fill('a'), ...Array(10).fill('c')] } },
    'colour',
  );
  // (0.9 − 1)·ln 0.9 + (0.1 − 1e-4)·ln(0.1 / 1e-4)
  close(drift.psi, 0.700621, 'PSI');
});

test('numeric PSI on reference deciles, and KS', () => {
  const same = driftOf({ numeric: { x: range(1, 100) } }, { numeric: { x: range(1, 100) } }, 'x');
  assert.equal(same.psi, 0);
  assert.equal(same.ks, 0);
  assert.equal(same.bins, 10);
  // Edges sit at or just above the 10th, 20th, … value (the upper edge of their sketch bucket).
  same.edges!.forEach((edge, j) => {
    const quantile = 1.1 ** (10 * (j + 1));
    assert.ok(edge >= quantile && edge < quantile * 1.05, `edge ${edge} vs ${quantile}`);
  });

  const shifted = driftOf({ numeric: { x: range(1, 100) } }, { numeric: { x: range(51, 150) } }, 'x');
  // Current: bins 1–5 empty (ε), bins 6–9 hold 10% each, the last bin holds 60%.
  close(shifted.psi, 5 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1) + 0.5 * Math.log(6), 'PSI');
  close(shifted.ks!, 0.5, 'KS');
});

test('missing values form their own bin; KS ignores them', () => {
  const drift = driftOf({ numeric: { x: [1, 2, NaN, 4] } }, { numeric: { x: [1, NaN, NaN, 4] } }, 'x');
  const engine = new EvaluationAccumulator({ psiBins: 2 });
  for (const [dataset, x] of [
    ['reference', [1, 2, NaN, 4]],
    ['current', [1, NaN, NaN, 4]],
  ] as const) {
    engine.update(
      handBatch({ dataset, teacher: [0, 0, 0, 0], candidate: [0, 0, 0, 0], numeric: { x: [...x] } }),
    );
  }
  const twoBins = engine.result().details.drift.find((d) => d.feature === 'x')!;
  // bins (−∞, 2], (2, ∞), missing: reference 2, 1, 1 of 4; current 1, 1, 2 of 4
  close(twoBins.psi, 0.5 * Math.log(2), 'PSI');
  assert.equal(twoBins.bins, 3);
  close(twoBins.ks!, 1 / 6, 'KS');
  assert.ok(drift.psi > 0);
});

test('a constant reference collapses to one edge', () => {
  const drift = driftOf(
    { numeric: { x: Array(20).fill(5) } },
    { numeric: { x: [...Array(10).fill(5), ...Array(10).fill(7)] } },
    'x',
  );
  assert.equal(drift.bins, 2);
  close(drift.psi, (0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 'PSI');
});

test('predictions drift: by class with several classes, by score with one', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(
    handBatch({ dataset: 'reference', width: 2, teacher: [1, 0, 0, 1], candidate: [1, 0, 0, 1] }),
  );
  engine.update(handBatch({ dataset: 'current', width: 2, teacher: [1, 0, 1, 0], candidate: [1, 0, 1, 0] }));
  const report = engine.result();
  const predictions = report.details.drift.find((d) => d.feature === predictionDriftName)!;
  assert.equal(predictions.kind, 'categorical');
  // reference classes 0, 1; current 0, 0
  close(predictions.psi, (1 - 0.5) * Math.log(2) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5), 'PSI');
  const psi = report.metrics.find((m) => m.name === 'psi')!;
  assert.equal(psi.value, predictions.psi);
  assert.equal(psi.detail, 'worst: the predictions');
});

test('a feature that changes kind between batches is refused', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(handBatch({ teacher: [0], candidate: [0], numeric: { x: [1] } }));
  assert.throws(
    () => engine.update(handBatch({ teacher: [0], candidate: [0], categorical: { x: ['a'] } })),
    /feature x is categorical in this batch but was numeric before/,
  );
});

test('each drift says whether it could be chance: the PSI test and the KS p-value', () => {
  const same = driftOf({ numeric: { x: range(1, 100) } }, { numeric: { x: range(1, 100) } }, 'x');
  assert.deepEqual([same.psiTest.pValue, same.psiTest.adjustedPValue, same.ksPValue], [1, 1, 1]);
  assert.equal(same.psiTest.method, 'permutation'); // 100 rows in 10 bins: 5 expected per bin
  const shifted = driftOf({ numeric: { x: range(1, 100) } }, { numeric: { x: range(51, 150) } }, 'x');
  assert.ok(shifted.psi > shifted.psiTest.noiseBand[1]);
  assert.equal(shifted.psiTest.pValue, 1 / 1000);
  // D = 0.5 between 100 and 100 rows: λ = (√50 + 0.12 + 0.11/√50)·0.5 ≈ 3.60, p ≈ 2e^(−2λ²).
  const lambda = (Math.sqrt(50) + 0.12 + 0.11 / Math.sqrt(50)) * 0.5;
  close(shifted.ksPValue! / (2 * Math.exp(-2 * lambda * lambda)), 1, 'KS p');
  // The counts behind PSI are reported, so the test can be redone from them.
  assert.deepEqual(shifted.referenceCounts, Array(10).fill(10));
  assert.deepEqual(shifted.currentCounts, [0, 0, 0, 0, 0, 10, 10, 10, 10, 60]);
});
