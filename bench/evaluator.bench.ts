/**
 * Evaluator benchmark: rows per second of the evaluation pipeline (read, shard, encode, teacher
 * and candidate inference, every metric overall and per slice) on flights, beside a bare
 * onnxruntime-node loop over the same batches (same file, same reader and encoding, same batch
 * size, same two models, no metrics), the overhead the pipeline adds, and peak RSS of each.
 *
 *   node --import tsx --expose-gc bench/evaluator.bench.ts [--rows 1000000] [--batch-size 1024] [--repeats 3]
 *     [--rounds 10] [--hidden 256,256] [--threads 1] [--keep-data | --data DIR]
 *
 * Data: the first `--rows` flights of node_modules/vega-datasets/data/flights-3m.parquet, turned
 * into the flights fixture's columns (hour, distance, origin, destination, delayed, time_of_day)
 * and written once, untimed, to a temporary Arrow file per dataset: the first half is the
 * reference, the second half the current data. Models: test/fixtures/flights/teacher.onnx and
 * pruned-70.onnx (32 → 32 → 16 → 2, 1.7k parameters: inference costs a few µs per row, so this is
 * the worst case for overhead), or with `--hidden 512,512` a random-weight MLP of that shape and
 * its 70%-pruned copy, the same inputs and metadata, to see the overhead beside a heavier model.
 * Slice and sensitive attribute: time_of_day (origin has too many values to slice).
 *
 * First each measurement runs in a fresh process, alternating bare and pipeline, so peak RSS and
 * cold-start speed are its own. Then both loops run in one process, interleaved for `--rounds`
 * rounds: on a shared machine the neighbours change its speed over seconds (runs of the same loop
 * here differ by up to 40 %), and pairs of back-to-back runs share them, so the median of the
 * per-round ratios is the overhead figure. `--data DIR` reuses what `--keep-data` kept.
 * The pipeline's rate is over its streaming pass (models loaded, latency/throughput/power not yet
 * measured); those measurements are a fixed cost, reported separately.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { tableFromArrays, tableToIPC } from 'apache-arrow';
import ort from 'onnxruntime-node';

import { parsePrunedModelEvaluation, type PrunedModelEvaluationSpec } from '../src/api/v1alpha1/index.js';
import { encodeBatch, encodedFeatureNames, openTable, selectedColumns } from '../src/evaluator/data/index.js';
import { resolveEncoding } from '../src/evaluator/encoding.js';
import { quickBudget } from '../src/evaluator/measurements.js';
import { openModel } from '../src/evaluator/models.js';
import { evaluateShard, rowsPerRead } from '../src/evaluator/pipeline.js';
import { textValues, type TextColumn } from '../src/metrics/text-column.js';
import { readAll, openSource } from '../src/evaluator/sources/index.js';
import { loadModel, saveModel } from '../src/onnx/model.js';
import { prune } from '../src/onnx/prune.js';
import { classifierToOnnx } from '../scripts/fixtures/onnx-export.js';
import { seededRandom } from '../scripts/fixtures/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const source = path.join(repoRoot, 'node_modules/vega-datasets/data/flights-3m.parquet');

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function spec(dir: string, batchSize: number): PrunedModelEvaluationSpec {
  const fixture = (file: string) => pathToFileURL(path.join(dir, file)).href;
  return parsePrunedModelEvaluation(
    {
      apiVersion: 'pruneguard.io/v1alpha1',
      kind: 'PrunedModelEvaluation',
      metadata: { name: 'flights-bench', namespace: 'bench' },
      spec: {
        teacher: { uri: fixture('teacher.onnx') },
        candidate: { uri: fixture('pruned-70.onnx') },
        data: {
          reference: { uri: pathToFileURL(path.join(dir, 'reference.arrow')).href },
          current: { uri: pathToFileURL(path.join(dir, 'current.arrow')).href },
          features: ['hour', 'distance', 'origin', 'destination'],
          categoricalFeatures: ['origin', 'destination'],
          label: 'delayed',
          sensitiveAttribute: 'time_of_day',
          slices: ['time_of_day'],
        },
        schedule: { interval: '1h' },
        runtime: { batchSize },
      },
    },
    'bench',
  ).spec;
}

/** The flights fixture models, or a wider random-weight MLP with the same input and metadata. */
async function prepareModels(dir: string, hidden: number[]): Promise<void> {
  const fixtures = path.join(repoRoot, 'test/fixtures/flights');
  const teacher = await loadModel(path.join(fixtures, 'teacher.onnx'));
  if (hidden.length === 0) {
    await saveModel(teacher, path.join(dir, 'teacher.onnx'));
    await saveModel(await loadModel(path.join(fixtures, 'pruned-70.onnx')), path.join(dir, 'pruned-70.onnx'));
    return;
  }
  const random = seededRandom(11);
  const widths = [32, ...hidden, 2];
  const layers = widths.slice(1).map((outputs, l) => {
    const inputs = widths[l]!;
    const scale = Math.sqrt(2 / inputs);
    return {
      inputs,
      outputs,
      weights: Float32Array.from({ length: inputs * outputs }, () => (random() * 2 - 1) * scale),
      bias: new Float32Array(outputs),
    };
  });
  const wide = classifierToOnnx(
    { mean: new Float32Array(32), std: new Float32Array(32).fill(1), layers },
    `random ${widths.join(' → ')} MLP for the evaluator benchmark`,
    { features: [] },
  );
  wide.metadataProps = teacher.metadataProps ?? [];
  await saveModel(wide, path.join(dir, 'teacher.onnx'));
  await saveModel(prune(wide, { sparsity: 0.7, scope: 'global' }).model, path.join(dir, 'pruned-70.onnx'));
}

/** The fixture's columns from the raw flights (see scripts/fixtures/flights.ts). */
async function prepare(dir: string, rows: number): Promise<void> {
  const hour: number[] = [];
  const distance: number[] = [];
  const origin: string[] = [];
  const destination: string[] = [];
  const delayed: number[] = [];
  const timeOfDay: string[] = [];
  for await (const batch of openTable(source, { batchSize: 65536 })) {
    const date = batch.columns.date as Float64Array;
    const columns = batch.columns as Record<string, Float64Array>;
    const [origins, destinations] = [batch.columns.origin, batch.columns.destination].map((column) =>
      textValues(column as TextColumn),
    );
    for (let r = 0; r < batch.rows && hour.length < rows; r++) {
      const d = new Date(date[r]!);
      const h = d.getUTCHours() + d.getUTCMinutes() / 60;
      hour.push(h);
      timeOfDay.push(h < 6 ? 'night' : h < 12 ? 'morning' : h < 18 ? 'afternoon' : 'evening');
      distance.push(columns.distance![r]!);
      origin.push(origins![r]!);
      destination.push(destinations![r]!);
      delayed.push(columns.delay![r]! > 15 ? 1 : 0);
    }
    if (hour.length >= rows) break;
  }
  const half = Math.floor(hour.length / 2);
  for (const [name, start, end] of [
    ['reference', 0, half],
    ['current', half, hour.length],
  ] as const) {
    const table = tableFromArrays({
      hour: Float64Array.from(hour.slice(start, end)),
      distance: Float64Array.from(distance.slice(start, end)),
      origin: origin.slice(start, end),
      destination: destination.slice(start, end),
      delayed: Float64Array.from(delayed.slice(start, end)),
      time_of_day: timeOfDay.slice(start, end),
    });
    writeFileSync(path.join(dir, `${name}.arrow`), tableToIPC(table, 'file'));
  }
}

interface Measurement {
  mode: 'bare' | 'pipeline';
  rows: number;
  seconds: number;
  /** CPU time of the process (all threads) over the same span. */
  cpuSeconds: number;
  /** Pipeline only: model loading + encoding resolution, and the latency/throughput/power measurements. */
  setupSeconds?: number;
  measureSeconds?: number;
  peakRssMiB: number;
}

/** Same reader and read size, same encoding, same inference batch size, both models per batch; nothing else. */
async function bare(dir: string, batchSize: number): Promise<Measurement> {
  const evaluation = spec(dir, batchSize);
  const teacher = await openModel(evaluation.teacher.uri, 'teacher');
  const candidate = await openModel(evaluation.candidate.uri, 'candidate');
  const { selection } = await resolveEncoding(evaluation, teacher, candidate);
  await Promise.all([teacher.close(), candidate.close()]);
  const threads = Number(process.env.PRUNEGUARD_INTRA_OP_THREADS);
  const sessions = await Promise.all(
    [evaluation.teacher.uri, evaluation.candidate.uri].map(async (uri) =>
      ort.InferenceSession.create(await readAll(openSource(uri)), {
        executionProviders: ['cpu'],
        ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      }),
    ),
  );
  let rows = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const dataset of ['reference', 'current'] as const) {
    const uri = evaluation.data[dataset].uri;
    const readSize = rowsPerRead(batchSize, encodedFeatureNames(selection).length);
    for await (const batch of openTable(uri, { batchSize: readSize, columns: selectedColumns(selection) })) {
      const encoded = encodeBatch(batch, selection, uri);
      for (let start = 0; start < encoded.rows; start += batchSize) {
        const n = Math.min(batchSize, encoded.rows - start);
        const features = encoded.features.subarray(start * encoded.width, (start + n) * encoded.width);
        const input = new ort.Tensor('float32', features, [n, encoded.width]);
        await Promise.all(sessions.map((session) => session.run({ features: input })));
      }
      rows += encoded.rows;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    mode: 'bare',
    rows,
    seconds,
    cpuSeconds: cpuSeconds(cpu),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function pipeline(dir: string, batchSize: number): Promise<Measurement> {
  const started = process.hrtime.bigint();
  let streamStart: bigint | undefined;
  let streamEnd: bigint | undefined;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let cpuStream = 0;
  const result = await evaluateShard(spec(dir, batchSize), {
    shardIndex: 0,
    shardCount: 1,
    measurement: quickBudget,
    onProgress: ({ phase }) => {
      if (phase === 'reference' && streamStart === undefined) {
        cpuStart = process.cpuUsage();
        streamStart = process.hrtime.bigint();
      }
      if (phase === 'measuring') {
        streamEnd = process.hrtime.bigint();
        cpuStream = cpuSeconds(cpuStart!);
      }
    },
  });
  const ended = process.hrtime.bigint();
  const seconds = (a: bigint, b: bigint) => Number(b - a) / 1e9;
  result.accumulator.result();
  return {
    mode: 'pipeline',
    rows: result.rows.reference + result.rows.current,
    seconds: seconds(streamStart!, streamEnd!),
    cpuSeconds: cpuStream,
    setupSeconds: seconds(started, streamStart!),
    measureSeconds: seconds(streamEnd!, ended),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * Both loops in one process, alternating which goes first, round after round: neighbours on a
 * shared machine change its speed over seconds, and this way each pair of runs shares them.
 * Round 0 warms the JIT and is left out of the summary.
 */
async function interleaved(dir: string, batchSize: number, rounds: number): Promise<void> {
  for (let round = 0; round <= rounds; round++) {
    const order = round % 2 === 0 ? (['bare', 'pipeline'] as const) : (['pipeline', 'bare'] as const);
    const measured: Partial<Record<Measurement['mode'], Measurement>> = {};
    for (const which of order)
      measured[which] = which === 'bare' ? await bare(dir, batchSize) : await pipeline(dir, batchSize);
    console.log(JSON.stringify({ round, bare: measured.bare, pipeline: measured.pipeline }));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const percent = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)}%`;

function runChild(args: string[], threads: number): string[] {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), '--child', ...args],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, PRUNEGUARD_INTRA_OP_THREADS: String(threads) },
    },
  );
  if (child.status !== 0) throw new Error(`${args[0]} run failed:\n${child.stderr}`);
  return child.stdout.trim().split('\n');
}

const mode = process.argv[2];
if (mode === '--child') {
  const [, , , which, dir, batchSize, rounds] = process.argv;
  if (which === 'interleaved') await interleaved(dir!, Number(batchSize), Number(rounds));
  else {
    const measured =
      which === 'bare' ? await bare(dir!, Number(batchSize)) : await pipeline(dir!, Number(batchSize));
    console.log(JSON.stringify(measured));
  }
} else {
  const rows = argument('rows', 1_000_000);
  const batchSize = argument('batch-size', 1024);
  const repeats = argument('repeats', 3);
  // One onnxruntime thread per model by default: on a shared machine a spinning pool makes both
  // wall and CPU time depend on the neighbours. --threads 0 leaves onnxruntime's default.
  const threads = argument('threads', 1);
  const hiddenAt = process.argv.indexOf('--hidden');
  const hidden = hiddenAt >= 0 ? process.argv[hiddenAt + 1]!.split(',').map(Number) : [];
  const rounds = argument('rounds', 10);
  const dataAt = process.argv.indexOf('--data');
  const reused = dataAt >= 0 ? process.argv[dataAt + 1]! : undefined;
  const dir = reused ?? mkdtempSync(path.join(tmpdir(), 'pruneguard-evaluator-bench-'));
  const keep = reused !== undefined || process.argv.includes('--keep-data');
  try {
    const prepStarted = Date.now();
    if (!reused) {
      await prepare(dir, rows);
      await prepareModels(dir, hidden);
    }
    console.log(
      `data: first ${rows.toLocaleString('en')} flights of flights-3m.parquet → ${(rows / 2).toLocaleString('en')} reference + ${(rows / 2).toLocaleString('en')} current rows (Arrow, prepared in ${((Date.now() - prepStarted) / 1000).toFixed(1)} s); models: ${hidden.length > 0 ? `random 32 → ${hidden.join(' → ')} → 2 MLP + its 70%-pruned copy` : 'flights fixture teacher + pruned-70'}; batch size ${batchSize}; onnxruntime threads per model: ${threads > 0 ? threads : 'default'}`,
    );
    const runs: Measurement[] = [];
    for (let i = 0; i < repeats; i++) {
      for (const which of ['bare', 'pipeline'] as const) {
        const measured = JSON.parse(runChild([which, dir, String(batchSize)], threads).pop()!) as Measurement;
        runs.push(measured);
        console.log(
          `  ${which.padEnd(8)} ${(measured.rows / measured.seconds).toFixed(0).padStart(9)} rows/s  (${measured.rows.toLocaleString('en')} rows in ${measured.seconds.toFixed(2)} s, ${measured.cpuSeconds.toFixed(2)} CPU-s)  peak RSS ${measured.peakRssMiB.toFixed(0)} MiB` +
            (measured.setupSeconds === undefined
              ? ''
              : `  + setup ${measured.setupSeconds.toFixed(2)} s, measurements ${measured.measureSeconds!.toFixed(2)} s`),
        );
      }
    }
    const best = (which: Measurement['mode']) =>
      Math.max(...runs.filter((r) => r.mode === which).map((r) => r.rows / r.seconds));
    const peak = (which: Measurement['mode']) =>
      Math.max(...runs.filter((r) => r.mode === which).map((r) => r.peakRssMiB));
    const leastCpu = (which: Measurement['mode']) =>
      Math.min(...runs.filter((r) => r.mode === which).map((r) => r.cpuSeconds / r.rows));
    const bareRate = best('bare');
    const pipelineRate = best('pipeline');
    console.log(
      `fresh processes, best of ${repeats}: bare ${bareRate.toFixed(0)} rows/s, pipeline ${pipelineRate.toFixed(0)} rows/s ` +
        `(pipeline time / bare time ${(bareRate / pipelineRate).toFixed(3)}); ` +
        `CPU time per row: bare ${(leastCpu('bare') * 1e6).toFixed(2)} µs, pipeline ${(leastCpu('pipeline') * 1e6).toFixed(2)} µs; ` +
        `peak RSS bare ${peak('bare').toFixed(0)} MiB, pipeline ${peak('pipeline').toFixed(0)} MiB`,
    );
    const pairs = runChild(['interleaved', dir, String(batchSize), String(rounds)], threads)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { round: number; bare: Measurement; pipeline: Measurement })
      .filter((pair) => pair.round > 0);
    const wall = pairs.map((pair) => pair.pipeline.seconds / pair.bare.seconds);
    const cpu = pairs.map((pair) => pair.pipeline.cpuSeconds / pair.bare.cpuSeconds);
    console.log(
      `interleaved in one process, ${pairs.length} rounds after a warm-up: pipeline time / bare time ${wall.map((r) => r.toFixed(2)).join(' ')}; ` +
        `median overhead ${percent(median(wall))} wall (target < 10%: ${median(wall) < 1.1 ? 'met' : 'missed'}), ${percent(median(cpu))} CPU time; ` +
        `median rows/s bare ${median(pairs.map((p) => p.bare.rows / p.bare.seconds)).toFixed(0)}, pipeline ${median(pairs.map((p) => p.pipeline.rows / p.pipeline.seconds)).toFixed(0)}`,
    );
  } finally {
    if (keep) console.log(`data kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
