import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';

import {
  Dictionary,
  Float32,
  Int16,
  Int32,
  Int64,
  Table,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import fc from 'fast-check';

import { openTable } from '../../../src/evaluator/data/open.js';
import type { RecordBatch } from '../../../src/evaluator/data/table.js';
import { textColumn, textValues, type TextColumn } from '../../../src/metrics/text-column.js';
import { writeTable, type Columns, type WritableFormat } from '../../../scripts/fixtures/write-table.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const formats: WritableFormat[] = ['csv', 'jsonl', 'json', 'parquet', 'arrow'];
let dir: string;

// Real penguins rows plus awkward text: commas, quotes, a newline and non-ASCII inside values.
const table: Columns = {
  species: ['Adelie', 'Gentoo', 'Chinstrap', 'Adelie', 'Gentoo', 'Adelie', 'Chinstrap'],
  island: ['Torgersen', 'Biscoe, south', 'Dream "west"', 'Torgersen', 'Biscoe\nnorth', 'Dream', 'Île'],
  beak: [39.1, 46.1, 46.5, 36.7, 50, 38.9, 49.5],
  mass: [3750, 4500, 3500, 3450, 5700, 3625, 3900],
};

async function readAllBatches(file: string, batchSize: number, columns?: string[]): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  for await (const batch of openTable(file, { batchSize, ...(columns ? { columns } : {}) }))
    batches.push(batch);
  return batches;
}

function concatenated(batches: RecordBatch[]): Record<string, number[] | string[]> {
  const out: Record<string, (number | string)[]> = {};
  for (const batch of batches) {
    for (const [name, column] of Object.entries(batch.columns)) {
      (out[name] ??= []).push(...(column instanceof Float64Array ? Array.from(column) : textValues(column)));
    }
  }
  return out as Record<string, number[] | string[]>;
}

before(async () => {
  dir = await temporaryDirectory('readers');
  for (const format of formats) await writeTable(path.join(dir, `penguins.${format}`), table, format);
});

for (const format of formats) {
  test(`${format}: the same table comes back, in batches no larger than asked`, async () => {
    const batches = await readAllBatches(path.join(dir, `penguins.${format}`), 3);
    assert.ok(batches.every((b) => b.rows <= 3));
    assert.equal(
      batches.reduce((sum, b) => sum + b.rows, 0),
      7,
    );
    assert.ok(
      batches.every(
        (b) =>
          b.columns.beak instanceof Float64Array &&
          (b.columns.species as TextColumn).codes instanceof Int32Array,
      ),
    );
    assert.deepEqual(concatenated(batches), table);
  });

  test(`${format}: only the selected columns are returned, a missing one is named`, async () => {
    const file = path.join(dir, `penguins.${format}`);
    const batches = await readAllBatches(file, 100, ['mass', 'species']);
    assert.deepEqual(Object.keys(batches[0]?.columns ?? {}).sort(), ['mass', 'species']);
    await assert.rejects(
      readAllBatches(file, 100, ['mass', 'sex']),
      (error: Error) =>
        error.message.startsWith(`${file}: column 'sex' not found`) && error.message.includes("'mass'"),
    );
  });
}

test('every reader agrees on the committed penguins fixture', async () => {
  const reference = concatenated(await readAllBatches('test/fixtures/penguins/reference.csv', 64));
  for (const format of ['jsonl', 'json', 'parquet', 'arrow'] as const) {
    const file = path.join(dir, `reference.${format}`);
    await writeTable(file, reference, format);
    assert.deepEqual(concatenated(await readAllBatches(file, 50)), reference, format);
  }
});

test('any table of numbers and text reads back the same from every format', async () => {
  const text = fc
    .string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', ' ', 'é', '\\', '{', ']') })
    .map((s) => `x${s}`);
  const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
  const tables = fc.integer({ min: 1, max: 12 }).chain((rows) =>
    fc.record({
      name: fc.array(text, { minLength: rows, maxLength: rows }),
      value: fc.array(number, { minLength: rows, maxLength: rows }),
    }),
  );
  let run = 0;
  await fc.assert(
    fc.asyncProperty(tables, fc.integer({ min: 1, max: 5 }), async (generated, batchSize) => {
      const columns: Columns = {
        name: generated.name,
        value: generated.value.map((v) => (Object.is(v, -0) ? 0 : v)),
      };
      for (const format of formats) {
        const file = path.join(dir, `property-${run++}.${format}`);
        await writeTable(file, columns, format);
        assert.deepEqual(concatenated(await readAllBatches(file, batchSize)), columns, format);
      }
    }),
    { numRuns: 25 },
  );
});

test('CSV with Windows line endings and no final newline reads like any other', async () => {
  const file = path.join(dir, 'windows.csv');
  await writeFile(file, 'mass,name,island\r\n3750,"two\r\nlines",Dream\r\n4500,plain,Biscoe');
  const [batch] = await readAllBatches(file, 10);
  assert.deepEqual(batch?.columns, {
    mass: Float64Array.from([3750, 4500]),
    name: textColumn(['two\r\nlines', 'plain']),
    island: textColumn(['Dream', 'Biscoe']),
  });
});

test('missing values read as NaN in numeric columns and empty text in text columns', async () => {
  const file = path.join(dir, 'gaps.jsonl');
  await writeFile(file, '{"a":1,"b":"x"}\n{"a":null,"b":null}\n{"b":"z"}\n');
  const [batch] = await readAllBatches(file, 10);
  assert.deepEqual(batch?.columns.a, Float64Array.from([1, NaN, NaN]));
  assert.deepEqual(batch?.columns.b, textColumn(['x', '', 'z']));
});

test('CSV missing-value markers are NaN in numeric columns and text in text columns', async () => {
  const file = path.join(dir, 'markers.csv');
  await writeFile(file, 'mass,region\n3750,EU\nNA,NA\n,\nnan,US\n');
  const [batch] = await readAllBatches(file, 10);
  assert.deepEqual(batch?.columns.mass, Float64Array.from([3750, NaN, NaN, NaN]));
  assert.deepEqual(batch?.columns.region, textColumn(['EU', 'NA', '', 'US']));
});

test('empty files are refused with their URI', async () => {
  for (const [name, content] of [
    ['empty.csv', ''],
    ['header-only.csv', 'a,b\n'],
    ['empty.jsonl', '\n'],
    ['empty.json', '[]'],
  ] as const) {
    const file = path.join(dir, name);
    await writeFile(file, content);
    await assert.rejects(readAllBatches(file, 10), new RegExp(`${name}: empty file`));
  }
});

test('malformed input names the file and the place', async () => {
  const jsonl = path.join(dir, 'bad.jsonl');
  await writeFile(jsonl, '{"a":1}\n{"a":\n');
  await assert.rejects(readAllBatches(jsonl, 10), /bad\.jsonl: line 2 is not valid JSON/);
  const csv = path.join(dir, 'ragged.csv');
  await writeFile(csv, 'a,b\n1,2\n3\n');
  await assert.rejects(readAllBatches(csv, 10), /ragged\.csv: a row has 1 fields, the header has 2/);
  const notArray = path.join(dir, 'object.json');
  await writeFile(notArray, '{"a":1}');
  await assert.rejects(readAllBatches(notArray, 10), /object\.json: expected a JSON array of objects/);
  const parquet = path.join(dir, 'fake.parquet');
  await writeFile(parquet, 'not parquet at all');
  await assert.rejects(readAllBatches(parquet, 10), /fake\.parquet: not a readable Parquet file/);
  await assert.rejects(readAllBatches(path.join(dir, 'data.xlsx'), 10), /data\.xlsx: cannot tell the format/);
});

test('the 3M-row flights parquet streams row group by row group without reading it whole', async () => {
  const file = 'node_modules/vega-datasets/data/flights-3m.parquet';
  let rows = 0;
  let batches = 0;
  for await (const batch of openTable(file, { batchSize: 50_000, columns: ['delay', 'origin'] })) {
    assert.ok(batch.rows <= 50_000);
    assert.ok(batch.columns.delay instanceof Float64Array);
    assert.equal(typeof textValues(batch.columns.origin as TextColumn)[0], 'string');
    rows += batch.rows;
    if (++batches === 3) break;
  }
  assert.equal(rows, 150_000);
});

test('the 200k-row flights arrow file is cut into batches', async () => {
  let rows = 0;
  let largest = 0;
  for await (const batch of openTable('node_modules/vega-datasets/data/flights-200k.arrow', {
    batchSize: 32_768,
  })) {
    rows += batch.rows;
    largest = Math.max(largest, batch.rows);
  }
  assert.equal(rows, 200_000);
  assert.equal(largest, 32_768);
});

test('a large JSON array streams element by element', async () => {
  let rows = 0;
  for await (const batch of openTable('node_modules/vega-datasets/data/flights-20k.json', {
    batchSize: 5000,
  })) {
    assert.ok(batch.rows <= 5000);
    assert.deepEqual(Object.keys(batch.columns).sort(), [
      'date',
      'delay',
      'destination',
      'distance',
      'origin',
    ]);
    rows += batch.rows;
  }
  assert.equal(rows, 20_000);
});

test('arrow: dictionary text keeps its codes, a dictionary of numbers reads as numbers, nulls are missing in every type', async () => {
  const file = path.join(dir, 'typed.arrow');
  const strings = ['EU', null, 'US', 'EU', null, 'NA', 'US'];
  const table = new Table({
    region: vectorFromArray(strings, new Dictionary(new Utf8(), new Int32())),
    city: vectorFromArray(['Oslo', 'Lima', null, 'Oslo', 'Pune', 'Lima', 'Oslo'], new Utf8()),
    small: vectorFromArray([1, 2, null, 4, 5, 6, 7], new Int16()),
    big: vectorFromArray([1n, 2n, null, 4n, 5n, 6n, 7n], new Int64()),
    ratio: vectorFromArray([0.5, null, 1.5, 2, 2.5, 3, 3.5], new Float32()),
    grade: vectorFromArray([3, 1, 3, null, 2, 1, 3], new Dictionary(new Int16(), new Int32())),
  });
  await writeFile(file, tableToIPC(table, 'file'));
  const batches = await readAllBatches(file, 3);
  assert.deepEqual(
    batches.map((b) => b.rows),
    [3, 3, 1],
  );
  // Batches cut from one record batch share its value table.
  assert.equal(
    (batches[0]!.columns.region as TextColumn).values,
    (batches[2]!.columns.region as TextColumn).values,
  );
  assert.deepEqual(concatenated(batches), {
    region: strings.map((s) => s ?? ''),
    city: ['Oslo', 'Lima', '', 'Oslo', 'Pune', 'Lima', 'Oslo'],
    small: [1, 2, NaN, 4, 5, 6, 7],
    big: [1, 2, NaN, 4, 5, 6, 7],
    ratio: [0.5, NaN, 1.5, 2, 2.5, 3, 3.5],
    grade: [3, 1, 3, NaN, 2, 1, 3],
  });
});
