import { RecordBatchReader, type RecordBatch as ArrowBatch, type Vector } from 'apache-arrow';

import type { Column, TableFormat } from './table.js';
import { toColumn } from './table.js';

/**
 * Arrow IPC (file or stream format), record batch by record batch as the bytes arrive; a large
 * record batch is cut into `batchSize` slices. Memory is bounded by the writer's record batch size.
 */
export const arrow: TableFormat = {
  extensions: ['.arrow', '.feather', '.ipc', '.arrows'],
  async *read(source, options) {
    let reader;
    try {
      reader = await RecordBatchReader.from(source.stream());
      await reader.open();
    } catch (error) {
      throw new Error(`${source.uri}: not a readable Arrow IPC file (${(error as Error).message})`, {
        cause: error,
      });
    }
    const available = reader.schema.fields.map((field) => field.name);
    const columns = (options.columns ?? available).filter((name) => available.includes(name));
    for await (const batch of reader as AsyncIterable<ArrowBatch>) {
      for (let start = 0; start < batch.numRows; start += options.batchSize) {
        const end = Math.min(batch.numRows, start + options.batchSize);
        const batchColumns: Record<string, Column> = {};
        for (const name of columns) {
          const vector = batch.getChild(name) as Vector | null;
          if (vector) batchColumns[name] = toColumn(vectorValues(vector, start, end));
        }
        yield { rows: end - start, columns: batchColumns };
      }
    }
  },
};

function vectorValues(vector: Vector, start: number, end: number): unknown[] {
  const values = new Array<unknown>(end - start);
  for (let i = start; i < end; i++) values[i - start] = vector.get(i);
  return values;
}
