/**
 * PrunedModelEvaluation.status: the graded result of the last finished run, what was done about
 * it, and the conditions. Written only by the controller through the status subresource.
 */
import { Type, type Static, type TOptional, type TString } from '@sinclair/typebox';
import { Condition, object, openObject, resourceName, stringEnum, timestamp } from './core.js';
import { runTriggers } from './evaluation-run.js';
import { sourceRoles } from './sources.js';
import { metricNames, type MetricName } from './thresholds.js';

export const verdicts = ['Pass', 'Warning', 'Critical', 'Inconclusive'] as const;

/** A metric's grade; `Disabled` is measured and reported but not graded (`thresholds.<metric>.enabled: false`). */
export const grades = [...verdicts, 'Disabled'] as const;

export const actionTypes = ['Advance', 'Promote', 'Hold', 'Rollback', 'Retrain'] as const;

/**
 * Where an action stands. Pending: not written yet (waiting for the target to reach a state where
 * it applies, or retrying after an error). Applied: written, waiting to observe its effect.
 * Done: the effect was observed. Skipped: nothing to do in the target's state (detail says why).
 * Superseded: a newer verdict arrived before it could be done.
 */
export const actionStates = ['Pending', 'Applied', 'Done', 'Skipped', 'Superseded'] as const;
export const openActionStates: readonly ActionState[] = ['Pending', 'Applied'];

export const conditionTypes = ['Ready', 'Degraded', 'EvaluationFailed'] as const;

export const MetricResult = object({
  name: stringEnum(metricNames),
  value: Type.Number(),
  grade: stringEnum(grades),
  target: Type.Number(),
  warning: Type.Number(),
  interval: Type.Optional(
    Type.Array(Type.Number(), {
      minItems: 2,
      maxItems: 2,
      description: 'Confidence interval [low, high] of value; grading uses it, not only the point.',
    }),
  ),
  samples: Type.Integer({ minimum: 0, format: 'int64' }),
  detail: Type.Optional(
    openObject('Metric-specific facts, e.g. per-feature PSI, power measurement method, model file sizes.'),
  ),
});

const metricList = (description: string) =>
  Type.Array(MetricResult, {
    maxItems: metricNames.length,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
    description,
  });

export const SliceResult = object({
  slice: Type.String({
    maxLength: 512,
    description: 'column=value, or column=value,column=value for a cross.',
  }),
  samples: Type.Integer({ minimum: 0, format: 'int64' }),
  metrics: metricList('Metrics on this slice alone.'),
});

export const LastRun = object({
  name: resourceName('The EvaluationRun.'),
  startedAt: Type.Optional(timestamp('When the run started.')),
  completedAt: Type.Optional(timestamp('When the run finished.')),
  samples: Type.Integer({ minimum: 0, format: 'int64', description: 'Rows evaluated, over all shards.' }),
  trigger: Type.Optional(stringEnum(runTriggers)),
  triggerDetail: Type.Optional(Type.String({ maxLength: 1024, description: 'What started the run.' })),
});

export const WatchedSource = object({
  source: stringEnum(sourceRoles),
  uri: Type.String({ maxLength: 2048 }),
  version: Type.Optional(
    Type.String({ maxLength: 1024, description: 'ETag, Last-Modified or resourceVersion, as last read.' }),
  ),
  changedAt: Type.Optional(
    timestamp('When version was first seen; it starts a run once it has held for settle.'),
  ),
  problem: Type.Optional(
    Type.String({
      maxLength: 1024,
      description: 'Why no version could be read (not watchable, unreachable, …).',
    }),
  ),
});

export const DataWatch = object(
  {
    observedAt: timestamp(
      'When the versions shown were read. The operator reads them every checkInterval and writes them here when one changes.',
    ),
    sources: Type.Array(WatchedSource, {
      maxItems: sourceRoles.length,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['source'],
    }),
  },
  { description: 'spec.schedule.dataChanges: what the operator last saw of each model and data file.' },
);

/** Points of each variant in a live metric's window. */
const VariantCounts = object({
  canary: Type.Integer({ minimum: 0 }),
  baseline: Type.Integer({ minimum: 0 }),
});

/** A spec.live metric, graded canary against baseline (src/live/grade.ts). */
export const LiveMetricResult = object({
  name: Type.String({ maxLength: 63 }),
  grade: stringEnum(verdicts),
  value: Type.Optional(Type.Number({ description: 'The canary’s window value: the median of its points.' })),
  interval: Type.Optional(
    Type.Array(Type.Number(), {
      minItems: 2,
      maxItems: 2,
      description:
        'Distribution-free confidence interval of the canary’s median; the absolute bands grade on it.',
    }),
  ),
  baseline: Type.Optional(Type.Number({ description: 'The baseline’s window value (median).' })),
  relativeChange: Type.Optional(
    Type.Number({
      description:
        'Hodges–Lehmann shift from baseline to canary over the baseline’s median: +0.32 is 32% higher, whichever direction is better.',
    }),
  ),
  pValue: Type.Optional(
    Type.Number({ description: 'One-sided Mann–Whitney U test that the canary is worse than the baseline.' }),
  ),
  samples: VariantCounts,
  missing: Type.Optional(VariantCounts),
  target: Type.Optional(Type.Number()),
  warning: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String({ maxLength: 32 })),
  reason: Type.Optional(
    Type.String({ maxLength: 1024, description: 'Why a breach, or the whole metric, is Inconclusive.' }),
  ),
  detail: Type.String({ maxLength: 1024 }),
  decides: Type.Boolean({ description: 'false: spec.live.metrics[].enabled is false.' }),
});

export const Action = object({
  type: stringEnum(actionTypes),
  target: Type.String({ maxLength: 512, description: 'Kind/name, e.g. Rollout/fraud-scorer.' }),
  run: resourceName('The EvaluationRun whose verdict caused the action; one action per run and type.'),
  at: timestamp('When the verdict asked for the action.'),
  reason: Type.String({ maxLength: 1024, description: 'e.g. "accuracyDrop 6.1% > 5%".' }),
  dryRun: Type.Boolean(),
  state: Type.Optional(stringEnum(actionStates)),
  revision: Type.Optional(
    Type.String({
      maxLength: 253,
      description: 'The target revision the run evaluated; the action never acts on another one.',
    }),
  ),
  detail: Type.Optional(
    Type.String({ maxLength: 1024, description: 'What was observed and done, or why nothing was.' }),
  ),
  attempts: Type.Optional(Type.Integer({ minimum: 0, description: 'Writes tried so far.' })),
  lastError: Type.Optional(Type.String({ maxLength: 1024, description: 'Why the last attempt failed.' })),
  updatedAt: Type.Optional(timestamp('When state last changed.')),
});

/**
 * Display strings for `kubectl get pme`: printer columns take a plain JSONPath, which cannot pick
 * one metric out of status.metrics by name, so the controller copies the headline metrics here.
 * The numbers live in status.metrics; format them with `summarize`.
 */
function summaryProperties() {
  const properties = {} as Record<MetricName, TOptional<TString>>;
  for (const metric of metricNames) properties[metric] = Type.Optional(Type.String({ maxLength: 64 }));
  return properties;
}

export const Summary = object(summaryProperties(), {
  description: 'Formatted values of status.metrics for printer columns, e.g. accuracyDrop "6.10%".',
});

export const PrunedModelEvaluationStatus = object({
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64', minimum: 0 })),
  verdict: Type.Optional(stringEnum(verdicts)),
  lastRun: Type.Optional(LastRun),
  nextRunAt: Type.Optional(timestamp('When the next scheduled run starts.')),
  dataWatch: Type.Optional(DataWatch),
  metrics: Type.Optional(metricList('Overall metrics of the last run, graded.')),
  live: Type.Optional(
    Type.Array(LiveMetricResult, {
      maxItems: 32,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      description:
        'spec.live metrics at the last grading: the canary’s serving metrics against the baseline’s.',
    }),
  ),
  liveVerdict: Type.Optional(
    stringEnum(verdicts, {
      description:
        'The worst grade among the spec.live metrics that decide, for `kubectl get` (Live); verdict already includes it.',
    }),
  ),
  slices: Type.Optional(
    Type.Array(SliceResult, {
      maxItems: 256,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['slice'],
    }),
  ),
  summary: Type.Optional(Summary),
  explanation: Type.Optional(
    Type.String({ maxLength: 4096, description: 'Why the verdict is what it is, in a sentence or two.' }),
  ),
  consecutiveBreaches: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Critical runs in a row, compared with spec.policy.consecutiveBreaches.',
    }),
  ),
  consecutiveFailedRuns: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Failed runs in a row, compared with spec.policy.failedRunLimit.',
    }),
  ),
  hysteresis: Type.Optional(
    object(
      {
        consecutiveCritical: Type.Integer({ minimum: 0 }),
        consecutiveHealthy: Type.Integer({ minimum: 0 }),
        critical: Type.Boolean({ description: 'Critical has been acted on and has not recovered yet.' }),
        lastRun: Type.Optional(resourceName('The last run counted, so counting it again changes nothing.')),
      },
      { description: 'Streaks behind consecutiveBreaches (to act) and recovery (to stop acting).' },
    ),
  ),
  actions: Type.Optional(
    Type.Array(Action, {
      maxItems: 50,
      description: 'Most recent last; the controller keeps the latest 50.',
    }),
  ),
  conditions: Type.Optional(
    Type.Array(Condition, {
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      description: `Standard conditions: ${conditionTypes.join(', ')}.`,
    }),
  ),
});

export type PrunedModelEvaluationStatus = Static<typeof PrunedModelEvaluationStatus>;
export type MetricResult = Static<typeof MetricResult>;
export type SliceResult = Static<typeof SliceResult>;
export type LastRun = Static<typeof LastRun>;
export type DataWatch = Static<typeof DataWatch>;
export type WatchedSource = Static<typeof WatchedSource>;
export type LiveMetricResult = Static<typeof LiveMetricResult>;
export type Action = Static<typeof Action>;
export type Summary = Static<typeof Summary>;
export type Verdict = (typeof verdicts)[number];
export type Grade = (typeof grades)[number];
export type ActionType = (typeof actionTypes)[number];
export type ActionState = (typeof actionStates)[number];
export type ConditionType = (typeof conditionTypes)[number];
