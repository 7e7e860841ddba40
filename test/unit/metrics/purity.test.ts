import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

test('metrics and grading import no I/O: only each other and the API types', () => {
  for (const area of ['metrics', 'grading']) {
    for (const file of readdirSync(path.join(src, area)).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(path.join(src, area, file), 'utf8');
      for (const [, specifier] of text.matchAll(/from '([^']+)'/g)) {
        assert.ok(
          specifier!.startsWith('./') ||
            specifier!.startsWith('../metrics/') ||
            specifier!.startsWith('../api/'),
          `src/${area}/${file} imports ${specifier}`,
        );
      }
      assert.doesNotMatch(text, /\bprocess\.|\brequire\(|\bfetch\(/, `src/${area}/${file} reaches outside`);
    }
  }
});
