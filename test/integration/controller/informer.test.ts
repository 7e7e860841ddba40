import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { ResourceInformer } from '../../../src/controller/informer.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';

describe('ResourceInformer', () => {
  it('loses no change while its watch is down: deletions and additions arrive when it reconnects', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const seen = new Map<string, string>();
    const deleted: string[] = [];
    const informer = new ResourceInformer<V1ConfigMap>(
      kc,
      `/api/v1/namespaces/${namespace}/configmaps`,
      () => core.listNamespacedConfigMap({ namespace }),
      {
        onChange: (cm) => seen.set(cm.metadata!.name!, cm.data?.value ?? ''),
        onDelete: (cm) => deleted.push(cm.metadata!.name!),
      },
      createLogger({ name: 'test', level: 'silent', destination: 2 }),
    );
    const create = (name: string, value: string) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { value } } });

    t.after(() => informer.stop());
    await create('before', '1');
    await informer.start();
    await eventually('the initial list', async () => (seen.get('before') === '1' ? true : undefined));

    await informer.stop();
    await core.deleteNamespacedConfigMap({ name: 'before', namespace });
    await create('during', '2');
    await core.patchNamespacedConfigMap({
      name: 'during',
      namespace,
      body: [{ op: 'replace', path: '/data/value', value: '3' }],
    });

    await informer.start();
    await eventually('the changes made while disconnected', async () =>
      seen.get('during') === '3' && deleted.includes('before') ? true : undefined,
    );
    assert.equal(informer.get('before', namespace), undefined);
    assert.deepEqual(
      informer
        .list(namespace)
        .map((cm) => cm.metadata!.name)
        .filter((name) => name !== 'kube-root-ca.crt'),
      ['during'],
    );

    await create('after', '4');
    await eventually('a change after reconnecting', async () =>
      seen.get('after') === '4' ? true : undefined,
    );
  });
});
