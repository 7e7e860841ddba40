import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';

import {
  decodeShardState,
  defaultShardStateLimits,
  encodeShardState,
  shardEvaluationOptions,
  type EncodedShardState,
} from '../../../src/evaluator/shard-state.js';
import type { CategoricalDriftState, NumericDriftState } from '../../../src/metrics/drift.js';
import type { AccuracyDropState } from '../../../src/metrics/accuracy-drop.js';
import type { DemographicParityState } from '../../../src/metrics/demographic-parity.js';
import { QuantileSketch, type EvaluationState } from '../../../src/metrics/index.js';
import { penguinsAccumulator } from '../metrics/synthetic-data.js';
import { fixtureEvaluation } from './fixture-specs.js';

const spec = fixtureEvaluation().spec;
const limits = defaultShardStateLimits;

/** A state the evaluator could have written for the penguins spec, as plain JSON to tamper with. */
function genuineState(seed = 1): EvaluationState {
  return JSON.parse(
    JSON.stringify(penguinsAccumulator(shardEvaluationOptions(spec), seed).toJSON()),
  ) as EvaluationState;
}

/** The first feature (a numeric one) and the predictions (three classes) of the penguins state. */
const numeric = (s: EvaluationState) => s.overall.features[0]![1] as NumericDriftState;
const classes = (s: EvaluationState) => s.overall.predictions as CategoricalDriftState;

function tamper(change: (state: EvaluationState) => void, expected: RegExp): void {
  const state = genuineState();
  change(state);
  refused(state, expected);
}

function encodeText(text: string): EncodedShardState {
  return { encoding: 'gzip+base64', data: gzipSync(text).toString('base64') };
}

const infinity = '__infinity__';

/** The JSON text of `state`, where the string `infinity` becomes 1e309 (which JSON.parse reads as Infinity). */
function encodeState(state: unknown): EncodedShardState {
  return encodeText(JSON.stringify(state).replaceAll(`"${infinity}"`, '1e309'));
}

/** Sets the value at a dotted path (`overall.metrics.accuracyDrop.rows`, `slices.0.state`). */
function setAt(state: unknown, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = state as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
}

function accuracyOf(state: EvaluationState): AccuracyDropState {
  return state.overall.metrics.accuracyDrop as AccuracyDropState;
}

function fairnessOf(state: EvaluationState): DemographicParityState {
  return state.overall.metrics.demographicParity as DemographicParityState;
}

function refused(state: unknown, expected: RegExp, message?: string): void {
  assert.throws(() => decodeShardState(encodeState(state), limits, spec), expected, message);
}

test('a genuine state comes back whole through the encoding and every check against the spec', () => {
  const accumulator = penguinsAccumulator(shardEvaluationOptions(spec), 3);
  const back = decodeShardState(encodeShardState(accumulator), limits, spec);
  assert.deepEqual(back.result(), accumulator.result());
  assert.deepEqual(back.toJSON(), accumulator.toJSON());
});

test('a gzip bomb (400 MiB of "0,") stops at the decoded cap: refused at once, memory within the cap', async () => {
  // Compressed as a stream, so that the test itself never holds the 400 MiB.
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(2 ** 20, '0,');
  gzip.write('[');
  for (let i = 0; i < 400; i++) if (!gzip.write(zeros)) await new Promise((r) => gzip.once('drain', r));
  gzip.end('0]');
  await finished;
  const bomb: EncodedShardState = { encoding: 'gzip+base64', data: Buffer.concat(chunks).toString('base64') };
  assert.ok(bomb.data.length < limits.maxEncodedBytes, `the bomb fits the encoded cap: ${bomb.data.length}`);

  const before = process.memoryUsage().rss;
  const started = performance.now();
  assert.throws(
    () => decodeShardState(bomb, limits, spec),
    /^Error: state decompresses to more than 32\.0 MiB \(limit --max-shard-state-decoded-bytes\)$/,
  );
  const seconds = (performance.now() - started) / 1000;
  const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  console.log(
    `# bomb of ${bomb.data.length} base64 characters: refused in ${seconds.toFixed(3)} s, RSS +${grownMiB.toFixed(1)} MiB`,
  );
  assert.ok(seconds < 2, `refused in ${seconds} s`);
  assert.ok(grownMiB < 32 + 32, `RSS grew by ${grownMiB} MiB, more than the 32 MiB cap and 32 MiB of slack`);
});

test('a state longer than the encoded cap is refused before it is decompressed', () => {
  assert.throws(
    () => decodeShardState({ encoding: 'gzip+base64', data: 'A'.repeat(limits.maxEncodedBytes + 1) }, limits),
    /state is 1400001 characters of base64, more than 1400000 \(limit --max-shard-state-bytes\)/,
  );
});

test('a state that would parse into more than the cap is refused before it is parsed', () => {
  // 600 KB of `[{},{},…]` parses into ~12 MB of objects in V8.
  const small = { maxEncodedBytes: limits.maxEncodedBytes, maxDecodedBytes: 2 ** 20 };
  const text = `[${'{},'.repeat(200_000)}{}]`;
  assert.throws(
    () => decodeShardState(encodeText(text), small),
    /state would take about 15\.\d MiB once parsed, more than 1\.0 MiB \(limit --max-shard-state-decoded-bytes\)/,
  );
});

test('sketch buckets draw on the decoded budget: a few KB of JSON cannot make the reader allocate gigabytes', () => {
  // Two buckets 17,000 keys apart cost a 140 KB dense array per sketch; 600 sketches would be 84 MB.
  const sketch = new QuantileSketch(0.02);
  sketch.add(1e-8);
  sketch.add(1e300);
  const drift = { kind: 'numeric', reference: sketch.toJSON(), current: sketch.toJSON() };
  const state = genuineState();
  setAt(
    state,
    'overall.features',
    Array.from({ length: 300 }, (_, i) => [`forged ${i}`, drift]),
  );
  const encoded = encodeState(state);
  assert.ok(encoded.data.length < 40_000, `${encoded.data.length} characters`);
  const before = process.memoryUsage().rss;
  // Without the spec the features are not refused by name: the budget is what stops them.
  assert.throws(
    () => decodeShardState(encoded, limits),
    /sketch buckets take more than 33554432 bytes in all \(limit --max-shard-state-decoded-bytes\)/,
  );
  const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grownMiB < 32 + 32, `RSS grew by ${grownMiB} MiB`);
});

test('counts that are negative, infinite, 1e300, null, fractional or text are refused, naming the path', () => {
  const path = 'overall.metrics.accuracyDrop.candidateOnlyCorrect';
  for (const [value, expected] of [
    [
      -3,
      /^Error: overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is -3, expected a non-negative integer$/,
    ],
    [
      infinity,
      /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is Infinity, expected a non-negative integer/,
    ],
    [1e300, /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is 1e\+300, too large for a count/],
    [null, /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is null, expected a non-negative integer/],
    [2.5, /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is 2\.5, expected a non-negative integer/],
    ['7', /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is "7", expected a non-negative integer/],
    [
      undefined,
      /overall\.metrics\.accuracyDrop\.candidateOnlyCorrect is missing, expected a non-negative integer/,
    ],
  ] as const) {
    const state = genuineState();
    setAt(state, path, value);
    refused(state, expected, `${String(value)}`);
  }
});

test('every number is checked where it is: sums, sketches, measurements', () => {
  const cases: [string, unknown, RegExp][] = [
    ['rows.current of a slice', 1e15, /too large for a count/],
    ['overall.rows.current', -1, /overall\.rows\.current is -1, expected a non-negative integer/],
    [
      'overall.metrics.demographicParity.groups.0.positives.0',
      infinity,
      /overall\.metrics\.demographicParity\.groups\[0\]\.positives\[0\] is Infinity/,
    ],
    ['latency.candidate.sum', infinity, /latency\.candidate\.sum is Infinity, expected a finite number/],
    ['latency.candidate.min', -5, /latency\.candidate: min -5 is not in its lowest bucket/],
    ['latency.candidate.count', 1e300, /latency\.candidate\.count is 1e\+300, too large for a count/],
    ['latency.teacher.relativeAccuracy', 0.5, /latency\.teacher\.relativeAccuracy is 0\.5, expected 0\.01/],
    ['throughput.seconds', null, /throughput\.seconds is null, expected a finite number ≥ 0/],
    ['throughput.inferences', 1.5, /throughput\.inferences is 1\.5, expected a non-negative integer/],
    ['memory.teacherBytes', 0, /memory: 1 measurements, but candidateBytes 1000 and teacherBytes 0/],
    ['energy.joules', -1, /energy\.joules is -1, expected a finite number ≥ 0/],
    ['energy.methods', ['estimate', 'estimate'], /energy\.methods names a method twice/],
    ['energy.methods', ['solar'], /energy\.methods\[0\] is "solar", expected one of nvml, rapl, estimate/],
  ];
  for (const [path, value, expected] of cases) {
    const state = genuineState();
    const where = path === 'rows.current of a slice' ? 'slices.0.state.rows.current' : path;
    setAt(state, where, value);
    refused(state, expected, path);
  }
});

test('parts of a state must agree with each other', () => {
  tamper(
    (s) => (accuracyOf(s).bothCorrect += 1),
    /overall\.metrics\.accuracyDrop: bothCorrect \+ teacherOnlyCorrect \+ candidateOnlyCorrect \+ neitherCorrect = \d+, expected labelled/,
  );
  tamper((s) => (accuracyOf(s).agreements = accuracyOf(s).rows + 1), /agreements \(\d+\) exceed rows/);
  tamper(
    (s) => (accuracyOf(s).sumDeviation = 1),
    /overall\.metrics\.accuracyDrop\.sumDeviation is 1, expected 0 for classification/,
  );
  tamper(
    (s) => (s.overall.rows.current += 1),
    /overall\.metrics\.accuracyDrop\.rows is \d+, expected the current rows/,
  );
  tamper(
    (s) => (fairnessOf(s).groups[0]!.rows += 1),
    /overall\.metrics\.demographicParity\.groups\[0\]: positives add up to \d+, expected rows/,
  );
  tamper(
    (s) => fairnessOf(s).groups.push(fairnessOf(s).groups[0]!),
    /overall\.metrics\.demographicParity\.groups\[2\] repeats group "(FEMALE|MALE)"/,
  );
  tamper(
    (s) => (classes(s).categories[0]![1] += 1),
    /overall\.predictions count \d+ reference and \d+ current rows, expected rows/,
  );
  tamper((s) => (numeric(s).reference.count += 1), /zero and the buckets count \d+, expected count/);
  tamper((s) => (numeric(s).reference.max = 1e6), /max 1000000 is not in its highest bucket/);
  tamper((s) => (numeric(s).reference.sum *= 3), /sum [\d.e+]+ is outside count × \[min, max\]/);
  tamper(
    (s) => (numeric(s).reference.positive.packed = '%%%'),
    /positive\.packed is "%%%", expected base64 text/,
  );
  tamper(
    (s) => (numeric(s).reference.positive.firstKey = 1e9),
    /bucket key 1000000000 is outside \[-\d+, \d+\], where finite values fall/,
  );
  tamper(
    (s) => (s.overall.features[1] = s.overall.features[0]!),
    /overall\.features\["[^"]+"\] is listed twice/,
  );
  tamper((s) => (s.slices[0]!.columns = ['Island', 'Island']), /are not a slice column or cross of the spec/);
  tamper((s) => (s.slices[0]!.state.features = s.overall.features), /featureDriftPerSlice is off/);
  tamper((s) => s.slices.push(s.slices[0]!), /slices\[3\] \("Island=\w+"\) is listed twice/);
});

test('a state must be one the spec asks for: its slices, features and options', () => {
  tamper(
    (s) => s.slices.push({ ...structuredClone(s.slices[0]!), slice: 'Island=Atlantis' }),
    /slices\[3\] \("Island=Atlantis"\): with it the Island slices count \d+ reference and \d+ current rows, more than overall/,
  );
  tamper(
    (s) => s.slices.push({ ...structuredClone(s.slices[0]!), slice: 'Sex=MALE', columns: ['Sex'] }),
    /slices\[3\] \("Sex=MALE"\): columns Sex are not a slice column or cross of the spec/,
  );
  tamper(
    (s) => (s.slices[0]!.slice = 'Isle=Dream'),
    /slices\[0\] \("Isle=Dream"\) is not named after its columns Island/,
  );
  tamper(
    (s) => (s.overall.features[0]![0] = 'Wingspan (mm)'),
    /overall\.features\["Wingspan \(mm\)"\] is not one of the spec's data\.features/,
  );
  tamper(
    (s) => (s.overall.features[4]![1] = numeric(s)),
    /overall\.features\["Island"\] is numeric, but the spec lists it in categoricalFeatures/,
  );
  tamper(
    (s) => (s.options.psiBins = 20),
    /^Error: options\.psiBins is 20, expected 10 \(from the run's spec\)$/,
  );
  tamper((s) => (s.options.confidence = 0.5), /options\.confidence is 0\.5, expected 0\.95/);
  tamper(
    (s) => (s.options.sliceCrosses = [['Island', 'Sex']]),
    /options\.sliceCrosses is \[\["Island","Sex"\]\], expected \[\]/,
  );
  tamper(
    (s) => (s.options.featureDriftPerSlice = true),
    /options\.featureDriftPerSlice is true, expected false/,
  );
  tamper((s) => (s.options.positiveClass = 2), /options\.positiveClass is 2, expected unset/);
  tamper((s) => setAt(s, 'options.psiEpsilon', undefined), /options\.psiEpsilon is unset, expected 0\.0001/);
  tamper((s) => setAt(s, 'options.bins', 3), /options has an unknown option "bins"/);
  tamper((s) => setAt(s, 'version', 3), /evaluation state: version 3 is not one this operator reads \(1–2\)/);
});

test('a spec with a positive class lets the state name an index, and only an index', () => {
  const withPositive = structuredClone(spec);
  withPositive.data.positiveClass = 'Gentoo';
  const options = shardEvaluationOptions(withPositive, 2);
  const accumulator = penguinsAccumulator(options, 5);
  assert.deepEqual(
    decodeShardState(encodeShardState(accumulator), limits, withPositive).result(),
    accumulator.result(),
  );
  const state = JSON.parse(JSON.stringify(accumulator.toJSON())) as EvaluationState;
  for (const [value, expected] of [
    [
      undefined,
      /options\.positiveClass is missing, expected the class index of data\.positiveClass "Gentoo"/,
    ],
    [-1, /options\.positiveClass is -1, expected the class index/],
    [1e300, /options\.positiveClass is 1e\+300, expected the class index/],
  ] as const) {
    setAt(state, 'options.positiveClass', value);
    assert.throws(() => decodeShardState(encodeState(state), limits, withPositive), expected);
  }
});

test('without a spec (the evaluator reading its own states) only consistency is checked', () => {
  const state = genuineState();
  state.overall.features[0]![0] = 'Wingspan (mm)';
  assert.doesNotThrow(() => decodeShardState(encodeState(state)));
  accuracyOf(state).rows = -1;
  assert.throws(() => decodeShardState(encodeState(state)), /overall\.metrics\.accuracyDrop\.rows is -1/);
});

test('what is not a gzip+base64 JSON state says so', () => {
  assert.throws(
    () => decodeShardState({ encoding: 'zstd', data: '' }),
    /state has encoding "zstd", expected "gzip\+base64"/,
  );
  assert.throws(() => decodeShardState(undefined), /state has encoding missing, expected "gzip\+base64"/);
  assert.throws(
    () => decodeShardState({ encoding: 'gzip+base64', data: 'bm90IGd6aXA=' }),
    /state is not gzip\+base64/,
  );
  assert.throws(() => decodeShardState(encodeText('{"version": 1,')), /state is not JSON/);
  assert.throws(
    () => decodeShardState(encodeText('[1, 2]')),
    /evaluation state is an array of 2, expected an object/,
  );
});
