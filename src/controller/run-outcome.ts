import type { V1Job, V1Pod } from '@kubernetes/client-node';

export type RunOutcome =
  | { state: 'pending'; message?: string }
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; reason: string; message: string };

/** Waiting reasons that never resolve by themselves: the run fails now instead of at its deadline. */
const hopelessWaitingReasons = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

/**
 * What a run's Job and pods say about it, in the words the PME status will use. A pod's own
 * failure (OOMKilled, the evaluator's error message) explains a failed Job better than the Job's
 * condition does, so it is preferred.
 */
export function runOutcome(job: V1Job, pods: readonly V1Pod[]): RunOutcome {
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find(
    (c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True',
  );
  const podFailure = pods.map(podFailureOf).find((f) => f !== undefined);

  if (failed) {
    if (failed.reason === 'DeadlineExceeded') {
      const stuck = pods.map(podPendingReason).find((r) => r !== undefined);
      return {
        state: 'failed',
        reason: 'DeadlineExceeded',
        message: `evaluation did not finish within activeDeadlineSeconds (${job.spec?.activeDeadlineSeconds}s)${stuck ? `: ${stuck}` : ''}`,
      };
    }
    return (
      podFailure ?? {
        state: 'failed',
        reason: failed.reason ?? 'JobFailed',
        message: failed.message ?? 'the Job failed',
      }
    );
  }
  if (
    conditions.some((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True')
  ) {
    return { state: 'succeeded' };
  }
  if (podFailure) return podFailure;
  if ((job.status?.active ?? 0) > 0 && pods.some((p) => p.status?.phase === 'Running'))
    return { state: 'running' };
  const pendingReason = pods.map(podPendingReason).find((r) => r !== undefined);
  return pendingReason ? { state: 'pending', message: pendingReason } : { state: 'pending' };
}

function podFailureOf(pod: V1Pod): Extract<RunOutcome, { state: 'failed' }> | undefined {
  const podName = pod.metadata?.name ?? 'pod';
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && hopelessWaitingReasons.has(waiting.reason)) {
      return {
        state: 'failed',
        reason: waiting.reason,
        message: `${podName}: ${waiting.message ?? `cannot start image ${status.image}`}`,
      };
    }
    const terminated = status.state?.terminated;
    if (terminated && terminated.exitCode !== 0) {
      const reason = terminated.reason === 'OOMKilled' ? 'OOMKilled' : 'EvaluatorError';
      const detail =
        reason === 'OOMKilled'
          ? `the evaluator exceeded its memory limit (exit code ${terminated.exitCode})`
          : terminated.message?.trim() || `the evaluator exited with code ${terminated.exitCode}`;
      return { state: 'failed', reason, message: `${podName}: ${detail}` };
    }
  }
  if (pod.status?.phase === 'Failed' && pod.status.reason) {
    return {
      state: 'failed',
      reason: pod.status.reason,
      message: `${podName}: ${pod.status.message ?? pod.status.reason}`,
    };
  }
  return undefined;
}

function podPendingReason(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False')
    return `${pod.metadata?.name}: ${scheduled.reason}: ${scheduled.message ?? ''}`.trim();
  return undefined;
}
