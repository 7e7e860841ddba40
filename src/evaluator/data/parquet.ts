import { parquetMetadataAsync, parquetRead, type AsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import type { Source } from '../sources/source.js';
import { toColumn, type Column, type TableFormat } from './table.js';

/**
 * Parquet through hyparquet, one row group at a time: memory is bounded by one row group of the
 * selected columns (vega's 3M-row flights file has 11 groups of ~273k rows), never the whole file.
 * Byte ranges are fetched from the source on demand, so remote files are not downloaded whole.
 */
export const parquet: TableFormat = {
  async *read(source, options) {
    const file = await asyncBuffer(source);
    let metadata;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (error) {
      throw new Error(`${source.uri}: not a readable Parquet file (${(error as Error).message})`, {
        cause: error,
      });
    }
    const available = metadata.schema.slice(1).map((element) => element.name);
    const columns = (options.columns ?? available).filter((name) => available.includes(name));
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      const values: Record<string, unknown[]> = {};
      for (const name of columns) values[name] = new Array<unknown>(groupRows);
      await parquetRead({
        file,
        metadata,
        compressors,
        columns,
        rowStart: groupStart,
        rowEnd: groupStart + groupRows,
        onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
          const target = values[columnName];
          if (!target) return;
          for (
            let row = Math.max(rowStart, groupStart);
            row < Math.min(rowEnd, groupStart + groupRows);
            row++
          ) {
            target[row - groupStart] = columnData[row - rowStart];
          }
        },
      });
      for (let start = 0; start < groupRows; start += options.batchSize) {
        const end = Math.min(groupRows, start + options.batchSize);
        const batchColumns: Record<string, Column> = {};
        for (const name of columns) batchColumns[name] = toColumn((values[name] ?? []).slice(start, end));
        yield { rows: end - start, columns: batchColumns };
      }
      groupStart += groupRows;
    }
  },
};

async function asyncBuffer(source: Source): Promise<AsyncBuffer> {
  const byteLength = await source.size();
  return {
    byteLength,
    async slice(start: number, end?: number) {
      const bytes = await source.read(start, end ?? byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}
