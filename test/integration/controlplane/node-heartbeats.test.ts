import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CoordinationV1Api,
  CoreV1Api,
  type V1PodCondition,
  type V1NodeCondition,
} from '@kubernetes/client-node';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';

const watchMs = 180_000;
const pollMs = 3_000;

function ready(conditions: (V1PodCondition | V1NodeCondition)[] | undefined): string {
  const condition = conditions?.find((c) => c.type === 'Ready');
  if (!condition) return 'absent';
  const why = [condition.reason, condition.message].filter(Boolean).join(': ');
  return why ? `${condition.status} (${why})` : condition.status;
}

describe('kwok nodes send heartbeats', () => {
  it('keeps a pod on a kwok node Ready for 3 minutes, with every node Ready and its Lease renewed', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const leases = kc.makeApiClient(CoordinationV1Api);

    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'steady' },
        spec: { containers: [{ name: 'steady', image: 'registry.k8s.io/pause:3.10' }] },
      },
    });
    const pod = await eventually('the pod to be Ready', async () => {
      const live = await core.readNamespacedPod({ name: 'steady', namespace });
      return ready(live.status?.conditions).startsWith('True') ? live : undefined;
    });
    const nodeName = pod.spec!.nodeName!;
    assert.match(nodeName, /^kwok-/);

    // kube-controller-manager marks a node NotReady 50 s after its last heartbeat, then its pods.
    const renewals = new Set<string>();
    const started = Date.now();
    while (Date.now() - started < watchMs) {
      const at = `${Math.round((Date.now() - started) / 1000)} s into the watch`;
      const live = await core.readNamespacedPod({ name: 'steady', namespace });
      assert.ok(
        ready(live.status?.conditions).startsWith('True'),
        `pod Ready ${ready(live.status?.conditions)} ${at}`,
      );
      const nodes = await core.listNode({ labelSelector: 'type=kwok' });
      assert.ok(nodes.items.length > 0);
      for (const node of nodes.items) {
        const state = ready(node.status?.conditions);
        assert.ok(state.startsWith('True'), `node ${node.metadata?.name} Ready ${state} ${at}`);
      }
      const lease = await leases
        .readNamespacedLease({ name: nodeName, namespace: 'kube-node-lease' })
        .catch(() => undefined);
      if (lease?.spec?.renewTime) renewals.add(String(lease.spec.renewTime));
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    // kwok renews a node's Lease every quarter of its 40 s duration, as a kubelet does.
    assert.ok(
      renewals.size >= watchMs / 20_000,
      `${nodeName}'s Lease renewed ${renewals.size} times in 3 minutes`,
    );
  });
});
