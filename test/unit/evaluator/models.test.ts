import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { encodeBatch, selectedColumns, type ColumnSelection } from '../../../src/evaluator/data/features.js';
import { openTable } from '../../../src/evaluator/data/open.js';
import { checkCompatible, openModel, type LoadedModel } from '../../../src/evaluator/models.js';

interface TaskManifest {
  models: Record<string, string>;
  data: Record<string, string>;
  selection: ColumnSelection;
  accuracy: Record<string, Record<string, number>>;
}
const manifest = JSON.parse(await readFile('test/fixtures/manifest.json', 'utf8')) as Record<
  string,
  TaskManifest
>;

async function accuracy(
  model: LoadedModel,
  task: TaskManifest,
  file: string,
  batchSize: number,
): Promise<number> {
  let correct = 0;
  let total = 0;
  for await (const batch of openTable(file, { columns: selectedColumns(task.selection), batchSize: 97 })) {
    const encoded = encodeBatch(batch, task.selection, file);
    const probabilities = await model.predict(encoded.features, encoded.rows, batchSize);
    const classes = probabilities.length / encoded.rows;
    for (let r = 0; r < encoded.rows; r++) {
      const row = Array.from(probabilities.subarray(r * classes, (r + 1) * classes));
      if (row.indexOf(Math.max(...row)) === encoded.labels?.[r]) correct++;
      total++;
    }
  }
  return Math.round((correct / total) * 10000) / 10000;
}

for (const name of ['penguins', 'flights']) {
  test(`${name}: the committed models reproduce the accuracies in the manifest, and pruning 95 % costs > 5 points`, async () => {
    const task = manifest[name] as TaskManifest;
    for (const [role, uri] of Object.entries(task.models)) {
      const model = await openModel(uri, role === 'teacher' ? 'teacher' : 'candidate');
      // A batch size unrelated to the file's batches checks that predict stitches batches correctly.
      assert.equal(
        await accuracy(model, task, task.data.current as string, 13),
        task.accuracy[role]?.current,
        role,
      );
      await model.close();
    }
    const teacher = task.accuracy.teacher?.current ?? 0;
    assert.ok(teacher - (task.accuracy['pruned-95']?.current ?? 1) > 0.05);
    assert.ok(teacher - (task.accuracy['pruned-30']?.current ?? 0) < 0.02);
  });
}

test('teacher and candidate report signature, provider and stats', async () => {
  const teacher = await openModel('test/fixtures/flights/teacher.onnx', 'teacher');
  const candidate = await openModel('test/fixtures/flights/pruned-70.onnx', 'candidate');
  assert.deepEqual(candidate.signature, {
    inputName: 'features',
    outputName: 'probabilities',
    inputWidth: 32,
    outputWidth: 2,
  });
  assert.equal(candidate.executionProvider, 'cpu');
  assert.equal(candidate.stats.fileBytes, (await readFile('test/fixtures/flights/pruned-70.onnx')).length);
  assert.equal(candidate.stats.parameters, teacher.stats.parameters);
  assert.ok(candidate.stats.nonZeroParameters < 0.4 * teacher.stats.nonZeroParameters);
  assert.ok(candidate.stats.memoryBytes >= 0);
  checkCompatible(teacher, candidate, 32);
  assert.throws(
    () => checkCompatible(teacher, candidate, 31),
    /^Error: teacher model test\/fixtures\/flights\/teacher\.onnx: input 'features' expects 32 columns \[N, 32\], data has 31 \[N, 31\]$/,
  );
  await Promise.all([teacher.close(), candidate.close()]);
});

test('a candidate with a different input width is refused, naming it, the input and both shapes', async () => {
  const teacher = await openModel('test/fixtures/penguins/teacher.onnx', 'teacher');
  const candidate = await openModel('test/fixtures/mismatched-input.onnx', 'candidate');
  assert.throws(
    () => checkCompatible(teacher, candidate, 7),
    /candidate model test\/fixtures\/mismatched-input\.onnx: input 'features' expects 6 columns \[N, 6\], data has 7 \[N, 7\]/,
  );
  await assert.rejects(
    candidate.predict(new Float32Array(14), 2),
    /candidate model test\/fixtures\/mismatched-input\.onnx: input 'features' expects 6 columns, data has 7/,
  );
  await Promise.all([teacher.close(), candidate.close()]);
});

test('a corrupt or missing model file is refused naming the role and URI', async () => {
  await assert.rejects(
    openModel('test/fixtures/corrupt.onnx', 'candidate'),
    /^Error: candidate model test\/fixtures\/corrupt\.onnx: not a valid ONNX model/,
  );
  await assert.rejects(
    openModel('test/fixtures/nope.onnx', 'teacher'),
    /^Error: teacher model test\/fixtures\/nope\.onnx: file not found/,
  );
});

test('CUDA is used when it starts; otherwise the model fails or falls back to CPU as asked', async () => {
  const uri = 'test/fixtures/penguins/pruned-30.onnx';
  const fallback = await openModel(uri, 'candidate', { executionProvider: 'cuda', fallbackToCpu: true });
  if (fallback.executionProvider === 'cuda') {
    assert.equal(fallback.fallbackReason, undefined);
  } else {
    assert.match(fallback.fallbackReason ?? '', /CUDA execution provider unavailable/);
    await assert.rejects(
      openModel(uri, 'candidate', { executionProvider: 'cuda' }),
      /candidate model test\/fixtures\/penguins\/pruned-30\.onnx: onnxruntime cannot load it on cuda/,
    );
  }
  await fallback.close();
});
