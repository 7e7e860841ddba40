/**
 * spec.live: the canary's serving metrics, read from Prometheus at grading time and
 * graded against the baseline's (src/live) into status.live. The offline run says how the pruned model behaves on
 * the evaluation data; these say how it serves real traffic beside the stable version.
 */
import { Type, type Static } from '@sinclair/typebox';
import { object, stringEnum } from './core.js';
import { intervalPattern } from './schedule.js';

export const liveDirections = ['lowerIsBetter', 'higherIsBetter'] as const;
export type LiveDirection = (typeof liveDirections)[number];

export const liveDefaults = {
  timeoutSeconds: 10,
  window: '10m',
  step: '30s',
  minSamples: 10,
  confidence: 0.95,
} as const;

const query = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description });

export const PrometheusEndpoint = object({
  address: Type.String({
    pattern: '^https?://',
    maxLength: 2048,
    description:
      "Prometheus's base URL, e.g. http://prometheus-operated.monitoring:9090; /api/v1/query_range is appended. Reached under the operator's egress policy.",
  }),
  credentialsSecret: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      description:
        'A Secret in the evaluation’s namespace, labelled pruneguard.io/credentials: "true": `token` (sent as a bearer token), `ca.crt` (the CA Prometheus’s certificate is checked against), `tls.crt` and `tls.key` (a client certificate, for mTLS); each optional.',
    }),
  ),
  timeoutSeconds: Type.Integer({
    minimum: 1,
    maximum: 120,
    default: liveDefaults.timeoutSeconds,
    description: 'Per request; a request that times out is retried like a refused connection.',
  }),
});

export const RelativeChange = object(
  {
    target: Type.Number({
      minimum: 0,
      description: 'Canary worse than the baseline by more than this fraction (0.1 = 10%) is a Warning.',
    }),
    warning: Type.Number({
      minimum: 0,
      description: 'Worse by more than this fraction is Critical.',
    }),
  },
  {
    rules: [
      {
        rule: 'self.warning >= self.target',
        messageExpression:
          "'maxRelativeChange: warning (%s) must not be below target (%s); both are how much worse the canary may be'.format([self.warning, self.target])",
        fieldPath: '.warning',
      },
    ],
  },
);

export const LiveMetric = object(
  {
    name: Type.String({
      pattern: '^[a-z][a-zA-Z0-9]*$',
      maxLength: 63,
      description: 'How status.live names this metric, in lowerCamelCase, e.g. p95LatencyMs.',
    }),
    canary: query(
      'PromQL over the canary’s series that returns one series, e.g. histogram_quantile(0.95, sum by (le) (rate(inference_request_duration_seconds_bucket{variant="canary"}[1m]))) * 1000.',
    ),
    baseline: Type.Optional(
      query(
        'The same PromQL over the stable version’s series. Without it only the absolute bands (target, warning) grade.',
      ),
    ),
    direction: stringEnum(liveDirections, { default: 'lowerIsBetter' }),
    unit: Type.Optional(
      Type.String({ maxLength: 32, description: 'Shown beside values, e.g. ms, %, req/s.' }),
    ),
    target: Type.Optional(
      Type.Number({
        description: 'Absolute band on the canary’s window value (the median): worse than this is a Warning.',
      }),
    ),
    warning: Type.Optional(Type.Number({ description: 'Worse than this is Critical.' })),
    maxRelativeChange: Type.Optional(RelativeChange),
    enabled: Type.Boolean({
      default: true,
      description: 'false: queried and reported, never part of the verdict.',
    }),
  },
  {
    rules: [
      {
        rule: 'has(self.target) == has(self.warning)',
        messageExpression: "'live metric ' + self.name + ': set both target and warning, or neither'",
      },
      {
        rule: "!has(self.target) || !has(self.warning) || (has(self.direction) && self.direction == 'higherIsBetter' ? self.warning <= self.target : self.warning >= self.target)",
        messageExpression:
          "'live metric %s: warning (%s) must not be %s target (%s) for a %s metric'.format([self.name, self.warning, has(self.direction) && self.direction == 'higherIsBetter' ? 'above' : 'below', self.target, has(self.direction) ? self.direction : 'lowerIsBetter'])",
        fieldPath: '.warning',
      },
      {
        rule: '!has(self.maxRelativeChange) || has(self.baseline)',
        messageExpression:
          "'live metric ' + self.name + ': maxRelativeChange compares the canary with the baseline; add a baseline query'",
        fieldPath: '.maxRelativeChange',
      },
      {
        rule: 'has(self.target) || has(self.maxRelativeChange)',
        messageExpression:
          "'live metric ' + self.name + ' has nothing to grade against: set target and warning, or maxRelativeChange with a baseline query'",
      },
    ],
  },
);

export const Live = object(
  {
    prometheus: PrometheusEndpoint,
    window: Type.String({
      pattern: intervalPattern,
      maxLength: 32,
      default: liveDefaults.window,
      description: 'How far back from grading time the series are read, e.g. 10m.',
    }),
    step: Type.String({
      pattern: intervalPattern,
      maxLength: 32,
      default: liveDefaults.step,
      description: 'Resolution of the series (query_range step): one point per step and variant.',
    }),
    minSamples: Type.Integer({
      minimum: 3,
      maximum: 11000,
      default: liveDefaults.minSamples,
      description:
        'Points with a value each variant needs in the window; with fewer a metric is Inconclusive.',
    }),
    confidence: Type.Number({
      minimum: 0.5,
      maximum: 0.999,
      default: liveDefaults.confidence,
      description:
        'Of the interval on the canary’s median (absolute bands) and of the Mann–Whitney test (relative change): a breach counts when p ≤ 1 − confidence.',
    }),
    metrics: Type.Array(LiveMetric, {
      minItems: 1,
      maxItems: 32,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
  },
  {
    description:
      'Serving metrics of the canary and the stable version from Prometheus, graded at each grading and combined with the offline verdict (the worse of the two decides; Prometheus out of reach is Inconclusive, never Critical).',
    rules: [
      {
        rule: `!self.window.matches('${intervalPattern}') || !self.step.matches('${intervalPattern}') || duration(self.window).getSeconds() >= duration(self.step).getSeconds() * (self.minSamples - 1)`,
        messageExpression:
          // One `format` call: string(int) has no size bound in the API server's cost estimate.
          "'live: a window of %s holds fewer than minSamples (%d) points at a step of %s; widen the window, shorten the step or lower minSamples'.format([self.window, self.minSamples, self.step])",
        fieldPath: '.window',
      },
    ],
  },
);

export type Live = Static<typeof Live>;
export type LiveMetric = Static<typeof LiveMetric>;
export type PrometheusEndpoint = Static<typeof PrometheusEndpoint>;
