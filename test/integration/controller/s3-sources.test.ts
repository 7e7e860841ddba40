/**
 * s3:// in the cluster: an evaluation whose models and data are objects of a real S3 server
 * (SeaweedFS), read with the credentials of a labelled Secret that the Job maps into the
 * evaluator's environment (the emulated kubelet resolves secretKeyRef as a kubelet does), is
 * graded; and the check of a credentials Secret (src/controller/credentials.ts) against the API.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';

import { s3CredentialKeys } from '../../../src/api/v1alpha1/object-storage.js';
import { credentialsLabel, credentialsProblem } from '../../../src/controller/credentials.js';
import { localEgressDefaults } from '../../../src/security/egress.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { startS3Server, type S3Credentials, type S3Server } from '../../support/s3-server.js';
import {
  type Loop,
  Objects,
  passingThresholds,
  penguinsData,
  penguinsEvaluation,
  startLoop,
} from './fixtures.js';

const files = [
  'penguins/teacher.onnx',
  'penguins/pruned-30.onnx',
  'penguins/reference.csv',
  'penguins/current.jsonl',
];

function secretOf(name: string, credentials: S3Credentials, labelled = true) {
  return {
    metadata: { name, ...(labelled ? { labels: { [credentialsLabel]: 'true' } } : {}) },
    stringData: {
      [s3CredentialKeys.accessKeyId]: credentials.accessKeyId,
      [s3CredentialKeys.secretAccessKey]: credentials.secretAccessKey,
    },
  };
}

describe('s3:// sources in the cluster', () => {
  const logged: string[] = [];
  let cluster: TestCluster;
  let loop: Loop;
  let server: S3Server;
  before(async () => {
    cluster = await testCluster();
    server = await startS3Server();
    await server.createBucket('models');
    for (const file of files) await server.putObject('models', file, await readFile(`test/fixtures/${file}`));
    // The server listens on loopback, which the cluster's default egress policy refuses.
    loop = await startLoop(cluster, {
      labelSelector: 'pruneguard.io/evaluation=penguins-s3',
      reconciler: { egress: localEgressDefaults },
      // Everything the operator logs, at its most talkative, to look for the secret in.
      log: pino(
        { level: 'trace' },
        new PassThrough().on('data', (line: Buffer) => logged.push(line.toString())),
      ),
    });
  });
  after(async () => {
    await loop?.stop();
    await server?.stop();
  });

  it('grades an evaluation read from objects with the credentials of a labelled Secret', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace, body: secretOf('models-s3', server.admin) });
    const objects = new Objects(kc, namespace);
    await objects.createEvaluation(
      penguinsEvaluation('penguins-s3', {
        teacher: { uri: 's3://models/penguins/teacher.onnx' },
        candidate: { uri: 's3://models/penguins/pruned-30.onnx' },
        data: {
          ...penguinsData,
          reference: { uri: 's3://models/penguins/reference.csv' },
          current: { uri: 's3://models/penguins/current.jsonl' },
        },
        s3: { endpoint: server.endpoint, forcePathStyle: true, credentialsSecret: 'models-s3' },
        schedule: { interval: '1h', dataChanges: { checkInterval: '10s', settle: '10s' } },
        thresholds: passingThresholds,
      }),
    );

    const graded = await eventually(
      'a graded run read from s3://',
      async () => {
        const e = await objects.evaluation('penguins-s3');
        return e.status?.lastRun?.name === 'penguins-s3-00001' && e.status.metrics ? e : undefined;
      },
      120_000,
      500,
    );
    assert.equal(graded.status?.verdict, 'Pass', graded.status?.explanation);

    const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
    const env = jobs.items[0]!.spec!.template.spec!.containers[0]!.env!;
    assert.deepEqual(
      env
        .filter((v) => v.name.startsWith('AWS_'))
        .map((v) => [v.name, v.value, v.valueFrom?.secretKeyRef?.name]),
      Object.values(s3CredentialKeys).map((key) => [key, undefined, 'models-s3']),
    );
    const statusText = JSON.stringify(graded.status);
    assert.ok(!statusText.includes(server.admin.secretAccessKey), 'the secret key is in the status');

    // A new current.jsonl uploaded over the old one: its ETag changes, and once it has held for
    // settle (10 s, read every 10 s) a run starts for it.
    const [first] = await objects.runs();
    const before = first!.spec.dataVersions?.current;
    assert.match(before ?? '', /^ETag "[0-9a-f]+"$/, 'the run recorded the object version it read');
    const current = await readFile('test/fixtures/penguins/current.jsonl');
    await server.putObject('models', 'penguins/current.jsonl', Buffer.concat([current, Buffer.from('\n')]));
    const second = await eventually(
      'a run for the new object',
      async () => (await objects.runs()).find((run) => run.metadata.name === 'penguins-s3-00002'),
      90_000,
      500,
    );
    assert.equal(second.spec.trigger, 'DataChange');
    assert.match(
      second.spec.triggerDetail ?? '',
      /^current s3:\/\/models\/penguins\/current.jsonl changed \(ETag "[0-9a-f]+" → ETag "[0-9a-f]+"\)$/,
    );
    assert.notEqual(second.spec.dataVersions?.current, before);
    const evaluation = await objects.evaluation('penguins-s3');
    const events = await core.listNamespacedEvent({ namespace });
    const runs = await objects.runs();
    assert.ok(logged.length > 0, 'the operator logged');
    for (const [where, text] of Object.entries({
      status: JSON.stringify(evaluation),
      runs: JSON.stringify(runs),
      events: JSON.stringify(events.items),
      'operator log': logged.join(''),
    }))
      for (const secret of [
        server.admin.secretAccessKey,
        Buffer.from(server.admin.secretAccessKey).toString('base64'),
      ])
        assert.ok(!text.includes(secret), `the secret key is in the ${where}`);
  });

  it('starts no run with a credentials Secret that is not labelled for pruneguard, and says why', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const kc = cluster.kubeConfig();
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedSecret({ namespace, body: secretOf('models-s3', server.admin, false) });
    const objects = new Objects(kc, namespace);
    await objects.createEvaluation(
      penguinsEvaluation('penguins-s3', {
        teacher: { uri: 's3://models/penguins/teacher.onnx' },
        candidate: { uri: 's3://models/penguins/pruned-30.onnx' },
        s3: { endpoint: server.endpoint, forcePathStyle: true, credentialsSecret: 'models-s3' },
      }),
    );
    const ready = await eventually('the refusal', async () => {
      const e = await objects.evaluation('penguins-s3');
      return e.status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'SpecRefused');
    });
    assert.equal(
      ready.message,
      `spec.s3.credentialsSecret: Secret ${namespace}/models-s3 is not labelled pruneguard.io/credentials: "true", so pruneguard will not use it; whoever may read it can label it (kubectl label secret -n ${namespace} models-s3 pruneguard.io/credentials=true)`,
    );
    assert.deepEqual(await objects.runs(), [], 'no run');
  });

  it('lets the operator use a Secret only when it is labelled and has the keys', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const keys = [s3CredentialKeys.accessKeyId, s3CredentialKeys.secretAccessKey];
    await core.createNamespacedSecret({ namespace, body: secretOf('labelled', server.reader) });
    await core.createNamespacedSecret({ namespace, body: secretOf('unlabelled', server.reader, false) });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'half', labels: { [credentialsLabel]: 'true' } },
        stringData: { [s3CredentialKeys.accessKeyId]: server.reader.accessKeyId },
      },
    });

    assert.equal(await credentialsProblem(core, namespace, 'labelled', keys), undefined);
    assert.equal(
      await credentialsProblem(core, namespace, 'unlabelled', keys),
      `Secret ${namespace}/unlabelled is not labelled pruneguard.io/credentials: "true", so pruneguard will not use it; whoever may read it can label it (kubectl label secret -n ${namespace} unlabelled pruneguard.io/credentials=true)`,
    );
    assert.equal(
      await credentialsProblem(core, namespace, 'half', keys),
      `Secret ${namespace}/half has no 'AWS_SECRET_ACCESS_KEY' (or it is empty); it needs AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY`,
    );
    assert.equal(
      await credentialsProblem(core, namespace, 'absent', keys),
      `Secret ${namespace}/absent does not exist`,
    );
    for (const name of ['labelled', 'unlabelled', 'half'])
      assert.ok(
        !(await credentialsProblem(core, namespace, name, keys))?.includes(server.reader.secretAccessKey),
      );
  });
});
