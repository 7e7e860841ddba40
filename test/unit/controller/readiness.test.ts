import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from '../../../src/controller/operator.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { testReconcilerOptions } from '../../support/operator.js';

/** A local port nothing listens on: every request to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('an operator whose caches cannot sync is not ready (without leader election too)', async () => {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'unreachable', server: `http://127.0.0.1:${await closedPort()}`, skipTLSVerify: true },
    { name: 'nobody' },
  );
  const operator = await startOperator({
    kc,
    log: createLogger({ name: 'pruneguard-operator', level: 'silent' }),
    port: 0,
    workers: 1,
    leaderElection: { enabled: false, namespace: 'pruneguard-system', leaseName: 'pruneguard-operator' },
    reconciler: testReconcilerOptions,
  });
  try {
    const [ready, healthy] = await Promise.all(
      ['/readyz', '/healthz'].map((path) => fetch(`http://127.0.0.1:${operator.port}${path}`)),
    );
    assert.deepEqual([ready!.status, await ready!.text()], [503, 'informers not synced']);
    assert.equal(healthy!.status, 200);
  } finally {
    await operator.stop();
  }
});
