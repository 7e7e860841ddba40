import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';
import ort from 'onnxruntime-node';

import { encodeModel, loadModel, TensorDataType, type ModelProto } from '../../../src/onnx/model.js';
import { countParameters, weightMatrices } from '../../../src/onnx/parameters.js';
import { prune } from '../../../src/onnx/prune.js';
import { readValues } from '../../../src/onnx/tensors.js';

const teacherPath = 'test/fixtures/flights/teacher.onnx';

function valuesByName(model: ModelProto): Map<string, Float64Array> {
  return new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', readValues(t)]));
}

for (const scope of ['global', 'per-tensor'] as const) {
  for (const sparsity of [0.3, 0.7, 0.95]) {
    test(`${scope} pruning to ${sparsity} zeroes that share of the weight matrices and nothing else`, async () => {
      const teacher = await loadModel(teacherPath);
      const { model, stats } = prune(teacher, { sparsity, scope });
      const matrices = weightMatrices(model);
      assert.deepEqual(
        matrices.map((t) => t.name),
        ['dense0.weight', 'dense1.weight', 'dense2.weight'],
      );
      const weights = matrices.reduce((sum, t) => sum + readValues(t).length, 0);
      const zeros = matrices.reduce((sum, t) => sum + readValues(t).filter((w) => w === 0).length, 0);
      assert.ok(Math.abs(zeros / weights - sparsity) <= 1 / weights, `${zeros}/${weights}`);
      assert.equal(stats.weightSparsity, zeros / weights);
      assert.equal(stats.nonZeroAfter, countParameters(model).nonZeroParameters);
      assert.equal(stats.nonZeroBefore - stats.nonZeroAfter, zeros);

      const before = valuesByName(teacher);
      const matrixNames = new Set(matrices.map((t) => t.name));
      for (const [name, values] of valuesByName(model)) {
        if (!matrixNames.has(name)) assert.deepEqual(values, before.get(name), `${name} must be untouched`);
      }
      if (scope === 'per-tensor') {
        for (const tensor of stats.tensors)
          assert.ok(Math.abs(tensor.zeros / tensor.weights - sparsity) <= 1 / tensor.weights);
      } else {
        // every zeroed weight was no larger than every kept one
        const zeroed: number[] = [];
        const kept: number[] = [];
        for (const t of matrices) {
          const original = before.get(t.name ?? '') ?? new Float64Array();
          readValues(t).forEach((w, i) => (w === 0 ? zeroed : kept).push(Math.abs(original[i] ?? 0)));
        }
        assert.ok(Math.max(...zeroed) <= Math.min(...kept));
      }

      const session = await ort.InferenceSession.create(encodeModel(model));
      const width = teacher.graph?.input?.[0]?.type?.tensorType?.shape?.dim?.[1]?.dimValue ?? 0;
      const out = await session.run({
        features: new ort.Tensor('float32', new Float32Array(3 * width).fill(1), [3, width]),
      });
      assert.deepEqual(out.probabilities?.dims, [3, 2]);
      await session.release();
    });
  }
}

test('pruning a pruned model to the same sparsity changes nothing', async () => {
  const once = prune(await loadModel(teacherPath), { sparsity: 0.7 });
  const twice = prune(once.model, { sparsity: 0.7 });
  assert.equal(twice.stats.nonZeroAfter, once.stats.nonZeroAfter);
  assert.deepEqual(encodeModel(twice.model), encodeModel(once.model));
});

test('a sparsity outside [0, 1) is refused', async () => {
  const teacher = await loadModel(teacherPath);
  assert.throws(() => prune(teacher, { sparsity: 1 }), /sparsity must be in \[0, 1\), got 1/);
  assert.throws(() => prune(teacher, { sparsity: -0.1 }), /sparsity/);
});

test('global pruning keeps exactly the largest magnitudes, ties included', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 4, maxLength: 60 }),
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      (weights, sparsity) => {
        const model: ModelProto = {
          graph: {
            node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
            initializer: [
              {
                name: 'w',
                dims: [weights.length, 1],
                dataType: TensorDataType.FLOAT,
                floatData: weights.map((w) => w / 2),
              },
            ],
          },
        };
        const { model: pruned } = prune(model, { sparsity });
        const after = readValues(pruned.graph?.initializer?.[0] ?? {});
        const zeros = after.filter((w) => w === 0).length;
        assert.equal(
          zeros,
          Math.max(Math.round(sparsity * weights.length), weights.filter((w) => w === 0).length),
        );
        const keptMin = Math.min(...after.filter((w) => w !== 0).map(Math.abs));
        weights.forEach((w, i) => {
          if (after[i] === 0) assert.ok(Math.abs(w / 2) <= keptMin);
          else assert.equal(after[i], w / 2);
        });
      },
    ),
  );
});
