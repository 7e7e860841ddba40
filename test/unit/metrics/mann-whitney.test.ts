import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  hodgesLehmannShift,
  mannWhitneyU,
  normalSurvival,
  type Alternative,
} from '../../../src/metrics/mann-whitney.js';
import { gaussian, seededRandom } from './synthetic-data.js';
import { askOracle } from '../../oracle/ask.js';

interface Case {
  name: string;
  first: number[];
  second: number[];
  method: 'exact' | 'asymptotic';
}

const random = seededRandom(14);
const latencies = (n: number, median: number) =>
  Array.from({ length: n }, () => Math.round(median * Math.exp(0.3 * gaussian(random)) * 1000) / 1000);

const cases: Case[] = [
  {
    name: 'small, no ties (exact)',
    first: [12.1, 15.3, 11.8, 19.4, 14.2],
    second: [10.2, 9.8, 11.1, 12.5, 10.9, 9.1],
    method: 'exact',
  },
  { name: 'one value against many (exact)', first: [30], second: latencies(40, 20), method: 'exact' },
  {
    name: 'eight against twelve, no ties (exact)',
    first: latencies(8, 22),
    second: latencies(12, 20),
    method: 'exact',
  },
  {
    name: 'small with ties (asymptotic)',
    first: [3, 4, 4, 5, 7],
    second: [1, 2, 4, 4, 5, 6],
    method: 'asymptotic',
  },
  {
    name: 'many ties: rounded latencies',
    first: latencies(30, 20).map(Math.round),
    second: latencies(25, 18).map(Math.round),
    method: 'asymptotic',
  },
  { name: 'large, shifted', first: latencies(200, 26), second: latencies(180, 20), method: 'asymptotic' },
  {
    name: 'large, same distribution',
    first: latencies(150, 20),
    second: latencies(160, 20),
    method: 'asymptotic',
  },
  {
    name: 'every value tied',
    first: [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    second: [5, 5, 5, 5, 5, 5, 5, 5, 5],
    method: 'asymptotic',
  },
];
const alternatives: Alternative[] = ['greater', 'less', 'two-sided'];

test('Mann–Whitney U p-values and the Hodges–Lehmann shift agree with scipy.stats.mannwhitneyu and numpy (test/oracle)', () => {
  const requests = cases.flatMap((c) =>
    alternatives.map((alternative) => ({ first: c.first, second: c.second, alternative })),
  );
  const oracle = askOracle({ mannWhitney: requests }) as { u: number; pValue: number; shift: number }[];
  requests.forEach((request, i) => {
    const c = cases[Math.floor(i / alternatives.length)]!;
    const where = `${c.name}, ${request.alternative}`;
    const ours = mannWhitneyU(request.first, request.second, request.alternative);
    const theirs = oracle[i]!;
    assert.equal(ours.method, c.method, where);
    assert.equal(ours.u, theirs.u, `${where}: U`);
    assert.ok(
      Math.abs(ours.pValue - theirs.pValue) <= 1e-9,
      `${where}: p = ${ours.pValue}, scipy ${theirs.pValue}`,
    );
    const shift = hodgesLehmannShift(request.first, request.second);
    assert.ok(
      Math.abs(shift - theirs.shift) <= 1e-12 * Math.max(1, Math.abs(theirs.shift)),
      `${where}: shift ${shift} vs ${theirs.shift}`,
    );
  });
});

test('the Hodges–Lehmann shift of long series is found without listing every pair, and equals the listed median', () => {
  const first = latencies(3000, 25);
  const second = latencies(2500, 20);
  const differences = new Float64Array(first.length * second.length);
  let k = 0;
  for (const x of first) for (const y of second) differences[k++] = x - y;
  differences.sort();
  const middle = differences.length / 2;
  assert.equal(hodgesLehmannShift(first, second), (differences[middle - 1]! + differences[middle]!) / 2);
  // A shift of a constant moves the estimate by exactly that constant.
  assert.equal(hodgesLehmannShift([1, 2, 3], [1, 2, 3]), 0);
  assert.equal(hodgesLehmannShift([7, 7, 7, 7], [7, 7]), 0);
});

test('normal tail probabilities keep their precision far out', () => {
  assert.equal(normalSurvival(0), 0.5);
  // scipy.stats.norm.sf(6) and sf(-2)
  assert.ok(Math.abs(normalSurvival(6) - 9.865876450376946e-10) < 1e-22);
  assert.ok(Math.abs(normalSurvival(-2) - 0.9772498680518208) < 1e-15);
  assert.equal(normalSurvival(Infinity), 0);
  assert.equal(normalSurvival(-Infinity), 1);
});

test('empty samples are refused, naming the sizes', () => {
  assert.throws(() => mannWhitneyU([], [1, 2], 'greater'), /values in both samples, got 0 and 2/);
});
