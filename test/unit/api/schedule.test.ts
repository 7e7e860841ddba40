import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvaluationRun, PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';
import { whenDue } from '../../../src/controller/due.js';
import { nextRunAfter, parseInterval, scheduleProblem } from '../../../src/api/v1alpha1/schedule.js';

describe('schedule', () => {
  it('parses intervals', () => {
    assert.equal(parseInterval('30m'), 1_800_000);
    assert.equal(parseInterval('1h30m'), 5_400_000);
    assert.equal(parseInterval('90s'), 90_000);
    assert.throws(() => parseInterval('30 minutes'), /schedule.interval "30 minutes"/);
    assert.throws(() => parseInterval('m'), /not a duration/);
  });

  it('finds the next run of an interval or a cron schedule (UTC)', () => {
    const at = new Date('2026-11-27T10:07:00Z');
    assert.equal(nextRunAfter({ interval: '30m' }, at).toISOString(), '2026-11-27T10:37:00.000Z');
    assert.equal(nextRunAfter({ cron: '*/15 * * * *' }, at).toISOString(), '2026-11-27T10:15:00.000Z');
    assert.equal(nextRunAfter({ cron: '@daily' }, at).toISOString(), '2026-11-28T00:00:00.000Z');
  });
});

function evaluation(
  generation: number,
  extra: Partial<PrunedModelEvaluation['spec']> = {},
): PrunedModelEvaluation {
  return {
    metadata: { name: 'e', namespace: 'ns', generation },
    spec: { schedule: { interval: '30m' }, suspend: false, ...extra },
  } as unknown as PrunedModelEvaluation;
}

function run(generation: number, created: string): EvaluationRun {
  return {
    metadata: { name: 'e-00001', creationTimestamp: created },
    spec: { generation },
  } as unknown as EvaluationRun;
}

describe('whenDue', () => {
  const now = new Date('2026-11-27T10:00:00Z');
  const cases: {
    name: string;
    evaluation: PrunedModelEvaluation;
    latest?: EvaluationRun;
    expected: unknown;
  }[] = [
    {
      name: 'first run starts at once',
      evaluation: evaluation(1),
      expected: { due: true, trigger: 'Schedule' },
    },
    {
      name: 'a spec change starts a run before the interval',
      evaluation: evaluation(2),
      latest: run(1, '2026-11-27T09:59:00Z'),
      expected: { due: true, trigger: 'SpecChange' },
    },
    {
      name: 'waits for the interval since the last run was created',
      evaluation: evaluation(1),
      latest: run(1, '2026-11-27T09:45:00Z'),
      expected: { due: false, at: new Date('2026-11-27T10:15:00Z') },
    },
    {
      name: 'due once the interval has passed',
      evaluation: evaluation(1),
      latest: run(1, '2026-11-27T09:30:00Z'),
      expected: { due: true, trigger: 'Schedule' },
    },
    { name: 'suspended never runs', evaluation: evaluation(1, { suspend: true }), expected: { due: false } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(whenDue(c.evaluation, c.latest, now), c.expected));
  }
});

describe('scheduleProblem', () => {
  const now = new Date('2026-11-29T00:00:00Z');
  it('accepts schedules that fire, however far away', () => {
    for (const schedule of [
      { interval: '30m' },
      { interval: '8760h' },
      { cron: '@yearly' },
      { cron: '0 0 29 2 *' },
    ])
      assert.equal(scheduleProblem(schedule, now), undefined, JSON.stringify(schedule));
  });
  it('names the field of a cron that does not parse or never fires', () => {
    assert.match(
      scheduleProblem({ cron: 'x x x x x' }, now)!,
      /^spec\.schedule\.cron "x x x x x" can never start a run: /,
    );
    assert.match(
      scheduleProblem({ cron: '0 0 30 2 *' }, now)!,
      /^spec\.schedule\.cron "0 0 30 2 \*" can never start a run: /,
    );
    assert.match(scheduleProblem({ cron: '61 * * * *' }, now)!, /can never start a run/);
  });
});
