import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { openTable } from '../../../src/evaluator/data/open.js';
import { openSource, readAll } from '../../../src/evaluator/sources/index.js';
import {
  clusterEgressDefaults,
  egressPolicyEnv,
  encodeEgressPolicy,
  localEgressDefaults,
  type EgressPolicy,
} from '../../../src/security/egress.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const fixture = 'test/fixtures/penguins/reference.csv';
let root: string;

before(async () => {
  root = await temporaryDirectory('sources');
  await mkdir(path.join(root, 'pvc/datasets/penguins'), { recursive: true });
  await mkdir(path.join(root, 'configmap/thresholds'), { recursive: true });
  await writeFile(path.join(root, 'pvc/datasets/penguins/reference.csv'), await readFile(fixture));
  await writeFile(path.join(root, 'configmap/thresholds/reference.csv'), await readFile(fixture));
  process.env.PRUNEGUARD_PVC_ROOT = path.join(root, 'pvc');
  process.env.PRUNEGUARD_CONFIGMAP_ROOT = path.join(root, 'configmap');
});

after(() => {
  delete process.env.PRUNEGUARD_PVC_ROOT;
  delete process.env.PRUNEGUARD_CONFIGMAP_ROOT;
});

test('pvc:// and configmap:// resolve under their mount roots', async () => {
  const expected = await readFile(fixture);
  assert.deepEqual(Buffer.from(await readAll(openSource('pvc://datasets/penguins/reference.csv'))), expected);
  assert.deepEqual(Buffer.from(await readAll(openSource('configmap://thresholds/reference.csv'))), expected);
  assert.deepEqual(Buffer.from(await readAll(openSource(`file://${path.resolve(fixture)}`))), expected);
  assert.deepEqual(Buffer.from(await readAll(openSource(fixture))), expected);
});

test('a missing file names the URI and where it looked', async () => {
  await assert.rejects(
    readAll(openSource('pvc://datasets/penguins/nope.csv')),
    (error: Error) =>
      error.message.startsWith('pvc://datasets/penguins/nope.csv: file not found') &&
      error.message.includes(path.join(root, 'pvc/datasets/penguins/nope.csv')),
  );
});

test('paths that leave the mount and unknown schemes are refused', () => {
  assert.throws(
    () => openSource('pvc://datasets/../../etc/passwd'),
    /pvc:\/\/datasets\/..\/..\/etc\/passwd: path leaves the pvc mount/,
  );
  assert.throws(() => openSource('configmap://only-a-name'), /expected configmap:\/\/<name>\/<path>/);
  assert.throws(
    () => openSource('gs://bucket/key.csv'),
    /gs:\/\/bucket\/key.csv: unsupported scheme 'gs:\/\/'/,
  );
});

/** Serves files by URL path, honouring single Range requests as object stores do. */
function serve(server: http.Server | https.Server, files: Record<string, Buffer>): Promise<number> {
  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const file = files[request.url ?? ''];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    const range = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '');
    if (range) {
      const [start, end] = [Number(range[1]), Number(range[2])];
      response
        .writeHead(206, { 'content-range': `bytes ${start}-${end}/${file.length}` })
        .end(file.subarray(start, end + 1));
    } else {
      response
        .writeHead(200, { 'content-length': file.length })
        .end(request.method === 'HEAD' ? undefined : file);
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

test('http:// streams, reads ranges (Parquet included) and reports HTTP errors with the URI', async () => {
  const file = await readFile(fixture);
  const parquet = await readFile('test/fixtures/flights/reference.parquet');
  const server = http.createServer();
  const port = await serve(server, { '/data/reference.csv': file, '/data/reference.parquet': parquet });
  try {
    const uri = `http://127.0.0.1:${port}/data/reference.csv`;
    const source = openSource(uri);
    assert.equal(await source.size(), file.length);
    assert.deepEqual(Buffer.from(await source.read(10, 50)), file.subarray(10, 50));
    let rows = 0;
    for await (const batch of openTable(uri, { batchSize: 50 })) rows += batch.rows;
    assert.equal(rows, file.toString().trim().split('\n').length - 1);
    await assert.rejects(
      readAll(openSource(`http://127.0.0.1:${port}/missing.csv`)),
      /missing\.csv: HTTP 404/,
    );

    // Parquet over HTTP reads its footer and row groups with Range requests.
    const delays = async (uri: string) => {
      const values: number[] = [];
      for await (const batch of openTable(uri, { columns: ['delay'] }))
        values.push(...(batch.columns.delay as Float64Array));
      return values;
    };
    const local = await delays('test/fixtures/flights/reference.parquet');
    assert.equal(local.length, 5726);
    assert.deepEqual(await delays(`http://127.0.0.1:${port}/data/reference.parquet`), local);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('https:// trusts a private CA given in PRUNEGUARD_HTTPS_CA_FILE', async () => {
  const dir = await temporaryDirectory('tls');
  await promisify(execFile)(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
    ],
    { cwd: dir },
  );
  const file = await readFile(fixture);
  const server = https.createServer({
    key: await readFile(path.join(dir, 'key.pem')),
    cert: await readFile(path.join(dir, 'cert.pem')),
  });
  const port = await serve(server, { '/data/reference.csv': file });
  const uri = `https://127.0.0.1:${port}/data/reference.csv`;
  try {
    await assert.rejects(readAll(openSource(uri)), (error: Error) => error.message.startsWith(`${uri}: `));
    process.env.PRUNEGUARD_HTTPS_CA_FILE = path.join(dir, 'cert.pem');
    assert.deepEqual(Buffer.from(await readAll(openSource(uri))), file);
  } finally {
    delete process.env.PRUNEGUARD_HTTPS_CA_FILE;
    server.closeAllConnections();
    server.close();
  }
});

test('the egress policy is checked before a source opens: the cluster refuses files, loopback and metadata', () => {
  const refused: [string, RegExp][] = [
    [`file://${path.resolve(fixture)}`, /is refused: scheme file:\/\/ is not allowed/],
    [fixture, /is refused: local files \(plain paths and file:\/\/\) are not allowed/],
    ['http://127.0.0.1:1/data.csv', /is refused: its host 127\.0\.0\.1 is a loopback address/],
    ['http://localhost:1/data.csv', /is refused: its host localhost is a loopback name/],
    [
      'https://169.254.169.254/latest/meta-data/',
      /is refused: its host 169\.254\.169\.254 is a cloud metadata address/,
    ],
    ['https://2852039166/x.csv', /is refused: its host 169\.254\.169\.254 is a cloud metadata address/],
    [
      'https://metadata.google.internal./x.csv',
      /is refused: its host metadata\.google\.internal is a cloud metadata/,
    ],
  ];
  for (const [uri, message] of refused) {
    assert.throws(
      () => openSource(uri, clusterEgressDefaults),
      (error: Error) => {
        assert.ok(error.message.startsWith(`${uri} is refused: `), error.message);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.doesNotThrow(() => openSource('pvc://datasets/penguins/reference.csv', clusterEgressDefaults));
  // Unknown schemes keep their own message, whatever the policy.
  assert.throws(
    () => openSource('gs://bucket/key.csv', clusterEgressDefaults),
    /unsupported scheme 'gs:\/\/'/,
  );
});

test('evaluation pods take the policy from PRUNEGUARD_EGRESS_POLICY; without it, the local defaults', async () => {
  const expected = await readFile(fixture);
  try {
    process.env[egressPolicyEnv] = encodeEgressPolicy(clusterEgressDefaults);
    assert.throws(() => openSource(fixture), /local files .* are not allowed/);
    assert.deepEqual(
      Buffer.from(await readAll(openSource('pvc://datasets/penguins/reference.csv'))),
      expected,
    );
    process.env[egressPolicyEnv] = 'not json';
    assert.throws(
      () => openSource('pvc://datasets/penguins/reference.csv'),
      /PRUNEGUARD_EGRESS_POLICY: not JSON/,
    );
    delete process.env[egressPolicyEnv];
    assert.deepEqual(Buffer.from(await readAll(openSource(fixture))), expected);
  } finally {
    delete process.env[egressPolicyEnv];
  }
});

test('http:// connects only where the policy allows, and a redirect is an error naming its Location', async () => {
  const file = await readFile(fixture);
  let contacted = 0;
  const elsewhere = http.createServer((_request, response) => {
    contacted++;
    response.end(file);
  });
  const elsewherePort = await new Promise<number>((resolve) =>
    elsewhere.listen(0, '127.0.0.2', () => resolve((elsewhere.address() as AddressInfo).port)),
  );
  const location = `http://127.0.0.2:${elsewherePort}/data/reference.csv`;
  let requests = 0;
  const server = http.createServer((request, response) => {
    requests++;
    if (request.url === '/moved.csv') response.writeHead(302, { location }).end();
    else
      response
        .writeHead(200, { 'content-length': file.length })
        .end(request.method === 'HEAD' ? undefined : file);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
  const onlyThisServer: EgressPolicy = { ...localEgressDefaults, hosts: ['127.0.0.1'] };
  try {
    const moved = `http://127.0.0.1:${port}/moved.csv`;
    for (const read of [
      (uri: string) => readAll(openSource(uri, onlyThisServer)),
      (uri: string) => openSource(uri, onlyThisServer).read(0, 10),
      (uri: string) => openSource(uri, localEgressDefaults).size(),
    ]) {
      await assert.rejects(read(moved), {
        message: `${moved}: HTTP 302 redirects to ${location}; redirects are not followed, use the final URL`,
      });
    }
    assert.equal(requests, 3);
    assert.equal(contacted, 0);
    assert.throws(() => openSource(location, onlyThisServer), /127\.0\.0\.2 is not an allowed host/);
    assert.throws(
      () => openSource(`http://127.0.0.1:${port}/data.csv`, { ...localEgressDefaults, allowLoopback: false }),
      /is refused: its host 127\.0\.0\.1 is a loopback address/,
    );
    assert.equal(requests, 3);
    assert.deepEqual(
      Buffer.from(await readAll(openSource(`http://127.0.0.1:${port}/data.csv`, onlyThisServer))),
      file,
    );
  } finally {
    for (const s of [server, elsewhere]) {
      s.closeAllConnections();
      s.close();
    }
  }
});
