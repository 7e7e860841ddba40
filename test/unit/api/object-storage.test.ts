/**
 * spec.s3 and s3:// URIs: where an object is fetched from (the same URL as the SDK's own endpoint
 * resolver, so the egress check and the connection agree), what the egress policy says about it,
 * and what the evaluator Job gets for credentials.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { S3Client } from '@aws-sdk/client-s3';

import type { EvaluationRun } from '../../../src/api/v1alpha1/index.js';
import {
  parseS3Uri,
  s3Endpoint,
  s3ObjectUrl,
  type S3Options,
} from '../../../src/api/v1alpha1/object-storage.js';
import { evaluationJob, s3CredentialsEnv } from '../../../src/controller/evaluation-job.js';
import { specRefusal } from '../../../src/controller/spec-admission.js';
import { checkUri, clusterEgressDefaults, localEgressDefaults } from '../../../src/security/egress.js';
import { parsedEvaluation } from '../controller/parsed-evaluation.js';

const options = (s3: Partial<S3Options>): S3Options => ({
  region: 'us-east-1',
  forcePathStyle: false,
  ...s3,
});

describe('s3:// URIs', () => {
  it('split into bucket and key, the key as written', () => {
    assert.deepEqual(parseS3Uri('s3://models/fraud/teacher v2.onnx'), {
      bucket: 'models',
      key: 'fraud/teacher v2.onnx',
    });
    for (const bad of ['s3://models', 's3://models/', 's3:///key', 'https://models/x'])
      assert.throws(() => parseS3Uri(bad), /not an S3 object URI; write s3:\/\/<bucket>\/<key>/, bad);
  });

  it('are fetched from the URL the SDK resolves, virtual-hosted or path style', () => {
    // As src/evaluator/sources/s3.ts does: the pinned SDK's notice about its later releases is noise here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const resolve = (
      new S3Client({ region: 'us-east-1' }).config as unknown as {
        endpointProvider: (parameters: Record<string, unknown>) => { url: URL };
      }
    ).endpointProvider;
    const cases: [string, Partial<S3Options>][] = [
      ['my-bucket', {}],
      ['my-bucket', { region: 'eu-west-1' }],
      ['my.bucket', { region: 'eu-west-1' }],
      ['Upper_Case', {}],
      ['my-bucket', { endpoint: 'http://seaweedfs.storage:8333' }],
      ['my-bucket', { endpoint: 'http://seaweedfs.storage:8333', forcePathStyle: true }],
      ['my.bucket', { endpoint: 'http://seaweedfs.storage:8333' }],
      ['my-bucket', { endpoint: 'http://127.0.0.1:8333' }],
      ['my-bucket', { endpoint: 'http://[::1]:8333' }],
      ['my-bucket', { endpoint: 'https://minio.example.com/s3' }],
      ['my-bucket', { endpoint: 'https://minio.example.com/s3/', forcePathStyle: true }],
    ];
    for (const [bucket, s3] of cases) {
      const ours = s3ObjectUrl({ bucket, key: 'k' }, options(s3));
      const sdk = resolve({
        Bucket: bucket,
        Region: options(s3).region,
        Endpoint: s3Endpoint(options(s3)),
        ForcePathStyle: options(s3).forcePathStyle,
        UseFIPS: false,
        UseDualStack: false,
      }).url;
      const sdkObject = `${sdk.origin}${sdk.pathname.replace(/\/$/, '')}/k`;
      assert.equal(ours.href, sdkObject, `${bucket} ${JSON.stringify(s3)}`);
    }
  });

  it('default to AWS in the region, or us-east-1', () => {
    assert.equal(s3Endpoint(undefined), 'https://s3.us-east-1.amazonaws.com');
    assert.equal(s3Endpoint(options({ region: 'eu-central-1' })), 'https://s3.eu-central-1.amazonaws.com');
    assert.equal(
      s3ObjectUrl(parseS3Uri('s3://data/x.parquet'), undefined).href,
      'https://data.s3.us-east-1.amazonaws.com/x.parquet',
    );
  });
});

describe('the egress policy on s3://', () => {
  const only = (hosts: string[]) => ({ ...clusterEgressDefaults, hosts });

  it('checks the endpoint it is fetched from, not the bucket name', () => {
    const seaweed = { s3: options({ endpoint: 'http://seaweedfs.storage:8333', forcePathStyle: true }) };
    assert.equal(checkUri(only(['seaweedfs.storage']), 's3://models/a.onnx', undefined, seaweed), undefined);
    assert.equal(
      checkUri(only(['models']), 's3://models/a.onnx', 'spec.teacher.uri', seaweed),
      'spec.teacher.uri: s3://models/a.onnx is refused: it is fetched from http://seaweedfs.storage:8333, whose host seaweedfs.storage is not an allowed host (allowed: models; --egress-hosts)',
    );
    assert.equal(checkUri(only(['*.amazonaws.com']), 's3://models/a.onnx'), undefined);
    assert.match(
      checkUri(only(['s3.us-east-1.amazonaws.com']), 's3://models/a.onnx') ?? '',
      /fetched from https:\/\/models\.s3\.us-east-1\.amazonaws\.com, whose host models\.s3\.us-east-1\.amazonaws\.com is not an allowed host/,
    );
  });

  it('refuses metadata and loopback endpoints as for https://', () => {
    const at = (endpoint: string) => ({ s3: options({ endpoint, forcePathStyle: true }) });
    assert.match(
      checkUri(clusterEgressDefaults, 's3://b/k', undefined, at('http://169.254.169.254')) ?? '',
      /169\.254\.169\.254 is a cloud metadata address/,
    );
    assert.match(
      checkUri(clusterEgressDefaults, 's3://b/k', undefined, at('http://127.0.0.1:8333')) ?? '',
      /loopback address/,
    );
    assert.equal(
      checkUri(localEgressDefaults, 's3://b/k', undefined, at('http://127.0.0.1:8333')),
      undefined,
    );
  });

  it('holds an http:// endpoint to the policy on http://', () => {
    const tlsOnly = { ...clusterEgressDefaults, schemes: ['https', 's3'] };
    const http = { s3: options({ endpoint: 'http://minio.storage:9000' }) };
    assert.match(
      checkUri(tlsOnly, 's3://bucket/k', undefined, http) ?? '',
      /it is fetched from http:\/\/bucket\.minio\.storage:9000, and scheme http:\/\/ is not allowed/,
    );
    assert.equal(checkUri(tlsOnly, 's3://b/k'), undefined);
    assert.match(
      checkUri({ ...clusterEgressDefaults, schemes: ['https'] }, 's3://b/k') ?? '',
      /scheme s3:\/\/ is not allowed/,
    );
  });

  it('refuses an s3:// URI without a key, saying how to write one', () => {
    assert.equal(
      checkUri(clusterEgressDefaults, 's3://bucket-only'),
      's3://bucket-only is refused: not an S3 object URI; write s3://<bucket>/<key>',
    );
  });

  it('is applied with the spec’s own spec.s3 when the operator admits a spec', () => {
    const evaluation = parsedEvaluation({
      teacher: { uri: 's3://models/teacher.onnx' },
      s3: { endpoint: 'http://169.254.169.254', forcePathStyle: true },
    });
    assert.match(
      specRefusal(evaluation, {
        evaluatorImage: 'pruneguard:test',
        allowedEvaluatorImages: [],
        allowCustomServiceAccounts: false,
        egress: clusterEgressDefaults,
      }) ?? '',
      /^spec\.teacher\.uri: s3:\/\/models\/teacher\.onnx is refused: it is fetched from http:\/\/169\.254\.169\.254/,
    );
  });
});

describe('spec.s3 in the evaluator Job', () => {
  const run = (spec: Record<string, unknown>): EvaluationRun => {
    const evaluation = parsedEvaluation(spec);
    return {
      apiVersion: 'pruneguard.io/v1alpha1',
      kind: 'EvaluationRun',
      metadata: { name: 'penguins-00001', namespace: 'ml', uid: 'run-uid' },
      spec: { evaluationName: 'penguins', generation: 1, shards: 1, evaluationSpec: evaluation.spec },
    };
  };
  const env = (spec: Record<string, unknown>) =>
    evaluationJob(run(spec), {
      defaultImage: 'pruneguard:test',
      serviceAccountName: 'penguins-00001',
      egress: clusterEgressDefaults,
    }).spec!.template.spec!.containers[0]!.env!;

  it('has its fields defaulted by the schema', () => {
    const evaluation = parsedEvaluation({ s3: { credentialsSecret: 'models-s3' } });
    assert.deepEqual(evaluation.spec.s3, {
      region: 'us-east-1',
      forcePathStyle: false,
      credentialsSecret: 'models-s3',
    });
  });

  it('maps the credentials Secret onto the evaluator’s environment, never its values', () => {
    const spec = { teacher: { uri: 's3://models/t.onnx' }, s3: { credentialsSecret: 'models-s3' } };
    assert.deepEqual(
      env(spec).filter((variable) => variable.name.startsWith('AWS_')),
      [
        {
          name: 'AWS_ACCESS_KEY_ID',
          valueFrom: { secretKeyRef: { name: 'models-s3', key: 'AWS_ACCESS_KEY_ID' } },
        },
        {
          name: 'AWS_SECRET_ACCESS_KEY',
          valueFrom: { secretKeyRef: { name: 'models-s3', key: 'AWS_SECRET_ACCESS_KEY' } },
        },
        {
          name: 'AWS_SESSION_TOKEN',
          valueFrom: { secretKeyRef: { name: 'models-s3', key: 'AWS_SESSION_TOKEN', optional: true } },
        },
      ],
    );
  });

  it('adds nothing without an s3:// source or without a Secret', () => {
    assert.deepEqual(s3CredentialsEnv(parsedEvaluation({ s3: { credentialsSecret: 'models-s3' } }).spec), []);
    assert.deepEqual(s3CredentialsEnv(parsedEvaluation({ teacher: { uri: 's3://models/t.onnx' } }).spec), []);
    assert.ok(!env({ teacher: { uri: 's3://models/t.onnx' } }).some((v) => v.name.startsWith('AWS_')));
  });
});
