/**
 * What a finished run amounts to: the status to write and the actions it asks for, decided from
 * the evaluation, the run and its graded result alone. No I/O: the reconciler writes what comes
 * out, and test/unit/controller/conclusion.test.ts checks it as tables.
 */
import { decideActions, retrainingTarget, targetName, type PlannedAction } from '../actuators/index.js';
import {
  openActionStates,
  summarize,
  type Action,
  type EvaluationRun,
  type LiveMetricResult,
  type PrunedModelEvaluation,
  type PrunedModelEvaluationStatus,
  type Verdict,
} from '../api/v1alpha1/index.js';
import { applyHysteresis, type GradedRun } from '../grading/index.js';
import { combineVerdict, withLive } from '../live/grade.js';
import { setCondition } from './conditions.js';
import type { RunOutcome } from './run-outcome.js';

export const maxActionsKept = 50;

export type RunFailure = Extract<RunOutcome, { state: 'failed' }>;

/** A merge patch of the status: null removes a field (status.live once spec.live is gone). */
export type StatusPatch = {
  [K in keyof PrunedModelEvaluationStatus]?: PrunedModelEvaluationStatus[K] | null;
};

export interface Conclusion {
  /**
   * One write: the verdict, the streaks, the actions it asks for and status.lastRun (which closes
   * the run). Nothing acts before the API server has accepted it.
   */
  status: StatusPatch;
  /** The run's own verdict (before hysteresis), for its metrics and log. */
  verdict: Verdict;
  failure?: RunFailure;
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
}

/**
 * A graded run: hysteresis, conditions, and the actions the policy asks for. `live` is its
 * spec.live graded at the same time (src/live): the verdict is the worse of the two, so a slow
 * canary rolls back like an accuracy drop, and an unreadable Prometheus (Inconclusive) holds.
 */
export function concludeGraded(
  evaluation: PrunedModelEvaluation,
  run: EvaluationRun,
  gradedRun: GradedRun,
  now: Date,
  live?: LiveMetricResult[],
): Conclusion {
  const graded = withLive(gradedRun.graded, live);
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
  const explanation = hysteresis.reason ? `${graded.explanation}; ${hysteresis.reason}` : graded.explanation;
  const verdict = hysteresis.effectiveVerdict;
  const generation = evaluation.metadata.generation ?? 1;
  let conditions = setCondition(
    evaluation.status?.conditions,
    { type: 'Ready', status: 'True', reason: 'Graded', message: `${runName}: ${graded.verdict}` },
    generation,
    now,
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
    now,
  );
  conditions = setCondition(
    conditions,
    { type: 'EvaluationFailed', status: 'False', reason: 'RunSucceeded', message: `${runName} graded` },
    generation,
    now,
  );
  const planned = evaluation.spec.suspend
    ? []
    : decideActions({
        effectiveVerdict: verdict,
        enteredCritical,
        policy,
        hasTarget: evaluation.spec.target !== undefined,
        hasRetraining: evaluation.spec.retraining !== undefined,
        reason: explanation,
      });
  return {
    status: {
      observedGeneration: run.spec.generation,
      verdict,
      metrics: gradedRun.metrics,
      slices: gradedRun.slices,
      summary: summarize(gradedRun.metrics),
      live: live ?? null,
      liveVerdict: live ? (combineVerdict(undefined, live).verdict ?? null) : null,
      explanation,
      conditions,
      lastRun: lastRun(run, gradedRun.samples, now),
      consecutiveBreaches: hysteresis.state.consecutiveCritical,
      consecutiveFailedRuns: 0,
      hysteresis: {
        consecutiveCritical: hysteresis.state.consecutiveCritical,
        consecutiveHealthy: hysteresis.state.consecutiveHealthy,
        critical: hysteresis.state.critical,
        lastRun: runName,
      },
      actions: recordActions(evaluation, run, planned, now),
    },
    verdict: graded.verdict,
    events: [
      {
        type: verdict === 'Pass' ? 'Normal' : 'Warning',
        reason: `Verdict${verdict}`,
        message: `${runName}: ${explanation}`,
      },
    ],
  };
}

/**
 * A run that could not produce a result, or whose result cannot be trusted: the evaluation
 * becomes Inconclusive with the reason, the last graded metrics stay as they were, nothing is
 * rolled back, and only policy.failedRunLimit failures in a row do what policy.onFailure says.
 */
export function concludeFailed(
  evaluation: PrunedModelEvaluation,
  run: EvaluationRun,
  failure: RunFailure,
  now: Date,
): Conclusion {
  const generation = evaluation.metadata.generation ?? 1;
  const policy = evaluation.spec.policy;
  const message = `${run.metadata.name}: ${failure.message}`.slice(0, 32_768);
  let conditions = setCondition(
    evaluation.status?.conditions,
    { type: 'Ready', status: 'False', reason: failure.reason, message },
    generation,
    now,
  );
  conditions = setCondition(
    conditions,
    { type: 'EvaluationFailed', status: 'True', reason: failure.reason, message },
    generation,
    now,
  );
  const failedRunsInARow = (evaluation.status?.consecutiveFailedRuns ?? 0) + 1;
  const limitReached = failedRunsInARow >= policy.failedRunLimit;
  const reason = limitReached
    ? `${failedRunsInARow} failed runs in a row (policy.failedRunLimit ${policy.failedRunLimit}, onFailure ${policy.onFailure}); last: ${message}`
    : message;
  const planned = decideActions({
    effectiveVerdict: 'Inconclusive',
    enteredCritical: false,
    policy,
    hasTarget: evaluation.spec.target !== undefined && !evaluation.spec.suspend,
    hasRetraining: false,
    failedRunsInARow,
    reason,
  });
  return {
    status: {
      observedGeneration: run.spec.generation,
      verdict: 'Inconclusive',
      explanation: `Inconclusive: ${message}`.slice(0, 4096),
      conditions,
      lastRun: lastRun(run, 0, now),
      consecutiveFailedRuns: failedRunsInARow,
      actions: recordActions(evaluation, run, planned, now),
    },
    verdict: 'Inconclusive',
    failure,
    events: [
      { type: 'Warning', reason: 'EvaluationFailed', message },
      ...(limitReached && failedRunsInARow === policy.failedRunLimit
        ? [{ type: 'Warning' as const, reason: 'FailedRunLimitReached', message: reason }]
        : []),
    ],
  };
}

function lastRun(run: EvaluationRun, samples: number, now: Date): PrunedModelEvaluationStatus['lastRun'] {
  return {
    name: run.metadata.name!,
    startedAt: run.status?.startedAt ?? run.metadata.creationTimestamp,
    completedAt: now.toISOString(),
    samples,
    ...(run.spec.trigger ? { trigger: run.spec.trigger } : {}),
    ...(run.spec.triggerDetail ? { triggerDetail: run.spec.triggerDetail } : {}),
  };
}

/**
 * status.actions after a run: what it asks for joins as Pending, with the revision it evaluated,
 * and every action still open from an earlier run is Superseded: a newer verdict decides now.
 */
export function recordActions(
  evaluation: PrunedModelEvaluation,
  run: EvaluationRun,
  planned: PlannedAction[],
  now: Date,
): Action[] {
  const at = now.toISOString();
  const runName = run.metadata.name!;
  const previous = (evaluation.status?.actions ?? []).map((action): Action =>
    action.run !== runName && action.state !== undefined && openActionStates.includes(action.state)
      ? { ...action, state: 'Superseded', detail: `superseded by ${runName}`, updatedAt: at }
      : action,
  );
  const dryRun = evaluation.spec.policy.dryRun;
  const target = evaluation.spec.target;
  const fresh = planned
    .filter((p) => !previous.some((a) => a.run === runName && a.type === p.type))
    .map((p): Action => ({
      type: p.type,
      target:
        p.type === 'Retrain'
          ? retrainingTarget(evaluation.spec.retraining!, evaluation.metadata.name!, runName)
          : targetName(target!),
      run: runName,
      at,
      reason: p.reason.slice(0, 1024),
      dryRun,
      state: 'Pending',
      attempts: 0,
      updatedAt: at,
      ...(p.type !== 'Retrain' && run.spec.targetRevision ? { revision: run.spec.targetRevision } : {}),
    }));
  return [...previous, ...fresh].slice(-maxActionsKept);
}
