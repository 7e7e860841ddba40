import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import ort from 'onnxruntime-node';

import { countParameters } from '../../../src/onnx/parameters.js';
import { decodeModel, encodeModel, loadModel, saveModel } from '../../../src/onnx/model.js';
import { elementCount, readValues, writeValues } from '../../../src/onnx/tensors.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const teacherPath = 'test/fixtures/penguins/teacher.onnx';

async function runModel(file: string, rows: Float32Array, width: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ features: new ort.Tensor('float32', rows, [rows.length / width, width]) });
  await session.release();
  return out.probabilities?.data as Float32Array;
}

test('a model decodes and re-encodes to the same bytes', async () => {
  const bytes = await readFile(teacherPath);
  const model = decodeModel(bytes);
  assert.equal(model.graph?.input?.[0]?.name, 'features');
  assert.equal(model.opsetImport?.[0]?.version, 13);
  assert.deepEqual(Buffer.from(encodeModel(model)), bytes);
});

test('parameters are counted from the initializers dims, zeros excluded from non-zero', async () => {
  const model = await loadModel(teacherPath);
  const expected = (model.graph?.initializer ?? []).reduce((sum, t) => sum + elementCount(t), 0);
  const counted = countParameters(model);
  assert.equal(counted.parameters, expected);
  assert.equal(counted.nonZeroParameters, expected);

  const [first] = model.graph?.initializer ?? [];
  assert.ok(first);
  const values = readValues(first);
  values[0] = 0;
  values[1] = 0;
  writeValues(first, values);
  const after = countParameters(model);
  assert.equal(after.nonZeroParameters, expected - 2);
  assert.ok(Math.abs(after.sparsity - 2 / expected) < 1e-12);
});

test('float_data initializers are written so onnxruntime reads the same weights as raw_data', async () => {
  const dir = await temporaryDirectory('onnx');
  const model = await loadModel(teacherPath);
  for (const tensor of model.graph?.initializer ?? []) {
    const values = readValues(tensor);
    delete tensor.rawData;
    writeValues(tensor, values);
    assert.equal(tensor.floatData?.length, values.length);
  }
  const converted = path.join(dir, 'float-data.onnx');
  await saveModel(model, converted);
  assert.equal((await loadModel(converted)).graph?.initializer?.[0]?.rawData, undefined);

  const input = Float32Array.from({ length: 14 }, (_, i) => [40, 18, 200, 4000, 1, 0, 0][i % 7] as number);
  assert.deepEqual(await runModel(converted, input, 7), await runModel(teacherPath, input, 7));
});

test('a truncated file is refused with its path in the message', async () => {
  await assert.rejects(
    loadModel('test/fixtures/corrupt.onnx'),
    /test\/fixtures\/corrupt\.onnx: not a valid ONNX model/,
  );
  await assert.rejects(ort.InferenceSession.create('test/fixtures/corrupt.onnx'));
});
