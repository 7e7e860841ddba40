import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { BatchPacker, BatchUnpacker } from '../../../src/evaluator/batch-packing.js';
import type { RecordBatch } from '../../../src/evaluator/data/index.js';
import { quickBudget } from '../../../src/evaluator/measurements.js';
import { imputePrefix, screenBatch, type ScreeningPlan } from '../../../src/evaluator/missing-values.js';
import { evaluateShard, type ShardResult } from '../../../src/evaluator/pipeline.js';
import { decodeShardState, encodeShardState } from '../../../src/evaluator/shard-state.js';
import { gradeEvaluation } from '../../../src/grading/index.js';
import { textColumn, textValues, type TextColumn } from '../../../src/metrics/text-column.js';
import type { EvaluationReport } from '../../../src/metrics/index.js';
import type { MissingValueState } from '../../../src/metrics/missing-value-increase.js';
import { loadModel, saveModel } from '../../../src/onnx/model.js';
import { askOracle } from '../../oracle/ask.js';
import { handBatch } from '../metrics/hand-batches.js';
import { fileUri, fixtureEvaluation, fixtureManifest, type ManifestOptions } from './fixture-specs.js';

const rowOf = (row: number) => row;

interface PandasCounts {
  rowsRead: number;
  rowsRejected: number;
  missingByFeature: Record<string, number>;
}

/** test/oracle/reference_metrics.py's pandas reading of the same files. */
function askPandas(request: unknown): {
  reference: PandasCounts;
  current: PandasCounts;
  value: number;
  worst: string;
  interval: [number, number];
} {
  return askOracle(request) as ReturnType<typeof askPandas>;
}
const plan = (
  policy: ScreeningPlan['policy'],
  imputations: [string, number | string][] = [],
): ScreeningPlan => ({
  policy,
  numeric: ['mass', 'beak'],
  categorical: ['island'],
  imputations: new Map(imputations),
});

/** Four rows: row 1 lacks mass (NaN), row 2 has an infinite beak, row 3 no island. */
function batch(): RecordBatch {
  return {
    rows: 4,
    columns: {
      mass: Float64Array.from([4000, NaN, 3900, 4100]),
      // Text, as a reader leaves a column with a cell that is not a number.
      beak: textColumn(['40.1', '39', '', 'unknown']),
      island: textColumn(['Dream', 'Biscoe', '', 'Dream']),
      species: textColumn(['Adelie', 'Gentoo', 'Adelie', 'Chinstrap']),
    },
  };
}

describe('screening a batch', () => {
  test('reject: counts per feature over every row read, and keeps only the rows with every feature', () => {
    const { batch: kept, screening } = screenBatch(batch(), plan('reject'), {
      data: 'current data x',
      rowOf,
    });
    assert.deepEqual(screening, {
      rowsRead: 4,
      rowsRejected: 3,
      missingByFeature: { mass: 1, beak: 2, island: 1 },
    });
    assert.equal(kept.rows, 1);
    assert.deepEqual(Array.from(kept.columns.mass as Float64Array), [4000]);
    // Numeric features reach the encoder as numbers, whatever the reader made of them.
    assert.deepEqual(Array.from(kept.columns.beak as Float64Array), [40.1]);
    assert.deepEqual(textValues(kept.columns.species as TextColumn), ['Adelie']);
  });

  test('±Infinity is invalid', () => {
    const infinite: RecordBatch = { rows: 2, columns: { mass: Float64Array.from([Infinity, -Infinity]) } };
    const { screening } = screenBatch(
      infinite,
      { ...plan('reject'), numeric: ['mass'], categorical: [] },
      {
        data: 'x',
        rowOf,
      },
    );
    assert.deepEqual(screening.missingByFeature, { mass: 2 });
  });

  test('impute: the declared values fill the cells, every row kept and the cells still counted', () => {
    const { batch: filled, screening } = screenBatch(
      batch(),
      plan('impute', [
        ['mass', 4200],
        ['beak', 44],
        ['island', 'Biscoe'],
      ]),
      { data: 'x', rowOf },
    );
    assert.deepEqual(screening, {
      rowsRead: 4,
      rowsRejected: 0,
      missingByFeature: { mass: 1, beak: 2, island: 1 },
    });
    assert.deepEqual(Array.from(filled.columns.mass as Float64Array), [4000, 4200, 3900, 4100]);
    assert.deepEqual(Array.from(filled.columns.beak as Float64Array), [40.1, 39, 44, 44]);
    assert.deepEqual(textValues(filled.columns.island as TextColumn), ['Dream', 'Biscoe', 'Biscoe', 'Dream']);
  });

  test("impute leaves the reader's arrays alone (later batches may share them)", () => {
    const read = batch();
    screenBatch(
      read,
      plan('impute', [
        ['mass', 1],
        ['beak', 1],
        ['island', 'Dream'],
      ]),
      { data: 'x', rowOf },
    );
    assert.ok(Number.isNaN((read.columns.mass as Float64Array)[1]!));
  });

  test('fail: one line naming the data, the row (from 1, in the file) and the feature', () => {
    assert.throws(
      () =>
        screenBatch(batch(), plan('fail'), {
          data: 'current data file:///d/current.csv',
          rowOf: (r) => 10 + r,
        }),
      (error: Error) => {
        assert.equal(
          error.message,
          "current data file:///d/current.csv: row 12 (counting data rows from 1), feature 'mass' is missing (spec.data.missingValues.policy is fail)",
        );
        return true;
      },
    );
    const text: RecordBatch = { rows: 1, columns: { beak: textColumn(['12', 'n/a?']) } };
    text.columns.beak = { codes: Int32Array.from([1]), values: ['12', 'n/a?'] };
    assert.throws(
      () => screenBatch(text, { ...plan('fail'), numeric: ['beak'], categorical: [] }, { data: 'd', rowOf }),
      /row 1 \(counting data rows from 1\), feature 'beak' is not a number \('n\/a\?'\)/,
    );
  });
});

test('the screening counts travel to the metric thread with their batch', () => {
  const batch = handBatch({ teacher: [0.9, 0.1], candidate: [0.9, 0.1], numeric: { mass: [1, 2] } });
  batch.screening = { rowsRead: 5, rowsRejected: 3, missingByFeature: { mass: 3, island: 0 } };
  const packer = new BatchPacker();
  packer.add(batch);
  packer.add({ ...batch, screening: undefined } as never);
  const [withCounts, without] = new BatchUnpacker().unpack(structuredClone(packer.take().pack));
  assert.deepEqual(withCounts!.screening, batch.screening);
  assert.equal(without!.screening, undefined);
});

describe('missing values in the penguins fixtures', () => {
  const penguins = fixtureManifest.penguins;
  const blankedFeature = 'Flipper Length (mm)';
  const scratch = mkdtemp(path.join(tmpdir(), 'pruneguard-missing-'));
  after(async () => rm(await scratch, { recursive: true, force: true }));

  /** The current data with `Flipper Length (mm)` blanked (null) on every Gentoo row. */
  const blanked = (async () => {
    const rows = (await readFile(penguins.data.current, 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const gentoo = rows.filter((row) => row.Species === 'Gentoo');
    for (const row of gentoo) row[blankedFeature] = null;
    const file = path.join(await scratch, 'current-blanked.jsonl');
    await writeFile(file, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    return { file, gentoo: gentoo.length, firstGentoo: rows.indexOf(gentoo[0]!) };
  })();

  /** The reference data with `unknown` for the body mass of its first 3 rows. */
  async function withUnknownMass(): Promise<string> {
    const lines = (await readFile(penguins.data.reference, 'utf8')).split('\n');
    const mass = lines[0]!.split(',').indexOf('Body Mass (g)');
    const edited = lines.map((line, i) => {
      if (i < 1 || i > 3) return line;
      const cells = line.split(',');
      cells[mass] = 'unknown';
      return cells.join(',');
    });
    const file = path.join(await scratch, 'reference-unknown.csv');
    await writeFile(file, edited.join('\n'));
    return file;
  }

  const measurement = quickBudget;
  async function run(
    { currentFile, ...options }: ManifestOptions & { currentFile?: string },
    edit: (spec: ReturnType<typeof fixtureEvaluation>['spec']) => void = () => {},
    shard = { index: 0, count: 1 },
  ): Promise<{ result: ShardResult; spec: ReturnType<typeof fixtureEvaluation>['spec'] }> {
    const spec = fixtureEvaluation(options).spec;
    if (currentFile) spec.data.current.uri = fileUri(currentFile);
    edit(spec);
    const result = await evaluateShard(spec, {
      shardIndex: shard.index,
      shardCount: shard.count,
      measurement,
    });
    return { result, spec };
  }
  const metricOf = (graded: ReturnType<typeof gradeEvaluation>, name: string) => {
    const metric = graded.metrics.find((m) => m.name === name);
    assert.ok(metric, `${name} graded; disabled: ${JSON.stringify(graded.graded.disabled)}`);
    return metric;
  };

  test('clean data: missingValueIncrease 0, Pass', async () => {
    const { result, spec } = await run({ candidate: 'pruned-70' });
    const metric = metricOf(gradeEvaluation(result.accumulator, spec), 'missingValueIncrease');
    assert.equal(metric.value, 0);
    assert.equal(metric.grade, 'Pass');
    assert.equal(metric.detail?.note, 'no missing or invalid feature values');
  });

  test('one feature blanked on one species: those rows rejected by default, never predicted, and Critical', async () => {
    const { file, gentoo } = await blanked;
    const { result, spec } = await run({ candidate: 'pruned-70', currentFile: file });
    assert.equal(spec.data.missingValues.policy, 'reject');
    assert.equal(result.rows.current, penguins.rows.current - gentoo);
    const graded = gradeEvaluation(result.accumulator, spec);
    const metric = metricOf(graded, 'missingValueIncrease');
    assert.equal(metric.grade, 'Critical');
    assert.ok(Math.abs(metric.value - gentoo / penguins.rows.current) < 1e-6, `${metric.value}`);
    assert.equal(
      metric.detail?.note,
      `worst: feature ${blankedFeature}, missing or invalid in ${gentoo} of 133 current rows (38.3%) and 0 of 200 reference rows (0%); rows rejected: ${gentoo} of 133 current, 0 of 200 reference`,
    );
    assert.equal(metric.detail?.currentRowsRejected, gentoo);
    assert.equal(graded.graded.verdict, 'Critical');
    // The rows left are predicted as before: nothing became class 0 for want of a flipper length.
    const accuracy = result.accumulator.result().details.accuracy;
    assert.ok(accuracy.teacherAccuracy! > 0.98, `teacher accuracy ${accuracy.teacherAccuracy}`);
    assert.equal(metricOf(graded, 'accuracyDrop').samples, penguins.rows.current - gentoo);
  });

  test('every current row rejected: the counts still arrive, and the metric is Critical on its own', async () => {
    const rows = (await readFile(penguins.data.current, 'utf8')).split('\n').filter((line) => line !== '');
    const file = path.join(await scratch, 'current-no-island.jsonl');
    await writeFile(
      file,
      rows.map((line) => JSON.stringify({ ...(JSON.parse(line) as object), Island: '' })).join('\n'),
    );
    const { result, spec } = await run({ currentFile: file });
    assert.equal(result.rows.current, 0);
    const graded = gradeEvaluation(result.accumulator, spec);
    const metric = metricOf(graded, 'missingValueIncrease');
    assert.equal(metric.value, 1);
    assert.equal(metric.grade, 'Critical');
    assert.match(
      String(metric.detail?.note),
      /^worst: feature Island, missing or invalid in 133 of 133 current rows/,
    );
  });

  test('3 shards merge to the counts of one pass', async () => {
    const { file } = await blanked;
    const options = { candidate: 'pruned-70' as const, currentFile: file };
    const whole = await run(options);
    const shards = await Promise.all([0, 1, 2].map((index) => run(options, undefined, { index, count: 3 })));
    const [first, ...rest] = shards.map((s) => decodeShardState(encodeShardState(s.result.accumulator)));
    for (const other of rest) first!.merge(other);
    const of = (report: EvaluationReport) => report.metrics.find((m) => m.name === 'missingValueIncrease');
    assert.deepEqual(of(first!.result()), of(whole.result.accumulator.result()));
  });

  test('policy fail: the run fails naming the data, the first such row and the feature', async () => {
    const { file, firstGentoo } = await blanked;
    const fail = (spec: ReturnType<typeof fixtureEvaluation>['spec']) => {
      spec.data.missingValues.policy = 'fail';
    };
    await assert.rejects(run({ currentFile: file }, fail), (error: Error) => {
      assert.match(error.message, /^current data file:\/\/\/.*current-blanked\.jsonl: /);
      assert.match(
        error.message,
        new RegExp(
          `row ${firstGentoo + 1} \\(counting data rows from 1\\), feature 'Flipper Length \\(mm\\)' is missing`,
        ),
      );
      return true;
    });
    // In a shard, the row is still the file's.
    await assert.rejects(
      run({ currentFile: file }, fail, { index: firstGentoo % 2, count: 2 }),
      new RegExp(`row ${firstGentoo + 1} \\(`),
    );
  });

  test('policy impute: the values the teacher declares fill the cells; without them the run fails at the start', async () => {
    const { file } = await blanked;
    const impute = (spec: ReturnType<typeof fixtureEvaluation>['spec']) => {
      spec.data.missingValues.policy = 'impute';
    };
    await assert.rejects(run({ currentFile: file }, impute), (error: Error) => {
      assert.match(
        error.message,
        /^spec\.data\.missingValues\.policy is impute, but teacher model .*teacher\.onnx declares no value for 'Beak Length \(mm\)', .*'Island': set its metadata_props pruneguard\.impute\.Beak Length \(mm\) \(a JSON number\), .*pruneguard\.impute\.Island \(a JSON string, one of its categories\)$/,
      );
      return true;
    });

    const teacher = await loadModel(penguins.models.teacher);
    const values = {
      'Beak Length (mm)': '44',
      'Beak Depth (mm)': '17',
      'Flipper Length (mm)': '217',
      'Body Mass (g)': '4200',
      Island: '"Biscoe"',
    };
    teacher.metadataProps = [
      ...(teacher.metadataProps ?? []),
      ...Object.entries(values).map(([feature, value]) => ({ key: imputePrefix + feature, value })),
    ];
    const declaring = path.join(await scratch, 'teacher-imputes.onnx');
    await saveModel(teacher, declaring);
    const { result, spec } = await run({ currentFile: file, teacher: declaring }, impute);
    assert.equal(result.rows.current, penguins.rows.current);
    const graded = gradeEvaluation(result.accumulator, spec);
    const metric = metricOf(graded, 'missingValueIncrease');
    assert.equal(metric.grade, 'Critical');
    assert.equal(metric.detail?.currentRowsRejected, 0);
    assert.doesNotMatch(String(metric.detail?.note), /rejected/);
    // A Gentoo's flipper length filled in, every Gentoo is still one.
    const accuracy = result.accumulator.result().details.accuracy;
    assert.ok(accuracy.teacherAccuracy! > 0.98, `teacher accuracy ${accuracy.teacherAccuracy}`);

    const wrong = await loadModel(declaring);
    wrong.metadataProps = wrong.metadataProps!.map((prop) =>
      prop.key === `${imputePrefix}Island` ? { ...prop, value: '"Atlantis"' } : prop,
    );
    const atlantis = path.join(await scratch, 'teacher-atlantis.onnx');
    await saveModel(wrong, atlantis);
    await assert.rejects(
      run({ currentFile: file, teacher: atlantis }, impute),
      /teacher model .*teacher-atlantis\.onnx: metadata pruneguard\.impute\.Island is "Atlantis", not one of the feature's categories \["Biscoe","Dream","Torgersen"\]/,
    );
  });

  test('the counts, rates and interval agree with pandas on the same files (test/oracle)', async () => {
    const { file: current } = await blanked;
    const reference = await withUnknownMass();
    const { result } = await run({ currentFile: current }, (s) => {
      s.data.reference.uri = fileUri(reference);
    });
    const state = result.accumulator.toJSON() as unknown as {
      overall: { metrics: { missingValueIncrease: MissingValueState } };
    };
    const ours = state.overall.metrics.missingValueIncrease;
    const features = penguins.selection.features.map((f) => (typeof f === 'string' ? f : f.name));
    const oracle = askPandas({
      missingValues: { reference: { path: reference }, current: { path: current } },
      numeric: features.filter((f) => f !== 'Island'),
      categorical: ['Island'],
      confidence: 0.95,
    });
    for (const dataset of ['reference', 'current'] as const) {
      assert.equal(ours[dataset].rowsRead, oracle[dataset].rowsRead, dataset);
      assert.equal(ours[dataset].rowsRejected, oracle[dataset].rowsRejected, dataset);
      assert.deepEqual(Object.fromEntries(ours[dataset].missing), oracle[dataset].missingByFeature, dataset);
    }
    const [outcome] = result.accumulator.result().metrics.filter((m) => m.name === 'missingValueIncrease');
    assert.ok(outcome);
    assert.ok(Math.abs(outcome.value - oracle.value) < 1e-12);
    assert.match(outcome.detail!, new RegExp(`^worst: feature ${oracle.worst.replace(/[()]/g, '\\$&')},`));
    assert.ok(Math.abs(outcome.interval!.lower - oracle.interval[0]) < 1e-9);
    assert.ok(Math.abs(outcome.interval!.upper - oracle.interval[1]) < 1e-9);
  });

  test('a cell of text in a numeric CSV column is invalid: counted and rejected', async () => {
    const file = await withUnknownMass();
    const { result, spec } = await run({}, (s) => {
      s.data.reference.uri = fileUri(file);
    });
    assert.equal(result.rows.reference, penguins.rows.reference - 3);
    const metric = metricOf(gradeEvaluation(result.accumulator, spec), 'missingValueIncrease');
    assert.equal(metric.detail?.referenceRowsRejected, 3);
    assert.equal(metric.value, 0);
  });
});
