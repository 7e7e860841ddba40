import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import {
  startArgoRollouts,
  type ArgoRolloutsController,
  type RolloutStatus,
} from '../../support/argo-rollouts.js';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';
import { installCrds } from '../../support/crds.js';

const name = 'web';
const steps = [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: { duration: '5s' } }];
const podHashLabel = 'rollouts-pod-template-hash';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function podTemplate(revision: string) {
  return {
    metadata: { labels: { app: name } },
    spec: {
      containers: [
        { name, image: 'registry.k8s.io/pause:3.10', env: [{ name: 'REVISION', value: revision }] },
      ],
    },
  };
}

interface Canary {
  argo: ArgoRolloutsController;
  stableHash: string;
  canaryHash: string;
  rollout(what: string, accept: (status: RolloutStatus) => boolean): Promise<RolloutStatus>;
  replicaSet(hash: string): Promise<V1ReplicaSet>;
  /** Messages of the Events the controller recorded on the Rollout. */
  events(): Promise<string[]>;
}

/**
 * A 4-replica canary Rollout on the kwok CPU nodes, run by a real controller: first revision fully
 * rolled out, then a second revision started and held by the controller at the indefinite pause.
 */
async function canaryAtIndefinitePause(t: TestContext): Promise<Canary> {
  const cluster = await testCluster();
  await installCrds(cluster);
  const namespace = await testNamespace(t, cluster);
  const argo = await startArgoRollouts(cluster, namespace);
  t.after(() => argo.stop());
  const kc = cluster.kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const params = { group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'rollouts' };

  const rollout = async (what: string, accept: (status: RolloutStatus) => boolean) => {
    let last: RolloutStatus | undefined;
    try {
      return await eventually(
        what,
        async () => {
          const live = (await custom.getNamespacedCustomObject({ ...params, name })) as {
            status?: RolloutStatus;
          };
          last = live.status ?? {};
          return accept(last) ? last : undefined;
        },
        90_000,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nlast status: ${JSON.stringify(last)}\n` +
          `rollouts-controller log:\n${await argo.logTail(20)}`,
      );
    }
  };
  const replicaSet = async (hash: string) => {
    const list = await apps.listNamespacedReplicaSet({ namespace, labelSelector: `${podHashLabel}=${hash}` });
    assert.equal(list.items.length, 1, `one ReplicaSet with ${podHashLabel}=${hash}`);
    return list.items[0]!;
  };

  await custom.createNamespacedCustomObject({
    ...params,
    body: {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: name } },
        template: podTemplate('1'),
        strategy: { canary: { steps } },
      },
    },
  });
  // A first revision has nothing to compare with: the controller rolls it out at once.
  const first = await rollout(
    'the first revision to be Healthy',
    (s) => s.phase === 'Healthy' && s.availableReplicas === 4,
  );
  const stableHash = first.stableRS!;
  assert.equal(first.currentPodHash, stableHash);

  await custom.patchNamespacedCustomObject(
    { ...params, name, body: { spec: { template: podTemplate('2') } } },
    mergePatch,
  );
  const paused = await rollout(
    'the canary to stop at the indefinite pause (step 1)',
    (s) =>
      s.currentStepIndex === 1 && (s.pauseConditions?.length ?? 0) > 0 && s.currentPodHash !== stableHash,
  );
  assert.equal(paused.phase, 'Paused');
  assert.deepEqual(
    paused.pauseConditions?.map((c) => c.reason),
    ['CanaryPauseStep'],
  );
  const canaryHash = paused.currentPodHash!;
  assert.equal(paused.stableRS, stableHash);
  const canary = await eventually('the canary ReplicaSet to have 1 available replica', async () => {
    const rs = await replicaSet(canaryHash);
    return rs.status?.availableReplicas === 1 ? rs : undefined;
  });
  assert.equal(canary.spec?.replicas, 1, 'setWeight 25 of 4 replicas');
  assert.equal((await replicaSet(stableHash)).spec?.replicas, 3, 'the stable ReplicaSet makes up the rest');
  const events = async () => {
    const fieldSelector = `involvedObject.kind=Rollout,involvedObject.name=${name}`;
    const list = await core.listNamespacedEvent({ namespace, fieldSelector });
    return list.items.map((event) => event.message ?? '');
  };
  return { argo, stableHash, canaryHash, rollout, replicaSet, events };
}

describe('the genuine Argo Rollouts controller runs in the test ground', () => {
  it('holds a canary at its indefinite pause; kubectl argo rollouts promote takes it to a fully promoted, Healthy Rollout', async (t) => {
    const { argo, stableHash, canaryHash, rollout, replicaSet, events } = await canaryAtIndefinitePause(t);

    const promote = await argo.kubectlArgoRollouts(['promote', name]);
    assert.equal(promote.code, 0, promote.stderr);
    assert.match(promote.stdout, /promoted/);

    await rollout(
      'the Rollout to move past its indefinite pause (step 1)',
      (s) => (s.currentStepIndex ?? 0) >= 2,
    );
    const done = await rollout(
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
      const recorded = await events();
      return completed.every((message) => recorded.includes(message)) ? recorded : undefined;
    });
    await eventually('the old revision to be scaled to 0', async () => {
      const old = await replicaSet(stableHash);
      return old.spec?.replicas === 0 && (old.status?.replicas ?? 0) === 0 ? old : undefined;
    });
    assert.equal((await replicaSet(canaryHash)).status?.availableReplicas, 4);
  });

  it('kubectl argo rollouts abort scales the canary back to 0 and the Rollout reports Degraded', async (t) => {
    const { argo, stableHash, canaryHash, rollout, replicaSet } = await canaryAtIndefinitePause(t);

    const abort = await argo.kubectlArgoRollouts(['abort', name]);
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /aborted/);

    const aborted = await rollout(
      'the Rollout to report Degraded after the abort',
      (s) => s.phase === 'Degraded',
    );
    assert.equal(aborted.abort, true);
    assert.match(aborted.message ?? '', /RolloutAborted/);
    assert.equal(aborted.stableRS, stableHash);
    await eventually('the canary to be scaled to 0 and the stable ReplicaSet back to 4', async () => {
      const [canary, stable] = await Promise.all([replicaSet(canaryHash), replicaSet(stableHash)]);
      const done =
        canary.spec?.replicas === 0 &&
        (canary.status?.replicas ?? 0) === 0 &&
        stable.spec?.replicas === 4 &&
        stable.status?.availableReplicas === 4;
      return done ? true : undefined;
    });
  });
});
