import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize, type MetricResult } from '../../../src/api/v1alpha1/index.js';

function metric(name: MetricResult['name'], value: number): MetricResult {
  return { name, value, grade: 'Pass', target: 0, warning: 0, samples: 1 };
}

describe('summarize', () => {
  const cases: [MetricResult['name'], number, string][] = [
    ['accuracyDrop', 0.061, '6.10%'],
    ['accuracyDrop', -0.004, '-0.40%'],
    ['accuracyDrop', 0, '0.00%'],
    ['demographicParity', 0.0123, '1.23%'],
    ['negativeFlipRate', 0.035, '3.50%'],
    ['p95LatencyMs', 12.345, '12.3ms'],
    ['p95LatencyMs', 1234.5, '1230ms'],
    ['p95LatencyMs', 0.0456, '0.0456ms'],
    ['psi', 0.1234, '0.123'],
    ['memoryRatio', 0.5, '0.5'],
    ['throughputQps', 23456, '23500/s'],
    ['powerWatts', 28.44, '28.4W'],
    ['carbonKgPer1M', 0.8421, '0.842kg'],
  ];
  for (const [name, value, expected] of cases) {
    it(`${name} ${value} → ${expected}`, () => {
      assert.deepEqual(summarize([metric(name, value)]), { [name]: expected });
    });
  }

  it('summarizes only the metrics measured', () => {
    assert.deepEqual(Object.keys(summarize([metric('psi', 0.1), metric('accuracyDrop', 0.01)])).sort(), [
      'accuracyDrop',
      'psi',
    ]);
    assert.deepEqual(summarize([]), {});
  });
});
