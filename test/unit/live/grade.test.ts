import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { LiveMetric } from '../../../src/api/v1alpha1/live.js';
import type { LiveMetricResult, Verdict } from '../../../src/api/v1alpha1/status.js';
import { combineVerdict, describeLive, gradeLive, type LiveSeries } from '../../../src/live/grade.js';

const latency: LiveMetric = {
  name: 'p95LatencyMs',
  canary: 'canary query',
  baseline: 'baseline query',
  direction: 'lowerIsBetter',
  unit: 'ms',
  target: 100,
  warning: 200,
  maxRelativeChange: { target: 0.1, warning: 0.25 },
  enabled: true,
};
const settings = { window: '10m', minSamples: 10, confidence: 0.95 };

/** n distinct points spread evenly over median ± spread/2. */
function around(median: number, n: number, spread: number): number[] {
  return Array.from({ length: n }, (_, i) => median + (spread * (i - (n - 1) / 2)) / n);
}

const missing = (n: number) => Array.from({ length: n }, () => NaN);

interface Case {
  name: string;
  metric?: Partial<LiveMetric>;
  series: LiveSeries;
  grade: Verdict;
  reason?: RegExp;
  detail?: RegExp;
  check?: (result: LiveMetricResult) => void;
}

const cases: Case[] = [
  {
    name: 'too few canary points: Inconclusive, counting the missing ones',
    series: { canary: [...around(90, 3, 5), ...missing(18)], baseline: around(50, 21, 10) },
    grade: 'Inconclusive',
    reason: /^only 3 canary points with a value in the 10m window, fewer than the 10 needed$/,
    check: (r) => assert.deepEqual(r.missing, { canary: 18, baseline: 0 }),
  },
  {
    name: 'a canary like its baseline passes',
    series: { canary: around(50, 20, 10), baseline: around(50, 20, 10) },
    grade: 'Pass',
    detail: /canary median 50 ms over 20 points; baseline median 50 ms over 20 points; 0% vs baseline/,
    check: (r) => {
      assert.equal(r.relativeChange, 0);
      assert.ok(r.pValue! > 0.4);
    },
  },
  {
    name: 'a slower canary, significantly: Critical by the relative change',
    series: { canary: around(80, 20, 10), baseline: around(50, 20, 10) },
    grade: 'Critical',
    detail: /^\+60% vs baseline, worse by more than 25%; canary median 80 ms/,
    check: (r) => {
      assert.equal(r.relativeChange, 0.6);
      assert.ok(r.pValue! < 1e-6);
    },
  },
  {
    name: 'a 12% slower canary within wide noise: Inconclusive, may be chance',
    series: { canary: around(56, 12, 60), baseline: around(50, 12, 60) },
    grade: 'Inconclusive',
    reason: /^p95LatencyMs \+12% vs baseline but Mann–Whitney p = 0\.\d+: may be chance$/,
  },
  {
    name: 'a slow canary against absolute bands alone: Critical on its median',
    metric: { baseline: undefined, maxRelativeChange: undefined },
    series: { canary: around(250, 20, 10) },
    grade: 'Critical',
    detail: /^median 250 ms > 200 ms; canary median 250 ms over 20 points$/,
    check: (r) => assert.deepEqual(r.samples, { canary: 20, baseline: 0 }),
  },
  {
    name: 'a median just past warning whose interval reaches back: Inconclusive',
    metric: { baseline: undefined, maxRelativeChange: undefined },
    series: { canary: around(205, 20, 100) },
    grade: 'Inconclusive',
    reason: /^median 205 ms > 200 ms, but the 95% interval reaches back across the warning edge \[/,
  },
  {
    name: 'a median in the warning band, interval inside it: Warning',
    metric: { baseline: undefined, maxRelativeChange: undefined },
    series: { canary: around(150, 20, 20) },
    grade: 'Warning',
  },
  {
    name: 'higher is better: a canary serving less than its baseline is Critical',
    metric: {
      name: 'throughput',
      direction: 'higherIsBetter',
      unit: 'req/s',
      target: undefined,
      warning: undefined,
    },
    series: { canary: around(60, 20, 10), baseline: around(100, 20, 10) },
    grade: 'Critical',
    detail: /^-40% vs baseline, worse by more than 25%/,
  },
  {
    name: 'higher is better: a canary serving more passes',
    metric: { name: 'throughput', direction: 'higherIsBetter', target: undefined, warning: undefined },
    series: { canary: around(140, 20, 10), baseline: around(100, 20, 10) },
    grade: 'Pass',
  },
  {
    name: 'too few baseline points for a relative-only metric: Inconclusive',
    metric: { target: undefined, warning: undefined },
    series: { canary: around(50, 20, 10), baseline: [...around(50, 4, 10), ...missing(16)] },
    grade: 'Inconclusive',
    reason: /^only 4 baseline points with a value in the 10m window, fewer than the 10 needed$/,
  },
  {
    name: 'absolute and relative both breach: the worse decides',
    series: { canary: around(150, 20, 10), baseline: around(50, 20, 10) },
    grade: 'Critical',
    detail: /^\+200% vs baseline, worse by more than 25%; canary median 150 ms/,
  },
  {
    name: 'a baseline median of 0 makes any significant increase Critical, without a number in status',
    metric: { target: undefined, warning: undefined, unit: undefined },
    series: { canary: around(5, 20, 2), baseline: [...Array(12).fill(0), ...around(0.001, 8, 0.001)] },
    grade: 'Critical',
    check: (r) => assert.equal(r.relativeChange, undefined),
  },
  {
    name: 'a metric switched off is graded but does not decide',
    metric: { enabled: false },
    series: { canary: around(80, 20, 10), baseline: around(50, 20, 10) },
    grade: 'Critical',
    check: (r) => assert.equal(r.decides, false),
  },
];

describe('gradeLive', () => {
  for (const c of cases) {
    test(c.name, () => {
      const metric = { ...latency, ...c.metric } as LiveMetric;
      for (const key of Object.keys(metric) as (keyof LiveMetric)[])
        if (metric[key] === undefined) delete metric[key];
      const result = gradeLive(metric, c.series, settings);
      assert.equal(result.grade, c.grade, `${describeLive(result)}`);
      if (c.reason) assert.match(result.reason ?? '', c.reason);
      else assert.equal(result.reason, undefined);
      if (c.detail) assert.match(result.detail, c.detail);
      c.check?.(result);
      // Everything in the result must survive JSON (the status), so nothing may be NaN or infinite.
      assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
    });
  }
});

describe('combineVerdict', () => {
  const live = (grade: Verdict, decides = true): LiveMetricResult => ({
    name: `m${grade}`,
    grade,
    samples: { canary: 0, baseline: 0 },
    detail: '',
    decides,
  });
  const table: [Verdict | undefined, LiveMetricResult[], Verdict | undefined, string | undefined][] = [
    ['Pass', [live('Pass')], 'Pass', undefined],
    ['Pass', [live('Inconclusive')], 'Inconclusive', 'mInconclusive'],
    // Prometheus out of reach never hides an offline breach…
    ['Critical', [live('Inconclusive')], 'Critical', undefined],
    ['Warning', [live('Inconclusive')], 'Warning', undefined],
    // …and a live breach outranks an offline pass or a doubt.
    ['Pass', [live('Warning'), live('Critical')], 'Critical', 'mCritical'],
    ['Inconclusive', [live('Warning')], 'Warning', 'mWarning'],
    ['Pass', [live('Critical', false)], 'Pass', undefined],
    [undefined, [live('Pass')], 'Pass', 'mPass'],
    [undefined, [], undefined, undefined],
  ];
  for (const [offline, metrics, verdict, decidedBy] of table) {
    test(`${offline ?? 'no offline verdict'} with ${metrics.map((m) => `${m.grade}${m.decides ? '' : ' (off)'}`).join(', ') || 'no live metrics'} → ${verdict}`, () => {
      const combined = combineVerdict(offline, metrics);
      assert.equal(combined.verdict, verdict);
      assert.equal(combined.decidedBy?.name, decidedBy);
    });
  }
});
