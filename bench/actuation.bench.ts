/**
 * Actuation latency: from the moment the last shard result of a run is written to the
 * EvaluationRun status to the moment the genuine Argo Rollouts controller has carried out the
 * verdict on a canary Rollout.
 *
 *   node --import tsx --expose-gc bench/actuation.bench.ts [--runs 100] [--shards 1]
 *
 * Everything runs on this machine: the local control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok), the Argo Rollouts controller built by
 * `make argo-rollouts`, the operator in this process (as its own ServiceAccount), and the emulated
 * kubelet for evaluation pods (test/support/pod-runner.ts).
 *
 * One real evaluator run per verdict captures what its shards write (penguins pruned-30: Pass,
 * pruned-95: Critical). Every measured run then starts from a spec change (the pods' deadline
 * moves by a second: a run starts when spec.generation moves), and each of its pods writes the
 * captured state in place of the evaluator, as the evaluator does: server-side apply of its own
 * status.shards entry, digest included, as the pod's own ServiceAccount. The clock starts when
 * the last shard's write returns and stops at the first watch event (informers on the
 * namespace's Rollouts, ReplicaSets and Jobs; no polling) that shows:
 * - Critical: the Rollout aborted (status.abort, phase Degraded) and its canary ReplicaSet scaled
 *   to 0 (spec.replicas); between runs `kubectl argo rollouts retry` re-arms it, and the next run
 *   starts once the canary is back at its pause with its pod available;
 * - Pass: the canary at its next step (status.currentStepIndex one higher), on a Rollout with one
 *   `pause: {}` step per run, so that each Pass advances it one pause.
 * Two more moments are shown, as medians: pruneguard's write reaching the Rollout (its
 * pruneguard.io/last-action annotation), and the Job's Complete (or SuccessCriteriaMet) condition,
 * for comparison: kube-controller-manager's Job controller syncs a Job at most once a second after
 * its pods change (syncJobBatchPeriod), so an operator that waited for it would miss the target.
 */
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import {
  AppsV1Api,
  BatchV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Job,
  type V1Pod,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { lastActionAnnotation } from '../src/actuators/actuator.js';
import {
  apiVersion,
  evaluationRunNames,
  group,
  openActionStates,
  version,
  type EvaluationRun,
  type EvaluationRunStatus,
  type Verdict,
} from '../src/api/v1alpha1/index.js';
import { labels } from '../src/controller/evaluation-job.js';
import { ResourceInformer } from '../src/controller/informer.js';
import { fieldManager } from '../src/evaluator/shard-status.js';
import { createLogger } from '../src/telemetry/logger.js';
import { startArgoRollouts } from '../test/support/argo-rollouts.js';
import { clusterAt, eventually } from '../test/support/cluster.js';
import { LocalControlPlane } from '../test/support/controlplane.js';
import { installPruneguard, startTestOperator } from '../test/support/operator.js';
import { PodRunner } from '../test/support/pod-runner.js';
import { CanaryRollout, podHashLabel, type Rollout } from '../test/support/rollouts.js';
import {
  createClaims,
  fixtureClaimsRoot,
  Objects,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
} from '../test/integration/controller/fixtures.js';
import { printTable } from './table.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const runs = argument('runs', 100);
const shards = argument('shards', 1);
const namespace = 'bench';
const targetMs = 500;
const deadlineSeconds = 600;
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

type ShardEntry = NonNullable<EvaluationRunStatus['shards']>[number];

/** What one real evaluator run's pods wrote, replayed by the pods of every measured run. */
interface Captured {
  shards: ShardEntry[];
  executionProvider?: EvaluationRunStatus['executionProvider'];
  powerMethod?: EvaluationRunStatus['powerMethod'];
}

interface Scenario {
  verdict: Verdict;
  evaluation: string;
  rollout: string;
  candidate: string;
}

/**
 * The latest state of the namespace's Rollouts, ReplicaSets and Jobs, kept by watches, and the
 * moment (performance.now()) of the first event after which a condition on that state holds.
 */
class Watched {
  readonly rollouts = new Map<string, Rollout>();
  readonly replicaSets = new Map<string, V1ReplicaSet>();
  readonly jobs = new Map<string, V1Job>();
  private readonly waiters = new Set<{ holds: () => boolean; resolve: (at: number) => void }>();
  private readonly informers: ResourceInformer<KubernetesObject>[] = [];

  constructor(kc: KubeConfig) {
    const log = createLogger({ name: 'bench-watch', level: 'warn', destination: 2 });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const apps = kc.makeApiClient(AppsV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const follow = (
      path: string,
      list: () => Promise<KubernetesListObject<KubernetesObject>>,
      into: Map<string, unknown>,
    ) => {
      const seen = (object: KubernetesObject) => {
        const at = performance.now();
        into.set(object.metadata!.name!, object);
        for (const waiter of this.waiters) {
          if (!waiter.holds()) continue;
          this.waiters.delete(waiter);
          waiter.resolve(at);
        }
      };
      const events = { onChange: seen, onDelete: (o: KubernetesObject) => into.delete(o.metadata!.name!) };
      this.informers.push(new ResourceInformer(kc, path, list, events, log));
    };
    follow(
      `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/rollouts`,
      () =>
        custom.listNamespacedCustomObject({
          group: 'argoproj.io',
          version: 'v1alpha1',
          namespace,
          plural: 'rollouts',
        }) as Promise<KubernetesListObject<KubernetesObject>>,
      this.rollouts,
    );
    follow(
      `/apis/apps/v1/namespaces/${namespace}/replicasets`,
      () => apps.listNamespacedReplicaSet({ namespace }),
      this.replicaSets,
    );
    follow(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      () => batch.listNamespacedJob({ namespace }),
      this.jobs,
    );
  }

  async start(): Promise<void> {
    for (const informer of this.informers) await informer.start();
  }

  async stop(): Promise<void> {
    for (const informer of this.informers) await informer.stop();
  }

  /** When `holds` first held after an event (now, if it holds already). */
  until(what: string, holds: () => boolean, timeoutMs = 60_000): Promise<number> {
    if (holds()) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const waiter = {
        holds,
        resolve: (at: number) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  replicaSetOf(hash: string): V1ReplicaSet | undefined {
    return [...this.replicaSets.values()].find((rs) => rs.metadata?.labels?.[podHashLabel] === hash);
  }
}

/**
 * The pods' side: the first run of each evaluation runs the real evaluator and its shard entries
 * are captured; every later pod writes them again, and the moment the last write of a run
 * returns is handed to whoever waits for that evaluation's next run.
 */
class ShardWrites {
  readonly captured = new Map<string, Captured>();
  private readonly written = new Map<string, number[]>();
  private readonly waiting = new Map<string, (write: { run: string; at: number }) => void>();

  fate = (pod: V1Pod) => {
    const evaluation = pod.metadata?.labels?.[labels.evaluation] ?? '';
    const captured = this.captured.get(evaluation);
    if (!captured) return 'run' as const;
    return { act: (_: V1Pod, asPod: KubeConfig) => this.replay(pod, asPod, evaluation, captured) };
  };

  /** The moment the last shard of `evaluation`'s next run has been written. */
  next(evaluation: string): Promise<{ run: string; at: number }> {
    return new Promise((resolve) => this.waiting.set(evaluation, resolve));
  }

  private async replay(
    pod: V1Pod,
    asPod: KubeConfig,
    evaluation: string,
    captured: Captured,
  ): Promise<number> {
    const runName = pod.metadata!.labels![labels.run]!;
    const index = Number(pod.metadata!.annotations!['batch.kubernetes.io/job-completion-index']);
    const api = asPod.makeApiClient(CustomObjectsApi);
    const target = { group, version, plural: evaluationRunNames.plural, namespace, name: runName };
    // The evaluator reads its run first (spec.shards, the spec it evaluates).
    const run = (await api.getNamespacedCustomObject(target)) as EvaluationRun;
    const entry = captured.shards.find((s) => s.index === index);
    if (!entry) throw new Error(`no captured result for shard ${index}`);
    const body = {
      apiVersion,
      kind: evaluationRunNames.kind,
      metadata: { name: runName, namespace },
      status: {
        shards: [{ ...entry, completedAt: new Date().toISOString() }],
        ...(captured.executionProvider ? { executionProvider: captured.executionProvider } : {}),
        ...(captured.powerMethod ? { powerMethod: captured.powerMethod } : {}),
      },
    };
    await api.patchNamespacedCustomObjectStatus(
      { ...target, body, fieldManager: fieldManager(index), force: true },
      applyPatch,
    );
    const at = performance.now();
    const times = [...(this.written.get(runName) ?? []), at];
    this.written.set(runName, times);
    if (times.length === run.spec.shards) {
      this.written.delete(runName);
      this.waiting.get(evaluation)?.({ run: runName, at: Math.max(...times) });
      this.waiting.delete(evaluation);
    }
    return 0;
  }
}

interface Measurement {
  total: number;
  jobComplete: number;
  rolloutWritten: number;
}

const ms = (value: number) =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
/** Nearest rank: with fewer than 100 runs, the largest. */
const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(0.99 * values.length) - 1]!;

function jobFinished(job: V1Job | undefined): boolean {
  return (job?.status?.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True',
  );
}

async function main(): Promise<void> {
  const benchStarted = Date.now();
  const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 0 } });
  const cluster = clusterAt(plane.kubeconfigPath, plane.binDir);
  const kc = cluster.kubeConfig();
  const pvcRoot = await fixtureClaimsRoot('pruneguard-bench-pv-');
  const writes = new ShardWrites();
  const pods = new PodRunner(kc, {
    pvcRoot,
    fate: writes.fate,
    extraEnv: { PRUNEGUARD_MEASUREMENT: 'quick' },
  });
  const watched = new Watched(kc);
  let argo: Awaited<ReturnType<typeof startArgoRollouts>> | undefined;
  let operator: Awaited<ReturnType<typeof startTestOperator>> | undefined;
  try {
    await installPruneguard(cluster);
    await cluster.kubectl(['create', 'namespace', namespace]);
    await createClaims(kc, namespace, pvcRoot, ['models', 'data']);
    argo = await startArgoRollouts(cluster, namespace);
    const objects = new Objects(kc, namespace);

    const scenarios: Scenario[] = [
      { verdict: 'Pass', evaluation: 'pass', rollout: 'advances', candidate: 'pruned-30' },
      { verdict: 'Critical', evaluation: 'critical', rollout: 'aborts', candidate: 'pruned-95' },
    ];
    // One pause per measured Pass, one for the capture run, and one to spare: it never runs out.
    const advances = new CanaryRollout(kc, argo, {
      name: 'advances',
      steps: [{ setWeight: 25 }, ...Array.from({ length: runs + 2 }, () => ({ pause: {} }))],
    });
    const aborts = new CanaryRollout(kc, argo, { name: 'aborts', steps: [{ setWeight: 25 }, { pause: {} }] });
    /** Revision 1 rolled out, revision 2 held at the first pause; the canary's pod template hash. */
    const atPause = async (rollout: CanaryRollout) => {
      await rollout.create();
      const canary = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
      await rollout.waitForReplicas(canary, 1);
      return canary;
    };
    const [, abortsCanary] = await Promise.all([atPause(advances), atPause(aborts)]);
    await pods.start();
    operator = await startTestOperator(cluster);
    await watched.start();

    const evaluationSpec = (scenario: Scenario) => ({
      candidate: { uri: `pvc://models/penguins/${scenario.candidate}.onnx` },
      data: penguinsData,
      runtime: { parallelism: shards, timeoutSeconds: deadlineSeconds },
      // Accuracy decides: pruned-30 passes, pruned-95 is Critical (fixtures.ts).
      thresholds: passingThresholds,
      target: { rollout: { name: scenario.rollout } },
      policy: { consecutiveBreaches: 1 },
    });
    const captureStarted = Date.now();
    for (const scenario of scenarios)
      await objects.createEvaluation(penguinsEvaluation(scenario.evaluation, evaluationSpec(scenario)));
    for (const scenario of scenarios) {
      const graded = await eventually(
        `${scenario.evaluation}: the real evaluator's run to be graded`,
        async () => {
          const evaluation = await objects.evaluation(scenario.evaluation);
          return evaluation.status?.lastRun?.completedAt ? evaluation : undefined;
        },
        300_000,
        500,
      );
      if (graded.status?.verdict !== scenario.verdict)
        throw new Error(
          `${scenario.evaluation}: expected ${scenario.verdict}, graded ${graded.status?.verdict}: ${graded.status?.explanation}`,
        );
      const run = (await objects.runs()).find((r) => r.metadata.name === graded.status!.lastRun!.name)!;
      writes.captured.set(scenario.evaluation, {
        shards: run.status!.shards!,
        ...(run.status?.executionProvider ? { executionProvider: run.status.executionProvider } : {}),
        ...(run.status?.powerMethod ? { powerMethod: run.status.powerMethod } : {}),
      });
    }
    console.log(
      `setup: control plane, Argo Rollouts controller, two canary Rollouts at their pause and one real evaluator run per verdict in ${((Date.now() - benchStarted) / 1000).toFixed(0)} s (evaluator runs ${((Date.now() - captureStarted) / 1000).toFixed(0)} s); ` +
        `${shards} shard(s) per run; observed with watches (informers on Rollouts, ReplicaSets, Jobs)`,
    );

    let generation = 0;
    /** A new run: its pods' deadline moves by a second, which changes spec.generation and nothing graded. */
    const startRun = (evaluation: string) =>
      objects.patchEvaluation(evaluation, {
        spec: { runtime: { timeoutSeconds: deadlineSeconds + ++generation } },
      });
    const actionsSettled = (evaluation: string) =>
      eventually(
        `${evaluation}: its actions to be Done or Skipped`,
        async () => {
          const actions = (await objects.evaluation(evaluation)).status?.actions ?? [];
          const open = actions.filter((a) => a.state && openActionStates.includes(a.state));
          return open.length === 0 ? actions : undefined;
        },
        120_000,
        50,
      );
    const rolloutOf = (name: string) => watched.rollouts.get(name)?.status ?? {};
    const stampedBy = (rollout: string, run: string) =>
      watched.rollouts.get(rollout)?.metadata?.annotations?.[lastActionAnnotation]?.startsWith(`${run}/`) ??
      false;

    /** One run: the write, then the Job, pruneguard's write and the outcome, each as first observed. */
    const measure = async (
      scenario: Scenario,
      outcome: string,
      done: () => boolean,
    ): Promise<Measurement> => {
      const written = writes.next(scenario.evaluation);
      await startRun(scenario.evaluation);
      const { run, at } = await written;
      const [jobComplete, rolloutWritten, finished] = await Promise.all([
        watched.until(`Job ${run} to complete`, () => jobFinished(watched.jobs.get(run))),
        watched.until(`pruneguard's write on Rollout ${scenario.rollout}`, () =>
          stampedBy(scenario.rollout, run),
        ),
        watched.until(`${scenario.rollout}: ${outcome}`, done),
      ]);
      return { total: finished - at, jobComplete: jobComplete - at, rolloutWritten: rolloutWritten - at };
    };

    const results = new Map<Verdict, Measurement[]>();
    const measuredStarted = Date.now();
    // Critical: abort, then retry to the pause again.
    const critical: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      await actionsSettled('critical');
      if (rolloutOf('aborts').abort) {
        const retried = await argo.kubectlArgoRollouts(['retry', 'rollout', 'aborts']);
        if (retried.code !== 0) throw new Error(`kubectl argo rollouts retry: ${retried.stderr}`);
      }
      await watched.until(
        'aborts: back at its pause with its canary available',
        () => {
          const status = rolloutOf('aborts');
          const canary = watched.replicaSetOf(abortsCanary);
          return (
            !status.abort &&
            status.currentStepIndex === 1 &&
            (status.pauseConditions?.length ?? 0) > 0 &&
            (canary?.spec?.replicas ?? 0) > 0 &&
            canary?.status?.availableReplicas === canary?.spec?.replicas
          );
        },
        120_000,
      );
      critical.push(
        await measure(scenarios[1]!, 'aborted with the canary scaled to 0', () => {
          const status = rolloutOf('aborts');
          return (
            status.abort === true &&
            status.phase === 'Degraded' &&
            watched.replicaSetOf(abortsCanary)?.spec?.replicas === 0
          );
        }),
      );
    }
    results.set('Critical', critical);

    // Pass: each run advances the canary one pause.
    const pass: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      await actionsSettled('pass');
      await watched.until(
        'advances: held at a pause',
        () => (rolloutOf('advances').pauseConditions?.length ?? 0) > 0,
      );
      const step = rolloutOf('advances').currentStepIndex ?? 0;
      pass.push(
        await measure(
          scenarios[0]!,
          `at step ${step + 1}`,
          () => (rolloutOf('advances').currentStepIndex ?? 0) > step,
        ),
      );
    }
    results.set('Pass', pass);
    const advanced = await advances.get();
    console.log(
      `measured ${2 * runs} runs in ${((Date.now() - measuredStarted) / 1000).toFixed(0)} s; Rollout advances now at step ${advanced.status?.currentStepIndex} of ${runs + 3}`,
    );

    const header = ['verdict', 'runs', 'outcome observed', 'median', 'p99', 'max'];
    const rows = [...results].map(([verdict, measured]) => {
      const totals = measured.map((m) => m.total);
      return [
        verdict,
        String(measured.length),
        verdict === 'Critical' ? 'aborted, canary ReplicaSet at 0' : 'canary at its next step',
        ms(median(totals)),
        ms(p99(totals)),
        ms(Math.max(...totals)),
      ];
    });
    console.log(
      'time from the last shard result written to the EvaluationRun status to the outcome observed:',
    );
    printTable(header, rows);
    for (const [verdict, measured] of results) {
      const worst = p99(measured.map((m) => m.total));
      const after = (of: (m: Measurement) => number) => ms(median(measured.map(of)));
      console.log(
        `${verdict}: target p99 < ${targetMs} ms: ${worst < targetMs ? 'met' : 'missed'} (p99 ${ms(worst)}); ` +
          `medians after the last shard write: pruneguard's write on the Rollout ${after((m) => m.rolloutWritten)}, ` +
          `outcome ${after((m) => m.total)}, the Job's Complete condition ${after((m) => m.jobComplete)}`,
      );
    }
    console.log(`whole bench ${((Date.now() - benchStarted) / 1000).toFixed(0)} s`);
  } finally {
    await watched.stop().catch(() => undefined);
    await operator?.stop();
    await pods.stop();
    await argo?.stop();
    await plane.stop();
    await rm(pvcRoot, { recursive: true, force: true });
  }
}

await main();
