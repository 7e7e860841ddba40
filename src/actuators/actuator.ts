import type { ActionType } from '../api/v1alpha1/index.js';

/** One run's decision, as the actuator needs it. */
export interface ActionRequest {
  /** The EvaluationRun whose verdict asks for the action: one action per run and type. */
  run: string;
  reason: string;
  dryRun: boolean;
}

export interface ActionOutcome {
  type: ActionType;
  /** Kind/name of what was acted on. */
  target: string;
  /** false when the target already carried this run's action (a repeated reconcile). */
  performed: boolean;
  detail: string;
}

/**
 * What a verdict steers. Every method is idempotent per run: the target is annotated with the
 * run in the same write that acts on it, so a restart or a repeated reconcile never acts twice.
 */
export interface RolloutActuator {
  readonly target: string;
  advance(request: ActionRequest): Promise<ActionOutcome>;
  promote(request: ActionRequest): Promise<ActionOutcome>;
  hold(request: ActionRequest): Promise<ActionOutcome>;
  rollback(request: ActionRequest): Promise<ActionOutcome>;
}

/** Annotation on a steered object: the last run that acted on it, and how (`<run>/<ActionType>`). */
export const lastActionAnnotation = 'pruneguard.io/last-action';

export function actionStamp(run: string, type: ActionType): string {
  return `${run}/${type}`;
}

/** A target that cannot be reached fails the action with a message that names it. */
export class TargetError extends Error {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(`${target}: ${message}`);
  }
}
