import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api } from '@kubernetes/client-node';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import {
  createClaims,
  createDeploymentPair,
  type Loop,
  Objects,
  pairTarget,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
  replicasOf,
  retrainingJobTemplate,
  startLoop,
} from './fixtures.js';

/**
 * The whole loop on the real control plane: the operator starts a run, the evaluation pod (its
 * real command, run by the emulated kubelet with the pod's ServiceAccount) evaluates the penguins
 * fixtures and writes its shard results into the run's status, the operator merges and grades
 * them, writes the evaluation's status and steers the Deployment pair.
 */
describe('a graded evaluation', () => {
  let cluster: TestCluster;
  let loop: Loop;
  before(async () => {
    cluster = await testCluster();
    loop = await startLoop(cluster, { labelSelector: 'pruneguard.io/evaluation=penguins' });
  });
  after(() => loop?.stop());

  it('grades a passing candidate, advances the canary; a heavily pruned one is rolled back and retrained', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, loop.pvcRoot, ['models', 'data']);
    await createDeploymentPair(kc, namespace, 3, 1);

    await objects.createEvaluation(
      penguinsEvaluation('penguins', {
        data: penguinsData,
        runtime: { parallelism: 2 },
        thresholds: passingThresholds,
        target: pairTarget(),
        policy: { consecutiveBreaches: 1 },
        retraining: retrainingJobTemplate,
      }),
    );

    const passed = await eventually(
      'a graded first run',
      async () => {
        const e = await objects.evaluation('penguins');
        return e.status?.lastRun?.name === 'penguins-00001' && e.status.metrics ? e : undefined;
      },
      120_000,
      500,
    );
    assert.equal(passed.status?.verdict, 'Pass', passed.status?.explanation);
    const accuracyDrop = passed.status?.metrics?.find((m) => m.name === 'accuracyDrop');
    assert.equal(accuracyDrop?.grade, 'Pass');
    assert.equal(accuracyDrop?.samples, 133, 'both shards’ current rows are merged');
    assert.equal(passed.status?.lastRun?.samples, 133);
    assert.ok(passed.status?.slices?.some((s) => s.slice === 'Island=Biscoe'));
    assert.equal(passed.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    // The verdict is recorded first; the Advance is done once both Deployments have rolled out.
    const advanced = await eventually('the Advance to be done', async () => {
      const action = (await objects.evaluation('penguins')).status?.actions?.find(
        (a) => a.type === 'Advance',
      );
      return action?.state === 'Done' ? action : undefined;
    });
    assert.equal(advanced.revision, '1', 'the canary Deployment revision the run evaluated');
    assert.match(advanced.detail ?? '', /stable 2, canary 2 replicas, all available/);
    assert.deepEqual(
      await replicasOf(kc, namespace),
      { stable: 2, canary: 2 },
      'Pass advances the canary by one step',
    );

    const [run] = await objects.runs();
    assert.deepEqual(
      run!.status?.shards?.map((s) => s.index).sort(),
      [0, 1],
      'each shard pod wrote its own entry with server-side apply',
    );

    // The run's pods ran as the run's own identity, which ends with the run.
    const runIdentity = `--as=system:serviceaccount:${namespace}:penguins-00001`;
    const canI = async (...what: string[]) =>
      (await cluster.kubectl(['auth', 'can-i', ...what, '-n', namespace, runIdentity])).stdout.trim();
    assert.equal(
      await canI('patch', 'evaluationruns/penguins-00001', '--subresource=status'),
      'no',
      'a finished run’s pods can no longer write its status',
    );
    for (const forbidden of [
      ['get', 'prunedmodelevaluations'],
      ['get', 'secrets'],
      ['create', 'pods'],
    ]) {
      assert.equal(await canI(...forbidden), 'no', `the evaluator must not ${forbidden.join(' ')}`);
    }

    const table = await cluster.kubectl(['get', 'pme', '-n', namespace]);
    assert.match(table.stdout, /penguins\s+Pass\s+\S+%/);
    const described = await cluster.kubectl(['describe', 'pme', 'penguins', '-n', namespace]);
    assert.match(described.stdout, /VerdictPass/);
    assert.match(described.stdout, /Advance/);

    await objects.patchEvaluation('penguins', {
      spec: { candidate: { uri: 'pvc://models/penguins/pruned-95.onnx' } },
    });
    const critical = await eventually(
      'the heavily pruned candidate to be graded',
      async () => {
        const e = await objects.evaluation('penguins');
        return e.status?.lastRun?.name === 'penguins-00002' && e.status.verdict !== 'Inconclusive'
          ? e
          : undefined;
      },
      120_000,
      500,
    );
    // Scraped right away: the series must follow the status the operator wrote, not the next reconcile.
    const metrics = await (await fetch(`http://127.0.0.1:${loop.operator.port}/metrics`)).text();
    assert.equal(critical.status?.verdict, 'Critical', critical.status?.explanation);
    assert.match(critical.status?.explanation ?? '', /accuracyDrop/);
    const acted = await eventually('the rollback and the retraining to be done', async () => {
      const e = await objects.evaluation('penguins');
      const actions = e.status?.actions?.filter((a) => a.run === 'penguins-00002') ?? [];
      return actions.length === 2 && actions.every((a) => a.state === 'Done') ? e : undefined;
    });
    assert.deepEqual(
      await replicasOf(kc, namespace),
      { stable: 4, canary: 0 },
      'Critical rolls the canary back',
    );
    assert.deepEqual(
      acted.status?.actions?.map((a) => [a.run, a.type, a.state]),
      [
        ['penguins-00001', 'Advance', 'Done'],
        ['penguins-00002', 'Rollback', 'Done'],
        ['penguins-00002', 'Retrain', 'Done'],
      ],
    );
    const jobs = await kc
      .makeApiClient(BatchV1Api)
      .listNamespacedJob({ namespace, labelSelector: 'pruneguard.io/run=penguins-00002' });
    const retraining = jobs.items.find((j) => j.metadata?.name?.startsWith('penguins-retrain-'));
    assert.ok(retraining, 'a retraining Job was created from the template');
    assert.equal(
      retraining.spec?.template.spec?.serviceAccountName,
      'pruneguard-retraining',
      'retraining runs as the permission-less ServiceAccount',
    );

    assert.match(
      metrics,
      new RegExp(
        `pruneguard_metric_grade\\{namespace="${namespace}",evaluation="penguins",metric="accuracyDrop",slice=""\\} 2`,
      ),
    );
    const acts = await (await fetch(`http://127.0.0.1:${loop.operator.port}/metrics`)).text();
    assert.match(acts, /pruneguard_actions_total\{[^}]*type="Rollback"[^}]*\} 1/);
  });
});
