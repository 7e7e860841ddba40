import type { Condition } from '../api/v1alpha1/index.js';

export type ConditionUpdate = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * Sets a condition the way metav1 conditions are meant to be kept: one entry per type, and
 * lastTransitionTime moves only when the status changes.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const existing = conditions?.find((c) => c.type === update.type);
  const lastTransitionTime =
    existing && existing.status === update.status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = { ...update, observedGeneration, lastTransitionTime };
  return [...(conditions ?? []).filter((c) => c.type !== update.type), next];
}
