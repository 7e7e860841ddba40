import type { AppsV1Api, V1Deployment, V1PodTemplateSpec } from '@kubernetes/client-node';
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
import { errorStatus, fieldManager, isConflict, jsonPatch } from './kubernetes.js';
import { replicasAtWeight } from './weights.js';

/** The pair's total replicas when pruneguard first acted on it, kept so every split adds up to it. */
export const pairReplicasAnnotation = 'pruneguard.io/pair-replicas';
/** On the canary: the canary revision pruneguard rolled back, or promoted; that revision is over. */
export const rolledBackAnnotation = 'pruneguard.io/rolled-back-revision';
export const promotedAnnotation = 'pruneguard.io/promoted-revision';
/** Set by the Deployment controller; bumped whenever the pod template changes. */
const revisionAnnotation = 'deployment.kubernetes.io/revision';

export const defaultStepWeight = 25;

export interface PairState extends Observed {
  stable: V1Deployment;
  canary: V1Deployment;
  split: Split;
  /** The recorded total, or both Deployments' replicas added up. */
  total: number;
}

interface Split {
  stable: number;
  canary: number;
}

/** The Deployments as they should be, each with the resourceVersion it was decided against. */
export interface PairWrites {
  stable: V1Deployment;
  canary: V1Deployment;
  /** Scale up before scaling down, so the pair never serves with fewer replicas than it had. */
  canaryFirst: boolean;
}

export function pairState(stable: V1Deployment, canary: V1Deployment): PairState {
  const split = { stable: stable.spec?.replicas ?? 1, canary: canary.spec?.replicas ?? 1 };
  const recorded = Number(canary.metadata?.annotations?.[pairReplicasAnnotation]);
  return {
    revision: canary.metadata?.annotations?.[revisionAnnotation],
    deleting: Boolean(stable.metadata?.deletionTimestamp ?? canary.metadata?.deletionTimestamp),
    stable,
    canary,
    split,
    total: Number.isInteger(recorded) && recorded > 0 ? recorded : split.stable + split.canary,
  };
}

/**
 * The stable Deployment's pod template after a promote: the canary's template with the stable
 * Deployment's own selector labels, so that it still matches its selector (Flagger's primary/
 * canary pair does the same). Labels only the stable template had are kept.
 */
export function promotedTemplate(stable: V1Deployment, canary: V1Deployment): V1PodTemplateSpec {
  const template = structuredClone(canary.spec!.template);
  template.metadata = {
    ...template.metadata,
    labels: {
      ...stable.spec?.template.metadata?.labels,
      ...template.metadata?.labels,
      ...stable.spec?.selector.matchLabels,
    },
  };
  return template;
}

/** What a verb means for the pair in the observed state (docs/architecture.md, the pair's table). */
export function decidePair(stepWeight: number) {
  return (intent: Intent, state: PairState): Decision<PairWrites> => {
    const { split, total, canary } = state;
    if (total === 0) return { kind: 'skip', detail: 'both Deployments have 0 replicas: nothing to shift' };
    const over = (annotation: string) =>
      state.revision !== undefined && canary.metadata?.annotations?.[annotation] === state.revision;
    const rolledBack = over(rolledBackAnnotation);
    const promoted = over(promotedAnnotation);
    const stamped = stampedFor(intent, canary.metadata?.annotations);
    const write = (
      canaryReplicas: number,
      detail: string,
      extra: Partial<Record<string, string>> = {},
      stampDetail?: string,
    ) => writePair(state, intent, canaryReplicas, detail, extra, stampDetail);

    if (stamped !== undefined) {
      // Written before: done once the marks of the whole write are there; otherwise write it again.
      if (intent.verb === 'Promote' && promoted)
        return { kind: 'confirm', detail: `promoted revision ${state.revision}` };
      if (intent.verb === 'Rollback' && rolledBack && split.canary === 0 && split.stable === total)
        return { kind: 'confirm', detail: 'rolled back' };
    }
    switch (intent.verb) {
      case 'Hold':
        return { kind: 'confirm', detail: 'replicas unchanged: a pair moves only when pruneguard moves it' };
      case 'Rollback':
        if (promoted)
          return { kind: 'skip', detail: 'nothing to roll back: this canary revision was promoted' };
        if (rolledBack && split.canary === 0) return { kind: 'skip', detail: 'already rolled back' };
        return write(0, `canary scaled to 0, stable back to ${total} replicas`, {
          [rolledBackAnnotation]: state.revision,
        });
      case 'Advance':
      case 'Promote': {
        if (promoted) return { kind: 'skip', detail: 'nothing to do: this canary revision was promoted' };
        if (rolledBack && stamped === undefined) {
          if (!intent.retryAborted)
            return {
              kind: 'skip',
              detail: 'the canary was rolled back; policy.retryAborted is false, so it stays at 0',
            };
          return write(replicasAtWeight(total, stepWeight), 'retried: the canary gets its first step back', {
            [rolledBackAnnotation]: undefined,
          });
        }
        if (intent.verb === 'Promote') {
          return write(0, `canary template promoted to stable, ${total} replicas`, {
            [promotedAnnotation]: state.revision,
          });
        }
        // The first write stamps the split it aimed at: decided again, the same split comes out.
        const aimed = stamped?.startsWith('canary=') ? Number(stamped.slice('canary='.length)) : undefined;
        if (aimed === undefined && split.canary >= total)
          return {
            kind: 'skip',
            detail: `the canary already has all ${total} replicas; promote finishes it`,
          };
        const next = aimed ?? Math.min(total, split.canary + replicasAtWeight(total, stepWeight));
        return write(next, `canary ${next}/${total} replicas`, {}, `canary=${next}`);
      }
    }
  };
}

function writePair(
  state: PairState,
  intent: Intent,
  canaryReplicas: number,
  detail: string,
  canaryAnnotations: Partial<Record<string, string>>,
  stampDetail?: string,
): Decision<PairWrites> {
  const stampValue = actionStamp(intent, stampDetail);
  const promote = intent.verb === 'Promote' && canaryAnnotations[promotedAnnotation] !== undefined;
  const stable = structuredClone(state.stable);
  const canary = structuredClone(state.canary);
  const annotate = (d: V1Deployment, extra: Partial<Record<string, string>> = {}) => {
    const annotations: Record<string, string> = {
      ...d.metadata!.annotations,
      [lastActionAnnotation]: stampValue,
      [pairReplicasAnnotation]: String(state.total),
    };
    for (const [key, value] of Object.entries(extra)) {
      if (value === undefined) delete annotations[key];
      else annotations[key] = value;
    }
    d.metadata!.annotations = annotations;
  };
  annotate(canary, canaryAnnotations);
  annotate(stable);
  canary.spec!.replicas = canaryReplicas;
  stable.spec!.replicas = state.total - canaryReplicas;
  if (promote) stable.spec!.template = promotedTemplate(state.stable, state.canary);
  if (
    intent.verb === 'Advance' &&
    state.split.canary === canaryReplicas &&
    state.split.stable === state.total - canaryReplicas &&
    stampedFor(intent, state.canary.metadata?.annotations) !== undefined &&
    stampedFor(intent, state.stable.metadata?.annotations) !== undefined
  )
    return { kind: 'confirm', detail };
  return {
    kind: 'write',
    writes: { stable, canary, canaryFirst: canaryReplicas >= state.split.canary },
    detail,
  };
}

/** A Deployment has rolled out what it was asked: every replica updated and available. */
export function rolledOut(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.replicas ?? 0) === want &&
    (s.updatedReplicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}

function describeRollout(d: V1Deployment): string {
  const s = d.status ?? {};
  return `${d.metadata?.name}: ${s.availableReplicas ?? 0}/${d.spec?.replicas ?? 1} available, ${s.updatedReplicas ?? 0} updated`;
}

export function confirmPair(intent: Intent, state: PairState): Confirmation {
  if (intent.verb === 'Hold')
    return { done: true, detail: `held: stable ${state.split.stable}, canary ${state.split.canary}` };
  const pending = [state.stable, state.canary].filter((d) => !rolledOut(d));
  if (stampedFor(intent, state.canary.metadata?.annotations) === undefined)
    return { done: false, detail: 'not written yet' };
  return pending.length === 0
    ? {
        done: true,
        detail: `stable ${state.split.stable}, canary ${state.split.canary} replicas, all available`,
      }
    : { done: false, detail: `rolling out: ${pending.map(describeRollout).join('; ')}` };
}

export const pairTargetName = (stable: string, canary: string) => `Deployment/${stable}+${canary}`;

/**
 * A stable/canary pair of Deployments behind one Service: traffic follows the replica split.
 * Advance moves stepWeight% of the pair's replicas to the canary, Promote gives the stable
 * Deployment the canary's pod template (keeping its own selector labels) and every replica,
 * Rollback scales the canary to 0. Kube-controller-manager rolls the ReplicaSets; an action is
 * done when both Deployments report every replica updated and available.
 */
export class DeploymentPairActuator implements TargetActuator<PairState, PairWrites> {
  readonly target: string;
  readonly decide: (intent: Intent, state: PairState) => Decision<PairWrites>;
  readonly confirm = confirmPair;

  constructor(
    private readonly api: AppsV1Api,
    private readonly namespace: string,
    private readonly stableName: string,
    private readonly canaryName: string,
    stepWeight = defaultStepWeight,
  ) {
    this.target = pairTargetName(stableName, canaryName);
    this.decide = decidePair(stepWeight);
  }

  async observe(): Promise<PairState> {
    const [stable, canary] = await Promise.all([this.read(this.stableName), this.read(this.canaryName)]);
    return pairState(stable, canary);
  }

  /**
   * JSON patches (RBAC verb patch, no update): replicas, annotations and, on promote, the whole
   * template are replaced, and the resourceVersion they were decided against is a precondition.
   */
  async apply(_: Intent, __: PairState, writes: PairWrites): Promise<void> {
    const order = writes.canaryFirst ? [writes.canary, writes.stable] : [writes.stable, writes.canary];
    for (const deployment of order) {
      const name = deployment.metadata!.name!;
      const body = [
        { op: 'replace', path: '/metadata/resourceVersion', value: deployment.metadata!.resourceVersion },
        { op: 'add', path: '/metadata/annotations', value: deployment.metadata!.annotations },
        { op: 'replace', path: '/spec/replicas', value: deployment.spec!.replicas },
        { op: 'replace', path: '/spec/template', value: deployment.spec!.template },
      ];
      try {
        await this.api.patchNamespacedDeployment(
          { name, namespace: this.namespace, body, fieldManager },
          jsonPatch,
        );
      } catch (error) {
        throw new TargetError(`Deployment/${name}`, `write failed: ${errorStatus(error)}`, isConflict(error));
      }
    }
  }

  private async read(name: string): Promise<V1Deployment> {
    try {
      return await this.api.readNamespacedDeployment({ name, namespace: this.namespace });
    } catch (error) {
      throw new TargetError(`Deployment/${name}`, `cannot read the Deployment: ${errorStatus(error)}`);
    }
  }
}
