import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Intent, TargetVerb } from '../../../src/actuators/actuator.js';
import {
  confirmRollout,
  decideRollout,
  rolloutState,
  situation,
  type RolloutState,
} from '../../../src/actuators/argo-rollout.js';

/** A canary Rollout of 4 steps, revision "new" against stable "old", at step 1's indefinite pause. */
function rollout(change: Partial<RolloutState> = {}): RolloutState {
  return {
    ...rolloutState({
      metadata: { resourceVersion: '7' },
      spec: { strategy: { canary: { steps: [{}, {}, {}, {}] } } },
      status: {
        currentPodHash: 'new',
        stableRS: 'old',
        currentStepIndex: 1,
        pauseConditions: [{ reason: 'CanaryPauseStep' }],
        phase: 'Paused',
      },
    }),
    ...change,
  };
}

const intent = (verb: TargetVerb, retryAborted = false): Intent => ({
  run: 'web-00002',
  verb,
  revision: 'new',
  retryAborted,
});

const states = {
  paused: rollout(),
  progressing: rollout({ pauseReasons: [], phase: 'Progressing' }),
  fullyPromoted: rollout({ revision: 'old', pauseReasons: [], currentStepIndex: 4, phase: 'Healthy' }),
  aborted: rollout({ abort: true, pauseReasons: [], phase: 'Degraded' }),
};

describe('what a verdict means for a Rollout (docs/architecture.md, the semantics table)', () => {
  const cases: [TargetVerb, keyof typeof states, string, RegExp][] = [
    ['Advance', 'paused', 'write', /promoted past step 1 of 4 \(CanaryPauseStep\)/],
    ['Advance', 'progressing', 'wait', /waiting for the canary to pause/],
    ['Advance', 'fullyPromoted', 'skip', /nothing to advance/],
    ['Advance', 'aborted', 'skip', /retryAborted is false/],
    ['Promote', 'paused', 'write', /promoteFull/],
    ['Promote', 'progressing', 'write', /promoteFull/],
    ['Promote', 'fullyPromoted', 'skip', /nothing to promote/],
    ['Hold', 'paused', 'write', /spec\.paused/],
    ['Hold', 'progressing', 'write', /timed pauses included/],
    ['Hold', 'fullyPromoted', 'skip', /no canary in progress/],
    ['Hold', 'aborted', 'skip', /nothing to hold/],
    ['Rollback', 'paused', 'write', /aborted/],
    ['Rollback', 'progressing', 'write', /aborted/],
    ['Rollback', 'fullyPromoted', 'write', /nothing to roll back .* next revision stops at its first step/],
    ['Rollback', 'aborted', 'skip', /already aborted/],
  ];
  for (const [verb, where, kind, detail] of cases) {
    it(`${verb} on a ${where} Rollout: ${kind}`, () => {
      assert.equal(situation(states[where]), where);
      const decision = decideRollout(intent(verb), states[where]);
      assert.equal(decision.kind, kind);
      assert.match(decision.detail, detail);
    });
  }

  it('writes what kubectl argo rollouts writes, with the decision stamped on the Rollout', () => {
    const writes = (verb: TargetVerb, state: RolloutState, retry = false) => {
      const decision = decideRollout(intent(verb, retry), state);
      assert.equal(decision.kind, 'write');
      return decision.kind === 'write' ? decision.writes : undefined;
    };
    assert.deepEqual(writes('Advance', states.paused), {
      stamp: 'web-00002/Advance@step=1',
      status: { pauseConditions: null },
    });
    assert.deepEqual(
      writes(
        'Advance',
        rollout({
          inconclusiveAnalysis: true,
          controllerPause: true,
          pauseReasons: ['InconclusiveAnalysisRun'],
        }),
      ),
      {
        stamp: 'web-00002/Advance@step=1',
        status: { pauseConditions: null, controllerPause: false, currentStepIndex: 2 },
      },
      'an Inconclusive analysis step is passed, as promote does, or the controller pauses it again',
    );
    assert.deepEqual(
      writes('Advance', rollout({ specPaused: true, pauseReasons: [] })),
      { stamp: 'web-00002/Advance@release', spec: { paused: false } },
      'a hold only is lifted; the step in progress carries on',
    );
    assert.deepEqual(writes('Promote', rollout({ specPaused: true })), {
      stamp: 'web-00002/Promote',
      spec: { paused: false },
      status: { promoteFull: true },
    });
    assert.deepEqual(writes('Advance', states.aborted, true), {
      stamp: 'web-00002/Advance@retry',
      status: { abort: false },
    });
    assert.deepEqual(writes('Rollback', states.paused), {
      stamp: 'web-00002/Rollback',
      status: { abort: true },
    });
    assert.deepEqual(writes('Hold', states.progressing), { stamp: 'web-00002/Hold', spec: { paused: true } });
  });

  it('a stamped Advance is not written twice once the Rollout has moved on', () => {
    const stamped = { annotations: { 'pruneguard.io/last-action': 'web-00002/Advance@step=1' } };
    // The controller took it to step 2 and paused there: the second pause is not this run's to lift.
    const moved = rollout({ ...stamped, currentStepIndex: 2 });
    assert.equal(decideRollout(intent('Advance'), moved).kind, 'confirm');
    assert.equal(confirmRollout(intent('Advance'), moved).done, true);
    // Still paused where the first write found it (its status write failed): written again.
    assert.equal(decideRollout(intent('Advance'), rollout(stamped)).kind, 'write');
  });

  it('an abort is done when the controller reports it, and not when it removed it', () => {
    const stamped = { annotations: { 'pruneguard.io/last-action': 'web-00002/Rollback' } };
    assert.equal(
      confirmRollout(intent('Rollback'), rollout({ ...stamped, abort: true, phase: 'Degraded' })).done,
      true,
    );
    assert.equal(
      confirmRollout(intent('Rollback'), rollout({ ...stamped, abort: true, phase: 'Paused' })).done,
      false,
    );
    const removed = confirmRollout(
      intent('Rollback'),
      rollout({ ...stamped, revision: 'old', pauseReasons: [] }),
    );
    assert.equal(removed.done, false);
    assert.match(removed.detail, /the controller removed the abort/);
  });

  it('its own abort, not yet acted on, is confirmed again, never Skipped as "already aborted"', () => {
    const ownAbort = rollout({
      annotations: { 'pruneguard.io/last-action': 'web-00002/Rollback' },
      abort: true,
      phase: 'Paused',
    });
    assert.equal(decideRollout(intent('Rollback'), ownAbort).kind, 'confirm');
    assert.equal(decideRollout(intent('Rollback'), { ...ownAbort, annotations: {} }).kind, 'skip');
  });

  it('a hold is done when the controller reports the Rollout Paused', () => {
    assert.equal(
      confirmRollout(intent('Hold'), rollout({ specPaused: true, phase: 'Progressing' })).done,
      false,
    );
    assert.equal(confirmRollout(intent('Hold'), rollout({ specPaused: true, phase: 'Paused' })).done, true);
  });

  it('blue-green Rollouts are not steered', () => {
    assert.equal(decideRollout(intent('Rollback'), rollout({ canary: false })).kind, 'skip');
  });
});
