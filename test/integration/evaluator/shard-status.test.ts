/**
 * `pruneguard evaluator` against a real API server: each shard applies only its own entry of
 * EvaluationRun.status.shards (server-side apply, one field manager per shard), and the merged
 * entries grade like one local pass. The operator's Job and RBAC are tested by the controller
 * suite; here the shards run as local processes with the test kubeconfig.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';

import { CustomObjectsApi } from '@kubernetes/client-node';

import {
  apiVersion,
  evaluationRunNames,
  group,
  version,
  type EvaluationRun,
} from '../../../src/api/v1alpha1/index.js';
import { gradeRun } from '../../../src/controller/grade-run.js';
import { quickBudget } from '../../../src/evaluator/measurements.js';
import { evaluateShard } from '../../../src/evaluator/pipeline.js';
import { gradeEvaluation } from '../../../src/grading/index.js';
import { testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { clusterEgressDefaults, egressPolicyEnv, encodeEgressPolicy } from '../../../src/security/egress.js';
import { installCrds } from '../../support/crds.js';
import { fixtureEvaluation, fixtureManifest } from '../../unit/evaluator/fixture-specs.js';

function evaluator(cluster: TestCluster, namespace: string, run: string, index: number) {
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'evaluator', '--namespace', namespace, '--run', run],
      {
        env: {
          ...process.env,
          KUBECONFIG: cluster.kubeconfigPath,
          JOB_COMPLETION_INDEX: String(index),
          PRUNEGUARD_MEASUREMENT: 'quick',
          PRUNEGUARD_TERMINATION_LOG: '/nonexistent/termination-log',
          // The fixtures are file:// URIs, like files baked into an evaluator image: an operator
          // would allow them with --egress-schemes …,file.
          [egressPolicyEnv]: encodeEgressPolicy({ ...clusterEgressDefaults, schemes: ['file'] }),
        },
        timeout: 120_000,
      },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

async function createRun(
  cluster: TestCluster,
  namespace: string,
  name: string,
  shards: number,
  candidate: string,
) {
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const evaluation = fixtureEvaluation({ candidate });
  await api.createNamespacedCustomObject({
    group,
    version,
    namespace,
    plural: evaluationRunNames.plural,
    body: {
      apiVersion,
      kind: evaluationRunNames.kind,
      metadata: { name },
      spec: { evaluationName: 'penguins', generation: 1, shards, evaluationSpec: evaluation.spec },
    },
  });
  return {
    evaluation,
    get: async () =>
      (await api.getNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: evaluationRunNames.plural,
        name,
      })) as EvaluationRun & { metadata: { managedFields?: { manager: string; subresource?: string }[] } },
  };
}

test('three shards apply their own status entries; merged, they grade like one local pass', async (t) => {
  const cluster = await testCluster();
  await installCrds(cluster);
  const namespace = await testNamespace(t, cluster);
  const run = await createRun(cluster, namespace, 'penguins-00001', 3, 'pruned-95');

  const exits = await Promise.all(
    [0, 1, 2].map((index) => evaluator(cluster, namespace, 'penguins-00001', index)),
  );
  exits.forEach((exit, index) => assert.equal(exit.code, 0, `shard ${index}: ${exit.stderr}`));

  const stored = await run.get();
  const shards = stored.status?.shards ?? [];
  assert.deepEqual(shards.map((s) => s.index).sort(), [0, 1, 2]);
  assert.equal(
    shards.reduce((sum, s) => sum + (s.samples ?? 0), 0),
    fixtureManifest.penguins.rows.current,
  );
  assert.equal(stored.status?.executionProvider, 'CPUExecutionProvider');
  const managers = (stored.metadata.managedFields ?? [])
    .filter((f) => f.subresource === 'status')
    .map((f) => f.manager);
  for (const index of [0, 1, 2])
    assert.ok(managers.includes(`pruneguard-evaluator-shard-${index}`), managers.join(','));

  const local = await evaluateShard(run.evaluation.spec, {
    shardIndex: 0,
    shardCount: 1,
    measurement: quickBudget,
  });
  const expected = gradeEvaluation(local.accumulator, run.evaluation.spec);
  const merged = gradeRun(stored);
  for (const name of ['accuracyDrop', 'negativeFlipRate', 'psi', 'demographicParity'])
    assert.deepEqual(
      merged.metrics.find((m) => m.name === name),
      expected.metrics.find((m) => m.name === name),
      name,
    );
  assert.equal(merged.metrics.find((m) => m.name === 'accuracyDrop')?.grade, 'Critical');
});

test('a failing shard records its error in its own entry and exits 1', async (t) => {
  const cluster = await testCluster();
  await installCrds(cluster);
  const namespace = await testNamespace(t, cluster);
  const run = await createRun(cluster, namespace, 'corrupt-00001', 2, fixtureManifest.corrupt);

  const exit = await evaluator(cluster, namespace, 'corrupt-00001', 1);
  assert.equal(exit.code, 1);
  assert.match(
    exit.stderr,
    /shard 1 of EvaluationRun .*corrupt-00001: candidate model \S+corrupt\.onnx: not a valid ONNX model/,
  );

  const shards = (await run.get()).status?.shards ?? [];
  assert.equal(shards.length, 1);
  assert.equal(shards[0]?.index, 1);
  assert.equal(shards[0]?.state, undefined);
  assert.match(shards[0]?.error ?? '', /corrupt\.onnx: not a valid ONNX model/);
});
