/**
 * What an evaluation pod writes: its own entry of EvaluationRun.status.shards, as a server-side
 * apply body. status.shards is a list map keyed by index, so N pods applying with N field managers
 * never overwrite each other.
 */
import { apiVersion, evaluationRunNames, type EvaluationRunStatus } from '../api/v1alpha1/index.js';
import { encodeShardState, stateDigest } from './shard-state.js';
import type { ShardResult } from './pipeline.js';

export interface RunName {
  namespace: string;
  name: string;
}

export function shardStatusPatch(run: RunName, index: number, result: ShardResult) {
  const state = encodeShardState(result.accumulator);
  const status: EvaluationRunStatus = {
    shards: [
      {
        index,
        state,
        digest: stateDigest(state.data),
        samples: result.rows.current,
        completedAt: new Date().toISOString(),
      },
    ],
    executionProvider: result.executionProvider,
    powerMethod: result.powerMethod,
  };
  return applyBody(run, status);
}

/** A failed shard: its index and why, no state, so the controller can report the where. */
export function shardFailurePatch(run: RunName, index: number, message: string) {
  return applyBody(run, { shards: [{ index, error: message.slice(0, 4096) }] });
}

function applyBody(run: RunName, status: EvaluationRunStatus) {
  return {
    apiVersion,
    kind: evaluationRunNames.kind,
    metadata: { name: run.name, namespace: run.namespace },
    status,
  };
}

/** The field manager that owns shard `index`'s entry. */
export function fieldManager(index: number): string {
  return `pruneguard-evaluator-shard-${index}`;
}

export type ShardStatusPatch = ReturnType<typeof applyBody>;
