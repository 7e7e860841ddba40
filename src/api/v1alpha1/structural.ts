/**
 * Turns a TypeBox schema into a Kubernetes structural schema (the OpenAPI v3 subset a CRD
 * accepts). TypeBox speaks JSON Schema; the differences handled here:
 * - a union of string literals becomes `type: string` + `enum` (a CRD forbids `anyOf` with types);
 * - a union of integer and string becomes `x-kubernetes-int-or-string`;
 * - `Type.Record` (`patternProperties`) becomes `additionalProperties`;
 * - `additionalProperties: false` is dropped: Kubernetes prunes unknown fields instead;
 * - a property with a `default` leaves `required`: the API server fills it before validating;
 * - an object default such as `{}` is written out with its fields' defaults, because the API
 *   server checks a default against the CEL rules without defaulting inside it first;
 * - a subtree marked `x-pruneguard-snapshot` loses its defaults and CEL rules (it was validated
 *   where it came from); `x-pruneguard-metadata` becomes a bare `type: object`.
 * Anything else TypeBox can express but a CRD cannot is an error naming the schema path.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export type JsonSchemaProps = { [key: string]: unknown };

const copiedKeywords = [
  'description',
  'format',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
] as const;

const handledKeywords = new Set<string>([
  ...copiedKeywords,
  'type',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'patternProperties',
  'anyOf',
  'const',
  'default',
  'x-kubernetes-validations',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-pruneguard-snapshot',
  'x-pruneguard-metadata',
]);

interface Context {
  path: string;
  snapshot: boolean;
}

export function toStructuralSchema(schema: TSchema): JsonSchemaProps {
  return convert(schema as JsonSchemaProps, { path: '', snapshot: false });
}

function convert(schema: JsonSchemaProps, context: Context): JsonSchemaProps {
  const where = context.path === '' ? '<root>' : context.path;
  for (const key of Object.keys(schema)) {
    if (!handledKeywords.has(key))
      throw new Error(`schema ${where}: keyword ${key} has no structural equivalent`);
  }
  if (schema['x-pruneguard-metadata'] === true) return { type: 'object' };
  const snapshot = context.snapshot || schema['x-pruneguard-snapshot'] === true;
  const out: JsonSchemaProps = {};
  for (const key of copiedKeywords) if (schema[key] !== undefined) out[key] = schema[key];
  if (!snapshot) {
    if (schema.default !== undefined) out.default = expandedDefault(schema);
    if (schema['x-kubernetes-validations'] !== undefined)
      out['x-kubernetes-validations'] = schema['x-kubernetes-validations'];
  }

  if (schema.anyOf !== undefined) return { ...convertUnion(schema, where), ...out };
  if (schema.const !== undefined) return { type: schema.type, enum: [schema.const], ...out };
  if (schema.type === undefined) throw new Error(`schema ${where}: has no type`);
  out.type = schema.type;

  if (schema.type === 'array') {
    out.items = convert(schema.items as JsonSchemaProps, { path: `${context.path}[]`, snapshot });
  }
  if (schema.type === 'object') Object.assign(out, convertObject(schema, { path: context.path, snapshot }));
  return out;
}

function convertObject(schema: JsonSchemaProps, context: Context): JsonSchemaProps {
  const out: JsonSchemaProps = {};
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  }
  if (schema.patternProperties !== undefined) {
    const [valueSchema] = Object.values(schema.patternProperties as Record<string, JsonSchemaProps>);
    out.additionalProperties = convert(valueSchema ?? {}, { ...context, path: `${context.path}{}` });
    return out;
  }
  const properties = (schema.properties ?? {}) as Record<string, JsonSchemaProps>;
  out.properties = Object.fromEntries(
    Object.entries(properties).map(([name, property]) => [
      name,
      convert(property, { ...context, path: context.path === '' ? name : `${context.path}.${name}` }),
    ]),
  );
  const required = ((schema.required ?? []) as string[]).filter(
    (name) => context.snapshot || properties[name]?.default === undefined,
  );
  if (required.length > 0) out.required = required;
  return out;
}

function convertUnion(schema: JsonSchemaProps, where: string): JsonSchemaProps {
  const members = schema.anyOf as JsonSchemaProps[];
  if (members.every((member) => member.const !== undefined && member.type === 'string')) {
    return { type: 'string', enum: members.map((member) => member.const) };
  }
  if (schema['x-kubernetes-int-or-string'] === true) {
    const pattern = members.find((member) => member.type === 'string')?.pattern;
    return {
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      ...(pattern === undefined ? {} : { pattern }),
    };
  }
  throw new Error(`schema ${where}: a union must be string literals or x-kubernetes-int-or-string`);
}

function expandedDefault(schema: JsonSchemaProps): unknown {
  const value = structuredClone(schema.default);
  return typeof value === 'object' && value !== null ? Value.Default(schema as TSchema, value) : value;
}
