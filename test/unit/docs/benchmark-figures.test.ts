import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

test('the README quotes the metric engine’s 1M-row figures from docs/metrics.md’s table, not others', () => {
  const row = read('README.md')
    .split('\n')
    .find((line) => line.startsWith('| metric engine, 1M reference + 1M current rows'));
  assert.ok(row, 'README.md has the metric engine row');
  const quoted =
    /\| ([\d,]+) rows\/s vs numpy ([\d,]+) rows\/s \(([\d.]+)×.*peak RSS (\d+) MiB vs numpy (\d+) MiB/.exec(
      row,
    );
  assert.ok(quoted, row);
  const [, engine, numpy, ratio, engineRss, numpyRss] = quoted;
  const table = `| 1,000,000 + 1,000,000 | ${engine} rows/s | ${engineRss} MiB | ${numpy} rows/s | ${numpyRss} MiB | ${ratio}× |`;
  assert.ok(read('docs/metrics.md').includes(table), `docs/metrics.md lacks ${table}`);
});
