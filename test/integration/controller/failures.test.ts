import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api } from '@kubernetes/client-node';
import type { RunningOperator } from '../../../src/controller/operator.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, startTestOperator } from '../../support/operator.js';
import { startOomKillingRunner, type PodRunner } from '../../support/pod-runner.js';
import { createClaims, createDeploymentPair, Objects, penguinsEvaluation, replicasOf } from './fixtures.js';

/**
 * Evaluation pods that fail (OOMKilled here, emulated by the pod runner as a kubelet would report
 * it) make the evaluation Inconclusive with the reason, never Critical, and never roll back.
 */
describe('a failed evaluation pod', () => {
  let cluster: TestCluster;
  let operator: RunningOperator;
  let pods: PodRunner;

  before(async () => {
    cluster = await testCluster();
    await installPruneguard(cluster);
    pods = await startOomKillingRunner(cluster.kubeConfig(), 'pruneguard.io/evaluation=oom');
    operator = await startTestOperator(cluster);
  });
  after(async () => {
    await operator?.stop();
    await pods?.stop();
  });

  it('creates one run and an Indexed Job on a GPU node, then reports OOMKilled as Inconclusive and holds', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createDeploymentPair(kc, namespace, 3, 1);
    await createClaims(kc, namespace, '/nonexistent', ['models', 'data']);
    await objects.createEvaluation(
      penguinsEvaluation('oom', {
        runtime: { accelerator: 'nvidia.com/gpu', parallelism: 2 },
        target: { deploymentPair: { stable: 'penguins', canary: 'penguins-canary' } },
      }),
    );

    const job = await eventually('the run’s Job', async () => {
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
      return jobs.items[0];
    });
    assert.equal(job.metadata?.name, 'oom-00001');
    assert.equal(job.spec?.completionMode, 'Indexed');
    assert.equal(job.spec?.completions, 2);

    const pod = await eventually('a shard pod handled by the emulated kubelet', async () =>
      pods.runs.find((r) => r.pod.startsWith('oom-00001-')),
    );
    assert.match(pod.node, /^kwok-gpu-/, 'a GPU evaluation runs on a GPU node');

    // The verdict is recorded before the actions; the run is closed (lastRun) once both are.
    const evaluation = await eventually(
      'the run to be closed Inconclusive',
      async () => {
        const e = await objects.evaluation('oom');
        return e.status?.lastRun?.name === 'oom-00001' && e.status.lastRun.completedAt ? e : undefined;
      },
      60_000,
    );
    const failed = evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
    assert.equal(failed?.status, 'True');
    assert.equal(failed?.reason, 'OOMKilled');
    assert.match(
      failed?.message ?? '',
      /oom-00001: oom-00001-\d-\w+: the evaluator exceeded its memory limit/,
    );
    assert.deepEqual(
      evaluation.status?.actions?.map((a) => a.type),
      ['Hold'],
    );
    assert.deepEqual(
      await replicasOf(kc, namespace),
      { stable: 3, canary: 1 },
      'a failed run must not move traffic',
    );

    const runs = await objects.runs();
    assert.deepEqual(
      runs.map((r) => [r.metadata.name, r.status?.phase, r.status?.failure?.reason]),
      [['oom-00001', 'Failed', 'OOMKilled']],
    );

    const described = await cluster.kubectl(['describe', 'pme', 'oom', '-n', namespace]);
    assert.match(described.stdout, /EvaluationFailed/);
    assert.match(described.stdout, /RunStarted/);
  });

  it('fails a run whose pods cannot be scheduled at its deadline, with the scheduler’s reason', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const objects = new Objects(cluster.kubeConfig(), namespace);
    await createClaims(cluster.kubeConfig(), namespace, '/nonexistent', ['models', 'data']);
    await objects.createEvaluation(
      penguinsEvaluation('unschedulable', {
        runtime: { nodeSelector: { pool: 'does-not-exist' }, timeoutSeconds: 30 },
      }),
    );
    const evaluation = await eventually(
      'the run to fail at its deadline',
      async () => {
        const e = await objects.evaluation('unschedulable');
        return e.status?.verdict === 'Inconclusive' ? e : undefined;
      },
      90_000,
      1000,
    );
    const failed = evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
    assert.equal(failed?.reason, 'DeadlineExceeded');
    assert.match(
      failed?.message ?? '',
      /activeDeadlineSeconds \(30s\).*Unschedulable: 0\/3 nodes are available: .*node affinity\/selector/,
    );
  });
});
