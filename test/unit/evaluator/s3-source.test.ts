/**
 * The s3:// reader's own parts: where credentials come from, the one-line errors (no credential in
 * them), and the timeouts against loopback servers that stall. Reads from a real S3 server are in
 * test/integration/evaluator/s3-source.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { readAll, type SourceOptions } from '../../../src/evaluator/sources/index.js';
import { credentialsFromEnvironment, s3Failure, s3Source } from '../../../src/evaluator/sources/s3.js';
import { EgressRefusedError, localEgressDefaults } from '../../../src/security/egress.js';
import { headersThenSilence, httpServer, silentServer, unacceptingServer } from './stalling-servers.js';

const uri = 's3://models/fraud/teacher.onnx';
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const context = {
  uri,
  location: { bucket: 'models', key: 'fraud/teacher.onnx' },
  endpoint: 'http://seaweedfs.storage:8333',
  signed: true,
  limits: { connectMs: 10_000, idleMs: 30_000 },
  secrets: ['AKIAIOSFODNN7EXAMPLE', secret],
};
const sdkError = (name: string, status?: number, message = name) =>
  Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('s3:// credentials', () => {
  test('come from the environment, both keys or neither', () => {
    assert.equal(credentialsFromEnvironment(uri, {}), undefined);
    assert.deepEqual(
      credentialsFromEnvironment(uri, { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: secret }),
      { accessKeyId: 'id', secretAccessKey: secret },
    );
    assert.deepEqual(
      credentialsFromEnvironment(uri, {
        AWS_ACCESS_KEY_ID: 'id',
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_SESSION_TOKEN: 'token',
      }),
      { accessKeyId: 'id', secretAccessKey: secret, sessionToken: 'token' },
    );
    assert.throws(
      () => credentialsFromEnvironment(uri, { AWS_ACCESS_KEY_ID: 'id' }),
      new Error(
        `${uri}: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both (spec.s3.credentialsSecret holds both keys) or neither (anonymous)`,
      ),
    );
  });
});

describe('s3:// errors', () => {
  const cases: [string, Error, boolean, string][] = [
    [
      'NoSuchBucket',
      sdkError('NoSuchBucket', 404),
      true,
      "bucket 'models' does not exist at http://seaweedfs.storage:8333",
    ],
    [
      'NoSuchKey',
      sdkError('NoSuchKey', 404),
      true,
      "no object 'fraud/teacher.onnx' in bucket 'models' at http://seaweedfs.storage:8333",
    ],
    [
      'a HEAD 404',
      sdkError('NotFound', 404),
      true,
      "no object 'fraud/teacher.onnx' in bucket 'models' at http://seaweedfs.storage:8333",
    ],
    [
      'SignatureDoesNotMatch',
      sdkError(
        'SignatureDoesNotMatch',
        403,
        `The request signature we calculated does not match (${secret})`,
      ),
      true,
      "access denied (SignatureDoesNotMatch, HTTP 403); check spec.s3.credentialsSecret (for pruneguard evaluate: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and that its identity may read bucket 'models' (S3 also answers 403 for a missing key to an identity that may not list the bucket)",
    ],
    [
      'AccessDenied, anonymous',
      sdkError('AccessDenied', 403),
      false,
      'access denied (AccessDenied, HTTP 403); the request was anonymous: set spec.s3.credentialsSecret (for pruneguard evaluate: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) (S3 also answers 403 for a missing key to an identity that may not list the bucket)',
    ],
    ['a HEAD 403', sdkError('403', 403), true, 'access denied (HTTP 403); check spec.s3.credentialsSecret'],
    [
      'a 500',
      sdkError('InternalError', 500, 'We encountered an internal error'),
      true,
      'http://seaweedfs.storage:8333 answered HTTP 500 (InternalError: We encountered an internal error)',
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:8333'), { code: 'ECONNREFUSED' }),
      true,
      'cannot reach http://seaweedfs.storage:8333: connect ECONNREFUSED 10.0.0.7:8333',
    ],
    [
      'an echoed credential',
      sdkError(
        'InvalidArgument',
        400,
        `bad header: Credential=AKIAIOSFODNN7EXAMPLE/20261129 secret ${secret}`,
      ),
      true,
      'http://seaweedfs.storage:8333 answered HTTP 400 (InvalidArgument: bad header: Credential=***/20261129 secret ***)',
    ],
  ];
  for (const [what, error, signed, expected] of cases)
    test(`${what}: one line after the URI, no credential`, () => {
      const message = s3Failure(error, { ...context, signed }).message;
      assert.ok(message.startsWith(`${uri}: ${expected}`), message);
      assert.ok(!message.includes(secret) && !message.includes('AKIAIOSFODNN7EXAMPLE'), message);
      assert.ok(!message.includes('\n'), message);
    });

  test('an egress refusal stays one', () => {
    const refused = new EgressRefusedError(
      'connection refused by the egress policy: x resolves to 169.254.169.254',
    );
    const failure = s3Failure(refused, context);
    assert.ok(failure instanceof EgressRefusedError);
    assert.equal(
      failure.message,
      `${uri}: cannot reach http://seaweedfs.storage:8333: connection refused by the egress policy: x resolves to 169.254.169.254`,
    );
  });
});

describe('s3:// timeouts', () => {
  const short = (endpoint: string): SourceOptions => ({
    timeouts: { connectMs: 200, idleMs: 200 },
    s3: { endpoint, region: 'us-east-1', forcePathStyle: true },
  });
  const source = (endpoint: string) => s3Source(uri, localEgressDefaults, short(endpoint), {});

  /** The message, and that it came well before any default limit (three tries included). */
  async function failure(read: Promise<unknown>): Promise<string> {
    const started = Date.now();
    const error = await read.then(
      () => assert.fail('expected the read to fail'),
      (thrown: unknown) => thrown as Error,
    );
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    return error.message;
  }

  test('an endpoint that never completes a connect fails at the connect timeout', async () => {
    const server = await unacceptingServer();
    try {
      assert.equal(
        await failure(readAll(source(server.url))),
        `${uri}: cannot reach ${server.url}: not connected within 0.2 s`,
      );
    } finally {
      server.close();
    }
  });

  test('an endpoint that never answers fails after connect and idle time', async () => {
    const server = await silentServer();
    try {
      for (const read of [
        (s: ReturnType<typeof source>) => readAll(s),
        (s: ReturnType<typeof source>) => s.size(),
      ])
        assert.equal(
          await failure(read(source(server.url))),
          `${uri}: ${server.url}: no response within 0.4 s`,
        );
    } finally {
      server.close();
    }
  });

  test('a body that stops fails at the idle timeout with the bytes received', async () => {
    const server = await httpServer(headersThenSilence('ONNX'));
    try {
      assert.equal(
        await failure(readAll(source(server.url))),
        `${uri}: no data within 0.2 s (response ok, 4 bytes received)`,
      );
    } finally {
      server.close();
    }
  });
});
