import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { RunningOperator } from '../../../src/controller/operator.js';
import type { ReconcilerOptions } from '../../../src/controller/reconciler.js';
import { eventually, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, startTestOperator, type TestOperatorOptions } from '../../support/operator.js';
import { PodRunner, type PodRunnerOptions } from '../../support/pod-runner.js';
import { restrictedJobTemplate } from '../../support/retraining-template.js';
import {
  evaluationRunNames,
  group,
  prunedModelEvaluationNames,
  version,
  type EvaluationRun,
  type PrunedModelEvaluation,
} from '../../../src/api/v1alpha1/index.js';

type Json = Record<string, unknown>;

const fixtureTree = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

/**
 * A temporary folder standing for the volumes of the claims `models` and `data`: both hold the
 * fixture tree (pvc://models/penguins/teacher.onnx, pvc://data/penguins/current.jsonl). The
 * caller removes it.
 */
export async function fixtureClaimsRoot(prefix: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  await symlink(fixtureTree, path.join(root, 'models'));
  await symlink(fixtureTree, path.join(root, 'data'));
  return root;
}

/** The penguins data as the models were trained on it: every input, Island categorical, sliced by Island. */
export const penguinsData = {
  reference: { uri: 'pvc://data/penguins/reference.csv' },
  current: { uri: 'pvc://data/penguins/current.jsonl' },
  features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)', 'Island'],
  categoricalFeatures: ['Island'],
  label: 'Species',
  slices: ['Island'],
};

/**
 * Thresholds under which pvc://models/penguins/pruned-30.onnx passes on the penguins data (and
 * pruned-95.onnx is Critical on accuracy): tests of the control loop need a Pass. The
 * hardware-dependent metrics are measured and reported, not graded. With the default 0.10 PSI
 * target, PSI 0.14 on 133 vs 200 rows is within its noise band (0–0.23) and grades Inconclusive,
 * which holds; the target sits above that band.
 */
export const passingThresholds = {
  psi: { target: 0.2, warning: 0.3 },
  p95LatencyMs: { enabled: false },
  throughputQps: { enabled: false },
  memoryRatio: { enabled: false },
  powerWatts: { enabled: false },
  energyPer1kInferencesJoules: { enabled: false },
  carbonKgPer1M: { enabled: false },
};

/** spec.retraining of an evaluation whose Critical verdict starts a Job that passes Pod Security "restricted". */
export const retrainingJobTemplate = { jobTemplate: restrictedJobTemplate() };

/** spec.target steering the pair createDeploymentPair makes. */
export const pairTarget = (name = 'penguins', stepWeight?: number) => ({
  deploymentPair: { stable: name, canary: `${name}-canary`, ...(stepWeight ? { stepWeight } : {}) },
});

/** A penguins evaluation reading its models and data from the claims `models` and `data`. */
export function penguinsEvaluation(name: string, spec: Json = {}): Json {
  return {
    apiVersion: `${group}/${version}`,
    kind: prunedModelEvaluationNames.kind,
    metadata: { name },
    spec: {
      teacher: { uri: 'pvc://models/penguins/teacher.onnx' },
      candidate: { uri: 'pvc://models/penguins/pruned-30.onnx' },
      data: {
        reference: { uri: 'pvc://data/penguins/reference.csv' },
        current: { uri: 'pvc://data/penguins/current.jsonl' },
        features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'],
        label: 'Species',
        slices: ['Island'],
      },
      schedule: { interval: '1h' },
      ...spec,
    },
  };
}

export class Objects {
  private readonly api: CustomObjectsApi;
  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async createEvaluation(body: Json): Promise<PrunedModelEvaluation> {
    return (await this.api.createNamespacedCustomObject({
      group,
      version,
      namespace: this.namespace,
      plural: prunedModelEvaluationNames.plural,
      body,
    })) as PrunedModelEvaluation;
  }

  async evaluation(name: string): Promise<PrunedModelEvaluation> {
    return (await this.api.getNamespacedCustomObject({
      group,
      version,
      namespace: this.namespace,
      plural: prunedModelEvaluationNames.plural,
      name,
    })) as PrunedModelEvaluation;
  }

  async patchEvaluation(name: string, body: Json): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      { group, version, namespace: this.namespace, plural: prunedModelEvaluationNames.plural, name, body },
      (await import('../../../src/actuators/kubernetes.js')).mergePatch,
    );
  }

  async deleteEvaluation(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({
      group,
      version,
      namespace: this.namespace,
      plural: prunedModelEvaluationNames.plural,
      name,
    });
  }

  async runs(): Promise<EvaluationRun[]> {
    const list = (await this.api.listNamespacedCustomObject({
      group,
      version,
      namespace: this.namespace,
      plural: evaluationRunNames.plural,
    })) as { items: EvaluationRun[] };
    return list.items.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  }
}

/**
 * A stable/canary Deployment pair `<name>` and `<name>-canary` the evaluation steers; `container`
 * is merged over the pods' container (kwok nodes run any image name, a real node only its own).
 */
export async function createDeploymentPair(
  kc: KubeConfig,
  namespace: string,
  stable: number,
  canary: number,
  name = 'penguins',
  container: Record<string, unknown> = {},
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  for (const [deployment, replicas] of [
    [name, stable],
    [`${name}-canary`, canary],
  ] as const) {
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: deployment },
        spec: {
          replicas,
          selector: { matchLabels: { app: deployment } },
          template: {
            metadata: { labels: { app: deployment } },
            spec: { containers: [{ name: 'model', image: `${deployment}:1`, ...container }] },
          },
        },
      },
    });
  }
}

export async function replicasOf(
  kc: KubeConfig,
  namespace: string,
  name = 'penguins',
): Promise<{ stable: number; canary: number }> {
  const apps = kc.makeApiClient(AppsV1Api);
  const [stable, canary] = await Promise.all([
    apps.readNamespacedDeployment({ name, namespace }),
    apps.readNamespacedDeployment({ name: `${name}-canary`, namespace }),
  ]);
  return { stable: stable.spec!.replicas!, canary: canary.spec!.replicas! };
}

/**
 * PersistentVolumeClaims `names`, each bound to a hostPath PersistentVolume under `pvcRoot/<name>`
 * (the folder the pod runner links into evaluation pods), so the scheduler can place the pods.
 */
export async function createClaims(
  kc: KubeConfig,
  namespace: string,
  pvcRoot: string,
  names: string[],
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of names) {
    const volume = `${namespace}-${name}`.slice(0, 63);
    await core.createPersistentVolume({
      body: {
        metadata: { name: volume },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadOnlyMany'],
          hostPath: { path: `${pvcRoot}/${name}` },
          storageClassName: '',
          // Retain: with Delete, kube-controller-manager removes the host path once the test's
          // namespace is gone, and a later test in the same file finds its claims' folder missing.
          persistentVolumeReclaimPolicy: 'Retain',
          claimRef: { namespace, name },
        },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name },
        spec: {
          accessModes: ['ReadOnlyMany'],
          storageClassName: '',
          volumeName: volume,
          resources: { requests: { storage: '1Gi' } },
        },
      },
    });
  }
  // A pod created before its claims are bound waits in the scheduler's backoff queue; wait here instead.
  await eventually(`claims ${names.join(', ')} to be Bound`, async () => {
    const claims = await core.listNamespacedPersistentVolumeClaim({ namespace });
    const bound = names.every((name) =>
      claims.items.some((c) => c.metadata?.name === name && c.status?.phase === 'Bound'),
    );
    return bound ? true : undefined;
  });
}

/** The whole loop on a control plane: what the steering tests share. */
export interface Loop {
  pods: PodRunner;
  operator: RunningOperator;
  /** The folder behind the fixture claims (createClaims). */
  pvcRoot: string;
  stop(): Promise<void>;
}

/**
 * pruneguard installed, the fixture claims' folder, the emulated kubelet running the evaluation
 * pods that `labelSelector` picks (their real command, unless `fate` says otherwise) and one
 * operator: started once per describe, stopped after it.
 */
export async function startLoop(
  cluster: TestCluster,
  options: {
    labelSelector: string;
    fate?: PodRunnerOptions['fate'];
    reconciler?: Partial<ReconcilerOptions>;
    log?: TestOperatorOptions['log'];
  },
): Promise<Loop> {
  await installPruneguard(cluster);
  const pvcRoot = await fixtureClaimsRoot('pruneguard-pv-');
  const pods = new PodRunner(cluster.kubeConfig(), {
    pvcRoot,
    labelSelector: options.labelSelector,
    extraEnv: { PRUNEGUARD_MEASUREMENT: 'quick' },
    ...(options.fate ? { fate: options.fate } : {}),
  });
  await pods.start();
  const operator = await startTestOperator(cluster, {
    ...(options.reconciler ? { reconciler: options.reconciler } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    pods,
    operator,
    pvcRoot,
    stop: async () => {
      await operator.stop();
      await pods.stop();
      await rm(pvcRoot, { recursive: true, force: true });
    },
  };
}
