import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BatchV1Api } from '@kubernetes/client-node';
import { retrainingTemplateRefusal, triggerRetraining } from '../../../src/actuators/retraining.js';
import { imageAllowed, specRefusal, type SpecPolicy } from '../../../src/controller/spec-admission.js';
import { clusterEgressDefaults } from '../../../src/security/egress.js';
import { restrictedJobTemplate } from '../../support/retraining-template.js';
import { parsedEvaluation } from './parsed-evaluation.js';

type Json = Record<string, unknown>;

const policy: SpecPolicy = {
  evaluatorImage: 'ghcr.io/pruneguard/pruneguard:0.1.0',
  allowedEvaluatorImages: ['registry.example/ml/*', 'mirror.example/pruneguard:0.1.0'],
  allowCustomServiceAccounts: false,
  egress: clusterEgressDefaults,
};

describe('what an evaluation may ask for', () => {
  it('admits a spec that asks for nothing beyond the defaults', () => {
    assert.equal(specRefusal(parsedEvaluation({}), policy), undefined);
    assert.equal(
      specRefusal(parsedEvaluation({ retraining: { jobTemplate: restrictedJobTemplate() } }), policy),
      undefined,
    );
  });

  const refused: [string, Json, RegExp][] = [
    [
      'a custom ServiceAccount',
      { runtime: { serviceAccountName: 'admin' } },
      /spec\.runtime\.serviceAccountName/,
    ],
    [
      'an image off the allowlist',
      { runtime: { image: 'attacker/x:1' } },
      /spec\.runtime\.image attacker\/x:1/,
    ],
    [
      'the service account token as data',
      { teacher: { uri: 'file:///var/run/secrets/kubernetes.io/serviceaccount/token' } },
      /spec\.teacher\.uri/,
    ],
    [
      'the metadata service as data',
      { candidate: { uri: 'https://169.254.169.254/latest/model.onnx' } },
      /spec\.candidate\.uri/,
    ],
    [
      'a webhook at a metadata address',
      { retraining: { webhook: { url: 'http://[fd00:ec2::254]/hook' } } },
      /spec\.retraining\.webhook\.url/,
    ],
    [
      'a Prometheus at a metadata address',
      {
        live: {
          prometheus: { address: 'http://169.254.169.254' },
          metrics: [{ name: 'p95LatencyMs', canary: 'up', target: 1, warning: 2 }],
        },
      },
      /spec\.live\.prometheus\.address: http:\/\/169\.254\.169\.254 is refused/,
    ],
    [
      'a privileged retraining Job',
      { retraining: { jobTemplate: restrictedJobTemplate({ hostPID: true }) } },
      /spec\.retraining\.jobTemplate\.spec\.template\.spec\.hostPID/,
    ],
  ];
  for (const [what, spec, field] of refused) {
    it(`refuses ${what}, naming the field`, () => {
      assert.match(specRefusal(parsedEvaluation(spec), policy) ?? 'admitted', field);
    });
  }

  it('lists every problem at once', () => {
    const refusal = specRefusal(
      parsedEvaluation({ runtime: { image: 'attacker/x:1', serviceAccountName: 'admin' } }),
      policy,
    );
    assert.match(refusal ?? '', /runtime\.image.*; spec\.runtime\.serviceAccountName/);
  });

  it('allows images by exact name or prefix, and the default always', () => {
    assert.ok(imageAllowed(policy.evaluatorImage, policy));
    assert.ok(imageAllowed('registry.example/ml/evaluator:2', policy));
    assert.ok(imageAllowed('mirror.example/pruneguard:0.1.0', policy));
    assert.ok(!imageAllowed('mirror.example/pruneguard:0.1.1', policy));
    assert.ok(!imageAllowed('registry.example/mlx/evaluator:2', policy));
  });

  it('allows a custom ServiceAccount only when the operator does', () => {
    const spec = { runtime: { serviceAccountName: 'ml-reader' } };
    assert.equal(
      specRefusal(parsedEvaluation(spec), { ...policy, allowCustomServiceAccounts: true }),
      undefined,
    );
  });
});

describe('retraining Job templates', () => {
  it('must pass Pod Security "restricted", AppArmor annotations included', () => {
    assert.equal(retrainingTemplateRefusal(restrictedJobTemplate(), false), undefined);
    assert.match(
      retrainingTemplateRefusal(
        restrictedJobTemplate({}, { securityContext: { privileged: true } }),
        false,
      ) ?? '',
      /Pod Security "restricted".*containers\[0\]\.securityContext/,
    );
    assert.match(
      retrainingTemplateRefusal(
        restrictedJobTemplate(
          {},
          {},
          { annotations: { 'container.apparmor.security.beta.kubernetes.io/train': 'unconfined' } },
        ),
        false,
      ) ?? '',
      /annotations\[container\.apparmor\.security\.beta\.kubernetes\.io\/train\]/,
    );
  });

  it('run as the retraining ServiceAccount unless the operator allows their own', () => {
    const own = restrictedJobTemplate({ serviceAccountName: 'deployer' });
    assert.match(retrainingTemplateRefusal(own, false) ?? '', /serviceAccountName is set/);
    assert.equal(retrainingTemplateRefusal(own, true), undefined);
  });

  it('need a pod with a container', () => {
    assert.match(retrainingTemplateRefusal({ spec: {} }, false) ?? '', /at least one container/);
  });
});

describe('the retraining webhook', () => {
  let server: http.Server;
  let url: string;
  const received: { key: string | undefined; body: Json }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({
          key: req.headers['idempotency-key'] as string | undefined,
          body: JSON.parse(body) as Json,
        });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://localhost:${(server.address() as AddressInfo).port}/retrain`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const context = {
    namespace: 'ml',
    evaluation: 'penguins',
    owner: {
      apiVersion: 'pruneguard.io/v1alpha1',
      kind: 'PrunedModelEvaluation',
      name: 'penguins',
      uid: 'u',
    },
    verdict: 'Critical',
    breaches: ['accuracyDrop 6.1% > 5%'],
  };
  const request = { run: 'penguins-00002', reason: 'accuracyDrop 6.1% > 5%', dryRun: false };
  const batch = {} as BatchV1Api;

  it('is called where the egress policy allows it', async () => {
    const outcomes = await triggerRetraining(batch, { webhook: { url } }, context, request, {
      serviceAccountName: 'pruneguard-retraining',
      allowCustomServiceAccounts: false,
      egress: { ...clusterEgressDefaults, allowLoopback: true },
    });
    assert.deepEqual(
      outcomes.map((o) => [o.performed, o.detail]),
      [[true, 'webhook answered 202']],
    );
    assert.equal(received.at(-1)?.key, 'penguins-00002');
    assert.equal(received.at(-1)?.body.verdict, 'Critical');
  });

  it('is never contacted at an address the policy refuses, even through a name that resolves to it', async () => {
    const before = received.length;
    await assert.rejects(
      triggerRetraining(batch, { webhook: { url } }, context, request, {
        serviceAccountName: 'pruneguard-retraining',
        allowCustomServiceAccounts: false,
        egress: clusterEgressDefaults,
      }),
      /Webhook\/localhost:\d+: retraining webhook not called or unreachable: .*loopback/,
    );
    assert.equal(received.length, before, 'no request reached the server');
  });
});
