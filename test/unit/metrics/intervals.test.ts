import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  newcombeIndependent,
  normalQuantile,
  quantileRankInterval,
  wilson,
} from '../../../src/metrics/intervals.js';

const close = (actual: number, expected: number, digits: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 0.5 * 10 ** -digits, `${what}: ${actual} vs ${expected}`);

// Published values: Newcombe, Statistics in Medicine 17 (1998) 857–872, Table I (Wilson),
// and 873–890, Table II (method 10) — four-decimal rounding as printed.
test('Wilson intervals match the published table', () => {
  for (const [x, n, lower, upper] of [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ] as const) {
    const interval = wilson(x, n, 0.95);
    close(interval.lower, lower, 4, `${x}/${n} lower`);
    close(interval.upper, upper, 4, `${x}/${n} upper`);
  }
});

test("Newcombe's interval for a difference of independent proportions matches the published table", () => {
  for (const [x1, n1, x2, n2, lower, upper] of [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
  ] as const) {
    const interval = newcombeIndependent(x1, n1, x2, n2, 0.95);
    close(interval.lower, lower, 4, `${x1}/${n1} − ${x2}/${n2} lower`);
    close(interval.upper, upper, 4, `${x1}/${n1} − ${x2}/${n2} upper`);
  }
});

test('normal quantiles', () => {
  close(normalQuantile(0.975), 1.959963985, 8, 'z 0.975');
  close(normalQuantile(0.995), 2.575829304, 8, 'z 0.995');
  close(normalQuantile(0.01), -2.326347874, 8, 'z 0.01');
  assert.throws(() => normalQuantile(1), /p must be in \(0, 1\)/);
});

test('quantile rank intervals bracket the rank and stay inside the sample', () => {
  assert.deepEqual(quantileRankInterval(0.95, 1000, 0.95), { lower: 935, upper: 964 });
  assert.deepEqual(quantileRankInterval(0.95, 5, 0.95), { lower: 2, upper: 4 });
});
