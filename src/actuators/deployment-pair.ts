import type { AppsV1Api, V1Deployment } from '@kubernetes/client-node';
import type { ActionType } from '../api/v1alpha1/index.js';
import {
  actionStamp,
  lastActionAnnotation,
  TargetError,
  type ActionOutcome,
  type ActionRequest,
  type RolloutActuator,
} from './actuator.js';
import { errorStatus, mergePatch } from './kubernetes.js';

/** The pair's total replicas when pruneguard first acted on it, kept so every split adds up to it. */
export const pairReplicasAnnotation = 'pruneguard.io/pair-replicas';

export const defaultStepWeight = 25;

interface Split {
  stable: number;
  canary: number;
}

/**
 * A stable/canary pair of Deployments behind one Service: traffic follows the replica split.
 * advance moves stepWeight% of the pair's replicas to the canary, promote copies the canary's pod
 * template into the stable Deployment and gives it every replica, rollback scales the canary to 0
 * and gives the stable Deployment every replica.
 */
export class DeploymentPairActuator implements RolloutActuator {
  readonly target: string;

  constructor(
    private readonly api: AppsV1Api,
    private readonly namespace: string,
    private readonly stableName: string,
    private readonly canaryName: string,
    private readonly stepWeight = defaultStepWeight,
  ) {
    this.target = `Deployment/${stableName}+${canaryName}`;
  }

  advance(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Advance', request, (current, total) => {
      const step = Math.max(1, Math.ceil((total * this.stepWeight) / 100));
      const canary = Math.min(total, current.canary + step);
      return { split: { canary, stable: total - canary }, detail: `canary ${canary}/${total} replicas` };
    });
  }

  promote(request: ActionRequest): Promise<ActionOutcome> {
    return this.act(
      'Promote',
      request,
      (_, total) => ({
        split: { canary: 0, stable: total },
        detail: `canary template promoted to stable, ${total} replicas`,
      }),
      true,
    );
  }

  hold(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Hold', request, (current) => ({ split: current, detail: 'replicas unchanged' }));
  }

  rollback(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Rollback', request, (_, total) => ({
      split: { canary: 0, stable: total },
      detail: `canary scaled to 0, stable back to ${total} replicas`,
    }));
  }

  private async act(
    type: ActionType,
    request: ActionRequest,
    plan: (current: Split, total: number) => { split: Split; detail: string },
    promoteTemplate = false,
  ): Promise<ActionOutcome> {
    const [stable, canary] = await Promise.all([this.read(this.stableName), this.read(this.canaryName)]);
    const current = { stable: stable.spec?.replicas ?? 1, canary: canary.spec?.replicas ?? 1 };
    const recordedTotal = Number(canary.metadata?.annotations?.[pairReplicasAnnotation]);
    const total =
      Number.isInteger(recordedTotal) && recordedTotal > 0 ? recordedTotal : current.stable + current.canary;
    if (total === 0) throw new TargetError(this.target, 'both Deployments have 0 replicas: nothing to shift');

    const stamp = actionStamp(request.run, type);
    const alreadyStamped = canary.metadata?.annotations?.[lastActionAnnotation] === stamp;
    // A stamped canary means this run already decided its split; finishing the stable side is all that may remain.
    const { split, detail } = alreadyStamped
      ? {
          split: { canary: current.canary, stable: total - current.canary },
          detail: 'already done for this run',
        }
      : plan(current, total);
    const stableDone =
      stable.metadata?.annotations?.[lastActionAnnotation] === stamp && current.stable === split.stable;
    if (alreadyStamped && stableDone) return { type, target: this.target, performed: false, detail };
    if (request.dryRun)
      return { type, target: this.target, performed: false, detail: `dry run: would set ${detail}` };

    const annotations = { [lastActionAnnotation]: stamp, [pairReplicasAnnotation]: String(total) };
    // Scale up before scaling down, so the pair never serves with fewer replicas than it had.
    const canaryFirst = split.canary >= current.canary;
    const writes = [
      () => this.patch(this.canaryName, { metadata: { annotations }, spec: { replicas: split.canary } }),
      () =>
        this.patch(this.stableName, {
          metadata: { annotations },
          spec: {
            replicas: split.stable,
            ...(promoteTemplate && !alreadyStamped ? { template: canary.spec?.template } : {}),
          },
        }),
    ];
    for (const write of canaryFirst ? writes : writes.reverse()) await write();
    return { type, target: this.target, performed: !alreadyStamped, detail };
  }

  private async read(name: string): Promise<V1Deployment> {
    try {
      return await this.api.readNamespacedDeployment({ name, namespace: this.namespace });
    } catch (error) {
      throw new TargetError(`Deployment/${name}`, `cannot read the Deployment: ${errorStatus(error)}`);
    }
  }

  private async patch(name: string, body: object): Promise<void> {
    try {
      await this.api.patchNamespacedDeployment({ name, namespace: this.namespace, body }, mergePatch);
    } catch (error) {
      throw new TargetError(`Deployment/${name}`, `patch failed: ${errorStatus(error)}`);
    }
  }
}
