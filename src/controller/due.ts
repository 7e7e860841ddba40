import type { EvaluationRun, PrunedModelEvaluation, RunTrigger } from '../api/v1alpha1/index.js';
import { nextRunAfter } from '../api/v1alpha1/schedule.js';

/** When a run was started, by the controller's clock (recorded on the run), else by the API server's. */
export const scheduledAtAnnotation = 'pruneguard.io/scheduled-at';

export function scheduledAt(run: EvaluationRun): Date {
  return new Date(run.metadata.annotations?.[scheduledAtAnnotation] ?? run.metadata.creationTimestamp!);
}

export type Due = { due: true; trigger: RunTrigger } | { due: false; at?: Date };

/**
 * Whether an evaluation needs a new run, from what is stored in the API alone (its generation
 * and its runs), so a restarted controller reaches the same answer and never starts a duplicate.
 */
export function whenDue(
  evaluation: PrunedModelEvaluation,
  latestRun: EvaluationRun | undefined,
  now: Date,
): Due {
  if (evaluation.spec.suspend) return { due: false };
  if (!latestRun) return { due: true, trigger: 'Schedule' };
  if (latestRun.spec.generation < (evaluation.metadata.generation ?? 1))
    return { due: true, trigger: 'SpecChange' };
  const at = nextRunAfter(evaluation.spec.schedule, scheduledAt(latestRun));
  return at.getTime() <= now.getTime() ? { due: true, trigger: 'Schedule' } : { due: false, at };
}
