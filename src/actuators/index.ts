import { AppsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PrunedModelEvaluation } from '../api/v1alpha1/index.js';
import type { RolloutActuator } from './actuator.js';
import { ArgoRolloutActuator } from './argo-rollout.js';
import { DeploymentPairActuator } from './deployment-pair.js';

export * from './actuator.js';
export { decideActions, type PlannedAction } from './policy.js';
export { triggerRetraining, retrainingJobName } from './retraining.js';

/** The actuator for an evaluation's target, or undefined when it only reports. */
export function actuatorFor(kc: KubeConfig, evaluation: PrunedModelEvaluation): RolloutActuator | undefined {
  const target = evaluation.spec.target;
  const namespace = evaluation.metadata.namespace!;
  if (!target) return undefined;
  if (target.kind === 'Rollout') {
    return new ArgoRolloutActuator(
      kc.makeApiClient(CustomObjectsApi),
      namespace,
      target.name,
      target.apiVersion,
    );
  }
  return new DeploymentPairActuator(
    kc.makeApiClient(AppsV1Api),
    namespace,
    target.name,
    target.canaryName!,
    target.stepWeight,
  );
}
