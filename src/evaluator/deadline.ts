import { setMaxListeners } from 'node:events';

/**
 * runtime.timeoutSeconds, kept by the evaluator itself. In the cluster the Job's
 * activeDeadlineSeconds (the same number, counted from the Job's start, so it comes first) ends a
 * pod that overruns; `pruneguard evaluate` has no Job around it. The deadline is an AbortSignal
 * that every source, the data loop and the measurements watch, so an evaluation that overruns
 * stops where it is and the error says where that was.
 */
export class EvaluationTimeoutError extends Error {
  override readonly name = 'EvaluationTimeoutError';
}

/** Aborts, with an EvaluationTimeoutError as its reason, `timeoutSeconds` after `startedAt`. */
export function evaluationDeadline(timeoutSeconds: number, startedAt = Date.now()): AbortSignal {
  const controller = new AbortController();
  // Every read in flight listens, and a reader may have many (Parquet column chunks): no "leak" warning.
  setMaxListeners(0, controller.signal);
  const reason = new EvaluationTimeoutError(`runtime.timeoutSeconds (${timeoutSeconds} s) passed`);
  const left = Math.max(0, startedAt + timeoutSeconds * 1000 - Date.now());
  // Unreferenced: a deadline alone must not keep a finished process alive.
  setTimeout(() => controller.abort(reason), left).unref();
  return controller.signal;
}

/** Why a deadline fired, e.g. "runtime.timeoutSeconds (1800 s) passed". */
export function deadlineMessage(deadline: AbortSignal): string {
  const reason: unknown = deadline.reason;
  return reason instanceof Error ? reason.message : 'the evaluation was stopped';
}

/**
 * Once the deadline has passed, throws an EvaluationTimeoutError whose message `describe` builds
 * from why; for the checks between steps that cannot be interrupted (an inference call).
 */
export function checkDeadline(deadline: AbortSignal, describe: (why: string) => string): void {
  if (deadline.aborted)
    throw new EvaluationTimeoutError(describe(deadlineMessage(deadline)), { cause: deadline.reason });
}
