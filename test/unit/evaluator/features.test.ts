import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  asText,
  encodeBatch,
  encodedFeatureNames,
  selectedColumns,
  type ColumnSelection,
} from '../../../src/evaluator/data/features.js';
import type { RecordBatch } from '../../../src/evaluator/data/table.js';
import { textColumn, textValues } from '../../../src/metrics/text-column.js';

const batch: RecordBatch = {
  rows: 3,
  columns: {
    mass: Float64Array.from([3750, 4500, NaN]),
    island: textColumn(['Dream', 'Biscoe', 'Atlantis']),
    ring: Float64Array.from([2, 1, 7]),
    species: textColumn(['Gentoo', 'Adelie', 'Emperor']),
    sex: textColumn(['MALE', 'FEMALE', '']),
  },
};

const selection: ColumnSelection = {
  features: [
    'mass',
    { name: 'island', categories: ['Biscoe', 'Dream'] },
    { name: 'ring', categories: ['1', '2'], encoding: 'index' },
  ],
  label: { name: 'species', classes: ['Adelie', 'Gentoo'] },
  sensitiveAttribute: 'sex',
  slices: ['island'],
};

test('numeric, one-hot and index features are laid out row by row in declared order', () => {
  assert.deepEqual(encodedFeatureNames(selection), ['mass', 'island=Biscoe', 'island=Dream', 'ring']);
  const encoded = encodeBatch(batch, selection, 'pvc://data/p.csv');
  assert.equal(encoded.width, 4);
  assert.deepEqual(Array.from(encoded.features), [3750, 0, 1, 1, 4500, 1, 0, 0, NaN, 0, 0, -1]);
  assert.deepEqual(Array.from(encoded.labels ?? []), [1, 0, -1]);
  assert.deepEqual(textValues(encoded.sensitive!), ['MALE', 'FEMALE', '']);
  assert.deepEqual(Object.keys(encoded.slices), ['island']);
  assert.deepEqual(textValues(encoded.slices.island!), ['Dream', 'Biscoe', 'Atlantis']);
  assert.deepEqual(selectedColumns(selection), ['mass', 'island', 'ring', 'species', 'sex']);
});

test('a numeric column used as text reads each number as its text, NaN as missing', () => {
  assert.deepEqual(textValues(asText(Float64Array.from([2, NaN, 0.5]))), ['2', '', '0.5']);
});

test('numeric labels are class indices; anything else is -1', () => {
  const encoded = encodeBatch(
    { rows: 4, columns: { x: Float64Array.from([1, 2, 3, 4]), y: Float64Array.from([0, 1, 1.5, NaN]) } },
    { features: ['x'], label: 'y' },
    'data.csv',
  );
  assert.deepEqual(Array.from(encoded.labels ?? []), [0, 1, -1, -1]);
});

test('a text column used as a numeric feature names the URI, column, expectation and a value', () => {
  assert.throws(
    () => encodeBatch(batch, { features: ['island'] }, 'pvc://data/p.csv'),
    /^Error: pvc:\/\/data\/p\.csv: column 'island' expected numbers, found text \(e\.g\. 'Dream'\)$/,
  );
  assert.throws(
    () => encodeBatch(batch, { features: ['mass'], label: 'species' }, 'p.csv'),
    /p\.csv: column 'species' expected class indices \(numbers\) or declared classes, found text/,
  );
});

test('a missing column names the URI, the column and what the data has', () => {
  assert.throws(
    () => encodeBatch(batch, { features: ['mass', 'flipper'] }, 'configmap://c/p.csv'),
    /configmap:\/\/c\/p\.csv: column 'flipper' not found; the data has columns 'mass', 'island'/,
  );
});
