import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const python = path.join(repoRoot, '.venv/bin/python');
const oracleScript = path.join(repoRoot, 'test/oracle/reference_metrics.py');

/**
 * One request to the Python oracle (reference_metrics.py), its JSON answer back. The venv is part
 * of the test environment: when it is missing this fails, it does not skip.
 */
export function askOracle(request: unknown): unknown {
  assert.ok(
    existsSync(python),
    `${python} is missing: create it with python3 -m venv .venv && .venv/bin/pip install -r test/oracle/requirements.txt`,
  );
  const run = spawnSync(python, [oracleScript], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.equal(run.status, 0, `oracle failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as unknown;
}
