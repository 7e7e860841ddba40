/**
 * Canary Rollouts on the kwok nodes, run by the genuine Argo Rollouts controller of their
 * namespace (test/support/argo-rollouts.ts): created, rolled to a new revision and watched the way
 * a person with kubectl would, so that tests can assert on what the controller did.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ObjectMeta,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { startArgoRollouts, type ArgoRolloutsController, type RolloutStatus } from './argo-rollouts.js';
import { eventually, testCluster, testNamespace } from './cluster.js';
import { installCrds } from './crds.js';

export const podHashLabel = 'rollouts-pod-template-hash';
/** The field manager of the tests' own writes, so managedFields tell them from anyone else's. */
export const testFieldManager = 'pruneguard-test';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** setWeight 25, an indefinite pause, setWeight 50, a 5 s pause. */
export const indefinitePauseSteps = [
  { setWeight: 25 },
  { pause: {} },
  { setWeight: 50 },
  { pause: { duration: '5s' } },
];

/** A Rollout as the API server returns it. */
export interface Rollout {
  metadata: V1ObjectMeta;
  spec: { paused?: boolean };
  status?: RolloutStatus;
}

export interface CanaryRolloutOptions {
  name?: string;
  replicas?: number;
  steps?: unknown[];
  /** Merged over every revision's container (kwok nodes run any image name, a real node only its own). */
  container?: Record<string, unknown>;
}

/** One canary Rollout, by name, in the namespace of its controller. */
export class CanaryRollout {
  readonly name: string;
  readonly replicas: number;
  readonly steps: unknown[];
  private readonly container: Record<string, unknown>;
  private readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly params: { group: string; version: string; namespace: string; plural: string };

  constructor(
    kc: KubeConfig,
    readonly argo: ArgoRolloutsController,
    options: CanaryRolloutOptions = {},
  ) {
    this.name = options.name ?? 'web';
    this.replicas = options.replicas ?? 4;
    this.steps = options.steps ?? indefinitePauseSteps;
    this.container = options.container ?? {};
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.params = {
      group: 'argoproj.io',
      version: 'v1alpha1',
      namespace: argo.namespace,
      plural: 'rollouts',
    };
  }

  get namespace(): string {
    return this.argo.namespace;
  }

  /** `revision` goes in the pod's environment, so that each revision is a new pod template. */
  private podTemplate(revision: string, podSpec: Record<string, unknown>) {
    return {
      metadata: { labels: { app: this.name } },
      spec: {
        containers: [
          {
            name: this.name,
            image: 'registry.k8s.io/pause:3.10',
            env: [{ name: 'REVISION', value: revision }],
            ...this.container,
          },
        ],
        ...podSpec,
      },
    };
  }

  /**
   * Creates the Rollout at revision 1 and waits until it is fully rolled out: a first revision has
   * nothing to compare with, so the controller skips the steps.
   */
  async create(): Promise<RolloutStatus> {
    await this.custom.createNamespacedCustomObject({
      ...this.params,
      fieldManager: testFieldManager,
      body: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        metadata: { name: this.name },
        spec: {
          replicas: this.replicas,
          selector: { matchLabels: { app: this.name } },
          template: this.podTemplate('1', {}),
          strategy: { canary: { steps: this.steps } },
        },
      },
    });
    const first = await this.waitFor(
      'the first revision to be Healthy',
      (s) => s.phase === 'Healthy' && s.availableReplicas === this.replicas,
    );
    assert.equal(first.currentPodHash, first.stableRS, 'the first revision is fully promoted');
    return first;
  }

  /**
   * Changes the pod template to `revision` (with `podSpec` merged into the pod's spec) and waits
   * until the controller reports it as the current revision (status.currentPodHash).
   */
  async roll(revision: string, podSpec: Record<string, unknown> = {}): Promise<RolloutStatus> {
    const before = (await this.get()).status?.currentPodHash;
    await this.custom.patchNamespacedCustomObject(
      {
        ...this.params,
        name: this.name,
        fieldManager: testFieldManager,
        body: { spec: { template: this.podTemplate(revision, podSpec) } },
      },
      mergePatch,
    );
    return this.waitFor(
      `revision ${revision} to be the Rollout's current revision`,
      (s) => s.currentPodHash !== undefined && s.currentPodHash !== before,
    );
  }

  /** Rolls `revision` out and waits until the controller holds its canary at the indefinite pause (step 1). */
  async rollToIndefinitePause(revision: string): Promise<RolloutStatus> {
    const { currentPodHash } = await this.roll(revision);
    const paused = await this.waitFor(
      'the canary to stop at the indefinite pause (step 1)',
      (s) =>
        s.currentPodHash === currentPodHash &&
        s.currentStepIndex === 1 &&
        s.pauseConditions?.some((c) => c.reason === 'CanaryPauseStep') === true,
    );
    assert.equal(paused.phase, 'Paused');
    return paused;
  }

  async get(): Promise<Rollout> {
    return (await this.custom.getNamespacedCustomObject({ ...this.params, name: this.name })) as Rollout;
  }

  /** Polls until `accept` holds; a timeout reports the last status and the controller's log. */
  async waitFor(
    what: string,
    accept: (status: RolloutStatus, rollout: Rollout) => boolean,
    timeoutMs = 90_000,
  ): Promise<RolloutStatus> {
    let last: Rollout | undefined;
    try {
      return await eventually(
        what,
        async () => {
          last = await this.get();
          const status = last.status ?? {};
          return accept(status, last) ? status : undefined;
        },
        timeoutMs,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nlast spec.paused: ${last?.spec.paused}, status: ${JSON.stringify(last?.status)}\n` +
          `rollouts-controller log:\n${await this.argo.logTail(20)}`,
      );
    }
  }

  async replicaSet(hash: string): Promise<V1ReplicaSet> {
    const list = await this.apps.listNamespacedReplicaSet({
      namespace: this.namespace,
      labelSelector: `${podHashLabel}=${hash}`,
    });
    assert.equal(list.items.length, 1, `one ReplicaSet with ${podHashLabel}=${hash}`);
    return list.items[0]!;
  }

  /** Waits until the ReplicaSet of `hash` wants `replicas` and has them all available. */
  async waitForReplicas(hash: string, replicas: number): Promise<V1ReplicaSet> {
    let last: V1ReplicaSet | undefined;
    try {
      return await eventually(
        `the ReplicaSet ${hash} to have ${replicas} available replica(s)`,
        async () => {
          last = await this.replicaSet(hash);
          const available = last.status?.availableReplicas ?? 0;
          return last.spec?.replicas === replicas && available === replicas ? last : undefined;
        },
        60_000,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nlast: spec.replicas ${last?.spec?.replicas}, status ${JSON.stringify(last?.status)}`,
      );
    }
  }

  /** Messages of the Events the controller recorded on the Rollout. */
  async events(): Promise<string[]> {
    const fieldSelector = `involvedObject.kind=Rollout,involvedObject.name=${this.name}`;
    const list = await this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector });
    return list.items.map((event) => event.message ?? '');
  }
}

/**
 * A fresh namespace with its own Argo Rollouts controller (stopped when the test ends) and a
 * canary Rollout in it, not yet created.
 */
export async function canaryRolloutFor(
  t: TestContext,
  options: CanaryRolloutOptions = {},
): Promise<CanaryRollout> {
  const cluster = await testCluster();
  await installCrds(cluster);
  const namespace = await testNamespace(t, cluster);
  const argo = await startArgoRollouts(cluster, namespace);
  t.after(() => argo.stop());
  return new CanaryRollout(cluster.kubeConfig(), argo, options);
}

export interface CanaryAtPause {
  rollout: CanaryRollout;
  stableHash: string;
  canaryHash: string;
}

/**
 * A 4-replica canary Rollout (`indefinitePauseSteps`): the first revision fully rolled out, the
 * second started and held by the controller at the indefinite pause, 1 replica of 4 on the canary.
 */
export async function canaryAtIndefinitePause(t: TestContext): Promise<CanaryAtPause> {
  const rollout = await canaryRolloutFor(t);
  const stableHash = (await rollout.create()).stableRS!;
  const paused = await rollout.rollToIndefinitePause('2');
  assert.deepEqual(
    paused.pauseConditions?.map((c) => c.reason),
    ['CanaryPauseStep'],
  );
  assert.equal(paused.stableRS, stableHash);
  const canaryHash = paused.currentPodHash!;
  assert.equal(
    (await rollout.waitForReplicas(canaryHash, 1)).spec?.replicas,
    1,
    'setWeight 25 of 4 replicas',
  );
  assert.equal(
    (await rollout.replicaSet(stableHash)).spec?.replicas,
    3,
    'the stable ReplicaSet makes up the rest',
  );
  return { rollout, stableHash, canaryHash };
}
