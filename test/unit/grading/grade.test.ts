import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { metricDefinitions, metricNames, type MetricName } from '../../../src/api/v1alpha1/thresholds.js';
import { bandOf, gradeMetric, gradeSeverity, ruleFor, type Grade } from '../../../src/grading/index.js';
import { EvaluationAccumulator, type MetricResult } from '../../../src/metrics/index.js';
import { pairedBatch } from '../metrics/hand-batches.js';

test('bands follow the design table, including which side of target an equal value falls on', () => {
  const cases: [MetricName, number, string][] = [
    ['accuracyDrop', 0.019, 'Pass'],
    ['accuracyDrop', 0.02, 'Warning'], // "< 0.02" passes, so 0.02 does not
    ['accuracyDrop', 0.05, 'Warning'],
    ['accuracyDrop', 0.0501, 'Critical'],
    ['memoryRatio', 0.5, 'Pass'], // "≤ 0.50"
    ['memoryRatio', 0.7, 'Warning'],
    ['memoryRatio', 0.71, 'Critical'],
    ['throughputQps', 1000, 'Pass'], // "≥ 1000"
    ['throughputQps', 999, 'Warning'],
    ['throughputQps', 500, 'Warning'],
    ['throughputQps', 499.9, 'Critical'],
    ['p95LatencyMs', 100, 'Warning'],
    ['p95LatencyMs', 200.5, 'Critical'],
    ['psi', 0.09, 'Pass'],
    ['psi', 0.26, 'Critical'],
    ['carbonKgPer1M', 0.99, 'Pass'],
    ['powerWatts', 150, 'Warning'],
    ['energyPer1kInferencesJoules', 149, 'Pass'],
    ['energyPer1kInferencesJoules', 600, 'Warning'],
    ['energyPer1kInferencesJoules', 601, 'Critical'],
    ['demographicParity', 0.051, 'Critical'],
    ['negativeFlipRate', 0.019, 'Pass'],
    ['negativeFlipRate', 0.02, 'Warning'],
    ['negativeFlipRate', 0.0501, 'Critical'],
  ];
  for (const [name, value, expected] of cases) {
    assert.equal(bandOf(name, value, metricDefinitions[name].defaults), expected, `${name} ${value}`);
  }
});

const result = (
  name: MetricName,
  value: number,
  samples: number,
  interval?: [number, number],
): MetricResult => {
  const r: MetricResult = { name, value, samples };
  if (interval) r.interval = { lower: interval[0], upper: interval[1], confidence: 0.95, method: 'test' };
  return r;
};

test('a breach the data cannot support is Inconclusive, not Critical', () => {
  const cases: [MetricResult, Grade, RegExp?][] = [
    [result('accuracyDrop', 0.061, 5000, [0.052, 0.07]), 'Critical'],
    [
      result('accuracyDrop', 0.061, 5000, [0.045, 0.077]),
      'Inconclusive',
      /reaches back across the warning edge/,
    ],
    [result('accuracyDrop', 0.03, 5000, [0.025, 0.035]), 'Warning'],
    [result('accuracyDrop', 0.03, 5000, [0.015, 0.045]), 'Inconclusive', /target edge/],
    [result('accuracyDrop', 0.2, 10, [0.1, 0.3]), 'Inconclusive', /only 10 samples/],
    [result('accuracyDrop', 0.01, 10, [0, 0.3]), 'Pass'],
    [result('accuracyDrop', NaN, 100), 'Inconclusive', /not a number/],
    // throughput: higher is better, so the interval's upper end is the one that must breach.
    [result('throughputQps', 400, 10000, [380, 420]), 'Critical'],
  ];
  for (const [input, expected, reason] of cases) {
    const graded = gradeMetric(input, ruleFor(input.name, {}));
    assert.equal(graded.grade, expected, `${input.name} ${input.value} ${JSON.stringify(input.interval)}`);
    if (reason) assert.match(graded.reason!, reason);
    const { target, warning } = metricDefinitions[input.name].defaults;
    assert.deepEqual([graded.target, graded.warning], [target, warning]);
  }
});

const severity = (grade: Grade) => gradeSeverity[grade];

test('grading is monotone in the value: worse values never grade better', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...metricNames),
      fc.double({ min: -1e4, max: 1e4, noNaN: true }),
      fc.double({ min: -1e4, max: 1e4, noNaN: true }),
      (name, a, b) => {
        const lowerIsBetter = metricDefinitions[name].direction === 'lowerIsBetter';
        const [better, worse] = (lowerIsBetter ? a <= b : a >= b) ? [a, b] : [b, a];
        const rule = ruleFor(name, {});
        const gradeOf = (value: number) => gradeMetric(result(name, value, 1e6), rule).grade;
        assert.ok(severity(gradeOf(better)) <= severity(gradeOf(worse)), `${name}: ${better} vs ${worse}`);
      },
    ),
  );
});

test('with an interval that moves with the value, a worse value never moves toward Pass', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...metricNames),
      fc.double({ min: 0, max: 2000, noNaN: true }),
      fc.double({ min: 0, max: 2000, noNaN: true }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      (name, a, b, halfWidth) => {
        const lowerIsBetter = metricDefinitions[name].direction === 'lowerIsBetter';
        const [better, worse] = (lowerIsBetter ? a <= b : a >= b) ? [a, b] : [b, a];
        const rule = ruleFor(name, {});
        const gradeOf = (v: number) =>
          gradeMetric(result(name, v, 1e6, [v - halfWidth, v + halfWidth]), rule).grade;
        const first = gradeOf(better);
        const second = gradeOf(worse);
        if (first !== 'Pass')
          assert.notEqual(second, 'Pass', `${name}: ${better} ${first} → ${worse} ${second}`);
        if (first === 'Critical') assert.equal(second, 'Critical');
        // The band the interval's better end supports is monotone too.
        const supported = (v: number) => bandOf(name, lowerIsBetter ? v - halfWidth : v + halfWidth, rule);
        assert.ok(severity(supported(better)) <= severity(supported(worse)));
      },
    ),
  );
});

/** psi as the engine reports it: the worst of several tested values. */
function psiResult(values: [string, number, number, number, number][], samples = [200, 133]): MetricResult {
  const tested = values.map(([subject, value, pValue, adjustedPValue, band]) => ({
    subject,
    value,
    referenceSamples: samples[0]!,
    currentSamples: samples[1]!,
    pValue,
    adjustedPValue,
    noiseBand: [0, band] as [number, number],
    method: 'permutation' as const,
  }));
  const worst = tested.reduce((a, b) => (b.value > a.value ? b : a));
  return {
    name: 'psi',
    value: worst.value,
    samples: Math.min(samples[0]!, samples[1]!),
    detail: `worst: ${worst.subject}`,
    tests: { statistic: 'PSI', confidence: 0.95, correction: 'holm', values: tested },
  };
}

test('psi breaches only where a value is beyond the target and significant after Holm', () => {
  // [subject, PSI, p, Holm-adjusted p, noise band upper]
  const cases: [string, MetricResult, Grade, number, RegExp, RegExp?][] = [
    [
      'the issue: within the noise band',
      psiResult([
        ['feature a', 0.18, 0.2, 1, 0.21],
        ['feature b', 0.05, 0.9, 1, 0.21],
      ]),
      'Inconclusive',
      0.18,
      /^worst: feature a; p = 0\.2, Holm-adjusted 1 over 2 tests$/,
      /^n=133 vs 200: PSI 0\.18 is within the 95% noise band 0–0\.21$/,
    ],
    [
      'above its band, but not after the correction',
      psiResult([
        ['feature a', 0.3, 0.02, 0.08, 0.21],
        ['feature b', 0.05, 0.5, 1, 0.21],
        ['feature c', 0.05, 0.5, 1, 0.21],
        ['feature d', 0.05, 0.5, 1, 0.21],
      ]),
      'Inconclusive',
      0.3,
      /^worst: feature a; p = 0\.02, Holm-adjusted 0\.08 over 4 tests$/,
      /^n=133 vs 200: PSI 0\.3 is above the 95% noise band 0–0\.21 \(p = 0\.02\) but not significant after Holm's correction over 4 tests \(adjusted p = 0\.08\)$/,
    ],
    [
      'significant and beyond the warning edge',
      psiResult([
        ['feature a', 2.07, 0.001, 0.006, 0.21],
        ['the predictions', 0.02, 0.6, 1, 0.07],
      ]),
      'Critical',
      2.07,
      /^worst: feature a; p = 0\.001, Holm-adjusted 0\.006 over 2 tests; 95% noise band 0–0\.21$/,
    ],
    [
      'the worst is chance, a smaller one is real: graded on the real one',
      psiResult([
        ['feature a', 0.4, 0.3, 0.6, 0.5],
        ['feature b', 0.15, 0.0001, 0.0002, 0.03],
      ]),
      'Warning',
      0.15,
      /^worst significant: feature b; feature a reaches 0\.4, not significant; p < 0\.001, Holm-adjusted < 0\.001 over 2 tests; 95% noise band 0–0\.03$/,
    ],
    [
      'significant but below the target: the effect-size floor',
      psiResult(
        [
          ['feature a', 0.3, 0.4, 0.8, 0.5],
          ['the predictions', 0.003, 1e-6, 2e-6, 0.001],
        ],
        [5726, 4432],
      ),
      'Inconclusive',
      0.3,
      /^worst: feature a; p = 0\.4/,
      /^n=4432 vs 5726: PSI 0\.3 is within the 95% noise band 0–0\.5$/,
    ],
    [
      'below the target: Pass, with the test shown',
      psiResult([
        ['feature a', 0.08, 0.5, 1, 0.21],
        ['feature b', 0.01, 0.9, 1, 0.21],
      ]),
      'Pass',
      0.08,
      /^worst: feature a; p = 0\.5, Holm-adjusted 1 over 2 tests; 95% noise band 0–0\.21$/,
    ],
    [
      'one test: no correction to speak of',
      psiResult([['the predictions', 0.5, 0.001, 0.001, 0.1]]),
      'Critical',
      0.5,
      /^worst: the predictions; p = 0\.001; 95% noise band 0–0\.1$/,
    ],
  ];
  for (const [what, input, expected, value, detail, reason] of cases) {
    const graded = gradeMetric(input, ruleFor('psi', {}));
    assert.equal(graded.grade, expected, what);
    assert.equal(graded.value, value, what);
    assert.match(graded.detail!, detail, what);
    if (reason) assert.match(graded.reason!, reason, what);
    else assert.equal(graded.reason, undefined, what);
    assert.ok(graded.test, what);
  }
  // The floor follows the thresholds: a raised target turns the same significant drift into a Pass.
  const raised = gradeMetric(
    psiResult([['feature a', 0.3, 0.001, 0.001, 0.2]]),
    ruleFor('psi', { thresholds: { psi: { target: 0.35, warning: 0.5 } } }),
  );
  assert.equal(raised.grade, 'Pass');
  // Too few rows is still too few rows, whatever the test says.
  const few = gradeMetric(psiResult([['feature a', 3, 0.001, 0.001, 2]], [60, 40]), ruleFor('psi', {}));
  assert.equal(few.grade, 'Inconclusive');
  assert.match(few.reason!, /only 40 samples/);
});

/** accuracyDrop as the engine computes it from a paired table: a both right, b only the teacher, c only the candidate. */
function droppedAccuracy(both: number, teacherOnly: number, candidateOnly: number): MetricResult {
  const engine = new EvaluationAccumulator({});
  engine.update(pairedBatch({ both, teacherOnly, candidateOnly }));
  return engine.result().metrics.find((m) => m.name === 'accuracyDrop')!;
}

test('an accuracyDrop breach counts only when McNemar’s test says it is no chance', () => {
  // [what, a, b, c, grade, detail, reason]
  const cases: [string, number, number, number, Grade, string, string?][] = [
    [
      'the issue’s example: a Warning-sized drop on 10 discordant rows',
      119,
      7,
      3,
      'Inconclusive',
      'teacher accuracy − candidate accuracy; McNemar p = 0.34 (b=7, c=3)',
      'accuracyDrop 3.1% > 2% but McNemar p = 0.34 (b=7, c=3): the drop may be chance',
    ],
    [
      'a Critical-sized drop on 5 rows, all one way: p = 2/2⁵',
      45,
      5,
      0,
      'Inconclusive',
      'teacher accuracy − candidate accuracy; McNemar p = 0.063 (b=5, c=0)',
      'accuracyDrop 10% > 5% but McNemar p = 0.063 (b=5, c=0): the drop may be chance',
    ],
    [
      'significant, and the interval clears the warning edge',
      380,
      40,
      0,
      'Critical',
      'teacher accuracy − candidate accuracy; McNemar p < 0.001 (b=40, c=0)',
    ],
    [
      'significant, but the interval reaches back across the warning edge',
      188,
      12,
      0,
      'Inconclusive',
      'teacher accuracy − candidate accuracy; McNemar p < 0.001 (b=12, c=0)',
      'the 95% interval reaches back across the warning edge',
    ],
    [
      'a passing drop passes, its test shown',
      131,
      2,
      0,
      'Pass',
      'teacher accuracy − candidate accuracy; McNemar p = 0.5 (b=2, c=0)',
    ],
  ];
  for (const [what, a, b, c, expected, detail, reason] of cases) {
    const result = droppedAccuracy(a, b, c);
    const graded = gradeMetric(result, ruleFor('accuracyDrop', {}));
    assert.equal(graded.grade, expected, `${what}: ${graded.reason}`);
    assert.equal(graded.value, result.value, what);
    assert.equal(graded.detail, detail, what);
    assert.equal(graded.reason, reason, what);
    assert.equal(graded.test?.method, 'mcnemar-exact', what);
  }
  // α is 1 − confidence, as for the drift tests: at 0.95 the one-way 5 rows (p = 0.0625) are chance,
  // at 0.9375 (α = p) significant. The interval is left out to isolate the test.
  const fiveOfFifty = droppedAccuracy(45, 5, 0);
  const at = (confidence: number) =>
    gradeMetric(
      { ...fiveOfFifty, tests: { ...fiveOfFifty.tests!, confidence }, interval: undefined },
      ruleFor('accuracyDrop', {}),
    ).grade;
  assert.equal(at(0.95), 'Inconclusive');
  assert.equal(at(0.9375), 'Critical');
});
