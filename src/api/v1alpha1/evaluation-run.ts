/**
 * EvaluationRun: one execution of a PrunedModelEvaluation. The controller creates it with a
 * snapshot of the evaluation's spec, so a run is graded against what it ran with even if the
 * evaluation changes meanwhile. Each shard (a pod of an Indexed Job) writes its own entry of
 * status.shards: the list is keyed by index, so server-side apply from N pods never conflicts.
 */
import { CloneType, Type, type Static } from '@sinclair/typebox';
import { object, resourceName, stringEnum, stringMap, timestamp } from './core.js';
import { PrunedModelEvaluationSpec } from './spec.js';

/** Acting: graded, its actions not yet done (retrying, or waiting for the target). */
export const runPhases = ['Pending', 'Running', 'Acting', 'Succeeded', 'Failed'] as const;

export const runTriggers = ['Schedule', 'SpecChange', 'DataChange', 'Manual'] as const;

export const powerMethods = ['NVML', 'RAPL', 'Estimate'] as const;

export const maxShards = 32;

export const EvaluationRunSpec = object(
  {
    evaluationName: resourceName('The PrunedModelEvaluation this run belongs to (also its owner).'),
    generation: Type.Integer({
      minimum: 1,
      format: 'int64',
      description: 'metadata.generation of the evaluation when the run was created.',
    }),
    shards: Type.Integer({ minimum: 1, maximum: maxShards, description: 'Pods the run is split over.' }),
    trigger: Type.Optional(stringEnum(runTriggers)),
    triggerDetail: Type.Optional(
      Type.String({
        maxLength: 1024,
        description: 'What started the run, e.g. "current data s3://data/last-24h.parquet changed".',
      }),
    ),
    dataVersions: Type.Optional(
      stringMap({
        description:
          'The versions of the models and data (teacher, candidate, reference, current) the operator saw when it started the run: a later version starts the next run.',
      }),
    ),
    targetRevision: Type.Optional(
      Type.String({
        maxLength: 253,
        description:
          "The revision of spec.target when the run started (a Rollout's pod-template hash, the canary Deployment's revision); its verdict acts on that revision only.",
      }),
    ),
    // The snapshot passed the evaluation's CEL rules when it was admitted; structural.ts drops
    // them here so that the run's CEL cost stays small.
    evaluationSpec: CloneType(PrunedModelEvaluationSpec, {
      description: 'The evaluation spec this run ran with.',
      'x-pruneguard-snapshot': true,
    }),
  },
  {
    rules: [
      {
        rule: 'self == oldSelf',
        message:
          'EvaluationRun spec is immutable: it records what the run ran with; create a new run instead',
      },
    ],
  },
);

/** The longest `state.data` a shard may write: the whole EvaluationRun must fit etcd's 1.5 MiB. */
export const maxShardStateBytes = 1_400_000;

export const ShardState = object(
  {
    encoding: stringEnum(['gzip+base64']),
    data: Type.String({
      maxLength: maxShardStateBytes,
      description: 'The accumulator state as gzip+base64 JSON.',
    }),
  },
  {
    description:
      'Mergeable metric accumulator state of this shard (counts, histograms, sketches), per metric.',
  },
);

/**
 * One shard's result. An entry is written once: the API refuses a second write that changes its
 * digest or turns an error into a result, and the operator refuses a state whose digest does not
 * match it, so a pod of the run cannot replace what another pod wrote.
 */
export const ShardStatus = object(
  {
    index: Type.Integer({
      minimum: 0,
      maximum: maxShards - 1,
      description: 'JOB_COMPLETION_INDEX of the pod.',
    }),
    state: Type.Optional(ShardState),
    digest: Type.Optional(
      Type.String({
        pattern: '^sha256:[0-9a-f]{64}$',
        maxLength: 71,
        description: 'sha256 of state.data; set once, with the state.',
      }),
    ),
    samples: Type.Optional(Type.Integer({ minimum: 0, format: 'int64' })),
    completedAt: Type.Optional(timestamp('When the shard finished.')),
    error: Type.Optional(
      Type.String({ maxLength: 4096, description: 'Why the shard failed, naming the what and the where.' }),
    ),
  },
  {
    rules: [
      {
        rule: '!has(oldSelf.digest) || (has(self.digest) && self.digest == oldSelf.digest)',
        message: 'this shard was already written: its result cannot be replaced',
      },
      {
        rule: '!has(oldSelf.error) || (has(self.error) && self.error == oldSelf.error && !has(self.digest))',
        message: 'this shard already reported an error: it cannot be replaced',
      },
    ],
  },
);

export const Failure = object({
  reason: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 4096 }),
});

const terminalPhases = JSON.stringify(
  runPhases.filter((phase) => phase === 'Succeeded' || phase === 'Failed'),
);

export const EvaluationRunStatus = object({
  phase: Type.Optional(
    stringEnum(runPhases, {
      rules: [
        {
          rule: `!(oldSelf in ${terminalPhases}) || self == oldSelf`,
          messageExpression: "'status.phase ' + oldSelf + ' is final; it cannot change to ' + self",
        },
      ],
    }),
  ),
  shards: Type.Optional(
    Type.Array(ShardStatus, {
      maxItems: maxShards,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['index'],
    }),
  ),
  startedAt: Type.Optional(timestamp('When the first shard started.')),
  completedAt: Type.Optional(timestamp('When the run succeeded or failed.')),
  failure: Type.Optional(Failure),
  executionProvider: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'The onnxruntime execution provider that ran, e.g. CUDAExecutionProvider.',
    }),
  ),
  powerMethod: Type.Optional(stringEnum(powerMethods, { description: 'How powerWatts was measured.' })),
});

/** Checked on the whole object because it relates status to spec. */
export const evaluationRunRules = [
  {
    rule: '!has(self.status) || !has(self.status.shards) || self.status.shards.all(shard, shard.index < self.spec.shards)',
    messageExpression: "'status.shards[].index must be below spec.shards (%d)'.format([self.spec.shards])",
    fieldPath: '.status.shards',
  },
];

export type EvaluationRunSpec = Static<typeof EvaluationRunSpec>;
export type EvaluationRunStatus = Static<typeof EvaluationRunStatus>;
export type ShardStatus = Static<typeof ShardStatus>;
export type Failure = Static<typeof Failure>;
export type RunPhase = (typeof runPhases)[number];
export type RunTrigger = (typeof runTriggers)[number];
export type PowerMethod = (typeof powerMethods)[number];
