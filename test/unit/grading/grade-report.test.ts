import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { PrunedModelEvaluationSpec } from '../../../src/api/v1alpha1/index.js';
import { grade, gradeEvaluation, validateOverrides } from '../../../src/grading/index.js';
import {
  EvaluationAccumulator,
  type EvaluationReport,
  type MetricResult,
} from '../../../src/metrics/index.js';
import { handBatch, pairedBatch } from '../metrics/hand-batches.js';
import { syntheticBatch } from '../metrics/synthetic-data.js';

const interval = (lower: number, upper: number) => ({ lower, upper, confidence: 0.95, method: 'test' });

function report(metrics: MetricResult[], slices: EvaluationReport['slices'] = []): EvaluationReport {
  return {
    rows: { reference: 1000, current: 1000 },
    metrics,
    disabled: [{ name: 'powerWatts', reason: 'no energy samples' }],
    slices,
    details: {} as EvaluationReport['details'],
  };
}

function slice(name: string, samples: number, metrics: MetricResult[]): EvaluationReport['slices'][number] {
  return { slice: name, samples, referenceSamples: samples, metrics, disabled: [], drift: [] };
}

test('the verdict is the worst grade, explained in one sentence naming the slice', () => {
  const graded = grade(
    report(
      [
        { name: 'accuracyDrop', value: 0.01, samples: 5000, interval: interval(0.008, 0.012) },
        { name: 'p95LatencyMs', value: 150, samples: 500, interval: interval(140, 160) },
      ],
      [
        slice('region=eu', 2000, [
          { name: 'accuracyDrop', value: 0.061, samples: 2000, interval: interval(0.052, 0.07) },
        ]),
        slice('region=us', 3000, [
          { name: 'accuracyDrop', value: 0.001, samples: 3000, interval: interval(0, 0.004) },
        ]),
      ],
    ),
  );
  assert.equal(graded.verdict, 'Critical');
  assert.equal(graded.explanation, 'accuracyDrop 6.1% [5.2%, 7%] > 5% critical in slice region=eu');
  assert.deepEqual(
    graded.metrics.map((m) => [m.name, m.grade]),
    [
      ['accuracyDrop', 'Pass'],
      ['p95LatencyMs', 'Warning'],
    ],
  );
  assert.deepEqual(graded.disabled, [{ name: 'powerWatts', reason: 'no energy samples' }]);
});

test('disabled metrics and small slices never decide; nothing to grade is Inconclusive', () => {
  const small = grade(
    report(
      [{ name: 'memoryRatio', value: 0.4, samples: 1 }],
      [
        slice('region=tiny', 12, [
          { name: 'accuracyDrop', value: 0.5, samples: 12, interval: interval(0.3, 0.7) },
        ]),
      ],
    ),
  );
  assert.equal(small.verdict, 'Pass');
  assert.equal(small.slices[0]!.decides, false);
  assert.equal(small.slices[0]!.metrics[0]!.grade, 'Inconclusive');
  assert.equal(small.explanation, 'all 1 graded metrics meet their targets');
  const nothing = grade(report([]));
  assert.equal(nothing.verdict, 'Inconclusive');
  assert.match(nothing.explanation, /nothing could be graded: powerWatts \(no energy samples\)/);
});

test('overrides: per metric, per slice column and per exact slice, and enabled: false', () => {
  const input = report(
    [{ name: 'p95LatencyMs', value: 150, samples: 500, interval: interval(140, 160) }],
    [
      slice('region=eu', 500, [
        { name: 'accuracyDrop', value: 0.03, samples: 500, interval: interval(0.025, 0.035) },
      ]),
      slice('region=us', 500, [
        { name: 'accuracyDrop', value: 0.03, samples: 500, interval: interval(0.025, 0.035) },
      ]),
    ],
  );
  const graded = grade(input, {
    thresholds: { p95LatencyMs: { target: 160, warning: 300 } },
    slices: {
      region: { accuracyDrop: { target: 0.04 } },
      'region=us': { accuracyDrop: { target: 0.01, warning: 0.02 } },
    },
  });
  assert.equal(graded.metrics[0]!.grade, 'Pass');
  assert.equal(graded.slices[0]!.metrics[0]!.grade, 'Pass');
  assert.equal(graded.slices[1]!.metrics[0]!.grade, 'Critical');
  assert.equal(graded.verdict, 'Critical');
  const switchedOff = grade(input, { slices: { region: { accuracyDrop: { enabled: false } } } });
  assert.equal(switchedOff.verdict, 'Warning');
  assert.equal(switchedOff.slices[0]!.metrics[0]!.decides, false);
  assert.match(switchedOff.explanation, /^p95LatencyMs 150 ms \[140 ms, 160 ms\] misses the 100 ms target/);
});

test('overrides that make no sense are refused, naming the metric', () => {
  assert.throws(
    () => validateOverrides({ thresholds: { accuracyDrop: { target: 0.1, warning: 0.05 } } }),
    /thresholds.accuracyDrop: warning 0.05 must be at or above target 0.1 \(lower is better\)/,
  );
  assert.throws(
    () => validateOverrides({ slices: { 'region=eu': { throughputQps: { warning: 2000 } } } }),
    /slices\[region=eu\].throughputQps: warning 2000 must be at or below target 1000/,
  );
  assert.throws(
    () => validateOverrides({ thresholds: { accuracy: {} } as never }),
    /unknown metric accuracy/,
  );
});

test('an Inconclusive breach ranks below a confirmed Warning and above Pass', () => {
  const graded = grade(
    report([
      { name: 'accuracyDrop', value: 0.061, samples: 5000, interval: interval(0.045, 0.077) },
      { name: 'memoryRatio', value: 0.4, samples: 1 },
    ]),
  );
  assert.equal(graded.verdict, 'Inconclusive');
  assert.match(graded.explanation, /accuracyDrop 6.1% \[4.5%, 7.7%\] looks like a breach .* inconclusive/);
});

test('end to end: an engine report of a drifted, noisy candidate grades Critical on psi', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(syntheticBatch({ dataset: 'reference', rows: 3000, seed: 1, labels: true }));
  engine.update(syntheticBatch({ dataset: 'current', rows: 3000, seed: 2, labels: true, shift: 1 }));
  const graded = grade(engine.result());
  assert.equal(graded.verdict, 'Critical');
  assert.match(graded.explanation, /^psi \d/);
  assert.equal(graded.slices.length, 4);
  for (const slice of graded.slices)
    assert.deepEqual(
      slice.metrics.map((m) => m.name),
      [
        'accuracyDrop',
        'negativeFlipRate',
        'classRecallDrop',
        'calibrationChange',
        'demographicParity',
        'psi',
      ],
    );
});

test('the status shows psi with its p-values and noise band; a split of one population is not a breach', () => {
  // 400 reference and 400 current rows drawn alike (no drift), and a shifted copy.
  const values = Array.from({ length: 800 }, (_, i) => 1 + ((i * 7919) % 800) / 100);
  const batch = (dataset: 'reference' | 'current', x: number[]) =>
    handBatch({ dataset, teacher: x.map(() => 0), candidate: x.map(() => 0), numeric: { x } });
  const spec = { thresholds: {} } as unknown as PrunedModelEvaluationSpec;
  const graded = (current: number[]) => {
    const engine = new EvaluationAccumulator({});
    engine.update(
      batch(
        'reference',
        values.filter((_, i) => i % 2 === 0),
      ),
    );
    engine.update(batch('current', current));
    return gradeEvaluation(engine, spec).metrics.find((m) => m.name === 'psi')!;
  };

  const same = graded(values.filter((_, i) => i % 2 === 1));
  assert.equal(same.grade, 'Pass');
  const detail = same.detail as Record<string, unknown>;
  assert.match(
    String(detail.note),
    /^worst: feature x; p = [\d.]+, Holm-adjusted [\d.]+ over 2 tests; 95% noise band 0–0\.\d+$/,
  );
  assert.deepEqual(Object.keys(detail).sort(), [
    'adjustedPValue',
    'noiseBand',
    'note',
    'pValue',
    'testMethod',
    'tests',
  ]);
  assert.equal(detail.testMethod, 'permutation');
  assert.equal(detail.tests, 2);
  assert.equal((detail.noiseBand as number[])[0], 0);

  const shifted = graded(values.filter((_, i) => i % 2 === 1).map((v) => v * 1.5));
  assert.equal(shifted.grade, 'Critical');
  assert.ok((shifted.detail as { adjustedPValue: number }).adjustedPValue <= 0.05);
});

test('the status shows accuracyDrop’s McNemar test and negativeFlipRate’s flips and agreement', () => {
  const engine = new EvaluationAccumulator({});
  engine.update(pairedBatch({ both: 119, teacherOnly: 7, candidateOnly: 3, unlabelled: 1 }));
  const spec = { thresholds: {} } as unknown as PrunedModelEvaluationSpec;
  const { metrics, graded } = gradeEvaluation(engine, spec);
  const drop = metrics.find((m) => m.name === 'accuracyDrop')!;
  assert.equal(drop.grade, 'Inconclusive');
  assert.deepEqual(drop.detail, {
    note: 'teacher accuracy − candidate accuracy; McNemar p = 0.34 (b=7, c=3)',
    reason: 'accuracyDrop 3.1% > 2% but McNemar p = 0.34 (b=7, c=3): the drop may be chance',
    pValue: 0.34375,
    adjustedPValue: 0.34375,
    teacherOnlyCorrect: 7,
    candidateOnlyCorrect: 3,
    testMethod: 'mcnemar-exact',
    tests: 1,
  });
  const flips = metrics.find((m) => m.name === 'negativeFlipRate')!;
  assert.equal(flips.value, Number((7 / 129).toPrecision(6)));
  assert.equal(flips.grade, 'Inconclusive'); // 5.4%, but Wilson's interval reaches back below 5%
  const detail = flips.detail as Record<string, unknown>;
  assert.equal(
    detail.note,
    'teacher right, candidate wrong on 7 of 129 labelled rows, the reverse on 3; the two agree on 119 of 130 rows',
  );
  assert.equal(detail.negativeFlips, 7);
  assert.equal(detail.positiveFlips, 3);
  assert.equal(detail.positiveFlipRate, Number((3 / 129).toPrecision(6)));
  // 119 of 130 rows agree: the unlabelled row is a disagreement.
  assert.equal(detail.agreement, Number((119 / 130).toPrecision(6)));
  const [lower, upper] = detail.agreementInterval as number[];
  assert.ok(lower! < 119 / 130 && upper! > 119 / 130);
  assert.equal(graded.verdict, 'Inconclusive');

  // Positive flips hide negative ones from accuracyDrop: 2% net, inconclusive on the target edge;
  // 3.5% of the rows the teacher got right are lost, a confirmed Warning.
  const churning = new EvaluationAccumulator({});
  churning.update(pairedBatch({ both: 950, teacherOnly: 35, candidateOnly: 15 }));
  const churned = gradeEvaluation(churning, spec);
  assert.deepEqual(
    churned.metrics
      .filter((m) => m.name === 'accuracyDrop' || m.name === 'negativeFlipRate')
      .map((m) => [m.name, m.value, m.grade]),
    [
      ['accuracyDrop', 0.02, 'Inconclusive'],
      ['negativeFlipRate', 0.035, 'Warning'],
    ],
  );
  assert.equal(churned.graded.verdict, 'Warning');
  assert.match(churned.graded.explanation, /^negativeFlipRate 3\.5% \[2\.5%, 4\.8%\] misses the 2% target/);
});
