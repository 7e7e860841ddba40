import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator } from '../../../src/metrics/index.js';
import { CategoricalDrift, NumericDrift, permutationReplicates } from '../../../src/metrics/drift.js';
import {
  binomialHalfCdf,
  chiSquaredQuantile,
  chiSquaredSurvival,
  holmAdjusted,
  hypergeometricSample,
  kolmogorovSurvival,
  ksPValue,
  logGamma,
  mcnemarExactPValue,
  multivariateHypergeometricSample,
  permutationNull,
} from '../../../src/metrics/significance.js';
import { seededRandom } from '../../../src/metrics/seeded-random.js';
import { handBatch } from './hand-batches.js';

const close = (actual: number, expected: number, relative: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${what}: ${actual} vs ${expected}`,
  );

test('χ² tails for even degrees of freedom have a closed form: Q = e^(−x/2) Σ_{j<k/2} (x/2)^j / j!', () => {
  const closedForm = (x: number, dof: number) => {
    let term = 1;
    let sum = 1;
    for (let j = 1; j < dof / 2; j++) sum += term *= x / 2 / j;
    return Math.exp(-x / 2) * sum;
  };
  for (const dof of [2, 4, 10, 30]) {
    for (const x of [0.1, 1, dof, 2 * dof + 7, 200]) {
      close(chiSquaredSurvival(x, dof), closedForm(x, dof), 1e-12, `Q(${x}; ${dof})`);
    }
  }
  // dof = 2: the 95% quantile is −2 ln 0.05.
  close(chiSquaredQuantile(0.95, 2), -2 * Math.log(0.05), 1e-13, 'χ²₂ 95%');
  // dof = 1: P(Z² > 1.959964²) = 0.05.
  close(chiSquaredSurvival(1.959963984540054 ** 2, 1), 0.05, 1e-11, 'χ²₁ at z²');
  assert.equal(chiSquaredSurvival(0, 3), 1);
  close(logGamma(10), Math.log(362880), 1e-14, 'ln Γ(10)');
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14, 'ln Γ(1/2)');
});

test('the noise band of the issue: 133 current against 200 reference rows in 10 bins is 0–0.21', () => {
  const band = (chiSquaredQuantile(0.95, 9) * (200 + 133)) / (200 * 133);
  close(band, (16.918977604620448 * 333) / 26600, 1e-12, 'band');
  assert.equal(band.toFixed(2), '0.21');
});

test('Kolmogorov: the alternating series, and Stephens’ two-sample p-value', () => {
  // From λ = 1.2 three terms of 2 Σ (−1)^{j−1} e^{−2j²λ²} are exact to 1e-19.
  const threeTerms = (lambda: number) =>
    2 * (Math.exp(-2 * lambda ** 2) - Math.exp(-8 * lambda ** 2) + Math.exp(-18 * lambda ** 2));
  for (const lambda of [1.2, 1.5, 2])
    close(kolmogorovSurvival(lambda), threeTerms(lambda), 1e-12, `Q(${lambda})`);
  // Either side of the switch between the two series agrees.
  close(kolmogorovSurvival(1.17999999), kolmogorovSurvival(1.18), 1e-7, 'continuity');
  assert.equal(kolmogorovSurvival(0), 1);
  // D = 0.2 between 200 and 133 rows: nₑ = 79.88, λ = (√nₑ + 0.12 + 0.11/√nₑ)·0.2.
  const root = Math.sqrt((200 * 133) / 333);
  const lambda = (root + 0.12 + 0.11 / root) * 0.2;
  close(
    ksPValue(0.2, 200, 133),
    2 * (Math.exp(-2 * lambda ** 2) - Math.exp(-8 * lambda ** 2)),
    1e-12,
    'KS p',
  );
});

test("Holm's step-down adjustment, by hand", () => {
  // Sorted: 0.005 × 4 = 0.02, 0.01 × 3 = 0.03, 0.03 × 2 = 0.06, 0.04 × 1 = 0.04 → kept at 0.06.
  const adjusted = holmAdjusted([0.01, 0.04, 0.03, 0.005]);
  [0.03, 0.06, 0.06, 0.02].forEach((expected, i) => close(adjusted[i]!, expected, 1e-12, `p̃${i}`));
  assert.deepEqual(holmAdjusted([0.5, 0.9]), [1, 1]);
  assert.deepEqual(holmAdjusted([0.2]), [0.2]);
  // At α = 0.05 only the first is significant: 0.005 ≤ 0.05/4, then 0.01 > 0.05/3 stops.
  assert.deepEqual(
    holmAdjusted([0.005, 0.01, 0.9]).map((p) => p <= 0.05),
    [true, true, false],
  );
});

test('permutations for a family: ≥ 999, and 1/(B + 1) at most a quarter of α/m', () => {
  assert.equal(permutationReplicates(6, 0.05), 999);
  assert.equal(permutationReplicates(100, 0.05), 7999);
  assert.ok(1 / (permutationReplicates(100, 0.05) + 1) <= 0.05 / 100 / 4);
});

test('hypergeometric draws: exact where small, the right mean and variance where large; totals kept', () => {
  const random = seededRandom(3);
  for (const [total, marked, draws] of [
    [333, 40, 133],
    [333, 300, 200],
    [1_000_000, 3, 400_000],
    [1_000_000, 300_000, 400_000],
  ] as const) {
    const n = 20_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const x = hypergeometricSample(total, marked, draws, random);
      assert.ok(x >= Math.max(0, draws - (total - marked)) && x <= Math.min(draws, marked));
      sum += x;
      squares += x * x;
    }
    const mean = (draws * marked) / total;
    const variance = (mean * (1 - marked / total) * (total - draws)) / (total - 1);
    const observed = sum / n;
    assert.ok(Math.abs(observed - mean) < 5 * Math.sqrt(variance / n) + 1e-9, `mean ${observed} vs ${mean}`);
    close(squares / n - observed * observed, variance, 0.1, `variance ${total}/${marked}/${draws}`);
  }
  const into = [0, 0, 0, 0];
  for (let i = 0; i < 100; i++) {
    multivariateHypergeometricSample([5, 0, 7, 1], 6, random, into);
    assert.equal(
      into.reduce((a, b) => a + b, 0),
      6,
    );
    assert.ok(into[0]! <= 5 && into[1] === 0 && into[2]! <= 7 && into[3]! <= 1);
  }
});

test('the permutation null of a tiny table, by hand: 3 and 1 against 1 and 3 rows', () => {
  // Dealing the pooled 4 + 4 rows out to 4 current rows puts x of the first category there with
  // probability C(4,x)·C(4,4−x)/70 = 1, 16, 36, 16, 1 (/70). PSI is 0 at x = 2, ln 3 at x = 1 or 3,
  // and 2(1 − ε) ln(1/ε) at x = 0 or 4. The observed x = 1 has p = P(PSI ≥ ln 3) = 34/70.
  const drift = new CategoricalDrift();
  drift.add('reference', 'a', 3);
  drift.add('reference', 'b', 1);
  drift.add('current', 'a', 1);
  drift.add('current', 'b', 3);
  const result = drift.result(1e-4, { confidence: 0.95, replicates: 9999 })!;
  close(result.psi, Math.log(3), 1e-12, 'PSI');
  const test = result.psiTest!;
  assert.equal(test.method, 'permutation');
  assert.ok(Math.abs(test.pValue - 34 / 70) < 0.02, `p ${test.pValue} vs ${34 / 70}`);
  // 68/70 of the deals score at most ln 3: the 95% band ends there.
  close(test.noiseBand[1], Math.log(3), 1e-12, 'band');
  // Determined by the counts: asked again, the same answer.
  assert.deepEqual(drift.result(1e-4, { confidence: 0.95, replicates: 9999 })!.psiTest, test);
  const again = permutationNull([3, 1], [1, 3], (r) => r[0]!, 99);
  assert.deepEqual(
    permutationNull([3, 1], [1, 3], (r) => r[0]!, 99),
    again,
  );
});

test('χ² where every bin expects ≥ 50 rows of the smaller dataset, by hand', () => {
  // 1000 rows each in 3 categories: 400/300/300 against 300/400/300.
  const drift = new CategoricalDrift();
  for (const [category, reference, current] of [
    ['a', 400, 300],
    ['b', 300, 400],
    ['c', 300, 300],
  ] as const) {
    drift.add('reference', category, reference);
    drift.add('current', category, current);
  }
  const result = drift.result(1e-4, { confidence: 0.95, replicates: 999 })!;
  // PSI = (0.3 − 0.4) ln(3/4) + (0.4 − 0.3) ln(4/3) = 0.2 ln(4/3); χ² = PSI · 1000·1000/2000 on 2 df.
  close(result.psi, 0.2 * Math.log(4 / 3), 1e-12, 'PSI');
  const test = result.psiTest!;
  assert.equal(test.method, 'chi-squared');
  close(test.minExpectedCount, 300, 1e-12, 'smallest expected count');
  close(test.pValue, Math.exp((-500 * result.psi) / 2), 1e-10, 'p');
  close(test.noiseBand[1], (-2 * Math.log(0.05)) / 500, 1e-12, 'band');
});

test('one occupied bin cannot drift; a numeric feature is binned afresh in every permutation', () => {
  const constant = new NumericDrift(0.02);
  for (let i = 0; i < 50; i++) {
    constant.reference.add(5);
    constant.current.add(5);
  }
  const flat = constant.result(10, 1e-4, { confidence: 0.95, replicates: 999 })!;
  assert.deepEqual([flat.psiTest!.pValue, flat.psiTest!.noiseBand], [1, [0, 0]]);

  // The same 40 values in both datasets: PSI 0, p = 1; the band is what dealing them gives.
  const same = new NumericDrift(0.02);
  for (let i = 1; i <= 40; i++) {
    same.reference.add(1.1 ** i);
    same.current.add(1.1 ** i);
  }
  const tested = same.result(10, 1e-4, { confidence: 0.95, replicates: 999 })!;
  assert.equal(tested.psi, 0);
  assert.equal(tested.psiTest!.pValue, 1);
  assert.equal(tested.psiTest!.method, 'permutation');
  assert.ok(tested.psiTest!.noiseBand[1] > 0.2 && tested.psiTest!.noiseBand[1] < 2);
});

test('every drift in the report carries its test, adjusted over the evaluation (and per slice)', () => {
  const engine = new EvaluationAccumulator({ featureDriftPerSlice: true });
  const values = Array.from({ length: 40 }, (_, i) => 1.1 ** i);
  const region = values.map((_, i) => (i % 2 ? 'eu' : 'us'));
  for (const dataset of ['reference', 'current'] as const) {
    engine.update(
      handBatch({
        dataset,
        teacher: values.map(() => 0),
        candidate: values.map((_, i) => i % 3),
        numeric: { x: dataset === 'current' ? values.map((v) => v * 3) : values, y: values },
        slices: { region },
      }),
    );
  }
  const report = engine.result();
  const families = [report.details.drift, ...report.slices.map((s) => s.drift)];
  for (const drift of families) {
    assert.equal(drift.length, 3);
    const adjusted = holmAdjusted(drift.map((d) => d.psiTest.pValue));
    drift.forEach((d, i) => assert.equal(d.psiTest.adjustedPValue, adjusted[i]));
  }
  const psi = report.metrics.find((m) => m.name === 'psi')!;
  assert.equal(psi.detail, 'worst: feature x');
  assert.deepEqual(
    psi.tests!.values.map((v) => v.subject),
    ['the predictions', 'feature x', 'feature y'],
  );
  assert.equal(psi.tests!.values[1]!.adjustedPValue, report.details.drift[1]!.psiTest.adjustedPValue);
});

test('McNemar exact p-values of small tables: min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½)', () => {
  // [b, c, p]: each p is a sum of binomial coefficients over 2^(b+c), worked out by hand.
  const cases: [number, number, number][] = [
    [0, 0, 1], // no discordant row: no evidence either way
    [1, 0, 1],
    [2, 0, 0.5],
    [5, 0, 0.0625], // 2/2⁵
    [0, 5, 0.0625],
    [6, 1, 0.125], // 2·(1 + 6)/2⁷ … = 2·8/128
    [7, 3, 0.34375], // 2·(1 + 10 + 45 + 120)/2¹⁰
    [10, 0, 0.001953125], // 2/2¹⁰
    [4, 4, 1],
    [12, 11, 1],
  ];
  for (const [b, c, expected] of cases) {
    close(mcnemarExactPValue(b, c), expected, 1e-14, `b=${b}, c=${c}`);
    assert.equal(mcnemarExactPValue(b, c), mcnemarExactPValue(c, b), `symmetric in b and c: ${b}, ${c}`);
  }
  assert.equal(mcnemarExactPValue(5, 0), 0.0625);
});

test('the Bin(n, ½) CDF matches exact sums of binomial coefficients, from tiny tails to the centre', () => {
  const exactCdf = (k: number, n: number) => {
    let coefficient = 1n;
    let sum = 1n;
    for (let i = 1; i <= k; i++) {
      coefficient = (coefficient * BigInt(n - i + 1)) / BigInt(i);
      sum += coefficient;
    }
    return Number(sum) / Number(2n ** BigInt(n));
  };
  for (const n of [1, 2, 15, 16, 17, 40, 101, 400, 1000]) {
    for (const k of new Set([
      0,
      1,
      Math.floor(n / 10),
      Math.floor(n / 3),
      Math.floor(n / 2) - 3,
      Math.floor(n / 2),
    ])) {
      if (k < 0) continue;
      // Relative error from ln-space rounding grows with |ln P|: tiny tails are good to 1e-12, p-values that matter to 1e-14.
      const exact = exactCdf(k, n);
      close(binomialHalfCdf(k, n), exact, exact > 1e-10 ? 1e-14 : 1e-12, `P(X ≤ ${k}), n = ${n}`);
    }
  }
  assert.equal(binomialHalfCdf(3, 3), 1);
  // Far beyond exact arithmetic: b + c = 2·10⁶, 1000 apart, stays finite and sensible.
  const p = mcnemarExactPValue(1_000_500, 999_500);
  assert.ok(p > 0.4 && p < 0.6, `p ${p}`);
});
