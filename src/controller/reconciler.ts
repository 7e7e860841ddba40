import type {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  V1Job,
  V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  actuatorFor,
  decideActions,
  TargetError,
  triggerRetraining,
  type ActionOutcome,
  type PlannedAction,
} from '../actuators/index.js';
import { mergePatch, errorStatus } from '../actuators/kubernetes.js';
import {
  apiVersion,
  evaluationRunNames,
  group,
  maxShards,
  prunedModelEvaluationNames,
  runName,
  summarize,
  version,
  type Action,
  type EvaluationRun,
  type PrunedModelEvaluation,
  type PrunedModelEvaluationStatus,
  type RunTrigger,
  type Verdict,
} from '../api/v1alpha1/index.js';
import { applyHysteresis } from '../grading/index.js';
import type { OperatorMetrics } from '../telemetry/operator-metrics.js';
import { setCondition, type ConditionUpdate } from './conditions.js';
import { scheduledAtAnnotation, whenDue } from './due.js';
import { evaluationJob, labels, ownerReference } from './evaluation-job.js';
import type { EventRecorder } from './events.js';
import { gradeRun } from './grade-run.js';
import type { ResourceInformer } from './informer.js';
import { runOutcome, type RunOutcome } from './run-outcome.js';

export const finalizer = 'pruneguard.io/cleanup';
export const sequenceLabel = 'pruneguard.io/sequence';
const maxActionsKept = 50;

export interface ReconcilerOptions {
  evaluatorImage: string;
  /** ServiceAccount (created per namespace) whose RoleBinding grants only what the evaluator needs. */
  evaluatorServiceAccount: string;
  /** ClusterRole the evaluator's RoleBinding refers to (shipped with the chart). */
  evaluatorClusterRole: string;
  /** How long a finished Job may wait for its shards' results to show up before the run fails. */
  resultsGraceMs: number;
}

export interface Caches {
  evaluations: ResourceInformer<PrunedModelEvaluation>;
  runs: ResourceInformer<EvaluationRun>;
  jobs: ResourceInformer<V1Job>;
  pods: ResourceInformer<V1Pod>;
}

export interface Clients {
  kc: KubeConfig;
  objects: CustomObjectsApi;
  batch: BatchV1Api;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

const terminal = new Set(['Succeeded', 'Failed']);

/**
 * reconcile(namespace/name) for one PrunedModelEvaluation: level-triggered and idempotent. It
 * reads the world from the informer caches, makes at most one step of progress (start a run,
 * follow it, grade it, act on it), and writes everything it decides into the API, so that any
 * replica can pick up where another stopped.
 */
export class EvaluationReconciler {
  private readonly rbacReady = new Set<string>();
  /**
   * The status this reconcile wrote, per evaluation key (the work queue never reconciles one key
   * twice at once). The series are exported from it as soon as it is written, and again at the end
   * of the reconcile instead of the cache's copy, which is still the old one: a scrape must not lag
   * a reconcile behind what the status says.
   */
  private readonly statusWritten = new Map<string, PrunedModelEvaluationStatus>();

  constructor(
    private readonly clients: Clients,
    private readonly caches: Caches,
    private readonly events: EventRecorder,
    private readonly metrics: OperatorMetrics,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split('/') as [string, string];
    const evaluation = this.caches.evaluations.get(name, namespace);
    if (!evaluation) {
      this.metrics.forget(namespace, name);
      return {};
    }
    const log = this.log.child({ namespace, name });
    this.statusWritten.delete(key);
    if (evaluation.metadata.deletionTimestamp) return this.finalize(evaluation, log);
    if (!evaluation.metadata.finalizers?.includes(finalizer)) {
      await this.patchEvaluation(evaluation, {
        metadata: { finalizers: [...(evaluation.metadata.finalizers ?? []), finalizer] },
      });
    }

    const runs = this.runsOf(evaluation);
    const active = runs.find((run) => !terminal.has(run.status?.phase ?? 'Pending'));
    let result: ReconcileResult;
    if (active) {
      result = await this.followRun(evaluation, active, log);
    } else {
      result = await this.startRunIfDue(evaluation, runs, log);
    }
    await this.collectGarbage(evaluation, runs);
    const status = this.statusWritten.get(key) ?? evaluation.status;
    this.statusWritten.delete(key);
    if (status) this.metrics.observe(namespace, name, status);
    return result;
  }

  private runsOf(evaluation: PrunedModelEvaluation): EvaluationRun[] {
    return this.caches.runs
      .list(evaluation.metadata.namespace)
      .filter((run) => run.metadata.labels?.[labels.evaluation] === evaluation.metadata.name)
      .sort((a, b) => sequenceOf(a) - sequenceOf(b));
  }

  private async startRunIfDue(
    evaluation: PrunedModelEvaluation,
    runs: EvaluationRun[],
    log: Logger,
  ): Promise<ReconcileResult> {
    const now = this.now();
    const due = whenDue(evaluation, runs.at(-1), now);
    if (!due.due) {
      if (due.at && evaluation.status?.nextRunAt !== due.at.toISOString()) {
        await this.patchStatus(evaluation, { nextRunAt: due.at.toISOString() });
      }
      return due.at ? { requeueAfterMs: Math.max(0, due.at.getTime() - now.getTime()) + 50 } : {};
    }

    const sequence = Math.max(0, ...runs.map(sequenceOf), lastRunSequence(evaluation)) + 1;
    const run = await this.createRun(evaluation, sequence, due.trigger, now);
    if (!run) return { requeueAfterMs: 1000 };
    await this.createJob(evaluation, run);
    log.info({ run: run.metadata.name, trigger: due.trigger }, 'started evaluation run');
    await this.events.record(
      evaluation,
      'Normal',
      'RunStarted',
      `started ${run.metadata.name} (${due.trigger}, ${run.spec.shards} shard(s))`,
    );
    return {};
  }

  private async createRun(
    evaluation: PrunedModelEvaluation,
    sequence: number,
    trigger: RunTrigger,
    now: Date,
  ): Promise<EvaluationRun | undefined> {
    const name = runName(evaluation.metadata.name!, sequence);
    const body: EvaluationRun = {
      apiVersion,
      kind: evaluationRunNames.kind,
      metadata: {
        name,
        namespace: evaluation.metadata.namespace,
        labels: {
          [labels.evaluation]: evaluation.metadata.name!,
          [sequenceLabel]: String(sequence),
          [labels.managedBy]: 'pruneguard',
        },
        annotations: { [scheduledAtAnnotation]: now.toISOString() },
        ownerReferences: [ownerReference(evaluation) as unknown as Record<string, unknown>],
      },
      spec: {
        evaluationName: evaluation.metadata.name!,
        generation: evaluation.metadata.generation ?? 1,
        shards: Math.min(evaluation.spec.runtime.parallelism, maxShards),
        trigger,
        evaluationSpec: evaluation.spec,
      },
    };
    try {
      return (await this.clients.objects.createNamespacedCustomObject({
        group,
        version,
        namespace: evaluation.metadata.namespace!,
        plural: evaluationRunNames.plural,
        body,
      })) as EvaluationRun;
    } catch (error) {
      // A deterministic name makes a stale cache harmless: the run exists and the next reconcile sees it.
      if ((error as { code?: number }).code === 409) return undefined;
      // The namespace is being deleted, and the evaluation with it: nothing to start.
      if (errorStatus(error).includes('because it is being terminated')) return undefined;
      throw error;
    }
  }

  /** The run's Job, after the namespace's evaluator ServiceAccount it runs as. */
  private async createJob(evaluation: PrunedModelEvaluation, run: EvaluationRun): Promise<void> {
    await this.ensureEvaluatorAccess(evaluation);
    const job = evaluationJob(run, {
      defaultImage: this.options.evaluatorImage,
      serviceAccountName: this.options.evaluatorServiceAccount,
    });
    try {
      await this.clients.batch.createNamespacedJob({ namespace: run.metadata.namespace!, body: job });
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }

  /** A ServiceAccount and RoleBinding per namespace: the evaluator may read its run and write its status, nothing else. */
  private async ensureEvaluatorAccess(evaluation: PrunedModelEvaluation): Promise<void> {
    const namespace = evaluation.metadata.namespace!;
    if (evaluation.spec.runtime.serviceAccountName || this.rbacReady.has(namespace)) return;
    const name = this.options.evaluatorServiceAccount;
    const metadata = { name, namespace, labels: { [labels.managedBy]: 'pruneguard' } };
    const ignoreExisting = (error: unknown) => {
      if ((error as { code?: number }).code !== 409) throw error;
    };
    await this.clients.core
      .createNamespacedServiceAccount({ namespace, body: { metadata } })
      .catch(ignoreExisting);
    await this.clients.rbac
      .createNamespacedRoleBinding({
        namespace,
        body: {
          metadata,
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: this.options.evaluatorClusterRole,
          },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      })
      .catch(ignoreExisting);
    this.rbacReady.add(namespace);
  }

  private async followRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    log: Logger,
  ): Promise<ReconcileResult> {
    const namespace = run.metadata.namespace!;
    const job = this.caches.jobs.get(run.metadata.name!, namespace);
    if (!job) {
      await this.createJob(evaluation, run);
      return { requeueAfterMs: 1000 };
    }
    const pods = this.caches.pods
      .list(namespace)
      .filter((p) => p.metadata?.labels?.[labels.run] === run.metadata.name);
    const outcome = runOutcome(job, pods);

    if (outcome.state === 'pending' || outcome.state === 'running') {
      const phase = outcome.state === 'running' ? 'Running' : 'Pending';
      if (run.status?.phase !== phase) {
        await this.patchRunStatus(run, {
          phase,
          ...(phase === 'Running' && !run.status?.startedAt ? { startedAt: this.now().toISOString() } : {}),
        });
      }
      if (outcome.state === 'pending' && outcome.message) {
        await this.writeCondition(evaluation, {
          type: 'Ready',
          status: 'False',
          reason: 'RunPending',
          message: outcome.message,
        });
      }
      return {};
    }
    if (outcome.state === 'failed') return this.failRun(evaluation, run, outcome, log);

    const shardErrors = (run.status?.shards ?? []).filter((s) => s.error);
    if (shardErrors.length > 0) {
      const message = shardErrors.map((s) => `shard ${s.index}: ${s.error}`).join('; ');
      return this.failRun(evaluation, run, { state: 'failed', reason: 'EvaluatorError', message }, log);
    }
    const reported = new Set((run.status?.shards ?? []).filter((s) => s.state).map((s) => s.index));
    if (reported.size < run.spec.shards) {
      const finishedAt = job.status?.completionTime
        ? new Date(job.status.completionTime).getTime()
        : this.now().getTime();
      if (this.now().getTime() - finishedAt < this.options.resultsGraceMs) return { requeueAfterMs: 1000 };
      return this.failRun(
        evaluation,
        run,
        {
          state: 'failed',
          reason: 'ResultsMissing',
          message: `the Job completed but ${run.spec.shards - reported.size} of ${run.spec.shards} shard(s) wrote no result to the EvaluationRun status`,
        },
        log,
      );
    }
    return this.completeRun(evaluation, run, log);
  }

  private async completeRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    log: Logger,
  ): Promise<ReconcileResult> {
    let gradedRun;
    try {
      gradedRun = gradeRun(run);
    } catch (error) {
      return this.failRun(
        evaluation,
        run,
        { state: 'failed', reason: 'ResultsUnreadable', message: (error as Error).message },
        log,
      );
    }
    const { graded } = gradedRun;
    const runName = run.metadata.name!;
    const policy = evaluation.spec.policy;
    const previous = evaluation.status?.hysteresis;
    const hysteresis = applyHysteresis(
      previous ? { ...previous, effectiveVerdict: evaluation.status?.verdict ?? 'Pass' } : undefined,
      graded,
      { consecutiveBreaches: policy.consecutiveBreaches },
      runName,
    );
    const alreadyCounted = previous?.lastRun === runName;
    const enteredCritical = !alreadyCounted && hysteresis.state.critical && !(previous?.critical ?? false);
    const explanation = hysteresis.reason
      ? `${graded.explanation}; ${hysteresis.reason}`
      : graded.explanation;

    const planned = evaluation.spec.suspend
      ? []
      : decideActions({
          effectiveVerdict: hysteresis.effectiveVerdict,
          enteredCritical,
          policy,
          hasTarget: evaluation.spec.target !== undefined,
          hasRetraining: evaluation.spec.retraining !== undefined,
          reason: explanation,
        });
    const { actions, actionError } = await this.act(evaluation, runName, planned, graded.verdict, log);

    const completedAt = this.now().toISOString();
    const status: PrunedModelEvaluationStatus = {
      observedGeneration: run.spec.generation,
      verdict: hysteresis.effectiveVerdict,
      lastRun: {
        name: runName,
        startedAt: run.status?.startedAt ?? run.metadata.creationTimestamp,
        completedAt,
        samples: gradedRun.samples,
      },
      metrics: gradedRun.metrics,
      slices: gradedRun.slices,
      summary: summarize(gradedRun.metrics),
      explanation,
      consecutiveBreaches: hysteresis.state.consecutiveCritical,
      hysteresis: {
        consecutiveCritical: hysteresis.state.consecutiveCritical,
        consecutiveHealthy: hysteresis.state.consecutiveHealthy,
        critical: hysteresis.state.critical,
        lastRun: runName,
      },
      actions,
    };
    const generation = evaluation.metadata.generation ?? 1;
    let conditions = setCondition(
      evaluation.status?.conditions,
      { type: 'Ready', status: 'True', reason: 'Graded', message: `${runName}: ${graded.verdict}` },
      generation,
      this.now(),
    );
    conditions = setCondition(
      conditions,
      hysteresis.effectiveVerdict === 'Critical' || hysteresis.effectiveVerdict === 'Warning'
        ? { type: 'Degraded', status: 'True', reason: hysteresis.effectiveVerdict, message: explanation }
        : { type: 'Degraded', status: 'False', reason: hysteresis.effectiveVerdict, message: explanation },
      generation,
      this.now(),
    );
    conditions = setCondition(
      conditions,
      actionError
        ? { type: 'EvaluationFailed', status: 'True', reason: 'ActionFailed', message: actionError }
        : { type: 'EvaluationFailed', status: 'False', reason: 'RunSucceeded', message: `${runName} graded` },
      generation,
      this.now(),
    );
    status.conditions = conditions;
    await this.patchStatus(evaluation, status);
    await this.patchRunStatus(run, { phase: 'Succeeded', completedAt });

    this.metrics.runFinished(evaluation.metadata.namespace!, evaluation.metadata.name!, graded.verdict);
    await this.events.record(
      evaluation,
      hysteresis.effectiveVerdict === 'Pass' ? 'Normal' : 'Warning',
      `Verdict${hysteresis.effectiveVerdict}`,
      `${runName}: ${explanation}`,
    );
    log.info(
      { run: runName, verdict: graded.verdict, effectiveVerdict: hysteresis.effectiveVerdict },
      'graded run',
    );
    // An action that failed (unreachable target) is retried; the verdict is already recorded.
    return actionError ? { requeueAfterMs: 10_000 } : {};
  }

  /** Performs planned actions not yet recorded for this run, and returns the action log to store. */
  private async act(
    evaluation: PrunedModelEvaluation,
    run: string,
    planned: PlannedAction[],
    verdict: Verdict,
    log: Logger,
  ): Promise<{ actions: Action[]; actionError?: string }> {
    const actions = [...(evaluation.status?.actions ?? [])];
    const dryRun = evaluation.spec.policy.dryRun;
    const actuator = actuatorFor(this.clients.kc, evaluation);
    const namespace = evaluation.metadata.namespace!;
    let actionError: string | undefined;
    for (const action of planned) {
      if (actions.some((a) => a.run === run && a.type === action.type)) continue;
      let outcomes: ActionOutcome[];
      const request = { run, reason: action.reason, dryRun };
      try {
        if (action.type === 'Retrain') {
          outcomes = await triggerRetraining(
            this.clients.batch,
            evaluation.spec.retraining!,
            {
              namespace,
              evaluation: evaluation.metadata.name!,
              owner: ownerReference(evaluation),
              verdict,
              breaches: [action.reason],
            },
            request,
          );
        } else {
          const method = (
            { Advance: 'advance', Promote: 'promote', Hold: 'hold', Rollback: 'rollback' } as const
          )[action.type];
          outcomes = [await actuator![method](request)];
        }
      } catch (error) {
        actionError = error instanceof TargetError ? error.message : `${action.type}: ${errorStatus(error)}`;
        log.warn({ run, action: action.type, err: error }, 'action failed');
        await this.events.record(evaluation, 'Warning', 'ActionFailed', actionError);
        continue;
      }
      for (const outcome of outcomes) {
        actions.push({
          type: outcome.type,
          target: outcome.target,
          run,
          at: this.now().toISOString(),
          reason: action.reason.slice(0, 1024),
          dryRun,
        });
        if (outcome.performed || dryRun) {
          this.metrics.actions.inc({
            namespace,
            evaluation: evaluation.metadata.name!,
            type: outcome.type,
            dry_run: String(dryRun),
          });
          await this.events.record(
            evaluation,
            'Normal',
            outcome.type,
            `${outcome.target}: ${outcome.detail}${dryRun ? ' (dry run)' : ''}`,
          );
        }
      }
    }
    return { actions: actions.slice(-maxActionsKept), ...(actionError ? { actionError } : {}) };
  }

  /**
   * A run that could not produce a result: the evaluation becomes Inconclusive with the reason,
   * the last graded metrics stay as they were, and nothing is rolled back.
   */
  private async failRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    outcome: Extract<RunOutcome, { state: 'failed' }>,
    log: Logger,
  ): Promise<ReconcileResult> {
    const now = this.now();
    const generation = evaluation.metadata.generation ?? 1;
    const message = `${run.metadata.name}: ${outcome.message}`;
    let conditions = setCondition(
      evaluation.status?.conditions,
      { type: 'EvaluationFailed', status: 'True', reason: outcome.reason, message },
      generation,
      now,
    );
    conditions = setCondition(
      conditions,
      { type: 'Ready', status: 'False', reason: outcome.reason, message },
      generation,
      now,
    );
    const { actions } = await this.act(
      evaluation,
      run.metadata.name!,
      decideActions({
        effectiveVerdict: 'Inconclusive',
        enteredCritical: false,
        policy: evaluation.spec.policy,
        hasTarget: evaluation.spec.target !== undefined && !evaluation.spec.suspend,
        hasRetraining: false,
        reason: message,
      }),
      'Inconclusive',
      log,
    );
    await this.patchStatus(evaluation, {
      observedGeneration: run.spec.generation,
      verdict: 'Inconclusive',
      explanation: `Inconclusive: ${message}`,
      lastRun: {
        name: run.metadata.name!,
        startedAt: run.status?.startedAt ?? run.metadata.creationTimestamp,
        completedAt: now.toISOString(),
        samples: 0,
      },
      conditions,
      actions,
    });
    await this.patchRunStatus(run, {
      phase: 'Failed',
      completedAt: now.toISOString(),
      failure: { reason: outcome.reason, message: outcome.message.slice(0, 4096) },
    });
    this.metrics.runFinished(evaluation.metadata.namespace!, evaluation.metadata.name!, 'Failed');
    await this.events.record(evaluation, 'Warning', 'EvaluationFailed', message);
    log.warn({ run: run.metadata.name, reason: outcome.reason }, outcome.message);
    return {};
  }

  /** Keeps the newest historyLimit finished runs; their Jobs and pods go with them (owner references). */
  private async collectGarbage(evaluation: PrunedModelEvaluation, runs: EvaluationRun[]): Promise<void> {
    const finished = runs.filter((run) => terminal.has(run.status?.phase ?? ''));
    const excess = finished.slice(0, Math.max(0, finished.length - evaluation.spec.historyLimit));
    for (const run of excess) await this.deleteRun(run);
  }

  private async deleteRun(run: EvaluationRun): Promise<void> {
    try {
      await this.clients.objects.deleteNamespacedCustomObject({
        group,
        version,
        namespace: run.metadata.namespace!,
        plural: evaluationRunNames.plural,
        name: run.metadata.name!,
        propagationPolicy: 'Background',
      });
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
    }
  }

  private async finalize(evaluation: PrunedModelEvaluation, log: Logger): Promise<ReconcileResult> {
    if (!evaluation.metadata.finalizers?.includes(finalizer)) return {};
    for (const run of this.runsOf(evaluation)) await this.deleteRun(run);
    this.metrics.forget(evaluation.metadata.namespace!, evaluation.metadata.name!);
    await this.patchEvaluation(evaluation, {
      metadata: {
        finalizers: evaluation.metadata.finalizers.filter((f) => f !== finalizer),
        resourceVersion: evaluation.metadata.resourceVersion,
      },
    });
    log.info('cleaned up runs and metrics; finalizer removed');
    return {};
  }

  /** Writes one condition, unless it already says the same (status, reason, message). */
  private async writeCondition(evaluation: PrunedModelEvaluation, update: ConditionUpdate): Promise<void> {
    const old = evaluation.status?.conditions?.find((c) => c.type === update.type);
    if (old && old.status === update.status && old.reason === update.reason && old.message === update.message)
      return;
    const conditions = setCondition(
      evaluation.status?.conditions,
      update,
      evaluation.metadata.generation ?? 1,
      this.now(),
    );
    await this.patchStatus(evaluation, { conditions });
  }

  private async patchEvaluation(evaluation: PrunedModelEvaluation, body: object): Promise<void> {
    await this.clients.objects.patchNamespacedCustomObject(
      { ...evaluationParams(evaluation), body },
      mergePatch,
    );
  }

  private async patchStatus(
    evaluation: PrunedModelEvaluation,
    status: Partial<PrunedModelEvaluationStatus>,
  ): Promise<void> {
    const patched = (await this.clients.objects.patchNamespacedCustomObjectStatus(
      { ...evaluationParams(evaluation), body: { status } },
      mergePatch,
    )) as PrunedModelEvaluation;
    if (!patched?.status) return;
    const { namespace, name } = evaluation.metadata as { namespace: string; name: string };
    this.statusWritten.set(`${namespace}/${name}`, patched.status);
    this.metrics.observe(namespace, name, patched.status);
  }

  private async patchRunStatus(run: EvaluationRun, status: Record<string, unknown>): Promise<void> {
    await this.clients.objects.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        namespace: run.metadata.namespace!,
        plural: evaluationRunNames.plural,
        name: run.metadata.name!,
        body: { status },
      },
      mergePatch,
    );
  }
}

function evaluationParams(evaluation: PrunedModelEvaluation) {
  return {
    group,
    version,
    namespace: evaluation.metadata.namespace!,
    plural: prunedModelEvaluationNames.plural,
    name: evaluation.metadata.name!,
  };
}

function sequenceOf(run: EvaluationRun): number {
  const value = Number(run.metadata.labels?.[sequenceLabel]);
  return Number.isInteger(value) ? value : 0;
}

/** Runs may be garbage-collected; the last one named in status still counts for the next sequence. */
function lastRunSequence(evaluation: PrunedModelEvaluation): number {
  const match = /-(\d+)$/.exec(evaluation.status?.lastRun?.name ?? '');
  return match ? Number(match[1]) : 0;
}
