/**
 * spec.live in the control loop: a real Prometheus scrapes a real serving process (prom-client
 * histograms of a stable and a canary variant whose latency and traffic the test sets), the
 * operator reads it when a run's offline grades are in, and the verdict steers a stable/canary
 * Deployment pair. The offline run passes (penguins, pruned-30), so whatever is not Pass comes
 * from the live metrics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import yaml from 'js-yaml';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Action, PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';
import { clusterEgressDefaults } from '../../../src/security/egress.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { examplesDir } from '../../support/crds.js';
import { LocalPrometheus } from '../../support/prometheus.js';
import { canaryScenarios, p95Query, ServingProcess, type Traffic } from '../../support/serving.js';
import {
  createClaims,
  createDeploymentPair,
  type Loop,
  Objects,
  pairTarget,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
  replicasOf,
  startLoop,
} from './fixtures.js';

const scenarios = {
  slow: canaryScenarios.slow,
  idle: canaryScenarios.idle,
  // Slow too: Critical, were Prometheus there to say so.
  unreachable: canaryScenarios.slow,
} satisfies Record<string, { stable: Traffic; canary: Traffic }>;
type Scenario = keyof typeof scenarios;

describe('live serving metrics steer the canary beside the offline grades', () => {
  let cluster: TestCluster;
  let loop: Loop;
  const servers: ServingProcess[] = [];
  let prometheus: LocalPrometheus;

  before(async () => {
    for (const traffic of Object.values(scenarios)) servers.push(await ServingProcess.start(traffic));
    prometheus = await LocalPrometheus.start(
      Object.keys(scenarios).map((scenario, i) => ({ address: servers[i]!.target, labels: { scenario } })),
    );
    const filled = Date.now() + 40_000; // 15 s for the first rates, then 10 points at a 2 s step
    cluster = await testCluster();
    loop = await startLoop(cluster, {
      labelSelector: `pruneguard.io/evaluation in (${Object.keys(scenarios).join(',')})`,
      // Prometheus listens on loopback here; in a cluster it is a Service on a private address.
      reconciler: { egress: { ...clusterEgressDefaults, allowLoopback: true } },
    });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, filled - Date.now())));
  });

  after(async () => {
    await loop?.stop();
    await prometheus?.stop();
    await Promise.all(servers.map((server) => server.stop()));
  });

  async function pairNamespace(t: TestContext) {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    await createClaims(kc, namespace, loop.pvcRoot, ['models', 'data']);
    await createDeploymentPair(kc, namespace, 3, 1);
    return { namespace, kc, objects: new Objects(kc, namespace) };
  }

  function liveEvaluation(scenario: Scenario, prometheusSpec: Record<string, unknown> = {}) {
    return penguinsEvaluation(scenario, {
      data: penguinsData,
      thresholds: passingThresholds,
      target: pairTarget(),
      policy: { consecutiveBreaches: 1 },
      live: {
        prometheus: { address: prometheus.url, timeoutSeconds: 5, ...prometheusSpec },
        window: '40s',
        step: '2s',
        minSamples: 10,
        metrics: [
          {
            name: 'p95LatencyMs',
            canary: p95Query(scenario, 'canary'),
            baseline: p95Query(scenario, 'stable'),
            unit: 'ms',
            target: 150,
            warning: 300,
            maxRelativeChange: { target: 0.2, warning: 0.5 },
          },
        ],
      },
    });
  }

  const graded = (objects: Objects, name: string) =>
    eventually(
      `${name} to be graded`,
      async () => {
        const evaluation = await objects.evaluation(name);
        return evaluation.status?.lastRun?.completedAt ? evaluation : undefined;
      },
      120_000,
      500,
    );

  const actionsOf = (evaluation: PrunedModelEvaluation) =>
    (evaluation.status?.actions ?? []).map((a: Action) => [a.type, a.state]);

  /** Inconclusive holds: one Hold, done, and never a Rollback. */
  const heldOnly = (objects: Objects, name: string) =>
    eventually(`${name}'s Hold to be done`, async () => {
      const actions = actionsOf(await objects.evaluation(name));
      assert.ok(
        !actions.some(([type]) => type === 'Rollback'),
        `never a rollback: ${JSON.stringify(actions)}`,
      );
      return JSON.stringify(actions) === JSON.stringify([['Hold', 'Done']]) ? actions : undefined;
    });

  it('a slow canary grades Critical on its live p95 and is rolled back', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    await objects.createEvaluation(liveEvaluation('slow'));
    const evaluation = await graded(objects, 'slow');
    const latency = evaluation.status?.live?.find((m) => m.name === 'p95LatencyMs');
    assert.equal(latency?.grade, 'Critical', JSON.stringify(latency));
    assert.ok((latency?.relativeChange ?? 0) > 0.5, `relative change ${latency?.relativeChange}`);
    assert.ok((latency?.pValue ?? 1) < 0.05, `p ${latency?.pValue}`);
    assert.equal(evaluation.status?.verdict, 'Critical');
    assert.equal(evaluation.status?.liveVerdict, 'Critical');
    assert.equal(
      evaluation.status?.metrics?.find((m) => m.name === 'accuracyDrop')?.grade,
      'Pass',
      'offline, the candidate passes',
    );
    assert.match(evaluation.status?.explanation ?? '', /^live p95LatencyMs critical/);
    await eventually(
      'the canary to be scaled to 0',
      async () => ((await replicasOf(kc, namespace)).canary === 0 ? true : undefined),
      60_000,
    );
    // Done once the Deployment controller shows the canary at 0, a moment after the write.
    await eventually("slow's Rollback to be done", async () => {
      const actions = actionsOf(await objects.evaluation('slow'));
      return JSON.stringify(actions) === JSON.stringify([['Rollback', 'Done']]) ? actions : undefined;
    });

    const printed = await cluster.kubectl(['get', 'pme', 'slow', '-n', namespace]);
    assert.match(printed.stdout, /^NAME\s+VERDICT\s+ACCURACYDROP\s+P95\s+PSI\s+LIVE\s/m);
    assert.match(printed.stdout, /^slow\s+Critical\s+\S+\s+\S+\s+\S+\s+Critical\s/m);
  });

  it('a canary with too few requests is Inconclusive and holds', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    await objects.createEvaluation(liveEvaluation('idle'));
    const evaluation = await graded(objects, 'idle');
    const latency = evaluation.status?.live?.find((m) => m.name === 'p95LatencyMs');
    assert.equal(latency?.grade, 'Inconclusive', JSON.stringify(latency));
    assert.match(
      latency?.reason ?? '',
      /canary points with a value in the 40s window, fewer than the 10 needed/,
    );
    assert.equal(evaluation.status?.verdict, 'Inconclusive');
    await heldOnly(objects, 'idle');
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 3, canary: 1 });
  });

  it('credentials in a Secret not labelled for pruneguard are not used: Inconclusive, never a rollback', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    const secretValue = 'live-token-7f3a9c1e5b';
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'prometheus-auth' }, stringData: { token: secretValue } },
    });
    await objects.createEvaluation(liveEvaluation('slow', { credentialsSecret: 'prometheus-auth' }));
    const evaluation = await graded(objects, 'slow');
    const latency = evaluation.status?.live?.find((m) => m.name === 'p95LatencyMs');
    assert.equal(latency?.grade, 'Inconclusive');
    assert.match(
      latency?.reason ?? '',
      /Secret .*prometheus-auth is not labelled pruneguard.io\/credentials/,
    );
    assert.equal(evaluation.status?.verdict, 'Inconclusive');
    assert.ok(!JSON.stringify(evaluation).includes(secretValue), 'the token is nowhere in the evaluation');
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 3, canary: 1 });
  });

  it('every live query of manifests/examples is PromQL the real Prometheus accepts', async () => {
    const queries = (await readdir(examplesDir))
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) =>
        yaml
          .loadAll(readFileSync(path.join(examplesDir, file), 'utf8'))
          .flatMap((doc) => (doc as PrunedModelEvaluation | null)?.spec?.live?.metrics ?? [])
          .flatMap((metric) =>
            [metric.canary, metric.baseline ?? []].flat().map((query) => ({ file, query })),
          ),
      );
    assert.ok(queries.length >= 5, `the examples hold live queries: ${queries.length}`);
    for (const { file, query } of queries) {
      const answer = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await answer.json()) as { status: string; error?: string };
      assert.equal(body.status, 'success', `${file}: ${query}: ${body.error}`);
    }
  });

  it('Prometheus stopped mid-run: Inconclusive with the reason, no rollback', async (t) => {
    const { namespace, kc, objects } = await pairNamespace(t);
    await objects.createEvaluation(liveEvaluation('unreachable'));
    await eventually('the run to start', async () => ((await objects.runs()).length > 0 ? true : undefined));
    await prometheus.stop();
    const evaluation = await graded(objects, 'unreachable');
    const latency = evaluation.status?.live?.find((m) => m.name === 'p95LatencyMs');
    assert.equal(latency?.grade, 'Inconclusive', JSON.stringify(latency));
    assert.match(latency?.reason ?? '', /Prometheus http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.equal(evaluation.status?.verdict, 'Inconclusive');
    await heldOnly(objects, 'unreachable');
    assert.deepEqual(await replicasOf(kc, namespace), { stable: 3, canary: 1 });
  });
});
