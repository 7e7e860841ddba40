import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';
import { gpuPresentLabel, gpuResource } from '../../support/nodes.js';

function pause(name: string, extra: Partial<V1Pod['spec']> = {}) {
  return { name, image: 'registry.k8s.io/pause:3.10', ...extra };
}

describe('the local control plane runs workloads', () => {
  it('gives a Deployment a ReplicaSet and Running pods on kwok nodes', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);

    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [pause('web')] } },
        },
      },
    });

    const replicaSets = await eventually('a ReplicaSet owned by the Deployment', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace });
      return list.items.length > 0 ? list.items : undefined;
    });
    assert.equal(replicaSets[0]!.metadata?.ownerReferences?.[0]?.kind, 'Deployment');

    const pods = await eventually('3 Running pods', async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
      const running = list.items.filter((p) => p.status?.phase === 'Running');
      return running.length === 3 ? running : undefined;
    });
    for (const pod of pods) assert.match(pod.spec?.nodeName ?? '', /^kwok-cpu-\d+$/);

    const deployment = await eventually('the Deployment to report 3 available replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
      return d.status?.availableReplicas === 3 ? d : undefined;
    });
    assert.equal(deployment.status?.readyReplicas, 3);
  });

  it('schedules GPU pods only onto GPU nodes, and keeps other pods off them', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);

    const gpuPods = ['gpu-a', 'gpu-b', 'gpu-c'];
    for (const name of gpuPods) {
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, labels: { kind: 'gpu' } },
          spec: {
            tolerations: [{ key: gpuResource, operator: 'Exists', effect: 'NoSchedule' }],
            containers: [pause('eval', { resources: { limits: { [gpuResource]: '1' } } } as never)],
          },
        },
      });
    }
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'cpu-only', labels: { kind: 'cpu' } },
        spec: { containers: [pause('eval')] },
      },
    });
    // Requests more GPUs than any node has: must stay Pending, proving the scheduler counts the resource.
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'too-many-gpus' },
        spec: {
          tolerations: [{ key: gpuResource, operator: 'Exists', effect: 'NoSchedule' }],
          containers: [pause('eval', { resources: { limits: { [gpuResource]: '8' } } } as never)],
        },
      },
    });

    const nodes = new Map((await core.listNode()).items.map((n) => [n.metadata!.name!, n]));
    const running = await eventually('GPU and CPU pods Running', async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'kind' });
      const ready = list.items.filter((p) => p.status?.phase === 'Running');
      return ready.length === gpuPods.length + 1 ? ready : undefined;
    });
    for (const pod of running) {
      const node = nodes.get(pod.spec!.nodeName!);
      const onGpuNode = node?.metadata?.labels?.[gpuPresentLabel] === 'true';
      assert.equal(
        onGpuNode,
        pod.metadata?.labels?.kind === 'gpu',
        `${pod.metadata?.name} on ${pod.spec?.nodeName}`,
      );
    }

    const unschedulable = await eventually('the 8-GPU pod to be reported unschedulable', async () => {
      const pod = await core.readNamespacedPod({ name: 'too-many-gpus', namespace });
      const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
      return condition?.status === 'False' ? condition : undefined;
    });
    assert.equal(unschedulable.reason, 'Unschedulable');
    assert.match(unschedulable.message ?? '', /nvidia\.com\/gpu/);
  });
});
