import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator } from '../../../src/metrics/index.js';
import type { MetricResult } from '../../../src/metrics/metric-result.js';
import { describeWorstSlice, worstSlice } from '../../../src/metrics/worst-slice.js';
import { pairedBatch } from './hand-batches.js';

const options = { minGroupCount: 30, confidence: 0.95 };

/** A slice's accuracyDrop with McNemar's p, as the engine reports it. */
function slice(name: string, samples: number, value: number, pValue?: number) {
  const drop: MetricResult = {
    name: 'accuracyDrop',
    value,
    samples,
    interval: { lower: value - 0.05, upper: value + 0.05, confidence: 0.95, method: 'newcombe-paired' },
    ...(pValue === undefined
      ? {}
      : {
          tests: {
            statistic: 'accuracyDrop',
            confidence: 0.95,
            correction: 'holm' as const,
            values: [
              {
                subject: 'teacher vs candidate on the labelled rows',
                value,
                pValue,
                adjustedPValue: pValue,
                method: 'mcnemar-exact' as const,
                samples,
                teacherOnlyCorrect: 0,
                candidateOnlyCorrect: 0,
              },
            ],
          },
        }),
  };
  return { slice: name, samples, metrics: [drop] };
}

test('the worst slice with enough rows, and the slices hurt after Holm over them', () => {
  const cases: [
    string,
    ReturnType<typeof slice>[],
    { slice: string; tested: number; hurt: number } | undefined,
  ][] = [
    ['no slices', [], undefined],
    ['only small slices', [slice('a=1', 29, 0.5, 0.001)], undefined],
    [
      'a small slice does not count, even when worse',
      [slice('a=1', 29, 0.5, 0.001), slice('a=2', 40, 0.1, 0.01)],
      { slice: 'a=2', tested: 1, hurt: 1 },
    ],
    // 0.01 × 3 = 0.03 ≤ 0.05, then 0.04 × 2 = 0.08: one slice survives Holm.
    [
      'Holm over three slices',
      [slice('a=1', 50, 0.2, 0.01), slice('a=2', 50, 0.3, 0.04), slice('a=3', 50, 0.05, 0.5)],
      { slice: 'a=2', tested: 3, hurt: 1 },
    ],
    [
      'a significant improvement is not a hurt',
      [slice('a=1', 50, -0.2, 0.001)],
      { slice: 'a=1', tested: 1, hurt: 0 },
    ],
    ['label-free slices are not tested', [slice('a=1', 50, 0.2)], { slice: 'a=1', tested: 0, hurt: 0 }],
  ];
  for (const [name, slices, expected] of cases) {
    const summary = worstSlice(slices, options);
    assert.deepEqual(
      summary && { slice: summary.slice, tested: summary.tested, hurt: summary.hurt },
      expected,
      name,
    );
  }
});

test('the overall accuracyDrop names the worst slice and the count, in its detail and facts', () => {
  const engine = new EvaluationAccumulator({});
  // Slice b loses 12 of 40 rows the teacher had right; slice a loses nothing.
  engine.update(
    pairedBatch({
      both: 80,
      teacherOnly: 12,
      slices: (row) => ({ region: row < 40 || (row >= 80 && row < 92) ? 'b' : 'a' }),
    }),
  );
  const report = engine.result();
  const drop = report.metrics.find((m) => m.name === 'accuracyDrop')!;
  const b = report.slices
    .find((s) => s.slice === 'region=b')!
    .metrics.find((m) => m.name === 'accuracyDrop')!;
  assert.match(
    drop.detail!,
    /\(slices: worst region=b \d+(\.\d)?% \[[-\d.]+%, [\d.]+%\], 1 of 2 significantly hurt \(McNemar, Holm over them\)\)$/,
  );
  assert.equal(drop.facts!.worstSliceDrop, b.value);
  assert.deepEqual(drop.facts!.worstSliceInterval, [b.interval!.lower, b.interval!.upper]);
  assert.equal(drop.facts!.slicesHurt, 1);
  assert.deepEqual(describeWorstSlice(worstSlice(report.slices, options)!).facts, {
    worstSliceDrop: b.value,
    worstSliceInterval: [b.interval!.lower, b.interval!.upper],
    slicesTested: 2,
    slicesHurt: 1,
  });
});
