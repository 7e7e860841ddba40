import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

import type { EvaluationRun } from '../../../src/api/v1alpha1/index.js';
import { gradeRun, RejectedShardResults } from '../../../src/controller/grade-run.js';
import {
  defaultShardStateLimits,
  encodeShardState,
  shardEvaluationOptions,
  stateDigest,
  type EncodedShardState,
  type ShardStateLimits,
} from '../../../src/evaluator/shard-state.js';
import { gradeEvaluation } from '../../../src/grading/index.js';
import type { EvaluationAccumulator, EvaluationState } from '../../../src/metrics/index.js';
import { fixtureEvaluation } from '../evaluator/fixture-specs.js';
import { penguinsAccumulator } from '../metrics/synthetic-data.js';

const spec = fixtureEvaluation().spec;
const limits = defaultShardStateLimits;

function shard(seed: number, featureScale = 1): EvaluationAccumulator {
  return penguinsAccumulator(shardEvaluationOptions(spec), seed, { featureScale });
}

/** A run whose status holds `entries` (shard i's state by default), as the API server returns it. */
function runWith(entries: { index: number; state?: unknown }[], shards = entries.length): EvaluationRun {
  return JSON.parse(
    JSON.stringify({
      apiVersion: 'pruneguard.io/v1alpha1',
      kind: 'EvaluationRun',
      metadata: { name: 'penguins-pruned-70-00001', namespace: 'test' },
      spec: { evaluationName: 'penguins-pruned-70', generation: 1, shards, evaluationSpec: spec },
      status: { shards: entries.map(withDigest) },
    }),
  ) as EvaluationRun;
}

/** An entry as the evaluator writes it: the digest of its state's data, when the data is text. */
function withDigest(entry: { index: number; state?: unknown }) {
  const data = (entry.state as { data?: unknown } | null | undefined)?.data;
  return typeof data === 'string' ? { ...entry, digest: stateDigest(data) } : entry;
}

function runOf(states: unknown[]): EvaluationRun {
  return runWith(states.map((state, index) => ({ index, state })));
}

const infinity = '__infinity__';

/** `state` as a shard writes it; the string `infinity` becomes 1e309, which JSON.parse reads as Infinity. */
function encodeState(state: unknown): EncodedShardState {
  const text = JSON.stringify(state).replaceAll(`"${infinity}"`, '1e309');
  return { encoding: 'gzip+base64', data: gzipSync(text).toString('base64') };
}

function stateOf(accumulator: EvaluationAccumulator): EvaluationState {
  return JSON.parse(JSON.stringify(accumulator.toJSON())) as EvaluationState;
}

function rejected(run: EvaluationRun, expected: RegExp, runLimits: ShardStateLimits = limits): void {
  assert.throws(
    () => gradeRun(run, runLimits),
    (error: unknown) => {
      assert.ok(error instanceof RejectedShardResults, `not a RejectedShardResults: ${String(error)}`);
      assert.equal(error.reason, 'ResultsRejected');
      assert.match(error.message, expected);
      return true;
    },
  );
}

test('genuine shards merge and grade exactly as the same accumulators merged in memory', () => {
  const shards = [shard(1), shard(11), shard(21)];
  const graded = gradeRun(runOf(shards.map(encodeShardState)), limits);
  const inMemory = [shard(1), shard(11), shard(21)].reduce((into, next) => into.merge(next));
  assert.deepEqual(graded, gradeEvaluation(inMemory, spec));
  assert.equal(graded.samples, 3 * 60);
  assert.deepEqual(
    graded.slices.map((s) => s.slice),
    ['Island=Biscoe', 'Island=Dream', 'Island=Torgersen'],
  );
});

test('each shard index of the run exactly once, each with a state', () => {
  const [a, b] = [encodeShardState(shard(1)), encodeShardState(shard(2))];
  rejected(
    runWith(
      [
        { index: 0, state: a },
        { index: 2, state: b },
      ],
      2,
    ),
    /^a shard result has index 2, outside \[0, 1\]$/,
  );
  rejected(
    runWith(
      [
        { index: -1, state: a },
        { index: 0, state: b },
      ],
      2,
    ),
    /has index -1, outside \[0, 1\]/,
  );
  rejected(
    runWith(
      [
        { index: 0, state: a },
        { index: 0, state: b },
      ],
      2,
    ),
    /^shard 0: two results for one shard$/,
  );
  rejected(runWith([{ index: 0, state: a }, { index: 1 }], 2), /^shard 1: its entry holds no state$/);
  rejected(runWith([{ index: 1, state: b }], 3), /^shards 0, 2 of 3 wrote no result$/);
  rejected(runWith([], 1), /^shard 0 of 1 wrote no result$/);
});

test('a state that does not match the digest its entry was first written with is refused', () => {
  const [genuine, other] = [encodeShardState(shard(1)), encodeShardState(shard(2))];
  const run = runOf([genuine, other]);
  run.status!.shards![1]!.digest = stateDigest(genuine.data);
  rejected(run, /shard 1: its state does not match the digest/);
  delete run.status!.shards![1]!.digest;
  rejected(run, /shard 1: its state does not match the digest/);
});

test('a shard whose state fails a check is refused, naming the shard and the path', () => {
  const forged = stateOf(shard(2));
  (forged.overall.metrics.accuracyDrop as { candidateOnlyCorrect: number }).candidateOnlyCorrect = -4;
  rejected(
    runOf([encodeShardState(shard(1)), encodeState(forged)]),
    /^shard 1: overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is -4, expected a non-negative integer$/,
  );
  const invented = stateOf(shard(2));
  invented.slices.push({ ...structuredClone(invented.slices[0]!), slice: 'Island=Atlantis' });
  rejected(
    runOf([encodeShardState(shard(1)), encodeState(invented)]),
    /^shard 1: slices\[3\] \("Island=Atlantis"\)/,
  );
});

test('a decompression bomb is refused with the shard named', () => {
  const bomb = {
    encoding: 'gzip+base64',
    data: gzipSync(Buffer.alloc(8 * 2 ** 20, '0,')).toString('base64'),
  };
  rejected(
    runOf([encodeShardState(shard(1)), bomb]),
    /^shard 1: state decompresses to more than 1\.0 MiB \(limit --max-shard-state-decoded-bytes\)$/,
    { ...limits, maxDecodedBytes: 2 ** 20 },
  );
});

test('the merge stays within the limits: shards narrow alone can be far apart together', () => {
  // Feature values near 1e-8 in one shard and 1e290 in the other: each shard's sketches hold a few
  // buckets, the merged ones span 17,000 keys each.
  const run = runOf([encodeShardState(shard(1, 1e-9)), encodeShardState(shard(2, 1e288))]);
  const small = { ...limits, maxDecodedBytes: 2 ** 20 };
  rejected(
    run,
    /^shard 1, merged into shards 0–0: sketch buckets take more than 1048576 bytes in all \(limit --max-shard-state-decoded-bytes\)$/,
    small,
  );
  assert.doesNotThrow(() => gradeRun(run, limits));
});

test('consistent states that grade to numbers no status can hold are refused, not graded', () => {
  const states = [shard(1), shard(2)].map((accumulator) => {
    const state = stateOf(accumulator);
    state.energy = { samples: 1, joules: 1e300, inferences: 1000, seconds: 1e-300, methods: ['estimate'] };
    return encodeState(state);
  });
  rejected(runOf(states), /^the merged shards grade to numbers no status can hold: powerWatts is Infinity/);
});

/** Every number in `value`, with its path. */
function numbers(value: unknown, path = ''): [string, number][] {
  if (typeof value === 'number') return [[path, value]];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => numbers(inner, `${path}.${key}`));
}

/** What gradeRun may do with anything a pod writes: grade it into finite numbers, or refuse it with a message. */
function gradedOrRejected(run: EvaluationRun): void {
  let graded;
  try {
    graded = gradeRun(run, limits);
  } catch (error) {
    assert.ok(error instanceof RejectedShardResults, `escaped: ${(error as Error).stack}`);
    assert.ok(error.message.length > 0);
    // A TypeError or RangeError from deep inside is a check that is missing.
    const cause = error.cause;
    assert.ok(
      cause === undefined || (cause instanceof Error && cause.constructor === Error),
      `a ${(cause as Error).constructor.name} escaped the checks: ${(cause as Error).stack}`,
    );
    return;
  }
  for (const [path, value] of numbers(graded)) assert.ok(Number.isFinite(value), `${path} is ${value}`);
  for (const metric of [...graded.metrics, ...graded.slices.flatMap((s) => s.metrics)])
    assert.ok(
      Number.isSafeInteger(metric.samples) && metric.samples >= 0,
      `${metric.name} samples ${metric.samples}`,
    );
}

test('arbitrary JSON as a shard state is refused with a message, never anything else', () => {
  const genuine = encodeShardState(shard(1));
  fc.assert(
    fc.property(fc.jsonValue(), fc.boolean(), (value, first) => {
      const forged = encodeState(value);
      gradedOrRejected(runOf(first ? [forged, genuine] : [genuine, forged]));
    }),
    { numRuns: 300 },
  );
});

/** A JSON path to every value inside `value`, containers included. */
function paths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [path];
  const inner = Object.entries(value).flatMap(([key, v]) =>
    paths(v, [...path, Array.isArray(value) ? Number(key) : key]),
  );
  return [path, ...inner];
}

const replacements = [-1, 1e300, infinity, 'x', null, 2.5, 0, 2 ** 53, true, {}, []];

interface MutationShape {
  target: number;
  kind: 'replace' | 'drop' | 'grow' | 'random';
  replacement: number;
  value: unknown;
}

const mutation = fc.record({
  target: fc.nat(),
  kind: fc.constantFrom('replace', 'drop', 'grow', 'random'),
  replacement: fc.nat({ max: replacements.length - 1 }),
  value: fc.jsonValue({ maxDepth: 2 }),
});

type Container = Record<string | number, unknown>;

/** Applies `m` to the value its target picks among every value inside `state`. */
function mutate(state: unknown, m: MutationShape): void {
  const all = paths(state).filter((p) => p.length > 0);
  const path = all[m.target % all.length]!;
  const key = path.at(-1)!;
  const parent = path.slice(0, -1).reduce<unknown>((at, k) => (at as Container)[k], state) as Container;
  const value = parent[key];
  switch (m.kind) {
    case 'replace':
      parent[key] = structuredClone(replacements[m.replacement]);
      break;
    case 'random':
      parent[key] = m.value;
      break;
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'grow':
      // An array grows by a copy of its first entry; any other value is repeated in its array.
      if (Array.isArray(value)) value.push(structuredClone(value[0] ?? m.value));
      else if (Array.isArray(parent)) parent.push(structuredClone(value));
  }
}

test('a genuine state with any leaf replaced, key dropped or array grown is graded finite or refused', () => {
  const genuine = [shard(1), shard(2)].map(stateOf);
  fc.assert(
    fc.property(
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.nat({ max: 1 }),
      (mutations, index) => {
        const states: unknown[] = genuine.map((state) => structuredClone(state));
        for (const m of mutations) mutate(states[index], m);
        gradedOrRejected(runOf(states.map(encodeState)));
      },
    ),
    { numRuns: 400 },
  );
});
