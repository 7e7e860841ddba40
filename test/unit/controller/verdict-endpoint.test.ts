import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { PrunedModelEvaluation, PrunedModelEvaluationStatus } from '../../../src/api/v1alpha1/index.js';
import {
  parseVerdictPath,
  verdictAnswer,
  verdictEndpoint,
  type EvaluationKey,
  type EvaluationReader,
} from '../../../src/controller/verdict-endpoint.js';

const path = (namespace: string, name: string) =>
  `/api/v1/namespaces/${namespace}/prunedmodelevaluations/${name}/verdict`;

function evaluation(
  generation: number | undefined,
  status?: PrunedModelEvaluationStatus,
): PrunedModelEvaluation {
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'PrunedModelEvaluation',
    metadata: { name: 'penguins', namespace: 'ml', ...(generation === undefined ? {} : { generation }) },
    spec: {} as PrunedModelEvaluation['spec'],
    ...(status ? { status } : {}),
  };
}

const lastRun = { name: 'penguins-00003', completedAt: '2026-11-28T10:00:00Z', samples: 133 };
const accuracyDrop = {
  name: 'accuracyDrop' as const,
  value: 0.015,
  grade: 'Pass' as const,
  target: 0.02,
  warning: 0.05,
  samples: 133,
};

describe('parseVerdictPath', () => {
  const valid: [string, EvaluationKey][] = [
    [path('ml', 'penguins-p70'), { namespace: 'ml', name: 'penguins-p70' }],
    [path('a', 'b'), { namespace: 'a', name: 'b' }],
    [path('ml', 'penguins.v2'), { namespace: 'ml', name: 'penguins.v2' }],
    [path('n'.repeat(63), 'x'.repeat(253)), { namespace: 'n'.repeat(63), name: 'x'.repeat(253) }],
  ];
  for (const [url, key] of valid) {
    it(`reads ${url.slice(0, 80)}`, () => assert.deepEqual(parseVerdictPath(url), key));
  }

  const malformed: [string, string, RegExp][] = [
    ['a trailing slash', `${path('ml', 'p')}/`, /unknown path/],
    ['an extra segment', `${path('ml', 'p')}/x`, /unknown path/],
    ['a missing segment', '/api/v1/namespaces/ml/prunedmodelevaluations/p', /unknown path/],
    ['another resource', '/api/v1/namespaces/ml/evaluationruns/p/verdict', /unknown path/],
    ['another version', '/api/v2/namespaces/ml/prunedmodelevaluations/p/verdict', /unknown path/],
    ['a doubled slash', '/api/v1//namespaces/ml/prunedmodelevaluations/p/verdict', /unknown path/],
    ['an absolute URL', `http://example.com${path('ml', 'p')}`, /unknown path/],
    ['a query', `${path('ml', 'p')}?watch=true`, /no query parameters/],
    ['an empty query', `${path('ml', 'p')}?`, /no query parameters/],
    ['an upper-case namespace', path('ML', 'p'), /namespace is not a DNS-1123 label/],
    ['a dotted namespace', path('m.l', 'p'), /namespace is not a DNS-1123 label/],
    ['a 64-character namespace', path('n'.repeat(64), 'p'), /namespace is not a DNS-1123 label/],
    ['an empty namespace', path('', 'p'), /namespace is not a DNS-1123 label/],
    ['an empty name', path('ml', ''), /name is not a DNS-1123 subdomain/],
    ['a name with a leading dash', path('ml', '-p'), /name is not a DNS-1123 subdomain/],
    ['a percent-encoded name', path('ml', 'p%2Fx'), /name is not a DNS-1123 subdomain/],
    ['a dot-dot name', path('ml', '..'), /name is not a DNS-1123 subdomain/],
    ['an upper-case name', path('ml', 'Penguins'), /name is not a DNS-1123 subdomain/],
    ['a 254-character name', path('ml', 'x'.repeat(254)), /name is not a DNS-1123 subdomain/],
  ];
  for (const [what, url, message] of malformed) {
    it(`refuses ${what}`, () => {
      const parsed = parseVerdictPath(url);
      assert.ok('error' in parsed, `${url} parsed as ${JSON.stringify(parsed)}`);
      assert.match(parsed.error, message);
    });
  }
});

describe('verdictAnswer', () => {
  const cases: { name: string; evaluation: PrunedModelEvaluation; expected: unknown }[] = [
    {
      name: 'a verdict of the current spec, with its metrics',
      evaluation: evaluation(2, {
        observedGeneration: 2,
        verdict: 'Pass',
        lastRun,
        explanation: 'all 7 graded metrics meet their targets',
        metrics: [accuracyDrop, { ...accuracyDrop, name: 'psi', value: 0.14, grade: 'Disabled' }],
      }),
      expected: {
        verdict: 'Pass',
        run: 'penguins-00003',
        completedAt: '2026-11-28T10:00:00Z',
        observedGeneration: 2,
        generation: 2,
        explanation: 'all 7 graded metrics meet their targets',
        metrics: { accuracyDrop: { value: 0.015, grade: 'Pass' }, psi: { value: 0.14, grade: 'Disabled' } },
      },
    },
    {
      name: 'Warning and Critical pass through as they are',
      evaluation: evaluation(1, {
        observedGeneration: 1,
        verdict: 'Critical',
        explanation: 'psi 2.07 > 0.3',
      }),
      expected: {
        verdict: 'Critical',
        run: null,
        completedAt: null,
        observedGeneration: 1,
        generation: 1,
        explanation: 'psi 2.07 > 0.3',
        metrics: {},
      },
    },
    {
      name: 'no status at all: Inconclusive, no verdict yet',
      evaluation: evaluation(1),
      expected: {
        verdict: 'Inconclusive',
        run: null,
        completedAt: null,
        observedGeneration: null,
        generation: 1,
        explanation: 'no verdict yet: the evaluation has not finished a run',
        metrics: {},
      },
    },
    {
      name: 'a status without a verdict (a run is under way): Inconclusive',
      evaluation: evaluation(1, { nextRunAt: '2026-11-28T11:00:00Z' }),
      expected: {
        verdict: 'Inconclusive',
        run: null,
        completedAt: null,
        observedGeneration: null,
        generation: 1,
        explanation: 'no verdict yet: the evaluation has not finished a run',
        metrics: {},
      },
    },
    {
      name: 'a Pass that graded an older spec: Inconclusive, and none of its metrics',
      evaluation: evaluation(3, {
        observedGeneration: 2,
        verdict: 'Pass',
        lastRun,
        explanation: 'all 7 graded metrics meet their targets',
        metrics: [accuracyDrop],
      }),
      expected: {
        verdict: 'Inconclusive',
        run: 'penguins-00003',
        completedAt: '2026-11-28T10:00:00Z',
        observedGeneration: 2,
        generation: 3,
        explanation:
          'the last verdict (Pass) graded generation 2 of the spec; the spec is at generation 3 and has not been graded yet',
        metrics: {},
      },
    },
    {
      name: 'a verdict that does not say which spec it graded: Inconclusive',
      evaluation: evaluation(1, { verdict: 'Pass', metrics: [accuracyDrop] }),
      expected: {
        verdict: 'Inconclusive',
        run: null,
        completedAt: null,
        observedGeneration: null,
        generation: 1,
        explanation:
          'the last verdict (Pass) graded an unknown generation of the spec; the spec is at generation 1 and has not been graded yet',
        metrics: {},
      },
    },
    {
      name: 'metadata without a generation counts as generation 1',
      evaluation: evaluation(undefined, { observedGeneration: 1, verdict: 'Warning' }),
      expected: {
        verdict: 'Warning',
        run: null,
        completedAt: null,
        observedGeneration: 1,
        generation: 1,
        explanation: '',
        metrics: {},
      },
    },
  ];
  for (const { name, evaluation, expected } of cases) {
    it(name, () => assert.deepEqual(verdictAnswer(evaluation), expected));
  }
});

describe('verdictEndpoint over HTTP', () => {
  const stored = new Map<string, PrunedModelEvaluation>([
    [
      'ml/penguins',
      evaluation(1, { observedGeneration: 1, verdict: 'Pass', lastRun, metrics: [accuracyDrop] }),
    ],
  ]);
  const reads: EvaluationKey[] = [];
  let hang = false;
  let failWith: unknown;
  const read: EvaluationReader = async (key, signal) => {
    reads.push(key);
    if (failWith) throw failWith;
    if (hang) {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    return stored.get(`${key.namespace}/${key.name}`);
  };
  const server = http.createServer(
    verdictEndpoint({ read, log: pino({ level: 'silent' }), readTimeoutMs: 200, maxReadsInFlight: 2 }),
  );
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (url: string, init?: RequestInit) => {
    const response = await fetch(`${base}${url}`, init);
    return { status: response.status, headers: response.headers, body: (await response.json()) as never };
  };

  it('answers the verdict as JSON, reading the evaluation anew on every request', async () => {
    reads.length = 0;
    const first = await get(path('ml', 'penguins'));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'application/json');
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.deepEqual(first.body, {
      verdict: 'Pass',
      run: 'penguins-00003',
      completedAt: '2026-11-28T10:00:00Z',
      observedGeneration: 1,
      generation: 1,
      explanation: '',
      metrics: { accuracyDrop: { value: 0.015, grade: 'Pass' } },
    });
    await get(path('ml', 'penguins'));
    assert.deepEqual(reads, [
      { namespace: 'ml', name: 'penguins' },
      { namespace: 'ml', name: 'penguins' },
    ]);
  });

  it('404 for an evaluation that does not exist', async () => {
    const { status, body } = await get(path('ml', 'unknown'));
    assert.equal(status, 404);
    assert.deepEqual(body, { error: 'PrunedModelEvaluation ml/unknown not found' });
  });

  it('400 for a malformed path, without reading anything', async () => {
    reads.length = 0;
    for (const url of [`${path('ml', 'penguins')}?x=1`, '/api/v1/namespaces/ml', path('ML', 'penguins')]) {
      const { status, body } = await get(url);
      assert.equal(status, 400, url);
      assert.ok(typeof (body as { error: unknown }).error === 'string');
    }
    assert.deepEqual(reads, []);
  });

  it('405 for any method but GET, without reading anything', async () => {
    reads.length = 0;
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const response = await fetch(`${base}${path('ml', 'penguins')}`, { method, body: '{}' });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET');
    }
    const head = await fetch(`${base}${path('ml', 'penguins')}`, { method: 'HEAD' });
    assert.equal(head.status, 405);
    assert.deepEqual(reads, []);
  });

  it('403 when the operator may not read the namespace; 502 on another API error; neither echoes the API message', async () => {
    failWith = Object.assign(new Error('forbidden: User "system:serviceaccount:x:y" cannot get'), {
      code: 403,
    });
    const forbidden = await get(path('other', 'penguins'));
    assert.equal(forbidden.status, 403);
    assert.deepEqual(forbidden.body, {
      error: 'the operator may not read PrunedModelEvaluations in namespace other',
    });
    failWith = Object.assign(new Error('etcdserver: leader changed'), { code: 500 });
    const failed = await get(path('ml', 'penguins'));
    assert.equal(failed.status, 502);
    assert.doesNotMatch(JSON.stringify(failed.body), /etcdserver/);
    failWith = undefined;
  });

  it('504 when the API server does not answer in time; 503 beyond the reads in flight', async () => {
    hang = true;
    try {
      const slow = [get(path('ml', 'penguins')), get(path('ml', 'penguins'))];
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await get(path('ml', 'penguins'));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      for (const { status, body } of await Promise.all(slow)) {
        assert.equal(status, 504);
        assert.deepEqual(body, {
          error: 'PrunedModelEvaluation ml/penguins: the API server did not answer within 0.2 s',
        });
      }
    } finally {
      hang = false;
    }
    assert.equal((await get(path('ml', 'penguins'))).status, 200, 'slots are free again');
  });
});
