import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api } from '@kubernetes/client-node';
import type { RunningOperator } from '../../../src/controller/operator.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installPruneguard, startTestOperator } from '../../support/operator.js';
import { Objects, penguinsEvaluation } from './fixtures.js';

type Json = Record<string, unknown>;

/**
 * A PrunedModelEvaluation that asks for more than the operator's configuration allows gets a
 * SpecRefused condition naming the field, and nothing is created for it: no run, no Job, no pod,
 * no request to the address it names. The API server admits these objects (their schema is
 * fine); the refusal is the operator's, so it also holds where the admission policy is not
 * installed.
 */
describe('an evaluation that asks for more than the operator allows', () => {
  let cluster: TestCluster;
  let operator: RunningOperator;

  before(async () => {
    cluster = await testCluster();
    await installPruneguard(cluster);
    operator = await startTestOperator(cluster, {
      reconciler: { allowedEvaluatorImages: ['registry.example/pruneguard/*'] },
    });
  });
  after(async () => {
    await operator?.stop();
  });

  const privilegedTemplate = {
    spec: {
      template: {
        spec: {
          restartPolicy: 'Never',
          hostPID: true,
          hostNetwork: true,
          containers: [
            {
              name: 'train',
              image: 'attacker/tools:1',
              securityContext: { privileged: true },
              volumeMounts: [{ name: 'host', mountPath: '/host' }],
            },
          ],
          volumes: [{ name: 'host', hostPath: { path: '/' } }],
        },
      },
    },
  };

  const cases: { name: string; spec: Json; refusal: RegExp[]; reason?: 'InvalidSpec' }[] = [
    {
      name: 'own-account',
      spec: { runtime: { serviceAccountName: 'namespace-admin' } },
      refusal: [/spec\.runtime\.serviceAccountName is set, but custom ServiceAccounts are off/],
    },
    {
      name: 'own-image',
      spec: { runtime: { image: 'attacker/evaluator:latest' } },
      refusal: [/spec\.runtime\.image attacker\/evaluator:latest is not an allowed evaluator image/],
    },
    {
      name: 'privileged-retraining',
      spec: { retraining: { jobTemplate: privilegedTemplate } },
      refusal: [
        /Pod Security "restricted"/,
        /spec\.retraining\.jobTemplate\.spec\.template\.spec\.hostNetwork/,
        /spec\.retraining\.jobTemplate\.spec\.template\.spec\.hostPID/,
        /spec\.retraining\.jobTemplate\.spec\.template\.spec\.containers\[0\]\.securityContext\.privileged/,
        /spec\.retraining\.jobTemplate\.spec\.template\.spec\.volumes\[0\]\.hostPath/,
      ],
    },
    {
      name: 'service-account-token',
      spec: {
        data: {
          reference: { uri: 'file:///var/run/secrets/kubernetes.io/serviceaccount/token' },
          current: { uri: 'pvc://data/penguins/current.jsonl' },
          features: ['Beak Length (mm)'],
          label: 'Species',
        },
      },
      refusal: [/spec\.data\.reference\.uri: .*file/],
    },
    {
      name: 'metadata-data',
      spec: {
        data: {
          reference: { uri: 'pvc://data/penguins/reference.csv' },
          current: { uri: 'https://169.254.169.254/latest/meta-data/iam/security-credentials/x.csv' },
          features: ['Beak Length (mm)'],
          label: 'Species',
        },
      },
      refusal: [/spec\.data\.current\.uri: .*169\.254\.169\.254.*(link-local|metadata)/],
    },
    {
      name: 'metadata-webhook',
      spec: { retraining: { webhook: { url: 'http://169.254.169.254/hook' } } },
      refusal: [/spec\.retraining\.webhook\.url: .*(link-local|metadata)/],
    },
    // Admitted by the schema (five fields), but no run could ever start.
    {
      name: 'cron-never-fires',
      spec: { schedule: { cron: '0 0 30 2 *' } },
      refusal: [/spec\.schedule\.cron "0 0 30 2 \*" can never start a run: Invalid explicit day of month/],
      reason: 'InvalidSpec',
    },
    {
      name: 'cron-not-cron',
      spec: { schedule: { cron: 'x x x x x' } },
      refusal: [/spec\.schedule\.cron "x x x x x" can never start a run: Invalid characters/],
      reason: 'InvalidSpec',
    },
  ];

  for (const { name, spec, refusal, reason = 'SpecRefused' } of cases) {
    it(`refuses ${name} (${reason}) with the field named, and creates nothing`, async (t) => {
      const namespace = await testNamespace(t, cluster);
      const kc = cluster.kubeConfig();
      const objects = new Objects(kc, namespace);
      await objects.createEvaluation(penguinsEvaluation(name, spec));
      const refused = await eventually(`the ${reason} condition`, async () => {
        const e = await objects.evaluation(name);
        const ready = e.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === reason ? ready : undefined;
      });
      assert.equal(refused.status, 'False');
      for (const pattern of refusal) assert.match(refused.message, pattern);

      const described = await cluster.kubectl(['describe', 'pme', name, '-n', namespace]);
      assert.match(described.stdout, new RegExp(reason), 'an Event says so too');
      assert.deepEqual(await objects.runs(), [], 'no run is started');
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
      assert.deepEqual(jobs.items, [], 'no Job is created');
    });
  }

  it('starts the run once the spec is fixed, under an image the operator allows', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    await objects.createEvaluation(
      penguinsEvaluation('fixed', { runtime: { image: 'attacker/evaluator:1' } }),
    );
    await eventually('the refusal', async () =>
      (await objects.evaluation('fixed')).status?.conditions?.some((c) => c.reason === 'SpecRefused')
        ? true
        : undefined,
    );
    await objects.patchEvaluation('fixed', {
      spec: { runtime: { image: 'registry.example/pruneguard/evaluator:2' } },
    });
    const job = await eventually('the run’s Job', async () => {
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
      return jobs.items[0];
    });
    const pod = job.spec!.template.spec!;
    assert.equal(pod.containers[0]!.image, 'registry.example/pruneguard/evaluator:2');
    assert.equal(pod.serviceAccountName, 'fixed-00001', 'the pods run as the run’s own identity');
  });

  it('runs the longest evaluation name at the largest index: its Job name is shortened to fit every pod hostname', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const objects = new Objects(kc, namespace);
    const name = `${'long'.repeat(14)}x`; // 57 characters, the most the CRD admits
    await objects.createEvaluation(penguinsEvaluation(name, { runtime: { parallelism: 11 } }));
    const job = await eventually('the run’s Job', async () => {
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
      return jobs.items[0];
    });
    const jobName = job.metadata!.name!;
    assert.ok(`${jobName}-10`.length <= 63, `${jobName}-10 fits a hostname`);
    assert.match(jobName, /-[0-9a-f]{8}-00001$/);
    assert.equal(
      job.metadata?.labels?.['pruneguard.io/run'],
      `${name}-00001`,
      'the run is still named in full',
    );
    const first = await eventually('the first run’s status', async () =>
      (await objects.evaluation(name)).status?.conditions?.find((c) => c.type === 'Ready'),
    );
    // Before its first verdict a PME says what its first run is doing (RunPending: with the scheduler's reason).
    assert.match(`${first.status} ${first.reason}`, /^(Unknown FirstRun(Pending|Running)|False RunPending)$/);
    assert.match(first.message, new RegExp(`${name}-00001`));
  });
});
