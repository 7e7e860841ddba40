import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { defaultLeaderElection, LeadershipLost } from '../../../src/controller/leader-election.js';
import type { RunningOperator } from '../../../src/controller/operator.js';
import { eventually, testCluster, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, operatorKubeConfig, startTestOperator } from '../../support/operator.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';
import { ApiProxy } from '../../support/api-proxy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The name the install's lease Role grants (resourceNames), as in a real install.
const leaseName = 'pruneguard-operator';
const leaseDurationMs = defaultLeaderElection.leaseDurationSeconds * 1000;
const { renewDeadlineMs } = defaultLeaderElection;

describe('leader election when the API server stops answering', () => {
  let cluster: TestCluster;
  let leases: CoordinationV1Api;
  const lease = async () =>
    (await leases.readNamespacedLease({ name: leaseName, namespace: 'pruneguard-system' })).spec ?? {};

  before(async () => {
    cluster = await testCluster();
    await installPruneguard(cluster);
    leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
  });

  /**
   * Cleanups run last first, once the test ends: replicas stop before the proxy they talk
   * through closes; last, the lease is deleted, as a replica that lost leadership does not hand
   * it back, and the next test (or file) must find it free.
   */
  function cleanups(t: TestContext): (cleanup: () => Promise<unknown>) => void {
    const pending: (() => Promise<unknown>)[] = [
      () =>
        leases
          .deleteNamespacedLease({ name: leaseName, namespace: 'pruneguard-system' })
          .catch((error: unknown) => assert.equal((error as { code?: number }).code, 404)),
    ];
    t.after(async () => {
      for (const cleanup of pending.reverse()) await cleanup();
    });
    return (cleanup) => pending.push(cleanup);
  }

  /** A replica that leads through its own proxy, with the time its `done` settled. */
  async function startLeader(defer: ReturnType<typeof cleanups>, identity: string) {
    const proxy = await ApiProxy.start(cluster.kubeConfig());
    defer(() => proxy.close());
    const throughProxy: TestCluster = {
      ...cluster,
      kubeConfig: () => proxy.kubeConfig(cluster.kubeConfig()),
    };
    const operator = await startTestOperator(throughProxy, {
      namespace: 'none',
      leaderElection: { leaseName, identity },
    });
    defer(() => operator.stop());
    const settled = operator.done.then(
      () => ({ at: Date.now(), error: undefined as unknown }),
      (error: unknown) => ({ at: Date.now(), error }),
    );
    await eventually('the first replica to lead', async () =>
      (await lease()).holderIdentity === identity ? true : undefined,
    );
    return { proxy, operator, settled, throughProxy };
  }

  async function startStandby(
    defer: ReturnType<typeof cleanups>,
    on: TestCluster,
    identity: string,
  ): Promise<RunningOperator> {
    const operator = await startTestOperator(on, {
      namespace: 'none',
      leaderElection: { leaseName, identity },
    });
    defer(() => operator.stop());
    // Long enough for the standby to have read the lease.
    await new Promise((resolve) => setTimeout(resolve, defaultLeaderElection.retryPeriodMs + 1000));
    return operator;
  }

  /** The leader's report, checked against the lease as it stood then (the leader's last renewal). */
  async function checkSteppedDown(
    t: TestContext,
    leader: { operator: RunningOperator; settled: Promise<{ at: number; error: unknown }> },
    identity: string,
    stalledAt: number,
  ): Promise<number> {
    const { at, error } = await leader.settled;
    const current = await lease();
    assert.ok(error instanceof LeadershipLost, `the leader reports a LeadershipLost, got ${String(error)}`);
    assert.equal(current.holderIdentity, identity, 'no one else holds the lease when the leader steps down');
    const renewedAt = new Date(current.renewTime!).getTime();
    const sinceRenewal = at - renewedAt;
    t.diagnostic(
      `stepped down ${(sinceRenewal / 1000).toFixed(1)} s after its last renewal ` +
        `(${((at - stalledAt) / 1000).toFixed(1)} s after the stall); lease duration ${leaseDurationMs / 1000} s`,
    );
    assert.ok(
      sinceRenewal <= renewDeadlineMs + 1000,
      `stepped down ${sinceRenewal} ms after its last renewal`,
    );
    assert.ok(sinceRenewal < leaseDurationMs);
    await assert.rejects(fetch(`http://127.0.0.1:${leader.operator.port}/healthz`), 'it stopped serving');
    return at;
  }

  it('a leader whose requests hang steps down within the renew deadline, before the standby takes over', async (t) => {
    const defer = cleanups(t);
    const leader = await startLeader(defer, 'stalled-leader');
    await startStandby(defer, cluster, 'standby');

    leader.proxy.stall();
    const stalledAt = Date.now();
    const takeover = eventually(
      'the standby to take over',
      async () => ((await lease()).holderIdentity === 'standby' ? Date.now() : undefined),
      leaseDurationMs + 15_000,
      100,
    );
    const steppedDownAt = await checkSteppedDown(t, leader, 'stalled-leader', stalledAt);
    const takenOverAt = await takeover;
    t.diagnostic(`the standby took over ${((takenOverAt - steppedDownAt) / 1000).toFixed(1)} s after that`);
    assert.ok(takenOverAt > steppedDownAt, 'the two never lead at once');

    await leader.proxy.resume();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(
      (await lease()).holderIdentity,
      'standby',
      'requests held up by the stall renew nothing later',
    );
  });

  it('with the API server hung for every replica, the leader steps down in time and a standby takes over after recovery', async (t) => {
    const defer = cleanups(t);
    const leader = await startLeader(defer, 'hung-leader');
    await startStandby(defer, leader.throughProxy, 'standby');

    leader.proxy.stall();
    const stalledAt = Date.now();
    await checkSteppedDown(t, leader, 'hung-leader', stalledAt);
    // Past the lease duration: the standby, cut off as well, has not taken over.
    await new Promise((resolve) => setTimeout(resolve, stalledAt + leaseDurationMs + 5000 - Date.now()));
    assert.equal((await lease()).holderIdentity, 'hung-leader');

    await leader.proxy.resume();
    const resumedAt = Date.now();
    const takenOverAt = await eventually(
      'the standby to take over after recovery',
      async () => ((await lease()).holderIdentity === 'standby' ? Date.now() : undefined),
      leaseDurationMs + renewDeadlineMs + 10_000,
      100,
    );
    t.diagnostic(`the standby took over ${((takenOverAt - resumedAt) / 1000).toFixed(1)} s after recovery`);
  });
  it('`pruneguard operator` exits with code 1 when it steps down, leaving nothing running', async (t) => {
    const defer = cleanups(t);
    const proxy = await ApiProxy.start(cluster.kubeConfig());
    defer(() => proxy.close());
    const throughProxy: TestCluster = {
      ...cluster,
      kubeConfig: () => proxy.kubeConfig(cluster.kubeConfig()),
    };
    const kubeconfig = path.join(await temporaryDirectory('leader-election'), 'operator.kubeconfig');
    await writeFile(kubeconfig, (await operatorKubeConfig(throughProxy)).exportConfig());
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'operator',
        '--leader-elect',
        '--lease-namespace=pruneguard-system',
        '--namespace=none',
        '--port=0',
        `--kubeconfig=${kubeconfig}`,
      ],
      { cwd: repoRoot, stdio: 'ignore', env: { ...process.env, PRUNEGUARD_LOG_LEVEL: 'warn' } },
    );
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    defer(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    // The CLI's identity is <hostname>-<pid>.
    await eventually(
      'the operator process to lead',
      async () => ((await lease()).holderIdentity?.endsWith(`-${child.pid}`) ? true : undefined),
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, defaultLeaderElection.retryPeriodMs + 1000));

    proxy.stall();
    const stalledAt = Date.now();
    const renewedAt = new Date((await lease()).renewTime!).getTime();
    const timeout = new Promise<undefined>((resolve) =>
      setTimeout(() => resolve(undefined), leaseDurationMs + 10_000),
    );
    const exit = await Promise.race([exited, timeout]);
    assert.ok(exit, `the process still runs ${(leaseDurationMs + 10_000) / 1000} s after the stall`);
    t.diagnostic(
      `exited with code ${exit.code} ${((exit.at - renewedAt) / 1000).toFixed(1)} s after its last renewal ` +
        `(${((exit.at - stalledAt) / 1000).toFixed(1)} s after the stall)`,
    );
    assert.equal(exit.code, 1);
    assert.ok(exit.at - renewedAt < leaseDurationMs, 'it exited before a standby could take over');
  });
});
