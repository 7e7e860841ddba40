import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  evaluationRunNames,
  group,
  version,
  type EvaluationRun,
  type ShardStatus,
} from '../../../src/api/v1alpha1/index.js';
import { stateDigest } from '../../../src/evaluator/shard-state.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, operatorKubeConfig } from '../../support/operator.js';
import { PodRunner, type PodFate } from '../../support/pod-runner.js';
import {
  createClaims,
  createDeploymentPair,
  fixtureClaimsRoot,
  Objects,
  penguinsData,
  penguinsEvaluation,
  replicasOf,
} from './fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The operator's heap limit in this test: well under the chart's 512Mi container limit. */
const heapLimitMiB = 192;

type Act = (pod: V1Pod, asPod: KubeConfig) => Promise<number>;

const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** Writes one shard entry as the evaluator does (server-side apply as the shard's field manager). */
async function writeShard(asPod: KubeConfig, pod: V1Pod, run: string, entry: ShardStatus): Promise<void> {
  await asPod.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      group,
      version,
      namespace: pod.metadata!.namespace!,
      plural: evaluationRunNames.plural,
      name: run,
      body: {
        apiVersion: `${group}/${version}`,
        kind: evaluationRunNames.kind,
        metadata: { name: run, namespace: pod.metadata!.namespace! },
        status: { shards: [entry] },
      },
      fieldManager: `pruneguard-evaluator-shard-${entry.index}`,
      force: true,
    },
    applyPatch,
  );
}

function shardIndex(pod: V1Pod): number {
  return Number(pod.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] ?? 0);
}

function runOf(pod: V1Pod): string {
  return pod.metadata!.labels!['pruneguard.io/run']!;
}

function entry(index: number, data: string): ShardStatus {
  return {
    index,
    state: { encoding: 'gzip+base64', data },
    digest: stateDigest(data),
    samples: 1,
    completedAt: new Date().toISOString(),
  };
}

function statusCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

/**
 * Results come from evaluation pods, which the operator must not trust: a pod can be buggy or
 * compromised. Each case here lets one pod of a run act as an attacker with the pod's own
 * identity (the emulated kubelet runs the attack instead of the evaluator), against the operator
 * as users run it: `pruneguard operator` in its own process, under a heap limit. Every case ends
 * Inconclusive with the reason, with the Deployment pair untouched, and the operator alive.
 */
describe('shard results the operator must not trust', () => {
  let cluster: TestCluster;
  let pods: PodRunner;
  let operator: ChildProcess;
  let operatorLog = '';
  let workDir: string;
  const acts = new Map<string, Act>();

  before(async () => {
    cluster = await testCluster();
    await installPruneguard(cluster);
    workDir = await fixtureClaimsRoot('pruneguard-untrusted-');
    const kubeconfig = path.join(workDir, 'operator.kubeconfig');
    await writeFile(kubeconfig, (await operatorKubeConfig(cluster)).exportConfig());
    operator = spawn(
      process.execPath,
      [
        `--max-old-space-size=${heapLimitMiB}`,
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'operator',
        '--kubeconfig',
        kubeconfig,
        '--port',
        '0',
      ],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, PRUNEGUARD_LOG_LEVEL: 'warn' },
      },
    );
    operator.stderr!.on(
      'data',
      (chunk: Buffer) => (operatorLog = (operatorLog + chunk.toString()).slice(-20_000)),
    );
    pods = new PodRunner(cluster.kubeConfig(), {
      pvcRoot: workDir,
      extraEnv: { PRUNEGUARD_MEASUREMENT: 'quick' },
      fate: (pod): PodFate => {
        const act = acts.get(
          `${pod.metadata!.namespace}/${pod.metadata!.labels!['pruneguard.io/evaluation']}`,
        );
        if (!act) return 'run';
        return shardIndex(pod) === 1 || pod.metadata!.labels!['pruneguard.io/evaluation']!.startsWith('solo')
          ? { act }
          : 'run';
      },
    });
    await pods.start();
  });
  after(async () => {
    operator?.kill('SIGTERM');
    await pods?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** Runs one evaluation whose shard 1 (or only shard, for `solo-*`) is `act`, and returns its Inconclusive status. */
  async function attacked(t: it.TestContext, name: string, act: Act, shards = 2) {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    acts.set(`${namespace}/${name}`, act);
    await createDeploymentPair(kc, namespace, 3, 1);
    await createClaims(kc, namespace, workDir, ['models', 'data']);
    await objects.createEvaluation(
      penguinsEvaluation(name, {
        data: penguinsData,
        runtime: { parallelism: shards },
        target: { deploymentPair: { stable: 'penguins', canary: 'penguins-canary' } },
        policy: { consecutiveBreaches: 1 },
      }),
    );
    const evaluation = await eventually(
      'the run to conclude',
      async () => {
        const e = await objects.evaluation(name);
        return e.status?.lastRun?.completedAt ? e : undefined;
      },
      120_000,
      500,
    );
    assert.equal(operator.exitCode, null, `the operator is still running:\n${operatorLog}`);
    assert.equal(evaluation.status?.verdict, 'Inconclusive', evaluation.status?.explanation);
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 3, canary: 1 }, 'nothing moved');
    assert.deepEqual(
      evaluation.status?.actions?.map((a) => a.type),
      ['Hold'],
      'Inconclusive holds and never advances or rolls back',
    );
    return { evaluation, namespace, objects };
  }

  function failure(evaluation: {
    status?: { conditions?: { type: string; reason: string; message: string }[] };
  }) {
    return evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
  }

  /** Waits for shard 0's genuine result, so an attacking shard can start from a real state. */
  async function genuineState(asPod: KubeConfig, pod: V1Pod): Promise<Record<string, unknown>> {
    const api = asPod.makeApiClient(CustomObjectsApi);
    const shard = await eventually('shard 0’s result', async () => {
      const run = (await api.getNamespacedCustomObject({
        group,
        version,
        namespace: pod.metadata!.namespace!,
        plural: evaluationRunNames.plural,
        name: runOf(pod),
      })) as EvaluationRun;
      return run.status?.shards?.find((s) => s.index === 0 && s.state);
    });
    return JSON.parse(gunzipSync(Buffer.from(shard.state!.data, 'base64')).toString('utf8')) as Record<
      string,
      unknown
    >;
  }

  const encode = (state: unknown) => gzipSync(JSON.stringify(state)).toString('base64');

  it('a gzip bomb (a few hundred KB that inflate to 400 MiB) is refused within the caps', async (t) => {
    const zeros = Buffer.alloc(400 * 1024 * 1024, '0,');
    const bomb = gzipSync(zeros, { level: 9 }).toString('base64');
    assert.ok(bomb.length < 1_400_000, `the bomb fits the API's cap: ${bomb.length} bytes`);
    const { evaluation } = await attacked(t, 'bomb', async (pod, asPod) => {
      await writeShard(asPod, pod, runOf(pod), entry(shardIndex(pod), bomb));
      return 0;
    });
    assert.equal(failure(evaluation)?.reason, 'ResultsRejected', failure(evaluation)?.message);
    assert.match(failure(evaluation)?.message ?? '', /shard 1: .*decompresses to more than/);
    const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'));
    const peakMiB = Number(peak?.[1]) / 1024;
    t.diagnostic(`operator peak RSS ${peakMiB.toFixed(0)} MiB (heap limit ${heapLimitMiB} MiB)`);
    assert.ok(peakMiB < 400, `operator peak RSS ${peakMiB.toFixed(0)} MiB stays well under the 512Mi limit`);
  });

  for (const [name, tamper, expected] of [
    ['inflated', (n: number) => n * 1e300, /accuracy.*(finite|safe integer|too large)/i],
    ['negative', (n: number) => -n - 1, /accuracy.*(negative|non-negative)/i],
  ] as const) {
    it(`counts that are ${name} are refused before anything is graded or done`, async (t) => {
      const { evaluation } = await attacked(t, name, async (pod, asPod) => {
        const state = await genuineState(asPod, pod);
        const accuracy = (state.overall as { metrics: { accuracyDrop: Record<string, number> } }).metrics
          .accuracyDrop;
        accuracy.candidateOnlyCorrect = tamper(accuracy.candidateOnlyCorrect! + 1);
        await writeShard(asPod, pod, runOf(pod), entry(shardIndex(pod), encode(state)));
        return 0;
      });
      assert.equal(failure(evaluation)?.reason, 'ResultsRejected', failure(evaluation)?.message);
      assert.match(failure(evaluation)?.message ?? '', expected);
    });
  }

  it('an invented slice is refused', async (t) => {
    const { evaluation } = await attacked(t, 'slice', async (pod, asPod) => {
      const state = await genuineState(asPod, pod);
      const slices = state.slices as { slice: string; columns: string[] }[];
      slices.push({ ...structuredClone(slices[0]!), slice: 'Island=Atlantis' });
      await writeShard(asPod, pod, runOf(pod), entry(shardIndex(pod), encode(state)));
      return 0;
    });
    assert.equal(failure(evaluation)?.reason, 'ResultsRejected', failure(evaluation)?.message);
    assert.match(failure(evaluation)?.message ?? '', /Atlantis/);
  });

  it('a pod cannot write another run’s status, nor replace its own shard’s result', async (t) => {
    const outcomes: string[] = [];
    const { evaluation } = await attacked(
      t,
      'solo-forger',
      async (pod, asPod) => {
        const forged = entry(0, encode({ forged: true }));
        await writeShard(asPod, pod, 'victim-00001', forged).then(
          () => outcomes.push('other run: written'),
          (error: unknown) => outcomes.push(`other run: ${statusCode(error)}`),
        );
        await writeShard(asPod, pod, runOf(pod), entry(0, encode({ first: true })));
        await writeShard(asPod, pod, runOf(pod), entry(0, encode({ second: true }))).then(
          () => outcomes.push('own shard again: written'),
          (error: unknown) => outcomes.push(`own shard again: ${statusCode(error)}`),
        );
        return 0;
      },
      1,
    );
    assert.deepEqual(outcomes, ['other run: 403', 'own shard again: 422']);
    assert.equal(failure(evaluation)?.reason, 'ResultsRejected', 'the first write was garbage all along');
  });

  it('a pod that sets its run’s phase is overruled: only the operator finishes a run', async (t) => {
    const { evaluation } = await attacked(
      t,
      'solo-phase',
      async (pod, asPod) => {
        await asPod.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
          {
            group,
            version,
            namespace: pod.metadata!.namespace!,
            plural: evaluationRunNames.plural,
            name: runOf(pod),
            body: { status: { phase: 'Succeeded' } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return 0;
      },
      1,
    );
    assert.equal(failure(evaluation)?.reason, 'ResultsRejected', failure(evaluation)?.message);
    assert.match(
      failure(evaluation)?.message ?? '',
      /status\.phase was set to Succeeded by someone other than the operator/,
    );
  });
});
