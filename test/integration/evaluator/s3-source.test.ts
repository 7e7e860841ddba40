/**
 * s3:// against a real S3 server (SeaweedFS, test/support/s3-server.ts): models and data read
 * through the SDK with Range requests, `pruneguard evaluate` end to end on objects, and the errors
 * a user meets (no bucket, no key, a wrong secret, an identity without read), each one line naming
 * the URI and none carrying the secret key. Needs no cluster.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parquetWriteBuffer } from 'hyparquet-writer';
import yaml from 'js-yaml';

import type { S3Options } from '../../../src/api/v1alpha1/object-storage.js';
import type { EvaluationStatusReport } from '../../../src/cli/evaluate.js';
import { openTable } from '../../../src/evaluator/data/open.js';
import { openModel } from '../../../src/evaluator/models.js';
import { openSource, readAll } from '../../../src/evaluator/sources/index.js';
import { s3Source } from '../../../src/evaluator/sources/s3.js';
import {
  clusterEgressDefaults,
  EgressRefusedError,
  localEgressDefaults,
} from '../../../src/security/egress.js';
import { startS3Server, type S3Credentials, type S3Server } from '../../support/s3-server.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';
import { fixtureManifest, fixtureManifestObject } from '../../unit/evaluator/fixture-specs.js';

const flights = fixtureManifest.flights;
const fixtures = [...Object.values(flights.models), ...Object.values(flights.data)];
const objectUri = (file: string) => `s3://fixtures/${file}`;

let server: S3Server;
let s3: S3Options;
let scratch: string;

before(async () => {
  server = await startS3Server();
  s3 = { endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true };
  scratch = await temporaryDirectory('s3-source');
  for (const bucket of ['fixtures', 'readable', 'public']) await server.createBucket(bucket);
  for (const file of fixtures) await server.putObject('fixtures', file, await readFile(file));
  await server.putObject('public', flights.models.teacher, await readFile(flights.models.teacher));
});

after(() => server?.stop());

/** Runs `body` with these credentials in the environment, as the Job puts them there. */
async function as<T>(credentials: S3Credentials | undefined, body: () => Promise<T>): Promise<T> {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  const set = (name: string, value: string | undefined) =>
    value === undefined ? delete process.env[name] : (process.env[name] = value);
  set('AWS_ACCESS_KEY_ID', credentials?.accessKeyId);
  set('AWS_SECRET_ACCESS_KEY', credentials?.secretAccessKey);
  try {
    return await body();
  } finally {
    set('AWS_ACCESS_KEY_ID', saved.id);
    set('AWS_SECRET_ACCESS_KEY', saved.secret);
  }
}

/** A TCP proxy in front of the server that counts the bytes it sends back. */
async function countingProxy(
  upstream: string,
): Promise<{ endpoint: string; received(): number; close(): void }> {
  const target = new URL(upstream);
  let received = 0;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const origin = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(origin);
    origin.on('data', (chunk: Buffer) => (received += chunk.length));
    client.pipe(origin).pipe(client);
    for (const socket of [client, origin]) socket.on('error', () => (client.destroy(), origin.destroy()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    received: () => received,
    close: () => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    },
  };
}

describe('s3:// sources', () => {
  test('a model reads whole, byte for byte, and loads in onnxruntime', async () => {
    await as(server.admin, async () => {
      const uri = objectUri(flights.models.teacher);
      const bytes = await readAll(openSource(uri, localEgressDefaults, { s3 }));
      assert.deepEqual(Buffer.from(bytes), await readFile(flights.models.teacher));
      const model = await openModel(uri, 'teacher', { s3 });
      assert.equal(model.stats.fileBytes, bytes.byteLength);
      await model.close();
    });
  });

  test('Parquet reads its footer and the columns it needs with Range requests, not the whole object', async (t) => {
    const proxy = await countingProxy(server.endpoint);
    try {
      await as(server.admin, async () => {
        const uri = objectUri(flights.data.reference);
        const objectBytes = (await readFile(flights.data.reference)).byteLength;
        const source = openSource(uri, localEgressDefaults, { s3: { ...s3, endpoint: proxy.endpoint } });
        const size = await source.size();
        assert.equal(size, objectBytes);
        const footer = await source.read(size - 8, size);
        assert.equal(Buffer.from(footer.subarray(4)).toString('latin1'), 'PAR1');
        assert.ok(
          proxy.received() < 4096,
          `a HEAD and an 8-byte range read took ${proxy.received()} bytes on the wire (object: ${objectBytes})`,
        );

        // hyparquet fetches the last 512 KiB for the footer, so reading one column of four saves bytes
        // only on a bigger object: four columns of 200 000 random doubles (incompressible), 1.6 MB each.
        const rows = 200_000;
        const wide = Buffer.from(
          parquetWriteBuffer({
            columnData: ['a', 'b', 'c', 'd'].map((name) => ({
              name,
              data: Float64Array.from({ length: rows }, Math.random),
              type: 'DOUBLE' as const,
            })),
            rowGroupSize: 50_000,
          }),
        );
        await server.putObject('fixtures', 'wide.parquet', wide);
        const before = proxy.received();
        let read = 0;
        for await (const batch of openTable('s3://fixtures/wide.parquet', {
          columns: ['b'],
          s3: { ...s3, endpoint: proxy.endpoint },
        }))
          read += batch.rows;
        assert.equal(read, rows);
        const onTheWire = proxy.received() - before;
        t.diagnostic(`one column of four: ${onTheWire} of ${wide.byteLength} bytes on the wire`);
        assert.ok(
          onTheWire < wide.byteLength / 2,
          `one column of four took ${onTheWire} of ${wide.byteLength} bytes on the wire`,
        );
      });
    } finally {
      proxy.close();
    }
  });

  test('anonymous requests read a public bucket, and only that', async () => {
    await as(undefined, async () => {
      const teacher = flights.models.teacher;
      const bytes = await readAll(openSource(`s3://public/${teacher}`, localEgressDefaults, { s3 }));
      assert.equal(bytes.byteLength, (await readFile(teacher)).byteLength);
      await assert.rejects(
        readAll(openSource(objectUri(teacher), localEgressDefaults, { s3 })),
        /^Error: s3:\/\/fixtures\/\S+: access denied \(AccessDenied, HTTP 403\); the request was anonymous: set spec\.s3\.credentialsSecret/,
      );
    });
  });

  test('connections go through the egress policy’s address check', async () => {
    const { port } = new URL(server.endpoint);
    // checkUri is what openSource does first; past it, the agents' lookup still refuses loopback.
    const source = s3Source(objectUri(flights.models.teacher), clusterEgressDefaults, {
      s3: { ...s3, endpoint: `http://localhost:${port}` },
    });
    await as(server.admin, () =>
      assert.rejects(readAll(source), (error: Error) => {
        assert.ok(error instanceof EgressRefusedError, error.message);
        assert.match(
          error.message,
          /^s3:\/\/fixtures\/\S+: cannot reach http:\/\/localhost:\d+: connection refused by the egress policy: localhost resolves to (127\.0\.0\.1|::1), a loopback address/,
        );
        return true;
      }),
    );
    assert.throws(
      () => openSource(objectUri('x.onnx'), clusterEgressDefaults, { s3 }),
      /^EgressRefusedError: s3:\/\/fixtures\/x\.onnx is refused: it is fetched from http:\/\/127\.0\.0\.1:\d+, whose host 127\.0\.0\.1 is a loopback address/,
    );
  });
});

describe('s3:// errors', () => {
  const wrongSecret = (): S3Credentials => ({
    accessKeyId: server.admin.accessKeyId,
    secretAccessKey: `${server.admin.secretAccessKey.slice(0, -4)}XXXX`,
  });
  const cases: [
    string,
    () => S3Credentials,
    string,
    (source: ReturnType<typeof openSource>) => Promise<unknown>,
    RegExp,
  ][] = [
    [
      'a missing bucket',
      () => server.admin,
      's3://no-such-bucket/teacher.onnx',
      readAll,
      /^s3:\/\/no-such-bucket\/teacher\.onnx: bucket 'no-such-bucket' does not exist at http:\/\/127\.0\.0\.1:\d+$/,
    ],
    [
      'a missing bucket (size)',
      () => server.admin,
      's3://no-such-bucket/teacher.onnx',
      (s) => s.size(),
      /: bucket 'no-such-bucket' does not exist at /,
    ],
    [
      'a missing key',
      () => server.admin,
      's3://fixtures/nope.onnx',
      readAll,
      /^s3:\/\/fixtures\/nope\.onnx: no object 'nope\.onnx' in bucket 'fixtures' at http:\/\/127\.0\.0\.1:\d+$/,
    ],
    [
      'a missing key (size)',
      () => server.admin,
      's3://fixtures/nope.onnx',
      (s) => s.size(),
      /: no object 'nope\.onnx' in bucket 'fixtures' at /,
    ],
    [
      'a wrong secret',
      wrongSecret,
      objectUri(flights.models.teacher),
      readAll,
      /: access denied \(SignatureDoesNotMatch, HTTP 403\); check spec\.s3\.credentialsSecret \(for pruneguard evaluate: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\) and that its identity may read bucket 'fixtures'/,
    ],
    [
      'an identity that may read another bucket only',
      () => server.reader,
      objectUri(flights.models.teacher),
      readAll,
      /: access denied \(AccessDenied, HTTP 403\); check spec\.s3\.credentialsSecret/,
    ],
    [
      'an identity that may read another bucket only (size)',
      () => server.reader,
      objectUri(flights.data.reference),
      (s) => s.size(),
      /: access denied \(HTTP 403\)/,
    ],
  ];
  for (const [what, credentials, uri, read, expected] of cases)
    test(`${what}: one line naming the URI, without the secret`, async () => {
      const used = credentials();
      await as(used, async () => {
        const error = await read(openSource(uri, localEgressDefaults, { s3 })).then(
          () => assert.fail(`${uri} read as ${what}`),
          (thrown: Error) => thrown,
        );
        assert.match(error.message, expected);
        assert.ok(error.message.startsWith(`${uri}: `), error.message);
        assert.ok(!error.message.includes('\n'), error.message);
        for (const secret of [
          used.secretAccessKey,
          server.admin.secretAccessKey,
          server.reader.secretAccessKey,
        ])
          assert.ok(!error.message.includes(secret), `${what}: the secret key is in: ${error.message}`);
        assert.ok(
          !error.message.includes(used.accessKeyId),
          `${what}: the access key id is in: ${error.message}`,
        );
      });
    });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `pruneguard evaluate` as a user runs it, with `env` added. */
function pruneguard(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, PRUNEGUARD_MEASUREMENT: 'quick', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function manifest(name: string, uri: (file: string) => string, withS3: boolean): Promise<string> {
  const object = fixtureManifestObject({ task: 'flights', uri });
  if (withS3) object.spec.s3 = { endpoint: server.endpoint, forcePathStyle: true };
  const file = path.join(scratch, `${name}.yaml`);
  await writeFile(file, yaml.dump(object));
  return file;
}

const credentialEnv = (credentials: S3Credentials) => ({
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
});

describe('pruneguard evaluate on s3://', () => {
  test('grades objects exactly as it grades the same files on disk', async () => {
    const fromS3 = await manifest('flights-s3', objectUri, true);
    const fromDisk = await manifest('flights-disk', (file) => `file://${path.resolve(file)}`, false);
    const [s3Run, diskRun] = await Promise.all([
      pruneguard(['evaluate', '-f', fromS3, '-o', 'json'], credentialEnv(server.admin)),
      pruneguard(['evaluate', '-f', fromDisk, '-o', 'json'], {}),
    ]);
    assert.equal(s3Run.code, diskRun.code, `s3: ${s3Run.stderr}\ndisk: ${diskRun.stderr}`);
    assert.ok([0, 3, 4, 5].includes(s3Run.code), s3Run.stderr);
    const [fromObjects, fromFiles] = [s3Run, diskRun].map(
      (run) => (JSON.parse(run.stdout) as EvaluationStatusReport).status,
    );
    assert.equal(fromObjects!.verdict, fromFiles!.verdict);
    assert.equal(fromObjects!.samples, fromFiles!.samples);
    assert.equal(fromObjects!.referenceSamples, flights.rows.reference);
    const rowMetrics = (status: EvaluationStatusReport['status']) =>
      status.metrics.filter((m) => ['accuracyDrop', 'psi', 'demographicParity'].includes(m.name));
    assert.deepEqual(rowMetrics(fromObjects!), rowMetrics(fromFiles!));
    for (const secret of [server.admin.secretAccessKey])
      assert.ok(!`${s3Run.stdout}${s3Run.stderr}`.includes(secret), 'the secret key is in the output');
  });

  test('a wrong secret fails with one line on stderr, exit 1, and the secret nowhere', async () => {
    const file = await manifest('flights-s3-denied', objectUri, true);
    const secret = `${server.admin.secretAccessKey.slice(0, -4)}XXXX`;
    const run = await pruneguard(['evaluate', '-f', file, '-o', 'json'], {
      AWS_ACCESS_KEY_ID: server.admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secret,
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0]!,
      /teacher model s3:\/\/fixtures\/test\/fixtures\/flights\/teacher\.onnx: access denied \(SignatureDoesNotMatch, HTTP 403\)/,
    );
    for (const value of [secret, server.admin.secretAccessKey, server.admin.accessKeyId])
      assert.ok(!`${run.stdout}${run.stderr}`.includes(value), 'a credential is in the output');
  });
});
