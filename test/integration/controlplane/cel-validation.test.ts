import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';

const group = 'harness.pruneguard.io';

describe('the local control plane enforces CRD validation', () => {
  it('rejects an object that breaks a CEL rule, with the rule message', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    const objects = kc.makeApiClient(CustomObjectsApi);

    await extensions
      .createCustomResourceDefinition({
        body: {
          metadata: { name: `scalers.${group}` },
          spec: {
            group,
            scope: 'Namespaced',
            names: { plural: 'scalers', singular: 'scaler', kind: 'Scaler' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: {
                  openAPIV3Schema: {
                    type: 'object',
                    properties: {
                      spec: {
                        type: 'object',
                        required: ['min', 'max'],
                        properties: { min: { type: 'integer' }, max: { type: 'integer' } },
                        x_kubernetes_validations: [
                          { rule: 'self.min <= self.max', message: 'min must not exceed max' },
                        ],
                      },
                    },
                  },
                },
              },
            ],
          },
        },
      })
      .catch((error: { code?: number }) => {
        if (error.code !== 409) throw error;
      });

    const create = (min: number, max: number) =>
      objects.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace,
        plural: 'scalers',
        body: {
          apiVersion: `${group}/v1`,
          kind: 'Scaler',
          metadata: { name: `s-${min}-${max}` },
          spec: { min, max },
        },
      });

    await eventually('the CRD to be served', () => create(1, 2).then(() => true));
    await assert.rejects(create(5, 2), (error: { code?: number; body?: string }) => {
      assert.equal(error.code, 422);
      assert.match(String(error.body), /min must not exceed max/);
      return true;
    });

    const viaKubectl = await cluster.kubectl(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify({
        apiVersion: `${group}/v1`,
        kind: 'Scaler',
        metadata: { name: 'bad' },
        spec: { min: 9, max: 1 },
      }),
    );
    assert.notEqual(viaKubectl.code, 0);
    assert.match(viaKubectl.stderr, /min must not exceed max/);
  });
});
