import type { Verdict } from './grade-report.js';

/**
 * Acting on one bad run would roll back on noise, so Critical takes `consecutiveBreaches`
 * Critical runs in a row before it acts, and once it has acted it takes `recoveryRuns` runs in a
 * row that are Pass or Warning before it lets go. Inconclusive runs are no evidence either way:
 * they neither extend nor break a streak. Until Critical is reached a breach holds (Warning).
 */
export interface HysteresisState {
  consecutiveCritical: number;
  consecutiveHealthy: number;
  /** Critical has been acted on and not yet recovered. */
  critical: boolean;
  /** The run last applied, so applying it again changes nothing. */
  lastRun?: string;
  effectiveVerdict: Verdict;
}

export interface HysteresisPolicy {
  consecutiveBreaches: number;
  /** Healthy runs in a row to leave Critical; defaults to consecutiveBreaches. */
  recoveryRuns?: number;
}

export interface HysteresisOutcome {
  effectiveVerdict: Verdict;
  state: HysteresisState;
  /** Why the effective verdict differs from the run's, if it does. */
  reason?: string;
}

export function applyHysteresis(
  previous: HysteresisState | undefined,
  graded: { verdict: Verdict },
  policy: HysteresisPolicy,
  run?: string,
): HysteresisOutcome {
  const breaches = policy.consecutiveBreaches;
  const recovery = policy.recoveryRuns ?? breaches;
  if (!Number.isInteger(breaches) || breaches < 1)
    throw new Error(`hysteresis: consecutiveBreaches must be an integer ≥ 1, got ${breaches}`);
  if (!Number.isInteger(recovery) || recovery < 1)
    throw new Error(`hysteresis: recoveryRuns must be an integer ≥ 1, got ${recovery}`);
  if (previous && run !== undefined && previous.lastRun === run)
    return { effectiveVerdict: previous.effectiveVerdict, state: previous };

  const state: HysteresisState = {
    consecutiveCritical: previous?.consecutiveCritical ?? 0,
    consecutiveHealthy: previous?.consecutiveHealthy ?? 0,
    critical: previous?.critical ?? false,
    effectiveVerdict: graded.verdict,
  };
  if (run !== undefined) state.lastRun = run;
  let reason: string | undefined;

  switch (graded.verdict) {
    case 'Critical':
      state.consecutiveCritical++;
      state.consecutiveHealthy = 0;
      if (state.consecutiveCritical >= breaches) state.critical = true;
      if (!state.critical) {
        state.effectiveVerdict = 'Warning';
        reason = `critical ${state.consecutiveCritical} of ${breaches} consecutive runs needed before acting`;
      }
      break;
    case 'Inconclusive':
      if (state.critical) {
        state.effectiveVerdict = 'Critical';
        reason = 'still critical: an inconclusive run is no evidence of recovery';
      }
      break;
    case 'Pass':
    case 'Warning':
      state.consecutiveCritical = 0;
      if (state.critical) {
        state.consecutiveHealthy++;
        if (state.consecutiveHealthy >= recovery) {
          state.critical = false;
          state.consecutiveHealthy = 0;
        } else {
          state.effectiveVerdict = 'Critical';
          reason = `recovering: ${state.consecutiveHealthy} of ${recovery} healthy runs needed to leave critical`;
        }
      }
      break;
  }
  const outcome: HysteresisOutcome = { effectiveVerdict: state.effectiveVerdict, state };
  if (reason !== undefined) outcome.reason = reason;
  return outcome;
}
