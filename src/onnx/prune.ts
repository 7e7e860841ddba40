import type { ModelProto } from './model.js';
import { countNonZero, countParameters, weightMatrices } from './parameters.js';
import { readValues, writeValues } from './tensors.js';

export type PruneScope = 'global' | 'per-tensor';

export interface PruneOptions {
  /** Fraction of weight-matrix entries that end up zero, in [0, 1). */
  sparsity: number;
  /** `global` ranks all weight matrices together; `per-tensor` prunes each matrix to the same sparsity. */
  scope?: PruneScope;
}

export interface PrunedTensor {
  name: string;
  weights: number;
  zeros: number;
}

export interface PruneStats {
  scope: PruneScope;
  requestedSparsity: number;
  /** Elements of all floating-point initializers, biases included. */
  parameters: number;
  nonZeroBefore: number;
  nonZeroAfter: number;
  /** Zero fraction of the weight matrices only: what the request asked for. */
  weightSparsity: number;
  /** Zero fraction over all parameters. */
  sparsity: number;
  tensors: PrunedTensor[];
}

/**
 * Magnitude pruning: zeroes the smallest-|w| entries of each weight matrix (see
 * `weightMatrices`) and returns a new model plus what changed. Weights that are already zero
 * count toward the target, so pruning a pruned model again does not compound.
 */
export function prune(model: ModelProto, options: PruneOptions): { model: ModelProto; stats: PruneStats } {
  const { sparsity } = options;
  const scope = options.scope ?? 'global';
  if (!(sparsity >= 0 && sparsity < 1)) throw new Error(`sparsity must be in [0, 1), got ${sparsity}`);
  const pruned = structuredClone(model);
  const before = countParameters(pruned);
  const matrices = weightMatrices(pruned).map((tensor) => ({ tensor, values: readValues(tensor) }));
  if (matrices.length === 0)
    throw new Error('model has no weight matrices (Gemm, MatMul or Conv initializers)');

  if (scope === 'global') {
    const threshold = magnitudeThreshold(
      matrices.map((m) => m.values),
      sparsity,
    );
    let tiesToZero = threshold.tiesToZero;
    for (const { values } of matrices) tiesToZero = zeroBelow(values, threshold.magnitude, tiesToZero);
  } else {
    for (const { values } of matrices) {
      const threshold = magnitudeThreshold([values], sparsity);
      zeroBelow(values, threshold.magnitude, threshold.tiesToZero);
    }
  }

  for (const { tensor, values } of matrices) writeValues(tensor, values);
  const after = countParameters(pruned);
  const tensors = matrices.map(({ tensor, values }) => ({
    name: tensor.name ?? '',
    weights: values.length,
    zeros: values.length - countNonZero(values),
  }));
  const weights = tensors.reduce((sum, t) => sum + t.weights, 0);
  const zeros = tensors.reduce((sum, t) => sum + t.zeros, 0);
  return {
    model: pruned,
    stats: {
      scope,
      requestedSparsity: sparsity,
      parameters: after.parameters,
      nonZeroBefore: before.nonZeroParameters,
      nonZeroAfter: after.nonZeroParameters,
      weightSparsity: zeros / weights,
      sparsity: after.sparsity,
      tensors,
    },
  };
}

/**
 * The magnitude at or below which weights are zeroed, and how many weights exactly at that
 * magnitude still have to go so the count is exact even when many weights tie.
 */
function magnitudeThreshold(
  groups: Float64Array[],
  sparsity: number,
): { magnitude: number; tiesToZero: number } {
  const total = groups.reduce((sum, g) => sum + g.length, 0);
  const toZero = Math.round(sparsity * total);
  if (toZero === 0) return { magnitude: -1, tiesToZero: 0 };
  const magnitudes = new Float64Array(total);
  let offset = 0;
  for (const group of groups) for (const w of group) magnitudes[offset++] = Math.abs(w);
  magnitudes.sort();
  const magnitude = magnitudes[toZero - 1] ?? 0;
  let below = 0;
  while (below < toZero && (magnitudes[below] ?? 0) < magnitude) below++;
  return { magnitude, tiesToZero: toZero - below };
}

function zeroBelow(values: Float64Array, magnitude: number, tiesToZero: number): number {
  for (let i = 0; i < values.length; i++) {
    const m = Math.abs(values[i] ?? 0);
    if (m < magnitude) values[i] = 0;
    else if (m === magnitude && tiesToZero > 0) {
      values[i] = 0;
      tiesToZero--;
    }
  }
  return tiesToZero;
}
