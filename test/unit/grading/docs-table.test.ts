import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { defaultEnergy } from '../../../src/api/v1alpha1/spec.js';
import { metricDefinitions, metricNames } from '../../../src/api/v1alpha1/thresholds.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/metrics.md');

test('the threshold table in docs/metrics.md matches src/api/v1alpha1/thresholds.ts', () => {
  const text = readFileSync(docs, 'utf8');
  for (const name of metricNames) {
    const { direction, defaults, passAtTarget } = metricDefinitions[name];
    const lower = direction === 'lowerIsBetter';
    const pass = `${lower ? (passAtTarget ? '≤' : '<') : passAtTarget ? '≥' : '>'} ${defaults.target}`;
    const band = lower
      ? `${defaults.target} – ${defaults.warning}`
      : `${defaults.warning} – ${defaults.target}`;
    const critical = `${lower ? '>' : '<'} ${defaults.warning}`;
    const row = `| ${name} | ${lower ? 'lower' : 'higher'} | ${pass} | ${band} | ${critical} |`;
    assert.ok(text.includes(row), `docs/metrics.md lacks the row: ${row}`);
  }
});

test('the energy defaults docs/metrics.md states are spec.energy’s', () => {
  const text = readFileSync(docs, 'utf8').replace(/\s+/g, ' ');
  for (const [field, value] of Object.entries(defaultEnergy))
    assert.ok(
      text.includes(`\`spec.energy.${field}\` (default ${value})`),
      `docs/metrics.md should give spec.energy.${field} its default ${value}`,
    );
});
