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
import {
  errorStatus,
  ignoreConflict,
  ignoreNotFound,
  isInvalid,
  mergePatch,
} from '../actuators/kubernetes.js';
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
import type { ShardStateLimits } from '../evaluator/shard-state.js';
import { applyHysteresis } from '../grading/index.js';
import type { OperatorMetrics } from '../telemetry/operator-metrics.js';
import { setCondition, type ConditionUpdate } from './conditions.js';
import { scheduledAtAnnotation, whenDue } from './due.js';
import { evaluationJob, labels, ownerReference } from './evaluation-job.js';
import { evaluatorAccess } from './evaluator-access.js';
import type { EventRecorder } from './events.js';
import { gradeRun, RejectedShardResults } from './grade-run.js';
import type { ResourceInformer } from './informer.js';
import { runOutcome, type RunOutcome } from './run-outcome.js';
import { specRefusal, type SpecPolicy } from './spec-admission.js';

export const finalizer = 'pruneguard.io/cleanup';
export const sequenceLabel = 'pruneguard.io/sequence';
const maxActionsKept = 50;

export interface ReconcilerOptions extends SpecPolicy {
  /** Permission-less ServiceAccount, created per namespace, that retraining Jobs run as. */
  retrainingServiceAccount: string;
  /** Caps on what one shard may write before anything is decoded. */
  shardStateLimits: ShardStateLimits;
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

/** What a finished run amounts to, decided before anything is written or done. */
interface Conclusion {
  /** Recorded first: nothing acts on a verdict the API server has not accepted. */
  verdictStatus: Partial<PrunedModelEvaluationStatus>;
  /** The verdict the actions and the retraining webhook are told about. */
  verdict: Verdict;
  planned: PlannedAction[];
  /** Recorded with the actions' outcome; its lastRun closes the run. */
  closingStatus: Partial<PrunedModelEvaluationStatus>;
  /** The conditions to close with, before EvaluationFailed says how the actions went. */
  conditions: PrunedModelEvaluationStatus['conditions'];
  failure?: Extract<RunOutcome, { state: 'failed' }>;
  event: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

/**
 * reconcile(namespace/name) for one PrunedModelEvaluation: level-triggered and idempotent. It
 * reads the world from the informer caches, makes at most one step of progress (start a run,
 * follow it, grade it, act on it), and writes everything it decides into the API, so that any
 * replica can pick up where another stopped.
 *
 * Whether a run is over is the operator's own record, status.lastRun of the evaluation, which
 * nobody else can write: an evaluation pod can write its run's status, so status.phase there is
 * for people, never an input.
 */
export class EvaluationReconciler {
  /**
   * The status this reconcile wrote, per evaluation key (the work queue never reconciles one key
   * twice at once). The series are exported from it as soon as it is written, and again at the end
   * of the reconcile instead of the cache's copy, which is still the old one: a scrape must not lag
   * a reconcile behind what the status says.
   */
  private readonly statusWritten = new Map<string, PrunedModelEvaluationStatus>();
  /**
   * The highest run sequence this process closed, per evaluation uid: the evaluations cache may
   * not have our own status write yet when the run's next event arrives.
   */
  private readonly closedThrough = new Map<string, number>();

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
    const active = runs.find((run) => !this.isClosed(evaluation, run));
    let result: ReconcileResult;
    if (active) {
      result = await this.followRun(evaluation, active, log);
    } else {
      const refusal = specRefusal(evaluation, this.options);
      result = refusal
        ? await this.refuseSpec(evaluation, refusal, log)
        : await this.startRunIfDue(evaluation, runs, log);
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

  private isClosed(evaluation: PrunedModelEvaluation, run: EvaluationRun): boolean {
    const sequence = sequenceOf(run);
    if (sequence <= (this.closedThrough.get(evaluation.metadata.uid!) ?? 0)) return true;
    const last = evaluation.status?.lastRun;
    return (
      sequence < lastRunSequence(evaluation) ||
      (last !== undefined && last.name === run.metadata.name && last.completedAt !== undefined)
    );
  }

  /** The spec asks for more than the operator's configuration allows: nothing starts, and the condition says why. */
  private async refuseSpec(
    evaluation: PrunedModelEvaluation,
    refusal: string,
    log: Logger,
  ): Promise<ReconcileResult> {
    const changed = await this.writeCondition(evaluation, {
      type: 'Ready',
      status: 'False',
      reason: 'SpecRefused',
      message: refusal.slice(0, 32_768),
    });
    if (changed) {
      log.warn({ refusal }, 'evaluation refused');
      await this.events.record(evaluation, 'Warning', 'SpecRefused', refusal);
    }
    return {};
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
    await this.createJob(run);
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
      // The namespace is being deleted, and the evaluation with it: nothing to start.
      if (errorStatus(error).includes('because it is being terminated')) return undefined;
      // A deterministic name makes a stale cache harmless: the run exists and the next reconcile sees it.
      ignoreConflict(error);
      return undefined;
    }
  }

  /** The run's Job, after the identity its pods run as. */
  private async createJob(run: EvaluationRun): Promise<void> {
    const serviceAccountName = await this.grantEvaluatorAccess(run);
    const job = evaluationJob(run, {
      defaultImage: this.options.evaluatorImage,
      serviceAccountName,
      egress: this.options.egress,
    });
    await this.clients.batch
      .createNamespacedJob({ namespace: run.metadata.namespace!, body: job })
      .catch(ignoreConflict);
  }

  /**
   * The run's own ServiceAccount, Role and RoleBinding (evaluator-access.ts): its pods may read
   * this run and write its status, nothing else. With a custom ServiceAccount (only when the
   * operator allows them) the Role is bound to that account instead, for the run's lifetime.
   */
  private async grantEvaluatorAccess(run: EvaluationRun): Promise<string> {
    const custom = run.spec.evaluationSpec.runtime.serviceAccountName;
    const access = evaluatorAccess(run, custom);
    const namespace = run.metadata.namespace!;
    if (custom === undefined) {
      await this.clients.core
        .createNamespacedServiceAccount({ namespace, body: access.serviceAccount })
        .catch(ignoreConflict);
    }
    await this.clients.rbac.createNamespacedRole({ namespace, body: access.role }).catch(ignoreConflict);
    await this.clients.rbac
      .createNamespacedRoleBinding({ namespace, body: access.roleBinding })
      .catch(ignoreConflict);
    return access.roleBinding.subjects![0]!.name;
  }

  /** A finished run's pods and their tokens outlive it; what they may write must not. */
  private async revokeEvaluatorAccess(run: EvaluationRun): Promise<void> {
    await this.clients.rbac
      .deleteNamespacedRoleBinding({ name: run.metadata.name!, namespace: run.metadata.namespace! })
      .catch(ignoreNotFound);
  }

  private async followRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    log: Logger,
  ): Promise<ReconcileResult> {
    const namespace = run.metadata.namespace!;
    const job = this.caches.jobs.get(run.metadata.name!, namespace);
    if (!job) {
      await this.createJob(run);
      return { requeueAfterMs: 1000 };
    }
    const written = run.status?.phase;
    if (written && terminal.has(written)) {
      return this.failRun(
        evaluation,
        run,
        'ResultsRejected',
        `status.phase was set to ${written} by someone other than the operator, which alone finishes a run`,
        log,
      );
    }
    const pods = this.caches.pods
      .list(namespace)
      .filter((p) => p.metadata?.labels?.[labels.run] === run.metadata.name);
    const outcome = runOutcome(job, pods);

    if (outcome.state === 'pending' || outcome.state === 'running') {
      const phase = outcome.state === 'running' ? 'Running' : 'Pending';
      if (written !== phase) {
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
    if (outcome.state === 'failed')
      return this.closeRun(evaluation, run, this.failed(evaluation, run, outcome), log);

    const shardErrors = (run.status?.shards ?? []).filter((s) => s.error);
    if (shardErrors.length > 0) {
      const message = shardErrors.map((s) => `shard ${s.index}: ${s.error}`).join('; ');
      return this.failRun(evaluation, run, 'EvaluatorError', message, log);
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
        'ResultsMissing',
        `the Job completed but ${run.spec.shards - reported.size} of ${run.spec.shards} shard(s) wrote no result to the EvaluationRun status`,
        log,
      );
    }
    return this.closeRun(evaluation, run, this.graded(evaluation, run), log);
  }

  private failRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    reason: string,
    message: string,
    log: Logger,
  ): Promise<ReconcileResult> {
    return this.closeRun(
      evaluation,
      run,
      this.failed(evaluation, run, { state: 'failed', reason, message }),
      log,
    );
  }

  /** Merges and grades the shards' results; anything malformed concludes Inconclusive instead. */
  private graded(evaluation: PrunedModelEvaluation, run: EvaluationRun): Conclusion {
    let gradedRun;
    try {
      gradedRun = gradeRun(run, this.options.shardStateLimits);
    } catch (error) {
      return this.failed(evaluation, run, {
        state: 'failed',
        reason: error instanceof RejectedShardResults ? error.reason : 'ResultsUnreadable',
        message: (error as Error).message,
      });
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
    const verdict = hysteresis.effectiveVerdict;
    const generation = evaluation.metadata.generation ?? 1;
    let conditions = setCondition(
      evaluation.status?.conditions,
      { type: 'Ready', status: 'True', reason: 'Graded', message: `${runName}: ${graded.verdict}` },
      generation,
      this.now(),
    );
    conditions = setCondition(
      conditions,
      {
        type: 'Degraded',
        status: verdict === 'Critical' || verdict === 'Warning' ? 'True' : 'False',
        reason: verdict,
        message: explanation,
      },
      generation,
      this.now(),
    );
    return {
      verdictStatus: {
        observedGeneration: run.spec.generation,
        verdict,
        metrics: gradedRun.metrics,
        slices: gradedRun.slices,
        summary: summarize(gradedRun.metrics),
        explanation,
        conditions,
      },
      verdict: graded.verdict,
      planned: evaluation.spec.suspend
        ? []
        : decideActions({
            effectiveVerdict: verdict,
            enteredCritical,
            policy,
            hasTarget: evaluation.spec.target !== undefined,
            hasRetraining: evaluation.spec.retraining !== undefined,
            reason: explanation,
          }),
      closingStatus: {
        lastRun: this.lastRun(run, gradedRun.samples),
        consecutiveBreaches: hysteresis.state.consecutiveCritical,
        hysteresis: {
          consecutiveCritical: hysteresis.state.consecutiveCritical,
          consecutiveHealthy: hysteresis.state.consecutiveHealthy,
          critical: hysteresis.state.critical,
          lastRun: runName,
        },
      },
      conditions,
      event: {
        type: verdict === 'Pass' ? 'Normal' : 'Warning',
        reason: `Verdict${verdict}`,
        message: `${runName}: ${explanation}`,
      },
    };
  }

  /**
   * A run that could not produce a result, or whose result cannot be trusted: the evaluation
   * becomes Inconclusive with the reason, the last graded metrics stay as they were, and nothing
   * is rolled back.
   */
  private failed(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    outcome: Extract<RunOutcome, { state: 'failed' }>,
  ): Conclusion {
    const now = this.now();
    const generation = evaluation.metadata.generation ?? 1;
    const message = `${run.metadata.name}: ${outcome.message}`.slice(0, 32_768);
    let conditions = setCondition(
      evaluation.status?.conditions,
      { type: 'Ready', status: 'False', reason: outcome.reason, message },
      generation,
      now,
    );
    conditions = setCondition(
      conditions,
      { type: 'EvaluationFailed', status: 'True', reason: outcome.reason, message },
      generation,
      now,
    );
    return {
      verdictStatus: {
        observedGeneration: run.spec.generation,
        verdict: 'Inconclusive',
        explanation: `Inconclusive: ${message}`,
        conditions,
      },
      verdict: 'Inconclusive',
      planned: decideActions({
        effectiveVerdict: 'Inconclusive',
        enteredCritical: false,
        policy: evaluation.spec.policy,
        hasTarget: evaluation.spec.target !== undefined && !evaluation.spec.suspend,
        hasRetraining: false,
        reason: message,
      }),
      closingStatus: { lastRun: this.lastRun(run, 0) },
      conditions,
      failure: outcome,
      event: { type: 'Warning', reason: 'EvaluationFailed', message },
    };
  }

  private lastRun(run: EvaluationRun, samples: number): PrunedModelEvaluationStatus['lastRun'] {
    return {
      name: run.metadata.name!,
      startedAt: run.status?.startedAt ?? run.metadata.creationTimestamp,
      completedAt: this.now().toISOString(),
      samples,
    };
  }

  /**
   * Records the verdict, then acts, then records what was done and closes the run. The verdict is
   * written first so that nothing acts on a status the API server would refuse: a refused verdict
   * concludes the run Inconclusive instead. A crash between the writes repeats the conclusion,
   * which is deterministic, and the actions, which are idempotent per run.
   */
  private async closeRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    conclusion: Conclusion,
    log: Logger,
  ): Promise<ReconcileResult> {
    const runName = run.metadata.name!;
    try {
      await this.patchStatus(evaluation, conclusion.verdictStatus);
    } catch (error) {
      if (!isInvalid(error) || conclusion.failure) throw error;
      return this.failRun(
        evaluation,
        run,
        'ResultsRejected',
        `the API server refused the graded status: ${errorStatus(error)}`,
        log,
      );
    }
    const { actions, actionError } = await this.act(
      evaluation,
      runName,
      conclusion.planned,
      conclusion.verdict,
      log,
    );
    const conditions = conclusion.failure
      ? conclusion.conditions
      : setCondition(
          conclusion.conditions,
          actionError
            ? { type: 'EvaluationFailed', status: 'True', reason: 'ActionFailed', message: actionError }
            : {
                type: 'EvaluationFailed',
                status: 'False',
                reason: 'RunSucceeded',
                message: `${runName} graded`,
              },
          evaluation.metadata.generation ?? 1,
          this.now(),
        );
    await this.patchStatus(evaluation, { ...conclusion.closingStatus, actions, conditions });
    this.closedThrough.set(evaluation.metadata.uid!, sequenceOf(run));

    const failure = conclusion.failure;
    await this.patchRunStatus(
      run,
      failure
        ? {
            phase: 'Failed',
            completedAt: this.now().toISOString(),
            failure: { reason: failure.reason, message: failure.message.slice(0, 4096) },
          }
        : { phase: 'Succeeded', completedAt: this.now().toISOString() },
    ).catch((error: unknown) => {
      // A phase someone else made final; the evaluation's status already says what happened.
      if (!isInvalid(error)) throw error;
      log.warn({ run: runName, err: error }, 'run phase not written');
    });
    await this.revokeEvaluatorAccess(run);

    this.metrics.runFinished(
      evaluation.metadata.namespace!,
      evaluation.metadata.name!,
      failure ? 'Failed' : conclusion.verdict,
    );
    await this.events.record(
      evaluation,
      conclusion.event.type,
      conclusion.event.reason,
      conclusion.event.message,
    );
    if (failure) log.warn({ run: runName, reason: failure.reason }, failure.message);
    else
      log.info(
        { run: runName, verdict: conclusion.verdict, effectiveVerdict: conclusion.verdictStatus.verdict },
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
          if (!dryRun) await this.ensureRetrainingServiceAccount(namespace);
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
            {
              serviceAccountName: this.options.retrainingServiceAccount,
              allowCustomServiceAccounts: this.options.allowCustomServiceAccounts,
              egress: this.options.egress,
            },
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

  /** Retraining Jobs run as a ServiceAccount with no bindings and no token mounted. */
  private async ensureRetrainingServiceAccount(namespace: string): Promise<void> {
    await this.clients.core
      .createNamespacedServiceAccount({
        namespace,
        body: {
          metadata: {
            name: this.options.retrainingServiceAccount,
            namespace,
            labels: { [labels.managedBy]: 'pruneguard' },
          },
          automountServiceAccountToken: false,
        },
      })
      .catch(ignoreConflict);
  }

  /** Keeps the newest historyLimit finished runs; their Jobs, pods and identities go with them (owner references). */
  private async collectGarbage(evaluation: PrunedModelEvaluation, runs: EvaluationRun[]): Promise<void> {
    const finished = runs.filter((run) => this.isClosed(evaluation, run));
    const excess = finished.slice(0, Math.max(0, finished.length - evaluation.spec.historyLimit));
    for (const run of excess) await this.deleteRun(run);
  }

  private async deleteRun(run: EvaluationRun): Promise<void> {
    await this.clients.objects
      .deleteNamespacedCustomObject({
        group,
        version,
        namespace: run.metadata.namespace!,
        plural: evaluationRunNames.plural,
        name: run.metadata.name!,
        propagationPolicy: 'Background',
      })
      .catch(ignoreNotFound);
  }

  private async finalize(evaluation: PrunedModelEvaluation, log: Logger): Promise<ReconcileResult> {
    if (!evaluation.metadata.finalizers?.includes(finalizer)) return {};
    for (const run of this.runsOf(evaluation)) await this.deleteRun(run);
    this.metrics.forget(evaluation.metadata.namespace!, evaluation.metadata.name!);
    this.closedThrough.delete(evaluation.metadata.uid!);
    await this.patchEvaluation(evaluation, {
      metadata: {
        finalizers: evaluation.metadata.finalizers.filter((f) => f !== finalizer),
        resourceVersion: evaluation.metadata.resourceVersion,
      },
    });
    log.info('cleaned up runs and metrics; finalizer removed');
    return {};
  }

  /** Writes one condition, unless it already says the same (status, reason, message); true when written. */
  private async writeCondition(evaluation: PrunedModelEvaluation, update: ConditionUpdate): Promise<boolean> {
    const old = evaluation.status?.conditions?.find((c) => c.type === update.type);
    if (old && old.status === update.status && old.reason === update.reason && old.message === update.message)
      return false;
    const conditions = setCondition(
      evaluation.status?.conditions,
      update,
      evaluation.metadata.generation ?? 1,
      this.now(),
    );
    await this.patchStatus(evaluation, { conditions });
    return true;
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
