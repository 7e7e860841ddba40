import type { EvaluationState } from '../../../src/metrics/index.js';

/**
 * A state as an evaluator of state version 1 wrote it: each population kept accuracyDrop's and
 * demographicParity's states as `accuracy` and `fairness`, and nothing of the row metrics added since.
 */
export function asVersion1(state: EvaluationState): unknown {
  const group = ({ metrics, ...rest }: EvaluationState['overall']) => ({
    ...rest,
    accuracy: metrics.accuracyDrop,
    fairness: metrics.demographicParity,
  });
  return JSON.parse(
    JSON.stringify({
      ...state,
      version: 1,
      overall: group(state.overall),
      slices: state.slices.map((slice) => ({ ...slice, state: group(slice.state) })),
    }),
  );
}
