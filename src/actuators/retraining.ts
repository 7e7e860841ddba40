import { createHash } from 'node:crypto';
import type { BatchV1Api, V1Job, V1OwnerReference } from '@kubernetes/client-node';
import type { Retraining } from '../api/v1alpha1/index.js';
import { TargetError, type ActionOutcome, type ActionRequest } from './actuator.js';
import { errorStatus } from './kubernetes.js';

export interface RetrainingContext {
  namespace: string;
  evaluation: string;
  owner: V1OwnerReference;
  verdict: string;
  /** What failed, e.g. ["accuracyDrop 6.1% > 5%"]. */
  breaches: string[];
}

export type Fetch = typeof fetch;

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
  request: ActionRequest,
  fetchImpl: Fetch = fetch,
): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  if (spec.jobTemplate) outcomes.push(await createJob(batch, spec.jobTemplate, context, request));
  if (spec.webhook) outcomes.push(await callWebhook(spec.webhook.url, context, request, fetchImpl));
  return outcomes;
}

async function createJob(
  batch: BatchV1Api,
  template: Record<string, unknown>,
  context: RetrainingContext,
  request: ActionRequest,
): Promise<ActionOutcome> {
  const name = retrainingJobName(context.evaluation, request.run);
  const target = `Job/${name}`;
  if (request.dryRun)
    return { type: 'Retrain', target, performed: false, detail: 'dry run: Job not created' };
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
    spec: template.spec as V1Job['spec'],
  };
  try {
    await batch.createNamespacedJob({ namespace: context.namespace, body: job });
  } catch (error) {
    if ((error as { code?: number }).code === 409) {
      return { type: 'Retrain', target, performed: false, detail: 'already created for this run' };
    }
    throw new TargetError(target, `cannot create the retraining Job: ${errorStatus(error)}`);
  }
  return { type: 'Retrain', target, performed: true, detail: 'retraining Job created' };
}

async function callWebhook(
  url: string,
  context: RetrainingContext,
  request: ActionRequest,
  fetchImpl: Fetch,
): Promise<ActionOutcome> {
  const target = `Webhook/${new URL(url).host}`;
  if (request.dryRun)
    return { type: 'Retrain', target, performed: false, detail: 'dry run: webhook not called' };
  const body = {
    namespace: context.namespace,
    evaluation: context.evaluation,
    run: request.run,
    verdict: context.verdict,
    reason: request.reason,
    breaches: context.breaches,
  };
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': request.run },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new TargetError(target, `retraining webhook unreachable: ${(error as Error).message}`);
  }
  if (!response.ok)
    throw new TargetError(target, `retraining webhook answered ${response.status} ${response.statusText}`);
  return { type: 'Retrain', target, performed: true, detail: `webhook answered ${response.status}` };
}
