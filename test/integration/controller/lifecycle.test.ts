import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { mergePatch } from '../../../src/actuators/kubernetes.js';
import { dataVersionAnnotation } from '../../../src/controller/data-versions.js';
import { clusterEgressDefaults } from '../../../src/security/egress.js';
import type { RunningOperator } from '../../../src/controller/operator.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, startTestOperator } from '../../support/operator.js';
import { startOomKillingRunner, type PodRunner } from '../../support/pod-runner.js';
import { createClaims, Objects, penguinsData, penguinsEvaluation } from './fixtures.js';

/** The operator's clock runs ahead by `offsetMs`, so a test can cross a schedule interval at once. */
const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };

describe('evaluation lifecycle', () => {
  let cluster: TestCluster;
  let pods: PodRunner;

  before(async () => {
    cluster = await testCluster();
    await installPruneguard(cluster);
    // These tests are about scheduling and cleanup, so every pod ends at once (as an OOMKilled pod would).
    pods = await startOomKillingRunner(
      cluster.kubeConfig(),
      'pruneguard.io/evaluation in (scheduled, deleted, watched)',
    );
  });
  after(() => pods?.stop());

  it('runs on its interval, and a restarted operator starts no duplicate', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, '/nonexistent', ['models', 'data']);
    let operator: RunningOperator = await startTestOperator(cluster, { namespace, now: clock.now });
    t.after(() => operator.stop());

    await objects.createEvaluation(penguinsEvaluation('scheduled', { schedule: { interval: '10m' } }));
    const finished = (count: number) => async () => {
      const runs = await objects.runs();
      return runs.length === count && runs.every((r) => r.status?.phase === 'Failed') ? runs : undefined;
    };
    await eventually('the first run to finish', finished(1), 60_000);
    const poke = (value: string) =>
      objects.patchEvaluation('scheduled', { metadata: { annotations: { 'test/poke': value } } });
    await poke('1');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await objects.runs()).length, 1, 'no second run before the interval');
    const nextRunAt = (await objects.evaluation('scheduled')).status?.nextRunAt;
    assert.ok(nextRunAt, 'status.nextRunAt is set');

    clock.offsetMs += 10 * 60_000 + 1000;
    await poke('2');
    const runs = await eventually('the second run, one interval later', finished(2), 60_000);
    assert.deepEqual(
      runs.map((r) => [r.metadata.name, r.spec.trigger]),
      [
        ['scheduled-00001', 'Schedule'],
        ['scheduled-00002', 'Schedule'],
      ],
    );

    await operator.stop();
    operator = await startTestOperator(cluster, { namespace, now: clock.now });
    await poke('3');
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(
      (await objects.runs()).map((r) => r.metadata.name),
      ['scheduled-00001', 'scheduled-00002'],
      'a restarted operator finds the runs in the API and starts nothing new',
    );

    await objects.patchEvaluation('scheduled', { spec: { runtime: { batchSize: 64 } } });
    const afterChange = await eventually('a run for the spec change', async () => {
      const all = await objects.runs();
      return all.find((r) => r.metadata.name === 'scheduled-00003');
    });
    assert.equal(afterChange.spec.trigger, 'SpecChange');
    assert.equal(afterChange.spec.evaluationSpec.runtime.batchSize, 64, 'a run records the spec it ran with');

    await objects.patchEvaluation('scheduled', { spec: { historyLimit: 1 } });
    await eventually(
      'older finished runs to be garbage-collected down to historyLimit',
      async () => {
        const names = (await objects.runs()).map((r) => r.metadata.name);
        return names.length === 1 && names[0] === 'scheduled-00004' ? names : undefined;
      },
      60_000,
    );
  });

  it('starts a run when its data changes (ETag, ConfigMap resourceVersion, claim annotation), once the change has settled', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, '/nonexistent', ['models', 'data']);
    // The current data: a real HTTP server whose ETag the test changes (the operator sends HEAD).
    let etag = '"v1"';
    const server = http.createServer((request, response) => {
      response.writeHead(200, { etag, 'content-length': '2' });
      response.end(request.method === 'HEAD' ? undefined : '{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const currentUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/current.jsonl`;
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'penguins-reference' }, data: { 'reference.csv': 'a\n1\n' } },
    });
    const operator = await startTestOperator(cluster, {
      namespace,
      now: clock.now,
      reconciler: { egress: { ...clusterEgressDefaults, allowLoopback: true } },
    });
    t.after(() => operator.stop());

    await objects.createEvaluation(
      penguinsEvaluation('watched', {
        schedule: { interval: '1h', dataChanges: { checkInterval: '10s', settle: '10s' } },
        data: {
          ...penguinsData,
          reference: { uri: 'configmap://penguins-reference/reference.csv' },
          current: { uri: currentUri },
        },
      }),
    );
    const finished = (count: number) => async () => {
      const runs = await objects.runs();
      return runs.length === count && runs.every((r) => r.status?.phase === 'Failed') ? runs : undefined;
    };
    const [first] = await eventually('the first run to finish', finished(1), 60_000);
    assert.equal(first!.spec.dataVersions?.current, 'ETag "v1"', 'a run records the versions it read');
    assert.match(first!.spec.dataVersions?.reference ?? '', /^resourceVersion \d+$/);
    assert.equal(
      first!.spec.dataVersions?.teacher,
      undefined,
      'a claim without the annotation is not watched',
    );
    const watch = (await objects.evaluation('watched')).status?.dataWatch;
    assert.match(
      watch?.sources.find((s) => s.source === 'teacher')?.problem ?? '',
      /^not watched: the claim models has no annotation pruneguard.io\/data-version; set it when its files change/,
    );
    // The pipeline that writes the models' claim says so; the latest run saw no version of it, so
    // this alone starts nothing: the next run records it.
    const annotateModels = (version: string) =>
      core.patchNamespacedPersistentVolumeClaim(
        {
          namespace,
          name: 'models',
          body: { metadata: { annotations: { [dataVersionAnnotation]: version } } },
        },
        mergePatch,
      );
    await annotateModels('2026-11-29.1');

    const poke = (value: string) =>
      objects.patchEvaluation('watched', { metadata: { annotations: { 'test/poke': value } } });
    const advance = async (seconds: number, value: string) => {
      clock.offsetMs += seconds * 1000;
      await poke(value);
      await new Promise((r) => setTimeout(r, 1500));
    };
    await advance(11, 'unchanged');
    await advance(11, 'still unchanged');
    assert.equal((await objects.runs()).length, 1, 'the same versions, and a first version, start nothing');

    etag = '"v2"';
    await advance(11, 'changed');
    assert.equal((await objects.runs()).length, 1, 'a change starts nothing before it has settled');
    await eventually('status to show the new version while it settles', async () => {
      const seen = (await objects.evaluation('watched')).status?.dataWatch?.sources.find(
        (s) => s.source === 'current',
      );
      return seen?.version === 'ETag "v2"' ? seen : undefined;
    });
    assert.equal((await objects.runs()).length, 1, 'still no run before it has settled');
    await advance(11, 'settled');
    const runs = await eventually('a run for the new current data', finished(2), 60_000);
    assert.equal(runs[1]!.spec.trigger, 'DataChange');
    assert.equal(runs[1]!.spec.triggerDetail, `current ${currentUri} changed (ETag "v1" → ETag "v2")`);
    const evaluation = await objects.evaluation('watched');
    assert.equal(evaluation.status?.lastRun?.trigger, 'DataChange');
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'reason=RunStarted' });
    assert.ok(
      events.items.some((e) => e.message?.includes('DataChange: current')),
      'the RunStarted Event says which data changed',
    );

    await core.patchNamespacedConfigMap(
      { namespace, name: 'penguins-reference', body: { data: { 'reference.csv': 'a\n2\n' } } },
      mergePatch,
    );
    await advance(11, 'reference changed');
    await advance(11, 'reference settled');
    const third = await eventually('a run for the new reference data', finished(3), 60_000);
    assert.match(
      third[2]!.spec.triggerDetail ?? '',
      /^reference configmap:\/\/penguins-reference\/reference.csv changed/,
    );
    assert.equal(third[2]!.spec.dataVersions?.teacher, `${dataVersionAnnotation} 2026-11-29.1`);

    await annotateModels('2026-11-29.2');
    await advance(11, 'models changed');
    await advance(11, 'models settled');
    const fourth = await eventually('a run for the new models', finished(4), 60_000);
    assert.equal(
      fourth[3]!.spec.triggerDetail,
      `teacher pvc://models/penguins/teacher.onnx changed (${dataVersionAnnotation} 2026-11-29.1 → ${dataVersionAnnotation} 2026-11-29.2)`,
    );
  });

  it('deletes its runs and Jobs when the evaluation is deleted, then lets it go', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await createClaims(kc, namespace, '/nonexistent', ['models', 'data']);
    const operator = await startTestOperator(cluster, { namespace });
    t.after(() => operator.stop());

    await objects.createEvaluation(penguinsEvaluation('deleted'));
    await eventually('a run', async () => ((await objects.runs()).length === 1 ? true : undefined));
    const withFinalizer = await objects.evaluation('deleted');
    assert.deepEqual(withFinalizer.metadata.finalizers, ['pruneguard.io/cleanup']);

    await objects.deleteEvaluation('deleted');
    await eventually('the evaluation to be gone', async () => {
      try {
        await objects.evaluation('deleted');
        return undefined;
      } catch (error) {
        return (error as { code?: number }).code === 404 ? true : undefined;
      }
    });
    assert.deepEqual(await objects.runs(), []);
    const batch = kc.makeApiClient(BatchV1Api);
    await eventually('its Jobs to be garbage-collected', async () =>
      (await batch.listNamespacedJob({ namespace })).items.length === 0 ? true : undefined,
    );
  });

  it('elects one leader among replicas, and a standby takes over when the leader stops', async () => {
    // The name the install's lease Role grants (resourceNames), as in a real install.
    const leaseName = 'pruneguard-operator';
    const first = await startTestOperator(cluster, {
      namespace: 'none',
      leaderElection: { leaseName, identity: 'replica-a' },
    });
    const second = await startTestOperator(cluster, {
      namespace: 'none',
      leaderElection: { leaseName, identity: 'replica-b' },
    });
    const leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
    const holder = async () =>
      (await leases.readNamespacedLease({ name: leaseName, namespace: 'pruneguard-system' })).spec
        ?.holderIdentity;
    try {
      const leader = await eventually('a leader', async () => (await holder()) || undefined);
      const [running, standby] = leader === 'replica-a' ? [first, second] : [second, first];
      assert.equal(await gauge(running.port, 'pruneguard_leader'), 1);
      assert.equal(await gauge(standby.port, 'pruneguard_leader'), 0);
      const ready = await fetch(`http://127.0.0.1:${standby.port}/readyz`);
      assert.equal(ready.status, 200, 'a standby replica is ready');

      await running.stop();
      const next = await eventually('the standby to take over', async () => {
        const h = await holder();
        return h && h !== leader ? h : undefined;
      });
      assert.notEqual(next, leader);
      await eventually('the new leader to report it', async () =>
        (await gauge(standby.port, 'pruneguard_leader')) === 1 ? true : undefined,
      );
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

async function gauge(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}
