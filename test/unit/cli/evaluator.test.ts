import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { fieldManager } from '../../../src/evaluator/shard-status.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'pruneguard-evaluator-'));
after(() => rm(scratch, { recursive: true, force: true }));

function evaluator(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'evaluator', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

test('usage mistakes exit 2 and say what is missing', async () => {
  const [noRun, badIndex] = await Promise.all([
    evaluator(['--namespace', 'ns']),
    evaluator(['--namespace', 'ns', '--run', 'r'], { JOB_COMPLETION_INDEX: 'two' }),
  ]);
  assert.equal(noRun.code, 2);
  assert.match(noRun.stderr, /^pruneguard evaluator: missing --run/);
  assert.equal(badIndex.code, 2);
  assert.match(badIndex.stderr, /JOB_COMPLETION_INDEX must be a non-negative integer, got 'two'/);
});

test('an unreachable API server: exit 1, the message on stderr and in the termination log', async () => {
  // A port nothing listens on: the client fails fast with ECONNREFUSED.
  const kubeconfig = path.join(scratch, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n'),
  );
  const terminationLog = path.join(scratch, 'termination-log');
  const run = await evaluator(['--namespace', 'ml', '--run', 'fraud-00042'], {
    KUBECONFIG: kubeconfig,
    JOB_COMPLETION_INDEX: '3',
    PRUNEGUARD_TERMINATION_LOG: terminationLog,
  });
  assert.equal(run.code, 1);
  const message = /^pruneguard evaluator: (.*)$/m.exec(run.stderr)?.[1];
  assert.match(
    message ?? '',
    /^shard 3 of EvaluationRun ml\/fraud-00042: get EvaluationRun ml\/fraud-00042: .*ECONNREFUSED/,
  );
  assert.equal(await readFile(terminationLog, 'utf8'), message);
  assert.equal(fieldManager(3), 'pruneguard-evaluator-shard-3');
});
