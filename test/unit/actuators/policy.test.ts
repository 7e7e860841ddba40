import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideActions } from '../../../src/actuators/policy.js';
import type { Policy, Verdict } from '../../../src/api/v1alpha1/index.js';

const policy: Policy = {
  onPass: 'advance',
  onWarning: 'hold',
  onCritical: 'rollback',
  consecutiveBreaches: 2,
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
  it('without a target only retraining can happen', () => {
    assert.deepEqual(decide('Critical', { hasTarget: false, enteredCritical: true }), ['Retrain']);
    assert.deepEqual(decide('Pass', { hasTarget: false }), []);
  });
});
