import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1ManagedFieldsEntry,
} from '@kubernetes/client-node';
import { retrainingJobName } from '../../../src/actuators/index.js';
import {
  promotedAnnotation,
  rolledBackAnnotation,
  rolledOut,
} from '../../../src/actuators/deployment-pair.js';
import type { Action, ActionType, PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';
import {
  eventually,
  testCluster,
  testNamespace,
  type CommandResult,
  type TestCluster,
} from '../../support/cluster.js';
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
 * A stable/canary Deployment pair steered by real verdicts on the real control plane: the
 * evaluator's own command grades the penguins candidates (pruned-30 passes, pruned-95 is
 * Critical), kube-controller-manager rolls the ReplicaSets and kwok's nodes run the pods. Each
 * action reads the pair, writes it with optimistic concurrency as field manager `pruneguard`, and
 * is Done only once both Deployments have rolled out; a refused write is retried with backoff.
 */

type Json = Record<string, unknown>;

const operatorUser = 'system:serviceaccount:pruneguard-system:pruneguard-operator';
const revisionAnnotation = 'deployment.kubernetes.io/revision';
const lastActionAnnotation = 'pruneguard.io/last-action';
const passing = 'pvc://models/penguins/pruned-30.onnx';
const critical = 'pvc://models/penguins/pruned-95.onnx';

/** Evaluations whose pods the emulated kubelet runs for real, and those whose pods it fails. */
const gradedEvaluations = ['promote', 'steps', 'blocked', 'retrain'];
const failingEvaluations = ['flaky', 'steady'];

/** A penguins evaluation graded by the evaluator (Pass with pruned-30), acting on the first breach. */
function gradedEvaluation(name: string, spec: Json = {}, policy: Json = {}): Json {
  return penguinsEvaluation(name, {
    data: penguinsData,
    thresholds: passingThresholds,
    policy: { consecutiveBreaches: 1, ...policy },
    ...spec,
  });
}

describe('a Deployment pair steered by real verdicts', () => {
  let cluster: TestCluster;
  let loop: Loop;

  before(async () => {
    cluster = await testCluster();
    loop = await startLoop(cluster, {
      labelSelector: `pruneguard.io/evaluation in (${[...gradedEvaluations, ...failingEvaluations].join(',')})`,
      // As a kubelet reports a container killed for its memory: the run fails, Inconclusive.
      fate: (pod) =>
        failingEvaluations.includes(pod.metadata?.labels?.['pruneguard.io/evaluation'] ?? '')
          ? { exitCode: 137, reason: 'OOMKilled' }
          : 'run',
    });
  });
  after(() => loop?.stop());

  /** A namespace with the claims `models` and `data`, and a 3/1 pair `penguins` + `penguins-canary`. */
  async function pairNamespace(t: TestContext) {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    await createClaims(kc, namespace, loop.pvcRoot, ['models', 'data']);
    await createDeploymentPair(kc, namespace, 3, 1);
    return { namespace, kc, objects: new Objects(kc, namespace) };
  }

  it('promotes the canary’s pod template into the stable Deployment, which keeps its own selector', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    const apps = kc.makeApiClient(AppsV1Api);
    const managersBefore = await managersOfPair(apps, namespace);

    await objects.createEvaluation(
      gradedEvaluation('promote', { target: pairTarget() }, { onPass: 'promote' }),
    );
    // Before the rewrite the stable Deployment got the canary's labels (app=penguins-canary), which
    // its selector (app=penguins) does not match: the API server refused the write and the
    // Promote never reached Done.
    const promoted = await actionIn(objects, 'promote', 'promote-00001', 'Promote', 'Done', 120_000);
    assert.equal(promoted.revision, '1', 'the canary revision the run evaluated');
    assert.match(promoted.detail ?? '', /stable 4, canary 0 replicas, all available/);

    const stable = await apps.readNamespacedDeployment({ name: 'penguins', namespace });
    const canary = await apps.readNamespacedDeployment({ name: 'penguins-canary', namespace });
    assert.equal(stable.spec?.template.spec?.containers[0]?.image, 'penguins-canary:1', 'the canary’s image');
    assert.deepEqual(stable.spec?.selector.matchLabels, { app: 'penguins' }, 'a selector is immutable');
    assert.equal(
      stable.spec?.template.metadata?.labels?.app,
      'penguins',
      'the template matches its selector',
    );
    assert.equal(stable.metadata?.annotations?.[revisionAnnotation], '2', 'a new stable revision');
    assert.equal(stable.spec?.replicas, 4);
    assert.ok(rolledOut(stable), `stable not rolled out: ${JSON.stringify(stable.status)}`);
    assert.equal(canary.spec?.replicas, 0);
    assert.ok(rolledOut(canary), `canary not rolled out: ${JSON.stringify(canary.status)}`);
    assert.equal(canary.metadata?.annotations?.[promotedAnnotation], '1', 'that canary revision is over');
    assert.equal(canary.spec?.template.metadata?.labels?.app, 'penguins-canary', 'the canary is untouched');

    // Kube-controller-manager rolled the stable Deployment to a new ReplicaSet with the canary's image.
    const replicaSets = await apps.listNamespacedReplicaSet({ namespace });
    const ofStable = replicaSets.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.name === 'penguins'))
      .map((rs) => [
        rs.spec?.template?.spec?.containers[0]?.image,
        rs.spec?.replicas,
        rs.status?.availableReplicas ?? 0,
      ])
      .sort();
    assert.deepEqual(ofStable, [
      ['penguins-canary:1', 4, 4],
      ['penguins:1', 0, 0],
    ]);
    const runningPods = await eventually('the stable pods to run the promoted template', async () => {
      const list = await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace, labelSelector: 'app=penguins' });
      const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
      const promotedPods = live.filter(
        (p) =>
          p.spec?.containers[0]?.image === 'penguins-canary:1' &&
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return live.length === 4 && promotedPods.length === 4 ? live : undefined;
    });
    assert.ok(runningPods.every((p) => p.spec?.nodeName?.startsWith('kwok-')));

    const [run] = await objects.runs();
    assert.equal(run?.status?.phase, 'Succeeded', 'the run ends once its action is done');

    assert.ok(owns(ownedBy(stable, 'pruneguard'), 'f:spec', 'f:replicas'), managedFieldsOf(stable));
    assert.ok(
      owns(
        ownedBy(stable, 'pruneguard'),
        'f:spec',
        'f:template',
        'f:spec',
        'f:containers',
        'k:{"name":"model"}',
        'f:image',
      ),
      managedFieldsOf(stable),
    );
    assert.ok(owns(ownedBy(canary, 'pruneguard'), 'f:spec', 'f:replicas'), managedFieldsOf(canary));
    assert.ok(
      owns(ownedBy(canary, 'pruneguard'), 'f:metadata', 'f:annotations', `f:${promotedAnnotation}`),
      managedFieldsOf(canary),
    );
    await assertOnlyPruneguardWrote(apps, namespace, managersBefore);
  });

  it('advances by stepWeight, rolls back to 0, and does not re-advance that canary revision', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    const apps = kc.makeApiClient(AppsV1Api);
    const managersBefore = await managersOfPair(apps, namespace);
    await objects.createEvaluation(gradedEvaluation('steps', { target: pairTarget('penguins', 50) }));

    const advanced = await actionIn(objects, 'steps', 'steps-00001', 'Advance', 'Done', 120_000);
    assert.match(advanced.detail ?? '', /stable 1, canary 3 replicas, all available/);
    assert.deepEqual(
      await replicasOf(kc, namespace),
      { stable: 1, canary: 3 },
      'stepWeight 50: half of the pair’s 4 replicas moved to the canary',
    );

    await objects.patchEvaluation('steps', { spec: { candidate: { uri: critical } } });
    const rolledBack = await actionIn(objects, 'steps', 'steps-00002', 'Rollback', 'Done', 120_000);
    assert.equal(rolledBack.revision, '1');
    assert.match(rolledBack.detail ?? '', /stable 4, canary 0 replicas, all available/);
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 4, canary: 0 });
    const canary = await apps.readNamespacedDeployment({ name: 'penguins-canary', namespace });
    assert.equal(canary.metadata?.annotations?.[rolledBackAnnotation], '1');
    assert.equal(canary.metadata?.annotations?.[revisionAnnotation], '1', 'a rollback changes no template');

    await objects.patchEvaluation('steps', { spec: { candidate: { uri: passing } } });
    const skipped = await actionIn(objects, 'steps', 'steps-00003', 'Advance', 'Skipped', 120_000);
    assert.match(skipped.detail ?? '', /rolled back; policy\.retryAborted is false/);
    const evaluation = await objects.evaluation('steps');
    assert.equal(evaluation.status?.verdict, 'Pass', evaluation.status?.explanation);
    assert.deepEqual(
      evaluation.status?.actions?.map((a) => [a.run, a.type, a.state]),
      [
        ['steps-00001', 'Advance', 'Done'],
        ['steps-00002', 'Rollback', 'Done'],
        ['steps-00003', 'Advance', 'Skipped'],
      ],
    );
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 4, canary: 0 }, 'the abort stands');

    const [stable, rolled] = await Promise.all(
      ['penguins', 'penguins-canary'].map((name) => apps.readNamespacedDeployment({ name, namespace })),
    );
    for (const deployment of [stable!, rolled!]) {
      assert.ok(owns(ownedBy(deployment, 'pruneguard'), 'f:spec', 'f:replicas'), managedFieldsOf(deployment));
      assert.ok(
        owns(ownedBy(deployment, 'pruneguard'), 'f:metadata', 'f:annotations', `f:${lastActionAnnotation}`),
        managedFieldsOf(deployment),
      );
    }
    assert.ok(
      owns(ownedBy(rolled!, 'pruneguard'), 'f:metadata', 'f:annotations', `f:${rolledBackAnnotation}`),
      managedFieldsOf(rolled!),
    );
    await assertOnlyPruneguardWrote(apps, namespace, managersBefore);
  });

  it('retries a refused Deployment write with backoff, and recovers once the refusal is lifted', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    const message = 'penguins-canary is frozen for review';
    const refusal = await refuse(t, cluster, `freeze-${namespace}`, namespace, {
      rule: {
        apiGroups: ['apps'],
        resources: ['deployments'],
        operations: ['UPDATE'],
        resourceNames: ['penguins-canary'],
      },
      // Only the operator's writes: kube-controller-manager keeps writing the revision annotation.
      matchCondition: `request.userInfo.username == '${operatorUser}'`,
      message,
      probe: () =>
        cluster.kubectl([
          'annotate',
          'deployment',
          'penguins-canary',
          'probe=1',
          '--dry-run=server',
          `--as=${operatorUser}`,
          '-n',
          namespace,
        ]),
    });
    await objects.createEvaluation(gradedEvaluation('blocked', { target: pairTarget() }));

    const failing = await failingAction(objects, 'blocked', 'blocked-00001', 'Advance');
    assert.ok(
      failing.lastError?.includes(`ValidatingAdmissionPolicy 'freeze-${namespace}'`) &&
        failing.lastError.includes(message),
      `lastError names the refusal: ${failing.lastError}`,
    );
    assert.match(failing.lastError ?? '', /^Deployment\/penguins-canary: write failed: /);
    const evaluation = await objects.evaluation('blocked');
    assert.equal(evaluation.status?.verdict, 'Pass');
    assertCondition(evaluation, 'True', 'ActionFailed');
    assert.equal((await objects.runs())[0]?.status?.phase, 'Acting', 'the run is open while its action is');
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 3, canary: 1 }, 'nothing half-written');

    await refusal.lift();
    const done = await actionIn(objects, 'blocked', 'blocked-00001', 'Advance', 'Done', 90_000);
    assert.match(done.detail ?? '', /stable 2, canary 2 replicas, all available/);
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 2, canary: 2 });
    assertCondition(await objects.evaluation('blocked'), 'False', 'ActionsRecovered');
    const run = await eventually('the run to end', async () => {
      const [r] = await objects.runs();
      return r?.status?.phase === 'Succeeded' ? r : undefined;
    });
    assert.ok(run.status?.completedAt);
  });

  it('retries a refused retraining Job the same way', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, loop.pvcRoot, ['models', 'data']);
    const message = 'no retraining Jobs in this namespace during the freeze';
    const refusal = await refuse(t, cluster, `no-retraining-${namespace}`, namespace, {
      rule: { apiGroups: ['batch'], resources: ['jobs'], operations: ['CREATE'] },
      // Evaluation Jobs go on; retraining Jobs (`<evaluation>-retrain-<hash>`) are refused.
      matchCondition: "object.metadata.name.contains('-retrain-')",
      message,
      probe: () =>
        cluster.kubectl([
          'create',
          'job',
          'probe-retrain-1',
          '--image=trainer:1',
          '--dry-run=server',
          '-n',
          namespace,
        ]),
    });
    await objects.createEvaluation(
      gradedEvaluation('retrain', { candidate: { uri: critical }, retraining: retrainingJobTemplate }),
    );

    const failing = await failingAction(objects, 'retrain', 'retrain-00001', 'Retrain');
    const jobName = retrainingJobName('retrain', 'retrain-00001');
    assert.equal(failing.target, `Job/${jobName}`);
    assert.ok(
      failing.lastError?.includes(`ValidatingAdmissionPolicy 'no-retraining-${namespace}'`) &&
        failing.lastError.includes(message),
      `lastError names the refusal: ${failing.lastError}`,
    );
    const evaluation = await objects.evaluation('retrain');
    assert.equal(evaluation.status?.verdict, 'Critical', evaluation.status?.explanation);
    assertCondition(evaluation, 'True', 'ActionFailed');

    await refusal.lift();
    const done = await actionIn(objects, 'retrain', 'retrain-00001', 'Retrain', 'Done', 90_000);
    assert.match(done.detail ?? '', /retraining Job created/);
    assertCondition(await objects.evaluation('retrain'), 'False', 'ActionsRecovered');
    const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: jobName, namespace });
    assert.equal(job.spec?.template.spec?.serviceAccountName, 'pruneguard-retraining');
  });

  it('holds failed runs until policy.failedRunLimit, then does what onFailure says', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, loop.pvcRoot, ['models', 'data']);
    await createDeploymentPair(kc, namespace, 2, 2, 'flaky');
    await createDeploymentPair(kc, namespace, 2, 2, 'steady');
    await objects.createEvaluation(
      penguinsEvaluation('flaky', {
        target: pairTarget('flaky'),
        policy: { failedRunLimit: 2, onFailure: 'rollback' },
      }),
    );
    // onFailure left at its default, hold.
    await objects.createEvaluation(
      penguinsEvaluation('steady', { target: pairTarget('steady'), policy: { failedRunLimit: 2 } }),
    );

    for (const name of failingEvaluations) {
      const held = await actionIn(objects, name, `${name}-00001`, 'Hold', 'Done', 90_000);
      assert.equal(held.revision, '1');
      const evaluation = await objects.evaluation(name);
      assert.equal(evaluation.status?.verdict, 'Inconclusive');
      assert.equal(evaluation.status?.consecutiveFailedRuns, 1);
      assertCondition(evaluation, 'True', 'OOMKilled');
      assert.deepEqual(
        await replicasOf(kc, namespace, name),
        { stable: 2, canary: 2 },
        `${name}: a failed run below the limit holds`,
      );
    }
    assert.deepEqual(await eventsWithReason(kc, namespace, 'FailedRunLimitReached'), []);

    // A changed spec starts the next run, which fails as well.
    for (const name of failingEvaluations)
      await objects.patchEvaluation(name, {
        spec: { candidate: { uri: 'pvc://models/penguins/pruned-70.onnx' } },
      });
    const rolledBack = await actionIn(objects, 'flaky', 'flaky-00002', 'Rollback', 'Done', 90_000);
    assert.equal(rolledBack.revision, '1');
    await actionIn(objects, 'steady', 'steady-00002', 'Hold', 'Done', 90_000);
    for (const name of failingEvaluations) {
      const evaluation = await objects.evaluation(name);
      assert.equal(evaluation.status?.verdict, 'Inconclusive');
      assert.equal(evaluation.status?.consecutiveFailedRuns, 2, `${name} counts its failed runs`);
    }
    assert.deepEqual(
      await replicasOf(kc, namespace, 'flaky'),
      { stable: 4, canary: 0 },
      'the second failed run in a row rolls back (onFailure rollback)',
    );
    assert.deepEqual(
      await replicasOf(kc, namespace, 'steady'),
      { stable: 2, canary: 2 },
      'onFailure hold: nothing moves',
    );
    assert.deepEqual(
      (await objects.evaluation('flaky')).status?.actions?.map((a) => [a.run, a.type, a.state]),
      [
        ['flaky-00001', 'Hold', 'Done'],
        ['flaky-00002', 'Rollback', 'Done'],
      ],
    );
    assert.deepEqual(
      (await objects.evaluation('steady')).status?.actions?.map((a) => [a.run, a.type, a.state]),
      [
        ['steady-00001', 'Hold', 'Done'],
        ['steady-00002', 'Hold', 'Done'],
      ],
    );
    const limits = await eventually('a FailedRunLimitReached Event for each', async () => {
      const events = await eventsWithReason(kc, namespace, 'FailedRunLimitReached');
      return events.length === 2 ? events : undefined;
    });
    assert.deepEqual(limits.map((e) => e.name).sort(), ['flaky', 'steady']);
    assert.match(
      limits.find((e) => e.name === 'flaky')!.message,
      /2 failed runs in a row \(policy\.failedRunLimit 2, onFailure rollback\)/,
    );
  });
});

async function action(
  objects: Objects,
  evaluation: string,
  run: string,
  type: ActionType,
): Promise<Action | undefined> {
  const e = await objects.evaluation(evaluation);
  return e.status?.actions?.find((a) => a.run === run && a.type === type);
}

/** Waits for the action to reach `state`; on a timeout the message says where it stood. */
function actionIn(
  objects: Objects,
  evaluation: string,
  run: string,
  type: ActionType,
  state: Action['state'],
  timeoutMs = 60_000,
): Promise<Action> {
  return eventually(
    `${run}'s ${type} to be ${state}`,
    async () => {
      const a = await action(objects, evaluation, run, type);
      if (a?.state === state) return a;
      throw new Error(a ? `it is ${a.state}: ${a.detail ?? ''} ${a.lastError ?? ''}` : 'not recorded yet');
    },
    timeoutMs,
    500,
  );
}

/**
 * The most attempts a failing action may make in `elapsedMs` when its retries back off
 * exponentially from 1 s (1, 2, 4, … s apart), twice over so that the test does not pin the
 * schedule. A retry on every reconcile (each failed attempt's status write starts the next) makes
 * dozens a second.
 */
function attemptsAllowed(elapsedMs: number): number {
  return 2 * (1 + Math.ceil(Math.log2(elapsedMs / 1000 + 1)));
}

/**
 * Waits until the action has failed at least 3 times and has been failing for a few seconds,
 * then checks that it is still Pending and was retried with backoff.
 */
async function failingAction(objects: Objects, evaluation: string, run: string, type: ActionType) {
  const first = await eventually(
    `${run}'s ${type} to fail`,
    async () => {
      const a = await action(objects, evaluation, run, type);
      return (a?.attempts ?? 0) >= 1 ? a : undefined;
    },
    120_000,
  );
  // The first failure happened before it was seen; 2 s covers the polling interval.
  const failingSince = Date.now() - 2000;
  assert.equal(first.state, 'Pending', `a failed ${type} stays Pending: ${first.detail}`);
  const retried = await eventually(`${run}'s ${type} to be retried`, async () => {
    const a = await action(objects, evaluation, run, type);
    return a && (a.attempts ?? 0) >= 3 && Date.now() - failingSince >= 7000 ? a : undefined;
  });
  const allowed = attemptsAllowed(Date.now() - failingSince);
  assert.equal(
    retried.state,
    'Pending',
    `a failed ${type} stays Pending until it succeeds: ${retried.detail}`,
  );
  assert.ok(
    retried.attempts! <= allowed,
    `${retried.attempts} attempts in ${Date.now() - failingSince} ms: retried without backoff (at most ${allowed} with it)`,
  );
  return retried;
}

function assertCondition(evaluation: PrunedModelEvaluation, status: 'True' | 'False', reason: string): void {
  const condition = evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
  assert.deepEqual(
    [condition?.status, condition?.reason],
    [status, reason],
    `EvaluationFailed: ${condition?.message}`,
  );
}

/**
 * A ValidatingAdmissionPolicy and its binding that deny `rule` in `namespace` (where
 * `matchCondition` holds) with `message`, enforced once this returns; `lift` removes both.
 */
async function refuse(
  t: TestContext,
  cluster: TestCluster,
  name: string,
  namespace: string,
  options: {
    rule: { apiGroups: string[]; resources: string[]; operations: string[]; resourceNames?: string[] };
    matchCondition: string;
    message: string;
    /** A server-side dry run the policy refuses once the API server enforces it. */
    probe: () => Promise<CommandResult>;
  },
): Promise<{ lift(): Promise<void> }> {
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        resourceRules: [{ apiVersions: ['*'], ...options.rule }],
      },
      matchConditions: [{ name: 'refused', expression: options.matchCondition }],
      validations: [{ expression: 'false', message: options.message }],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName: name, validationActions: ['Deny'] },
  };
  const applied = await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] }),
  );
  assert.equal(applied.code, 0, applied.stderr);
  const lift = async () => {
    const deleted = await cluster.kubectl([
      'delete',
      '--ignore-not-found',
      `validatingadmissionpolicybinding/${name}`,
      `validatingadmissionpolicy/${name}`,
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
  };
  t.after(lift);
  // The API server loads a new policy a moment after it is written: until then everything passes.
  await eventually(`the policy ${name} to be enforced`, async () => {
    const result = await options.probe();
    return result.code !== 0 && result.stderr.includes(`ValidatingAdmissionPolicy '${name}'`)
      ? true
      : undefined;
  });
  return { lift };
}

async function managersOfPair(apps: AppsV1Api, namespace: string, name = 'penguins'): Promise<Set<string>> {
  const pair = await Promise.all(
    [name, `${name}-canary`].map((n) => apps.readNamespacedDeployment({ name: n, namespace })),
  );
  return new Set(pair.flatMap((d) => (d.metadata?.managedFields ?? []).map((e) => e.manager!)));
}

/** Nobody but kube-controller-manager and pruneguard wrote to the pair since `before`. */
async function assertOnlyPruneguardWrote(apps: AppsV1Api, namespace: string, before: Set<string>) {
  const now = await managersOfPair(apps, namespace);
  const added = [...now].filter((m) => !before.has(m) && m !== 'kube-controller-manager');
  assert.deepEqual(added, ['pruneguard'], 'field managers that wrote to the pair');
}

/** The fields `manager` owns on the Deployment itself (not its status). */
function ownedBy(deployment: V1Deployment, manager: string): Json[] {
  return (deployment.metadata?.managedFields ?? [])
    .filter((e: V1ManagedFieldsEntry) => e.manager === manager && !e.subresource)
    .map((e) => (e.fieldsV1 ?? {}) as Json);
}

function owns(fields: Json[], ...path: string[]): boolean {
  return fields.some((set) => {
    let node: unknown = set;
    for (const key of path) {
      if (!node || typeof node !== 'object' || !(key in node)) return false;
      node = (node as Json)[key];
    }
    return true;
  });
}

function managedFieldsOf(deployment: V1Deployment): string {
  return `${deployment.metadata?.name} managedFields: ${JSON.stringify(
    (deployment.metadata?.managedFields ?? []).map((e) => [
      e.manager,
      e.operation,
      e.subresource,
      e.fieldsV1,
    ]),
  )}`;
}

async function eventsWithReason(kc: KubeConfig, namespace: string, reason: string) {
  const events = await kc
    .makeApiClient(CoreV1Api)
    .listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` });
  return events.items.map((e) => ({ name: e.involvedObject.name!, message: e.message ?? '' }));
}
