import type {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  V1Job,
  V1PersistentVolumeClaim,
  V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  actuatorFor,
  attemptDue,
  driveTargetAction,
  failedAttempt,
  nextAttemptDelayMs,
  TargetError,
  triggerRetraining,
  type Driven,
  type TargetActuator,
} from '../actuators/index.js';
import {
  errorStatus,
  fieldManager,
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
  openActionStates,
  prunedModelEvaluationNames,
  runName,
  s3CredentialKeys,
  sourceRoles,
  sourceUris,
  version,
  type Action,
  type DataWatch,
  type Live,
  type LiveMetricResult,
  type EvaluationRun,
  type PrunedModelEvaluation,
  type PrunedModelEvaluationStatus,
  type Retraining,
} from '../api/v1alpha1/index.js';
import type { ShardStateLimits } from '../evaluator/shard-state.js';
import { evaluateLive } from '../live/evaluate-live.js';
import { unreadLive } from '../live/grade.js';
import { prometheusCredentialKeys, type PrometheusCredentials } from '../live/prometheus.js';
import type { OperatorMetrics } from '../telemetry/operator-metrics.js';
import { concludeFailed, concludeGraded, type Conclusion, type StatusPatch } from './conclusion.js';
import { setCondition, type ConditionUpdate } from './conditions.js';
import { readCredentials, type Credentials } from './credentials.js';
import { readVersion, type ProbeContext } from './data-versions.js';
import { dataChange, nextCheck, recordVersions, sameWatch, versionsOf } from './data-watch.js';
import { scheduledAtAnnotation, whenDue, type Due } from './due.js';
import { evaluationJob, jobName, labels, ownerReference, s3CredentialsEnv } from './evaluation-job.js';
import { evaluatorAccess } from './evaluator-access.js';
import type { EventRecorder } from './events.js';
import { gradeRun, RejectedShardResults } from './grade-run.js';
import type { ResourceInformer } from './informer.js';
import { runOutcome } from './run-outcome.js';
import { specProblem, type SpecPolicy, type SpecProblem } from './spec-admission.js';

export const finalizer = 'pruneguard.io/cleanup';
/** Each version read (a HEAD, a ConfigMap get) gives up after this long; the source shows why. */
const versionReadTimeoutMs = 10_000;
const credentialsRecheckMs = 60_000;
export const sequenceLabel = 'pruneguard.io/sequence';

export interface ReconcilerOptions extends SpecPolicy {
  /** Permission-less ServiceAccount, created per namespace, that retraining Jobs run as. */
  retrainingServiceAccount: string;
  /** Caps on what one shard may write before anything is decoded. */
  shardStateLimits: ShardStateLimits;
  /** How long a finished Job may wait for its shards' results to show up before the run fails. */
  resultsGraceMs: number;
  /** How long a written action may wait for its effect on the target before it is written again. */
  actionConfirmTimeoutMs: number;
}

export interface Caches {
  evaluations: ResourceInformer<PrunedModelEvaluation>;
  runs: ResourceInformer<EvaluationRun>;
  jobs: ResourceInformer<V1Job>;
  pods: ResourceInformer<V1Pod>;
  claims: ResourceInformer<V1PersistentVolumeClaim>;
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
 *
 * Whether a run is over is the operator's own record, status.lastRun of the evaluation, which
 * nobody else can write: an evaluation pod can write its run's status, so status.phase there is
 * for people, never an input.
 */
export class EvaluationReconciler {
  /**
   * The evaluation as this reconcile last wrote it, per key (the work queue never reconciles one
   * key twice at once): later writes in the same reconcile carry its resourceVersion, and the
   * series are exported from its status at once and again at the end of the reconcile, instead of
   * the cache's copy, which is still the old one: a scrape must not lag what the status says.
   */
  private readonly written = new Map<string, PrunedModelEvaluation>();
  /**
   * The highest run sequence this process closed, per evaluation uid: the evaluations cache may
   * not have our own status write yet when the run's next event arrives.
   */
  private readonly closedThrough = new Map<string, number>();
  /**
   * The resourceVersions of an evaluation that this process's own writes replaced, per key, since
   * the cache last caught up: a cached copy at one of them is older than what we wrote, and the
   * watch event of our write is on its way and will queue the key again (the "expectations" of
   * client-go's controllers). Deciding on that copy would only earn a 409 per status write and a
   * retried reconcile.
   */
  private readonly superseded = new Map<string, Set<string>>();
  /** When the sources of an evaluation were last asked for their versions, per uid (data-watch.ts). */
  private readonly dataChecked = new Map<string, Date>();

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
      this.superseded.delete(key);
      return {};
    }
    if (this.superseded.get(key)?.has(evaluation.metadata.resourceVersion!)) return {};
    this.superseded.delete(key);
    const log = this.log.child({ namespace, name });
    this.written.delete(key);
    try {
      if (evaluation.metadata.deletionTimestamp) return await this.finalize(evaluation, log);
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
        const problem = specProblem(evaluation, this.options, this.now());
        result = problem
          ? await this.refuseSpec(evaluation, problem, log)
          : await this.startRunIfDue(evaluation, runs, log);
      }
      const acting = await this.driveActions(this.written.get(key) ?? evaluation, log);
      await this.collectGarbage(evaluation, runs);
      return soonest(result, acting);
    } finally {
      const status = (this.written.get(key) ?? evaluation).status;
      this.written.delete(key);
      if (status && !evaluation.metadata.deletionTimestamp) this.metrics.observe(namespace, name, status);
    }
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

  /** The spec cannot run, or asks for more than the operator allows: nothing starts, and the condition says why. */
  private async refuseSpec(
    evaluation: PrunedModelEvaluation,
    problem: SpecProblem,
    log: Logger,
  ): Promise<ReconcileResult> {
    const changed = await this.writeCondition(evaluation, {
      type: 'Ready',
      status: 'False',
      reason: problem.reason,
      message: problem.message.slice(0, 32_768),
    });
    if (changed) {
      log.warn({ reason: problem.reason, problem: problem.message }, 'evaluation refused');
      await this.events.record(evaluation, 'Warning', problem.reason, problem.message);
    }
    return {};
  }

  private async startRunIfDue(
    evaluation: PrunedModelEvaluation,
    runs: EvaluationRun[],
    log: Logger,
  ): Promise<ReconcileResult> {
    const now = this.now();
    const changes = evaluation.spec.schedule.dataChanges;
    const uid = evaluation.metadata.uid!;
    // Read at most once per reconcile, and only when versions are read or a run is due.
    let s3: Promise<Credentials | undefined> | undefined;
    const s3Credentials = () => (s3 ??= this.s3Credentials(evaluation));
    let watch = evaluation.status?.dataWatch;
    const settling = dataChange(watch, runs.at(-1), changes, this.dataChecked.get(uid));
    const check = nextCheck(changes, this.dataChecked.get(uid), settling.due ? undefined : settling.at);
    let read = false;
    if (check && check <= now) {
      watch = await this.readVersions(evaluation, watch, now, await s3Credentials());
      read = true;
    }
    const data = dataChange(watch, runs.at(-1), changes, this.dataChecked.get(uid));
    const due = whenDue(evaluation, runs.at(-1), now, data);
    if (!due.due) {
      if (due.at && evaluation.status?.nextRunAt !== due.at.toISOString()) {
        await this.patchStatus(evaluation, { nextRunAt: due.at.toISOString() });
      }
      const wake = [due.at, nextCheck(changes, this.dataChecked.get(uid), data.due ? undefined : data.at)]
        .filter((at) => at !== undefined)
        .reduce<Date | undefined>((soonest, at) => (soonest && soonest <= at ? soonest : at), undefined);
      return wake ? { requeueAfterMs: Math.max(0, wake.getTime() - now.getTime()) + 50 } : {};
    }
    // A pod that cannot read its sources would only fail; the condition says why, and the Secret
    // is looked at again a minute later (Secrets are not watched).
    const credentials = await s3Credentials();
    if (credentials && 'problem' in credentials) {
      await this.refuseSpec(
        evaluation,
        { reason: 'SpecRefused', message: `spec.s3.credentialsSecret: ${credentials.problem}` },
        log,
      );
      return { requeueAfterMs: credentialsRecheckMs };
    }
    // The run records the versions it is about to read, so that the next change is seen as one.
    if (changes.enabled && !read) watch = await this.readVersions(evaluation, watch, now, credentials);

    const sequence = Math.max(0, ...runs.map(sequenceOf), lastRunSequence(evaluation)) + 1;
    const targetRevision = await this.targetRevision(evaluation, log);
    const run = await this.createRun(evaluation, sequence, due, now, targetRevision, versionsOf(watch));
    if (!run) return { requeueAfterMs: 1000 };
    await this.createJob(run);
    log.info({ run: run.metadata.name, trigger: due.trigger, detail: due.detail }, 'started evaluation run');
    await this.events.record(
      evaluation,
      'Normal',
      'RunStarted',
      `started ${run.metadata.name} (${due.detail ? `${due.trigger}: ${due.detail}` : due.trigger}, ${run.spec.shards} shard(s))`,
    );
    return {};
  }

  /**
   * The keys of spec.s3.credentialsSecret when an s3:// source needs them (as the Job's
   * s3CredentialsEnv does), or why the Secret cannot serve; undefined when none is needed.
   */
  private async s3Credentials(evaluation: PrunedModelEvaluation): Promise<Credentials | undefined> {
    const spec = evaluation.spec;
    if (spec.s3?.credentialsSecret === undefined || s3CredentialsEnv(spec).length === 0) return undefined;
    return readCredentials(this.clients.core, evaluation.metadata.namespace!, spec.s3.credentialsSecret, {
      required: [s3CredentialKeys.accessKeyId, s3CredentialKeys.secretAccessKey],
      optional: [s3CredentialKeys.sessionToken],
    });
  }

  /**
   * Reads the version of every model and data file (data-versions.ts) and writes status.dataWatch
   * when one changed. When they were read is kept in memory: a restarted operator reads them again
   * at once, which costs a HEAD per source, never a run. `s3`: the keys of spec.s3.credentialsSecret,
   * which the caller has read.
   */
  private async readVersions(
    evaluation: PrunedModelEvaluation,
    previous: DataWatch | undefined,
    now: Date,
    s3: Credentials | undefined,
  ): Promise<DataWatch> {
    const context: ProbeContext = {
      namespace: evaluation.metadata.namespace!,
      core: this.clients.core,
      claims: this.caches.claims,
      egress: this.options.egress,
      timeoutMs: versionReadTimeoutMs,
      s3: {
        ...(evaluation.spec.s3 ? { options: evaluation.spec.s3 } : {}),
        credentials: s3 ?? { values: {} },
      },
    };
    const uris = sourceUris(evaluation.spec);
    const observed = await Promise.all(
      sourceRoles.map(async (source) => ({
        source,
        uri: uris[source],
        ...(await readVersion(uris[source], context)),
      })),
    );
    this.dataChecked.set(evaluation.metadata.uid!, now);
    const watch = recordVersions(previous, observed, now);
    if (!sameWatch(previous, watch)) await this.patchStatus(evaluation, { dataWatch: watch });
    return watch;
  }

  private async createRun(
    evaluation: PrunedModelEvaluation,
    sequence: number,
    due: Extract<Due, { due: true }>,
    now: Date,
    targetRevision: string | undefined,
    dataVersions: Record<string, string> | undefined,
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
        trigger: due.trigger,
        ...(due.detail ? { triggerDetail: due.detail.slice(0, 1024) } : {}),
        ...(dataVersions ? { dataVersions } : {}),
        ...(targetRevision ? { targetRevision } : {}),
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
        fieldManager,
      })) as EvaluationRun;
    } catch (error) {
      // The namespace is being deleted, and the evaluation with it: nothing to start.
      if (errorStatus(error).includes('because it is being terminated')) return undefined;
      // A deterministic name makes a stale cache harmless: the run exists and the next reconcile sees it.
      ignoreConflict(error);
      return undefined;
    }
  }

  /** The revision of the target a new run evaluates: its verdict acts on that revision alone. */
  private async targetRevision(evaluation: PrunedModelEvaluation, log: Logger): Promise<string | undefined> {
    const actuator = actuatorFor(this.clients.kc, evaluation);
    if (!actuator) return undefined;
    try {
      return (await actuator.observe()).revision;
    } catch (error) {
      log.warn(
        { reason: (error as Error).message },
        'target not readable: the run records no revision, and its verdict will not act',
      );
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
      .createNamespacedJob({ namespace: run.metadata.namespace!, body: job, fieldManager })
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
    // The account and the Role at once; the binding after its Role: without the `bind` verb, the
    // API server grants a RoleBinding only to a Role it can read (no escalation).
    await Promise.all([
      custom === undefined
        ? this.clients.core
            .createNamespacedServiceAccount({ namespace, body: access.serviceAccount, fieldManager })
            .catch(ignoreConflict)
        : undefined,
      this.clients.rbac
        .createNamespacedRole({ namespace, body: access.role, fieldManager })
        .catch(ignoreConflict),
    ]);
    await this.clients.rbac
      .createNamespacedRoleBinding({ namespace, body: access.roleBinding, fieldManager })
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
    const job = this.caches.jobs.get(jobName(run), namespace);
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
    // Every shard's entry is written once and never replaced (CEL on the list item), so once each
    // shard has written one the results are final: grading need not wait for the Job controller
    // to mark the Job complete (about a second after the last pod exits).
    const shards = run.status?.shards ?? [];
    const reported = new Set(shards.filter((s) => s.state || s.error).map((s) => s.index));
    if (reported.size < run.spec.shards) {
      const pods = this.caches.pods
        .list(namespace)
        .filter((p) => p.metadata?.labels?.[labels.run] === run.metadata.name);
      const outcome = runOutcome(job, pods);
      if (outcome.state === 'pending' || outcome.state === 'running') {
        const phase = outcome.state === 'running' ? 'Running' : 'Pending';
        // Pods that have all exited leave the Job "pending" until it is marked complete: a run never goes back to Pending.
        if (written !== phase && written !== 'Running') {
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
            message: `${run.metadata.name}: ${outcome.message}`,
          });
        } else if (!evaluation.status?.verdict) {
          // Before the first verdict, the PME says what its first run is doing.
          await this.writeCondition(evaluation, {
            type: 'Ready',
            status: 'Unknown',
            reason: phase === 'Running' ? 'FirstRunRunning' : 'FirstRunPending',
            message: `${run.metadata.name}: ${phase === 'Running' ? 'evaluating' : 'waiting for its pods'}; no verdict yet`,
          });
        }
        return {};
      }
      if (outcome.state === 'failed')
        return this.closeRun(evaluation, run, concludeFailed(evaluation, run, outcome, this.now()), log);
    }

    const shardErrors = shards.filter((s) => s.error);
    if (shardErrors.length > 0) {
      const message = shardErrors.map((s) => `shard ${s.index}: ${s.error}`).join('; ');
      return this.failRun(evaluation, run, 'EvaluatorError', message, log);
    }
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
    return this.closeRun(evaluation, run, await this.graded(evaluation, run), log);
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
      concludeFailed(evaluation, run, { state: 'failed', reason, message }, this.now()),
      log,
    );
  }

  /**
   * Merges and grades the shards' results, and the run's spec.live from Prometheus beside them;
   * anything malformed concludes Inconclusive instead.
   */
  private async graded(evaluation: PrunedModelEvaluation, run: EvaluationRun): Promise<Conclusion> {
    let gradedRun;
    try {
      gradedRun = gradeRun(run, this.options.shardStateLimits);
    } catch (error) {
      return concludeFailed(
        evaluation,
        run,
        {
          state: 'failed',
          reason: error instanceof RejectedShardResults ? error.reason : 'ResultsUnreadable',
          message: (error as Error).message,
        },
        this.now(),
      );
    }
    const live = run.spec.evaluationSpec.live;
    const liveResults = live ? await this.gradeLive(run.metadata.namespace!, live) : undefined;
    return concludeGraded(evaluation, run, gradedRun, this.now(), liveResults);
  }

  /**
   * spec.live over the window that ends now. Never throws: credentials that cannot serve, like a
   * Prometheus out of reach, make every live metric Inconclusive with the reason.
   */
  private async gradeLive(namespace: string, live: Live): Promise<LiveMetricResult[]> {
    let credentials: PrometheusCredentials | undefined;
    const secret = live.prometheus.credentialsSecret;
    if (secret !== undefined) {
      const read = await readCredentials(this.clients.core, namespace, secret, {
        optional: Object.values(prometheusCredentialKeys),
      });
      if ('problem' in read)
        return live.metrics.map((metric) =>
          unreadLive(metric, `spec.live.prometheus.credentialsSecret: ${read.problem}`),
        );
      credentials = Object.fromEntries(
        Object.entries(prometheusCredentialKeys)
          .filter(([, key]) => read.values[key] !== undefined)
          .map(([field, key]) => [field, read.values[key]]),
      );
    }
    return evaluateLive(live, credentials, this.options.egress, this.now());
  }

  /**
   * Records the conclusion in one status write (verdict, streaks, the actions it asks for, and
   * lastRun, which closes the run), then drives the actions. Nothing acts on a verdict the API
   * server has not accepted: a status it refuses concludes the run Inconclusive (ResultsRejected)
   * instead. A crash after the write leaves the actions recorded as Pending, and the next
   * reconcile drives them; each reads the target first, so none acts twice.
   */
  private async closeRun(
    evaluation: PrunedModelEvaluation,
    run: EvaluationRun,
    conclusion: Conclusion,
    log: Logger,
  ): Promise<ReconcileResult> {
    const runName = run.metadata.name!;
    let closed: PrunedModelEvaluation;
    try {
      closed = await this.patchStatus(evaluation, conclusion.status);
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
    this.closedThrough.set(evaluation.metadata.uid!, sequenceOf(run));

    const failure = conclusion.failure;
    const acting = (closed.status?.actions ?? []).some((a) => a.run === runName && isOpen(a));
    await this.patchRunStatus(
      run,
      failure
        ? {
            phase: 'Failed',
            completedAt: this.now().toISOString(),
            failure: { reason: failure.reason, message: failure.message.slice(0, 4096) },
          }
        : acting
          ? { phase: 'Acting' }
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
    for (const event of conclusion.events)
      await this.events.record(evaluation, event.type, event.reason, event.message);
    if (failure) log.warn({ run: runName, reason: failure.reason }, failure.message);
    else
      log.info(
        { run: runName, verdict: conclusion.verdict, effectiveVerdict: conclusion.status.verdict },
        'graded run',
      );
    return {};
  }

  /**
   * One step for every open action (Pending or Applied): each target action reads the target,
   * then writes, confirms or waits (src/actuators/drive.ts); retraining is attempted until it
   * succeeds. Failures are retried with backoff until they succeed or a newer run supersedes
   * them; the result asks to be called again when the soonest one is due.
   */
  private async driveActions(evaluation: PrunedModelEvaluation, log: Logger): Promise<ReconcileResult> {
    const actions = evaluation.status?.actions ?? [];
    if (!actions.some(isOpen)) return {};
    const namespace = evaluation.metadata.namespace!;
    const now = this.now();
    const actuator = actuatorFor(this.clients.kc, evaluation);
    const driven: Action[] = [];
    const announced: (NonNullable<Driven['event']> & { action: Action })[] = [];
    for (const action of actions) {
      if (!isOpen(action) || !attemptDue(action, now)) {
        driven.push(action);
        continue;
      }
      const step = await this.stepAction(evaluation, action, actuator, now);
      driven.push(step.action);
      if (step.performed) {
        this.metrics.actions.inc({
          namespace,
          evaluation: evaluation.metadata.name!,
          type: action.type,
          dry_run: String(action.dryRun),
        });
      }
      if (step.event) announced.push({ ...step.event, action: step.action });
    }
    const changed = driven.some((a, i) => a !== actions[i]);
    if (changed) {
      const conditions = actionCondition(evaluation, driven, this.now());
      await this.patchStatus(evaluation, { actions: driven, ...(conditions ? { conditions } : {}) });
      await this.finishActedRuns(evaluation, actions, driven);
    }
    // Announced once the status says so: a write on a stale copy (409) announces nothing, and the
    // reconcile that follows reaches the same step again from the target's state.
    for (const { action, ...event } of announced) {
      await this.events.record(evaluation, event.type, event.reason, event.message);
      const level = event.type === 'Warning' ? 'warn' : 'info';
      log[level]({ run: action.run, action: action.type, state: action.state }, event.message);
    }
    const delays = driven
      .map((action) => nextAttemptDelayMs(action, this.now()))
      .filter((d): d is number => d !== undefined);
    return delays.length > 0 ? { requeueAfterMs: Math.min(...delays) } : {};
  }

  private async stepAction(
    evaluation: PrunedModelEvaluation,
    action: Action,
    actuator: TargetActuator | undefined,
    now: Date,
  ): Promise<Driven> {
    const superseded = (detail: string): Driven => ({
      action: { ...action, state: 'Superseded', detail, updatedAt: now.toISOString() },
      performed: false,
    });
    if (evaluation.spec.suspend) return superseded('spec.suspend is set: no actions');
    if (action.type === 'Retrain')
      return evaluation.spec.retraining
        ? this.retrain(evaluation, action, evaluation.spec.retraining, now)
        : superseded('spec.retraining was removed');
    if (!actuator) return superseded('spec.target was removed');
    return driveTargetAction(actuator, action, {
      now,
      retryAborted: evaluation.spec.policy.retryAborted,
      dryRun: action.dryRun,
      confirmTimeoutMs: this.options.actionConfirmTimeoutMs,
    });
  }

  /** Creates the retraining Job and/or calls the webhook; both are idempotent per run. */
  private async retrain(
    evaluation: PrunedModelEvaluation,
    action: Action,
    retraining: Retraining,
    now: Date,
  ): Promise<Driven> {
    const namespace = evaluation.metadata.namespace!;
    const at = now.toISOString();
    try {
      if (!action.dryRun) await this.ensureRetrainingServiceAccount(namespace);
      const outcomes = await triggerRetraining(
        this.clients.batch,
        retraining,
        {
          namespace,
          evaluation: evaluation.metadata.name!,
          owner: ownerReference(evaluation),
          verdict: 'Critical',
          breaches: [action.reason],
        },
        { run: action.run, reason: action.reason, dryRun: action.dryRun },
        {
          serviceAccountName: this.options.retrainingServiceAccount,
          allowCustomServiceAccounts: this.options.allowCustomServiceAccounts,
          egress: this.options.egress,
        },
      );
      const detail = outcomes
        .map((o) => `${o.target}: ${o.detail}`)
        .join('; ')
        .slice(0, 1024);
      return {
        action: {
          ...action,
          state: action.dryRun ? 'Skipped' : 'Done',
          detail,
          attempts: (action.attempts ?? 0) + 1,
          updatedAt: at,
        },
        performed: action.dryRun || outcomes.some((o) => o.performed),
        event: { type: 'Normal', reason: 'Retrain', message: detail },
      };
    } catch (error) {
      return failedAttempt(action, error instanceof TargetError ? error.message : errorStatus(error), now);
    }
  }

  /** A run whose last open action ended goes from Acting to Succeeded. */
  private async finishActedRuns(
    evaluation: PrunedModelEvaluation,
    before: Action[],
    after: Action[],
  ): Promise<void> {
    const ended = new Set(before.filter(isOpen).map((a) => a.run));
    for (const action of after) if (isOpen(action)) ended.delete(action.run);
    for (const runName of ended) {
      const run = this.caches.runs.get(runName, evaluation.metadata.namespace!);
      if (run?.status?.phase !== 'Acting') continue;
      await this.patchRunStatus(run, { phase: 'Succeeded', completedAt: this.now().toISOString() }).catch(
        (error: unknown) => {
          if (!isInvalid(error)) ignoreNotFound(error);
        },
      );
    }
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
        fieldManager,
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
    this.dataChecked.delete(evaluation.metadata.uid!);
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

  /** A metadata write (finalizers); later writes in the same reconcile carry its resourceVersion. */
  private async patchEvaluation(evaluation: PrunedModelEvaluation, body: object): Promise<void> {
    const patched = (await this.clients.objects.patchNamespacedCustomObject(
      { ...evaluationParams(evaluation), body, fieldManager },
      mergePatch,
    )) as PrunedModelEvaluation;
    const key = `${evaluation.metadata.namespace}/${evaluation.metadata.name}`;
    this.wrote(key, (this.written.get(key) ?? evaluation).metadata.resourceVersion, patched);
  }

  /** Remembers our write of `key`, which replaced the copy at `before`. */
  private wrote(key: string, before: string | undefined, patched: PrunedModelEvaluation): void {
    this.written.set(key, patched);
    const after = patched.metadata.resourceVersion;
    if (before === undefined || after === undefined || before === after) return;
    const superseded = this.superseded.get(key) ?? new Set<string>();
    superseded.add(before);
    this.superseded.set(key, superseded);
  }

  /**
   * A status write with optimistic concurrency: it carries the resourceVersion of the evaluation
   * as this reconcile last saw or wrote it, so a write decided on a stale copy is a 409 and the
   * reconcile runs again on the current one.
   */
  private async patchStatus(
    evaluation: PrunedModelEvaluation,
    status: StatusPatch,
  ): Promise<PrunedModelEvaluation> {
    const { namespace, name } = evaluation.metadata as { namespace: string; name: string };
    const key = `${namespace}/${name}`;
    const resourceVersion = (this.written.get(key) ?? evaluation).metadata.resourceVersion;
    const patched = (await this.clients.objects.patchNamespacedCustomObjectStatus(
      { ...evaluationParams(evaluation), body: { metadata: { resourceVersion }, status }, fieldManager },
      mergePatch,
    )) as PrunedModelEvaluation;
    this.wrote(key, resourceVersion, patched);
    if (patched.status) this.metrics.observe(namespace, name, patched.status);
    return patched;
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
        fieldManager,
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

function isOpen(action: Action): boolean {
  return action.state !== undefined && openActionStates.includes(action.state);
}

function soonest(...results: ReconcileResult[]): ReconcileResult {
  const delays = results.map((r) => r.requeueAfterMs).filter((d): d is number => d !== undefined);
  return delays.length > 0 ? { requeueAfterMs: Math.min(...delays) } : {};
}

/**
 * EvaluationFailed says ActionFailed while an open action's last attempt failed, and stops saying
 * it once none does; a run's own failure is left as the run wrote it.
 */
function actionCondition(
  evaluation: PrunedModelEvaluation,
  actions: Action[],
  now: Date,
): PrunedModelEvaluationStatus['conditions'] | undefined {
  const failing = actions.find((a) => a.state === 'Pending' && a.lastError);
  const current = evaluation.status?.conditions?.find((c) => c.type === 'EvaluationFailed');
  const generation = evaluation.metadata.generation ?? 1;
  if (failing)
    return setCondition(
      evaluation.status?.conditions,
      { type: 'EvaluationFailed', status: 'True', reason: 'ActionFailed', message: failing.lastError! },
      generation,
      now,
    );
  if (current?.reason === 'ActionFailed')
    return setCondition(
      evaluation.status?.conditions,
      {
        type: 'EvaluationFailed',
        status: 'False',
        reason: 'ActionsRecovered',
        message: 'no action is failing',
      },
      generation,
      now,
    );
  return undefined;
}
