/**
 * The Argo-native gate end to end: the genuine Argo Rollouts controller runs real AnalysisRuns of
 * the AnalysisTemplate in manifests/examples/argo/analysis-gate.yaml against the operator's
 * verdict endpoint, for canary Rollouts on the kwok nodes built from that file's Rollout.
 *
 * The operator serving the gate is a standby replica: another holder keeps the leader Lease, so
 * it has no informer caches and reconciles nothing, and the verdicts it serves are the statuses
 * this test writes as the admin. The template's URL points at 127.0.0.1 because the controller
 * runs on this machine; only its interval and count are shortened.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CustomObjectsApi, type V1ReplicaSet } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { mergePatch } from '../../../src/actuators/kubernetes.js';
import type { RunningOperator } from '../../../src/controller/operator.js';
import {
  group,
  prunedModelEvaluationNames,
  version,
  type PrunedModelEvaluationStatus,
  type Verdict,
} from '../../../src/api/v1alpha1/index.js';
import {
  startArgoRollouts,
  type ArgoRolloutsController,
  type RolloutStatus,
} from '../../support/argo-rollouts.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, startTestOperator } from '../../support/operator.js';
import { Objects, penguinsEvaluation } from './fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const exampleFile = path.join(repoRoot, 'manifests/examples/argo/analysis-gate.yaml');
const serviceUrl = 'http://pruneguard-operator.pruneguard-system.svc:8080';
const lease = { name: 'pruneguard-operator', namespace: 'pruneguard-system' };
/** The example's count, shortened with its interval; every Inconclusive run takes this many measurements. */
const count = 8;

type Json = Record<string, unknown>;

interface WebMetric {
  provider: { web: { url: string; jsonPath: string } };
  count: number;
  inconclusiveLimit: number;
}
interface AnalysisRun {
  metadata: { ownerReferences?: { name: string }[] };
  status?: { phase?: string; metricResults?: { measurements?: { phase: string; value?: string }[] }[] };
}
interface RolloutBody {
  metadata: Json;
  spec: Json & {
    strategy: { canary: { steps: { analysis?: { args: { name: string; value?: string }[] } }[] } };
  };
}

/** What the controller did with a Rollout whose second revision met the gate. */
interface Outcome {
  run: AnalysisRun;
  rollout: RolloutStatus;
  canary: V1ReplicaSet;
  stable: V1ReplicaSet;
}

/** A status as the operator writes it after grading `generation` of the spec. */
function graded(verdict: Verdict, generation = 1): PrunedModelEvaluationStatus {
  return {
    observedGeneration: generation,
    verdict,
    lastRun: { name: `run-${generation}`, completedAt: new Date().toISOString(), samples: 133 },
    explanation: `${verdict}, written by the test`,
    metrics: [
      { name: 'accuracyDrop', value: 0.01, grade: verdict, target: 0.02, warning: 0.05, samples: 133 },
    ],
  };
}

/** The measurements of the gate's one metric, as `<phase> <value Argo read at $.verdict>`. */
const measured = (run: AnalysisRun) =>
  run.status?.metricResults?.[0]?.measurements?.map((m) => `${m.phase} ${m.value}`) ?? [];

const pausedByInconclusiveRun = ({ run, rollout }: Pick<Outcome, 'run' | 'rollout'>) =>
  run.status?.phase === 'Inconclusive' &&
  rollout.pauseConditions?.some((c) => c.reason === 'InconclusiveAnalysisRun') === true;

function assertPausedAtTheGate(outcome: Outcome, answered: string): void {
  assert.equal(outcome.run.status?.phase, 'Inconclusive');
  assert.deepEqual(measured(outcome.run), Array(count).fill(`Inconclusive "${answered}"`));
  assert.equal(outcome.rollout.phase, 'Paused');
  assert.deepEqual(
    outcome.rollout.pauseConditions?.map((c) => c.reason),
    ['InconclusiveAnalysisRun'],
  );
  assert.equal(outcome.rollout.currentStepIndex, 1, 'held at the gate');
  assert.equal(outcome.canary.spec?.replicas, 1, 'the canary stays at 25%');
  assert.equal(outcome.stable.spec?.replicas, 3);
}

/**
 * One namespace with its Argo Rollouts controller, the example's AnalysisTemplate aimed at a
 * standby operator replica, and the helpers the scenarios share.
 */
class GateGround {
  private readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly evaluations: Objects;
  private readonly argoObjects: { group: string; version: string; namespace: string };

  private constructor(
    cluster: TestCluster,
    readonly namespace: string,
    private readonly argo: ArgoRolloutsController,
    readonly verdictBase: string,
    private readonly exampleRollout: RolloutBody,
  ) {
    const kc = cluster.kubeConfig();
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.evaluations = new Objects(kc, namespace);
    this.argoObjects = { group: 'argoproj.io', version: 'v1alpha1', namespace };
  }

  static async start(t: TestContext): Promise<GateGround> {
    const cluster = await testCluster();
    await installPruneguard(cluster);
    const namespace = await testNamespace(t, cluster);
    const argo = await startArgoRollouts(cluster, namespace);
    t.after(() => argo.stop());

    const dryRun = await cluster.kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', exampleFile]);
    assert.equal(dryRun.code, 0, `the example as it is, against the real CRDs: ${dryRun.stderr}`);

    // Another holder keeps the Lease for an hour: the replica started below stays a standby. The
    // Lease goes after the replica has stopped, so later tests elect their own leaders.
    const standby: { operator?: RunningOperator } = {};
    t.after(async () => {
      await standby.operator?.stop();
      await cluster.kubectl(['delete', 'lease', '-n', lease.namespace, lease.name, '--ignore-not-found']);
    });
    const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const held = await cluster.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: lease,
        spec: { holderIdentity: 'another-replica', leaseDurationSeconds: 3600, renewTime },
      }),
    );
    assert.equal(held.code, 0, held.stderr);
    const operator = await startTestOperator(cluster, {
      namespace: 'none',
      leaderElection: { leaseName: lease.name, identity: 'analysis-gate-standby' },
    });
    standby.operator = operator;
    const base = `http://127.0.0.1:${operator.port}`;
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^pruneguard_leader 0$/m, 'a standby');

    const documents = yaml.loadAll(await readFile(exampleFile, 'utf8')) as Json[];
    const ofKind = (kind: string) => documents.find((document) => document?.kind === kind)!;
    const template = ofKind('AnalysisTemplate');
    const metric = (template.spec as { metrics: WebMetric[] }).metrics[0]!;
    assert.equal(metric.provider.web.jsonPath, '{$.verdict}');
    assert.ok(metric.provider.web.url.startsWith(`${serviceUrl}/`), metric.provider.web.url);
    assert.equal(metric.inconclusiveLimit, metric.count, 'a run ends Inconclusive by count, not earlier');
    metric.provider.web.url = metric.provider.web.url.replace(serviceUrl, base);
    Object.assign(metric, { interval: '1s', count, inconclusiveLimit: count });
    const ground = new GateGround(
      cluster,
      namespace,
      argo,
      base,
      ofKind('Rollout') as unknown as RolloutBody,
    );
    await ground.custom.createNamespacedCustomObject({
      ...ground.argoObjects,
      plural: 'analysistemplates',
      body: template,
    });
    return ground;
  }

  async createEvaluation(name: string, status?: PrunedModelEvaluationStatus): Promise<void> {
    await this.evaluations.createEvaluation(penguinsEvaluation(name));
    if (status) await this.writeStatus(name, status);
  }

  /** As the admin, through the status subresource, as the operator would. */
  async writeStatus(name: string, status: PrunedModelEvaluationStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        namespace: this.namespace,
        plural: prunedModelEvaluationNames.plural,
        name,
        body: { status },
      },
      mergePatch,
    );
  }

  /** A spec change: generation 2, which the status written before has not graded. */
  async changeSpec(name: string): Promise<void> {
    await this.evaluations.patchEvaluation(name, { spec: { schedule: { interval: '2h' } } });
    assert.equal((await this.evaluations.evaluation(name)).metadata.generation, 2);
  }

  async verdict(name: string): Promise<{ verdict: string; explanation: string }> {
    const url = `${this.verdictBase}/api/v1/namespaces/${this.namespace}/prunedmodelevaluations/${name}/verdict`;
    return (await (await fetch(url)).json()) as { verdict: string; explanation: string };
  }

  async replicaSet(hash: string): Promise<V1ReplicaSet> {
    const list = await this.apps.listNamespacedReplicaSet({
      namespace: this.namespace,
      labelSelector: `rollouts-pod-template-hash=${hash}`,
    });
    assert.equal(list.items.length, 1, `one ReplicaSet with hash ${hash}`);
    return list.items[0]!;
  }

  private async analysisRun(rollout: string): Promise<AnalysisRun | undefined> {
    const list = (await this.custom.listNamespacedCustomObject({
      ...this.argoObjects,
      plural: 'analysisruns',
    })) as {
      items: AnalysisRun[];
    };
    return list.items.find((run) => run.metadata.ownerReferences?.some((owner) => owner.name === rollout));
  }

  /**
   * A Rollout built from the example's, gated on `evaluation`: its first revision rolls out at
   * once (nothing to compare with), its second meets the gate at step 1. `meanwhile` runs once the
   * gate has measured; `settled` says when the controller has acted on the AnalysisRun.
   */
  async gate(
    name: string,
    evaluation: string,
    settled: (seen: Pick<Outcome, 'run' | 'rollout'>) => boolean,
    meanwhile?: (run: AnalysisRun) => Promise<void>,
  ): Promise<Outcome> {
    const rollouts = { ...this.argoObjects, plural: 'rollouts' };
    const body = structuredClone(this.exampleRollout);
    for (const step of body.spec.strategy.canary.steps) {
      const arg = step.analysis?.args.find((a) => a.name === 'evaluation');
      if (arg) arg.value = evaluation;
    }
    const containers = (revision: string) => [
      { name: 'server', image: 'penguins-server:1', env: [{ name: 'REVISION', value: revision }] },
    ];
    body.metadata = { name };
    body.spec.selector = { matchLabels: { app: name } };
    body.spec.template = { metadata: { labels: { app: name } }, spec: { containers: containers('1') } };
    await this.custom.createNamespacedCustomObject({ ...rollouts, body });

    let last: RolloutStatus = {};
    const status = async () => {
      const live = (await this.custom.getNamespacedCustomObject({ ...rollouts, name })) as {
        status?: RolloutStatus;
      };
      return (last = live.status ?? {});
    };
    try {
      const first = await eventually(
        'the first revision to be Healthy',
        async () => {
          const s = await status();
          return s.phase === 'Healthy' && s.availableReplicas === 4 ? s : undefined;
        },
        90_000,
        500,
      );
      await this.custom.patchNamespacedCustomObject(
        { ...rollouts, name, body: { spec: { template: { spec: { containers: containers('2') } } } } },
        mergePatch,
      );
      if (meanwhile) {
        const asking = await eventually(
          'the gate to have measured once',
          async () => {
            const run = await this.analysisRun(name);
            return run && measured(run).length > 0 ? run : undefined;
          },
          60_000,
          250,
        );
        await meanwhile(asking);
      }
      const seen = await eventually(
        'the controller to act on the AnalysisRun',
        async () => {
          const run = await this.analysisRun(name);
          const rollout = await status();
          return run && settled({ run, rollout }) ? { run, rollout } : undefined;
        },
        90_000,
        500,
      );
      const [canary, stable] = await Promise.all([
        this.replicaSet(seen.rollout.currentPodHash!),
        this.replicaSet(first.stableRS!),
      ]);
      return { ...seen, canary, stable };
    } catch (error) {
      throw new Error(
        `${name}: ${(error as Error).message}\nlast Rollout status: ${JSON.stringify(last)}\n` +
          `AnalysisRun status: ${JSON.stringify((await this.analysisRun(name))?.status)}\n` +
          `rollouts-controller log:\n${await this.argo.logTail(15)}`,
      );
    }
  }
}

describe('pruneguard as an Argo Rollouts analysis gate', () => {
  it(
    'real AnalysisRuns read the verdict from a standby replica: Pass goes on, Critical aborts, anything else pauses',
    {
      concurrency: true,
    },
    async (t) => {
      const ground = await GateGround.start(t);
      // Each scenario has its own evaluation and Rollout; they run side by side.
      const scenarios = [
        t.test('Pass: the AnalysisRun is Successful and the Rollout goes on to its next steps', async () => {
          await ground.createEvaluation('pass', graded('Pass'));
          // At step 3 the controller sets the pause condition in a status write of its own.
          const outcome = await ground.gate(
            'gate-pass',
            'pass',
            ({ rollout }) => rollout.currentStepIndex === 3 && rollout.pauseConditions !== undefined,
          );
          assert.equal(outcome.run.status?.phase, 'Successful');
          assert.deepEqual(measured(outcome.run), ['Successful "Pass"']);
          assert.deepEqual(
            outcome.rollout.pauseConditions?.map((c) => c.reason),
            ['CanaryPauseStep'],
            'at the 10-minute pause after setWeight 50',
          );
          await eventually('the canary at 50%', async () => {
            const canary = await ground.replicaSet(outcome.rollout.currentPodHash!);
            return canary.spec?.replicas === 2 && canary.status?.availableReplicas === 2 ? true : undefined;
          });
        }),

        t.test(
          'Critical: the AnalysisRun Fails and the Rollout aborts to its stable ReplicaSet',
          async () => {
            await ground.createEvaluation('critical', graded('Critical'));
            const outcome = await ground.gate(
              'gate-critical',
              'critical',
              ({ rollout }) => rollout.phase === 'Degraded',
            );
            assert.equal(outcome.run.status?.phase, 'Failed');
            assert.deepEqual(measured(outcome.run), ['Failed "Critical"']);
            assert.equal(outcome.rollout.abort, true);
            assert.match(outcome.rollout.message ?? '', /RolloutAborted/);
            const hash = (rs: V1ReplicaSet) => rs.metadata!.labels!['rollouts-pod-template-hash']!;
            await eventually('the canary scaled to 0 and the stable ReplicaSet back to 4', async () => {
              const [canary, stable] = await Promise.all([
                ground.replicaSet(hash(outcome.canary)),
                ground.replicaSet(hash(outcome.stable)),
              ]);
              return canary.spec?.replicas === 0 && stable.spec?.replicas === 4 ? true : undefined;
            });
          },
        ),

        ...(['Warning', 'Inconclusive'] as const).map((verdict) =>
          t.test(
            `${verdict}: the AnalysisRun is Inconclusive and the Rollout pauses at the gate`,
            async () => {
              const name = verdict.toLowerCase();
              await ground.createEvaluation(name, graded(verdict));
              assertPausedAtTheGate(
                await ground.gate(`gate-${name}`, name, pausedByInconclusiveRun),
                verdict,
              );
            },
          ),
        ),

        t.test('no verdict yet: Inconclusive, the Rollout pauses at the gate', async () => {
          await ground.createEvaluation('missing');
          const answer = await ground.verdict('missing');
          assert.equal(answer.verdict, 'Inconclusive');
          assert.equal(answer.explanation, 'no verdict yet: the evaluation has not finished a run');
          const outcome = await ground.gate('gate-missing', 'missing', pausedByInconclusiveRun);
          assertPausedAtTheGate(outcome, 'Inconclusive');
        }),

        t.test('a Pass of an older spec: Inconclusive, the Rollout pauses at the gate', async () => {
          await ground.createEvaluation('stale', graded('Pass', 1));
          await ground.changeSpec('stale');
          const answer = await ground.verdict('stale');
          assert.equal(answer.verdict, 'Inconclusive');
          assert.match(answer.explanation, /graded generation 1 of the spec; the spec is at generation 2/);
          const outcome = await ground.gate('gate-stale', 'stale', pausedByInconclusiveRun);
          assertPausedAtTheGate(outcome, 'Inconclusive');
        }),

        t.test(
          'a Pass of an older spec keeps the gate waiting; the Pass of the new spec opens it',
          async () => {
            await ground.createEvaluation('regraded', graded('Pass', 1));
            await ground.changeSpec('regraded');
            const outcome = await ground.gate(
              'gate-regraded',
              'regraded',
              ({ rollout }) => rollout.currentStepIndex === 3,
              async (run) => {
                const soFar = measured(run);
                assert.ok(
                  soFar.length > 0 && soFar.every((m) => m === 'Inconclusive "Inconclusive"'),
                  soFar.join(', '),
                );
                await ground.writeStatus('regraded', graded('Pass', 2));
              },
            );
            assert.equal(outcome.run.status?.phase, 'Successful');
            const measurements = measured(outcome.run);
            assert.equal(measurements.at(-1), 'Successful "Pass"');
            assert.ok(
              measurements.slice(0, -1).every((m) => m === 'Inconclusive "Inconclusive"'),
              measurements.join(', '),
            );
          },
        ),
      ];
      await Promise.all(scenarios);

      const unknown = await fetch(
        `${ground.verdictBase}/api/v1/namespaces/${ground.namespace}/prunedmodelevaluations/nothing/verdict`,
      );
      assert.equal(unknown.status, 404);
    },
  );
});
