import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import {
  EvaluationAccumulator,
  type EvaluationBatch,
  type EvaluationOptions,
} from '../../../src/metrics/index.js';
import { textColumn } from '../../../src/metrics/text-column.js';
import { assertCloseDeep } from './close-enough.js';
import { sliceBatch, syntheticBatch } from './synthetic-data.js';

const settings: Partial<EvaluationOptions>[] = [
  { sliceCrosses: [['region', 'device']] },
  { featureDriftPerSlice: true, minGroupCount: 5 },
  { task: 'regression', decisionThreshold: 0.5 },
];

function dataset(seed: number, outputWidth: number, labels: boolean): EvaluationBatch[] {
  return [
    syntheticBatch({ dataset: 'reference', rows: 240, seed, outputWidth, labels }),
    syntheticBatch({ dataset: 'current', rows: 260, seed: seed + 1, outputWidth, labels, shift: 0.2 }),
  ];
}

function recordMeasurements(accumulator: EvaluationAccumulator, s: number): void {
  accumulator.recordLatency({ model: 'candidate', milliseconds: [10 + s, 20 + s * 3, 35] });
  accumulator.recordThroughput({ inferences: 1000 * (s + 1), seconds: 1 + s });
  accumulator.recordMemory({ candidateBytes: 100 + s, teacherBytes: 300 });
  accumulator.recordEnergy({ joules: 5 + s, inferences: 100, seconds: 1, method: s % 2 ? 'rapl' : 'nvml' });
}

/** Splits every batch at the same fractions of its rows; shard s gets part s of each, and measurements s. */
function shard(
  batches: EvaluationBatch[],
  cuts: number[],
  options: Partial<EvaluationOptions>,
): EvaluationAccumulator[] {
  const shards = Array.from({ length: cuts.length + 1 }, () => new EvaluationAccumulator(options));
  for (const batch of batches) {
    const edges = [0, ...cuts.map((c) => Math.floor(c * batch.rows)).sort((a, b) => a - b), batch.rows];
    shards.forEach((accumulator, s) => accumulator.update(sliceBatch(batch, edges[s]!, edges[s + 1]!)));
  }
  shards.forEach(recordMeasurements);
  return shards;
}

const scenario = fc.record({
  seed: fc.integer({ min: 1, max: 1e6 }),
  setting: fc.integer({ min: 0, max: settings.length - 1 }),
  outputWidth: fc.constantFrom(1, 3),
  labels: fc.boolean(),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
});

function optionsFor(s: { setting: number; outputWidth: number }): Partial<EvaluationOptions> {
  const options = settings[s.setting]!;
  // Regression has one output per row.
  return options.task === 'regression' && s.outputWidth !== 1 ? settings[0]! : options;
}

test('a dataset split over shards and merged gives the one-pass result', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const options = optionsFor(s);
      const width = options.task === 'regression' ? 1 : s.outputWidth;
      const batches = dataset(s.seed, width, s.labels);
      const merged = shard(batches, s.cuts, options).reduce((into, next) => into.merge(next));
      const expected = new EvaluationAccumulator(options);
      for (const batch of batches) expected.update(batch);
      for (let i = 0; i <= s.cuts.length; i++) recordMeasurements(expected, i);
      assertCloseDeep(merged.result(), expected.result(), 'report');
    }),
    { numRuns: 25 },
  );
});

test('merge is commutative and associative, also through JSON', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const options = optionsFor(s);
      const width = options.task === 'regression' ? 1 : s.outputWidth;
      const parts = shard(dataset(s.seed, width, s.labels), [0.3, 0.7], options).map((a) => a.toJSON());
      const load = (i: number) => EvaluationAccumulator.fromJSON(JSON.parse(JSON.stringify(parts[i])));
      const abc = load(0).merge(load(1)).merge(load(2));
      const cba = load(2).merge(load(1)).merge(load(0));
      const aBc = load(0).merge(load(1).merge(load(2)));
      assertCloseDeep(cba.result(), abc.result(), 'commutative');
      assertCloseDeep(aBc.result(), abc.result(), 'associative');
      assertCloseDeep(EvaluationAccumulator.fromJSON(abc.toJSON()).result(), abc.result(), 'round trip');
    }),
    { numRuns: 25 },
  );
});

test('a full state for 20 features and 3 slice columns stays well under 200 KB of JSON', () => {
  const engine = new EvaluationAccumulator({ sliceCrosses: [['region', 'device']] });
  for (const dataset of ['reference', 'current'] as const) {
    const batch = syntheticBatch({
      dataset,
      rows: 50000,
      seed: dataset === 'reference' ? 1 : 2,
      labels: true,
    });
    const numericFeatures: Record<string, Float64Array> = {};
    for (let f = 0; f < 20; f++) {
      const column = new Float64Array(batch.rows);
      const amount = batch.numericFeatures.amount!;
      for (let i = 0; i < batch.rows; i++)
        column[i] = (f % 2 ? -1 : 1) * amount[(i * (f + 7)) % batch.rows]! * (f + 1);
      numericFeatures[`feature${f}`] = column;
    }
    const tier = textColumn(Array.from({ length: batch.rows }, (_, i) => `tier${i % 5}`));
    engine.update({ ...batch, numericFeatures, slices: { ...batch.slices, tier } });
  }
  const bytes = JSON.stringify(engine.toJSON()).length;
  console.log(`# state of 20 features × 2 datasets, 13 slices: ${bytes} bytes of JSON`);
  assert.ok(bytes < 150_000, `state is ${bytes} bytes`);
  assert.equal(engine.result().slices.length, 2 + 2 + 5 + 4);
});

test('refuses batches whose columns do not match their row count, naming the column', () => {
  const engine = new EvaluationAccumulator({});
  const batch = syntheticBatch({ dataset: 'current', rows: 10, seed: 1 });
  assert.throws(
    () => engine.update({ ...batch, numericFeatures: { amount: new Float64Array(9) } }),
    /current batch: feature amount has 9 values, expected 10 rows/,
  );
  assert.throws(
    () => engine.update({ ...batch, candidateScores: new Float32Array(20) }),
    /candidateScores has 20 values, expected rows × outputWidth = 10 × 1/,
  );
  assert.throws(
    () => new EvaluationAccumulator({ sliceCrosses: [['region', 'nope']] }).update(batch),
    /slice cross region × nope needs slice column nope/,
  );
});

test('a high-cardinality slice column is refused instead of growing the state without bound', () => {
  const engine = new EvaluationAccumulator({ maxSliceValues: 5 });
  const batch = syntheticBatch({ dataset: 'current', rows: 10, seed: 1 });
  const user = textColumn(Array.from({ length: 10 }, (_, i) => `user${i}`));
  assert.throws(
    () => engine.update({ ...batch, slices: { user } }),
    /slice column user has more than 5 distinct values .*spec\.data\.maxSliceValues raises the limit, up to 500/,
  );
});

test('spec.data.maxSliceValues reaches the engine', async () => {
  const { shardEvaluationOptions } = await import('../../../src/evaluator/shard-state.js');
  const { parsedEvaluation } = await import('../controller/parsed-evaluation.js');
  const spec = parsedEvaluation({}).spec;
  assert.equal(shardEvaluationOptions(spec).maxSliceValues, 100, 'the default');
  const users = { user: textColumn(Array.from({ length: 10 }, (_, i) => `user${i}`)) };
  const batch = syntheticBatch({ dataset: 'current', rows: 10, seed: 1 });
  new EvaluationAccumulator(shardEvaluationOptions(spec)).update({ ...batch, slices: users });
  spec.data.maxSliceValues = 5;
  assert.throws(
    () => new EvaluationAccumulator(shardEvaluationOptions(spec)).update({ ...batch, slices: users }),
    /more than 5 distinct values/,
  );
});

test('shards built with different options refuse to merge', () => {
  assert.throws(
    () => new EvaluationAccumulator({ psiBins: 10 }).merge(new EvaluationAccumulator({ psiBins: 20 })),
    /different options/,
  );
});

test('metrics without their inputs are reported disabled, with a reason, never computed', () => {
  const engine = new EvaluationAccumulator({});
  const { sensitive: _sensitive, ...batch } = syntheticBatch({ dataset: 'current', rows: 50, seed: 3 });
  engine.update(batch);
  const report = engine.result();
  assert.deepEqual(
    report.metrics.map((m) => m.name),
    ['accuracyDrop'],
  );
  assert.deepEqual(
    report.disabled.map((d) => d.name),
    [
      'negativeFlipRate',
      'classRecallDrop',
      'calibrationChange',
      'p95LatencyMs',
      'memoryRatio',
      'powerWatts',
      'energyPer1kInferencesJoules',
      'demographicParity',
      'psi',
      'missingValueIncrease',
      'throughputQps',
      'carbonKgPer1M',
    ],
  );
  assert.match(report.disabled.find((d) => d.name === 'psi')!.reason, /reference and current/);
  assert.match(
    report.disabled.find((d) => d.name === 'missingValueIncrease')!.reason,
    /reference and current/,
  );
  assert.equal(report.disabled.find((d) => d.name === 'negativeFlipRate')!.reason, 'no labels');
  assert.equal(report.disabled.find((d) => d.name === 'classRecallDrop')!.reason, 'no labels');
  assert.equal(report.disabled.find((d) => d.name === 'calibrationChange')!.reason, 'no labels');
});

test('a state that is not one refuses to load, naming what is wrong', () => {
  assert.throws(
    () => EvaluationAccumulator.fromJSON({ version: '2' }),
    /evaluation state: version "2" is not one this operator reads/,
  );
  const state = new EvaluationAccumulator({}).toJSON() as unknown as Record<string, unknown>;
  delete state.latency;
  assert.throws(() => EvaluationAccumulator.fromJSON(state), /evaluation state: latency is missing/);
});
