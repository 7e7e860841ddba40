import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  choosePowerField,
  integratePower,
  parseWatts,
  powerFields,
} from '../../../src/evaluator/measure/power/nvml.js';
import {
  attribute,
  counterIncrease,
  joulesAt,
  windowPower,
  type Reading,
} from '../../../src/evaluator/measure/power/window.js';

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

/** Readings every `step` seconds of a meter drawing `watts(t)` (constant over each step). */
function meterReadings(watts: (t: number) => number, until: number, step = 0.1): Reading[] {
  const readings: Reading[] = [{ seconds: 0, joules: 0 }];
  for (let i = 1; i * step <= until + 1e-9; i++) {
    const t = i * step;
    readings.push({ seconds: t, joules: readings.at(-1)!.joules + watts(t - step / 2) * step });
  }
  return readings;
}

test('cumulative joules are interpolated between readings and held outside them', () => {
  const readings: Reading[] = [
    { seconds: 1, joules: 10 },
    { seconds: 2, joules: 30 },
    { seconds: 4, joules: 40 },
  ];
  const cases: [number, number][] = [
    [0, 10],
    [1, 10],
    [1.5, 20],
    [2, 30],
    [3, 35],
    [4, 40],
    [9, 40],
  ];
  for (const [seconds, joules] of cases) close(joulesAt(readings, seconds), joules);
});

test('window power: energy over the window, standard error from the readings’ spread', () => {
  // 100 W and 120 W alternating every 0.1 s: mean 110 W, sd of the 10 interval powers 10.54 W.
  const alternating = meterReadings((t) => (Math.floor(t * 10) % 2 === 0 ? 100 : 120), 3);
  const sd = Math.sqrt((10 * 100) / 9);
  const cases: { name: string; correlated: number; watts: number; se: number; intervals: number }[] = [
    { name: 'independent readings', correlated: 0, watts: 110, se: sd / Math.sqrt(10), intervals: 10 },
    // power.draw averages over 1 s: the ten readings of one second count as one
    { name: 'readings averaged over 1 s', correlated: 1, watts: 110, se: sd / Math.sqrt(1), intervals: 10 },
    { name: 'averaged over 0.5 s', correlated: 0.5, watts: 110, se: sd / Math.sqrt(2), intervals: 10 },
  ];
  for (const c of cases) {
    const power = windowPower(alternating, { from: 1, to: 2 }, c.correlated);
    close(power.watts, c.watts, 1e-9);
    close(power.standardError, c.se, 1e-9);
    assert.equal(power.intervals, c.intervals, c.name);
  }
  const steady = windowPower(
    meterReadings(() => 82, 3),
    { from: 0.5, to: 2.5 },
  );
  close(steady.watts, 82);
  close(steady.standardError, 0);
  // one reading interval: the spread is unknown, the standard error is the mean itself
  const sparse = windowPower(
    [
      { seconds: 0, joules: 0 },
      { seconds: 2, joules: 100 },
    ],
    { from: 0, to: 2 },
  );
  assert.deepEqual(sparse, { watts: 50, standardError: 50, intervals: 1 });
  assert.throws(
    () =>
      windowPower(
        meterReadings(() => 1, 1),
        { from: 0.5, to: 3 },
      ),
    /do not cover the window 0.5–3 s/,
  );
  assert.throws(
    () =>
      windowPower(
        meterReadings(() => 1, 1),
        { from: 0.5, to: 0.5 },
      ),
    /is empty/,
  );
});

test('attribution: the ramp is left out, the idle baseline is subtracted', () => {
  // The H200 figures of issue 11: 82 W idle; load starts at 4 s and climbs linearly to 155 W over 1 s.
  const h200 = (t: number) => (t < 4 ? 82 : t < 5 ? 82 + (155 - 82) * (t - 4) : 155);
  const readings = meterReadings(h200, 7);
  const cases: {
    name: string;
    loaded: { from: number; to: number };
    attributedWatts: number;
    steady: boolean;
  }[] = [
    { name: 'after a 1 s ramp', loaded: { from: 5, to: 7 }, attributedWatts: 73, steady: true },
    // counting from the start of the load mixes the ramp in: (0.5 × 73 + 2 × 73) / 3 s
    {
      name: 'with the ramp',
      loaded: { from: 4, to: 7 },
      attributedWatts: (0.5 * 73 + 2 * 73) / 3,
      steady: false,
    },
  ];
  for (const c of cases) {
    const measured = attribute(readings, { idle: { from: 1, to: 3 }, loaded: c.loaded });
    close(measured.idleWatts, 82, 1e-9);
    close(
      (measured.joules - measured.idleWatts * measured.seconds) / measured.seconds,
      c.attributedWatts,
      1e-9,
    );
    // the ramp's climb shows as spread, so it widens the interval as well as lowering the value
    assert.equal(measured.joulesStandardError < 1e-9, c.steady, c.name);
  }
  // noise in both windows adds in quadrature, scaled to joules by the loaded seconds
  const noisy = meterReadings((t) => (t < 4 ? 80 : 150) + (Math.floor(t * 10) % 2 === 0 ? -2 : 2), 7);
  const measured = attribute(noisy, { idle: { from: 1, to: 3 }, loaded: { from: 5, to: 7 } });
  const se = Math.sqrt((20 * 4) / 19 / 20);
  close(measured.joulesStandardError, Math.hypot(se, se) * 2, 1e-9);
});

test('RAPL counters: an increase, or a wrap past max_energy_range_uj', () => {
  const range = 262_143_328_850; // a real package's max_energy_range_uj
  const cases: [number, number, number][] = [
    [1_000, 5_000, 4_000],
    [7, 7, 0],
    [range - 1_000_000, 3_000_000, 4_000_000],
    [range, 0, 0],
  ];
  for (const [previous, current, increase] of cases)
    assert.equal(counterIncrease(previous, current, range), increase, `${previous} → ${current}`);
});

test('nvidia-smi cells: watts, or nothing for [N/A], [Not Supported] and the like', () => {
  const cases: [string, number | undefined][] = [
    ['82.13', 82.13],
    [' 155.47 \n', 155.47],
    ['0.00', 0],
    ['[N/A]', undefined],
    ['[Not Supported]', undefined],
    ['[Unknown Error]', undefined],
    ['', undefined],
    ['N/A', undefined],
    ['-1', undefined],
    ['82.13 W', undefined], // units: the query asks for nounits
  ];
  for (const [cell, watts] of cases) assert.equal(parseWatts(cell), watts, JSON.stringify(cell));
});

test('the power field: power.draw.instant where the driver has it, else power.draw', () => {
  const [instant, average] = powerFields;
  // one query line of `--query-gpu=power.draw.instant,power.draw --format=csv,noheader,nounits`
  const cases: [string, typeof instant | typeof average | undefined][] = [
    ['83.41, 82.13\n', instant],
    ['[N/A], 82.13\n', average],
    ['[Not Supported], 82.13\n', average],
    ['[N/A], [N/A]\n', undefined],
    ['', undefined],
  ];
  for (const [line, field] of cases) assert.equal(choosePowerField(line), field, JSON.stringify(line));
  // a driver that does not know power.draw.instant refuses that query; power.draw is asked alone
  assert.equal(choosePowerField('82.13\n', [average]), average);
  assert.equal(choosePowerField('[N/A]\n', [average]), undefined);
  assert.deepEqual(
    [instant.lagSeconds, average.lagSeconds],
    [0, 1],
    'power.draw is a 1 s average on Ampere and newer: it lags by that second',
  );
});

test('nvidia-smi power readings integrate to joules by the trapezoid', () => {
  const readings = integratePower([
    { seconds: 10, watts: 80 },
    { seconds: 10.1, watts: 100 },
    { seconds: 10.3, watts: 100 },
  ]);
  assert.deepEqual(
    readings.map((r) => r.seconds),
    [10, 10.1, 10.3],
  );
  close(readings[1]!.joules, 9);
  close(readings[2]!.joules, 29);
});

/**
 * NOT a recording: no GPU was available to this work. A sample in the shape `nvidia-smi
 * --query-gpu=power.draw.instant --format=csv,noheader,nounits -lms 100` prints, built from the
 * H200 figures of issue 11 (driver 580: idle 82 W, a tiny model's loop lifts it to 155 W over
 * about a second). Replace it with a real capture when one is taken.
 */
const constructedH200Lines = [
  ...Array.from({ length: 30 }, (_, i) => (82 + ((i * 7) % 5) * 0.1 - 0.2).toFixed(2)), // 0–3 s idle
  '[N/A]', // a reading the driver could not take: skipped
  ...Array.from({ length: 10 }, (_, i) => (82 + 7.3 * (i + 1)).toFixed(2)), // 3–4 s ramp
  ...Array.from({ length: 20 }, (_, i) => (155 + ((i * 3) % 5) * 0.2 - 0.4).toFixed(2)), // 4–6 s loaded
];

test('a sample in nvidia-smi’s format, with the H200 figures: 73 W attributed after the ramp', () => {
  const samples = constructedH200Lines
    .map((line) => parseWatts(line))
    .filter((watts): watts is number => watts !== undefined)
    .map((watts, i) => ({ seconds: i / 10, watts }));
  assert.equal(samples.length, 60);
  const readings = integratePower(samples);
  const measured = attribute(readings, { idle: { from: 1, to: 2.9 }, loaded: { from: 4, to: 5.9 } });
  const attributedWatts = (measured.joules - measured.idleWatts * measured.seconds) / measured.seconds;
  close(measured.idleWatts, 82, 0.2);
  close(attributedWatts, 73, 0.3);
  // the 95% half-width from the readings' spread is a fraction of a watt
  assert.ok((1.96 * measured.joulesStandardError) / measured.seconds < 0.5);
  // graded from the ramp's start instead, the number describes the ramp as much as the model
  const withRamp = attribute(readings, { idle: { from: 1, to: 2.9 }, loaded: { from: 3, to: 5.9 } });
  assert.ok((withRamp.joules - withRamp.idleWatts * withRamp.seconds) / withRamp.seconds < 65);
});
