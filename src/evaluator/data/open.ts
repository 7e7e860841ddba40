import type { DataFormat } from '../../api/v1alpha1/sources.js';
import { EgressRefusedError } from '../../security/egress.js';
import { openSource, type SourceOptions } from '../sources/index.js';
import { formatFor } from './formats.js';
import type { RecordBatch } from './table.js';

export interface OpenTableOptions extends SourceOptions {
  /** What errors call the table before its URI, e.g. "current data". */
  label?: string;
  /** Overrides the format the file name implies. */
  format?: DataFormat;
  /** Rows per batch (default 4096). */
  batchSize?: number;
  /** Read only these columns; each must exist, or reading fails naming it. */
  columns?: string[];
}

export const defaultBatchSize = 4096;

/**
 * Streams a table from any supported URI and format as columnar batches. Fails, naming the URI
 * (after `label`), when the file has no rows or lacks a requested column, and when its source
 * stalls (see `SourceTimeouts`).
 */
export async function* openTable(uri: string, options: OpenTableOptions = {}): AsyncGenerator<RecordBatch> {
  try {
    yield* readTable(uri, options);
  } catch (error) {
    if (options.label === undefined) throw error;
    const Failure = error instanceof EgressRefusedError ? EgressRefusedError : Error;
    throw new Failure(`${options.label} ${(error as Error).message}`, { cause: error });
  }
}

async function* readTable(uri: string, options: OpenTableOptions): AsyncGenerator<RecordBatch> {
  const format = formatFor(uri, options.format);
  const batchSize = options.batchSize ?? defaultBatchSize;
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`${uri}: batch size must be a positive integer`);
  const source = openSource(uri, undefined, options);
  let rows = 0;
  for await (const batch of format.read(source, {
    batchSize,
    ...(options.columns ? { columns: options.columns } : {}),
  })) {
    if (batch.rows === 0) continue;
    if (rows === 0) checkColumns(uri, batch, options.columns ?? []);
    rows += batch.rows;
    yield batch;
  }
  if (rows === 0) throw new Error(`${uri}: empty file (no rows)`);
}

function checkColumns(uri: string, batch: RecordBatch, wanted: string[]): void {
  const present = Object.keys(batch.columns);
  for (const name of wanted) {
    if (!(name in batch.columns)) {
      throw new Error(
        `${uri}: column '${name}' not found; the file has columns ${present.map((p) => `'${p}'`).join(', ')}`,
      );
    }
  }
}
