/**
 * Building blocks shared by both kinds: how a field is declared once so that it is both a TypeBox
 * schema (TypeScript types, `Value.Check` in tests and the CLI) and, through structural.ts, a
 * Kubernetes structural schema; plus the core/v1 and meta/v1 shapes the API embeds.
 *
 * Objects are closed (`additionalProperties: false`) so that a typo in a local file is an error,
 * like kubectl's default `--validate=strict`; the CRD drops that keyword because Kubernetes prunes
 * unknown fields instead of accepting the keyword.
 */
import {
  Type,
  type ObjectOptions,
  type Static,
  type TLiteral,
  type TProperties,
  type TUnion,
} from '@sinclair/typebox';

/** A CEL rule (`x-kubernetes-validations` entry) enforced by the API server, not by `Value.Check`. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export function object<T extends TProperties>(
  properties: T,
  options: ObjectOptions & { rules?: CelRule[] } = {},
) {
  const { rules, ...rest } = options;
  return Type.Object(properties, {
    additionalProperties: false,
    ...rest,
    ...(rules && rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
  });
}

export function stringEnum<const T extends readonly [string, ...string[]]>(
  values: T,
  options: { description?: string; default?: T[number]; rules?: CelRule[] } = {},
): TUnion<TLiteral<T[number]>[]> {
  const { rules, ...rest } = options;
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    { ...rest, ...(rules && rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}) },
  ) as unknown as TUnion<TLiteral<T[number]>[]>;
}

/** A map with string values (labels, nodeSelector). */
export function stringMap(options: { description?: string; maxProperties?: number } = {}) {
  return Type.Record(Type.String({ maxLength: 253 }), Type.String({ maxLength: 1024 }), {
    ...options,
    ...(options.maxProperties === undefined ? { maxProperties: 64 } : {}),
  });
}

/**
 * An object the API server keeps as written (`x-kubernetes-preserve-unknown-fields`): a pod
 * template, an affinity, a metric accumulator. Its consumer validates it.
 */
export function openObject(description: string) {
  return Type.Record(Type.String(), Type.Unknown(), {
    description,
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** RFC 3339 time as it travels in JSON (metav1.Time). */
export function timestamp(description: string) {
  return Type.String({ format: 'date-time', description });
}

/** A DNS-1123 subdomain: the names of Deployments, Rollouts, ServiceAccounts and runs. */
export function resourceName(description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  });
}

/** resource.Quantity: `500m`, `2Gi`, `1`. */
export const quantityPattern =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export const Quantity = Type.Union([Type.Integer(), Type.String({ pattern: quantityPattern })], {
  'x-kubernetes-int-or-string': true,
});

/** core/v1 ResourceRequirements without `claims` (dynamic resource allocation is out of scope). */
export const ResourceRequirements = object(
  {
    limits: Type.Optional(Type.Record(Type.String({ maxLength: 253 }), Quantity, { maxProperties: 16 })),
    requests: Type.Optional(Type.Record(Type.String({ maxLength: 253 }), Quantity, { maxProperties: 16 })),
  },
  { description: 'Compute resources of each evaluation pod (core/v1 ResourceRequirements).' },
);

/** core/v1 Toleration, complete. */
export const Toleration = object(
  {
    key: Type.Optional(Type.String({ maxLength: 316 })),
    operator: Type.Optional(stringEnum(['Exists', 'Equal'])),
    value: Type.Optional(Type.String({ maxLength: 63 })),
    effect: Type.Optional(stringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])),
    tolerationSeconds: Type.Optional(Type.Integer({ format: 'int64' })),
  },
  {
    rules: [
      {
        rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
        message: 'a toleration with operator Exists must not set a value',
      },
    ],
  },
);

/**
 * core/v1 Affinity, trimmed: its three parts are checked by name, their insides are kept as
 * written and validated by the API server when the controller creates the Job.
 */
export const Affinity = object(
  {
    nodeAffinity: Type.Optional(openObject('core/v1 NodeAffinity')),
    podAffinity: Type.Optional(openObject('core/v1 PodAffinity')),
    podAntiAffinity: Type.Optional(openObject('core/v1 PodAntiAffinity')),
  },
  { description: 'Scheduling constraints of each evaluation pod (core/v1 Affinity).' },
);

/** meta/v1 Condition, as kubebuilder generates it. */
export const Condition = object({
  type: Type.String({
    maxLength: 316,
    pattern:
      '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
  }),
  status: stringEnum(['True', 'False', 'Unknown']),
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64', minimum: 0 })),
  lastTransitionTime: timestamp('When the condition last changed status.'),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 32768 }),
});

/**
 * meta/v1 ObjectMeta as plain JSON (timestamps are strings). The CRD declares only `type: object`
 * here because the API server owns metadata validation.
 */
export const ObjectMeta = Type.Object(
  {
    name: Type.Optional(Type.String()),
    generateName: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    finalizers: Type.Optional(Type.Array(Type.String())),
    ownerReferences: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  },
  { 'x-pruneguard-metadata': true },
);

export type Condition = Static<typeof Condition>;
