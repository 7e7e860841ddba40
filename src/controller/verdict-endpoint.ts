/**
 * `GET /api/v1/namespaces/{namespace}/prunedmodelevaluations/{name}/verdict`: an evaluation's
 * verdict as JSON, for Argo Rollouts' `web` metric provider
 * (`manifests/examples/argo/analysis-gate.yaml`), so a Rollout can gate its own steps on
 * pruneguard's verdict while pruneguard holds no permission on the Rollout.
 *
 * Every replica answers, leader or standby: the evaluation is read from the API server on each
 * request, not from the informer cache, which only the leader has and which can trail a spec
 * change by a moment, the one change a gate must never miss. Argo asks once per interval per
 * running AnalysisRun, so the cost is one GET each; a cap on reads in flight keeps anyone who can
 * reach the Service from turning the endpoint into load on the API server.
 *
 * A verdict counts only for the spec it graded: with no verdict yet, or one whose
 * `status.observedGeneration` is older than `metadata.generation`, the answer is `Inconclusive`
 * with the reason, and no metrics, so no condition on a number can pass on an old spec either.
 */
import type http from 'node:http';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { abortingOn, isForbidden, isNotFound } from '../actuators/kubernetes.js';
import {
  group,
  prunedModelEvaluationNames,
  version,
  type Grade,
  type PrunedModelEvaluation,
  type Verdict,
} from '../api/v1alpha1/index.js';

/** Requests whose path starts here belong to this endpoint; anything malformed under it is a 400. */
export const verdictPathPrefix = '/api/';
export const verdictPathTemplate = '/api/v1/namespaces/{namespace}/prunedmodelevaluations/{name}/verdict';

export interface EvaluationKey {
  namespace: string;
  name: string;
}

export interface VerdictAnswer {
  verdict: Verdict;
  /** The EvaluationRun of `status.lastRun`, null before the first run has closed. */
  run: string | null;
  completedAt: string | null;
  /** The spec generation the verdict graded (`status.observedGeneration`). */
  observedGeneration: number | null;
  /** The spec generation now (`metadata.generation`). */
  generation: number;
  explanation: string;
  metrics: Record<string, { value: number; grade: Grade }>;
}

/** Reads an evaluation; undefined when there is none of that name. */
export type EvaluationReader = (
  key: EvaluationKey,
  signal: AbortSignal,
) => Promise<PrunedModelEvaluation | undefined>;

export interface VerdictEndpointOptions {
  read: EvaluationReader;
  log: Logger;
  /** Below Argo's web provider default (10 s), so Argo records this endpoint's answer, not its own timeout. */
  readTimeoutMs?: number;
  maxReadsInFlight?: number;
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The namespace and name in a verdict path, or why the path is not one. */
export function parseVerdictPath(url: string): EvaluationKey | { error: string } {
  if (url.includes('?')) return { error: `the verdict takes no query parameters: ${verdictPathTemplate}` };
  const segments = url.split('/');
  const [empty, api, v1, namespaces, namespace, plural, name, verdict] = segments;
  if (
    segments.length !== 8 ||
    empty !== '' ||
    api !== 'api' ||
    v1 !== 'v1' ||
    namespaces !== 'namespaces' ||
    plural !== prunedModelEvaluationNames.plural ||
    verdict !== 'verdict'
  ) {
    return { error: `unknown path: the verdict is at ${verdictPathTemplate}` };
  }
  if (namespace!.length > 63 || !dns1123Label.test(namespace!)) {
    return {
      error:
        'the namespace is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)',
    };
  }
  if (name!.length > 253 || !dns1123Subdomain.test(name!)) {
    return {
      error:
        'the evaluation name is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", at most 253 characters)',
    };
  }
  return { namespace: namespace!, name: name! };
}

/** What the endpoint answers for an evaluation: its verdict, unless that is missing or graded an older spec. */
export function verdictAnswer(evaluation: PrunedModelEvaluation): VerdictAnswer {
  const status = evaluation.status ?? {};
  const generation = evaluation.metadata.generation ?? 1;
  const observedGeneration = status.observedGeneration ?? null;
  const answer = {
    run: status.lastRun?.name ?? null,
    completedAt: status.lastRun?.completedAt ?? null,
    observedGeneration,
    generation,
  };
  if (status.verdict === undefined) {
    return {
      ...answer,
      verdict: 'Inconclusive',
      explanation: 'no verdict yet: the evaluation has not finished a run',
      metrics: {},
    };
  }
  if (observedGeneration === null || observedGeneration < generation) {
    const graded = observedGeneration === null ? 'an unknown generation' : `generation ${observedGeneration}`;
    return {
      ...answer,
      verdict: 'Inconclusive',
      explanation:
        `the last verdict (${status.verdict}) graded ${graded} of the spec; ` +
        `the spec is at generation ${generation} and has not been graded yet`,
      metrics: {},
    };
  }
  return {
    ...answer,
    verdict: status.verdict,
    explanation: status.explanation ?? '',
    metrics: Object.fromEntries(
      (status.metrics ?? []).map((metric) => [metric.name, { value: metric.value, grade: metric.grade }]),
    ),
  };
}

/**
 * The request handler for paths under `verdictPathPrefix`. GET only; nothing it does writes
 * anything, and it answers from no cache of its own.
 */
export function verdictEndpoint(
  options: VerdictEndpointOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { read, log, readTimeoutMs = 5000, maxReadsInFlight = 32 } = options;
  let inFlight = 0;
  return (req, res) => {
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return replyJson(res, 405, { error: `${req.method} is not allowed: the verdict is read-only (GET)` });
    }
    const key = parseVerdictPath(req.url ?? '');
    if ('error' in key) return replyJson(res, 400, key);
    if (inFlight >= maxReadsInFlight) {
      res.setHeader('retry-after', '1');
      return replyJson(res, 503, { error: 'too many verdict requests in flight; retry shortly' });
    }
    const evaluation = `PrunedModelEvaluation ${key.namespace}/${key.name}`;
    const signal = AbortSignal.timeout(readTimeoutMs);
    inFlight++;
    read(key, signal)
      .then(
        (found) =>
          found
            ? replyJson(res, 200, verdictAnswer(found))
            : replyJson(res, 404, { error: `${evaluation} not found` }),
        (error: unknown) => {
          log.warn(
            { err: error, namespace: key.namespace, name: key.name },
            'verdict: cannot read evaluation',
          );
          if (isForbidden(error)) {
            return replyJson(res, 403, {
              error: `the operator may not read PrunedModelEvaluations in namespace ${key.namespace}`,
            });
          }
          if (signal.aborted) {
            return replyJson(res, 504, {
              error: `${evaluation}: the API server did not answer within ${readTimeoutMs / 1000} s`,
            });
          }
          return replyJson(res, 502, { error: `${evaluation}: the API server refused or failed the read` });
        },
      )
      .finally(() => inFlight--);
  };
}

/** Reads evaluations through the API server as the operator's ServiceAccount (`get` on PMEs). */
export function apiEvaluationReader(kc: KubeConfig): EvaluationReader {
  const objects = kc.makeApiClient(CustomObjectsApi);
  return async ({ namespace, name }, signal) => {
    try {
      return (await objects.getNamespacedCustomObject(
        { group, version, namespace, plural: prunedModelEvaluationNames.plural, name },
        abortingOn(signal),
      )) as PrunedModelEvaluation;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
}

function replyJson(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(JSON.stringify(body));
}
