import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { EnergySample } from '../../../src/metrics/batch.js';
import { EnergyAccumulator, type EnergyState } from '../../../src/metrics/energy.js';
import type { MetricOutcome, MetricResult } from '../../../src/metrics/metric-result.js';

/** Grid 0.4 kg/kWh and PUE 1, so that carbon is plain energy × 0.4; 95 % intervals. */
const energyOptions = { gridIntensityKgPerKWh: 0.4, pue: 1, confidence: 0.95 };

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${actual} ≠ ${expected}`,
  );

function computed(outcome: MetricOutcome): MetricResult {
  assert.ok('computed' in outcome, JSON.stringify(outcome));
  return outcome.computed;
}

function engine(samples: EnergySample[], confidence = 0.95): EnergyAccumulator {
  const accumulator = new EnergyAccumulator({ ...energyOptions, confidence });
  for (const sample of samples) accumulator.record(sample);
  return accumulator;
}

// The H200 figures of issue 11: 155 W under load, 82 W idle, over a 2 s loaded window.
const h200: EnergySample = {
  joules: 310,
  seconds: 2,
  inferences: 200_000,
  method: 'nvml',
  idleWatts: 82,
  joulesStandardError: 1,
};

test('power, energy per 1k inferences and carbon are attributed: under load − idle', () => {
  const [power, energy, carbon] = engine([h200]).results().map(computed);
  close(power!.value, 73);
  close(energy!.value, (146 / 200_000) * 1000);
  // carbon follows from the attributed energy per inference, not the board's
  close(carbon!.value, ((146 / 200_000) * 1e6 * 0.4) / 3.6e6);
  assert.equal(power!.detail, '155.0 W under load − 82.0 W idle (NVML)');
  assert.deepEqual(power!.facts, { loadedWatts: 155, idleWatts: 82 });
  assert.match(carbon!.detail!, /^0\.000730 J\/inference attributed × 0\.4 kg\/kWh × PUE 1 \(NVML\)$/);
});

test('intervals: reading noise, the estimate’s ±50%, and samples without an idle baseline', () => {
  const z = 1.959963984540054;
  const cases: { name: string; samples: EnergySample[]; value: number; lower: number; upper: number }[] = [
    { name: 'NVML, ±1 J', samples: [h200], value: 73, lower: 73 - z / 2, upper: 73 + z / 2 },
    {
      name: 'two shards: variances add',
      samples: [h200, h200],
      value: 73,
      lower: 73 - (z * Math.SQRT2) / 4,
      upper: 73 + (z * Math.SQRT2) / 4,
    },
    {
      // 12 W estimated under load, 2 W idle: 10 W ± 50%
      name: 'estimate',
      samples: [{ joules: 24, seconds: 2, inferences: 1000, method: 'estimate', idleWatts: 2 }],
      value: 10,
      lower: 5,
      upper: 15,
    },
    {
      // an older evaluator's sample: 155 W read, nothing known to be idle
      name: 'no idle baseline',
      samples: [{ joules: 310, seconds: 2, inferences: 200_000, method: 'nvml' }],
      value: 155,
      lower: 0,
      upper: 155,
    },
    {
      name: 'idle above loaded (noise): 0, never negative',
      samples: [
        { joules: 80, seconds: 1, inferences: 10, method: 'rapl', idleWatts: 81, joulesStandardError: 2 },
      ],
      value: 0,
      lower: 0,
      upper: -1 + 2 * z,
    },
  ];
  for (const c of cases) {
    const power = computed(engine(c.samples).power());
    close(power.value, c.value);
    close(power.interval!.lower, c.lower, 1e-8);
    close(power.interval!.upper, c.upper, 1e-8);
    assert.equal(power.interval!.confidence, 0.95, c.name);
  }
  const estimate = computed(engine(cases[2]!.samples).energyPer1k());
  assert.deepEqual([estimate.value, estimate.interval!.lower, estimate.interval!.upper], [20, 10, 30]);
  assert.match(estimate.detail!, /Estimate; the estimate's share ±50%/);
});

test('merging shards is one pass over all their samples', () => {
  const a = engine([h200]);
  const b = engine([{ joules: 24, seconds: 2, inferences: 1000, method: 'estimate', idleWatts: 2 }]);
  a.merge(b);
  const together = engine([
    h200,
    { joules: 24, seconds: 2, inferences: 1000, method: 'estimate', idleWatts: 2 },
  ]);
  assert.deepEqual(a.toJSON(), together.toJSON());
  assert.deepEqual(a.toJSON().methods, ['estimate', 'nvml']);
  const round = new EnergyAccumulator(energyOptions, JSON.parse(JSON.stringify(a.toJSON())) as EnergyState);
  assert.deepEqual(round.toJSON(), a.toJSON());
});

test('a state an older evaluator wrote (no idle baseline) still reads, merges and grades', () => {
  // what `energy` looked like in shard states before idle baselines
  const older: EnergyState = { samples: 1, joules: 310, inferences: 200_000, seconds: 2, methods: ['nvml'] };
  const read = new EnergyAccumulator(energyOptions, older);
  assert.deepEqual(read.toJSON(), {
    ...older,
    idleJoules: 0,
    unbaselinedJoules: 310,
    varianceJoules: 0,
    estimatedJoules: 0,
  });
  const power = computed(read.power());
  // its whole reading counts, and its interval reaches down to none of it being the model's
  assert.deepEqual([power.value, power.interval!.lower, power.interval!.upper], [155, 0, 155]);
  assert.match(power.detail!, /310 J had no idle baseline \(an evaluator before baselines\): counted whole/);
  // merged with a current shard: the older one's joules widen the interval downwards only
  const current = engine([h200]);
  current.merge(read);
  const merged = computed(current.power());
  close(merged.value, (146 + 310) / 4);
  // the current shard's 146 J less its noise, and none of the older one's 310 J
  close(merged.interval!.lower, (146 - 1.959963984540054) / 4, 1e-8);
  assert.ok(merged.interval!.upper > merged.value);
  // an older estimate: the whole reading is the estimate's
  const estimated = new EnergyAccumulator(energyOptions, { ...older, methods: ['estimate'] });
  assert.equal(estimated.toJSON().estimatedJoules, 310);
});

test('states that do not hold together are refused, naming the field', () => {
  const good = engine([h200]).toJSON();
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { ...good, idleJoules: undefined },
      /energy has unbaselinedJoules, varianceJoules, estimatedJoules but not idleJoules$/,
    ],
    [{ ...good, varianceJoules: -1 }, /energy\.varianceJoules is -1, expected a finite number ≥ 0/],
    [{ ...good, unbaselinedJoules: 400 }, /energy: 400 J without an idle baseline/],
    [{ ...good, idleJoules: 'x' }, /energy\.idleJoules/],
  ];
  for (const [state, message] of cases)
    assert.throws(() => new EnergyAccumulator(energyOptions, state as unknown as EnergyState), message);
  assert.throws(
    () => engine([{ ...h200, idleWatts: -1 }]),
    /energy sample \(nvml\): needs .* got 310 J, 2 s, 200000 inferences, -1 idle W/,
  );
});

test('no samples, or samples of no inferences, disable what needs them', () => {
  const none = engine([]);
  assert.deepEqual(
    none.results().map((o) => ('disabled' in o ? o.disabled.reason : 'computed')),
    ['no energy samples', 'no energy samples', 'no energy samples'],
  );
  const idleOnly = engine([{ ...h200, inferences: 0 }]);
  assert.deepEqual(
    idleOnly.results().map((o) => ('disabled' in o ? o.disabled.reason : 'computed')),
    ['computed', 'energy samples count no inferences', 'energy samples count no inferences'],
  );
});
