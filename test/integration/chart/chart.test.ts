import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import type { MetricValueWithName } from 'prom-client';
import {
  metricDefinitions,
  metricNames,
  type Grade,
  type MetricName,
  type MetricResult,
  type PrunedModelEvaluationStatus,
} from '../../../src/api/v1alpha1/index.js';
import { evaluatorRules } from '../../../src/controller/evaluator-access.js';
import { OperatorMetrics } from '../../../src/telemetry/operator-metrics.js';
import { runCommand, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installCrds } from '../../support/crds.js';
import { canonical, documentedRules, permissionTables, type Rule } from '../../support/security-doc.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const chartDir = path.join(repoRoot, 'charts/pruneguard');
const monitoringCrds = ['servicemonitors', 'prometheusrules'].map((plural) =>
  path.join(repoRoot, `test/fixtures/crds/prometheus-operator-v0.85.0-${plural}.yaml`),
);
// --set-json, not --set: Helm applies every --set after every --set-json, and the values test
// below overrides these one by one with --set-json.
const optionalObjects = ['serviceMonitor', 'prometheusRule', 'grafanaDashboard'];
const everythingEnabled = optionalObjects.flatMap((optional) => ['--set-json', `${optional}.enabled=true`]);

type Json = Record<string, unknown>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Builds (first time only) or reuses a tool from hack/<name>/build.sh, which prints its directory last. */
async function buildTool(name: string, binary: string): Promise<string> {
  const built = await runCommand('bash', [path.join(repoRoot, 'hack', name, 'build.sh')]);
  assert.equal(built.code, 0, `hack/${name}/build.sh failed: ${built.stderr}`);
  return path.join(built.stdout.trim().split('\n').at(-1)!, binary);
}

let helmBinary: string;
let promqlCheck: string;

async function helm(args: string[]): Promise<string> {
  const result = await runCommand(helmBinary, args);
  assert.equal(result.code, 0, `helm ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function render(args: string[] = [], namespace = 'pruneguard-system'): Promise<string> {
  return helm(['template', 'pruneguard', chartDir, '--namespace', namespace, ...args]);
}

function objectsOf(manifests: string): K8sObject[] {
  return yaml.loadAll(manifests).filter((doc): doc is K8sObject => doc !== null && doc !== undefined);
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0]!;
}

async function manifestObjects(file: string): Promise<K8sObject[]> {
  return objectsOf(await readFile(path.join(repoRoot, file), 'utf8'));
}

function rulesOf(role: K8sObject): string[] {
  return canonical(role.rules as Rule[]);
}

async function installManifests(): Promise<K8sObject[]> {
  const files = ['rbac.yaml', 'workload.yaml', 'admission-policy.yaml'];
  return (await Promise.all(files.map((file) => manifestObjects(`manifests/install/${file}`)))).flat();
}

function podSpecOf(deployment: K8sObject): Json {
  return ((deployment.spec as Json).template as Json).spec as Json;
}

interface PromqlQuery {
  where: string;
  expr: string;
}

interface PromqlFinding {
  where: string;
  error: string;
  metrics: string[];
  labels: string[];
  /** Series the expression returned over the samples; -1 when none were given. */
  series: number;
  evalError: string;
}

interface Sample {
  labels: Record<string, string>;
  t: number;
  v: number;
}

/** Parses the queries with Prometheus's parser and, given samples, runs them at `at` in its engine. */
async function promql(queries: PromqlQuery[], samples: Sample[] = [], at = 0): Promise<PromqlFinding[]> {
  const result = await runCommand(promqlCheck, [], JSON.stringify({ queries, samples, at }));
  assert.equal(result.code, 0, `promql-check: ${result.stderr}`);
  return JSON.parse(result.stdout) as PromqlFinding[];
}

/**
 * Grafana variables a query may use, replaced the way Grafana would with "All" selected. The rate
 * interval spans the two scrapes of operatorSeries().
 */
function substituteGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '15m').replace(/\$(namespace|evaluation|slice)\b/g, '.*');
}

const scrapeGapMs = 10 * 60_000;

function metricResults(grades: Partial<Record<MetricName, Grade>>): MetricResult[] {
  return metricNames.map((name) => ({
    name,
    ...metricDefinitions[name].defaults,
    value: metricDefinitions[name].defaults.target / 2,
    grade: grades[name] ?? 'Pass',
    samples: 1000,
  }));
}

/**
 * Two scrapes, `scrapeGapMs` apart and the second at `at`, of the operator's own metrics after it
 * observed an evaluation whose accuracyDrop is a Warning overall and whose psi is Critical on one
 * slice, and counted a failed run, a hold and a reconcile before each scrape.
 */
async function operatorSeries(at: number): Promise<Sample[]> {
  const metrics = new OperatorMetrics();
  const status: PrunedModelEvaluationStatus = {
    verdict: 'Critical',
    metrics: metricResults({ accuracyDrop: 'Warning' }),
    slices: [{ slice: 'species=Adelie', samples: 120, metrics: metricResults({ psi: 'Critical' }) }],
    live: [
      {
        name: 'p95LatencyMs',
        grade: 'Critical',
        value: 45,
        baseline: 20,
        relativeChange: 1.25,
        pValue: 1e-6,
        samples: { canary: 21, baseline: 21 },
        detail: '+125% vs baseline, worse by more than 50%',
        decides: true,
      },
    ],
  };
  metrics.observe('ml', 'penguins', status);
  metrics.leader.set(1);
  metrics.queueDepth.set(1);
  const samples: Sample[] = [];
  for (const t of [at - scrapeGapMs, at]) {
    metrics.runFinished('ml', 'penguins', 'Failed');
    metrics.actions.inc({ namespace: 'ml', evaluation: 'penguins', type: 'Hold', dry_run: 'false' });
    metrics.reconcileDuration.observe({ result: 'success' }, 0.02);
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      if (metric.name.startsWith('pruneguard_process_')) continue;
      // A histogram's values name their own series (…_bucket, …_sum, …_count).
      for (const value of metric.values as MetricValueWithName<string>[]) {
        const labels = Object.fromEntries(Object.entries(value.labels).map(([k, v]) => [k, String(v)]));
        samples.push({ labels: { ...labels, __name__: value.metricName ?? metric.name }, t, v: value.value });
      }
    }
  }
  return samples;
}

/** Every expression of the dashboard, its variables' label_values() as the PromQL they stand for. */
function dashboardQueries(json: Dashboard): PromqlQuery[] {
  return [
    ...json.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        where: `panel "${panel.title}"`,
        expr: substituteGrafanaVariables(target.expr),
      })),
    ),
    ...json.templating.list.flatMap((variable) => {
      if (variable.type !== 'query') return [];
      const match = /^label_values\((.+), *(\w+)\)$/.exec(variable.definition ?? '');
      assert.ok(match, `variable ${variable.name}: not label_values(selector, label)`);
      return [
        {
          where: `variable ${variable.name}`,
          expr: `group by (${match[2]}) (${substituteGrafanaVariables(match[1]!)})`,
        },
      ];
    }),
  ];
}

/** Every series name the operator exports, with its label names (a histogram as its three series). */
function exportedSeries(): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const metric of new OperatorMetrics().registry.getMetricsAsArray()) {
    const {
      name,
      type,
      labelNames = [],
    } = metric as unknown as {
      name: string;
      type: string;
      labelNames?: string[];
    };
    if (type === 'histogram') {
      series.set(`${name}_bucket`, new Set([...labelNames, 'le']));
      series.set(`${name}_sum`, new Set(labelNames));
      series.set(`${name}_count`, new Set(labelNames));
    } else series.set(name, new Set(labelNames));
  }
  return series;
}

interface DashboardPanel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  fieldConfig?: { defaults?: { thresholds?: { steps: { color: string; value: number | null }[] } } };
}

interface Dashboard {
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

async function dashboard(): Promise<{ text: string; json: Dashboard }> {
  const text = await readFile(path.join(chartDir, 'dashboards/pruneguard.json'), 'utf8');
  return { text, json: JSON.parse(text) as Dashboard };
}

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function alertRules(objects: K8sObject[]): AlertRule[] {
  const rule = only(objects, 'PrometheusRule');
  return ((rule.spec as Json).groups as { rules: AlertRule[] }[]).flatMap((group) => group.rules);
}

/** An item for a list of values: a string, or an object with the item's named keys. */
function changedItem(items: Json | undefined): unknown {
  if (items?.type === 'string') return 'changed';
  const keys = Object.keys((items?.properties as Json | undefined) ?? { name: 0, key: 0 });
  return Object.fromEntries(keys.map((key) => [key, 'changed']));
}

/**
 * Every leaf of values.yaml (a scalar, a list or an empty map) with a different value of the same
 * shape that values.schema.json accepts (another member of an enum, a list no shorter than its
 * minimum), so a render can show whether the chart uses it.
 */
function changedLeaves(values: Json, schema: Json = {}, prefix = ''): [string, unknown][] {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  return Object.entries(values).flatMap(([key, value]): [string, unknown][] => {
    const where = prefix ? `${prefix}.${key}` : key;
    const property = properties[key] ?? {};
    if (typeof value === 'boolean') return [[where, !value]];
    if (typeof value === 'number') return [[where, value + 1]];
    if (typeof value === 'string') {
      const other = (property.enum as unknown[] | undefined)?.find((option) => option !== value);
      return [[where, other ?? `${value}changed`]];
    }
    if (Array.isArray(value)) {
      const shorter = value.length > ((property.minItems as number | undefined) ?? 0);
      return [[where, shorter ? value.slice(1) : [changedItem(property.items as Json | undefined)]]];
    }
    const map = value as Json;
    return Object.keys(map).length > 0
      ? changedLeaves(map, property, where)
      : [[where, { changed: 'changed' }]];
  });
}

describe('the Helm chart', () => {
  before(async () => {
    helmBinary = await buildTool('helm', 'helm');
    promqlCheck = await buildTool('promql', 'promql-check');
  });

  it('passes helm lint --strict with default values and with everything enabled', async () => {
    for (const args of [[], everythingEnabled]) {
      const linted = await helm(['lint', '--strict', chartDir, ...args]);
      assert.match(linted, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders the RBAC and the admission policy of manifests/install/, rule for rule', async () => {
    const chart = objectsOf(await render());
    const manifests = await installManifests();
    // Helm creates the release namespace (--create-namespace); everything else is in both.
    const kinds = (objects: K8sObject[]) =>
      objects
        .filter((o) => o.kind !== 'Namespace')
        .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)
        .sort();
    assert.deepEqual(kinds(chart), kinds(manifests));

    for (const kind of ['ClusterRole', 'Role'])
      for (const role of manifests.filter((o) => o.kind === kind))
        assert.deepEqual(
          only(chart, kind, role.metadata.name).rules,
          role.rules,
          `${kind} ${role.metadata.name}: chart and manifests/install/rbac.yaml drifted apart`,
        );
    for (const kind of ['ClusterRoleBinding', 'RoleBinding'])
      for (const binding of manifests.filter((o) => o.kind === kind)) {
        const rendered = only(chart, kind, binding.metadata.name);
        assert.deepEqual(rendered.roleRef, binding.roleRef, `${kind} ${binding.metadata.name} roleRef`);
        assert.deepEqual(rendered.subjects, binding.subjects, `${kind} ${binding.metadata.name} subjects`);
      }
    for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
      const policy = only(manifests, kind);
      assert.deepEqual(
        only(chart, kind, policy.metadata.name).spec,
        policy.spec,
        `${kind}: chart and manifests/install/admission-policy.yaml drifted apart`,
      );
    }
  });

  it('grants the operator exactly the permissions tabled in docs/security.md', async () => {
    const operatorTable = canonical(documentedRules(permissionTables.operator));
    const leaseTable = canonical(documentedRules(permissionTables.leaderElection));
    const clusterWide = objectsOf(await render());
    assert.deepEqual(rulesOf(only(clusterWide, 'ClusterRole', 'pruneguard-operator')), operatorTable);
    assert.deepEqual(rulesOf(only(clusterWide, 'Role', 'pruneguard-operator-leader-election')), leaseTable);

    const namespaced = objectsOf(await render(['--set', 'watchNamespace=models']));
    assert.deepEqual(rulesOf(only(namespaced, 'Role', 'pruneguard-operator')), operatorTable);
    assert.deepEqual(rulesOf(only(namespaced, 'Role', 'pruneguard-operator-leader-election')), leaseTable);
    // Nothing else: no role for evaluation pods (the operator makes one per run) or retraining Jobs.
    for (const objects of [clusterWide, namespaced])
      assert.equal(objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').length, 2);
  });

  it('renders only Roles and RoleBindings when watchNamespace is set', async () => {
    const objects = objectsOf(await render(['--set', 'watchNamespace=models']));
    const rbac = objects
      .filter((o) => /Role/.test(o.kind))
      .map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)
      .sort();
    assert.deepEqual(rbac, [
      'Role models/pruneguard-operator',
      'Role pruneguard-system/pruneguard-operator-leader-election',
      'RoleBinding models/pruneguard-operator',
      'RoleBinding pruneguard-system/pruneguard-operator-leader-election',
    ]);
    const binding = only(objects, 'RoleBinding', 'pruneguard-operator');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'pruneguard-operator',
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: 'pruneguard-operator', namespace: 'pruneguard-system' },
    ]);
    const args = (podSpecOf(only(objects, 'Deployment')).containers as Json[])[0]!.args as string[];
    assert.ok(args.includes('--namespace=models'), args.join(' '));

    const leases = objectsOf(await render(['--set', 'leaderElection.leaseNamespace=leases']));
    assert.equal(only(leases, 'Role', 'pruneguard-operator-leader-election').metadata.namespace, 'leases');
    const withoutElection = objectsOf(await render(['--set', 'leaderElection.enabled=false']));
    assert.ok(!withoutElection.some((o) => o.kind === 'Role'), 'a lease Role without leader election');
  });

  it('renders the Deployment and Service of manifests/install/workload.yaml', async () => {
    const chart = objectsOf(await render());
    const manifests = await manifestObjects('manifests/install/workload.yaml');
    const [deployment, manifestDeployment] = [chart, manifests].map((o) => only(o, 'Deployment'));
    assert.equal(deployment!.metadata.name, manifestDeployment!.metadata.name);
    assert.equal((deployment!.spec as Json).replicas, (manifestDeployment!.spec as Json).replicas);

    const [pod, manifestPod] = [deployment!, manifestDeployment!].map(podSpecOf);
    assert.equal(pod!.serviceAccountName, manifestPod!.serviceAccountName);
    assert.deepEqual(pod!.securityContext, manifestPod!.securityContext);
    const [container, manifestContainer] = [pod!, manifestPod!].map(
      (spec) => (spec.containers as Json[])[0]!,
    );
    assert.deepEqual(container!.args, manifestContainer!.args);
    // The chart sets the log level explicitly, because it names it in its values.
    assert.deepEqual(container!.env, [
      ...(manifestContainer!.env as Json[]),
      { name: 'PRUNEGUARD_LOG_LEVEL', value: 'info' },
    ]);
    for (const field of [
      'name',
      'image',
      'command',
      'ports',
      'livenessProbe',
      'readinessProbe',
      'resources',
      'securityContext',
    ])
      assert.deepEqual(container![field], manifestContainer![field], `container ${field}`);

    const [service, manifestService] = [chart, manifests].map((o) => only(o, 'Service'));
    assert.equal(service!.metadata.name, manifestService!.metadata.name);
    assert.deepEqual((service!.spec as Json).ports, (manifestService!.spec as Json).ports);
    assert.deepEqual(
      (service!.spec as Json).selector,
      (deployment!.spec as { selector: { matchLabels: Json } }).selector.matchLabels,
    );
  });

  it('passes the operator values to the Deployment', async () => {
    const objects = objectsOf(
      await render([
        '--set',
        'replicas=3,image.tag=0.2.0,watchNamespace=models,logLevel=debug,port=9090',
        '--set',
        'leaderElection.leaseNamespace=leases,evaluator.image=registry.local/evaluator:1',
        '--set-json',
        'nodeSelector={"kubernetes.io/os":"linux"}',
        '--set-json',
        'tolerations=[{"key":"dedicated","operator":"Exists"}]',
        '--set-json',
        'podSecurityContext.runAsUser=1000',
      ]),
    );
    const deployment = only(objects, 'Deployment');
    assert.equal((deployment.spec as Json).replicas, 3);
    const pod = podSpecOf(deployment);
    const container = (pod.containers as Json[])[0]!;
    assert.equal(container.image, 'ghcr.io/pruneguard/pruneguard:0.2.0');
    assert.deepEqual(container.args, [
      'operator',
      '--leader-elect',
      '--lease-namespace=leases',
      '--port=9090',
      '--evaluator-image=registry.local/evaluator:1',
      '--retraining-service-account=pruneguard-retraining',
      '--egress-schemes=pvc,configmap,https,http,s3',
      '--egress-hosts=*',
      '--max-shard-state-bytes=1400000',
      '--max-shard-state-decoded-bytes=33554432',
      '--namespace=models',
    ]);
    assert.deepEqual((container.env as Json[])[1], { name: 'PRUNEGUARD_LOG_LEVEL', value: 'debug' });
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.deepEqual(pod.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });

    const secured = only(
      objectsOf(
        await render([
          '--set-json',
          'evaluator.allowedImages=["registry.local/ml/*","registry.local/evaluator:2"]',
          '--set-json',
          'security={"allowCustomServiceAccounts":true,"retrainingServiceAccountName":"retrain","egress":{"schemes":["https"],"hosts":["models.example.com","*.data.example.com"],"allowLoopback":true,"allowPrivate":false},"maxShardStateBytes":1000000,"maxShardStateDecodedBytes":67108864,"admissionPolicy":{"enabled":false}}',
        ]),
      ),
      'Deployment',
    );
    assert.deepEqual(((podSpecOf(secured).containers as Json[])[0]!.args as string[]).slice(4), [
      '--allowed-evaluator-images=registry.local/ml/*,registry.local/evaluator:2',
      '--allow-custom-service-accounts',
      '--retraining-service-account=retrain',
      '--egress-schemes=https',
      '--egress-hosts=models.example.com,*.data.example.com',
      '--egress-allow-loopback',
      '--egress-allow-private=false',
      '--max-shard-state-bytes=1000000',
      '--max-shard-state-decoded-bytes=67108864',
    ]);

    const withoutElection = only(
      objectsOf(await render(['--set', 'leaderElection.enabled=false'])),
      'Deployment',
    );
    const args = (podSpecOf(withoutElection).containers as Json[])[0]!.args as string[];
    assert.ok(
      !args.some((arg) => arg.startsWith('--leader-elect') || arg.startsWith('--lease')),
      args.join(' '),
    );
  });

  it('uses every value in values.yaml', async () => {
    const values = yaml.load(await readFile(path.join(chartDir, 'values.yaml'), 'utf8')) as Json;
    const schema = JSON.parse(await readFile(path.join(chartDir, 'values.schema.json'), 'utf8')) as Json;
    // The baseline has the optional objects on, so each leaf is changed from what the baseline used.
    for (const optional of optionalObjects) (values[optional] as Json).enabled = true;
    const baseline = await render(everythingEnabled);
    const unused: string[] = [];
    for (const [where, changed] of changedLeaves(values, schema)) {
      const rendered = await render([
        ...everythingEnabled,
        '--set-json',
        `${where}=${JSON.stringify(changed)}`,
      ]);
      if (rendered === baseline) unused.push(where);
    }
    assert.deepEqual(unused, [], `values that change nothing: ${unused.join(', ')}`);
  });

  it('is what manifests/argocd/application.yaml deploys, with values the chart has', async () => {
    const application = only(await manifestObjects('manifests/argocd/application.yaml'), 'Application');
    const source = (application.spec as { source: { path: string; helm: { valuesObject: Json } } }).source;
    assert.equal(path.join(repoRoot, source.path), chartDir);
    const values = yaml.load(await readFile(path.join(chartDir, 'values.yaml'), 'utf8')) as Json;
    const unknown = changedLeaves(source.helm.valuesObject)
      .map(([where]) => where)
      .filter(
        (where) =>
          where.split('.').reduce<unknown>((node, key) => (node as Json | undefined)?.[key], values) ===
          undefined,
      );
    assert.deepEqual(unknown, [], 'values the chart does not have');
  });

  describe('on a real API server', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await testCluster();
      await installCrds(cluster);
      for (const file of monitoringCrds) {
        const applied = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', file]);
        assert.equal(applied.code, 0, `kubectl apply -f ${file}: ${applied.stderr}`);
      }
      const established = await cluster.kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/servicemonitors.monitoring.coreos.com',
        'crd/prometheusrules.monitoring.coreos.com',
      ]);
      assert.equal(established.code, 0, established.stderr);
    });

    it('accepts every object the chart renders, CRDs included, with everything enabled', async (t) => {
      const namespace = await testNamespace(t, cluster);
      const manifests = await render([...everythingEnabled, '--include-crds'], namespace);
      const kinds = objectsOf(manifests).map((o) => o.kind);
      for (const kind of [
        'CustomResourceDefinition',
        'Deployment',
        'ServiceMonitor',
        'PrometheusRule',
        'ConfigMap',
      ])
        assert.ok(kinds.includes(kind), `rendered no ${kind}`);
      const applied = await cluster.kubectl(
        ['apply', '--dry-run=server', '--server-side', '-f', '-'],
        manifests,
      );
      assert.equal(applied.code, 0, applied.stderr);
      assert.equal(applied.stdout.trim().split('\n').length, kinds.length, applied.stdout);
    });

    it('installs with helm install --dry-run=server and prints its notes', async (t) => {
      const namespace = await testNamespace(t, cluster);
      const installed = await helm([
        'install',
        'pruneguard',
        chartDir,
        '--namespace',
        namespace,
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--dry-run=server',
        ...everythingEnabled,
      ]);
      assert.match(installed, /NOTES:\npruneguard 0\.1\.0 is installed in namespace /);
      assert.match(
        installed,
        /PrometheusRule pruneguard-operator: warning and critical alerts for accuracyDrop, /,
      );
    });

    it('refuses a broken render, so the check above can fail', async (t) => {
      const namespace = await testNamespace(t, cluster);
      const objects = objectsOf(await render(everythingEnabled, namespace));
      const rule = only(objects, 'PrometheusRule');
      const firstRule = (rule.spec as { groups: { rules: Json[] }[] }).groups[0]!.rules[0]!;
      delete firstRule.expr;
      const applied = await cluster.kubectl(
        ['apply', '--dry-run=server', '--server-side', '-f', '-'],
        yaml.dump(rule),
      );
      assert.notEqual(applied.code, 0, 'an alert without expr was accepted');
    });

    it('with watchNamespace, gives the operator its rules in that namespace only, and they work', async (t) => {
      const release = await testNamespace(t, cluster);
      const watched = await testNamespace(t, cluster);
      const other = await testNamespace(t, cluster);
      const objects = objectsOf(await render(['--set', `watchNamespace=${watched}`], release)).filter((o) =>
        ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
      );
      assert.ok(!objects.some((o) => o.kind.startsWith('Cluster')), 'cluster-wide RBAC rendered');
      const applied = await cluster.kubectl(
        ['apply', '--server-side', '-f', '-'],
        objects.map((o) => yaml.dump(o)).join('---\n'),
      );
      assert.equal(applied.code, 0, applied.stderr);

      const operator = `--as=system:serviceaccount:${release}:pruneguard-operator`;
      const canI = async (namespace: string, ...what: string[]) =>
        (await cluster.kubectl(['auth', 'can-i', ...what, '-n', namespace, operator])).stdout.trim();
      const answers = {
        'watch evaluations in the watched namespace': await canI(
          watched,
          'watch',
          'prunedmodelevaluations.pruneguard.io',
        ),
        'patch Deployments in the watched namespace': await canI(watched, 'patch', 'deployments.apps'),
        'create Jobs in the watched namespace': await canI(watched, 'create', 'jobs.batch'),
        'watch evaluations in another namespace': await canI(
          other,
          'watch',
          'prunedmodelevaluations.pruneguard.io',
        ),
        'patch Deployments in another namespace': await canI(other, 'patch', 'deployments.apps'),
        'create its Lease': await canI(release, 'create', 'leases.coordination.k8s.io'),
        'renew its Lease': await canI(release, 'update', 'leases.coordination.k8s.io/pruneguard-operator'),
        'renew another Lease': await canI(release, 'update', 'leases.coordination.k8s.io/other'),
        'bind any Role': await canI(watched, 'bind', 'roles.rbac.authorization.k8s.io'),
      };
      assert.deepEqual(answers, {
        'watch evaluations in the watched namespace': 'yes',
        'patch Deployments in the watched namespace': 'yes',
        'create Jobs in the watched namespace': 'yes',
        'watch evaluations in another namespace': 'no',
        'patch Deployments in another namespace': 'no',
        'create its Lease': 'yes',
        'renew its Lease': 'yes',
        'renew another Lease': 'no',
        'bind any Role': 'no',
      });

      // What the operator does per run, as the operator: a Role of evaluatorRules() and its binding
      // pass RBAC's escalation check because the operator holds those rules; a wider Role does not.
      const run = 'penguins-00001';
      const role = (namespace: string, name: string, rules: unknown) =>
        yaml.dump({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name, namespace },
          rules,
        });
      const binding = yaml.dump({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: run, namespace: watched },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: run },
        subjects: [{ kind: 'ServiceAccount', name: run, namespace: watched }],
      });
      const create = (manifest: string) => cluster.kubectl(['create', operator, '-f', '-'], manifest);
      const created = await create(`${role(watched, run, evaluatorRules(run))}---\n${binding}`);
      assert.equal(created.code, 0, created.stderr);
      const elsewhere = await create(role(other, run, evaluatorRules(run)));
      assert.match(elsewhere.stderr, /forbidden/, 'created a Role outside the watched namespace');
      const wider = await create(
        // The operator may get a Secret (a credentials check), never list them.
        role(watched, 'wider', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]),
      );
      assert.match(
        wider.stderr,
        /forbidden: user .* is attempting to grant RBAC permissions not currently held/,
      );
    });
  });

  it('alerts at warning and at critical on every graded metric, and on failed runs and no leader', async () => {
    const rules = alertRules(objectsOf(await render(everythingEnabled)));
    for (const metric of metricNames) {
      for (const [grade, severity] of [
        [1, 'warning'],
        [2, 'critical'],
      ] as const) {
        const alert = rules.find(
          (rule) => rule.expr === `pruneguard_metric_grade{metric="${metric}"} == ${grade}`,
        );
        assert.ok(alert, `no ${severity} alert for ${metric}`);
        assert.equal(alert.labels.severity, severity, alert.alert);
        assert.match(alert.for ?? '', /^\d+[smh]$/, `${alert.alert} has no for: duration`);
        for (const label of ['namespace', 'evaluation', 'slice'])
          assert.match(
            alert.annotations.summary ?? '',
            new RegExp(`\\$labels\\.${label}`),
            `${alert.alert} summary`,
          );
      }
    }
    assert.ok(
      rules.some(
        (rule) => rule.expr === 'increase(pruneguard_evaluation_runs_total{result="Failed"}[1h]) > 0',
      ),
    );
    assert.ok(
      rules.some((rule) => rule.alert === 'PruneguardNoLeader' && rule.expr.includes('pruneguard_leader')),
    );
    assert.equal(new Set(rules.map((rule) => rule.alert)).size, rules.length, 'alert names repeat');
  });

  it('parses every alert and dashboard expression with Prometheus’s parser, naming only exported series and labels', async () => {
    const rules = alertRules(objectsOf(await render(everythingEnabled)));
    const { json } = await dashboard();
    const queries = [
      ...rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
      ...dashboardQueries(json),
    ];
    assert.ok(queries.length > 25, `only ${queries.length} expressions found`);

    const findings = await promql([...queries, { where: 'control', expr: 'sum by (namespace (x)' }]);
    assert.notEqual(findings.pop()?.error, '', 'the parser accepted a broken expression');
    const exported = exportedSeries();
    const problems: string[] = [];
    for (const finding of findings) {
      if (finding.error) problems.push(`${finding.where}: ${finding.error}`);
      const labels = new Set<string>();
      for (const metric of finding.metrics) {
        const metricLabels = exported.get(metric);
        if (!metricLabels) problems.push(`${finding.where}: ${metric} is not exported by the operator`);
        for (const label of metricLabels ?? []) labels.add(label);
      }
      for (const label of finding.labels)
        if (!labels.has(label))
          problems.push(`${finding.where}: label ${label} is not on ${finding.metrics.join(', ')}`);
    }
    assert.deepEqual(problems, []);
  });

  it('finds data for every dashboard query, and fires exactly the alerts the operator’s series call for, in Prometheus’s engine', async () => {
    const at = Date.now();
    const samples = await operatorSeries(at);
    const { json } = await dashboard();
    const empty = (await promql(dashboardQueries(json), samples, at))
      .filter((finding) => finding.series < 1)
      .map((finding) => `${finding.where}: ${finding.error || finding.evalError || 'no series'}`);
    assert.deepEqual(empty, [], 'dashboard queries that show nothing');

    const rules = alertRules(objectsOf(await render(everythingEnabled)));
    const firing = async (series: Sample[]) =>
      (
        await promql(
          rules.map((rule) => ({ where: rule.alert, expr: rule.expr })),
          series,
          at,
        )
      )
        .filter((finding) => finding.series !== 0)
        .map(
          (finding) =>
            `${finding.where}${finding.series === 1 ? '' : ` (${finding.series}, ${finding.evalError})`}`,
        )
        .sort();
    assert.deepEqual(await firing(samples), [
      'PruneguardAccuracyDropWarning',
      'PruneguardEvaluationRunsFailed',
      'PruneguardLiveMetricCritical',
      'PruneguardPsiCritical',
    ]);
    const withoutLeader = samples.filter((sample) => sample.labels.__name__ !== 'pruneguard_leader');
    assert.ok((await firing(withoutLeader)).includes('PruneguardNoLeader'), 'no alert when no replica leads');
  });

  it('draws each metric against its default thresholds and ships the dashboard JSON as it is', async () => {
    const { text, json } = await dashboard();
    for (const metric of metricNames) {
      const panel = json.panels.find((p) => p.title === metric);
      assert.ok(panel, `no dashboard panel for ${metric}`);
      assert.ok(
        panel.targets?.[0]?.expr.includes(`metric="${metric}"`),
        `panel ${metric} queries another metric`,
      );
      const { target, warning } = metricDefinitions[metric].defaults;
      const lines = (panel.fieldConfig?.defaults?.thresholds?.steps ?? []).map((step) => [
        step.color,
        step.value,
      ]);
      const expected =
        metricDefinitions[metric].direction === 'lowerIsBetter'
          ? [
              ['green', null],
              ['yellow', target],
              ['red', warning],
            ]
          : [
              ['red', null],
              ['yellow', warning],
              ['green', target],
            ];
      assert.deepEqual(lines, expected, `threshold lines of ${metric}`);
    }
    for (const title of ['Verdict per evaluation', 'Grades now', 'Reconcile latency p95'])
      assert.ok(
        json.panels.some((p) => p.title === title),
        `no panel ${title}`,
      );

    const configMap = only(objectsOf(await render(everythingEnabled)), 'ConfigMap');
    assert.equal(configMap.metadata.labels?.grafana_dashboard, '1');
    assert.equal((configMap.data as Record<string, string>)['pruneguard.json'], text.trimEnd());
    const defaults = objectsOf(await render());
    for (const kind of ['ConfigMap', 'ServiceMonitor', 'PrometheusRule'])
      assert.ok(!defaults.some((o) => o.kind === kind), `${kind} rendered although not enabled`);
  });

  it('keeps a ServiceMonitor that scrapes the Service and keeps the evaluation namespace label', async () => {
    const objects = objectsOf(
      await render([...everythingEnabled, '--set-json', 'serviceMonitor.labels={"release":"kps"}']),
    );
    const monitor = only(objects, 'ServiceMonitor');
    const service = only(objects, 'Service');
    assert.equal(monitor.metadata.labels?.release, 'kps');
    const spec = monitor.spec as { selector: { matchLabels: Json }; endpoints: Json[] };
    for (const [label, value] of Object.entries(spec.selector.matchLabels))
      assert.equal(service.metadata.labels?.[label], value, `Service lacks selector label ${label}`);
    assert.equal(spec.endpoints[0]?.port, 'http-metrics');
    assert.equal(spec.endpoints[0]?.honorLabels, true);
  });
});
