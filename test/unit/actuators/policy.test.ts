import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideActions } from '../../../src/actuators/policy.js';
import type { Policy, Verdict } from '../../../src/api/v1alpha1/index.js';

const policy: Policy = {
  onPass: 'advance',
  onWarning: 'hold',
  onCritical: 'rollback',
  consecutiveBreaches: 2,
  failedRunLimit: 3,
  onFailure: 'hold',
  retryAborted: false,
  dryRun: false,
};

function decide(effectiveVerdict: Verdict, overrides: Partial<Parameters<typeof decideActions>[0]> = {}) {
  return decideActions({
    effectiveVerdict,
    enteredCritical: false,
    policy,
    hasTarget: true,
    hasRetraining: true,
    reason: 'r',
    ...overrides,
  }).map((a) => a.type);
}

describe('decideActions (the design verdict table)', () => {
  it('Pass advances, or promotes, or does nothing', () => {
    assert.deepEqual(decide('Pass'), ['Advance']);
    assert.deepEqual(decide('Pass', { policy: { ...policy, onPass: 'promote' } }), ['Promote']);
    assert.deepEqual(decide('Pass', { policy: { ...policy, onPass: 'none' } }), []);
  });
  it('Warning holds', () => assert.deepEqual(decide('Warning'), ['Hold']));
  it('Critical rolls back; retraining starts only when entering Critical', () => {
    assert.deepEqual(decide('Critical'), ['Rollback']);
    assert.deepEqual(decide('Critical', { enteredCritical: true }), ['Rollback', 'Retrain']);
    assert.deepEqual(decide('Critical', { enteredCritical: true, hasRetraining: false }), ['Rollback']);
  });
  it('Inconclusive holds and never rolls back, whatever the policy', () => {
    assert.deepEqual(
      decide('Inconclusive', { policy: { ...policy, onCritical: 'rollback' }, enteredCritical: true }),
      ['Hold'],
    );
  });
  it('failed runs hold until failedRunLimit in a row, then do what onFailure says', () => {
    const rollbackOnFailure = { ...policy, onFailure: 'rollback' as const };
    assert.deepEqual(decide('Inconclusive', { failedRunsInARow: 2, policy: rollbackOnFailure }), ['Hold']);
    assert.deepEqual(decide('Inconclusive', { failedRunsInARow: 3, policy: rollbackOnFailure }), [
      'Rollback',
    ]);
    assert.deepEqual(decide('Inconclusive', { failedRunsInARow: 3 }), ['Hold']);
    assert.deepEqual(
      decide('Inconclusive', { failedRunsInARow: 5, policy: { ...policy, onFailure: 'none' } }),
      [],
    );
    assert.deepEqual(
      decide('Inconclusive', { failedRunsInARow: 3, policy: rollbackOnFailure, hasRetraining: true }),
      ['Rollback'],
      'a failed run never retrains',
    );
  });
  it('without a target only retraining can happen', () => {
    assert.deepEqual(decide('Critical', { hasTarget: false, enteredCritical: true }), ['Retrain']);
    assert.deepEqual(decide('Pass', { hasTarget: false }), []);
  });
});
