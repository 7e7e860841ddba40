/**
 * runtime.timeoutSeconds inside the evaluator: wherever the deadline finds the evaluation (waiting
 * on a source, between batches, measuring), it stops there and says where. The deadline is the
 * AbortSignal both commands pass to evaluateShard; tests abort it at the moment they want.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';

import { EvaluationTimeoutError, evaluationDeadline } from '../../../src/evaluator/deadline.js';
import { quickBudget } from '../../../src/evaluator/measurements.js';
import { evaluateShard, type Progress } from '../../../src/evaluator/pipeline.js';
import { fileUri, fixtureEvaluation, fixtureManifest } from './fixture-specs.js';
import { headersThenSilence, httpServer } from './stalling-servers.js';

const passed = () => new EvaluationTimeoutError('runtime.timeoutSeconds (30 s) passed');

describe('evaluationDeadline', () => {
  test('aborts timeoutSeconds after the start, with a message naming the field', async () => {
    const deadline = evaluationDeadline(0.05);
    assert.equal(deadline.aborted, false);
    // The deadline's own timer does not keep a process alive; this one does.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(deadline.aborted, true);
    assert.ok(deadline.reason instanceof EvaluationTimeoutError);
    assert.equal((deadline.reason as Error).message, 'runtime.timeoutSeconds (0.05 s) passed');
  });

  test('counts from the given start, so time already spent counts', async () => {
    const late = evaluationDeadline(30, Date.now() - 31_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(late.aborted, true);
    assert.equal(evaluationDeadline(30, Date.now() - 29_000).aborted, false);
  });

  test('every read in flight listens to it, without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const deadline = evaluationDeadline(30);
      for (let read = 0; read < 32; read++) deadline.addEventListener('abort', () => {});
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });
});

describe('evaluateShard under a deadline', () => {
  const run = (
    spec = fixtureEvaluation().spec,
    deadline: AbortController,
    onProgress?: (p: Progress) => void,
  ) =>
    evaluateShard(spec, {
      shardIndex: 0,
      shardCount: 1,
      measurement: quickBudget,
      deadline: deadline.signal,
      ...(onProgress ? { onProgress } : {}),
    });

  test('waiting on a stalled current data source: stops at the deadline naming the data and the URI', async () => {
    const deadline = new AbortController();
    const stalled = headersThenSilence();
    const server = await httpServer((request, response) => {
      stalled(request, response);
      setTimeout(() => deadline.abort(passed()), 100);
    });
    const spec = fixtureEvaluation().spec;
    spec.data.current.uri = `${server.url}/current.jsonl`;
    try {
      await assert.rejects(run(spec, deadline), {
        message: `current data ${server.url}/current.jsonl: runtime.timeoutSeconds (30 s) passed (response ok, 0 bytes received)`,
      });
    } finally {
      server.close();
    }
  });

  test('between batches: stops after the batch in hand, naming the data and the rows done', async () => {
    const deadline = new AbortController();
    await assert.rejects(
      run(undefined, deadline, (progress) => {
        if (progress.phase === 'reference' && progress.rows > 0) deadline.abort(passed());
      }),
      {
        name: 'EvaluationTimeoutError',
        message: `reference data ${fileUri(fixtureManifest.penguins.data.reference)}: runtime.timeoutSeconds (30 s) passed after ${fixtureManifest.penguins.rows.reference} rows`,
      },
    );
  });

  test('measuring: stops before the next request', async () => {
    const deadline = new AbortController();
    await assert.rejects(
      run(undefined, deadline, (progress) => {
        if (progress.phase === 'measuring') deadline.abort(passed());
      }),
      {
        name: 'EvaluationTimeoutError',
        message: 'runtime.timeoutSeconds (30 s) passed while measuring latency',
      },
    );
  });

  test('already passed: the first model is not read', async () => {
    const deadline = new AbortController();
    deadline.abort(passed());
    await assert.rejects(run(undefined, deadline), {
      message: `teacher model ${fileUri(fixtureManifest.penguins.models.teacher)}: runtime.timeoutSeconds (30 s) passed (${path.resolve(fixtureManifest.penguins.models.teacher)})`,
    });
  });
});
