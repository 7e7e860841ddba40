import type { EvaluationRun } from '../api/v1alpha1/index.js';
import { gradeEvaluation, type GradedRun } from '../grading/index.js';
import {
  checkStateSize,
  decodeShardState,
  defaultShardStateLimits,
  stateDigest,
  type ShardStateLimits,
} from '../evaluator/shard-state.js';
import type { EvaluationAccumulator } from '../metrics/index.js';

/** Shard results the operator refuses to grade: nothing is acted on, the run concludes Inconclusive. */
export class RejectedShardResults extends Error {
  readonly reason = 'ResultsRejected';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RejectedShardResults';
  }
}

/**
 * Merges every shard's accumulator state (exact for counts and histograms, within the sketch's
 * relative error for quantiles) and grades the result with the thresholds the run ran with.
 *
 * The states come from the run's pods, so none is trusted: one entry per index of the run, each
 * read within `limits` and checked against the run's spec (decodeShardState), one at a time so
 * that only one decoded shard is held besides the merge; the merge must stay within the same
 * limits, and what grading makes of it must be finite numbers the status can hold. The operator
 * passes the limits its flags set.
 */
export function gradeRun(run: EvaluationRun, limits: ShardStateLimits = defaultShardStateLimits): GradedRun {
  const shards = [...(run.status?.shards ?? [])].sort((a, b) => a.index - b.index);
  const count = run.spec.shards;
  const seen = new Set<number>();
  for (const shard of shards) {
    const index: unknown = shard.index;
    if (!(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < count))
      throw new RejectedShardResults(`a shard result has index ${String(index)}, outside [0, ${count - 1}]`);
    if (seen.has(index)) throw new RejectedShardResults(`shard ${index}: two results for one shard`);
    if (!shard.state) throw new RejectedShardResults(`shard ${index}: its entry holds no state`);
    if (typeof shard.state.data !== 'string' || shard.digest !== stateDigest(shard.state.data))
      throw new RejectedShardResults(
        `shard ${index}: its state does not match the digest it was first written with (replaced after it was recorded)`,
      );
    seen.add(index);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0)
    throw new RejectedShardResults(
      `${missing.length === 1 ? 'shard' : 'shards'} ${missing.join(', ')} of ${count} wrote no result`,
    );

  const spec = run.spec.evaluationSpec;
  let merged: EvaluationAccumulator | undefined;
  for (const shard of shards) {
    const where = `shard ${shard.index}`;
    const state = rejecting(where, () => decodeShardState(shard.state, limits, spec));
    if (merged === undefined) {
      merged = state;
      continue;
    }
    const into = merged;
    rejecting(`${where}, merged into shards 0–${shard.index - 1}`, () => {
      into.merge(state);
      checkStateSize(into, limits);
    });
  }
  const graded = rejecting('the merged shards', () => gradeEvaluation(merged!, spec));
  checkRepresentable(graded);
  return graded;
}

function rejecting<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new RejectedShardResults(`${where}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Everything grading writes to status must be a finite number (JSON has no other), samples a
 * whole number the API's int64 takes exactly. Consistent but extreme states can still overflow:
 * a sum near 1e308 over a tiny label scale.
 */
function checkRepresentable(graded: GradedRun): void {
  const problems: string[] = [];
  const check = (what: string, value: number, whole = false) => {
    if (!Number.isFinite(value) || (whole && !(Number.isSafeInteger(value) && value >= 0)))
      problems.push(`${what} is ${value}`);
  };
  check('samples', graded.samples, true);
  const metrics = [
    ...graded.metrics.map((metric) => ({ metric, where: '' })),
    ...graded.slices.flatMap((slice) => {
      check(`slice ${slice.slice} samples`, slice.samples, true);
      return slice.metrics.map((metric) => ({ metric, where: ` in slice ${slice.slice}` }));
    }),
  ];
  for (const { metric, where } of metrics) {
    check(`${metric.name}${where}`, metric.value);
    check(`${metric.name}${where} samples`, metric.samples, true);
    metric.interval?.forEach((edge, i) => check(`${metric.name}${where} interval[${i}]`, edge));
  }
  for (const metric of [...graded.graded.metrics, ...graded.graded.slices.flatMap((s) => s.metrics)]) {
    check(`graded ${metric.name}`, metric.value);
    if (metric.interval) {
      check(`graded ${metric.name} interval lower`, metric.interval.lower);
      check(`graded ${metric.name} interval upper`, metric.interval.upper);
    }
  }
  if (problems.length > 0)
    throw new RejectedShardResults(
      `the merged shards grade to numbers no status can hold: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
    );
}
