export * from './model.js';
export { countParameters, countNonZero, weightMatrices, type ParameterCount } from './parameters.js';
export { prune, type PruneOptions, type PruneScope, type PruneStats, type PrunedTensor } from './prune.js';
export { elementCount, readValues, writeValues } from './tensors.js';
