import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { EvaluationAccumulator, type EvaluationBatch } from '../../../src/metrics/index.js';
import {
  countCodes,
  pickRows,
  textColumn,
  textValues,
  type TextColumn,
} from '../../../src/metrics/text-column.js';
import { syntheticBatch } from './synthetic-data.js';

test('a text column holds each distinct value once, in order of first appearance', () => {
  const column = textColumn(['eu', 'us', 'eu', '', 'us']);
  assert.deepEqual(column.values, ['eu', 'us', '']);
  assert.deepEqual(Array.from(column.codes), [0, 1, 0, 2, 1]);
  assert.deepEqual(Array.from(countCodes(column)), [2, 2, 1]);
  assert.deepEqual(Array.from(countCodes(column, Int32Array.from([1, 4, 0]))), [1, 2, 0]);
  assert.deepEqual(textValues(pickRows(column, [4, 3])), ['us', '']);
});

test('round trip: the values of a built column are the strings it was built from', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'b', '', 'ü', '1')), (strings) => {
      assert.deepEqual(textValues(textColumn(strings)), strings);
    }),
  );
});

/** The same rows with a table in another order and holding values no row uses, as an Arrow record batch slice has. */
function withWideTable(column: TextColumn): TextColumn {
  const values = ['unused-first', ...[...column.values].reverse(), 'unused-last'];
  const codeOf = new Map(values.map((value, code) => [value, code]));
  return { codes: Int32Array.from(column.codes, (code) => codeOf.get(column.values[code]!)!), values };
}

function wideTables(batch: EvaluationBatch): EvaluationBatch {
  const widen = (record: Record<string, TextColumn>) =>
    Object.fromEntries(Object.entries(record).map(([name, column]) => [name, withWideTable(column)]));
  return {
    ...batch,
    categoricalFeatures: widen(batch.categoricalFeatures),
    slices: widen(batch.slices),
    ...(batch.sensitive ? { sensitive: withWideTable(batch.sensitive) } : {}),
  };
}

test('values no row uses create no category, slice or group, and codes order does not matter', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 300 }), (seed, rows) => {
      const compact = new EvaluationAccumulator({ sliceCrosses: [['region', 'device']] });
      const wide = new EvaluationAccumulator({ sliceCrosses: [['region', 'device']] });
      for (const dataset of ['reference', 'current'] as const) {
        const batch = syntheticBatch({
          dataset,
          rows,
          seed: seed + (dataset === 'current' ? 1 : 0),
          labels: true,
        });
        compact.update(batch);
        wide.update(wideTables(batch));
      }
      assert.deepEqual(wide.result(), compact.result());
      assert.ok(!JSON.stringify(wide.toJSON()).includes('unused-'));
    }),
    { numRuns: 40 },
  );
});
