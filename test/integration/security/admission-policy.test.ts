/**
 * The ValidatingAdmissionPolicy of manifests/install/admission-policy.yaml on a real API server:
 * creating a PrunedModelEvaluation grants nothing its author could not do directly. alice may only
 * create and get evaluations in a namespace; each thing an evaluation would do on her behalf needs
 * her own permission, and the refusal names the field and the permission.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installCrds } from '../../support/crds.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const policyFile = path.join(repoRoot, 'manifests/install/admission-policy.yaml');
const policyName = 'pruneguard-author-permissions';

type Json = Record<string, unknown>;

/** manifests/examples/penguins-cpu-deployment.yaml: steers penguins-classifier and its -canary. */
async function example(): Promise<{ metadata: Json; spec: Json & { runtime: Json } }> {
  const text = await readFile(path.join(repoRoot, 'manifests/examples/penguins-cpu-deployment.yaml'), 'utf8');
  return yaml.load(text) as { metadata: Json; spec: Json & { runtime: Json } };
}

/** The example without a target, so that one other field at a time can be checked. */
async function untargeted(name: string, spec: Json): Promise<Json> {
  const evaluation = await example();
  delete evaluation.spec.target;
  return { ...evaluation, metadata: { name }, spec: { ...evaluation.spec, ...spec } };
}

const retrainingJob = {
  spec: {
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'retrain', image: 'registry.example.com/ml/retrain:1' }],
      },
    },
  },
};

describe('the admission policy on PrunedModelEvaluations', () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await testCluster();
    await installCrds(cluster);
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', policyFile]);
    assert.equal(applied.code, 0, applied.stderr);
  });

  after(async () => {
    await cluster.kubectl(['delete', '--ignore-not-found', '-f', policyFile]);
  });

  /** A namespace where `user` may create and get evaluations; `grant` gives them more. */
  async function namespaceFor(t: TestContext, user: string) {
    const namespace = await testNamespace(t, cluster);
    const kubectl = async (...args: string[]) => {
      const result = await cluster.kubectl([...args, '-n', namespace]);
      assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    };
    const grant = async (role: string, verbs: string, resource: string, ...names: string[]) => {
      await kubectl(
        'create',
        'role',
        role,
        `--verb=${verbs}`,
        `--resource=${resource}`,
        ...names.map((name) => `--resource-name=${name}`),
      );
      await kubectl('create', 'rolebinding', role, `--role=${role}`, `--user=${user}`);
      // The RBAC authorizer sees a new binding a moment after it is written.
      const what = names.length > 0 ? `${resource}/${names.at(-1)}` : resource;
      await eventually(`${user} to be allowed to ${verbs} ${what}`, async () => {
        const canI = await cluster.kubectl([
          'auth',
          'can-i',
          verbs.split(',')[0]!,
          what,
          '-n',
          namespace,
          `--as=${user}`,
        ]);
        return canI.stdout.trim() === 'yes' ? true : undefined;
      });
    };
    await grant('pme-author', 'create,get', 'prunedmodelevaluations.pruneguard.io');
    /** Creates `body` as `user` (only tried with `dryRun`); kubectl's exit code and output. */
    const create = async (body: Json, { dryRun = false } = {}) =>
      cluster.kubectl(
        ['create', `--as=${user}`, '-n', namespace, '-f', '-', ...(dryRun ? ['--dry-run=server'] : [])],
        JSON.stringify(body),
      );
    return { namespace, grant, create };
  }

  function assertRefused(result: { code: number; stderr: string }, message: string) {
    assert.notEqual(result.code, 0, 'admitted');
    assert.ok(
      result.stderr.includes(
        `ValidatingAdmissionPolicy '${policyName}' with binding '${policyName}' denied request: ${message}`,
      ),
      result.stderr,
    );
  }

  it('admits an evaluation only for what its author could do directly', async (t) => {
    const { namespace, grant, create } = await namespaceFor(t, 'alice');
    const steering = await example();
    const steerDenied =
      `spec.target.deploymentPair.stable names Deployment penguins-classifier, but alice may not patch ` +
      `deployments.apps/penguins-classifier in namespace ${namespace}: an evaluation may steer only what its author could patch`;
    // The API server loads a new policy a moment after it is written: until then everything passes.
    await eventually('the policy to be enforced', async () => {
      const result = await create(steering, { dryRun: true });
      return result.stderr.includes(policyName) ? true : undefined;
    });

    assertRefused(await create(steering), steerDenied);
    assertRefused(
      await create(await untargeted('retrains', { retraining: { jobTemplate: retrainingJob } })),
      `spec.retraining.jobTemplate is set, but alice may not create jobs.batch in namespace ${namespace}: ` +
        'an evaluation may start only Jobs its author could create',
    );
    const evaluatorImage = { ...steering.spec.runtime, image: 'registry.example.com/ml/evaluator:1' };
    assertRefused(
      await create(await untargeted('own-image', { runtime: evaluatorImage })),
      `spec.runtime.image set, but alice may not create pods in namespace ${namespace}: ` +
        "only an author who could create pods may choose the evaluation pods' image or ServiceAccount",
    );
    const serviceAccount = { ...steering.spec.runtime, serviceAccountName: 'model-reader' };
    assertRefused(
      await create(await untargeted('own-account', { runtime: serviceAccount })),
      `spec.runtime.serviceAccountName set, but alice may not create pods in namespace ${namespace}`,
    );
    assertRefused(
      await create({
        ...steering,
        metadata: { name: 'rollout' },
        spec: { ...steering.spec, target: { rollout: { name: 'flights' } } },
      }),
      `spec.target.rollout names Rollout flights, but alice may not patch rollouts.argoproj.io/flights in namespace ${namespace}`,
    );

    // Patching the stable Deployment is not enough: the verdict moves the canary too.
    await grant('steer-stable', 'patch', 'deployments.apps', 'penguins-classifier');
    assertRefused(
      await create(steering),
      `spec.target.deploymentPair.canary names Deployment penguins-classifier-canary, but alice may not patch ` +
        `deployments.apps/penguins-classifier-canary in namespace ${namespace}`,
    );
    await grant('steer-canary', 'patch', 'deployments.apps', 'penguins-classifier-canary');
    const admitted = await create(steering);
    assert.equal(admitted.code, 0, admitted.stderr);
    const stored = await cluster.kubectl(['get', 'pme', 'penguins-p70', '-n', namespace, '-o', 'name']);
    assert.equal(stored.stdout.trim(), 'prunedmodelevaluation.pruneguard.io/penguins-p70');

    // With pods and Jobs of her own, alice may ask for them through an evaluation as well.
    await grant('run-pods', 'create', 'pods');
    await grant('run-jobs', 'create', 'jobs.batch');
    const everything = await create(
      {
        ...steering,
        metadata: { name: 'everything' },
        spec: { ...steering.spec, runtime: evaluatorImage, retraining: { jobTemplate: retrainingJob } },
      },
      { dryRun: true },
    );
    assert.equal(everything.code, 0, everything.stderr);
  });

  it('checks changes of spec by anyone, and never the operator’s metadata patches', async (t) => {
    const { namespace, grant } = await namespaceFor(t, 'bob');
    await grant('pme-editor', 'patch', 'prunedmodelevaluations.pruneguard.io');
    const created = await cluster.kubectl(
      ['create', '-n', namespace, '-f', '-'],
      JSON.stringify(await example()),
    );
    assert.equal(created.code, 0, created.stderr);
    const patchAsBob = (patch: Json) =>
      cluster.kubectl([
        'patch',
        'pme',
        'penguins-p70',
        '-n',
        namespace,
        '--as=bob',
        '--type=merge',
        '-p',
        JSON.stringify(patch),
      ]);
    await eventually('the policy to be enforced', async () => {
      const result = await patchAsBob({ spec: { historyLimit: 3 } });
      return result.stderr.includes(policyName) ? true : undefined;
    });

    // What the operator does: a finalizer, through the main resource, spec untouched.
    const finalizer = await patchAsBob({ metadata: { finalizers: ['pruneguard.io/cleanup'] } });
    assert.equal(finalizer.code, 0, finalizer.stderr);
    assertRefused(
      await patchAsBob({ spec: { historyLimit: 4 } }),
      `spec.target.deploymentPair.stable names Deployment penguins-classifier, but bob may not patch deployments.apps/penguins-classifier in namespace ${namespace}`,
    );
    // Leave nothing behind that only the operator would remove.
    const cleared = await cluster.kubectl([
      'patch',
      'pme',
      'penguins-p70',
      '-n',
      namespace,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
    assert.equal(cleared.code, 0, cleared.stderr);
  });
});
