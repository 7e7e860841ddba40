export type { Column, RecordBatch, ReadOptions, TableFormat } from './table.js';
export { formats, formatFor } from './formats.js';
export { openTable, defaultBatchSize, type OpenTableOptions } from './open.js';
export {
  asText,
  encodeBatch,
  encodedFeatureNames,
  featureSpecs,
  selectedColumns,
  type ColumnSelection,
  type EncodedBatch,
  type FeatureSpec,
  type LabelSpec,
} from './features.js';
