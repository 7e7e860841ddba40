import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setCondition } from '../../../src/controller/conditions.js';

describe('setCondition', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T01:00:00Z');

  it('adds a condition with the transition time and generation', () => {
    const conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Graded', message: 'ok' },
      3,
      t0,
    );
    assert.deepEqual(conditions, [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Graded',
        message: 'ok',
        observedGeneration: 3,
        lastTransitionTime: t0.toISOString(),
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, moves it when the status changes', () => {
    const first = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Graded', message: 'a' },
      1,
      t0,
    );
    const same = setCondition(
      first,
      { type: 'Ready', status: 'True', reason: 'Graded', message: 'b' },
      2,
      t1,
    );
    assert.equal(same[0]!.lastTransitionTime, t0.toISOString());
    assert.equal(same[0]!.message, 'b');
    const flipped = setCondition(
      same,
      { type: 'Ready', status: 'False', reason: 'DeadlineExceeded', message: 'c' },
      2,
      t1,
    );
    assert.equal(flipped[0]!.lastTransitionTime, t1.toISOString());
    assert.equal(flipped.length, 1);
  });
});
