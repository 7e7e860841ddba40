/**
 * Metric engine benchmark: rows per second and peak RSS of one pass over reference + current
 * data (20 numeric features, 3 slice columns, a sensitive attribute, binary scores with labels),
 * computing every metric overall and per slice, beside the same computation in numpy
 * (bench/metrics_numpy.py) on the same data, written to a temporary binary file.
 *
 *   node --import tsx --expose-gc bench/metrics.bench.ts [--rows 1000000] [--small 250000]
 *
 * Each size runs in a fresh process so peak RSS belongs to that size alone. Rows are per dataset:
 * `--rows 1000000` means 1M reference and 1M current rows, 2M rows processed.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { seededRandom } from '../scripts/fixtures/random.js';
import { EvaluationAccumulator, type EvaluationBatch } from '../src/metrics/index.js';
import type { TextColumn } from '../src/metrics/text-column.js';
import { printTable } from './table.js';

const featureCount = 20;
const batchRows = 50_000;
const sliceValues = {
  region: ['eu', 'us', 'apac', 'latam'],
  device: ['mobile', 'web', 'tablet'],
  tier: ['t0', 't1', 't2', 't3', 't4'],
};
const groups = ['female', 'male', 'other'];

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** One batch of synthetic rows plus its binary encoding for numpy (see metrics_numpy.py). */
function makeBatch(dataset: 'reference' | 'current', rows: number, random: () => number) {
  const gaussian = () =>
    Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  const drift = dataset === 'current' ? 0.1 : 0;
  const features = new Float64Array(featureCount * rows);
  for (let f = 0; f < featureCount; f++) {
    const scale = 1 + f;
    const base = f * rows;
    for (let i = 0; i < rows; i++)
      features[base + i] =
        f % 4 === 0 ? Math.exp(gaussian() + drift) : scale * (gaussian() + drift * (f % 3));
  }
  const teacher = new Float32Array(rows);
  const candidate = new Float32Array(rows);
  const labels = new Uint8Array(rows);
  const codes = new Uint8Array(4 * rows); // region, device, tier, sensitive
  for (let i = 0; i < rows; i++) {
    const signal = 0.8 * features[i]! - 0.3 * features[rows + i]! + gaussian();
    teacher[i] = 1 / (1 + Math.exp(-signal));
    candidate[i] = 1 / (1 + Math.exp(-(signal + 0.4 * gaussian())));
    labels[i] = random() < teacher[i]! ? 1 : 0;
    codes[i] = Math.floor(random() * 4);
    codes[rows + i] = Math.floor(random() * 3);
    codes[2 * rows + i] = Math.floor(random() * 5);
    codes[3 * rows + i] = random() < 0.45 ? 0 : random() < 0.9 ? 1 : 2;
  }
  const numericFeatures: Record<string, Float64Array> = {};
  for (let f = 0; f < featureCount; f++)
    numericFeatures[`f${f}`] = features.subarray(f * rows, (f + 1) * rows);
  const names = (values: string[], offset: number): TextColumn => ({
    codes: Int32Array.from(codes.subarray(offset, offset + rows)),
    values,
  });
  const batch: EvaluationBatch = {
    dataset,
    rows,
    numericFeatures,
    categoricalFeatures: {},
    teacherScores: teacher,
    candidateScores: candidate,
    outputWidth: 1,
    labels: Float64Array.from(labels),
    sensitive: names(groups, 3 * rows),
    slices: {
      region: names(sliceValues.region, 0),
      device: names(sliceValues.device, rows),
      tier: names(sliceValues.tier, 2 * rows),
    },
  };
  const header = new Int32Array([dataset === 'reference' ? 0 : 1, rows]);
  const encoded = [header, features, teacher, candidate, labels, codes].map(
    (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
  );
  return { batch, encoded };
}

/** The values printed beside numpy's (psi aside: its edges differ by the bucket rounding). */
const compared = [
  'accuracyDrop',
  'negativeFlipRate',
  'classRecallDrop',
  'calibrationChange',
  'demographicParity',
  'missingValueIncrease',
] as const;

/** Child process: generate, write for numpy, run the engine, report. */
function runEngine(rowsPerDataset: number, dataFile: string): void {
  const random = seededRandom(42);
  const file = openSync(dataFile, 'w');
  const engine = new EvaluationAccumulator({});
  let engineSeconds = 0;
  for (const dataset of ['reference', 'current'] as const) {
    for (let done = 0; done < rowsPerDataset; done += batchRows) {
      const { batch, encoded } = makeBatch(dataset, Math.min(batchRows, rowsPerDataset - done), random);
      for (const bytes of encoded) writeSync(file, bytes);
      const start = process.hrtime.bigint();
      engine.update(batch);
      engineSeconds += Number(process.hrtime.bigint() - start) / 1e9;
      // Collect the batch just processed so peak RSS reflects what the engine keeps, not GC timing.
      (globalThis as { gc?: () => void }).gc?.();
    }
  }
  closeSync(file);
  const latency = Array.from({ length: 10_000 }, () => 5 + 20 * random());
  const start = process.hrtime.bigint();
  engine.recordLatency({ model: 'candidate', milliseconds: latency });
  const state = JSON.stringify(engine.toJSON());
  const report = engine.result();
  engineSeconds += Number(process.hrtime.bigint() - start) / 1e9;
  const psi = report.metrics.find((m) => m.name === 'psi');
  process.stdout.write(
    JSON.stringify({
      rows: 2 * rowsPerDataset,
      seconds: engineSeconds,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      stateBytes: state.length,
      slices: report.slices.length,
      ...Object.fromEntries(
        compared.map((name) => [name, report.metrics.find((m) => m.name === name)?.value]),
      ),
      psi: psi?.value,
      worstPsi: psi?.detail,
    }),
  );
}

interface Measured {
  rows: number;
  seconds: number;
  peakRssBytes: number;
  [key: string]: unknown;
}

function child(command: string, args: string[], what: string): Measured {
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24, cwd: repoRoot });
  if (run.status !== 0) throw new Error(`${what} failed (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Measured;
}

function main(): void {
  if (process.argv.includes('--engine')) {
    runEngine(argument('rows', 1_000_000), process.argv[process.argv.indexOf('--data') + 1]!);
    return;
  }
  const python = path.join(repoRoot, '.venv/bin/python');
  const sizes = [argument('small', 250_000), argument('rows', 1_000_000)];
  const directory = mkdtempSync(path.join(tmpdir(), 'pruneguard-bench-'));
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  try {
    const rows: string[][] = [];
    for (const size of sizes) {
      const data = path.join(directory, `rows-${size}.bin`);
      const engine = child(
        process.execPath,
        [
          '--import',
          'tsx',
          '--expose-gc',
          fileURLToPath(import.meta.url),
          '--engine',
          '--rows',
          String(size),
          '--data',
          data,
        ],
        'engine run',
      );
      const numpy = child(python, [path.join(here, 'metrics_numpy.py'), data], 'numpy run');
      rmSync(data);
      const engineRate = engine.rows / engine.seconds;
      const numpyRate = numpy.rows / numpy.seconds;
      rows.push([
        `${size.toLocaleString('en')} + ${size.toLocaleString('en')}`,
        `${Math.round(engineRate).toLocaleString('en')} rows/s`,
        mib(engine.peakRssBytes),
        `${Math.round(numpyRate).toLocaleString('en')} rows/s`,
        mib(numpy.peakRssBytes),
        `${(engineRate / numpyRate).toFixed(2)}×`,
        `${(engine.stateBytes as number).toLocaleString('en')} B`,
        engineRate > numpyRate ? 'met' : 'missed',
      ]);
      console.log(
        `rows ${size}: engine psi ${(engine.psi as number).toFixed(4)} (${String(engine.worstPsi)}), numpy psi ${(numpy.psi as number).toFixed(4)} (${String(numpy.worstPsi)}); ` +
          compared.map((name) => `${name} ${String(engine[name])} vs ${String(numpy[name])}`).join('; '),
      );
    }
    const header = [
      'reference + current rows',
      'engine',
      'engine peak RSS',
      'numpy',
      'numpy peak RSS',
      'engine/numpy',
      'state JSON',
      'target: faster than numpy',
    ];
    printTable(header, rows);
    const [small, large] = rows;
    console.log(
      `engine peak RSS ${small![2]} at ${sizes[0]} rows/dataset vs ${large![2]} at ${sizes[1]}: the engine keeps no per-row arrays (batches of ${batchRows} rows)`,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main();
