import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import yaml from 'js-yaml';

import type { EvaluationStatusReport } from '../../../src/cli/evaluate.js';
import {
  fixtureManifest,
  fixtureManifestObject,
  type ManifestObject,
  type ManifestOptions,
} from '../evaluator/fixture-specs.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real command, as a user runs it. */
function pruneguard(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, PRUNEGUARD_MEASUREMENT: 'quick' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const scratch = await mkdtemp(path.join(tmpdir(), 'pruneguard-evaluate-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Writes a manifest whose file:// URIs are relative to its own directory, as examples/ does. */
async function manifest(
  name: string,
  options: ManifestOptions = {},
  edit?: (m: ManifestObject) => void,
): Promise<string> {
  const relative = (file: string) => `file://${path.relative(scratch, path.resolve(file))}`;
  const object = fixtureManifestObject({ uri: relative, ...options });
  edit?.(object);
  const file = path.join(scratch, `${name}.yaml`);
  await writeFile(file, yaml.dump(object));
  return file;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

/** Whether `path` (`details`, `drift[]`, `edges`) leads to a value; `x[]` means in some entry of x. */
function present(value: unknown, path: string[]): boolean {
  if (path.length === 0) return value !== undefined && value !== null;
  const [head, ...rest] = path;
  const list = head!.endsWith('[]');
  const next = (value as Record<string, unknown> | undefined)?.[list ? head!.slice(0, -2) : head!];
  return list ? Array.isArray(next) && next.some((entry) => present(entry, rest)) : present(next, rest);
}

/** Species rates differ by sex in the population itself: parity is reported, not graded (see examples/penguins). */
const lenient = { demographicParity: { enabled: false } };

describe('pruneguard evaluate', { concurrency: 3 }, () => {
  test('pruned-70: PSI 0.14 on 133 rows is within chance, so Inconclusive, exit 5; --shards 3 prints the same row metrics', async () => {
    const file = await manifest('noise', { thresholds: lenient });
    const [run, sharded] = await Promise.all([
      pruneguard(['evaluate', '-f', file, '-o', 'json']),
      pruneguard(['evaluate', '-f', file, '-o', 'json', '--shards', '3']),
    ]);
    assert.equal(run.code, 5, run.stderr);
    const report = JSON.parse(run.stdout) as EvaluationStatusReport;
    assert.equal(report.status.verdict, 'Inconclusive');
    assert.equal(report.status.samples, fixtureManifest.penguins.rows.current);
    const psi = report.status.metrics.find((m) => m.name === 'psi')!;
    assert.equal(psi.grade, 'Inconclusive');
    const detail = psi.detail as {
      reason: string;
      pValue: number;
      adjustedPValue: number;
      noiseBand: number[];
    };
    assert.match(detail.reason, /^n=133 vs 200: PSI 0\.14 is within the 95% noise band 0–0\.2\d$/);
    assert.ok(detail.pValue > 0.05 && detail.adjustedPValue >= detail.pValue);
    assert.ok(detail.noiseBand[1]! > psi.value);
    const drop = report.status.metrics.find((m) => m.name === 'accuracyDrop')!;
    assert.equal(drop.grade, 'Pass');
    assert.equal(drop.interval?.length, 2);
    assert.equal(drop.target, 0.02);
    assert.equal(report.status.summary.accuracyDrop, '1.50%');
    assert.deepEqual(
      report.status.slices.map((s) => s.slice),
      ['Island=Biscoe', 'Island=Dream', 'Island=Torgersen'],
    );
    assert.equal(run.stderr, '');
    // Every `details.…` docs/metrics.md points readers to is in the output.
    const claimed = (await readFile('docs/metrics.md', 'utf8')).match(/details(\.[A-Za-z]+(\[\])?)+/g)!;
    assert.ok(claimed.length > 5);
    for (const claim of new Set(claimed))
      assert.ok(present(report, claim.split('.')), `${claim} (docs/metrics.md) is not in the output`);

    // The p-values rest on merged counts only: three shards give the same ones.
    const rowMetrics = (r: EvaluationStatusReport) =>
      r.status.metrics.filter((m) => ['accuracyDrop', 'psi', 'demographicParity'].includes(m.name));
    assert.equal(sharded.code, 5, sharded.stderr);
    assert.deepEqual(rowMetrics(JSON.parse(sharded.stdout) as EvaluationStatusReport), rowMetrics(report));
  });

  test('pruned-70 against its own reference data: no drift at all; its lost Chinstraps are a drop the rows cannot confirm, exit 5', async () => {
    const file = await manifest('pass', { thresholds: lenient }, (m) => {
      m.spec.data.current = { uri: (m.spec.data.reference as { uri: string }).uri };
    });
    const run = await pruneguard(['evaluate', '-f', file, '-o', 'json']);
    assert.equal(run.code, 5, run.stderr);
    const report = JSON.parse(run.stdout) as EvaluationStatusReport;
    assert.equal(report.status.verdict, 'Inconclusive', report.status.explanation);
    assert.match(report.status.explanation, /^classRecallDrop /);
    const worse = report.status.metrics
      .filter((m) => m.grade !== 'Pass' && m.grade !== 'Disabled')
      .map((m) => [m.name, m.grade]);
    assert.deepEqual(worse, [['classRecallDrop', 'Inconclusive']]);
    const psi = report.status.metrics.find((m) => m.name === 'psi')!;
    assert.deepEqual([psi.value, psi.grade, (psi.detail as { pValue: number }).pValue], [0, 'Pass', 1]);
  });

  test('pruned-95: exit 4, the table names accuracyDrop as the Critical metric', async () => {
    const run = await pruneguard(['evaluate', '-f', await manifest('heavy', { candidate: 'pruned-95' })]);
    assert.equal(run.code, 4, run.stderr);
    const [headline, explanation] = run.stdout.split('\n');
    assert.equal(headline, 'test/penguins-pruned-95: Critical');
    assert.match(explanation!, /^ {2}accuracyDrop 59\.4% \[[\d.]+%, [\d.]+%\] > 5% critical/);
    assert.match(run.stdout, /\naccuracyDrop +59\.4% +Critical +2% +5% /);
  });

  test('shifted current data: exit 4 on psi, as YAML', async () => {
    const file = await manifest('shifted', {
      candidate: 'pruned-70',
      current: 'shifted',
      thresholds: lenient,
    });
    const run = await pruneguard(['evaluate', '-f', file, '--output', 'yaml']);
    assert.equal(run.code, 4, run.stderr);
    const report = yaml.load(run.stdout) as EvaluationStatusReport;
    assert.equal(report.status.metrics.find((m) => m.name === 'psi')?.grade, 'Critical');
    assert.match(report.status.explanation, /^psi /);
  });

  test('a corrupt model: exit 1 and one line naming the file', async () => {
    const run = await pruneguard([
      'evaluate',
      '-f',
      await manifest('corrupt', { candidate: fixtureManifest.corrupt }),
      '-o',
      'json',
    ]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(
      oneLine(run.stderr),
      /^pruneguard evaluate: candidate model file:\/\/\S+\/corrupt\.onnx: not a valid ONNX model/,
    );
  });

  test('a model whose input does not fit the data: exit 1 naming both widths', async () => {
    const run = await pruneguard([
      'evaluate',
      '-f',
      await manifest('mismatched', { candidate: fixtureManifest.mismatchedInput.model }),
    ]);
    assert.equal(run.code, 1);
    assert.match(
      oneLine(run.stderr),
      /candidate model file:\/\/\S+\/mismatched-input\.onnx: .*\[N, 6\].*\[N, 7\]/,
    );
  });

  test('a feature column missing from the data: exit 1 naming the column and the file', async () => {
    const file = await manifest('missing-column', {
      features: ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (kg)', 'Island'],
    });
    const run = await pruneguard(['evaluate', '-f', file]);
    assert.equal(run.code, 1);
    assert.match(oneLine(run.stderr), /reference\.csv: column 'Body Mass \(kg\)' not found/);
  });

  test('an invalid manifest: exit 1 naming the file and the field', async () => {
    const file = await manifest('invalid', {}, (m) => (m.spec.runtime = { batchSize: 0 }));
    const run = await pruneguard(['evaluate', '-f', file]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /invalid\.yaml is invalid/);
    assert.match(run.stderr, /batchSize/);
    assert.equal(run.stderr.trim().split('\n').length, 1, 'one line');
  });

  test('a cron that never fires: exit 1 naming the file and the field, as the operator refuses it', async () => {
    const file = await manifest('never', {}, (m) => (m.spec.schedule = { cron: '0 0 30 2 *' }));
    const run = await pruneguard(['evaluate', '-f', file]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /never\.yaml is invalid: spec\.schedule\.cron "0 0 30 2 \*" can never start a run/,
    );
  });

  test('a cross-field rule of the CRD (teacher = candidate): exit 1 with the API server’s message', async () => {
    const file = await manifest('same-models', {}, (m) => (m.spec.candidate = m.spec.teacher));
    const run = await pruneguard(['evaluate', '-f', file]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /same-models\.yaml is invalid: spec\.candidate\.uri: candidate\.uri is the same as teacher\.uri: there is nothing to compare/,
    );
  });

  test('usage mistakes: exit 2; --help documents the exit codes', async () => {
    const [none, format, help] = await Promise.all([
      pruneguard(['evaluate']),
      pruneguard(['evaluate', '-f', 'x.yaml', '-o', 'csv']),
      pruneguard(['evaluate', '--help']),
    ]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing -f/);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--output must be table, json or yaml/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /0 Pass, 3 Warning, 4 Critical, 5 Inconclusive/);
  });
});
