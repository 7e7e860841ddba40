import type { CustomObjectsApi } from '@kubernetes/client-node';
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

interface Rollout {
  metadata?: { annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { paused?: boolean };
  status?: { pauseConditions?: unknown[]; abort?: boolean; phase?: string };
}

/**
 * An Argo Rollout (argoproj.io). The same writes as `kubectl argo rollouts`: promote clears the
 * pause (status.pauseConditions, spec.paused) so the canary moves to its next step; promote --full
 * sets status.promoteFull; abort sets status.abort, and Argo scales the canary down and sends all
 * traffic back to the stable ReplicaSet.
 */
export class ArgoRolloutActuator implements RolloutActuator {
  readonly target: string;
  private readonly group: string;
  private readonly version: string;

  constructor(
    private readonly api: CustomObjectsApi,
    private readonly namespace: string,
    private readonly name: string,
    apiVersion = 'argoproj.io/v1alpha1',
  ) {
    this.target = `Rollout/${name}`;
    [this.group, this.version] = apiVersion.split('/') as [string, string];
  }

  advance(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Advance', request, { spec: { paused: false } }, { status: { pauseConditions: null } });
  }

  promote(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Promote', request, { spec: { paused: false } }, { status: { promoteFull: true } });
  }

  hold(request: ActionRequest): Promise<ActionOutcome> {
    // Holding means not unpausing; the Rollout keeps its own pause. Only the stamp is written.
    return this.act('Hold', request);
  }

  rollback(request: ActionRequest): Promise<ActionOutcome> {
    return this.act('Rollback', request, undefined, { status: { abort: true } });
  }

  private async act(
    type: ActionType,
    request: ActionRequest,
    specPatch?: object,
    statusPatch?: object,
  ): Promise<ActionOutcome> {
    const rollout = await this.read();
    const stamp = actionStamp(request.run, type);
    if (rollout.metadata?.annotations?.[lastActionAnnotation] === stamp) {
      return { type, target: this.target, performed: false, detail: 'already done for this run' };
    }
    if (request.dryRun)
      return { type, target: this.target, performed: false, detail: 'dry run: nothing written' };

    const params = {
      group: this.group,
      version: this.version,
      namespace: this.namespace,
      plural: 'rollouts',
      name: this.name,
    };
    try {
      // The status write goes first: if it fails, the stamp is not set and the next reconcile retries.
      if (statusPatch)
        await this.api.patchNamespacedCustomObjectStatus({ ...params, body: statusPatch }, mergePatch);
      await this.api.patchNamespacedCustomObject(
        {
          ...params,
          body: {
            metadata: { annotations: { [lastActionAnnotation]: stamp } },
            ...(specPatch ?? {}),
          },
        },
        mergePatch,
      );
    } catch (error) {
      throw new TargetError(this.target, `${type.toLowerCase()} failed: ${errorStatus(error)}`);
    }
    return { type, target: this.target, performed: true, detail: describe(type) };
  }

  private async read(): Promise<Rollout> {
    try {
      return (await this.api.getNamespacedCustomObject({
        group: this.group,
        version: this.version,
        namespace: this.namespace,
        plural: 'rollouts',
        name: this.name,
      })) as Rollout;
    } catch (error) {
      throw new TargetError(this.target, `cannot read the Rollout: ${errorStatus(error)}`);
    }
  }
}

function describe(type: ActionType): string {
  switch (type) {
    case 'Advance':
      return 'unpaused: the canary moves to its next step';
    case 'Promote':
      return 'promoted fully (status.promoteFull)';
    case 'Rollback':
      return 'aborted: traffic returns to the stable ReplicaSet';
    default:
      return 'held: stays paused';
  }
}
