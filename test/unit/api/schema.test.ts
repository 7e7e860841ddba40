import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import {
  EvaluationRun,
  parseEvaluationRun,
  maxEvaluationNameLength,
  maxShardStateBytes,
  parsePrunedModelEvaluation,
  PrunedModelEvaluation,
  runName,
  sourceSchemes,
  validationErrors,
  withDefaults,
  type SourceScheme,
} from '../../../src/api/v1alpha1/index.js';
import { rejections, validEvaluation, validRun } from '../../integration/api/rejections.js';
import { specRefusal } from '../../../src/controller/spec-admission.js';
import { clusterEgressDefaults, uriScheme } from '../../../src/security/egress.js';

const examples = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'manifests',
  'examples',
);
type Json = Record<string, unknown>;

async function exampleObjects(): Promise<[string, Json][]> {
  const files = (await readdir(examples)).filter((file) => file.endsWith('.yaml')).sort();
  const objects: [string, Json][] = [];
  for (const file of files) {
    for (const document of yaml.loadAll(await readFile(path.join(examples, file), 'utf8'))) {
      if (document !== null) objects.push([file, document as Json]);
    }
  }
  return objects;
}

function evaluationWith(change: (spec: Json & { data: Json }) => void): Json {
  const object = validEvaluation('bad');
  change(object.spec as Json & { data: Json });
  return object;
}

describe('PrunedModelEvaluation schema', () => {
  it('accepts every example manifest', async () => {
    const objects = await exampleObjects();
    assert.ok(objects.length >= 3, 'expected at least three examples');
    for (const [file, object] of objects) {
      assert.deepEqual(validationErrors(PrunedModelEvaluation, object), [], file);
    }
  });

  it('has only examples that the operator’s default configuration runs (no SpecRefused)', async () => {
    for (const [file, object] of await exampleObjects()) {
      const evaluation = parsePrunedModelEvaluation(object, file);
      const refusal = specRefusal(evaluation, {
        evaluatorImage: 'ghcr.io/pruneguard/pruneguard:0.1.0',
        allowedEvaluatorImages: [],
        allowCustomServiceAccounts: false,
        egress: clusterEgressDefaults,
      });
      assert.equal(refusal, undefined, file);
    }
  });

  it('has the examples the docs promise: CPU Deployment pair, GPU Rollout with two shards, label-free', async () => {
    const specs = (await exampleObjects()).map(
      ([, object]) => parsePrunedModelEvaluation(object, 'example').spec,
    );
    const cpuPair = specs.find((spec) => spec.target?.deploymentPair);
    assert.equal(cpuPair?.runtime.accelerator, 'cpu');
    assert.ok(cpuPair?.target?.deploymentPair?.canary);
    const gpu = specs.find((spec) => spec.runtime.accelerator === 'nvidia.com/gpu');
    assert.ok(gpu?.target?.rollout);
    assert.equal(gpu?.runtime.parallelism, 2);
    assert.equal(gpu?.runtime.nodeSelector?.['nvidia.com/gpu.present'], 'true');
    assert.ok(gpu?.runtime.tolerations?.some((toleration) => toleration.key === 'nvidia.com/gpu'));
    assert.ok(specs.some((spec) => spec.data.label === undefined));
    for (const spec of specs) {
      for (const uri of [
        spec.teacher.uri,
        spec.candidate.uri,
        spec.data.reference.uri,
        spec.data.current.uri,
      ])
        // Somewhere a cluster reads from: not a file of the image or of someone's disk.
        assert.notEqual(sourceSchemes[uriScheme(uri) as SourceScheme]?.delivery ?? 'local', 'local', uri);
    }
  });

  it('fills the defaults the API server fills', () => {
    const { spec } = parsePrunedModelEvaluation(validEvaluation('minimal'), 'test');
    assert.deepEqual(spec.thresholds.accuracyDrop, { target: 0.02, warning: 0.05, enabled: true });
    assert.deepEqual(spec.thresholds.throughputQps, { target: 1000, warning: 500, enabled: true });
    assert.deepEqual(spec.energy, { gridIntensityKgPerKWh: 0.4, pue: 1.2 });
    assert.equal(spec.policy.consecutiveBreaches, 2);
    assert.equal(spec.policy.dryRun, false);
    assert.equal(spec.runtime.parallelism, 1);
    assert.equal(spec.runtime.accelerator, 'cpu');
    assert.equal(spec.task, 'classification');
    assert.equal(spec.historyLimit, 5);
    assert.equal(spec.suspend, false);
  });

  it('keeps what the user set and defaults only the rest of a threshold', () => {
    const object = evaluationWith((spec) => {
      spec.thresholds = { p95LatencyMs: { target: 20 } };
    });
    const { spec } = withDefaults(PrunedModelEvaluation, object);
    assert.deepEqual(spec.thresholds.p95LatencyMs, { target: 20, warning: 200, enabled: true });
    assert.deepEqual((object.spec as Json).thresholds, { p95LatencyMs: { target: 20 } }, 'input not mutated');
  });

  const structuralRejections: [string, (spec: Json & { data: Json }) => void, RegExp][] = [
    [
      'unknown model scheme',
      (spec) => (spec.teacher = { uri: 'gs://bucket/teacher.onnx' }),
      /^spec\.teacher\.uri: /,
    ],
    ['unknown field (a typo)', (spec) => (spec.treshold = {}), /^spec\.treshold: /],
    ['missing features', (spec) => delete spec.data.features, /^spec\.data\.features: /],
    ['empty features', (spec) => (spec.data.features = []), /^spec\.data\.features: /],
    ['parallelism 33', (spec) => (spec.runtime = { parallelism: 33 }), /^spec\.runtime\.parallelism: /],
    ['parallelism 0', (spec) => (spec.runtime = { parallelism: 0 }), /^spec\.runtime\.parallelism: /],
    [
      'accelerator tpu',
      (spec) => (spec.runtime = { accelerator: 'tpu' }),
      /^spec\.runtime\.accelerator: "tpu" is not one of cpu, nvidia\.com\/gpu$/,
    ],
    [
      'interval in words',
      (spec) => (spec.schedule = { interval: '30 minutes' }),
      /^spec\.schedule\.interval: /,
    ],
    ['cron with three fields', (spec) => (spec.schedule = { cron: '* * *' }), /^spec\.schedule\.cron: /],
    ['missing schedule', (spec) => delete spec.schedule, /^spec\.schedule: /],
    [
      'consecutiveBreaches 0',
      (spec) => (spec.policy = { consecutiveBreaches: 0 }),
      /^spec\.policy\.consecutiveBreaches: /,
    ],
    [
      'unknown metric',
      (spec) => (spec.thresholds = { f1: { target: 1, warning: 2 } }),
      /^spec\.thresholds\.f1: /,
    ],
    [
      'accuracyDrop above 1',
      (spec) => (spec.thresholds = { accuracyDrop: { target: 2, warning: 3 } }),
      /accuracyDrop\.target/,
    ],
    [
      'slice threshold for an unknown metric',
      (spec) => (spec.sliceThresholds = [{ slice: 'Island=Dream', metric: 'f1', target: 1, warning: 2 }]),
      /^spec\.sliceThresholds\[0\]\.metric: /,
    ],
    [
      'slice without a value',
      (spec) => (spec.sliceThresholds = [{ slice: 'Island', metric: 'psi', target: 0.1, warning: 0.2 }]),
      /^spec\.sliceThresholds\[0\]\.slice: /,
    ],
    [
      'target kind StatefulSet',
      (spec) => (spec.target = { statefulSet: { name: 'x' } }),
      /^spec\.target\.statefulSet: Unexpected property/,
    ],
    [
      'target name with capitals',
      (spec) => (spec.target = { rollout: { name: 'Fraud' } }),
      /^spec\.target\.rollout\.name: /,
    ],
    [
      'GPU quantity that is not a quantity',
      (spec) => (spec.runtime = { resources: { limits: { 'nvidia.com/gpu': 'one' } } }),
      /^spec\.runtime\.resources\.limits\.nvidia\.com\/gpu: /,
    ],
    [
      'grid intensity negative',
      (spec) => (spec.energy = { gridIntensityKgPerKWh: -1 }),
      /^spec\.energy\.gridIntensityKgPerKWh: /,
    ],
    [
      'webhook not http',
      (spec) => (spec.retraining = { webhook: { url: 'ftp://x' } }),
      /^spec\.retraining\.webhook\.url: /,
    ],
  ];

  for (const [name, change, field] of structuralRejections) {
    it(`refuses ${name}, naming the field`, () => {
      const problems = validationErrors(PrunedModelEvaluation, evaluationWith(change));
      assert.ok(problems.length > 0, 'accepted');
      assert.ok(
        problems.some((problem) => field.test(problem)),
        `no problem matches ${field}: ${problems.join(' | ')}`,
      );
    });
  }

  it('throws a parse error that names the source and the field', () => {
    const bad = evaluationWith((spec) => (spec.runtime = { parallelism: 64 }));
    assert.throws(
      () => parsePrunedModelEvaluation(bad, 'evaluations/penguins.yaml'),
      /PrunedModelEvaluation in evaluations\/penguins\.yaml is invalid: spec\.runtime\.parallelism: /,
    );
  });

  it('accepts a graded status as the controller writes it', () => {
    const object = {
      ...validEvaluation('graded'),
      status: {
        observedGeneration: 3,
        verdict: 'Critical',
        lastRun: { name: 'graded-00042', completedAt: '2026-11-27T03:04:10Z', samples: 184223 },
        metrics: [
          {
            name: 'accuracyDrop',
            value: 0.061,
            grade: 'Critical',
            target: 0.02,
            warning: 0.05,
            interval: [0.05, 0.07],
            samples: 184223,
          },
        ],
        slices: [{ slice: 'Island=Biscoe', samples: 168, metrics: [] }],
        summary: { accuracyDrop: '6.10%' },
        consecutiveBreaches: 2,
        actions: [
          {
            type: 'Rollback',
            target: 'Rollout/fraud',
            run: 'graded-00042',
            at: '2026-11-27T03:04:11Z',
            reason: 'accuracyDrop 6.10% > 5.00%',
            dryRun: false,
          },
        ],
        conditions: [
          {
            type: 'Degraded',
            status: 'True',
            lastTransitionTime: '2026-11-27T03:04:11Z',
            reason: 'CriticalVerdict',
            message: '',
          },
        ],
      },
    };
    assert.deepEqual(validationErrors(PrunedModelEvaluation, object), []);
    const badTime = structuredClone(object);
    badTime.status.lastRun.completedAt = 'yesterday';
    assert.ok(
      validationErrors(PrunedModelEvaluation, badTime).some((p) =>
        p.startsWith('status.lastRun.completedAt: '),
      ),
    );
    const badInterval = structuredClone(object);
    badInterval.status.metrics[0]!.interval = [0.05];
    assert.ok(
      validationErrors(PrunedModelEvaluation, badInterval).some((p) =>
        p.startsWith('status.metrics[0].interval: '),
      ),
    );
  });
});

describe('rejections for the API server (test/integration/api/rejections.ts)', () => {
  it('has more than five, with unique names and objects', () => {
    assert.ok(rejections.length > 5);
    assert.equal(new Set(rejections.map((rejection) => rejection.name)).size, rejections.length);
  });

  // The same objects refused locally (cel.ts), with the API server's field and message; transition
  // rules compare with a stored object, which only the API server has.
  for (const rejection of rejections) {
    const transition = rejection.existing !== undefined;
    it(`${rejection.name}: ${transition ? 'refused locally unless it is a transition' : 'refused locally too, on the same field'}`, () => {
      const schema = rejection.object.kind === 'EvaluationRun' ? EvaluationRun : PrunedModelEvaluation;
      const problems = validationErrors(schema, rejection.object);
      if (transition) assert.deepEqual(validationErrors(schema, rejection.existing), []);
      if (problems.length === 0) {
        assert.ok(transition, 'not refused locally');
        return;
      }
      const expected =
        rejection.source === 'cel' ? `${rejection.field}: ${rejection.message}` : `${rejection.field}: `;
      assert.ok(
        problems.some((problem) => problem.startsWith(expected)),
        `expected ${expected}…, got ${problems.join(' | ')}`,
      );
    });
  }
});

describe('EvaluationRun schema', () => {
  it('accepts a run with the spec snapshot and shard results', () => {
    const run = {
      ...validRun('penguins-p50-00042', 2),
      status: {
        phase: 'Running',
        startedAt: '2026-11-27T03:00:00Z',
        shards: [
          {
            index: 0,
            state: { encoding: 'gzip+base64', data: 'H4sIAAAAAAAAA6uuBQBDv6ajAgAAAA==' },
            digest: `sha256:${'0'.repeat(64)}`,
            samples: 12,
            completedAt: '2026-11-27T03:01:00Z',
          },
        ],
        executionProvider: 'CUDAExecutionProvider',
        powerMethod: 'NVML',
      },
    };
    const parsed = parseEvaluationRun(run, 'test');
    assert.equal(parsed.spec.evaluationSpec.thresholds.psi.warning, 0.25);
    assert.equal(parsed.status?.shards?.[0]?.state?.encoding, 'gzip+base64');
    const oversized = structuredClone(run);
    oversized.status.shards[0]!.state.data = 'A'.repeat(maxShardStateBytes + 1);
    assert.ok(
      validationErrors(EvaluationRun, oversized).some((problem) =>
        problem.startsWith('status.shards[0].state.data'),
      ),
      'a shard state over the cap is refused by the schema',
    );
  });

  it('refuses a shard count above 32, an unknown phase and a failure reason with spaces', () => {
    const run = validRun('bad', 33);
    assert.ok(validationErrors(EvaluationRun, run).some((problem) => problem.startsWith('spec.shards: ')));
    const phase = { ...validRun('bad'), status: { phase: 'Done' } };
    assert.ok(validationErrors(EvaluationRun, phase).some((problem) => problem.startsWith('status.phase: ')));
    const failure = { ...validRun('bad'), status: { failure: { reason: 'out of memory', message: '' } } };
    assert.ok(
      validationErrors(EvaluationRun, failure).some((problem) =>
        problem.startsWith('status.failure.reason: '),
      ),
    );
  });
});

describe('run names', () => {
  it('append a five-digit sequence and fit a Job name for the longest evaluation name allowed', () => {
    assert.equal(runName('penguins-p50', 42), 'penguins-p50-00042');
    assert.equal(runName('x'.repeat(maxEvaluationNameLength), 99999).length, 63);
  });
});
