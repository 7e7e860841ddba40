import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator, type MetricResult } from '../../../src/metrics/index.js';

function metric(engine: EvaluationAccumulator, name: MetricResult['name']): MetricResult {
  const found = engine.result().metrics.find((m) => m.name === name);
  assert.ok(found, `${name} computed`);
  return found;
}

test('p95 latency of the candidate, with an order-statistic interval; the teacher is summarised too', () => {
  const engine = new EvaluationAccumulator({});
  const milliseconds = Array.from({ length: 1000 }, (_, i) => i + 1);
  engine.recordLatency({ model: 'candidate', milliseconds });
  engine.recordLatency({ model: 'teacher', milliseconds: [5, 5, 5] });
  const p95 = metric(engine, 'p95LatencyMs');
  // rank ⌊0.95 · 999⌋ = 949 → 950 ms, within 1%
  assert.ok(Math.abs(p95.value - 950) <= 9.5, `p95 ${p95.value}`);
  assert.equal(p95.samples, 1000);
  // ranks 935 and 964 → about 936 and 965 ms
  assert.ok(Math.abs(p95.interval!.lower - 936) <= 9.4 && Math.abs(p95.interval!.upper - 965) <= 9.7);
  const details = engine.result().details.latency;
  assert.equal(details.teacher!.p50, 5);
  assert.equal(details.candidate!.max, 1000);
  assert.throws(() => engine.recordLatency({ model: 'candidate', milliseconds: [-1] }), /sample 0 is -1 ms/);
});

test('throughput is total inferences over total seconds', () => {
  const engine = new EvaluationAccumulator({});
  engine.recordThroughput({ inferences: 3000, seconds: 2 });
  engine.recordThroughput({ inferences: 1000, seconds: 2 });
  assert.equal(metric(engine, 'throughputQps').value, 1000);
  assert.throws(() => engine.recordThroughput({ inferences: 5, seconds: 0 }), /seconds > 0/);
});

test('memory ratio uses the peak of each model, also across shards', () => {
  const a = new EvaluationAccumulator({});
  a.recordMemory({ candidateBytes: 200, teacherBytes: 1000, candidateFileBytes: 50 });
  const b = new EvaluationAccumulator({});
  b.recordMemory({ candidateBytes: 300, teacherBytes: 600 });
  a.merge(b);
  assert.equal(metric(a, 'memoryRatio').value, 0.3);
  assert.equal(a.result().details.memory.candidateFileBytes, 50);
});

test('power and carbon from energy samples, recording how they were measured', () => {
  const engine = new EvaluationAccumulator({ gridIntensityKgPerKWh: 0.5, pue: 1.2 });
  engine.recordEnergy({ joules: 3600, inferences: 1000, seconds: 60, method: 'rapl' });
  engine.recordEnergy({ joules: 3600, inferences: 1000, seconds: 60, method: 'estimate' });
  assert.equal(metric(engine, 'powerWatts').value, 60);
  // 3.6 J/inference × 1e6 = 3.6e6 J = 1 kWh per million → × 0.5 kg/kWh × 1.2
  assert.ok(Math.abs(metric(engine, 'carbonKgPer1M').value - 0.6) < 1e-12);
  const energy = engine.result().details.energy;
  assert.deepEqual(energy.methods, ['estimate', 'rapl']);
  assert.deepEqual([energy.gridIntensityKgPerKWh, energy.pue, energy.joulesPerInference], [0.5, 1.2, 3.6]);
  assert.match(metric(engine, 'powerWatts').detail!, /Estimate\+RAPL/);
});

test('options are checked, naming the option', () => {
  assert.throws(() => new EvaluationAccumulator({ psiBins: 1 }), /psiBins must be an integer ≥ 2, got 1/);
  assert.throws(() => new EvaluationAccumulator({ pue: 0.5 }), /pue must be ≥ 1/);
  assert.throws(
    () => new EvaluationAccumulator({ sliceCrosses: [['region']] }),
    /at least two slice columns/,
  );
});
