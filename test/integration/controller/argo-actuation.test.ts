/**
 * What a verdict does to an Argo Rollout, end to end: the operator runs the evaluation (the
 * evaluator's real command, run by the emulated kubelet), grades it, and drives its action against
 * a canary Rollout that the genuine Argo Rollouts controller of the test's namespace runs. Each
 * test is one cell of the semantics table (docs/architecture.md, "Acting on what the target is
 * doing"; src/actuators/argo-rollout.ts) and asserts on both sides: what the controller did with
 * the Rollout, and what status.actions[] says about it.
 *
 * Verdicts come from real runs: pruned-30 passes; pruned-95 (accuracyDrop 59.4%, 95% interval
 * 50.5–67.3%, measured with `pruneguard evaluate`) is Critical under the default 2%/5% edges and a
 * Warning between edges at 30% and 80%; a run whose pod fails is Inconclusive. Every evaluate()
 * changes the spec (its schedule interval at least), so each starts a new run.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  CoreV1Api,
  CustomObjectsApi,
  Watch,
  type KubeConfig,
  type V1ManagedFieldsEntry,
} from '@kubernetes/client-node';
import { lastActionAnnotation } from '../../../src/actuators/actuator.js';
import { mergePatch } from '../../../src/actuators/kubernetes.js';
import { labels } from '../../../src/controller/evaluation-job.js';
import {
  runName,
  type Action,
  type ActionType,
  type PrunedModelEvaluation,
  type Verdict,
} from '../../../src/api/v1alpha1/index.js';
import { startArgoRollouts, type RolloutStatus } from '../../support/argo-rollouts.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { type PodFate } from '../../support/pod-runner.js';
import { CanaryRollout, testFieldManager, type Rollout } from '../../support/rollouts.js';
import {
  createClaims,
  type Loop,
  Objects,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
  startLoop,
} from './fixtures.js';

const evaluationName = 'steered';

/** setWeight 25, an indefinite pause, setWeight 50, another indefinite pause. */
const pausingSteps = [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];

const pruned30 = { uri: 'pvc://models/penguins/pruned-30.onnx' };
const pruned95 = { uri: 'pvc://models/penguins/pruned-95.onnx' };
const defaultEdges = { target: 0.02, warning: 0.05 };
/** Nothing above 1 can be a fraction: every breach of these edges is a Warning. */
const warningEdges = { target: 0.3, warning: 1 };
/** The spec that grades to each verdict; Inconclusive is a passing spec whose pod fails. */
const specFor: Record<Verdict, Record<string, unknown>> = {
  Pass: { candidate: pruned30, thresholds: { ...passingThresholds, accuracyDrop: defaultEdges } },
  // pruned-95 loses 59.4% of accuracy, all of it as negative flips (79 of 133), all of Gentoo
  // (classRecallDrop 100%) and its calibration (ECE +38%): edges at 1 make each a Warning.
  Warning: {
    candidate: pruned95,
    thresholds: {
      ...passingThresholds,
      accuracyDrop: warningEdges,
      negativeFlipRate: warningEdges,
      classRecallDrop: warningEdges,
      calibrationChange: warningEdges,
    },
  },
  Critical: { candidate: pruned95, thresholds: { ...passingThresholds, accuracyDrop: defaultEdges } },
  Inconclusive: { candidate: pruned30, thresholds: { ...passingThresholds, accuracyDrop: defaultEdges } },
};

/** Who wrote the Rollout besides pruneguard: the tests, the Argo controller and its kubectl plugin. */
const otherWriters = [testFieldManager, 'rollouts-controller', 'kubectl-argo-rollouts'];

/**
 * How long a written action waits for its effect before it is decided again: far above what the
 * controller takes here (under a second), short enough for a test to sit one out.
 */
const confirmTimeoutMs = 20_000;

/** How the emulated kubelet ends the pods of a run (`<namespace>/<run>`); any other runs its command. */
const fates = new Map<string, PodFate>();

describe('verdicts steer a Rollout run by the genuine Argo Rollouts controller', () => {
  let cluster: TestCluster;
  let loop: Loop;

  before(async () => {
    cluster = await testCluster();
    loop = await startLoop(cluster, {
      labelSelector: `pruneguard.io/evaluation=${evaluationName}`,
      fate: (pod) => fates.get(`${pod.metadata?.namespace}/${pod.metadata?.labels?.[labels.run]}`) ?? 'run',
      reconciler: { actionConfirmTimeoutMs: confirmTimeoutMs },
    });
  });
  after(() => loop?.stop());

  it('Advance on a canary at an indefinite pause: promoted to the next step, Done', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    await rollout.create();
    const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;

    const run = await ground.evaluate('Pass');
    const advance = await ground.settled(run, 'Advance');
    assert.equal(advance.state, 'Done', advance.detail);
    assert.equal(advance.revision, canaryHash, 'the revision the run evaluated');
    assert.match(advance.detail ?? '', /^at step [23] of 4/);
    assert.equal(advance.attempts, 1);
    assert.equal(advance.lastError, undefined);

    const next = await rollout.waitFor(
      'the canary to stop at its next pause (step 3)',
      (s) => s.currentStepIndex === 3,
    );
    assert.deepEqual(
      next.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    await rollout.waitForReplicas(canaryHash, 2);
    assert.ok((await rollout.events()).includes('Rollout step 2/4 completed (pause)'));
    assert.equal(await ground.lastAction(), `${run}/Advance@step=1`);
    await ground.assertActions([[run, 'Advance', 'Done']]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`]);
  });

  it('Advance before the canary has paused: Pending until it pauses, then applied', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    await rollout.create();
    // The new revision's pods may only run on a node that has this label, which none has yet: the
    // canary stays at its setWeight step, coming up, until the test labels a node.
    const label = `pruneguard.io/canary-${ground.namespace}`.slice(0, 63);
    const { currentPodHash: canaryHash } = await rollout.roll('2', { nodeSelector: { [label]: 'true' } });
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const labelNode = (value: string | null) =>
      core.patchNode({ name: 'kwok-cpu-0', body: { metadata: { labels: { [label]: value } } } }, mergePatch);
    t.after(() => labelNode(null));

    const run = await ground.evaluate('Pass');
    const waiting = await ground.actionOf(run, 'Advance', 'the Advance to wait for the canary', (a) =>
      /waiting for the canary to pause/.test(a.detail ?? ''),
    );
    assert.equal(waiting.state, 'Pending');
    assert.match(waiting.detail ?? '', /^waiting for the canary to pause \(step 0 of 4, Progressing\)/);
    assert.equal(waiting.attempts, 0, 'nothing written yet');
    const coming = (await rollout.get()).status!;
    assert.equal(coming.currentStepIndex, 0);
    assert.equal(coming.pauseConditions, undefined);
    assert.equal((await rollout.replicaSet(canaryHash!)).status?.availableReplicas ?? 0, 0);
    assert.equal(await ground.lastAction(), undefined, 'pruneguard has not written to the Rollout');

    await labelNode('true');
    const advance = await ground.settled(run, 'Advance');
    assert.equal(advance.state, 'Done', advance.detail);
    assert.equal(advance.attempts, 1);
    await rollout.waitFor('the canary to stop at its next pause (step 3)', (s) => s.currentStepIndex === 3);
    await rollout.waitForReplicas(canaryHash!, 2);
    assert.equal(await ground.lastAction(), `${run}/Advance@step=1`);
    await ground.assertActions([[run, 'Advance', 'Done']]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`]);
  });

  it('Advance on a canary paused by an Inconclusive AnalysisRun: moves past the analysis step', async (t) => {
    // An analysis step whose one measurement meets neither condition: the AnalysisRun ends
    // Inconclusive and the controller pauses the canary there.
    const server = createServer((_, response) => response.end(JSON.stringify({ score: 0.5 })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
    const steps = [
      { setWeight: 25 },
      { analysis: { templates: [{ templateName: 'undecided' }] } },
      { setWeight: 50 },
      { pause: {} },
    ];
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, steps);
    const { rollout } = ground;
    await ground.custom.createNamespacedCustomObject({
      group: 'argoproj.io',
      version: 'v1alpha1',
      namespace: ground.namespace,
      plural: 'analysistemplates',
      body: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AnalysisTemplate',
        metadata: { name: 'undecided' },
        spec: {
          metrics: [
            {
              name: 'score',
              provider: { web: { url, jsonPath: '{$.score}' } },
              successCondition: 'result > 0.9',
              failureCondition: 'result < 0.1',
            },
          ],
        },
      },
    });
    await rollout.create();
    const { currentPodHash: canaryHash } = await rollout.roll('2');
    const undecided = await rollout.waitFor(
      'the canary to pause on the Inconclusive AnalysisRun (step 1)',
      (s) =>
        s.currentStepIndex === 1 &&
        s.pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun') === true,
    );
    assert.equal(undecided.controllerPause, true);
    assert.equal(undecided.canary?.currentStepAnalysisRunStatus?.status, 'Inconclusive');

    const run = await ground.evaluate('Pass');
    const advance = await ground.settled(run, 'Advance');
    assert.equal(advance.state, 'Done', advance.detail);
    assert.equal(advance.attempts, 1);
    const next = await rollout.waitFor(
      'the canary to stop at its last pause (step 3)',
      (s) => s.currentStepIndex === 3,
    );
    assert.deepEqual(
      next.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    await rollout.waitForReplicas(canaryHash!, 2);
    assert.equal(await ground.lastAction(), `${run}/Advance@step=1`);
    await ground.assertActions([[run, 'Advance', 'Done']]);
    ground.assertPruneguardWrote([
      `metadata.annotations.${lastActionAnnotation}`,
      'status.controllerPause',
      'status.currentStepIndex',
    ]);
  });

  it('Rollback on a canary in progress: aborted, the canary scaled to 0, Done; another Critical finds it aborted', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const stableHash = (await rollout.create()).stableRS!;
    const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;

    const run = await ground.evaluate('Critical');
    const rollback = await ground.settled(run, 'Rollback');
    assert.equal(rollback.state, 'Done', rollback.detail);
    assert.match(rollback.detail ?? '', /^aborted: Degraded: RolloutAborted/);
    const aborted = (await rollout.get()).status!;
    assert.equal(aborted.abort, true);
    assert.equal(aborted.phase, 'Degraded');
    assert.equal(aborted.stableRS, stableHash);
    await rollout.waitForReplicas(canaryHash, 0);
    await rollout.waitForReplicas(stableHash, 4);
    assert.equal(await ground.lastAction(), `${run}/Rollback`);

    const again = await ground.evaluate('Critical');
    const skipped = await ground.settled(again, 'Rollback');
    assert.equal(skipped.state, 'Skipped', skipped.detail);
    assert.equal(skipped.detail, 'already aborted');
    assert.equal(await ground.lastAction(), `${run}/Rollback`, 'the second Critical wrote nothing');
    await ground.assertActions([
      [run, 'Rollback', 'Done'],
      [again, 'Rollback', 'Skipped'],
    ]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'status.abort']);
  });

  it('Rollback while the Argo controller is down: confirmed once it is back, never Skipped as "already aborted"', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const stableHash = (await rollout.create()).stableRS!;
    const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
    await rollout.argo.stop();

    const run = await ground.evaluate('Critical');
    const unconfirmed = await ground.actionOf(
      run,
      'Rollback',
      'the Rollback to give up waiting for its effect',
      (a) => a.lastError !== undefined,
    );
    assert.match(
      unconfirmed.lastError ?? '',
      new RegExp(
        `written, but not observed after ${confirmTimeoutMs / 1000} s: the controller has not acted on the abort yet`,
      ),
    );
    assert.equal((await rollout.get()).status?.abort, true, 'the abort is written');
    // Decided again from the Rollout, which carries this action's own stamp: its abort, still
    // waiting for a controller, not someone else's.
    const again = await ground.actionOf(
      run,
      'Rollback',
      'the Rollback to be decided again',
      (a) => a.state !== 'Pending',
    );
    assert.equal(again.state, 'Applied', `${again.state}: ${again.detail}`);

    const back = await startArgoRollouts(cluster, ground.namespace);
    t.after(() => back.stop());
    const rollback = await ground.settled(run, 'Rollback');
    assert.equal(rollback.state, 'Done', rollback.detail);
    assert.match(rollback.detail ?? '', /^aborted: Degraded: RolloutAborted/);
    await rollout.waitForReplicas(canaryHash, 0);
    await rollout.waitForReplicas(stableHash, 4);
    await ground.assertActions([[run, 'Rollback', 'Done']]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'status.abort']);
  });

  it('Rollback on a fully promoted Rollout: no abort, spec.paused holds the next revision at its first step until a Pass on it', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const stableHash = (await rollout.create()).stableRS!;

    const critical = await ground.evaluate('Critical');
    const block = await ground.settled(critical, 'Rollback');
    assert.equal(block.state, 'Done', block.detail);
    assert.match(
      block.detail ?? '',
      /nothing to roll back \(fully promoted\); the next revision is held at its first step/,
    );
    const blocked = await rollout.get();
    assert.equal(blocked.spec.paused, true);
    assert.notEqual(blocked.status?.abort, true);
    assert.equal(await ground.lastAction(), `${critical}/Rollback@block`);

    const { currentPodHash: nextHash } = await rollout.roll('2');
    const held = await rollout.waitFor(
      'the new revision to be held at its first step',
      (s) => s.currentPodHash === nextHash && s.phase === 'Paused',
    );
    assert.equal(held.currentStepIndex, 0);
    assert.equal(held.stableRS, stableHash);
    assert.equal(
      (await rollout.replicaSet(nextHash!)).spec?.replicas ?? 0,
      0,
      'no traffic to the new revision',
    );
    assert.equal((await rollout.replicaSet(stableHash)).spec?.replicas, 4);

    const pass = await ground.evaluate('Pass');
    const release = await ground.settled(pass, 'Advance');
    assert.equal(release.state, 'Done', release.detail);
    assert.equal(release.revision, nextHash);
    assert.match(release.detail ?? '', /^resumed at step [01] of 4/);
    const proceeded = await rollout.waitFor(
      'the released revision to go on to its indefinite pause (step 1)',
      (s, live) => !live.spec.paused && s.currentStepIndex === 1 && s.phase === 'Paused',
    );
    assert.deepEqual(
      proceeded.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    await rollout.waitForReplicas(nextHash!, 1);
    assert.equal(await ground.lastAction(), `${pass}/Advance@release`);

    const log = await readFile(rollout.argo.logFile, 'utf8');
    assert.doesNotMatch(
      log,
      /Removing abort condition/,
      'pruneguard never aborted the fully promoted Rollout',
    );
    await ground.assertActions([
      [critical, 'Rollback', 'Done'],
      [pass, 'Advance', 'Done'],
    ]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'spec.paused']);
  });

  it('Advance on an aborted canary: Skipped while policy.retryAborted is false, retried once it is true', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const stableHash = (await rollout.create()).stableRS!;
    const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
    const abort = await rollout.argo.kubectlArgoRollouts(['abort', rollout.name]);
    assert.equal(abort.code, 0, abort.stderr);
    await rollout.waitFor('the Rollout to be aborted', (s) => s.abort === true && s.phase === 'Degraded');
    await rollout.waitForReplicas(canaryHash, 0);

    const stays = await ground.evaluate('Pass', { retryAborted: false });
    const skipped = await ground.settled(stays, 'Advance');
    assert.equal(skipped.state, 'Skipped', skipped.detail);
    assert.equal(skipped.detail, 'the canary is aborted; policy.retryAborted is false, so it stays aborted');
    const still = (await rollout.get()).status!;
    assert.equal(still.abort, true);
    assert.equal(still.phase, 'Degraded');
    assert.equal((await rollout.replicaSet(canaryHash)).spec?.replicas, 0);
    assert.equal(await ground.lastAction(), undefined);
    ground.assertPruneguardWrote([]);

    const retries = await ground.evaluate('Pass', { retryAborted: true });
    const retried = await ground.settled(retries, 'Advance');
    assert.equal(retried.state, 'Done', retried.detail);
    assert.match(retried.detail ?? '', /^retried: /);
    const again = await rollout.waitFor(
      'the retried canary to stop at its indefinite pause (step 1) again',
      (s) => !s.abort && s.currentStepIndex === 1 && s.phase === 'Paused',
    );
    assert.equal(again.currentPodHash, canaryHash);
    assert.equal(again.stableRS, stableHash);
    await rollout.waitForReplicas(canaryHash, 1);
    assert.equal(await ground.lastAction(), `${retries}/Advance@retry`);
    await ground.assertActions([
      [stays, 'Advance', 'Skipped'],
      [retries, 'Advance', 'Done'],
    ]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'status.abort']);
  });

  it('Promote: Skipped with nothing written on a fully promoted Rollout; a paused canary is promoted fully', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const stableHash = (await rollout.create()).stableRS!;

    const idle = await ground.evaluate('Pass', { onPass: 'promote' });
    const skipped = await ground.settled(idle, 'Promote');
    assert.equal(skipped.state, 'Skipped', skipped.detail);
    assert.equal(skipped.detail, 'nothing to promote: no canary in progress (fully promoted)');
    assert.equal(await ground.lastAction(), undefined);
    ground.assertPruneguardWrote([]);

    const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
    const run = await ground.evaluate('Pass', { onPass: 'promote' });
    const promote = await ground.settled(run, 'Promote');
    assert.equal(promote.state, 'Done', promote.detail);
    assert.equal(promote.detail, `fully promoted: stable ReplicaSet ${canaryHash}`);
    const promoted = await rollout.waitFor(
      'the Rollout to be Healthy on the new revision',
      (s) => s.phase === 'Healthy',
    );
    assert.equal(promoted.stableRS, canaryHash);
    await rollout.waitForReplicas(canaryHash, 4);
    await rollout.waitForReplicas(stableHash, 0);
    assert.equal(await ground.lastAction(), `${run}/Promote`);
    await ground.assertActions([
      [idle, 'Promote', 'Skipped'],
      [run, 'Promote', 'Done'],
    ]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'status.promoteFull']);
  });

  it('Hold at a timed pause (Inconclusive, then Warning): the canary stays past the pause’s end; a Pass releases it', async (t) => {
    const steps = [{ setWeight: 25 }, { pause: { duration: '20s' } }, { setWeight: 50 }, { pause: {} }];
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, steps);
    const { rollout } = ground;
    await rollout.create();
    const { currentPodHash: canaryHash } = await rollout.roll('2');
    const atTimedPause = (s: RolloutStatus) =>
      s.currentPodHash === canaryHash &&
      s.currentStepIndex === 1 &&
      s.pauseConditions?.some((c) => c.reason === 'CanaryPauseStep') === true;

    // The run's pod fails (Inconclusive) once the canary has reached its timed pause.
    const failing = await ground.evaluate('Inconclusive', {}, async () => {
      await rollout.waitFor('the canary to reach its timed pause', atTimedPause);
      return 1;
    });
    const hold = await ground.settled(failing, 'Hold');
    assert.equal(hold.state, 'Done', hold.detail);
    assert.match(hold.detail ?? '', /^held: spec.paused, the controller reports Paused/);
    const held = await rollout.get();
    assert.equal(held.spec.paused, true);
    assert.ok(atTimedPause(held.status!), JSON.stringify(held.status));
    assert.equal(await ground.lastAction(), `${failing}/Hold`);

    const warning = await ground.evaluate('Warning');
    const holdAgain = await ground.settled(warning, 'Hold');
    assert.equal(holdAgain.state, 'Done', holdAgain.detail);
    assert.equal(await ground.lastAction(), `${failing}/Hold`, 'already held: the Warning wrote nothing');

    // Past the end of the 20 s pause (and a margin for the controller's requeue), still held there.
    const pausedAt = Date.parse(held.status!.pauseConditions![0]!.startTime!);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + 25_000 - Date.now())));
    const later = await rollout.get();
    assert.ok(atTimedPause(later.status!), `held at the timed pause: ${JSON.stringify(later.status)}`);
    assert.equal(later.spec.paused, true);
    assert.equal((await rollout.replicaSet(canaryHash!)).spec?.replicas, 1);
    assert.ok(!(await rollout.events()).includes('Rollout step 2/4 completed (pause: 20s)'));

    const pass = await ground.evaluate('Pass');
    const advance = await ground.settled(pass, 'Advance');
    assert.equal(advance.state, 'Done', advance.detail);
    await rollout.waitFor(
      'the released canary to stop at its last pause (step 3)',
      (s, live) => !live.spec.paused && s.currentStepIndex === 3,
    );
    await rollout.waitForReplicas(canaryHash!, 2);
    assert.equal(await ground.lastAction(), `${pass}/Advance@step=1`);
    await ground.assertActions([
      [failing, 'Hold', 'Done'],
      [warning, 'Hold', 'Done'],
      [pass, 'Advance', 'Done'],
    ]);
    ground.assertPruneguardWrote([`metadata.annotations.${lastActionAnnotation}`, 'spec.paused']);
  });

  it('a verdict on revision A when the Rollout has moved to revision B: Skipped, nothing written', async (t) => {
    const ground = await SteeringGround.start(t, cluster, loop.pvcRoot, pausingSteps);
    const { rollout } = ground;
    const revisionA = (await rollout.create()).currentPodHash!;

    const run = await ground.startRun('Pass');
    const started = await eventually('the run to record the revision it evaluates', async () =>
      (await ground.objects.runs()).find((r) => r.metadata.name === run),
    );
    assert.equal(started.spec.targetRevision, revisionA);
    const revisionB = (await rollout.roll('2')).currentPodHash!;
    const lastRun = (await ground.objects.evaluation(evaluationName)).status?.lastRun;
    assert.ok(
      lastRun?.name !== run || !lastRun.completedAt,
      'the run was still going when the Rollout moved',
    );
    await ground.concluded(run, 'Pass');

    const skipped = await ground.settled(run, 'Advance');
    assert.equal(skipped.state, 'Skipped', skipped.detail);
    assert.equal(
      skipped.detail,
      `the run evaluated revision ${revisionA}; the target is now at ${revisionB}`,
    );
    assert.equal(skipped.attempts, 0);
    // At the indefinite pause an Advance would promote revision B: the Skip stands.
    const paused = await rollout.waitFor(
      'revision B to stop at its indefinite pause (step 1)',
      (s) => s.currentStepIndex === 1 && s.phase === 'Paused',
    );
    assert.deepEqual(
      paused.pauseConditions?.map((c) => c.reason),
      ['CanaryPauseStep'],
    );
    assert.equal(await ground.lastAction(), undefined);
    await ground.assertActions([[run, 'Advance', 'Skipped']]);
    ground.assertPruneguardWrote([]);
  });
});

/**
 * One test's namespace: its Argo Rollouts controller, the claims holding the penguins fixtures, a
 * canary Rollout `penguins` (not yet created) and a record of who wrote it, and the evaluation
 * that steers it.
 */
class SteeringGround {
  readonly objects: Objects;
  readonly custom: CustomObjectsApi;
  private runs = 0;

  private constructor(
    kc: KubeConfig,
    readonly rollout: CanaryRollout,
    private readonly writers: RolloutWriters,
  ) {
    this.objects = new Objects(kc, rollout.namespace);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  static async start(
    t: TestContext,
    cluster: TestCluster,
    pvcRoot: string,
    steps: unknown[],
  ): Promise<SteeringGround> {
    const kc = cluster.kubeConfig();
    const namespace = await testNamespace(t, cluster);
    const argo = await startArgoRollouts(cluster, namespace);
    t.after(() => argo.stop());
    await createClaims(kc, namespace, pvcRoot, ['models', 'data']);
    const rollout = new CanaryRollout(kc, argo, { name: 'penguins', steps });
    const writers = await RolloutWriters.watch(kc, namespace, rollout.name);
    t.after(() => writers.stop());
    t.after(() => {
      for (const key of fates.keys()) if (key.startsWith(`${namespace}/`)) fates.delete(key);
    });
    return new SteeringGround(kc, rollout, writers);
  }

  get namespace(): string {
    return this.rollout.namespace;
  }

  /**
   * Runs the next evaluation, graded to `verdict` (for Inconclusive, its pod fails once `failPod`
   * has returned its exit code), and waits until it is concluded with that verdict. Returns its name.
   */
  async evaluate(
    verdict: Verdict,
    policy: Record<string, unknown> = {},
    failPod?: () => Promise<number>,
  ): Promise<string> {
    const run = await this.startRun(verdict, policy, failPod);
    await this.concluded(run, verdict);
    return run;
  }

  /** Creates the evaluation, or changes its spec: either starts the next run. Returns its name. */
  async startRun(
    verdict: Verdict,
    policy: Record<string, unknown> = {},
    failPod: () => Promise<number> = async () => 1,
  ): Promise<string> {
    const run = runName(evaluationName, ++this.runs);
    if (verdict === 'Inconclusive') fates.set(`${this.namespace}/${run}`, { act: failPod });
    const spec = {
      ...specFor[verdict],
      schedule: { interval: `${this.runs}h` },
      policy: { consecutiveBreaches: 1, onPass: 'advance', retryAborted: false, ...policy },
    };
    if (this.runs === 1) {
      await this.objects.createEvaluation(
        penguinsEvaluation(evaluationName, {
          data: penguinsData,
          target: { rollout: { name: this.rollout.name } },
          ...spec,
        }),
      );
    } else {
      await this.objects.patchEvaluation(evaluationName, { spec });
    }
    return run;
  }

  async concluded(run: string, verdict: Verdict): Promise<void> {
    const concluded = await eventually(
      `${run} to be concluded`,
      async () => {
        const e = await this.objects.evaluation(evaluationName);
        return e.status?.lastRun?.name === run && e.status.lastRun.completedAt ? e : undefined;
      },
      120_000,
      500,
    );
    assert.equal(concluded.status?.verdict, verdict, concluded.status?.explanation);
  }

  /** Waits until the action `type` of `run` satisfies `accept`; returns it. */
  async actionOf(
    run: string,
    type: ActionType,
    what: string,
    accept: (action: Action) => boolean,
  ): Promise<Action> {
    let last: PrunedModelEvaluation | undefined;
    try {
      return await eventually(
        what,
        async () => {
          last = await this.objects.evaluation(evaluationName);
          const action = last.status?.actions?.find((a) => a.run === run && a.type === type);
          return action && accept(action) ? action : undefined;
        },
        90_000,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nstatus.actions: ${JSON.stringify(last?.status?.actions, null, 1)}\n` +
          `Rollout: ${JSON.stringify((await this.rollout.get()).status)}\n` +
          `rollouts-controller log:\n${await this.rollout.argo.logTail(15)}`,
      );
    }
  }

  /** The action once it has left Pending and Applied: Done, Skipped or Superseded. */
  settled(run: string, type: ActionType): Promise<Action> {
    return this.actionOf(
      run,
      type,
      `the ${type} of ${run} to be settled`,
      (a) => a.state !== 'Pending' && a.state !== 'Applied',
    );
  }

  /** status.actions[] as [run, type, state]: one entry per run and verb, none repeated. */
  async assertActions(expected: [string, ActionType, string][]): Promise<void> {
    const actions = (await this.objects.evaluation(evaluationName)).status?.actions ?? [];
    assert.deepEqual(
      actions.map((a) => [a.run, a.type, a.state]),
      expected,
      JSON.stringify(actions, null, 1),
    );
  }

  /** The stamp pruneguard's last write left on the Rollout. */
  async lastAction(): Promise<string | undefined> {
    return (await this.rollout.get()).metadata.annotations?.[lastActionAnnotation];
  }

  /**
   * The fields pruneguard's managedFields entries on the Rollout held while the test watched are
   * exactly `fields`, and every other write came from a known field manager: an operator write
   * without fieldManager would show under its HTTP client's name instead of `pruneguard`.
   */
  assertPruneguardWrote(fields: string[]): void {
    assert.equal(this.writers.failure, undefined, 'the watch on the Rollout stopped');
    const managers = this.writers.managers();
    const strangers = managers.filter((m) => m !== 'pruneguard' && !otherWriters.includes(m));
    assert.deepEqual(strangers, [], `unknown field managers on the Rollout: ${managers.join(', ')}`);
    assert.deepEqual(this.writers.fieldsOf('pruneguard'), [...fields].sort(), 'the fields pruneguard wrote');
  }
}

/**
 * Watches one Rollout and keeps, per field manager, every field its managedFields entries have
 * held: a write shows there under the manager its request named.
 */
class RolloutWriters {
  private readonly owned = new Map<string, Set<string>>();
  private abort?: AbortController;
  private stopped = false;
  private resourceVersion?: string;
  /** Why the watch could not be resumed, if it could not. */
  failure?: unknown;

  private constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly name: string,
  ) {}

  static async watch(kc: KubeConfig, namespace: string, name: string): Promise<RolloutWriters> {
    const writers = new RolloutWriters(
      kc,
      `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/rollouts`,
      name,
    );
    await writers.start();
    return writers;
  }

  private async start(): Promise<void> {
    this.abort = await new Watch(this.kc).watch(
      this.path,
      {
        fieldSelector: `metadata.name=${this.name}`,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
      },
      (_, rollout: Rollout) => {
        this.resourceVersion = rollout.metadata?.resourceVersion;
        for (const entry of rollout.metadata?.managedFields ?? []) this.record(entry);
      },
      () => {
        // A watch the API server closed (timeout) resumes where it stopped.
        if (!this.stopped) this.start().catch((error: unknown) => (this.failure = error));
      },
    );
  }

  private record(entry: V1ManagedFieldsEntry): void {
    const manager = entry.manager ?? '';
    const fields = this.owned.get(manager) ?? new Set<string>();
    for (const path of fieldPaths(entry.fieldsV1 as Record<string, unknown> | undefined)) fields.add(path);
    this.owned.set(manager, fields);
  }

  managers(): string[] {
    return [...this.owned.keys()].sort();
  }

  fieldsOf(manager: string): string[] {
    return [...(this.owned.get(manager) ?? [])].sort();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

/** The leaves of a managedFields fieldsV1 tree, as dotted paths: `metadata.annotations.<key>`. */
function fieldPaths(fields: Record<string, unknown> | undefined, prefix = ''): string[] {
  return Object.entries(fields ?? {}).flatMap(([key, value]) => {
    if (key === '.') return [];
    const path = `${prefix}${key.replace(/^[fkvi]:/, '')}`;
    const children = fieldPaths(value as Record<string, unknown>, `${path}.`);
    return children.length > 0 ? children : [path];
  });
}
