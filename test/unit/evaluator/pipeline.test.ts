import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import type { EvaluationRun } from '../../../src/api/v1alpha1/index.js';
import { shardFailurePatch, shardStatusPatch } from '../../../src/evaluator/shard-status.js';
import { gradeRun } from '../../../src/controller/grade-run.js';
import type { RecordBatch } from '../../../src/evaluator/data/index.js';
import { quickBudget, runtimeMemoryFloorBytes } from '../../../src/evaluator/measurements.js';
import { evaluateShard, rowsPerRead, type ShardResult } from '../../../src/evaluator/pipeline.js';
import { shardRows } from '../../../src/evaluator/shard.js';
import { gradeEvaluation } from '../../../src/grading/index.js';
import { decodeShardState, encodeShardState } from '../../../src/evaluator/shard-state.js';
import type { EvaluationReport } from '../../../src/metrics/index.js';
import { textColumn, textValues, type TextColumn } from '../../../src/metrics/text-column.js';
import { loadModel, saveModel } from '../../../src/onnx/model.js';
import { assertCloseDeep } from '../metrics/close-enough.js';
import { fixtureEvaluation, fixtureManifest, type ManifestOptions } from './fixture-specs.js';

const measurement = quickBudget;

function evaluate(options: ManifestOptions, shardIndex = 0, shardCount = 1): Promise<ShardResult> {
  return evaluateShard(fixtureEvaluation(options).spec, { shardIndex, shardCount, measurement });
}

/** Everything computed from rows; latency, throughput, power and memory are measurements of this machine. */
function rowResults(report: EvaluationReport) {
  const dataMetric = (m: { name: string }) => ['accuracyDrop', 'demographicParity', 'psi'].includes(m.name);
  return {
    rows: report.rows,
    metrics: report.metrics.filter(dataMetric),
    accuracy: report.details.accuracy,
    drift: report.details.drift,
    fairness: report.details.fairness,
    slices: report.slices.map((slice) => ({ ...slice, metrics: slice.metrics.filter(dataMetric) })),
  };
}

test('rows per read: up to 64k, within 8 MiB of encoded features, never below the inference batch', () => {
  assert.equal(rowsPerRead(256, 32), 65_536);
  assert.equal(rowsPerRead(256, 1000), 2097);
  assert.equal(rowsPerRead(256, 3 * 224 * 224), 256);
  assert.equal(rowsPerRead(100_000, 32), 100_000);
});

describe('sharding', () => {
  test('shard i takes the rows whose global index ≡ i (mod n), across batch boundaries', () => {
    const batch = (offset: number, rows: number): RecordBatch => ({
      rows,
      columns: {
        row: Float64Array.from({ length: rows }, (_, i) => offset + i),
        text: textColumn(Array.from({ length: rows }, (_, i) => `r${offset + i}`)),
      },
    });
    const batches = [batch(0, 5), batch(5, 3), batch(8, 7)];
    const seen: number[] = [];
    for (let index = 0; index < 3; index++) {
      let offset = 0;
      for (const b of batches) {
        const mine = shardRows(b, offset, { index, count: 3 });
        offset += b.rows;
        const rows = Array.from(mine.columns.row as Float64Array);
        assert.ok(
          rows.every((row) => row % 3 === index),
          `shard ${index} got rows ${rows.join(',')}`,
        );
        assert.deepEqual(
          textValues(mine.columns.text as TextColumn),
          rows.map((row) => `r${row}`),
        );
        seen.push(...rows);
      }
    }
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 15 }, (_, i) => i),
    );
  });

  for (const task of ['penguins', 'flights'] as const) {
    test(`${task}: 3 shards, merged through the status encoding, equal one unsharded pass`, async () => {
      const options: ManifestOptions = { task, candidate: 'pruned-70' };
      const whole = await evaluate(options);
      const shards = await Promise.all([0, 1, 2].map((i) => evaluate(options, i, 3)));
      const rows = fixtureManifest[task].rows;
      assert.deepEqual(whole.rows, { reference: rows.reference, current: rows.current });
      for (const dataset of ['reference', 'current'] as const) {
        const counts = shards.map((s) => s.rows[dataset]);
        assert.equal(
          counts.reduce((a, b) => a + b),
          rows[dataset],
        );
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${dataset} shards unbalanced: ${counts}`);
      }
      const [first, ...rest] = shards.map((s) => decodeShardState(encodeShardState(s.accumulator)));
      for (const other of rest) first!.merge(other);
      assertCloseDeep(rowResults(first!.result()), rowResults(whole.accumulator.result()), task);
      const spec = fixtureEvaluation(options).spec;
      const merged = gradeEvaluation(first!, spec);
      const unsharded = gradeEvaluation(whole.accumulator, spec);
      for (const name of ['accuracyDrop', 'psi', 'demographicParity'])
        assert.deepEqual(
          merged.metrics.find((m) => m.name === name),
          unsharded.metrics.find((m) => m.name === name),
          name,
        );
    });
  }
});

describe('grading the fixtures', () => {
  const penguins = fixtureManifest.penguins;
  const teacherCurrent = penguins.accuracy.teacher!.current;

  test('pruned-70 passes: accuracy within 2 points, memory (non-zero weights) under half', async () => {
    const spec = fixtureEvaluation({
      candidate: 'pruned-70',
      // At 133 vs 200 rows PSI's noise band reaches 0.23, so the default 0.10 target grades psi
      // Inconclusive (docs/metrics.md); this test is about accuracy and memory. Parity: sex-dependent species rates.
      thresholds: { psi: { target: 0.2, warning: 0.3 }, demographicParity: { enabled: false } },
    }).spec;
    const result = await evaluateShard(spec, { shardIndex: 0, shardCount: 1, measurement });
    const graded = gradeEvaluation(result.accumulator, spec);
    assert.equal(graded.graded.verdict, 'Pass', graded.graded.explanation);
    const drop = graded.metrics.find((m) => m.name === 'accuracyDrop')!;
    assert.ok(Math.abs(drop.value - (teacherCurrent - penguins.accuracy['pruned-70']!.current)) < 1e-4);
    assert.equal(drop.samples, penguins.rows.current);
    assert.equal(result.executionProvider, 'CPUExecutionProvider');
    assert.ok(['NVML', 'RAPL', 'Estimate'].includes(result.powerMethod));
    for (const name of ['p95LatencyMs', 'throughputQps', 'powerWatts', 'carbonKgPer1M', 'memoryRatio'])
      assert.ok(
        graded.metrics.some((m) => m.name === name && Number.isFinite(m.value)),
        `${name} measured`,
      );
  });

  test('pruned-30 keeps accuracy but is Critical on memoryRatio: only 30% of its weights are gone', async () => {
    const result = await evaluate({ candidate: 'pruned-30' });
    const graded = gradeEvaluation(result.accumulator, fixtureEvaluation().spec);
    const grade = (name: string) => graded.metrics.find((m) => m.name === name)!;
    assert.equal(grade('accuracyDrop').grade, 'Pass');
    const memory = grade('memoryRatio');
    const pruning = penguins.pruning['pruned-30']!;
    // The fixtures are far below the runtime-memory floor, so the ratio is of non-zero weights.
    assert.ok(runtimeMemoryFloorBytes > 1e6);
    assert.ok(Math.abs(memory.value - pruning.nonZero / 193) < 1e-5, `memoryRatio ${memory.value}`);
    assert.equal(memory.grade, 'Critical');
    assert.equal(graded.graded.verdict, 'Critical');
  });

  test('pruned-95 is Critical on accuracyDrop, by the drop the fixtures measured', async () => {
    const result = await evaluate({ candidate: 'pruned-95' });
    const graded = gradeEvaluation(result.accumulator, fixtureEvaluation().spec);
    const drop = graded.metrics.find((m) => m.name === 'accuracyDrop')!;
    assert.equal(drop.grade, 'Critical');
    assert.ok(Math.abs(drop.value - (teacherCurrent - penguins.accuracy['pruned-95']!.current)) < 1e-4);
    assert.match(graded.graded.explanation, /^accuracyDrop/);
  });

  test('shifted current data is Critical on psi, worst on body mass', async () => {
    const result = await evaluate({ candidate: 'pruned-30', current: 'shifted' });
    const graded = gradeEvaluation(result.accumulator, fixtureEvaluation().spec);
    const psi = graded.metrics.find((m) => m.name === 'psi')!;
    assert.equal(psi.grade, 'Critical');
    assert.match(String(psi.detail?.note), /Body Mass|Beak Length/);
    const unshifted = gradeEvaluation(
      (await evaluate({ candidate: 'pruned-30' })).accumulator,
      fixtureEvaluation().spec,
    );
    assert.ok(psi.value > 5 * unshifted.metrics.find((m) => m.name === 'psi')!.value);
  });
});

describe('categories and classes', () => {
  const scratch = mkdtemp(path.join(tmpdir(), 'pruneguard-pipeline-'));
  after(async () => rm(await scratch, { recursive: true, force: true }));

  async function withoutMetadata(file: string): Promise<string> {
    const model = await loadModel(file);
    delete model.metadataProps;
    const out = path.join(await scratch, `${path.basename(path.dirname(file))}-${path.basename(file)}`);
    await saveModel(model, out);
    return out;
  }

  test('learned from the reference data when the models do not declare them (penguins: the same order)', async () => {
    const penguins = fixtureManifest.penguins;
    const declared = await evaluate({ candidate: 'pruned-70' });
    const learned = await evaluate({
      teacher: await withoutMetadata(penguins.models.teacher),
      candidate: await withoutMetadata(penguins.models['pruned-70']),
    });
    assertCloseDeep(rowResults(learned.accumulator.result()), rowResults(declared.accumulator.result()));
  });

  test('flights one-hots its 15 busiest airports: learning every airport gives a clear width error', async () => {
    const flights = fixtureManifest.flights;
    await assert.rejects(
      evaluate({
        task: 'flights',
        teacher: await withoutMetadata(flights.models.teacher),
        candidate: await withoutMetadata(flights.models['pruned-30']),
      }),
      (error: Error) => {
        assert.match(error.message, /teacher model .*teacher\.onnx: input 'features' expects 32 columns/);
        assert.match(error.message, /'origin', 'destination' were learned from the reference data/);
        return true;
      },
    );
  });

  test('a declared categorical input left out of data.features is named in the width error', async () => {
    await assert.rejects(
      evaluate({ features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'] }),
      /expects 7 columns \[N, 7\], data has 4 \[N, 4\] \(the models declare categorical input\(s\) 'Island' that data.features does not list\)/,
    );
  });

  test('a candidate whose declared categories contradict the teacher is refused', async () => {
    const penguins = fixtureManifest.penguins;
    const model = await loadModel(penguins.models['pruned-70']);
    model.metadataProps = [{ key: 'pruneguard.categories.Island', value: '["Dream","Biscoe","Torgersen"]' }];
    const out = path.join(await scratch, 'reordered.onnx');
    await saveModel(model, out);
    await assert.rejects(
      evaluate({ candidate: out }),
      /candidate model .*reordered\.onnx: categories of 'Island'/,
    );
  });
});

test('a missing data file fails naming it', async () => {
  const spec = fixtureEvaluation().spec;
  spec.data.current.uri = 'file:///nowhere/current.jsonl';
  await assert.rejects(
    evaluateShard(spec, { shardIndex: 0, shardCount: 1, measurement }),
    /^Error: current data file:\/\/\/nowhere\/current\.jsonl: file not found \(\/nowhere\/current\.jsonl\)$/,
  );
});

describe('execution provider', () => {
  test('nvidia.com/gpu: CUDA when it loads; otherwise CPU (said so) or a clear failure, per executionProviderFallback', async () => {
    const gpu = (fallback: 'cpu' | 'fail') => {
      const spec = fixtureEvaluation().spec;
      spec.runtime.accelerator = 'nvidia.com/gpu';
      spec.runtime.executionProviderFallback = fallback;
      return spec;
    };
    const lenient = await evaluateShard(gpu('cpu'), { shardIndex: 0, shardCount: 1, measurement });
    if (lenient.executionProvider === 'CUDAExecutionProvider') return;
    assert.equal(lenient.executionProvider, 'CPUExecutionProvider');
    await assert.rejects(
      evaluateShard(gpu('fail'), { shardIndex: 0, shardCount: 1, measurement }),
      /teacher model .*teacher\.onnx: onnxruntime cannot load it on cuda/,
    );
  });
});

describe('the evaluation pod status', () => {
  test('its shard entry, merged by the controller, grades like the local evaluation', async () => {
    const evaluation = fixtureEvaluation({ candidate: 'pruned-95' });
    const shards = await Promise.all([0, 1].map((i) => evaluate({ candidate: 'pruned-95' }, i, 2)));
    const name = { namespace: 'test', name: 'penguins-pruned-95-00001' };
    const patches = shards.map((result, index) => shardStatusPatch(name, index, result));
    for (const [index, patch] of patches.entries()) {
      assert.equal(patch.kind, 'EvaluationRun');
      assert.deepEqual(patch.metadata, name);
      assert.deepEqual(Object.keys(patch.status).sort(), ['executionProvider', 'powerMethod', 'shards']);
      assert.equal(patch.status.shards?.length, 1);
      assert.equal(patch.status.shards?.[0]?.index, index);
      assert.equal(patch.status.shards?.[0]?.samples, shards[index]!.rows.current);
    }
    // JSON round trip: what the API server stores and returns.
    const run = JSON.parse(
      JSON.stringify({
        apiVersion: 'pruneguard.io/v1alpha1',
        kind: 'EvaluationRun',
        metadata: name,
        spec: {
          evaluationName: 'penguins-pruned-95',
          generation: 1,
          shards: 2,
          evaluationSpec: evaluation.spec,
        },
        status: { shards: patches.map((p) => p.status.shards![0]) },
      }),
    ) as EvaluationRun;
    const graded = gradeRun(run);
    assert.equal(graded.samples, fixtureManifest.penguins.rows.current);
    assert.equal(graded.metrics.find((m) => m.name === 'accuracyDrop')?.grade, 'Critical');
  });

  test('a failed shard writes only its index and the message', () => {
    const patch = shardFailurePatch({ namespace: 'ns', name: 'r' }, 2, 'x'.repeat(5000));
    assert.deepEqual(Object.keys(patch.status), ['shards']);
    assert.equal(patch.status.shards?.[0]?.index, 2);
    assert.equal(patch.status.shards?.[0]?.error?.length, 4096);
    assert.equal(patch.status.shards?.[0]?.state, undefined);
  });
});
