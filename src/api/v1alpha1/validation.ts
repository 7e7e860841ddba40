/**
 * Checking an object against the API outside the API server: the CLI reading a local file, tests,
 * the controller reading what it wrote. Defaults are applied first, as the API server does.
 *
 * Structure, types, enums, bounds and patterns first; then, on an object that has them right, the
 * CRDs' CEL rules (cross-field checks such as "warning must not be below target"), from the same
 * rule strings the API server evaluates (cel.ts).
 */
import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { celViolations } from './cel.js';
import { EvaluationRun, PrunedModelEvaluation } from './resources.js';

// RFC 3339 as metav1.Time serializes it (Go's time.RFC3339, optional fraction).
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => rfc3339.test(value));

/** `/spec/sliceThresholds/0/warning` → `spec.sliceThresholds[0].warning`, the API server's spelling. */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`),
      '',
    );
}

function describe(error: ValueError): string {
  const where = fieldPath(error.path) || '<root>';
  const schema = error.schema as { anyOf?: { const?: unknown }[]; 'x-kubernetes-int-or-string'?: boolean };
  if (schema.anyOf?.every((member) => member.const !== undefined)) {
    return `${where}: ${JSON.stringify(error.value)} is not one of ${schema.anyOf.map((member) => member.const).join(', ')}`;
  }
  if (schema['x-kubernetes-int-or-string']) {
    return `${where}: ${JSON.stringify(error.value)} is not a quantity (an integer, or a string such as 500m or 2Gi)`;
  }
  if (error.value === undefined) return `${where}: required`;
  return `${where}: ${error.message} (got ${JSON.stringify(error.value)})`;
}

/** What is wrong with `value` (after defaulting a copy), one line per problem; empty when valid. */
export function validationErrors(schema: TSchema, value: unknown, limit = 20): string[] {
  const defaulted = Value.Default(schema, Value.Clone(value));
  const problems = new Map<string, string>();
  for (const error of Value.Errors(schema, defaulted)) {
    // TypeBox reports a missing object twice ("required", then "expected object"); keep the first.
    if (!problems.has(error.path)) problems.set(error.path, describe(error));
    if (problems.size >= limit) break;
  }
  if (problems.size > 0) return [...problems.values()];
  return celViolations(schema, defaulted).slice(0, limit);
}

/** A copy of `value` with the schema's defaults filled in, as the API server would store it. */
export function withDefaults<T extends TSchema>(schema: T, value: unknown): Static<T> {
  return Value.Default(schema, Value.Clone(value)) as Static<T>;
}

function parser<T extends TSchema>(schema: T, kind: string) {
  return (value: unknown, source: string): Static<T> => {
    const problems = validationErrors(schema, value);
    // One line, as every CLI error is: each problem names its field.
    if (problems.length > 0) throw new Error(`${kind} in ${source} is invalid: ${problems.join('; ')}`);
    return withDefaults(schema, value);
  };
}

/** The effective PrunedModelEvaluation of `value`; throws naming `source` and each bad field. */
export const parsePrunedModelEvaluation = parser(PrunedModelEvaluation, 'PrunedModelEvaluation');

/** The effective EvaluationRun of `value`; throws naming `source` and each bad field. */
export const parseEvaluationRun = parser(EvaluationRun, 'EvaluationRun');
