import type { CustomObjectsApi } from '@kubernetes/client-node';
import {
  actionStamp,
  lastActionAnnotation,
  stampedFor,
  TargetError,
  type Confirmation,
  type Decision,
  type Intent,
  type Observed,
  type TargetActuator,
} from './actuator.js';
import { errorStatus, fieldManager, isConflict, mergePatch } from './kubernetes.js';

/** The part of an argoproj.io/v1alpha1 Rollout that decides what a verb means. */
export interface RolloutState extends Observed {
  resourceVersion: string;
  annotations: Record<string, string>;
  /** spec.strategy.canary is set (blue-green Rollouts are not steered). */
  canary: boolean;
  steps: number;
  /** spec.paused: a pause only a person (or pruneguard) lifts; the controller never moves past it. */
  specPaused: boolean;
  currentStepIndex: number;
  /** status.pauseConditions[].reason: CanaryPauseStep, InconclusiveAnalysisRun, … */
  pauseReasons: string[];
  controllerPause: boolean;
  /** status.canary.currentStepAnalysisRunStatus.status is Inconclusive. */
  inconclusiveAnalysis: boolean;
  abort: boolean;
  promoteFull: boolean;
  stableRS?: string;
  phase?: string;
  message?: string;
}

/** What a verb writes: the stamp and spec go in one patch, then the status subresource. */
export interface RolloutWrites {
  stamp: string;
  spec?: { paused: boolean };
  status?: Record<string, unknown>;
}

type Situation = 'aborted' | 'fullyPromoted' | 'paused' | 'progressing';

/** Where the canary stands; every verb first asks this. */
export function situation(state: RolloutState): Situation {
  if (state.abort) return 'aborted';
  if (state.stableRS !== undefined && state.revision === state.stableRS) return 'fullyPromoted';
  if (state.specPaused || state.pauseReasons.length > 0) return 'paused';
  return 'progressing';
}

const retryStamp = 'retry';
const blockStamp = 'block';
const releaseStamp = 'release';

/**
 * What a verb means for a Rollout in the observed state: the semantics table of
 * docs/architecture.md ("Acting on what the target is doing"). Advance and Promote write what
 * `kubectl argo rollouts promote [--full]` writes (v1.8.3, pkg/kubectl-argo-rollouts/cmd/promote/
 * promote.go getPatches), Rollback what `abort` writes, a retry what `retry rollout` writes, Hold
 * what `pause` writes.
 */
export function decideRollout(intent: Intent, state: RolloutState): Decision<RolloutWrites> {
  if (!state.canary)
    return { kind: 'skip', detail: 'not a canary Rollout: only canary strategies are steered' };
  const where = situation(state);
  const stamped = stampedFor(intent, state.annotations);
  if (stamped !== undefined) {
    // Written before (a restart, a failed second write, a confirmation that timed out): decide
    // again from the state, except that an Advance writes again only while the Rollout stands
    // where the first write found it, so that it never skips two steps.
    if (confirmRollout(intent, state).done)
      return { kind: 'confirm', detail: `already written for ${intent.run}` };
    const moved =
      stamped.startsWith('step=') && !(stamped === `step=${state.currentStepIndex}` && where === 'paused');
    // This intent's own abort, which the controller has not acted on yet (it is down, or slow).
    const ownAbort = intent.verb === 'Rollback' && where === 'aborted';
    if (moved || ownAbort) return { kind: 'confirm', detail: `already written for ${intent.run}` };
  }
  switch (intent.verb) {
    case 'Advance':
    case 'Promote':
      if (where === 'aborted') return retry(intent);
      if (where === 'fullyPromoted')
        return {
          kind: 'skip',
          detail: `nothing to ${intent.verb.toLowerCase()}: no canary in progress (fully promoted)`,
        };
      return intent.verb === 'Promote' ? promoteFull(intent, state) : advance(intent, state, where);
    case 'Hold':
      if (where === 'aborted')
        return { kind: 'skip', detail: 'nothing to hold: aborted, traffic is on the stable ReplicaSet' };
      if (where === 'fullyPromoted')
        return { kind: 'skip', detail: 'nothing to hold: no canary in progress' };
      if (state.specPaused) return { kind: 'confirm', detail: 'already paused (spec.paused)' };
      return {
        kind: 'write',
        writes: { stamp: actionStamp(intent), spec: { paused: true } },
        detail: 'paused (spec.paused): the canary stays at its step, timed pauses included',
      };
    case 'Rollback':
      if (where === 'aborted') return { kind: 'skip', detail: 'already aborted' };
      if (where === 'fullyPromoted') {
        return {
          kind: 'write',
          writes: { stamp: actionStamp(intent, blockStamp), spec: { paused: true } },
          detail:
            'nothing to roll back (fully promoted); paused (spec.paused) so that the next revision stops at its first step until a run on it passes',
        };
      }
      return {
        kind: 'write',
        writes: { stamp: actionStamp(intent), status: { abort: true } },
        detail:
          'aborted: the controller scales the canary down and sends all traffic to the stable ReplicaSet',
      };
  }
}

function retry(intent: Intent): Decision<RolloutWrites> {
  if (!intent.retryAborted)
    return {
      kind: 'skip',
      detail: 'the canary is aborted; policy.retryAborted is false, so it stays aborted',
    };
  return {
    kind: 'write',
    writes: { stamp: actionStamp(intent, retryStamp), status: { abort: false } },
    detail: 'retried: the aborted canary starts its steps again (kubectl argo rollouts retry)',
  };
}

function promoteFull(intent: Intent, state: RolloutState): Decision<RolloutWrites> {
  return {
    kind: 'write',
    writes: {
      stamp: actionStamp(intent),
      ...(state.specPaused ? { spec: { paused: false } } : {}),
      status: { promoteFull: true },
    },
    detail: 'promoted fully (status.promoteFull): every step is skipped',
  };
}

function advance(intent: Intent, state: RolloutState, where: Situation): Decision<RolloutWrites> {
  if (where === 'progressing') {
    return {
      kind: 'wait',
      detail: `waiting for the canary to pause (step ${state.currentStepIndex} of ${state.steps}, ${state.phase ?? 'no phase yet'}): it advances then`,
    };
  }
  const step = state.currentStepIndex;
  if (state.pauseReasons.length === 0) {
    // Only spec.paused holds it (a Hold): lift that and the step in progress carries on, where
    // kubectl's promote would also skip the step.
    return {
      kind: 'write',
      writes: { stamp: actionStamp(intent, releaseStamp), spec: { paused: false } },
      detail: `resumed (spec.paused lifted) at step ${step} of ${state.steps}`,
    };
  }
  const next = Math.min(step + 1, state.steps);
  const inconclusive = state.inconclusiveAnalysis && state.controllerPause;
  return {
    kind: 'write',
    writes: {
      stamp: actionStamp(intent, `step=${step}`),
      ...(state.specPaused ? { spec: { paused: false } } : {}),
      // An Inconclusive analysis would pause the same step again: move past it, as kubectl does.
      status: inconclusive
        ? { pauseConditions: null, controllerPause: false, currentStepIndex: next }
        : { pauseConditions: null },
    },
    detail: `promoted past step ${step} of ${state.steps} (${state.pauseReasons.join(', ')})`,
  };
}

/** Whether what the intent wrote shows in the Rollout the controller reports. */
export function confirmRollout(intent: Intent, state: RolloutState): Confirmation {
  const stamped = stampedFor(intent, state.annotations) ?? '';
  const where = situation(state);
  const observed = `${state.phase ?? 'no phase'}${state.message ? `: ${state.message}` : ''}`;
  if (stamped === retryStamp)
    return state.abort
      ? { done: false, detail: `abort not lifted yet (${observed})` }
      : { done: true, detail: `retried: ${observed}` };
  switch (intent.verb) {
    case 'Advance': {
      if (where === 'fullyPromoted') return { done: true, detail: 'fully promoted' };
      if (stamped === releaseStamp)
        return state.specPaused
          ? { done: false, detail: 'spec.paused still set' }
          : { done: true, detail: `resumed at step ${state.currentStepIndex} of ${state.steps}` };
      const from = Number(/^step=(\d+)$/.exec(stamped)?.[1] ?? -1);
      return state.currentStepIndex > from
        ? { done: true, detail: `at step ${state.currentStepIndex} of ${state.steps} (${observed})` }
        : { done: false, detail: `still at step ${state.currentStepIndex} (${observed})` };
    }
    case 'Promote':
      return where === 'fullyPromoted'
        ? { done: true, detail: `fully promoted: stable ReplicaSet ${state.stableRS}` }
        : { done: false, detail: `not fully promoted yet (${observed})` };
    case 'Hold':
      return state.specPaused && state.phase === 'Paused'
        ? { done: true, detail: `held: spec.paused, the controller reports ${observed}` }
        : { done: false, detail: `not paused yet (${observed})` };
    case 'Rollback':
      if (stamped === blockStamp)
        return state.specPaused
          ? {
              done: true,
              detail: 'nothing to roll back (fully promoted); the next revision is held at its first step',
            }
          : { done: false, detail: 'spec.paused not set' };
      if (state.abort && state.phase === 'Degraded') return { done: true, detail: `aborted: ${observed}` };
      return !state.abort && where === 'fullyPromoted'
        ? { done: false, detail: `the controller removed the abort: no canary in progress (${observed})` }
        : { done: false, detail: `the controller has not acted on the abort yet (${observed})` };
  }
}

interface Rollout {
  metadata?: {
    annotations?: Record<string, string>;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec?: { paused?: boolean; strategy?: { canary?: { steps?: unknown[] } } };
  status?: {
    currentPodHash?: string;
    stableRS?: string;
    currentStepIndex?: number;
    pauseConditions?: { reason?: string }[] | null;
    controllerPause?: boolean;
    abort?: boolean;
    promoteFull?: boolean;
    phase?: string;
    message?: string;
    canary?: { currentStepAnalysisRunStatus?: { status?: string } };
  };
}

export function rolloutState(rollout: Rollout): RolloutState {
  const status = rollout.status ?? {};
  return {
    revision: status.currentPodHash,
    deleting: rollout.metadata?.deletionTimestamp !== undefined,
    resourceVersion: rollout.metadata?.resourceVersion ?? '',
    annotations: rollout.metadata?.annotations ?? {},
    canary: rollout.spec?.strategy?.canary !== undefined,
    steps: rollout.spec?.strategy?.canary?.steps?.length ?? 0,
    specPaused: rollout.spec?.paused ?? false,
    currentStepIndex: status.currentStepIndex ?? 0,
    pauseReasons: (status.pauseConditions ?? []).map((c) => c.reason ?? 'unknown'),
    controllerPause: status.controllerPause ?? false,
    inconclusiveAnalysis: status.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive',
    abort: status.abort ?? false,
    promoteFull: status.promoteFull ?? false,
    stableRS: status.stableRS,
    phase: status.phase,
    message: status.message,
  };
}

export const rolloutTargetName = (name: string) => `Rollout/${name}`;

/** An Argo Rollout (argoproj.io), steered through the writes `kubectl argo rollouts` makes. */
export class ArgoRolloutActuator implements TargetActuator<RolloutState, RolloutWrites> {
  readonly target: string;
  private readonly params: {
    group: string;
    version: string;
    namespace: string;
    plural: string;
    name: string;
  };

  constructor(
    private readonly api: CustomObjectsApi,
    namespace: string,
    name: string,
    apiVersion = 'argoproj.io/v1alpha1',
  ) {
    this.target = rolloutTargetName(name);
    const [group, version] = apiVersion.split('/') as [string, string];
    this.params = { group, version, namespace, plural: 'rollouts', name };
  }

  readonly decide = decideRollout;
  readonly confirm = confirmRollout;

  async observe(): Promise<RolloutState> {
    try {
      return rolloutState((await this.api.getNamespacedCustomObject(this.params)) as Rollout);
    } catch (error) {
      throw new TargetError(this.target, `cannot read the Rollout: ${errorStatus(error)}`);
    }
  }

  /** Both writes carry the resourceVersion they were decided against: a Rollout that moved meanwhile is a 409. */
  async apply(_: Intent, state: RolloutState, writes: RolloutWrites): Promise<void> {
    try {
      const patched = (await this.api.patchNamespacedCustomObject(
        {
          ...this.params,
          fieldManager,
          body: {
            metadata: {
              resourceVersion: state.resourceVersion,
              annotations: { [lastActionAnnotation]: writes.stamp },
            },
            ...(writes.spec ? { spec: writes.spec } : {}),
          },
        },
        mergePatch,
      )) as Rollout;
      if (writes.status) {
        await this.api.patchNamespacedCustomObjectStatus(
          {
            ...this.params,
            fieldManager,
            body: { metadata: { resourceVersion: patched.metadata?.resourceVersion }, status: writes.status },
          },
          mergePatch,
        );
      }
    } catch (error) {
      throw new TargetError(this.target, `write failed: ${errorStatus(error)}`, isConflict(error));
    }
  }
}
