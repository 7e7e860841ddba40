import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '../../support/cluster.js';
import { canaryAtIndefinitePause, indefinitePauseSteps as steps } from '../../support/rollouts.js';

describe('the genuine Argo Rollouts controller runs in the test ground', () => {
  it('holds a canary at its indefinite pause; kubectl argo rollouts promote takes it to a fully promoted, Healthy Rollout', async (t) => {
    const { rollout, stableHash, canaryHash } = await canaryAtIndefinitePause(t);

    const promote = await rollout.argo.kubectlArgoRollouts(['promote', rollout.name]);
    assert.equal(promote.code, 0, promote.stderr);
    assert.match(promote.stdout, /promoted/);

    await rollout.waitFor(
      'the Rollout to move past its indefinite pause (step 1)',
      (s) => (s.currentStepIndex ?? 0) >= 2,
    );
    const done = await rollout.waitFor(
      'the Rollout to finish its steps and be Healthy on the new revision',
      (s) =>
        s.currentStepIndex === steps.length &&
        s.phase === 'Healthy' &&
        s.stableRS === canaryHash &&
        s.updatedReplicas === 4 &&
        s.availableReplicas === 4,
    );
    assert.equal(done.currentPodHash, canaryHash);
    assert.equal(done.pauseConditions, undefined);
    // Step 4 is a 5 s pause that the controller sits out by itself; its Event says it did.
    const completed = [
      'Rollout step 1/4 completed (setWeight: 25)',
      'Rollout step 2/4 completed (pause)',
      'Rollout step 3/4 completed (setWeight: 50)',
      'Rollout step 4/4 completed (pause: 5s)',
    ];
    await eventually(`the controller's Events: ${completed.join('; ')}`, async () => {
      const recorded = await rollout.events();
      return completed.every((message) => recorded.includes(message)) ? recorded : undefined;
    });
    await eventually('the old revision to be scaled to 0', async () => {
      const old = await rollout.replicaSet(stableHash);
      return old.spec?.replicas === 0 && (old.status?.replicas ?? 0) === 0 ? old : undefined;
    });
    assert.equal((await rollout.replicaSet(canaryHash)).status?.availableReplicas, 4);
  });

  it('kubectl argo rollouts abort scales the canary back to 0 and the Rollout reports Degraded', async (t) => {
    const { rollout, stableHash, canaryHash } = await canaryAtIndefinitePause(t);

    const abort = await rollout.argo.kubectlArgoRollouts(['abort', rollout.name]);
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /aborted/);

    const aborted = await rollout.waitFor(
      'the Rollout to report Degraded after the abort',
      (s) => s.phase === 'Degraded',
    );
    assert.equal(aborted.abort, true);
    assert.match(aborted.message ?? '', /RolloutAborted/);
    assert.equal(aborted.stableRS, stableHash);
    await eventually('the canary to be scaled to 0 and the stable ReplicaSet back to 4', async () => {
      const [canary, stable] = await Promise.all([
        rollout.replicaSet(canaryHash),
        rollout.replicaSet(stableHash),
      ]);
      const done =
        canary.spec?.replicas === 0 &&
        (canary.status?.replicas ?? 0) === 0 &&
        stable.spec?.replicas === 4 &&
        stable.status?.availableReplicas === 4;
      return done ? true : undefined;
    });
  });
});
