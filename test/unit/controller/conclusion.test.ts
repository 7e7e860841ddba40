import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Action, EvaluationRun, PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';
import { concludeFailed, recordActions } from '../../../src/controller/conclusion.js';
import { parsedEvaluation } from './parsed-evaluation.js';

const now = new Date('2026-11-29T10:00:00Z');

function run(name: string, targetRevision?: string): EvaluationRun {
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'EvaluationRun',
    metadata: { name, namespace: 'ml' },
    spec: {
      evaluationName: 'penguins',
      generation: 1,
      shards: 1,
      ...(targetRevision ? { targetRevision } : {}),
      evaluationSpec: parsedEvaluation().spec,
    },
  };
}

function withStatus(evaluation: PrunedModelEvaluation, status: PrunedModelEvaluation['status']) {
  return { ...evaluation, status };
}

const rollout = { target: { rollout: { name: 'web' } } };

describe('what a run records about its actions', () => {
  it('new actions are Pending with the revision the run evaluated; open ones of earlier runs are Superseded', () => {
    const open: Action = {
      type: 'Advance',
      target: 'Rollout/web',
      run: 'penguins-00001',
      at: '2026-11-29T09:00:00Z',
      reason: 'r',
      dryRun: false,
      state: 'Pending',
    };
    const done: Action = { ...open, type: 'Hold', state: 'Done' };
    const evaluation = withStatus(parsedEvaluation(rollout), { actions: [done, open] });
    const actions = recordActions(
      evaluation,
      run('penguins-00002', 'abc'),
      [{ type: 'Rollback', reason: 'accuracyDrop' }],
      now,
    );
    assert.deepEqual(
      actions.map((a) => [a.run, a.type, a.state, a.revision]),
      [
        ['penguins-00001', 'Hold', 'Done', undefined],
        ['penguins-00001', 'Advance', 'Superseded', undefined],
        ['penguins-00002', 'Rollback', 'Pending', 'abc'],
      ],
    );
    assert.equal(actions[2]!.target, 'Rollout/web');
    assert.equal(actions[1]!.detail, 'superseded by penguins-00002');
  });

  it('recording the same run twice adds nothing (a repeated reconcile)', () => {
    const evaluation = parsedEvaluation(rollout);
    const first = recordActions(
      evaluation,
      run('penguins-00002', 'abc'),
      [{ type: 'Hold', reason: 'r' }],
      now,
    );
    const again = recordActions(
      withStatus(evaluation, { actions: first }),
      run('penguins-00002', 'abc'),
      [{ type: 'Hold', reason: 'r' }],
      now,
    );
    assert.deepEqual(again, first);
  });
});

describe('failed runs in a row', () => {
  const failure = { state: 'failed' as const, reason: 'OOMKilled', message: 'exit 137' };
  const evaluation = (failedBefore: number, policy: Record<string, unknown> = {}) =>
    withStatus(
      parsedEvaluation({ ...rollout, policy: { failedRunLimit: 3, onFailure: 'rollback', ...policy } }),
      {
        consecutiveFailedRuns: failedBefore,
      },
    );

  it('hold below failedRunLimit, then do what onFailure says, once announced', () => {
    const below = concludeFailed(evaluation(1), run('penguins-00003', 'abc'), failure, now);
    assert.equal(below.status.consecutiveFailedRuns, 2);
    assert.deepEqual(
      below.status.actions?.map((a) => a.type),
      ['Hold'],
    );
    assert.deepEqual(
      below.events.map((e) => e.reason),
      ['EvaluationFailed'],
    );

    const reached = concludeFailed(evaluation(2), run('penguins-00003', 'abc'), failure, now);
    assert.equal(reached.status.consecutiveFailedRuns, 3);
    assert.deepEqual(
      reached.status.actions?.map((a) => a.type),
      ['Rollback'],
    );
    assert.match(
      reached.status.actions![0]!.reason,
      /3 failed runs in a row \(policy\.failedRunLimit 3, onFailure rollback\)/,
    );
    assert.deepEqual(
      reached.events.map((e) => e.reason),
      ['EvaluationFailed', 'FailedRunLimitReached'],
    );

    const beyond = concludeFailed(evaluation(3), run('penguins-00004', 'abc'), failure, now);
    assert.deepEqual(
      beyond.events.map((e) => e.reason),
      ['EvaluationFailed'],
      'announced once per streak',
    );
  });

  it('the default onFailure keeps holding', () => {
    const held = concludeFailed(
      evaluation(5, { onFailure: 'hold' }),
      run('penguins-00007', 'abc'),
      failure,
      now,
    );
    assert.deepEqual(
      held.status.actions?.map((a) => a.type),
      ['Hold'],
    );
  });
});
