import type { EvaluationRun, PrunedModelEvaluation, RunTrigger } from '../api/v1alpha1/index.js';
import { nextRunAfter } from '../api/v1alpha1/schedule.js';
import type { DataChange } from './data-watch.js';

/** When a run was started, by the controller's clock (recorded on the run), else by the API server's. */
export const scheduledAtAnnotation = 'pruneguard.io/scheduled-at';

export function scheduledAt(run: EvaluationRun): Date {
  return new Date(run.metadata.annotations?.[scheduledAtAnnotation] ?? run.metadata.creationTimestamp!);
}

export type Due = { due: true; trigger: RunTrigger; detail?: string } | { due: false; at?: Date };

/**
 * Whether an evaluation needs a new run, from what is stored in the API alone (its generation,
 * its runs, and the data change `dataChange` found in status.dataWatch), so a restarted
 * controller reaches the same answer and never starts a duplicate. A spec change comes first,
 * then the schedule, then new data; `at` is when the next scheduled run is due.
 */
export function whenDue(
  evaluation: PrunedModelEvaluation,
  latestRun: EvaluationRun | undefined,
  now: Date,
  data: DataChange = { due: false },
): Due {
  if (evaluation.spec.suspend) return { due: false };
  if (!latestRun) return { due: true, trigger: 'Schedule' };
  if (latestRun.spec.generation < (evaluation.metadata.generation ?? 1))
    return { due: true, trigger: 'SpecChange' };
  const at = nextRunAfter(evaluation.spec.schedule, scheduledAt(latestRun));
  if (at.getTime() <= now.getTime()) return { due: true, trigger: 'Schedule' };
  if (data.due) return { due: true, trigger: 'DataChange', detail: data.detail };
  return { due: false, at };
}
