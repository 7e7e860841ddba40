import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { CustomObjectsApi } from '@kubernetes/client-node';

import type { EvaluationRun } from '../api/v1alpha1/index.js';
import { evaluationDeadline } from '../evaluator/deadline.js';
import type { ShardStatusPatch } from '../evaluator/shard-status.js';
import { clusterEgressDefaults, egressPolicyEnv, encodeEgressPolicy } from '../security/egress.js';
import { createLogger } from '../telemetry/logger.js';

const usage = `usage: pruneguard evaluator --namespace <namespace> --run <evaluationrun>

The evaluation pod's entrypoint (started by the operator's Indexed Job): evaluates shard
JOB_COMPLETION_INDEX (default 0) of the EvaluationRun and writes its entry of status.shards by
server-side apply. Credentials: in-cluster ServiceAccount, or KUBECONFIG.

runtime.timeoutSeconds applies from this command's start too (the Job's activeDeadlineSeconds, the
same number counted from the Job's start, normally ends the pod first).

exit codes: 0 shard written, 1 the shard failed (its status entry and /dev/termination-log say why), 2 usage`;

/** Kubernetes shows this file's content as the container's termination message. */
const terminationLog = process.env.PRUNEGUARD_TERMINATION_LOG ?? '/dev/termination-log';

/** `pruneguard evaluator`: returns the exit code (see `usage`). */
export async function runEvaluator(argv: string[]): Promise<number> {
  const startedAt = Date.now();
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        namespace: { type: 'string' },
        run: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`pruneguard evaluator: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const index = Number(process.env.JOB_COMPLETION_INDEX ?? '0');
  const problem = !values.namespace
    ? 'missing --namespace'
    : !values.run
      ? 'missing --run'
      : !(Number.isInteger(index) && index >= 0)
        ? `JOB_COMPLETION_INDEX must be a non-negative integer, got '${process.env.JOB_COMPLETION_INDEX}'`
        : undefined;
  if (problem || !values.namespace || !values.run) {
    console.error(`pruneguard evaluator: ${problem}\n\n${usage}`);
    return 2;
  }

  // In a pod without the operator's policy, the cluster's defaults, never the local ones (files, loopback).
  process.env[egressPolicyEnv] ??= encodeEgressPolicy(clusterEgressDefaults);
  const target = { namespace: values.namespace, name: values.run };
  const log = createLogger({ name: 'pruneguard-evaluator', destination: 2 }).child({
    namespace: target.namespace,
    run: target.name,
    shard: index,
  });
  let api: CustomObjectsApi | undefined;
  // Loaded after the arguments are checked: the Kubernetes client, schemas and onnxruntime take seconds to import.
  const [
    kubernetes,
    { PrunedModelEvaluationSpec, evaluationRunNames, group, version, withDefaults },
    status,
    { evaluateShard },
  ] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../api/v1alpha1/index.js'),
    import('../evaluator/shard-status.js'),
    import('../evaluator/pipeline.js'),
  ]);
  const applyPatch = kubernetes.setHeaderOptions('Content-Type', kubernetes.PatchStrategy.ServerSideApply);
  /** Server-side apply on the status subresource, as this shard's own field manager. */
  const apply = (client: CustomObjectsApi, body: ShardStatusPatch) =>
    client
      .patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          plural: evaluationRunNames.plural,
          namespace: body.metadata.namespace,
          name: body.metadata.name,
          body,
          fieldManager: status.fieldManager(index),
          force: true,
        },
        applyPatch,
      )
      .catch((error: unknown) => {
        throw new Error(
          `apply status of EvaluationRun ${body.metadata.namespace}/${body.metadata.name}: ${apiMessage(error)}`,
        );
      });
  try {
    const config = new kubernetes.KubeConfig();
    config.loadFromDefault();
    api = config.makeApiClient(kubernetes.CustomObjectsApi);
    const run = (await api
      .getNamespacedCustomObject({ group, version, plural: evaluationRunNames.plural, ...target })
      .catch((error: unknown) => {
        throw new Error(`get EvaluationRun ${target.namespace}/${target.name}: ${apiMessage(error)}`);
      })) as EvaluationRun;
    if (index >= run.spec.shards)
      throw new Error(
        `JOB_COMPLETION_INDEX ${index} is not below the run's spec.shards (${run.spec.shards})`,
      );
    const spec = withDefaults(PrunedModelEvaluationSpec, run.spec.evaluationSpec);
    log.info({ shards: run.spec.shards }, 'evaluating shard');
    const result = await evaluateShard(spec, {
      shardIndex: index,
      shardCount: run.spec.shards,
      log,
      deadline: evaluationDeadline(spec.runtime.timeoutSeconds, startedAt),
    });
    await apply(api, status.shardStatusPatch(target, index, result));
    log.info({ rows: result.rows }, 'shard result written');
    return 0;
  } catch (error) {
    const message = `shard ${index} of EvaluationRun ${target.namespace}/${target.name}: ${(error as Error).message}`;
    console.error(`pruneguard evaluator: ${message}`);
    try {
      writeFileSync(terminationLog, message.slice(0, 4096));
    } catch {
      // Outside a pod there is no termination log; stderr has the message.
    }
    if (api) {
      await apply(api, status.shardFailurePatch(target, index, message)).catch((patchError: unknown) =>
        log.warn({ error: apiMessage(patchError) }, 'could not record the failure in the run status'),
      );
    }
    return 1;
  } finally {
    log.flush();
  }
}

/** The API server's own message (e.g. a validation failure) rather than the client's wrapper text. */
function apiMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      // not JSON: fall through
    }
  }
  const code = (error as { code?: unknown }).code;
  const message = ((error as Error).message ?? String(error)).split('\n')[0]!;
  return typeof code === 'number' ? `HTTP ${code}: ${message}` : message;
}
