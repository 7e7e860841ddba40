import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { object, openObject, Quantity, stringEnum } from '../../../src/api/v1alpha1/core.js';
import { toStructuralSchema } from '../../../src/api/v1alpha1/structural.js';

describe('toStructuralSchema', () => {
  it('turns a union of string literals into an enum', () => {
    assert.deepEqual(toStructuralSchema(stringEnum(['hold', 'none'], { default: 'hold' })), {
      type: 'string',
      enum: ['hold', 'none'],
      default: 'hold',
    });
  });

  it('turns a single literal into a one-value enum', () => {
    assert.deepEqual(toStructuralSchema(Type.Literal('v1')), { type: 'string', enum: ['v1'] });
  });

  it('turns a record into additionalProperties and a quantity into int-or-string', () => {
    assert.deepEqual(toStructuralSchema(Type.Record(Type.String(), Quantity, { maxProperties: 4 })), {
      type: 'object',
      maxProperties: 4,
      additionalProperties: {
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: (Quantity.anyOf[1] as { pattern: string }).pattern,
      },
    });
  });

  it('keeps an open object open, without its record pattern', () => {
    assert.deepEqual(toStructuralSchema(openObject('a pod template')), {
      type: 'object',
      description: 'a pod template',
      'x-kubernetes-preserve-unknown-fields': true,
    });
  });

  it('drops additionalProperties false, and required for fields the API server defaults', () => {
    const schema = object({
      name: Type.String(),
      replicas: Type.Integer({ default: 1 }),
      note: Type.Optional(Type.String()),
    });
    assert.deepEqual(toStructuralSchema(schema), {
      type: 'object',
      properties: {
        name: { type: 'string' },
        replicas: { type: 'integer', default: 1 },
        note: { type: 'string' },
      },
      required: ['name'],
    });
  });

  it('writes an object default out with its fields’ defaults', () => {
    const schema = object({
      inner: object({ a: Type.Number({ default: 1 }), b: Type.Boolean({ default: false }) }, { default: {} }),
    });
    const structural = toStructuralSchema(schema) as { properties: { inner: { default: unknown } } };
    assert.deepEqual(structural.properties.inner.default, { a: 1, b: false });
  });

  it('carries CEL rules, and strips them and defaults inside a snapshot', () => {
    const guarded = object(
      { a: Type.Number({ default: 1 }) },
      { rules: [{ rule: 'self.a > 0', message: 'a must be positive' }] },
    );
    assert.deepEqual(toStructuralSchema(guarded)['x-kubernetes-validations'], [
      { rule: 'self.a > 0', message: 'a must be positive' },
    ]);
    const snapshot = object({ copy: { ...guarded, 'x-pruneguard-snapshot': true } as typeof guarded });
    assert.deepEqual(toStructuralSchema(snapshot), {
      type: 'object',
      properties: { copy: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] } },
      required: ['copy'],
    });
  });

  it('refuses what a CRD cannot express, naming the field', () => {
    const schema = object({ spec: object({ choice: Type.Union([Type.String(), Type.Number()]) }) });
    assert.throws(() => toStructuralSchema(schema), /schema spec\.choice: a union must be string literals/);
    const tuple = object({ pair: Type.Tuple([Type.Number(), Type.String()]) });
    assert.throws(
      () => toStructuralSchema(tuple),
      /schema pair: keyword additionalItems has no structural equivalent/,
    );
  });
});
