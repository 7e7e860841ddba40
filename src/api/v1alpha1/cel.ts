/**
 * The CRDs' CEL rules (`x-kubernetes-validations`), evaluated outside the API server: the CLI
 * refuses a local manifest the API server would refuse, from the very rule strings the CRDs carry.
 *
 * Values are typed by their schema as the API server types them (an `integer` field is a CEL int,
 * a `number` a double), and the Kubernetes CEL libraries the rules use (`split`, `duration`,
 * `format`, `matches`) are in @marcbachmann/cel-js. Transition rules (those reading `oldSelf`)
 * compare with the stored object, which a local file does not have; they are left to the server.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { TSchema } from '@sinclair/typebox';
import type { CelRule } from './core.js';

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
}).registerFunction({
  // Kubernetes' strings library (ext.Strings): the verbs the rules' messages use.
  name: 'format',
  receiverType: 'string',
  returnType: 'string',
  params: [{ name: 'args', type: 'list' }],
  handler: (template: string, args: unknown[]) => {
    let next = 0;
    return template.replace(/%([sd%])/g, (_, verb: string) => {
      if (verb === '%') return '%';
      if (next >= args.length)
        throw new Error(`format: ${template} needs more than ${args.length} arguments`);
      return String(args[next++]);
    });
  },
});

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-validations'?: CelRule[];
}

/** Each rule `value` breaks, as `path: message` like validationErrors' lines; empty when none. */
export function celViolations(schema: TSchema, value: unknown): string[] {
  const violations: string[] = [];
  visit(schema as SchemaNode, value, '', violations);
  return violations;
}

function visit(schema: SchemaNode, value: unknown, path: string, violations: string[]): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => visit(schema.items!, item, `${path}[${i}]`, violations));
  } else if (typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    for (const [key, child] of entries) {
      const under = childSchema(schema, key);
      if (under) visit(under, child, path === '' ? key : `${path}.${key}`, violations);
    }
  }
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (/\boldSelf\b/.test(rule.rule)) continue;
    const self = { self: celValue(schema, value) };
    const where = [path, rule.fieldPath?.replace(/^\./, '')].filter(Boolean).join('.') || '<root>';
    let holds: unknown;
    try {
      holds = environment.evaluate(rule.rule, self);
    } catch (error) {
      violations.push(`${where}: rule ${rule.rule} could not be evaluated: ${(error as Error).message}`);
      continue;
    }
    if (holds !== true) violations.push(`${where}: ${messageOf(rule, self)}`);
  }
}

function messageOf(rule: CelRule, self: { self: unknown }): string {
  if (rule.messageExpression) {
    try {
      const message = environment.evaluate(rule.messageExpression, self);
      if (typeof message === 'string' && message !== '') return message;
    } catch {
      // The API server falls back to `message` too when the expression fails.
    }
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

/** `value` as CEL sees it under `schema`: integers as CEL ints (bigint), all the way down. */
function celValue(schema: SchemaNode | undefined, value: unknown): unknown {
  if (schema?.type === 'integer' && typeof value === 'number' && Number.isInteger(value))
    return BigInt(value);
  if (Array.isArray(value)) return value.map((item) => celValue(schema?.items, item));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, child]) => [
        key,
        celValue(schema && childSchema(schema, key), child),
      ]),
    );
  return value;
}

/** The schema of an object's `key`: a declared property, or the map's value schema. */
function childSchema(schema: SchemaNode, key: string): SchemaNode | undefined {
  return (
    schema.properties?.[key] ??
    Object.values(schema.patternProperties ?? {})[0] ??
    (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined)
  );
}
