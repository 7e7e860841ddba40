import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { runPrune } from '../../../src/cli/prune.js';
import { loadModel } from '../../../src/onnx/model.js';
import { weightMatrices } from '../../../src/onnx/parameters.js';
import { readValues } from '../../../src/onnx/tensors.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

async function captured(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => out.push(args.join(' '));
  console.error = (...args: unknown[]) => err.push(args.join(' '));
  try {
    return { code: await runPrune(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    Object.assign(console, { log, error });
  }
}

test('pruneguard prune writes a model at the requested sparsity and says so', async () => {
  const out = path.join(await temporaryDirectory('prune'), 'p.onnx');
  const result = await captured([
    '--sparsity',
    '0.6',
    '--scope',
    'per-tensor',
    'test/fixtures/penguins/teacher.onnx',
    out,
  ]);
  assert.equal(result.code, 0, result.err);
  assert.match(result.out, /193 params, non-zero 193 -> \d+, weight sparsity 0\.6\d*/);
  for (const tensor of weightMatrices(await loadModel(out))) {
    const values = readValues(tensor);
    const zeros = values.filter((w) => w === 0).length;
    assert.ok(Math.abs(zeros / values.length - 0.6) <= 1 / values.length);
  }
});

test('pruneguard prune refuses a bad command line with exit code 2', async () => {
  assert.equal((await captured(['--sparsity', '1.5', 'a.onnx', 'b.onnx'])).code, 2);
  assert.equal((await captured(['--sparsity', '0.5', 'a.onnx'])).code, 2);
  assert.equal((await captured(['--sparsity', '0.5', '--scope', 'layer', 'a.onnx', 'b.onnx'])).code, 2);
  assert.equal((await captured(['--sparsity', '0.5', '--bogus', 'a.onnx', 'b.onnx'])).code, 2);
});

test('pruneguard prune reports an unreadable model with exit code 1 and its path', async () => {
  const result = await captured(['--sparsity', '0.5', 'test/fixtures/corrupt.onnx', '/tmp/never.onnx']);
  assert.equal(result.code, 1);
  assert.match(result.err, /test\/fixtures\/corrupt\.onnx: not a valid ONNX model/);
});
