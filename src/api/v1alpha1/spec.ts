/**
 * PrunedModelEvaluation.spec: what to compare, on which data, how often, where it runs, how to
 * grade it and what to steer. Every field with a default is filled by the API server (and by
 * `withDefaults` for local files), so the `PrunedModelEvaluationSpec` type is the effective spec.
 *
 * The CEL rules (`rules:`) are the checks that need more than one field; their messages are
 * written for the person who ran `kubectl apply`.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  Affinity,
  object,
  openObject,
  ResourceRequirements,
  resourceName,
  stringEnum,
  stringMap,
  Toleration,
} from './core.js';
import { S3 } from './object-storage.js';
import { Live } from './live.js';
import { intervalPattern } from './schedule.js';
import { dataFormatExtensions, dataFormats, uriPattern, uriSyntax } from './sources.js';
import { metricDefinitions, metricNames, type MetricName } from './thresholds.js';

/** Where a model or a data file lives (schemes: sources.ts). `file://` is for the local CLI or files baked into the image. */

function location(description: string) {
  return object(
    {
      uri: Type.String({
        pattern: uriPattern,
        maxLength: 2048,
        description: `${description} ${uriSyntax}`,
      }),
    },
    { description },
  );
}

const columnName = Type.String({ minLength: 1, maxLength: 128 });

/**
 * A slice is named `feature=value`, and a cross of features joins them with commas in the order of
 * `sliceCrosses`: `region=eu,device_type=mobile`.
 */
export const slicePattern = '^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$';

/** Distinct values per slice column: the default, and the most a spec may ask for. */
export const defaultMaxSliceValues = 100;
export const maxSliceValuesLimit = 500;

/**
 * spec.energy's defaults, which the metric engine's options default to as well: the IEA world average
 * electricity carbon intensity (order of magnitude; set your region's) and a typical PUE.
 */
export const defaultEnergy = { gridIntensityKgPerKWh: 0.4, pue: 1.2 } as const;

/**
 * What the evaluator does with a row whose feature value is missing or invalid (an empty cell, null,
 * NaN, ±Infinity, text in a numeric column): never hand the models NaN without saying so.
 */
export const missingValuePolicies = ['reject', 'impute', 'fail'] as const;

export const MissingValues = object(
  {
    policy: stringEnum(missingValuePolicies, {
      default: 'reject',
      description:
        'reject: such rows reach neither the models nor the row metrics and are counted per feature (missingValueIncrease); impute: the value the teacher declares in its metadata_props pruneguard.impute.<feature> replaces it (every feature needs one); fail: the run fails naming the data, the feature and the row.',
    }),
  },
  { default: {}, description: 'Rows with a missing or invalid feature value.' },
);

export const Data = object(
  {
    reference: location('The data the candidate is compared on and the baseline for drift (PSI).'),
    current: location('Recent production data; drift is measured from reference to current.'),
    format: Type.Optional(
      stringEnum(dataFormats, {
        description: `File format; when absent it is taken from the file extension (${dataFormats
          .map((format) => `${format}: ${dataFormatExtensions[format].join(' ')}`)
          .join('; ')}).`,
      }),
    ),
    features: Type.Array(columnName, {
      minItems: 1,
      maxItems: 256,
      'x-kubernetes-list-type': 'set',
      description: 'Model input columns, in the order the model expects them.',
    }),
    categoricalFeatures: Type.Optional(
      Type.Array(columnName, {
        maxItems: 256,
        'x-kubernetes-list-type': 'set',
        description: 'Features binned by category rather than by reference quantiles for PSI.',
      }),
    ),
    label: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description: 'Ground-truth column. Without it, accuracyDrop is 1 − top-1 agreement with the teacher.',
      }),
    ),
    sensitiveAttribute: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description: 'Column whose groups demographicParity compares.',
      }),
    ),
    positiveClass: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description:
          'The class counted as a positive prediction for demographicParity; when absent, class index 1.',
      }),
    ),
    slices: Type.Array(columnName, {
      maxItems: 16,
      default: [],
      'x-kubernetes-list-type': 'set',
      description: 'Columns whose values each get their own metrics (slice `column=value`).',
    }),
    sliceCrosses: Type.Optional(
      Type.Array(Type.Array(columnName, { minItems: 2, maxItems: 3 }), {
        maxItems: 8,
        description: 'Combinations of slice columns graded together, e.g. [[region, device_type]].',
      }),
    ),
    maxSliceValues: Type.Integer({
      minimum: 1,
      maximum: maxSliceValuesLimit,
      default: defaultMaxSliceValues,
      description:
        'Distinct values a slice column (or cross) may have; more fails the run, since slices are for low-cardinality columns and every value costs state in each shard.',
    }),
    missingValues: MissingValues,
  },
  {
    rules: [
      {
        rule: '!has(self.label) || !(self.label in self.features)',
        messageExpression:
          "'data.label (' + self.label + ') is also listed in data.features; the label must not be a model input'",
        fieldPath: '.label',
      },
      {
        rule: '!has(self.categoricalFeatures) || self.categoricalFeatures.all(f, f in self.features)',
        message: 'every data.categoricalFeatures entry must also be listed in data.features',
        fieldPath: '.categoricalFeatures',
      },
      {
        rule: '!has(self.sliceCrosses) || self.sliceCrosses.all(cross, cross.all(column, column in self.slices))',
        message: 'every column in data.sliceCrosses must also be listed in data.slices',
        fieldPath: '.sliceCrosses',
      },
    ],
  },
);

export { intervalPattern };

/**
 * How the operator notices new data or models at the same URI: it asks each source for its
 * version (sources.ts says how, per scheme) every checkInterval, and starts a run once a changed
 * version has held for settle, so a file still being written, or a burst of uploads, starts one
 * run rather than several.
 */
export const DataChanges = object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'false: only the schedule and spec changes start runs.',
    }),
    checkInterval: Type.String({
      pattern: intervalPattern,
      maxLength: 32,
      default: '1m',
      description:
        'How often the sources are asked for their version (ETag, Last-Modified, resourceVersion).',
    }),
    settle: Type.String({
      pattern: intervalPattern,
      maxLength: 32,
      default: '30s',
      description: 'How long a changed version must stay unchanged before it starts a run.',
    }),
  },
  {
    default: {},
    description:
      'Runs on data changes: a new version of the teacher, candidate, reference or current data starts a run (schemes whose versions the operator can read: docs/evaluator.md, "Data changes").',
    rules: [
      {
        rule: `!self.checkInterval.matches('${intervalPattern}') || duration(self.checkInterval) >= duration('10s')`,
        messageExpression:
          "'schedule.dataChanges.checkInterval ' + self.checkInterval + ' is shorter than the minimum of 10s'",
        fieldPath: '.checkInterval',
      },
    ],
  },
);

export const Schedule = object(
  {
    interval: Type.Optional(
      Type.String({
        pattern: intervalPattern,
        maxLength: 32,
        description: 'Time between runs, e.g. 30m or 1h30m (at least 1m).',
      }),
    ),
    cron: Type.Optional(
      Type.String({
        pattern: '^(@(yearly|annually|monthly|weekly|daily|hourly)|\\S+(\\s+\\S+){4,5})$',
        maxLength: 128,
        description: 'Cron expression (5 fields, or 6 with seconds) in UTC, e.g. "*/30 * * * *".',
      }),
    ),
    dataChanges: DataChanges,
  },
  {
    description:
      'When to run; a change of the spec, and of a watched model or data file (dataChanges), also starts a run.',
    rules: [
      {
        rule: 'has(self.interval) != has(self.cron)',
        message: 'schedule: set exactly one of interval (e.g. 30m) or cron (e.g. "*/30 * * * *")',
      },
      {
        rule: `!has(self.interval) || !self.interval.matches('${intervalPattern}') || duration(self.interval) >= duration('1m')`,
        messageExpression: "'schedule.interval ' + self.interval + ' is shorter than the minimum of 1m'",
        fieldPath: '.interval',
      },
    ],
  },
);

export const accelerators = ['cpu', 'nvidia.com/gpu'] as const;

export const Runtime = object(
  {
    image: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        description: "Evaluator image; the operator's own by default.",
      }),
    ),
    accelerator: stringEnum(accelerators, {
      default: 'cpu',
      description:
        'nvidia.com/gpu requests one GPU per pod and runs onnxruntime with the CUDA execution provider.',
    }),
    executionProviderFallback: stringEnum(['cpu', 'fail'], {
      default: 'cpu',
      description:
        'What a GPU pod does when the CUDA execution provider cannot start: run on CPU (the run reports it) or fail the run.',
    }),
    resources: Type.Optional(ResourceRequirements),
    nodeSelector: Type.Optional(stringMap({ description: 'Node labels the evaluation pods must match.' })),
    tolerations: Type.Optional(Type.Array(Toleration, { maxItems: 32 })),
    affinity: Type.Optional(Affinity),
    parallelism: Type.Integer({
      minimum: 1,
      maximum: 32,
      default: 1,
      description: 'Pods (shards) one run is split over; their partial results merge exactly.',
    }),
    batchSize: Type.Integer({
      minimum: 1,
      maximum: 65536,
      default: 256,
      description: 'Rows per inference call.',
    }),
    timeoutSeconds: Type.Integer({
      minimum: 30,
      maximum: 86400,
      default: 1800,
      description: 'A run still going after this long fails with reason Timeout.',
    }),
    serviceAccountName: Type.Optional(resourceName('ServiceAccount of the evaluation pods.')),
  },
  {
    default: {},
    description: 'Where and how the evaluation pods run.',
    rules: [
      {
        rule: "self.accelerator != 'cpu' || !has(self.resources) || !has(self.resources.limits) || !('nvidia.com/gpu' in self.resources.limits)",
        message:
          'runtime.resources.limits asks for nvidia.com/gpu but runtime.accelerator is cpu; set accelerator: nvidia.com/gpu',
        fieldPath: '.accelerator',
      },
    ],
  },
);

function describeThreshold(metric: MetricName): string {
  const { direction, defaults, unit, description } = metricDefinitions[metric];
  const better = direction === 'lowerIsBetter' ? 'lower' : 'higher';
  return `${metric} (${unit}, ${better} is better): ${description}. Default target ${defaults.target}, warning ${defaults.warning}.`;
}

/**
 * The CEL rule that keeps a threshold's edges in the metric's order, with a message naming the
 * values. The message is one `format` call: `string(double)` has no size bound in the API server's
 * cost estimate, so concatenating it would exceed the CEL budget.
 */
export function thresholdOrderRule(metric: MetricName) {
  const lower = metricDefinitions[metric].direction === 'lowerIsBetter';
  return {
    rule: lower ? 'self.warning >= self.target' : 'self.warning <= self.target',
    messageExpression:
      `'${metric}: warning (%s) must not be ${lower ? 'below' : 'above'} target (%s) ` +
      `for a ${lower ? 'lower' : 'higher'}-is-better metric'.format([self.warning, self.target])`,
  };
}

function numberBounds(metric: MetricName) {
  return metricDefinitions[metric].unit === 'fraction' ? { minimum: 0, maximum: 1 } : { minimum: 0 };
}

function threshold(metric: MetricName) {
  const { defaults } = metricDefinitions[metric];
  return object(
    {
      target: Type.Number({
        ...numberBounds(metric),
        default: defaults.target,
        description: 'Better than this passes.',
      }),
      warning: Type.Number({
        ...numberBounds(metric),
        default: defaults.warning,
        description: 'Worse than this is Critical; between target and warning is a Warning.',
      }),
      enabled: Type.Boolean({ default: true, description: 'false: measured and reported, never graded.' }),
    },
    {
      default: {},
      description: describeThreshold(metric),
      rules: [{ ...thresholdOrderRule(metric), fieldPath: '.warning' }],
    },
  );
}

function thresholdsProperties() {
  return Object.fromEntries(metricNames.map((metric) => [metric, threshold(metric)])) as {
    [M in MetricName]: ReturnType<typeof threshold>;
  };
}

export const Thresholds = object(thresholdsProperties(), {
  default: {},
  description:
    'Grading edges per metric: better than target passes, between target and warning is a Warning, worse than warning is Critical.',
});

const higherIsBetter = metricNames.filter(
  (metric) => metricDefinitions[metric].direction === 'higherIsBetter',
);

export const SliceThreshold = object(
  {
    slice: Type.String({
      pattern: slicePattern,
      maxLength: 512,
      description: 'A slice name as status.slices shows it, e.g. region=eu or region=eu,device_type=mobile.',
    }),
    metric: stringEnum(metricNames),
    target: Type.Number({ minimum: 0 }),
    warning: Type.Number({ minimum: 0 }),
  },
  {
    rules: [
      {
        // One rule for both directions keeps the cost to a single evaluation per entry.
        rule: `self.metric in ${JSON.stringify(higherIsBetter)} ? self.warning <= self.target : self.warning >= self.target`,
        messageExpression:
          `'sliceThresholds %s %s: warning (%s) must not be %s target (%s) for a %s-is-better metric'.format([` +
          `self.slice, self.metric, self.warning, self.metric in ${JSON.stringify(higherIsBetter)} ? 'above' : 'below', ` +
          `self.target, self.metric in ${JSON.stringify(higherIsBetter)} ? 'higher' : 'lower'])`,
        fieldPath: '.warning',
      },
    ],
  },
);

export const Energy = object(
  {
    gridIntensityKgPerKWh: Type.Number({
      minimum: 0,
      maximum: 2,
      default: defaultEnergy.gridIntensityKgPerKWh,
      description: 'kg CO2e per kWh of the grid the nodes draw from.',
    }),
    pue: Type.Number({
      minimum: 1,
      maximum: 3,
      default: defaultEnergy.pue,
      description: 'Power usage effectiveness of the data centre.',
    }),
  },
  { default: {}, description: 'Inputs of carbonKgPer1M.' },
);

export const RolloutTarget = object(
  {
    name: resourceName('The Argo Rollout (canary strategy).'),
    apiVersion: Type.Optional(
      Type.String({
        maxLength: 253,
        pattern: '^[a-z0-9.-]+/[a-z0-9]+$',
        description: 'Default argoproj.io/v1alpha1.',
      }),
    ),
  },
  { description: 'An Argo Rollout: Pass promotes it a step, Critical aborts it, Warning pauses it.' },
);

export const DeploymentPairTarget = object(
  {
    stable: resourceName('The stable Deployment.'),
    canary: resourceName('The canary Deployment, behind the same Service.'),
    stepWeight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Percent of the pair’s replicas moved to the canary per passing run (default 25).',
      }),
    ),
  },
  {
    description: 'A stable/canary pair of Deployments: traffic follows the replica split.',
    rules: [
      {
        rule: 'self.canary != self.stable',
        message: 'target.deploymentPair.canary must differ from its stable',
      },
    ],
  },
);

/**
 * The kinds of target, by the field that selects one (as Argo selects a metric provider): the one
 * list the schema, its CEL rule and the actuator registry (src/actuators/index.ts) are built from.
 */
export const targetKinds = { rollout: RolloutTarget, deploymentPair: DeploymentPairTarget };
export type TargetKind = keyof typeof targetKinds;
const targetKindNames = Object.keys(targetKinds) as TargetKind[];

export const Target = object(
  {
    rollout: Type.Optional(RolloutTarget),
    deploymentPair: Type.Optional(DeploymentPairTarget),
  },
  {
    description:
      'What the verdict steers, in the evaluation’s namespace: exactly one of its fields. Without a target the evaluation only reports.',
    rules: [
      {
        rule: `[${targetKindNames.map((kind) => `has(self.${kind})`).join(', ')}].filter(set, set).size() == 1`,
        message: `target needs exactly one of ${targetKindNames.join(', ')}`,
      },
    ],
  },
);

export const Policy = object(
  {
    onPass: stringEnum(['advance', 'promote', 'none'], {
      default: 'advance',
      description: 'advance: next canary step (or shift replicas toward the canary); promote: all the way.',
    }),
    onWarning: stringEnum(['hold', 'none'], { default: 'hold' }),
    onCritical: stringEnum(['rollback', 'hold', 'none'], {
      default: 'rollback',
      description: 'rollback: abort the Rollout, or scale the canary Deployment to 0.',
    }),
    consecutiveBreaches: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 2,
      description: 'Critical runs in a row before onCritical acts.',
    }),
    failedRunLimit: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description:
        'Failed runs in a row (no verdict: errors, missing or refused results) before onFailure acts.',
    }),
    onFailure: stringEnum(['hold', 'rollback', 'none'], {
      default: 'hold',
      description:
        'What failedRunLimit failed runs in a row do: hold keeps the canary where it is (as every failed run does), rollback aborts it.',
    }),
    retryAborted: Type.Boolean({
      default: false,
      description:
        "A Pass on an aborted canary retries it (kubectl argo rollouts retry; a Deployment pair's canary gets its replicas back). Off: an abort stands until someone retries it.",
    }),
    dryRun: Type.Boolean({
      default: false,
      description: 'Record and announce actions without performing them.',
    }),
  },
  {
    default: {},
    description: 'What each verdict does to the target. Inconclusive always holds, never rolls back.',
  },
);

export const Retraining = object(
  {
    jobTemplate: Type.Optional(
      openObject('batch/v1 JobTemplateSpec created when onCritical acts; validated when the Job is created.'),
    ),
    webhook: Type.Optional(
      object({
        url: Type.String({
          pattern: '^https?://',
          maxLength: 2048,
          description: 'Receives a POST with the evaluation, run and failing metrics.',
        }),
      }),
    ),
  },
  {
    description: 'Triggered after a Critical verdict has lasted consecutiveBreaches runs.',
    rules: [
      {
        rule: 'has(self.jobTemplate) || has(self.webhook)',
        message: 'retraining needs a jobTemplate, a webhook, or both',
      },
    ],
  },
);

export const tasks = ['classification', 'regression'] as const;

export const PrunedModelEvaluationSpec = object(
  {
    teacher: location('The unpruned model (ONNX).'),
    candidate: location('The pruned model (ONNX) evaluated against the teacher.'),
    data: Data,
    s3: Type.Optional(S3),
    task: stringEnum(tasks, { default: 'classification' }),
    schedule: Schedule,
    runtime: Runtime,
    thresholds: Thresholds,
    sliceThresholds: Type.Optional(
      Type.Array(SliceThreshold, {
        maxItems: 64,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['slice', 'metric'],
        description: 'Thresholds that replace spec.thresholds for one slice and metric.',
      }),
    ),
    energy: Energy,
    target: Type.Optional(Target),
    policy: Policy,
    retraining: Type.Optional(Retraining),
    live: Type.Optional(Live),
    historyLimit: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 5,
      description: 'Finished EvaluationRuns kept.',
    }),
    suspend: Type.Boolean({ default: false, description: 'true: no new runs and no actions.' }),
  },
  {
    rules: [
      {
        rule: 'self.candidate.uri != self.teacher.uri',
        message: 'candidate.uri is the same as teacher.uri: there is nothing to compare',
        fieldPath: '.candidate.uri',
      },
      {
        rule: "self.task == 'classification' || (!has(self.data.sensitiveAttribute) && !has(self.data.positiveClass))",
        message:
          'data.sensitiveAttribute and data.positiveClass need task: classification (demographic parity compares positive-prediction rates)',
        fieldPath: '.task',
      },
      {
        rule: "!has(self.sliceThresholds) || self.sliceThresholds.all(t, t.slice.split(',').all(part, part.split('=')[0] in self.data.slices))",
        message:
          'every column in sliceThresholds[].slice must be listed in data.slices (region=eu needs region in data.slices)',
        fieldPath: '.sliceThresholds',
      },
    ],
  },
);

export type PrunedModelEvaluationSpec = Static<typeof PrunedModelEvaluationSpec>;
export type Data = Static<typeof Data>;
export type MissingValues = Static<typeof MissingValues>;
export type Schedule = Static<typeof Schedule>;
export type DataChanges = Static<typeof DataChanges>;
export type Runtime = Static<typeof Runtime>;
export type Thresholds = Static<typeof Thresholds>;
export type SliceThreshold = Static<typeof SliceThreshold>;
export type Energy = Static<typeof Energy>;
export type Target = Static<typeof Target>;
export type RolloutTarget = Static<typeof RolloutTarget>;
export type DeploymentPairTarget = Static<typeof DeploymentPairTarget>;
export type Policy = Static<typeof Policy>;
export type Retraining = Static<typeof Retraining>;
