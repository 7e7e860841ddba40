import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BatchPacker, BatchUnpacker } from '../../../src/evaluator/batch-packing.js';
import { MetricThread } from '../../../src/evaluator/metric-thread.js';
import { EvaluationAccumulator, type EvaluationBatch } from '../../../src/metrics/index.js';
import { textColumn, textValues } from '../../../src/metrics/text-column.js';
import { syntheticBatch } from '../metrics/synthetic-data.js';

/** Rows [start, end) of a batch as views into its arrays, the way the Arrow reader cuts a record batch. */
function viewOf(batch: EvaluationBatch, start: number, end: number): EvaluationBatch {
  const w = batch.outputWidth;
  const text = (record: EvaluationBatch['slices']) =>
    Object.fromEntries(
      Object.entries(record).map(([name, c]) => [
        name,
        { codes: c.codes.subarray(start, end), values: c.values },
      ]),
    );
  return {
    ...batch,
    rows: end - start,
    numericFeatures: Object.fromEntries(
      Object.entries(batch.numericFeatures).map(([name, values]) => [name, values.subarray(start, end)]),
    ),
    categoricalFeatures: text(batch.categoricalFeatures),
    slices: text(batch.slices),
    teacherScores: batch.teacherScores.subarray(start * w, end * w),
    candidateScores: batch.candidateScores.subarray(start * w, end * w),
    labels: batch.labels!.subarray(start, end),
    sensitive: { codes: batch.sensitive!.codes.subarray(start, end), values: batch.sensitive!.values },
  };
}

/** Bytes of every array of a batch, counted without the packer. */
function byteLengthOf(batch: EvaluationBatch): number {
  const texts = [...Object.values(batch.categoricalFeatures), ...Object.values(batch.slices)];
  if (batch.sensitive) texts.push(batch.sensitive);
  return (
    Object.values(batch.numericFeatures).reduce((sum, values) => sum + values.byteLength, 0) +
    texts.reduce((sum, column) => sum + column.codes.byteLength, 0) +
    batch.teacherScores.byteLength +
    batch.candidateScores.byteLength +
    (batch.labels?.byteLength ?? 0)
  );
}

const plain = (batch: EvaluationBatch) => ({
  ...batch,
  numericFeatures: Object.fromEntries(
    Object.entries(batch.numericFeatures).map(([n, v]) => [n, Array.from(v)]),
  ),
  categoricalFeatures: Object.fromEntries(
    Object.entries(batch.categoricalFeatures).map(([n, c]) => [n, textValues(c)]),
  ),
  slices: Object.fromEntries(Object.entries(batch.slices).map(([n, c]) => [n, textValues(c)])),
  teacherScores: Array.from(batch.teacherScores),
  candidateScores: Array.from(batch.candidateScores),
  labels: batch.labels && Array.from(batch.labels),
  sensitive: batch.sensitive && textValues(batch.sensitive),
});

test('packed batches unpack to the same rows; a shared table travels once; a given-back buffer is reused', () => {
  const whole = syntheticBatch({ dataset: 'current', rows: 50, seed: 3, outputWidth: 3, labels: true });
  const other = syntheticBatch({ dataset: 'reference', rows: 7, seed: 4, labels: true });
  const batches = [viewOf(whole, 0, 20), viewOf(whole, 20, 50), other];
  const packer = new BatchPacker();
  const unpacker = new BatchUnpacker();
  for (const batch of batches) packer.add(batch);
  assert.equal(packer.rows, 57);
  const bytes = packer.bytes;
  const arrayBytes = batches.reduce((sum, batch) => sum + byteLengthOf(batch), 0);
  assert.ok(bytes >= arrayBytes && bytes < arrayBytes + 8 * 40, `${bytes} bytes counted for ${arrayBytes}`);
  const { pack, transfer } = packer.take();
  assert.deepEqual(transfer, [pack.buffer]);
  assert.ok(
    pack.buffer.byteLength >= bytes && pack.buffer.byteLength < 2 * bytes,
    'a pack holds what the packer counted',
  );
  assert.equal(packer.bytes, 0);
  assert.ok(pack.batches[0]!.slices[0]![1].values, 'first use sends the table');
  assert.equal(pack.batches[1]!.slices[0]![1].values, undefined, 'same table: not sent again');
  assert.ok(pack.batches[2]!.slices[0]![1].values, 'another table: sent');
  const copy = structuredClone(pack, { transfer: [pack.buffer] });
  assert.deepEqual(unpacker.unpack(copy).map(plain), batches.map(plain));

  packer.add(viewOf(whole, 0, 10));
  const next = packer.take(copy.buffer);
  assert.equal(next.pack.buffer, copy.buffer);
  assert.deepEqual(unpacker.unpack(next.pack).map(plain), [plain(viewOf(whole, 0, 10))]);
});

test('every field of a batch survives the trip to the metric thread', () => {
  // Required: a field added to EvaluationBatch must be given a value here, and then has to arrive.
  const batch: Required<EvaluationBatch> = {
    dataset: 'reference',
    rows: 3,
    numericFeatures: { mass: Float64Array.from([3.5, NaN, 4.25]) },
    categoricalFeatures: { island: textColumn(['Dream', '', 'Biscoe']) },
    teacherScores: Float32Array.from([0.25, 0.75, 0.5, 0.5, 1, 0]),
    candidateScores: Float32Array.from([0.5, 0.5, 0, 1, 0.125, 0.875]),
    outputWidth: 2,
    labels: Float64Array.from([1, NaN, 0]),
    sensitive: textColumn(['FEMALE', 'MALE', 'FEMALE']),
    slices: { region: textColumn(['eu', 'us', 'eu']) },
    screening: { rowsRead: 5, rowsRejected: 2, missingByFeature: { mass: 2, island: 1 } },
  };
  const packer = new BatchPacker();
  packer.add(batch);
  const { pack } = packer.take();
  const [arrived, ...more] = new BatchUnpacker().unpack(structuredClone(pack, { transfer: [pack.buffer] }));
  assert.equal(more.length, 0);
  assert.deepStrictEqual({ ...arrived }, { ...batch });
});

test('the metric thread gives exactly the accumulator of an inline pass', async () => {
  const options = { sliceCrosses: [['region', 'device']] };
  const inline = new EvaluationAccumulator(options);
  const thread = await MetricThread.start(options);
  try {
    for (let i = 0; i < 40; i++) {
      const batch = syntheticBatch({
        dataset: i % 2 ? 'current' : 'reference',
        rows: 1000,
        seed: i,
        labels: true,
        shift: i % 2 ? 0.2 : 0,
      });
      inline.update(batch);
      await thread.update(batch);
    }
    const threaded = await thread.finish();
    assert.deepEqual(threaded.toJSON(), inline.toJSON());
  } finally {
    await thread.close();
  }
});

test("the engine's error reaches the caller with its message, and the thread can still be closed", async () => {
  const thread = await MetricThread.start({ maxSliceValues: 5 });
  try {
    const batch = syntheticBatch({ dataset: 'current', rows: 10, seed: 1 });
    const user = textColumn(Array.from({ length: 10 }, (_, i) => `user${i}`));
    await thread.update({ ...batch, slices: { user } });
    await assert.rejects(thread.finish(), /slice column user has more than 5 distinct values/);
  } finally {
    await thread.close();
  }
});

test('a metric thread that exits early fails the caller instead of leaving it waiting', async () => {
  const thread = await MetricThread.start({});
  try {
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 8; i++)
          await thread.update(syntheticBatch({ dataset: 'current', rows: 20_000, seed: i }));
        await thread.finish();
      })(),
      /the metric thread exited with code 1 before it finished/,
    );
  } finally {
    await thread.close();
  }
});
