import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { runOutcome } from '../../../src/controller/run-outcome.js';

const job = (
  conditions: { type: string; status: string; reason?: string; message?: string }[] = [],
  active = 0,
): V1Job => ({
  spec: { activeDeadlineSeconds: 600, template: {} },
  status: { conditions: conditions as never, active },
});

const pod = (status: V1Pod['status']): V1Pod => ({ metadata: { name: 'run-0-abc' }, status });

type ContainerState = NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number]['state'];

/** A pod whose evaluator container is in `state`. */
const podWith = (phase: string, state: ContainerState, image = 'x'): V1Pod =>
  pod({
    phase,
    containerStatuses: [{ name: 'evaluator', image, imageID: '', ready: false, restartCount: 0, state }],
  });

describe('runOutcome', () => {
  const cases: { name: string; job: V1Job; pods: V1Pod[]; expected: unknown }[] = [
    { name: 'a new Job is pending', job: job(), pods: [], expected: { state: 'pending' } },
    {
      name: 'an unschedulable pod says why it is pending',
      job: job([], 1),
      pods: [
        pod({
          phase: 'Pending',
          conditions: [
            { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' },
          ],
        }),
      ],
      expected: { state: 'pending', message: 'run-0-abc: Unschedulable: 0/3 nodes' },
    },
    {
      name: 'a running pod',
      job: job([], 1),
      pods: [pod({ phase: 'Running' })],
      expected: { state: 'running' },
    },
    {
      name: 'a complete Job',
      job: job([{ type: 'Complete', status: 'True' }]),
      pods: [],
      expected: { state: 'succeeded' },
    },
    {
      name: 'the evaluator’s own error message explains a failed Job',
      job: job([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }]),
      pods: [
        podWith('Failed', {
          terminated: { exitCode: 4, message: "data pvc://d/x.csv: missing column 'age'\n" },
        }),
      ],
      expected: {
        state: 'failed',
        reason: 'EvaluatorError',
        message: "run-0-abc: data pvc://d/x.csv: missing column 'age'",
      },
    },
    {
      name: 'an OOMKilled evaluator',
      job: job([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }]),
      pods: [podWith('Failed', { terminated: { exitCode: 137, reason: 'OOMKilled' } })],
      expected: {
        state: 'failed',
        reason: 'OOMKilled',
        message: 'run-0-abc: the evaluator exceeded its memory limit (exit code 137)',
      },
    },
    {
      name: 'an image that cannot be pulled fails at once',
      job: job([], 1),
      pods: [
        podWith(
          'Pending',
          { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' } },
          'nope:1',
        ),
      ],
      expected: {
        state: 'failed',
        reason: 'ImagePullBackOff',
        message: 'run-0-abc: Back-off pulling image "nope:1"',
      },
    },
    {
      name: 'a deadline names the Job’s limit',
      job: job([{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }]),
      pods: [],
      expected: {
        state: 'failed',
        reason: 'DeadlineExceeded',
        message: 'evaluation did not finish within activeDeadlineSeconds (600s)',
      },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(runOutcome(c.job, c.pods), c.expected));
});
