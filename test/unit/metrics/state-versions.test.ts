import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EvaluationAccumulator, type EvaluationReport } from '../../../src/metrics/index.js';
import { evaluationStateVersion, rowMetrics } from '../../../src/metrics/row-metrics.js';
import { pairedBatch } from './hand-batches.js';
import { asVersion1 } from './older-states.js';

const slices = (row: number) => ({ region: row % 3 === 0 ? 'eu' : 'us' });

function shard(table: Parameters<typeof pairedBatch>[0]): EvaluationAccumulator {
  const accumulator = new EvaluationAccumulator({});
  accumulator.update(pairedBatch({ ...table, slices }));
  return accumulator;
}

const first = { both: 40, teacherOnly: 6, candidateOnly: 2, neither: 4, unlabelled: 3 };
const second = { both: 55, teacherOnly: 3, candidateOnly: 1, neither: 6 };

const added = rowMetrics.filter((kind) => kind.since > 1);
const addedMetrics = new Set(added.flatMap((kind) => kind.metrics));

/** The report without what only the newer row metrics give. */
function withoutAdded(report: EvaluationReport) {
  const keep = <T extends { name: string }>(list: T[]) =>
    list.filter((entry) => !addedMetrics.has(entry.name as never));
  return {
    metrics: keep(report.metrics),
    disabled: keep(report.disabled),
    slices: report.slices.map((slice) => ({
      ...slice,
      metrics: keep(slice.metrics),
      disabled: keep(slice.disabled),
    })),
  };
}

test('the registry has row metrics added after version 1, and names each once', () => {
  assert.ok(added.length > 0, 'no row metric newer than version 1: this file would test nothing');
  const names = rowMetrics.map((kind) => kind.name);
  assert.equal(new Set(names).size, names.length);
  for (const kind of rowMetrics)
    assert.ok(kind.since >= 1 && kind.since <= evaluationStateVersion, kind.name);
});

test("a version 1 shard reads: its metrics as before, the newer ones disabled with the shard's version", () => {
  const older = EvaluationAccumulator.fromJSON(asVersion1(shard(first).toJSON()));
  const merged = older.merge(shard(second));
  const once = new EvaluationAccumulator({});
  once.update(pairedBatch({ ...first, slices }));
  once.update(pairedBatch({ ...second, slices }));
  const report = merged.result();
  assert.deepEqual(withoutAdded(report), withoutAdded(once.result()));
  for (const name of addedMetrics) {
    const reason = report.disabled.find((d) => d.name === name)?.reason;
    assert.match(reason ?? '', /a shard's evaluator is older \(its state is version 1; .* needs 2\)/, name);
    assert.equal(
      report.metrics.find((m) => m.name === name),
      undefined,
      `${name} cannot describe rows an old shard did not count`,
    );
  }
  // Merged in the other order, the same.
  const reversed = shard(second).merge(EvaluationAccumulator.fromJSON(asVersion1(shard(first).toJSON())));
  assert.deepEqual(reversed.result().disabled, report.disabled);
});

test('a state from a newer evaluator is refused with what this operator reads', () => {
  const state = { ...shard(first).toJSON(), version: evaluationStateVersion + 1 };
  assert.throws(
    () => EvaluationAccumulator.fromJSON(state),
    new RegExp(
      `evaluation state: version ${evaluationStateVersion + 1} is not one this operator reads \\(1–${evaluationStateVersion}\\); the evaluator image and the operator must come from compatible releases`,
    ),
  );
});

test('a row metric a population does not keep is refused, naming it', () => {
  const state = shard(first).toJSON();
  state.overall.metrics.invented = {};
  assert.throws(
    () => EvaluationAccumulator.fromJSON(state),
    /overall\.metrics\."invented" is not a row metric/,
  );
});
