/**
 * spec.live against the real thing: a real Prometheus scraping real serving processes (prom-client
 * histograms of the traffic each generates), queried and graded by evaluateLive. One scenario per
 * serving process, told apart by a scrape label, so all of them fill their windows at once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import yaml from 'js-yaml';

import type { Live, LiveMetric } from '../../../src/api/v1alpha1/live.js';
import { evaluateLive } from '../../../src/live/evaluate-live.js';
import { localEgressDefaults } from '../../../src/security/egress.js';
import { generateCertificates } from '../../support/certificates.js';
import { runCommand } from '../../support/cluster.js';
import { LocalPrometheus } from '../../support/prometheus.js';
import { canaryScenarios, p95Query, ServingProcess } from '../../support/serving.js';

const policy = localEgressDefaults;
const scenarios = canaryScenarios;
type Scenario = keyof typeof scenarios;

function latencyMetric(scenario: Scenario): LiveMetric {
  return {
    name: 'p95LatencyMs',
    canary: p95Query(scenario, 'canary'),
    baseline: p95Query(scenario, 'stable'),
    direction: 'lowerIsBetter',
    unit: 'ms',
    target: 150,
    warning: 300,
    maxRelativeChange: { target: 0.2, warning: 0.5 },
    enabled: true,
  };
}

function live(address: string, metrics: LiveMetric[]): Live {
  return {
    prometheus: { address, timeoutSeconds: 5 },
    window: '40s',
    step: '2s',
    minSamples: 10,
    confidence: 0.95,
    metrics,
  };
}

describe('live metrics from a real Prometheus', () => {
  const servers: ServingProcess[] = [];
  let prometheus: LocalPrometheus;

  before(async () => {
    for (const traffic of Object.values(scenarios)) servers.push(await ServingProcess.start(traffic));
    prometheus = await LocalPrometheus.start(
      Object.keys(scenarios).map((scenario, i) => ({ address: servers[i]!.target, labels: { scenario } })),
    );
    // 15 s for the first rates, then 10 points at a 2 s step, and a margin.
    await new Promise((resolve) => setTimeout(resolve, 40_000));
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  });

  test('a slow canary is Critical (+% over its baseline, Mann–Whitney significant), an equal one passes, an idle one is Inconclusive', async () => {
    const results = await evaluateLive(
      live(prometheus.url, [
        { ...latencyMetric('slow'), name: 'slow' },
        { ...latencyMetric('equal'), name: 'equal' },
        { ...latencyMetric('idle'), name: 'idle' },
      ]),
      undefined,
      policy,
      new Date(),
    );
    const [slow, equal, idle] = results;
    const shown = JSON.stringify(results, null, 1);
    assert.equal(slow!.grade, 'Critical', shown);
    assert.ok(slow!.relativeChange! > 0.5 && slow!.pValue! < 0.05, shown);
    assert.ok(slow!.samples.canary >= 10 && slow!.samples.baseline >= 10, shown);
    assert.equal(equal!.grade, 'Pass', shown);
    assert.ok(Math.abs(equal!.relativeChange!) < 0.2, shown);
    assert.equal(idle!.grade, 'Inconclusive', shown);
    assert.match(
      idle!.reason!,
      /^only \d+ canary points? with a value in the 40s window, fewer than the 10 needed$/,
      shown,
    );
  });

  test('a query that returns several series, and one Prometheus refuses, name the metric and the address', async () => {
    const [several, refused] = await evaluateLive(
      live(prometheus.url, [
        {
          ...latencyMetric('equal'),
          name: 'perVariant',
          canary: 'sum by (variant) (rate(inference_requests_total{scenario="equal"}[15s]))',
        },
        { ...latencyMetric('equal'), name: 'typo', canary: 'rate(inference_requests_total[15s' },
      ]),
      undefined,
      policy,
      new Date(),
    );
    assert.equal(several!.grade, 'Inconclusive');
    assert.equal(
      several!.reason,
      `Prometheus ${prometheus.url}: perVariant canary query returned 2 series; aggregate it to one, e.g. with sum or histogram_quantile`,
    );
    assert.equal(refused!.grade, 'Inconclusive');
    assert.match(
      refused!.reason!,
      new RegExp(`^Prometheus ${prometheus.url}: typo canary query: bad_data: .*parse error`),
    );
  });

  test('a token and a client certificate reach Prometheus through an authenticating TLS proxy; the token never shows', async () => {
    const token = 'live-test-token-5f2c';
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-live-tls-'));
    const certificates = await generateCertificates(dir);
    const [ca, cert, key, clientCert, clientKey] = await Promise.all(
      [
        certificates.caCert,
        certificates.servingCert,
        certificates.servingKey,
        certificates.adminCert,
        certificates.adminKey,
      ].map((file) => readFile(file, 'utf8')),
    );
    const upstream = new URL(prometheus.url);
    const seen: string[] = [];
    // What a kube-rbac-proxy or an oauth proxy in front of Prometheus does: check, then forward.
    const proxy = https.createServer(
      { ca, cert, key, requestCert: true, rejectUnauthorized: true },
      (request, response) => {
        seen.push(request.headers.authorization ?? '(none)');
        if (request.headers.authorization !== `Bearer ${token}`)
          return response.writeHead(401).end('Unauthorized');
        const forward = http.request(
          { host: upstream.hostname, port: upstream.port, path: request.url, method: request.method },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
          },
        );
        forward.on('error', () => response.writeHead(502).end());
        request.pipe(forward);
      },
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const spec = live(address, [latencyMetric('slow')]);
      const [authorized] = await evaluateLive(
        spec,
        { token, ca, cert: clientCert, key: clientKey },
        policy,
        new Date(),
      );
      assert.equal(authorized!.grade, 'Critical', JSON.stringify(authorized));
      assert.deepEqual([...new Set(seen)], [`Bearer ${token}`]);

      seen.length = 0;
      const [wrongToken] = await evaluateLive(
        spec,
        { token: 'not-it', ca, cert: clientCert, key: clientKey },
        policy,
        new Date(),
      );
      assert.equal(wrongToken!.grade, 'Inconclusive');
      assert.match(
        wrongToken!.reason!,
        new RegExp(`^Prometheus ${address}: p95LatencyMs (canary|baseline) query: HTTP 401 Unauthorized$`),
      );
      assert.ok(!JSON.stringify(wrongToken).includes('not-it'));
      // A 401 is an answer, not an outage: asked once per query, never retried.
      assert.equal(seen.length, 2);

      const [noClientCertificate] = await evaluateLive(spec, { token, ca }, policy, new Date());
      assert.equal(noClientCertificate!.grade, 'Inconclusive');
      assert.match(noClientCertificate!.reason!, new RegExp(`^Prometheus ${address}: `));
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('pruneguard evaluate grades spec.live beside the offline metrics: the slow canary makes it Critical', async () => {
    const fixtures = path.resolve('test/fixtures/penguins');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-live-cli-'));
    try {
      const manifest = path.join(dir, 'evaluation.yaml');
      await writeFile(
        manifest,
        yaml.dump({
          apiVersion: 'pruneguard.io/v1alpha1',
          kind: 'PrunedModelEvaluation',
          metadata: { name: 'penguins-live' },
          spec: {
            teacher: { uri: `file://${fixtures}/teacher.onnx` },
            candidate: { uri: `file://${fixtures}/pruned-30.onnx` },
            data: {
              reference: { uri: `file://${fixtures}/reference.csv` },
              current: { uri: `file://${fixtures}/current.jsonl` },
              features: [
                'Beak Length (mm)',
                'Beak Depth (mm)',
                'Flipper Length (mm)',
                'Body Mass (g)',
                'Island',
              ],
              categoricalFeatures: ['Island'],
              label: 'Species',
            },
            schedule: { interval: '30m' },
            // Offline the candidate passes (the kwok tests' passingThresholds): the verdict is the live one.
            thresholds: {
              psi: { target: 0.2, warning: 0.3 },
              ...Object.fromEntries(
                [
                  'p95LatencyMs',
                  'throughputQps',
                  'memoryRatio',
                  'powerWatts',
                  'energyPer1kInferencesJoules',
                  'carbonKgPer1M',
                ].map((metric) => [metric, { enabled: false }]),
              ),
            },
            live: live(prometheus.url, [latencyMetric('slow')]),
          },
        }),
      );
      const run = await runCommand('env', [
        'PRUNEGUARD_MEASUREMENT=quick',
        process.execPath,
        '--import',
        'tsx',
        'src/cli/main.ts',
        'evaluate',
        '-f',
        manifest,
        '-o',
        'json',
      ]);
      assert.equal(run.code, 4, `exit 4 (Critical): ${run.stderr}`);
      const report = JSON.parse(run.stdout) as { status: Record<string, unknown> };
      const status = report.status as {
        verdict: string;
        liveVerdict: string;
        explanation: string;
        live: { name: string; grade: string }[];
        metrics: { name: string; grade: string }[];
      };
      assert.equal(status.verdict, 'Critical');
      assert.equal(status.liveVerdict, 'Critical');
      assert.deepEqual(
        status.live.map((m) => [m.name, m.grade]),
        [['p95LatencyMs', 'Critical']],
      );
      assert.equal(status.metrics.find((m) => m.name === 'accuracyDrop')?.grade, 'Pass');
      assert.match(status.explanation, /^live p95LatencyMs critical/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Prometheus out of reach: every metric Inconclusive with the reason, never Critical', async () => {
    const spec = live(prometheus.url, [latencyMetric('slow'), { ...latencyMetric('idle'), name: 'idle' }]);
    await prometheus.stop();
    const started = Date.now();
    const results = await evaluateLive(spec, undefined, policy, new Date());
    for (const result of results) {
      assert.equal(result.grade, 'Inconclusive');
      assert.match(
        result.reason!,
        new RegExp(`^Prometheus ${spec.prometheus.address}: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+$`),
      );
      assert.deepEqual(result.samples, { canary: 0, baseline: 0 });
    }
    // Three attempts, 0.5 s and 1 s apart, for all queries at once.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500 && elapsed < 5000, `${elapsed} ms`);
  });
});
