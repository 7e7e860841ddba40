import type { ActionType, Policy, Verdict } from '../api/v1alpha1/index.js';

export interface PlannedAction {
  type: ActionType;
  reason: string;
}

export interface DecisionInput {
  /** Set for a run that failed (no verdict): its number in a row, compared with policy.failedRunLimit. */
  failedRunsInARow?: number;
  /** The verdict after hysteresis (consecutiveBreaches), not the run's raw verdict. */
  effectiveVerdict: Verdict;
  /** This run is the one that made the evaluation Critical (retraining starts once per episode). */
  enteredCritical: boolean;
  policy: Policy;
  hasTarget: boolean;
  hasRetraining: boolean;
  reason: string;
}

/**
 * The design's verdict table: Pass advances (or promotes), Warning holds, Critical rolls back and
 * triggers retraining, Inconclusive holds and never rolls back, whatever the policy says; only
 * policy.failedRunLimit failed runs in a row do what policy.onFailure says (hold by default).
 */
export function decideActions(input: DecisionInput): PlannedAction[] {
  const { effectiveVerdict, policy, reason } = input;
  const actions: PlannedAction[] = [];
  const steer = (type: ActionType | undefined) => {
    if (type && input.hasTarget) actions.push({ type, reason });
  };

  switch (effectiveVerdict) {
    case 'Pass':
      steer(policy.onPass === 'advance' ? 'Advance' : policy.onPass === 'promote' ? 'Promote' : undefined);
      break;
    case 'Warning':
      steer(policy.onWarning === 'hold' ? 'Hold' : undefined);
      break;
    case 'Critical':
      steer(
        policy.onCritical === 'rollback' ? 'Rollback' : policy.onCritical === 'hold' ? 'Hold' : undefined,
      );
      if (input.enteredCritical && input.hasRetraining) actions.push({ type: 'Retrain', reason });
      break;
    case 'Inconclusive':
      if ((input.failedRunsInARow ?? 0) >= policy.failedRunLimit) {
        steer(
          policy.onFailure === 'rollback' ? 'Rollback' : policy.onFailure === 'hold' ? 'Hold' : undefined,
        );
      } else steer('Hold');
      break;
  }
  return actions;
}
