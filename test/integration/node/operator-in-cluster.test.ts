import assert from 'node:assert/strict';
import { mkdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import {
  helmBinary,
  installChart,
  operatorRelease as release,
  restrictedLabels as restricted,
  uninstallChart,
} from '../../support/chart.js';
import { eventually, testNamespace, type TestCluster } from '../../support/cluster.js';
import { realNodeNetwork } from '../../support/real-node.js';
import {
  realNodeCluster,
  skipUnlessRealNode,
  type RealNodeCluster,
} from '../../support/real-node-cluster.js';
import {
  createClaims,
  Objects,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
} from '../controller/fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtureTree = path.join(repoRoot, 'test/fixtures');
// Outside the work tree, where linters would follow the links into the fixtures.
const claimsRoot = path.join(os.tmpdir(), 'pruneguard-real-node-claims');

/**
 * The image built here (`make image`), installed with the chart's default values, runs in real
 * containers on a real kubelet: the operator (two replicas, leader election, probes, /metrics
 * through its Service) and its evaluation pods, with their data mounted from PersistentVolumes and
 * a memory limit the kernel enforces. Both namespaces enforce Pod Security "restricted".
 */
describe('pruneguard on a real node', { skip: skipUnlessRealNode() }, () => {
  let env: RealNodeCluster;
  let cluster: TestCluster;

  before(async () => {
    env = await realNodeCluster();
    cluster = env.cluster;
    await helmBinary();
  });
  after(async () => {
    await rm(claimsRoot, { recursive: true, force: true });
    if (cluster) await uninstallChart(cluster);
  });

  it('helm install runs the operator from the image: two Ready replicas, one leader, /metrics through its Service', async () => {
    const started = Date.now();
    await installChart(cluster, env.image);
    console.log(`helm install --wait: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const kc = cluster.kubeConfig();
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: release.fullname, namespace: release.namespace });
    assert.equal(deployment.status?.readyReplicas, 2);

    const pods = await operatorPods(cluster);
    assert.equal(pods.length, 2);
    for (const pod of pods) {
      assert.equal(pod.spec?.nodeName, realNodeNetwork.name);
      const status = pod.status?.containerStatuses?.[0];
      assert.equal(status?.ready, true, `${pod.metadata?.name} is Ready (its readiness probe passed)`);
      assert.match(status?.containerID ?? '', /^containerd:\/\//);
      assert.equal(pod.spec?.containers[0]?.image, `${env.image.repository}:${env.image.tag}`);
      assert.match(status?.imageID ?? '', /sha256:[0-9a-f]{64}/);
    }

    const lease = await eventually('a leader', async () => {
      const l = await kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: 'pruneguard-operator', namespace: release.namespace });
      return l.spec?.holderIdentity ? l : undefined;
    });
    assert.ok(
      pods.some((p) => lease.spec!.holderIdentity!.startsWith(p.metadata!.name!)),
      `the lease holder ${lease.spec?.holderIdentity} is one of the pods`,
    );

    // From this machine to the ClusterIP: kube-proxy's rules take it to a pod on the bridge.
    const service = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedService({ name: release.fullname, namespace: release.namespace });
    const metrics = await eventually('/metrics through the Service', async () => {
      const res = await fetch(`http://${service.spec!.clusterIP}:8080/metrics`, {
        signal: AbortSignal.timeout(3000),
      });
      return res.ok ? res.text() : undefined;
    });
    assert.match(metrics, /^pruneguard_leader /m);
  });

  it('runs a CPU evaluation in real containers with its claims mounted, and grades it', async (t) => {
    const namespace = await restrictedNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    // Both claims hold the fixture tree: pvc://models/penguins/teacher.onnx, pvc://data/penguins/...
    await createFixtureClaims(cluster, namespace);
    const started = Date.now();
    await objects.createEvaluation(
      penguinsEvaluation('cpu', { data: penguinsData, thresholds: passingThresholds }),
    );

    const evaluation = await eventually(
      'the run to be graded',
      async () => {
        const e = await objects.evaluation('cpu');
        return e.status?.lastRun?.completedAt ? e : undefined;
      },
      240_000,
      1000,
    );
    console.log(`evaluation created → graded: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(evaluation.status?.verdict, 'Pass', JSON.stringify(evaluation.status?.conditions));
    // The run is graded from its results in the API, which can come before the kubelet reports the exit.
    const pods = await eventually('the evaluation pods to have exited', async () => {
      const list = await evaluationPods(cluster, namespace, 'cpu');
      const exited = list.every((p) => p.status?.containerStatuses?.[0]?.state?.terminated);
      return list.length > 0 && exited ? list : undefined;
    });
    for (const pod of pods) {
      assert.equal(pod.spec?.nodeName, realNodeNetwork.name);
      const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
      assert.equal(terminated?.exitCode, 0);
      assert.match(pod.status?.containerStatuses?.[0]?.containerID ?? '', /^containerd:\/\//);
    }
  });

  it('grades an evaluation the kernel OOM-kills Inconclusive, with the reason', async (t) => {
    const namespace = await restrictedNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createFixtureClaims(cluster, namespace);
    // Too small for Node.js itself: the memory cgroup's OOM killer ends it, not the evaluator.
    await objects.createEvaluation(
      penguinsEvaluation('oom', { runtime: { resources: { limits: { memory: '32Mi' } } } }),
    );

    const evaluation = await eventually(
      'the run to be closed Inconclusive',
      async () => {
        const e = await objects.evaluation('oom');
        return e.status?.lastRun?.completedAt ? e : undefined;
      },
      180_000,
      1000,
    );
    assert.equal(evaluation.status?.verdict, 'Inconclusive');
    const failed = evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
    assert.equal(failed?.status, 'True');
    assert.equal(failed?.reason, 'OOMKilled');
    assert.match(failed?.message ?? '', /the evaluator exceeded its memory limit \(exit code 137\)/);
    const [pod] = await evaluationPods(cluster, namespace, 'oom');
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.reason, 'OOMKilled', 'the kubelet reports the kernel’s OOM kill');
    assert.equal(terminated?.exitCode, 137);
  });
});

async function operatorPods(cluster: TestCluster): Promise<V1Pod[]> {
  const list = await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: release.namespace, labelSelector: 'app.kubernetes.io/name=pruneguard' });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

async function evaluationPods(cluster: TestCluster, namespace: string, evaluation: string): Promise<V1Pod[]> {
  const list = await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace, labelSelector: `pruneguard.io/evaluation=${evaluation}` });
  return list.items;
}

/** A test namespace that enforces Pod Security "restricted". */
async function restrictedNamespace(t: TestContext, cluster: TestCluster): Promise<string> {
  const namespace = await testNamespace(t, cluster);
  await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .patchNamespace(
      { name: namespace, body: { metadata: { labels: restricted } } },
      (await import('../../../src/actuators/kubernetes.js')).mergePatch,
    );
  return namespace;
}

/** Claims `models` and `data` on hostPath volumes of the fixture tree (read-only, as the Job mounts them). */
async function createFixtureClaims(cluster: TestCluster, namespace: string): Promise<void> {
  // createClaims puts each claim at `<root>/<name>`; both are the fixture tree itself.
  const root = claimsRoot;
  await mkdir(root, { recursive: true });
  for (const claim of ['models', 'data'])
    await symlink(fixtureTree, path.join(root, claim)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  await createClaims(cluster.kubeConfig(), namespace, root, ['models', 'data']);
}
