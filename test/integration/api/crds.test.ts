import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  evaluationRunNames,
  group,
  prunedModelEvaluationNames,
  version,
} from '../../../src/api/v1alpha1/index.js';
import { testCluster, testNamespace } from '../../support/cluster.js';
import { examplesDir, installCrds } from '../../support/crds.js';
import { rejections, validEvaluation, type Rejection } from './rejections.js';

type Json = Record<string, unknown>;

function pluralOf(object: Json): string {
  return object.kind === prunedModelEvaluationNames.kind
    ? prunedModelEvaluationNames.plural
    : evaluationRunNames.plural;
}

interface StatusCause {
  field?: string;
  message?: string;
}

function causesOf(error: unknown): StatusCause[] {
  const body = (error as { body?: unknown }).body;
  const status = typeof body === 'string' ? (JSON.parse(body) as Json) : (body as Json);
  return ((status?.details as Json | undefined)?.causes as StatusCause[] | undefined) ?? [];
}

describe('the generated CRDs on a real API server', () => {
  it('serve the examples with the design defaults filled in', async (t) => {
    const cluster = await testCluster();
    await installCrds(cluster);
    const namespace = await testNamespace(t, cluster);
    const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);

    const created = (await objects.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural: prunedModelEvaluationNames.plural,
      body: validEvaluation('defaults'),
    })) as { spec: Json };
    const thresholds = created.spec.thresholds as Record<string, { target: number; warning: number }>;
    assert.deepEqual(thresholds.accuracyDrop, { target: 0.02, warning: 0.05, enabled: true });
    assert.deepEqual(thresholds.throughputQps, { target: 1000, warning: 500, enabled: true });
    assert.equal((created.spec.runtime as Json).parallelism, 1);

    const examples = await cluster.kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', examplesDir]);
    assert.equal(examples.code, 0, examples.stderr);

    const columns = await cluster.kubectl(['get', 'pme', '-n', namespace]);
    assert.match(
      columns.stdout.split('\n')[0]!,
      /NAME\s+VERDICT\s+ACCURACYDROP\s+P95\s+PSI\s+LIVE\s+LASTRUN\s+STATUS\s+AGE/,
    );
    // Before its first run an evaluation shows nothing but its name and age (README's first lines).
    assert.match(columns.stdout.split('\n')[1]!, /^defaults\s+\S+$/);
  });

  it('refuse every bad object with the message a person can act on', async (t) => {
    const cluster = await testCluster();
    await installCrds(cluster);
    const namespace = await testNamespace(t, cluster);
    const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);

    const write = async (object: Json, mode: 'create' | 'update', subresource?: 'status') => {
      const name = (object.metadata as Json).name as string;
      const request = { group, version, namespace, plural: pluralOf(object), body: object };
      if (mode === 'create') return objects.createNamespacedCustomObject(request);
      const live = (await objects.getNamespacedCustomObject({ ...request, name })) as Json;
      const body = {
        ...object,
        metadata: { ...(object.metadata as Json), resourceVersion: (live.metadata as Json).resourceVersion },
      };
      return subresource === 'status'
        ? objects.replaceNamespacedCustomObjectStatus({ ...request, name, body })
        : objects.replaceNamespacedCustomObject({ ...request, name, body });
    };

    const failures: string[] = [];
    for (const rejection of rejections as Rejection[]) {
      if (rejection.existing) {
        await write(rejection.existing, 'create');
        if (rejection.subresource === 'status') await write(rejection.existing, 'update', 'status');
      }
      const attempt = write(
        rejection.object,
        rejection.existing ? 'update' : 'create',
        rejection.subresource,
      );
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error === undefined) {
        failures.push(`${rejection.name}: accepted`);
        continue;
      }
      const causes = causesOf(error);
      const matched = causes.some(
        (c) => c.field === rejection.field && c.message?.includes(rejection.message),
      );
      if ((error as { code?: number }).code !== 422 || !matched) {
        failures.push(`${rejection.name}: ${(error as { code?: number }).code} ${JSON.stringify(causes)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
