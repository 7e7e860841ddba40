/**
 * Objects the API server must refuse, with the message it must give. Most come from the CRDs' CEL
 * rules, which only a real API server evaluates (the unit tests cannot); a few from the OpenAPI
 * schema, for comparison of wording. The messages are literal on purpose: they check the CEL
 * messageExpressions, so they must not be computed from src/api.
 *
 * How to apply one:
 * - without `existing`: create `object`; the request must fail.
 * - with `existing`: create `existing` (and, when `subresource` is 'status', write its status
 *   through /status), then update to `object` the same way; the update must fail.
 * The failure is 422 Invalid, and one of `details.causes` has `field` equal to `field` and a
 * `message` containing `message` (the API server prefixes it, e.g. `Invalid value: "object": `).
 */
import { createHash } from 'node:crypto';
import { PrunedModelEvaluationSpec } from '../../../src/api/v1alpha1/spec.js';
import { withDefaults } from '../../../src/api/v1alpha1/validation.js';
export interface Rejection {
  name: string;
  source: 'cel' | 'schema';
  object: Record<string, unknown>;
  existing?: Record<string, unknown>;
  subresource?: 'status';
  field: string;
  message: string;
}

type Json = Record<string, unknown>;

/** A valid PrunedModelEvaluation (the smallest that passes), named `name`. */
export function validEvaluation(name: string): Json {
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'PrunedModelEvaluation',
    metadata: { name },
    spec: {
      teacher: { uri: 'pvc://models/penguins/teacher.onnx' },
      candidate: { uri: 'pvc://models/penguins/pruned-50.onnx' },
      data: {
        reference: { uri: 'pvc://data/penguins/reference.json' },
        current: { uri: 'pvc://data/penguins/current.json' },
        features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'],
        label: 'Species',
        slices: ['Island'],
      },
      schedule: { interval: '30m' },
    },
  };
}

/** A valid EvaluationRun of `validEvaluation`, named `name`, over `shards` pods. */
export function validRun(name: string, shards = 2): Json {
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'EvaluationRun',
    metadata: { name },
    spec: {
      evaluationName: 'penguins-p50',
      generation: 1,
      shards,
      trigger: 'Schedule',
      // The snapshot a run carries is the evaluation's defaulted spec, as the controller copies it.
      evaluationSpec: withDefaults(PrunedModelEvaluationSpec, validEvaluation('penguins-p50').spec) as Json,
    },
  };
}

function evaluationWith(name: string, change: (spec: Json & { data: Json }) => void): Json {
  const object = validEvaluation(name);
  change(object.spec as Json & { data: Json });
  return object;
}

/** spec.live with one p95 latency metric and a baseline query, changed by `metric`. */
function liveWith(metric: Json): Json {
  const query = (variant: string) =>
    `histogram_quantile(0.95, sum by (le) (rate(inference_request_duration_seconds_bucket{variant="${variant}"}[1m]))) * 1000`;
  const merged: Json = {
    name: 'p95LatencyMs',
    canary: query('canary'),
    baseline: query('stable'),
    ...metric,
  };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return { prometheus: { address: 'http://prometheus-operated.monitoring:9090' }, metrics: [merged] };
}

export const rejections: Rejection[] = [
  {
    name: 'threshold-lower-is-better-warning-below-target',
    source: 'cel',
    object: evaluationWith('reject-accuracy-order', (spec) => {
      spec.thresholds = { accuracyDrop: { target: 0.02, warning: 0.01 } };
    }),
    field: 'spec.thresholds.accuracyDrop.warning',
    message: 'accuracyDrop: warning (0.01) must not be below target (0.02) for a lower-is-better metric',
  },
  {
    name: 'threshold-defaulted-warning-below-target',
    source: 'cel',
    object: evaluationWith('reject-latency-default-warning', (spec) => {
      spec.thresholds = { p95LatencyMs: { target: 250 } };
    }),
    field: 'spec.thresholds.p95LatencyMs.warning',
    message: 'p95LatencyMs: warning (200) must not be below target (250) for a lower-is-better metric',
  },
  {
    name: 'threshold-higher-is-better-warning-above-target',
    source: 'cel',
    object: evaluationWith('reject-throughput-order', (spec) => {
      spec.thresholds = { throughputQps: { target: 500, warning: 1000 } };
    }),
    field: 'spec.thresholds.throughputQps.warning',
    message: 'throughputQps: warning (1000) must not be above target (500) for a higher-is-better metric',
  },
  {
    name: 'slice-threshold-order',
    source: 'cel',
    object: evaluationWith('reject-slice-order', (spec) => {
      spec.sliceThresholds = [{ slice: 'Island=Biscoe', metric: 'psi', target: 0.2, warning: 0.1 }];
    }),
    field: 'spec.sliceThresholds[0].warning',
    message:
      'sliceThresholds Island=Biscoe psi: warning (0.1) must not be below target (0.2) for a lower-is-better metric',
  },
  {
    name: 'slice-threshold-unknown-column',
    source: 'cel',
    object: evaluationWith('reject-slice-column', (spec) => {
      spec.sliceThresholds = [{ slice: 'region=eu', metric: 'accuracyDrop', target: 0.03, warning: 0.06 }];
    }),
    field: 'spec.sliceThresholds',
    message:
      'every column in sliceThresholds[].slice must be listed in data.slices (region=eu needs region in data.slices)',
  },
  {
    name: 'slice-threshold-cross-with-unknown-column',
    source: 'cel',
    object: evaluationWith('reject-slice-cross-column', (spec) => {
      spec.sliceThresholds = [
        { slice: 'Island=Biscoe,Sex=FEMALE', metric: 'psi', target: 0.1, warning: 0.2 },
      ];
    }),
    field: 'spec.sliceThresholds',
    message:
      'every column in sliceThresholds[].slice must be listed in data.slices (region=eu needs region in data.slices)',
  },
  {
    name: 'live-warning-below-target',
    source: 'cel',
    object: evaluationWith('reject-live-order', (spec) => {
      spec.live = liveWith({ target: 200, warning: 100 });
    }),
    field: 'spec.live.metrics[0].warning',
    message:
      'live metric p95LatencyMs: warning (100) must not be below target (200) for a lowerIsBetter metric',
  },
  {
    name: 'live-target-without-warning',
    source: 'cel',
    object: evaluationWith('reject-live-half-band', (spec) => {
      spec.live = liveWith({ target: 200 });
    }),
    field: 'spec.live.metrics[0]',
    message: 'live metric p95LatencyMs: set both target and warning, or neither',
  },
  {
    name: 'live-relative-change-without-baseline',
    source: 'cel',
    object: evaluationWith('reject-live-no-baseline', (spec) => {
      spec.live = liveWith({ baseline: undefined, maxRelativeChange: { target: 0.1, warning: 0.25 } });
    }),
    field: 'spec.live.metrics[0].maxRelativeChange',
    message:
      'live metric p95LatencyMs: maxRelativeChange compares the canary with the baseline; add a baseline query',
  },
  {
    name: 'live-relative-change-order',
    source: 'cel',
    object: evaluationWith('reject-live-relative-order', (spec) => {
      spec.live = liveWith({ maxRelativeChange: { target: 0.3, warning: 0.1 } });
    }),
    field: 'spec.live.metrics[0].maxRelativeChange.warning',
    message:
      'maxRelativeChange: warning (0.1) must not be below target (0.3); both are how much worse the canary may be',
  },
  {
    name: 'live-nothing-to-grade',
    source: 'cel',
    object: evaluationWith('reject-live-no-bands', (spec) => {
      spec.live = liveWith({});
    }),
    field: 'spec.live.metrics[0]',
    message:
      'live metric p95LatencyMs has nothing to grade against: set target and warning, or maxRelativeChange with a baseline query',
  },
  {
    name: 'live-window-too-short-for-min-samples',
    source: 'cel',
    object: evaluationWith('reject-live-window', (spec) => {
      spec.live = { ...liveWith({ target: 100, warning: 200 }), window: '1m', step: '30s' };
    }),
    field: 'spec.live.window',
    message:
      'live: a window of 1m holds fewer than minSamples (10) points at a step of 30s; widen the window, shorten the step or lower minSamples',
  },
  {
    name: 'schedule-interval-and-cron',
    source: 'cel',
    object: evaluationWith('reject-schedule-both', (spec) => {
      spec.schedule = { interval: '30m', cron: '*/30 * * * *' };
    }),
    field: 'spec.schedule',
    message: 'schedule: set exactly one of interval (e.g. 30m) or cron (e.g. "*/30 * * * *")',
  },
  {
    name: 'schedule-empty',
    source: 'cel',
    object: evaluationWith('reject-schedule-empty', (spec) => {
      spec.schedule = {};
    }),
    field: 'spec.schedule',
    message: 'schedule: set exactly one of interval (e.g. 30m) or cron (e.g. "*/30 * * * *")',
  },
  {
    name: 'schedule-interval-too-short',
    source: 'cel',
    object: evaluationWith('reject-interval-short', (spec) => {
      spec.schedule = { interval: '30s' };
    }),
    field: 'spec.schedule.interval',
    message: 'schedule.interval 30s is shorter than the minimum of 1m',
  },
  {
    name: 'target-with-two-kinds',
    source: 'cel',
    object: evaluationWith('reject-target-two-kinds', (spec) => {
      spec.target = {
        rollout: { name: 'penguins' },
        deploymentPair: { stable: 'penguins', canary: 'penguins-canary' },
      };
    }),
    field: 'spec.target',
    message: 'target needs exactly one of rollout, deploymentPair',
  },
  {
    name: 'target-with-no-kind',
    source: 'cel',
    object: evaluationWith('reject-target-no-kind', (spec) => {
      spec.target = {};
    }),
    field: 'spec.target',
    message: 'target needs exactly one of rollout, deploymentPair',
  },
  {
    name: 'deployment-pair-without-canary',
    source: 'schema',
    object: evaluationWith('reject-deployment-no-canary', (spec) => {
      spec.target = { deploymentPair: { stable: 'penguins-classifier' } };
    }),
    field: 'spec.target.deploymentPair.canary',
    message: 'Required value',
  },
  {
    name: 'deployment-canary-is-stable',
    source: 'cel',
    object: evaluationWith('reject-canary-same', (spec) => {
      spec.target = { deploymentPair: { stable: 'penguins', canary: 'penguins' } };
    }),
    field: 'spec.target.deploymentPair',
    message: 'target.deploymentPair.canary must differ from its stable',
  },
  {
    name: 'teacher-is-candidate',
    source: 'cel',
    object: evaluationWith('reject-same-model', (spec) => {
      spec.candidate = { uri: 'pvc://models/penguins/teacher.onnx' };
    }),
    field: 'spec.candidate.uri',
    message: 'candidate.uri is the same as teacher.uri: there is nothing to compare',
  },
  {
    name: 'label-is-a-feature',
    source: 'cel',
    object: evaluationWith('reject-label-feature', (spec) => {
      spec.data.features = ['Beak Length (mm)', 'Species'];
    }),
    field: 'spec.data.label',
    message: 'data.label (Species) is also listed in data.features; the label must not be a model input',
  },
  {
    name: 'categorical-feature-not-a-feature',
    source: 'cel',
    object: evaluationWith('reject-categorical', (spec) => {
      spec.data.categoricalFeatures = ['Island'];
    }),
    field: 'spec.data.categoricalFeatures',
    message: 'every data.categoricalFeatures entry must also be listed in data.features',
  },
  {
    name: 'slice-cross-column-not-a-slice',
    source: 'cel',
    object: evaluationWith('reject-slice-cross', (spec) => {
      spec.data.sliceCrosses = [['Island', 'Sex']];
    }),
    field: 'spec.data.sliceCrosses',
    message: 'every column in data.sliceCrosses must also be listed in data.slices',
  },
  {
    name: 'fairness-on-regression',
    source: 'cel',
    object: evaluationWith('reject-regression-fairness', (spec) => {
      spec.task = 'regression';
      spec.data.sensitiveAttribute = 'Sex';
    }),
    field: 'spec.task',
    message:
      'data.sensitiveAttribute and data.positiveClass need task: classification (demographic parity compares positive-prediction rates)',
  },
  {
    name: 'gpu-limits-on-cpu-accelerator',
    source: 'cel',
    object: evaluationWith('reject-gpu-on-cpu', (spec) => {
      spec.runtime = { resources: { limits: { 'nvidia.com/gpu': 1 } } };
    }),
    field: 'spec.runtime.accelerator',
    message:
      'runtime.resources.limits asks for nvidia.com/gpu but runtime.accelerator is cpu; set accelerator: nvidia.com/gpu',
  },
  {
    name: 'retraining-without-job-or-webhook',
    source: 'cel',
    object: evaluationWith('reject-retraining-empty', (spec) => {
      spec.retraining = {};
    }),
    field: 'spec.retraining',
    message: 'retraining needs a jobTemplate, a webhook, or both',
  },
  {
    name: 'toleration-exists-with-value',
    source: 'cel',
    object: evaluationWith('reject-toleration', (spec) => {
      spec.runtime = { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', value: 'present' }] };
    }),
    field: 'spec.runtime.tolerations[0]',
    message: 'a toleration with operator Exists must not set a value',
  },
  {
    name: 'evaluation-name-too-long-for-its-jobs',
    source: 'cel',
    object: validEvaluation(`penguins-${'x'.repeat(49)}`),
    field: 'metadata',
    message: 'metadata.name must be at most 57 characters: runs append -NNNNN and name a Job (63 at most)',
  },
  {
    name: 'parallelism-above-32',
    source: 'schema',
    object: evaluationWith('reject-parallelism', (spec) => {
      spec.runtime = { parallelism: 64 };
    }),
    field: 'spec.runtime.parallelism',
    message: 'should be less than or equal to 32',
  },
  {
    name: 'model-uri-scheme',
    source: 'schema',
    object: evaluationWith('reject-uri-scheme', (spec) => {
      spec.teacher = { uri: 'gs://models/penguins/teacher.onnx' };
    }),
    field: 'spec.teacher.uri',
    message: "should match '^(pvc|configmap|https|http|s3|file)://'",
  },
  {
    name: 'run-spec-immutable',
    source: 'cel',
    existing: validRun('reject-run-immutable'),
    object: (() => {
      const run = validRun('reject-run-immutable');
      (run.spec as Json).shards = 4;
      return run;
    })(),
    field: 'spec',
    message: 'EvaluationRun spec is immutable: it records what the run ran with; create a new run instead',
  },
  {
    name: 'run-phase-final',
    source: 'cel',
    subresource: 'status',
    existing: { ...validRun('reject-run-phase'), status: { phase: 'Succeeded' } },
    object: { ...validRun('reject-run-phase'), status: { phase: 'Running' } },
    field: 'status.phase',
    message: 'status.phase Succeeded is final; it cannot change to Running',
  },
  {
    name: 'run-shard-index-out-of-range',
    source: 'cel',
    subresource: 'status',
    existing: { ...validRun('reject-run-shard', 2), status: { phase: 'Running' } },
    object: {
      ...validRun('reject-run-shard', 2),
      status: { phase: 'Running', shards: [{ index: 2, ...shardResult('a') }] },
    },
    field: 'status.shards',
    message: 'status.shards[].index must be below spec.shards (2)',
  },
  {
    name: 'run-shard-written-twice',
    source: 'cel',
    subresource: 'status',
    existing: {
      ...validRun('reject-run-rewrite', 2),
      status: { shards: [{ index: 1, ...shardResult('a') }] },
    },
    object: { ...validRun('reject-run-rewrite', 2), status: { shards: [{ index: 1, ...shardResult('b') }] } },
    field: 'status.shards[0]',
    message: 'this shard was already written: its result cannot be replaced',
  },
  {
    name: 'run-shard-error-replaced',
    source: 'cel',
    subresource: 'status',
    existing: {
      ...validRun('reject-run-error', 2),
      status: { shards: [{ index: 0, error: 'out of memory' }] },
    },
    object: { ...validRun('reject-run-error', 2), status: { shards: [{ index: 0, ...shardResult('a') }] } },
    field: 'status.shards[0]',
    message: 'this shard already reported an error: it cannot be replaced',
  },
];

/** A shard entry as the evaluator writes it, with `data` standing for its state. */
function shardResult(data: string): Json {
  return {
    state: { encoding: 'gzip+base64', data },
    digest: `sha256:${createHash('sha256').update(data).digest('hex')}`,
  };
}
