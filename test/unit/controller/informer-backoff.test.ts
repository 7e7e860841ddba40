import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, listWatchBackoff } from '../../../src/controller/informer.js';

/** A failure at `atMs` (since the informer started) with `random` as the jitter draw, and the delay expected. */
type Failure = { atMs: number; random: number; delayMs: number };

const cases: { name: string; failures: Failure[] }[] = [
  {
    name: 'no jitter: 0.8 s doubling to the 30 s cap, then 30 s',
    failures: [0, 800, 2_400, 5_600, 12_000, 24_800, 50_400, 80_400, 110_400].map((atMs, i) => ({
      atMs,
      random: 0,
      delayMs: [800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000][i]!,
    })),
  },
  {
    name: 'jitter adds up to 100% of the base, and never feeds the next base',
    failures: [
      { atMs: 0, random: 0.5, delayMs: 1_200 },
      { atMs: 1_200, random: 0.999, delayMs: 3_198.4 },
      { atMs: 4_400, random: 0, delayMs: 3_200 },
      { atMs: 7_600, random: 0.25, delayMs: 8_000 },
    ],
  },
  {
    name: 'at the cap the delay is 30 to 60 s',
    failures: [
      ...[0, 1, 2, 3, 4, 5].map((i) => ({ atMs: i * 1_000, random: 0, delayMs: 800 * 2 ** i })),
      { atMs: 6_000, random: 0, delayMs: 30_000 },
      { atMs: 7_000, random: 0.999, delayMs: 59_970 },
    ],
  },
  {
    name: 'a failure after two minutes without one (a healthy watch) starts again from 0.8 s',
    failures: [
      { atMs: 0, random: 0, delayMs: 800 },
      { atMs: 800, random: 0, delayMs: 1_600 },
      { atMs: 2_400, random: 0, delayMs: 3_200 },
      { atMs: 2_400 + 120_001, random: 0, delayMs: 800 },
      { atMs: 2_400 + 120_001 + 800, random: 0, delayMs: 1_600 },
    ],
  },
  {
    name: 'a failure within two minutes of the previous one keeps backing off',
    failures: [
      { atMs: 0, random: 0, delayMs: 800 },
      { atMs: 800, random: 0, delayMs: 1_600 },
      { atMs: 800 + 120_000, random: 0, delayMs: 3_200 },
    ],
  },
  {
    name: 'the reset also leaves the cap',
    failures: [
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => ({
        atMs: i * 1_000,
        random: 0,
        delayMs: Math.min(800 * 2 ** i, 30_000),
      })),
      { atMs: 6_000 + 120_001, random: 0, delayMs: 800 },
    ],
  },
];

describe('Backoff (list/watch restarts, client-go reflector parameters)', () => {
  for (const { name, failures } of cases) {
    it(name, () => {
      let now = 0;
      let random = 0;
      const backoff = new Backoff(
        listWatchBackoff,
        () => now,
        () => random,
      );
      const delays = failures.map((failure) => {
        now = failure.atMs;
        random = failure.random;
        return Math.round(backoff.next() * 10) / 10;
      });
      assert.deepEqual(
        delays,
        failures.map((f) => f.delayMs),
      );
    });
  }

  it('keeps an API server that stays down to at most 8 attempts in the first minute, whatever the draws', () => {
    for (const draw of [() => 0, () => 0.999, Math.random]) {
      let now = 0;
      const backoff = new Backoff(listWatchBackoff, () => now, draw);
      let attempts = 0;
      while (now < 60_000) {
        attempts++;
        now += backoff.next();
      }
      assert.ok(attempts >= 5 && attempts <= 8, `${attempts} attempts`);
    }
  });
});
