import { AppsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PrunedModelEvaluation, Target, TargetKind } from '../api/v1alpha1/index.js';
import type { TargetActuator } from './actuator.js';
import { ArgoRolloutActuator, rolloutTargetName } from './argo-rollout.js';
import { DeploymentPairActuator, pairTargetName } from './deployment-pair.js';

export * from './actuator.js';
export { decideActions, type PlannedAction } from './policy.js';
export {
  attemptDue,
  driveTargetAction,
  failedAttempt,
  nextAttemptDelayMs,
  type DriveContext,
  type Driven,
} from './drive.js';
export { retrainingJobName, retrainingTarget, triggerRetraining } from './retraining.js';

interface TargetEntry<Spec> {
  /** Kind/name as status.actions records it. */
  name(spec: Spec): string;
  create(kc: KubeConfig, namespace: string, spec: Spec): TargetActuator;
}

/** One entry per field of spec.target (targetKinds): a new kind is a new file beside these and one entry here. */
const registry: { [K in TargetKind]: TargetEntry<NonNullable<Target[K]>> } = {
  rollout: {
    name: (spec) => rolloutTargetName(spec.name),
    create: (kc, namespace, spec) =>
      new ArgoRolloutActuator(kc.makeApiClient(CustomObjectsApi), namespace, spec.name, spec.apiVersion),
  },
  deploymentPair: {
    name: (spec) => pairTargetName(spec.stable, spec.canary),
    create: (kc, namespace, spec) =>
      new DeploymentPairActuator(
        kc.makeApiClient(AppsV1Api),
        namespace,
        spec.stable,
        spec.canary,
        spec.stepWeight,
      ),
  },
};

/** The one field of spec.target that is set, and what it holds. */
function selected(target: Target): { kind: TargetKind; spec: NonNullable<Target[TargetKind]> } {
  const kind = (Object.keys(registry) as TargetKind[]).find((k) => target[k] !== undefined);
  if (!kind) throw new Error(`spec.target sets none of ${Object.keys(registry).join(', ')}`);
  return { kind, spec: target[kind]! };
}

export function targetName(target: Target): string {
  const { kind, spec } = selected(target);
  return (registry[kind] as TargetEntry<typeof spec>).name(spec);
}

/** The actuator for an evaluation's target, or undefined when it only reports. */
export function actuatorFor(kc: KubeConfig, evaluation: PrunedModelEvaluation): TargetActuator | undefined {
  const target = evaluation.spec.target;
  if (!target) return undefined;
  const { kind, spec } = selected(target);
  return (registry[kind] as TargetEntry<typeof spec>).create(kc, evaluation.metadata.namespace!, spec);
}
