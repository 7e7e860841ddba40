import { retrainingTemplateRefusal } from '../actuators/retraining.js';
import type { PrunedModelEvaluation } from '../api/v1alpha1/index.js';
import { scheduleProblem } from '../api/v1alpha1/schedule.js';
import { checkUri, type EgressPolicy } from '../security/egress.js';
import { evaluationUris } from './evaluation-job.js';

/** What the operator's configuration (Helm values, flags) lets a PrunedModelEvaluation ask for. */
export interface SpecPolicy {
  /** The evaluator image when a PME names none. */
  evaluatorImage: string;
  /** Other images a PME may name in runtime.image: exact references, or prefixes ending in `*`. */
  allowedEvaluatorImages: string[];
  /** Whether runtime.serviceAccountName and a retraining Job's serviceAccountName may be set. */
  allowCustomServiceAccounts: boolean;
  /** Where models, data and the retraining webhook may be fetched from. */
  egress: EgressPolicy;
}

const sourceFields = [
  'spec.teacher.uri',
  'spec.candidate.uri',
  'spec.data.reference.uri',
  'spec.data.current.uri',
];

/**
 * Why the operator refuses to act for this evaluation, or undefined. A PME author gets nothing
 * through pruneguard that they could not do directly: the evaluator's image and ServiceAccount
 * come from the operator's configuration, sources and webhooks stay inside the egress policy,
 * and a retraining Job must pass Pod Security "restricted". Checked before a run starts and again
 * before a retraining Job is created, so nothing is created for a spec that asks for more.
 */
export function specRefusal(evaluation: PrunedModelEvaluation, policy: SpecPolicy): string | undefined {
  const { spec } = evaluation;
  const problems: string[] = [];
  const image = spec.runtime.image;
  if (image !== undefined && !imageAllowed(image, policy))
    problems.push(
      `spec.runtime.image ${image} is not an allowed evaluator image (the operator's --allowed-evaluator-images; default ${policy.evaluatorImage})`,
    );
  if (spec.runtime.serviceAccountName !== undefined && !policy.allowCustomServiceAccounts)
    problems.push(
      'spec.runtime.serviceAccountName is set, but custom ServiceAccounts are off (the operator runs each evaluation under its own identity; --allow-custom-service-accounts)',
    );
  evaluationUris(spec).forEach((uri, i) => {
    const refused = checkUri(policy.egress, uri, sourceFields[i]!, { s3: spec.s3 });
    if (refused) problems.push(refused);
  });
  // The operator itself sends these requests: the same policy, http(s) only.
  const webPolicy = {
    ...policy.egress,
    schemes: policy.egress.schemes.filter((s) => s === 'http' || s === 'https'),
  };
  for (const [field, url] of [
    ['spec.retraining.webhook.url', spec.retraining?.webhook?.url],
    ['spec.live.prometheus.address', spec.live?.prometheus.address],
  ] as const) {
    const refused = url === undefined ? undefined : checkUri(webPolicy, url, field);
    if (refused) problems.push(refused);
  }
  const template = spec.retraining?.jobTemplate;
  if (template !== undefined) {
    const refused = retrainingTemplateRefusal(template, policy.allowCustomServiceAccounts);
    if (refused) problems.push(refused);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

export function imageAllowed(
  image: string,
  policy: Pick<SpecPolicy, 'evaluatorImage' | 'allowedEvaluatorImages'>,
): boolean {
  if (image === policy.evaluatorImage) return true;
  return policy.allowedEvaluatorImages.some((pattern) =>
    pattern.endsWith('*') ? image.startsWith(pattern.slice(0, -1)) : image === pattern,
  );
}

/** Why no run can start for this evaluation: reason InvalidSpec (it cannot run) or SpecRefused (the operator will not run it). */
export interface SpecProblem {
  reason: 'InvalidSpec' | 'SpecRefused';
  message: string;
}

/**
 * What the API server admitted but cannot run (a cron expression that never fires), then what the
 * operator's configuration refuses: either way nothing is created, and the PME says why at once.
 */
export function specProblem(
  evaluation: PrunedModelEvaluation,
  policy: SpecPolicy,
  now: Date,
): SpecProblem | undefined {
  const invalid = scheduleProblem(evaluation.spec.schedule, now);
  if (invalid) return { reason: 'InvalidSpec', message: invalid };
  const refusal = specRefusal(evaluation, policy);
  return refusal ? { reason: 'SpecRefused', message: refusal } : undefined;
}
