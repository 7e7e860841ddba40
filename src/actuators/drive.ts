import type { Action, ActionState } from '../api/v1alpha1/index.js';
import { TargetError, type Intent, type TargetActuator, type TargetVerb } from './actuator.js';

export interface DriveContext {
  now: Date;
  retryAborted: boolean;
  dryRun: boolean;
  /** How long a written action may wait for its effect before it is decided (and written) again. */
  confirmTimeoutMs: number;
}

export interface Driven {
  action: Action;
  /** A write reached the target (or would have, in a dry run): counted and announced. */
  performed: boolean;
  /** The step to announce as an Event, if the action changed state. */
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

/** Writes that raced the controller (409) are decided again at once, this many times. */
const conflictRetries = 3;

/**
 * One step of a target action's life: observe the target, then decide (Pending), confirm
 * (Applied), or leave it (Done, Skipped, Superseded). Called on every reconcile while the action
 * is open; each call reads the live target, so it works the same after a restart.
 */
export async function driveTargetAction(
  actuator: TargetActuator,
  action: Action,
  context: DriveContext,
): Promise<Driven> {
  const intent: Intent = {
    run: action.run,
    verb: action.type as TargetVerb,
    revision: action.revision,
    retryAborted: context.retryAborted,
  };
  const at = context.now.toISOString();
  const moveTo = (state: ActionState, detail: string, performed = false): Driven => ({
    action: { ...action, state, detail: detail.slice(0, 1024), updatedAt: at },
    performed,
    event: { type: 'Normal', reason: action.type, message: `${action.target}: ${detail}` },
  });
  const failed = (error: unknown): Driven =>
    failedAttempt(action, error instanceof TargetError ? error.message : String(error), context.now);
  if (action.target !== actuator.target)
    return moveTo('Superseded', `spec.target is now ${actuator.target}: nothing done to ${action.target}`);

  for (let attempt = 0; ; attempt++) {
    let state;
    try {
      state = await actuator.observe();
    } catch (error) {
      return failed(error);
    }
    if (state.deleting) return moveTo('Skipped', 'the target is being deleted');
    if (action.revision === undefined)
      return moveTo(
        'Skipped',
        'the target had no revision when the run started: the verdict acts on no other one',
      );
    if (state.revision !== action.revision)
      return moveTo(
        'Skipped',
        `the run evaluated revision ${action.revision}; the target is now at ${state.revision ?? 'none'}`,
      );

    if (action.state === 'Applied') {
      const confirmation = actuator.confirm(intent, state);
      if (confirmation.done) return moveTo('Done', confirmation.detail);
      const since = Date.parse(action.updatedAt ?? at);
      if (context.now.getTime() - since < context.confirmTimeoutMs)
        return { action: { ...action, detail: confirmation.detail.slice(0, 1024) }, performed: false };
      return failed(
        new TargetError(
          action.target,
          `written, but not observed after ${context.confirmTimeoutMs / 1000} s: ${confirmation.detail}`,
        ),
      );
    }

    const decision = actuator.decide(intent, state);
    switch (decision.kind) {
      case 'skip':
        return moveTo('Skipped', decision.detail);
      case 'wait': {
        if (action.detail === decision.detail && !action.lastError) return { action, performed: false };
        const { lastError: _, ...waiting } = action;
        return {
          action: { ...waiting, state: 'Pending', detail: decision.detail, updatedAt: at },
          performed: false,
        };
      }
      case 'confirm': {
        // No attempt recorded yet: a write made before a restart (the target carries its stamp, the
        // status never said Applied), or a verb with nothing to write. Counted now, once.
        const counted = (action.attempts ?? 0) === 0;
        const confirmation = actuator.confirm(intent, state);
        return confirmation.done
          ? moveTo('Done', confirmation.detail, counted)
          : moveTo('Applied', `${decision.detail}; ${confirmation.detail}`, counted);
      }
      case 'write': {
        if (context.dryRun) return moveTo('Skipped', `dry run: would have ${decision.detail}`, true);
        try {
          await actuator.apply(intent, state, decision.writes);
        } catch (error) {
          if (error instanceof TargetError && error.conflict && attempt < conflictRetries) continue;
          return failed(error);
        }
        const { lastError: _, ...written } = action;
        return {
          ...moveTo('Applied', decision.detail, true),
          action: {
            ...written,
            state: 'Applied',
            detail: decision.detail.slice(0, 1024),
            attempts: (action.attempts ?? 0) + 1,
            updatedAt: at,
          },
        };
      }
    }
  }
}

/** An attempt that failed: the action stays Pending, counts it, and says why; retried after a backoff. */
export function failedAttempt(action: Action, message: string, now: Date): Driven {
  const lastError = message.slice(0, 1024);
  return {
    action: {
      ...action,
      state: 'Pending',
      attempts: (action.attempts ?? 0) + 1,
      lastError,
      updatedAt: now.toISOString(),
    },
    performed: false,
    event: { type: 'Warning', reason: 'ActionFailed', message: `${action.type} ${lastError}` },
  };
}

/**
 * How long until an open action is looked at again: a written one soon (its effect usually shows
 * within a second), one waiting for the target every few seconds, a failing one with exponential
 * backoff from its last attempt (status writes wake the reconciler at once; the backoff holds).
 */
export function nextAttemptDelayMs(action: Action, now: Date): number | undefined {
  if (action.state === 'Applied') return 500;
  if (action.state !== 'Pending') return undefined;
  if (!action.lastError) return 2000;
  const backoff = Math.min(60_000, 1000 * 2 ** Math.max(0, (action.attempts ?? 1) - 1));
  const since = now.getTime() - Date.parse(action.updatedAt ?? now.toISOString());
  return Math.max(0, backoff - since);
}

/** A failing action waits out its backoff before the next attempt. */
export function attemptDue(action: Action, now: Date): boolean {
  return !action.lastError || action.state !== 'Pending' || nextAttemptDelayMs(action, now) === 0;
}
