import { pickRows } from '../metrics/text-column.js';
import type { Column, RecordBatch } from './data/index.js';

/**
 * The sharding rule: shard i of n takes the rows whose global row index (0-based, in file order,
 * counted separately in the reference and in the current data) is ≡ i (mod n). Every row lands
 * in exactly one shard, shards stay balanced within one row whatever the file's batch layout, and
 * every shard sees every part of the file (no shard gets only last month's rows).
 */
export interface Shard {
  index: number;
  count: number;
}

export function checkShard(shard: Shard): void {
  if (!Number.isInteger(shard.count) || shard.count < 1)
    throw new Error(`shard count must be a positive integer, got ${shard.count}`);
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count)
    throw new Error(`shard index must be an integer in [0, ${shard.count - 1}], got ${shard.index}`);
}

/** The shard's rows of `batch`, whose first row has global index `offset`. */
export function shardRows(batch: RecordBatch, offset: number, shard: Shard): RecordBatch {
  if (shard.count === 1) return batch;
  const first = globalRow(0, offset, shard) - offset;
  const picked: number[] = [];
  for (let row = first; row < batch.rows; row += shard.count) picked.push(row);
  return takeRows(batch, picked);
}

/** The global row index (0-based, in file order) of row `row` of the shard's batch that `shardRows` cut at `offset`. */
export function globalRow(row: number, offset: number, shard: Shard): number {
  const first = (((shard.index - offset) % shard.count) + shard.count) % shard.count;
  return offset + first + row * shard.count;
}

/** The rows `picked` (ascending) of every column of `batch`. */
export function takeRows(batch: RecordBatch, picked: ArrayLike<number>): RecordBatch {
  const columns: Record<string, Column> = {};
  for (const [name, column] of Object.entries(batch.columns)) {
    if (column instanceof Float64Array) {
      const values = new Float64Array(picked.length);
      for (let i = 0; i < picked.length; i++) values[i] = column[picked[i]!]!;
      columns[name] = values;
    } else {
      columns[name] = pickRows(column, picked);
    }
  }
  return { rows: picked.length, columns };
}
