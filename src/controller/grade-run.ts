import type { EvaluationRun } from '../api/v1alpha1/index.js';
import { gradeEvaluation, type GradedRun } from '../grading/index.js';
import { decodeShardState } from '../evaluator/shard-state.js';

/**
 * Merges every shard's accumulator state (exact for counts and histograms, within the sketch's
 * relative error for quantiles) and grades the result with the thresholds the run ran with.
 */
export function gradeRun(run: EvaluationRun): GradedRun {
  const shards = [...(run.status?.shards ?? [])].sort((a, b) => a.index - b.index);
  if (shards.length === 0) throw new Error(`EvaluationRun ${run.metadata.name} has no shard results`);
  const [first, ...rest] = shards.map((shard) => {
    try {
      return decodeShardState(shard.state);
    } catch (error) {
      throw new Error(
        `shard ${shard.index} of ${run.metadata.name} wrote an unreadable result: ${(error as Error).message}`,
      );
    }
  });
  for (const other of rest) first!.merge(other);
  return gradeEvaluation(first!, run.spec.evaluationSpec);
}
