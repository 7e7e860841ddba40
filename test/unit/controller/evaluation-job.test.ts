import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvaluationRun } from '../../../src/api/v1alpha1/index.js';
import { maxEvaluationNameLength, runName } from '../../../src/api/v1alpha1/index.js';
import { evaluationJob, jobName, sourceMounts } from '../../../src/controller/evaluation-job.js';
import {
  clusterEgressDefaults,
  egressPolicyEnv,
  egressPolicyFromEnvironment,
  localEgressDefaults,
} from '../../../src/security/egress.js';
import { parsedEvaluation } from './parsed-evaluation.js';

function runOf(runtime: Record<string, unknown>): EvaluationRun {
  const evaluation = parsedEvaluation({ runtime });
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'EvaluationRun',
    metadata: { name: 'penguins-00001', namespace: 'ml', uid: 'run-uid' },
    spec: {
      evaluationName: 'penguins',
      generation: 1,
      shards: evaluation.spec.runtime.parallelism,
      evaluationSpec: evaluation.spec,
    },
  };
}

describe('evaluationJob', () => {
  it('mounts each claim and ConfigMap once, read-only, where the evaluator resolves URIs', () => {
    const { volumes, volumeMounts } = sourceMounts([
      'pvc://models/a.onnx',
      'pvc://models/b.onnx',
      'configmap://data/ref.csv',
      'https://x/y.csv',
    ]);
    assert.deepEqual(volumes, [
      { name: 'pvc-models', persistentVolumeClaim: { claimName: 'models', readOnly: true } },
      { name: 'cm-data', configMap: { name: 'data' } },
    ]);
    assert.deepEqual(
      volumeMounts.map((m) => m.mountPath),
      ['/mnt/pruneguard/pvc/models', '/mnt/pruneguard/configmap/data'],
    );
  });

  it('runs shards as an Indexed Job owned by the run, with the run in its arguments', () => {
    const job = evaluationJob(runOf({ parallelism: 3, timeoutSeconds: 600 }), {
      defaultImage: 'pruneguard:test',
      serviceAccountName: 'penguins-00001',
      egress: clusterEgressDefaults,
    });
    assert.equal(job.metadata?.name, 'penguins-00001');
    assert.equal(job.metadata?.ownerReferences?.[0]?.kind, 'EvaluationRun');
    assert.equal(job.spec?.completionMode, 'Indexed');
    assert.equal(job.spec?.completions, 3);
    assert.equal(job.spec?.parallelism, 3);
    assert.equal(job.spec?.activeDeadlineSeconds, 600);
    const pod = job.spec!.template.spec!;
    assert.equal(pod.serviceAccountName, 'penguins-00001');
    assert.deepEqual(
      egressPolicyFromEnvironment(
        { [egressPolicyEnv]: pod.containers[0]!.env?.find((e) => e.name === egressPolicyEnv)?.value },
        localEgressDefaults,
      ),
      clusterEgressDefaults,
      'evaluation pods get the operator’s egress policy, not the permissive local one',
    );
    assert.deepEqual(pod.containers[0]!.args, ['evaluator', '--namespace', 'ml', '--run', 'penguins-00001']);
    assert.equal(pod.containers[0]!.image, 'pruneguard:test');
    assert.equal(pod.nodeSelector, undefined);
    assert.equal(pod.tolerations, undefined);
  });

  it('puts GPU evaluations on GPU nodes: one GPU, the GPU taint tolerated, the GPU label selected', () => {
    const job = evaluationJob(runOf({ accelerator: 'nvidia.com/gpu', nodeSelector: { pool: 'inference' } }), {
      defaultImage: 'pruneguard:test',
      serviceAccountName: 'sa',
      egress: clusterEgressDefaults,
    });
    const pod = job.spec!.template.spec!;
    assert.equal(pod.containers[0]!.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.deepEqual(pod.nodeSelector, { pool: 'inference', 'nvidia.com/gpu.present': 'true' });
    assert.deepEqual(pod.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });
});

describe('jobName', () => {
  const run = (name: string, shards: number): EvaluationRun => ({
    ...runOf({ parallelism: shards }),
    metadata: { name, namespace: 'ml' },
  });
  const hostname = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

  it('is the run name while every pod hostname <job>-<index> fits 63 characters', () => {
    assert.equal(jobName(run('penguins-00001', 2)), 'penguins-00001');
    assert.equal(jobName(run(`${'a'.repeat(55)}-00001`, 10)), `${'a'.repeat(55)}-00001`);
  });

  it('is shortened with a hash at the longest evaluation name and any parallelism, and stays unique per run', () => {
    const longest = 'p'.repeat(maxEvaluationNameLength - 2) + '-x';
    for (const shards of [1, 10, 11, 32]) {
      const names = [1, 2, 99_999].map((sequence) => jobName(run(runName(longest, sequence), shards)));
      for (const name of names) {
        const lastPod = `${name}-${shards - 1}`;
        assert.ok(lastPod.length <= 63, `${lastPod} is ${lastPod.length} characters`);
        assert.match(lastPod, hostname);
      }
      assert.equal(new Set(names).size, names.length);
      assert.match(names[0]!, /-00001$/, 'the sequence stays readable at the end');
    }
    assert.notEqual(
      jobName(run(runName(`${'q'.repeat(50)}-alpha`, 1), 11)),
      jobName(run(runName(`${'q'.repeat(50)}-bravo`, 1), 11)),
      'evaluations that share a long prefix get different Jobs',
    );
  });
});
