import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyHysteresis, type HysteresisState, type Verdict } from '../../../src/grading/index.js';

function run(verdicts: Verdict[], consecutiveBreaches: number, recoveryRuns?: number): Verdict[] {
  let state: HysteresisState | undefined;
  return verdicts.map((verdict) => {
    const policy =
      recoveryRuns === undefined ? { consecutiveBreaches } : { consecutiveBreaches, recoveryRuns };
    const outcome = applyHysteresis(state, { verdict }, policy);
    state = JSON.parse(JSON.stringify(outcome.state)) as HysteresisState;
    return outcome.effectiveVerdict;
  });
}

test('hysteresis as a table of run sequences', () => {
  const cases: [string, Verdict[], number, number | undefined, Verdict[]][] = [
    ['one breach acts at once with consecutiveBreaches 1', ['Critical'], 1, undefined, ['Critical']],
    ['the first of two breaches holds', ['Critical', 'Critical'], 2, undefined, ['Warning', 'Critical']],
    [
      'a healthy run breaks the streak',
      ['Critical', 'Pass', 'Critical'],
      2,
      undefined,
      ['Warning', 'Pass', 'Warning'],
    ],
    [
      'an inconclusive run neither breaks nor extends it',
      ['Critical', 'Inconclusive', 'Critical'],
      2,
      undefined,
      ['Warning', 'Inconclusive', 'Critical'],
    ],
    [
      'critical stays until recoveryRuns healthy runs in a row',
      ['Critical', 'Critical', 'Pass', 'Warning', 'Pass'],
      2,
      undefined,
      ['Warning', 'Critical', 'Critical', 'Warning', 'Pass'],
    ],
    [
      'a breach during recovery restarts it',
      ['Critical', 'Pass', 'Critical', 'Pass', 'Pass'],
      1,
      2,
      ['Critical', 'Critical', 'Critical', 'Critical', 'Pass'],
    ],
    [
      'inconclusive while critical stays critical',
      ['Critical', 'Inconclusive', 'Pass'],
      1,
      1,
      ['Critical', 'Critical', 'Pass'],
    ],
  ];
  for (const [name, verdicts, breaches, recovery, expected] of cases) {
    assert.deepEqual(run(verdicts, breaches, recovery), expected, name);
  }
});

test('applying the same run twice changes nothing', () => {
  const first = applyHysteresis(undefined, { verdict: 'Critical' }, { consecutiveBreaches: 2 }, 'run-1');
  const again = applyHysteresis(first.state, { verdict: 'Critical' }, { consecutiveBreaches: 2 }, 'run-1');
  assert.deepEqual(again, { effectiveVerdict: 'Warning', state: first.state });
  const next = applyHysteresis(again.state, { verdict: 'Critical' }, { consecutiveBreaches: 2 }, 'run-2');
  assert.equal(next.effectiveVerdict, 'Critical');
  assert.match(first.reason!, /critical 1 of 2/);
});

test('a nonsensical policy is refused', () => {
  assert.throws(
    () => applyHysteresis(undefined, { verdict: 'Pass' }, { consecutiveBreaches: 0 }),
    /consecutiveBreaches/,
  );
});
