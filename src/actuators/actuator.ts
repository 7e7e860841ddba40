import type { ActionType } from '../api/v1alpha1/index.js';

/** The verbs a verdict asks of the target; Retrain is not the target's business. */
export type TargetVerb = Exclude<ActionType, 'Retrain'>;

/** One run's request to the target, as recorded in status.actions. */
export interface Intent {
  run: string;
  verb: TargetVerb;
  /** The target's revision when the run started; undefined when the target did not exist then. */
  revision?: string;
  /** policy.retryAborted: a Pass may retry an aborted canary. */
  retryAborted: boolean;
}

/** What every target's observed state says, whatever its kind. */
export interface Observed {
  /** A Rollout's status.currentPodHash; the canary Deployment's revision. */
  revision?: string;
  /** deletionTimestamp is set: nothing acts on it any more. */
  deleting: boolean;
}

/** What an intent means in the target's observed state. */
export type Decision<Writes> =
  /** Write this to the target (the first write stamps it with the intent, see actionStamp). */
  | { kind: 'write'; writes: Writes; detail: string }
  /** Not applicable yet (a Pass while the canary is still coming up): stays Pending. */
  | { kind: 'wait'; detail: string }
  /** Nothing to do in this state, ever, for this intent. */
  | { kind: 'skip'; detail: string }
  /** Nothing (more) to write: whether the intent is done shows in the state (confirm). */
  | { kind: 'confirm'; detail: string };

/** Whether the effect an intent asked for shows in the target's state. */
export interface Confirmation {
  done: boolean;
  /** What was observed: the outcome when done, what is still missing otherwise. */
  detail: string;
}

/**
 * One kind of target (an Argo Rollout, a stable/canary Deployment pair): reading it and writing to
 * it are the only I/O; what a verb means in an observed state, and whether its effect shows, are
 * pure functions of that state, tested as tables (test/unit/actuators/).
 */
export interface TargetActuator<State extends Observed = Observed, Writes = unknown> {
  /** Kind/name, as status.actions records it. */
  readonly target: string;
  /** The live state, read from the API server (never a cache). Throws TargetError. */
  observe(): Promise<State>;
  decide(intent: Intent, state: State): Decision<Writes>;
  /** Throws TargetError; a 409 means the target changed since it was observed: decide again. */
  apply(intent: Intent, state: State, writes: Writes): Promise<void>;
  confirm(intent: Intent, state: State): Confirmation;
}

/**
 * Annotation on a steered object: the last intent written to it (`<run>/<verb>`, plus what it was
 * decided against, e.g. `@step=1`). It goes in the first write of an intent, so after a restart the
 * actuator knows its write happened and confirms it instead of acting twice.
 */
export const lastActionAnnotation = 'pruneguard.io/last-action';

export function actionStamp(intent: Intent, decidedAgainst?: string): string {
  return `${intent.run}/${intent.verb}${decidedAgainst ? `@${decidedAgainst}` : ''}`;
}

/** The part after `@` of this intent's stamp on the target, '' without one; undefined when the stamp is another intent's. */
export function stampedFor(
  intent: Intent,
  annotations: Record<string, string> | undefined,
): string | undefined {
  const stamp = annotations?.[lastActionAnnotation];
  const prefix = `${intent.run}/${intent.verb}`;
  if (stamp === prefix) return '';
  if (stamp?.startsWith(`${prefix}@`)) return stamp.slice(prefix.length + 1);
  return undefined;
}

/** A target that cannot be read or written: the message names it. */
export class TargetError extends Error {
  constructor(
    readonly target: string,
    message: string,
    /** The target changed between observing and writing (409): decide again at once. */
    readonly conflict = false,
  ) {
    super(`${target}: ${message}`);
  }
}
