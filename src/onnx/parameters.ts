import { TensorDataType, type ModelProto, type TensorProto } from './model.js';
import { readValues } from './tensors.js';

export interface ParameterCount {
  /** Elements of all floating-point initializers (weights, biases, baked-in constants). */
  parameters: number;
  nonZeroParameters: number;
  /** 1 − nonZero / parameters. */
  sparsity: number;
}

const floatingPoint = new Set<number>([TensorDataType.FLOAT, TensorDataType.DOUBLE]);

/** Integer initializers (shapes, axes) are not learned parameters, so they are not counted. */
export function countParameters(model: ModelProto): ParameterCount {
  let parameters = 0;
  let nonZeroParameters = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    if (!floatingPoint.has(tensor.dataType ?? 0)) continue;
    const values = readValues(tensor);
    parameters += values.length;
    nonZeroParameters += countNonZero(values);
  }
  return {
    parameters,
    nonZeroParameters,
    sparsity: parameters === 0 ? 0 : 1 - nonZeroParameters / parameters,
  };
}

export function countNonZero(values: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  return count;
}

/**
 * Weight matrices are the initializers fed as the weight input (index 1) of Gemm, MatMul or Conv
 * with two or more dimensions; biases, normalization constants and shapes are not.
 */
export function weightMatrices(model: ModelProto): TensorProto[] {
  const weightNames = new Set<string>();
  for (const node of model.graph?.node ?? []) {
    if (['Gemm', 'MatMul', 'Conv'].includes(node.opType) && node.input?.[1]) weightNames.add(node.input[1]);
  }
  return (model.graph?.initializer ?? []).filter(
    (tensor) =>
      weightNames.has(tensor.name ?? '') &&
      (tensor.dims?.length ?? 0) >= 2 &&
      floatingPoint.has(tensor.dataType ?? 0),
  );
}
