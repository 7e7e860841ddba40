import { AppsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PrunedModelEvaluation, Target } from '../api/v1alpha1/index.js';
import type { TargetActuator } from './actuator.js';
import { ArgoRolloutActuator, rolloutTargetName } from './argo-rollout.js';
import { DeploymentPairActuator, pairTargetName } from './deployment-pair.js';

export * from './actuator.js';
export { decideActions, type PlannedAction } from './policy.js';
export {
  attemptDue,
  driveTargetAction,
  nextAttemptDelayMs,
  type DriveContext,
  type Driven,
} from './drive.js';
export { retrainingJobName, retrainingTarget, triggerRetraining } from './retraining.js';

interface TargetKind {
  /** Kind/name as status.actions records it. */
  name(target: Target): string;
  create(kc: KubeConfig, namespace: string, target: Target): TargetActuator;
}

/** One entry per target kind: a new kind is a new file beside these and one entry here. */
const targetKinds: Record<Target['kind'], TargetKind> = {
  Rollout: {
    name: (target) => rolloutTargetName(target.name),
    create: (kc, namespace, target) =>
      new ArgoRolloutActuator(kc.makeApiClient(CustomObjectsApi), namespace, target.name, target.apiVersion),
  },
  Deployment: {
    name: (target) => pairTargetName(target.name, target.canaryName!),
    create: (kc, namespace, target) =>
      new DeploymentPairActuator(
        kc.makeApiClient(AppsV1Api),
        namespace,
        target.name,
        target.canaryName!,
        target.stepWeight,
      ),
  },
};

export function targetName(target: Target): string {
  return targetKinds[target.kind].name(target);
}

/** The actuator for an evaluation's target, or undefined when it only reports. */
export function actuatorFor(kc: KubeConfig, evaluation: PrunedModelEvaluation): TargetActuator | undefined {
  const target = evaluation.spec.target;
  return target && targetKinds[target.kind].create(kc, evaluation.metadata.namespace!, target);
}
