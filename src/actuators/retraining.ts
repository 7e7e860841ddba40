import { createHash } from 'node:crypto';
import type { BatchV1Api, V1Job, V1OwnerReference, V1PodSpec } from '@kubernetes/client-node';
import type { Retraining } from '../api/v1alpha1/index.js';
import { postJson, type EgressPolicy } from '../security/egress.js';
import { formatViolations, restrictedViolations } from '../security/pod-security.js';
import { TargetError } from './actuator.js';
import { errorStatus, fieldManager, isConflict } from './kubernetes.js';

/** One run's request to retrain. */
export interface RetrainingRequest {
  /** One Job per run, and the webhook's Idempotency-Key. */
  run: string;
  reason: string;
  dryRun: boolean;
}

/** What one retraining channel (the Job, the webhook) did. */
export interface RetrainingOutcome {
  /** Job/<name> or Webhook/<host>. */
  target: string;
  performed: boolean;
  detail: string;
}

export interface RetrainingContext {
  namespace: string;
  evaluation: string;
  owner: V1OwnerReference;
  verdict: string;
  /** What failed, e.g. ["accuracyDrop 6.1% > 5%"]. */
  breaches: string[];
}

/** What the operator's configuration allows a retraining Job and webhook. */
export interface RetrainingPolicy {
  /** The permission-less ServiceAccount a Job runs as unless its template names one. */
  serviceAccountName: string;
  /** Whether a template may name its own ServiceAccount. */
  allowCustomServiceAccounts: boolean;
  egress: EgressPolicy;
}

const templatePodPath = 'spec.retraining.jobTemplate.spec.template.spec';

/** The pod spec of a retraining jobTemplate (a batch/v1 JobTemplateSpec), if it has one. */
function templatePodSpec(template: Record<string, unknown>): V1PodSpec | undefined {
  return (template.spec as { template?: { spec?: V1PodSpec } } | undefined)?.template?.spec;
}

/**
 * Why a jobTemplate may not be created, naming the field, or undefined. Its pod must pass Pod
 * Security "restricted" whatever the namespace enforces, and it runs as the operator's retraining
 * ServiceAccount unless the operator allows custom ones: a PME author must not get a pod through
 * pruneguard that they could not create themselves.
 */
export function retrainingTemplateRefusal(
  template: Record<string, unknown>,
  allowCustomServiceAccounts: boolean,
): string | undefined {
  const podSpec = templatePodSpec(template);
  if (!podSpec || !Array.isArray(podSpec.containers) || podSpec.containers.length === 0)
    return `${templatePodPath}.containers: a retraining jobTemplate needs a pod template with at least one container`;
  if (podSpec.serviceAccountName !== undefined && !allowCustomServiceAccounts)
    return `${templatePodPath}.serviceAccountName is set, but custom ServiceAccounts are off (retraining Jobs run as the operator's permission-less retraining ServiceAccount; --allow-custom-service-accounts)`;
  const violations = [
    ...appArmorAnnotationViolations(template),
    ...restrictedViolations(podSpec, templatePodPath),
  ];
  return violations.length > 0 ? formatViolations(violations) : undefined;
}

const appArmorAnnotation = 'container.apparmor.security.beta.kubernetes.io/';

/** Pod Security still reads the AppArmor annotations (check_appArmorProfile.go), which a pod spec alone does not show. */
function appArmorAnnotationViolations(template: Record<string, unknown>) {
  const jobSpec = template.spec as
    { template?: { metadata?: { annotations?: Record<string, unknown> } } } | undefined;
  const annotations = jobSpec?.template?.metadata?.annotations ?? {};
  return Object.entries(annotations)
    .filter(
      ([key, value]) =>
        key.startsWith(appArmorAnnotation) &&
        !(
          value === '' ||
          value === 'runtime/default' ||
          (typeof value === 'string' && value.startsWith('localhost/'))
        ),
    )
    .map(([key, value]) => ({
      field: `spec.retraining.jobTemplate.spec.template.metadata.annotations[${key}]`,
      message: `AppArmor profile ${JSON.stringify(value)} is not allowed (runtime/default or localhost/*)`,
    }));
}

/** A Job name that is the same for the same run (so a repeat finds it) and fits 63 characters. */
export function retrainingJobName(evaluation: string, run: string): string {
  const hash = createHash('sha256').update(run).digest('hex').slice(0, 8);
  return `${evaluation.slice(0, 45).replace(/-+$/, '')}-retrain-${hash}`;
}

/**
 * Starts retraining after a Critical verdict: a Job from spec.retraining.jobTemplate and/or a POST
 * to spec.retraining.webhook. The webhook carries `Idempotency-Key: <run>` so a receiver can drop
 * the repeat that a controller crash between the call and the status write could cause.
 */
export async function triggerRetraining(
  batch: BatchV1Api,
  spec: Retraining,
  context: RetrainingContext,
  request: RetrainingRequest,
  policy: RetrainingPolicy,
): Promise<RetrainingOutcome[]> {
  const outcomes: RetrainingOutcome[] = [];
  if (spec.jobTemplate) outcomes.push(await createJob(batch, spec.jobTemplate, context, request, policy));
  if (spec.webhook) outcomes.push(await callWebhook(spec.webhook.url, context, request, policy.egress));
  return outcomes;
}

/** What a retraining action reaches, as status.actions records it: `Job/<name>`, `Webhook/<host>`, or both. */
export function retrainingTarget(spec: Retraining, evaluation: string, run: string): string {
  return [
    ...(spec.jobTemplate ? [`Job/${retrainingJobName(evaluation, run)}`] : []),
    ...(spec.webhook ? [`Webhook/${new URL(spec.webhook.url).host}`] : []),
  ].join('+');
}

async function createJob(
  batch: BatchV1Api,
  template: Record<string, unknown>,
  context: RetrainingContext,
  request: RetrainingRequest,
  policy: RetrainingPolicy,
): Promise<RetrainingOutcome> {
  const name = retrainingJobName(context.evaluation, request.run);
  const target = `Job/${name}`;
  const refusal = retrainingTemplateRefusal(template, policy.allowCustomServiceAccounts);
  if (refusal) throw new TargetError(target, `not created: ${refusal}`);
  if (request.dryRun) return { target, performed: false, detail: 'dry run: Job not created' };
  const templateMeta = (template.metadata ?? {}) as {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: context.namespace,
      labels: {
        ...templateMeta.labels,
        'pruneguard.io/evaluation': context.evaluation,
        'pruneguard.io/run': request.run,
      },
      annotations: { ...templateMeta.annotations, 'pruneguard.io/reason': request.reason.slice(0, 1000) },
      ownerReferences: [{ ...context.owner, controller: false }],
    },
    spec: withServiceAccount(template.spec as NonNullable<V1Job['spec']>, policy.serviceAccountName),
  };
  try {
    await batch.createNamespacedJob({ namespace: context.namespace, body: job, fieldManager });
  } catch (error) {
    if (isConflict(error)) {
      return { target, performed: false, detail: 'already created for this run' };
    }
    throw new TargetError(target, `cannot create the retraining Job: ${errorStatus(error)}`);
  }
  return { target, performed: true, detail: 'retraining Job created' };
}

async function callWebhook(
  url: string,
  context: RetrainingContext,
  request: RetrainingRequest,
  egress: EgressPolicy,
): Promise<RetrainingOutcome> {
  const target = `Webhook/${new URL(url).host}`;
  if (request.dryRun) return { target, performed: false, detail: 'dry run: webhook not called' };
  const body = {
    namespace: context.namespace,
    evaluation: context.evaluation,
    run: request.run,
    verdict: context.verdict,
    reason: request.reason,
    breaches: context.breaches,
  };
  let response: { status: number; statusText: string };
  try {
    response = await postJson(egress, url, body, { 'idempotency-key': request.run }, 10_000);
  } catch (error) {
    throw new TargetError(
      target,
      `retraining webhook not called or unreachable: ${(error as Error).message}`,
    );
  }
  if (response.status < 200 || response.status >= 300)
    throw new TargetError(target, `retraining webhook answered ${response.status} ${response.statusText}`);
  return { target, performed: true, detail: `webhook answered ${response.status}` };
}

/** The template's own ServiceAccount when it names one (allowed by then), else the retraining one. */
function withServiceAccount(spec: NonNullable<V1Job['spec']>, serviceAccountName: string): V1Job['spec'] {
  const podSpec = spec.template.spec!;
  if (podSpec.serviceAccountName !== undefined) return spec;
  return { ...spec, template: { ...spec.template, spec: { ...podSpec, serviceAccountName } } };
}
