import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ResourceInformer } from '../../../src/controller/informer.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { eventually, testCluster, testNamespace } from '../../support/cluster.js';
import { ApiProxy } from '../../support/api-proxy.js';

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
  it('backs off while the API server is down (0.8 s doubling, jittered, capped at 30 s) and resyncs when it is back', async (t) => {
    const cluster = await testCluster();
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const proxy = await ApiProxy.start(kc);
    t.after(() => proxy.close());
    const throughProxy = proxy.kubeConfig(kc);
    const proxiedCore = throughProxy.makeApiClient(CoreV1Api);
    const log = recordingLogger();
    const seen = new Set<string>();
    const deleted = new Set<string>();
    const informer = new ResourceInformer<V1ConfigMap>(
      throughProxy,
      `/api/v1/namespaces/${namespace}/configmaps`,
      () => proxiedCore.listNamespacedConfigMap({ namespace }),
      {
        onChange: (cm) => seen.add(cm.metadata!.name!),
        onDelete: (cm) => deleted.add(cm.metadata!.name!),
      },
      log.logger,
    );
    const create = (name: string) =>
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });
    t.after(() => informer.stop());
    await create('before');
    await informer.start();
    await eventually('the initial list', async () => (seen.has('before') ? true : undefined));

    const window = 60_000;
    const downAt = Date.now();
    await proxy.refuse();
    await core.deleteNamespacedConfigMap({ name: 'before', namespace });
    await create('during');
    await new Promise((resolve) => setTimeout(resolve, downAt + window - Date.now()));
    const restarts = log.records.filter((r) => r.msg === 'watch failed; restarting');

    await proxy.resume();
    const upAt = Date.now();
    // The next attempt is at most one capped delay (30 s plus up to 100% jitter) away.
    await eventually(
      'the changes made while the server was down',
      async () => (seen.has('during') && deleted.has('before') ? true : undefined),
      65_000,
    );
    const resyncedAfterMs = Date.now() - upAt;
    const delays = restarts.map((r) => r.retryInMs as number);
    t.diagnostic(
      `${restarts.length} restarts in ${window / 1000} s with the server down ` +
        `(delays ${delays.map((d) => (d / 1000).toFixed(1)).join(', ')} s); ` +
        `resynced ${(resyncedAfterMs / 1000).toFixed(1)} s after it came back`,
    );
    // 0.8, 1.6, 3.2, 6.4, 12.8, 25.6 s bases, each plus 0–100% jitter: 5 to 7 attempts fit in 60 s.
    assert.ok(restarts.length >= 4 && restarts.length <= 8, `${restarts.length} restarts in 60 s`);
    delays.forEach((delay, i) => {
      const base = Math.min(800 * 2 ** i, 30_000);
      assert.ok(
        delay >= base && delay <= 2 * base,
        `restart ${i + 1}: ${delay} ms, expected [${base}, ${2 * base}]`,
      );
    });
    assert.equal(informer.get('before', namespace), undefined);

    await create('after');
    await eventually('a change after the server came back', async () =>
      seen.has('after') ? true : undefined,
    );
  });
});

/** A logger whose records the test can read. */
function recordingLogger(): { logger: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info', base: undefined },
    { write: (line: string) => records.push(JSON.parse(line)) },
  );
  return { logger, records };
}
