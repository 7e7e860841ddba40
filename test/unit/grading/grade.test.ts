import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { metricDefinitions, metricNames, type MetricName } from '../../../src/api/v1alpha1/thresholds.js';
import { bandOf, gradeMetric, gradeSeverity, ruleFor, type Grade } from '../../../src/grading/index.js';
import type { MetricResult } from '../../../src/metrics/index.js';

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
    ['powerWatts', 30, 'Warning'],
    ['demographicParity', 0.051, 'Critical'],
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
