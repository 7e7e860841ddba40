import {
  DataType,
  Precision,
  RecordBatchReader,
  type Data,
  type RecordBatch as ArrowBatch,
  type Vector,
} from 'apache-arrow';

import { TextColumnBuilder, type TextColumn } from '../../metrics/text-column.js';
import type { Column, TableFormat } from './table.js';
import { toColumn } from './table.js';

/**
 * Arrow IPC (file or stream format), record batch by record batch as the bytes arrive; a large
 * record batch is cut into `batchSize` slices. Memory is bounded by the writer's record batch size.
 * Dictionary-encoded text keeps its codes (each dictionary entry is decoded once per record
 * batch; a dictionary of numbers reads as numbers), and 8–32-bit integers and 32/64-bit floats are
 * copied as arrays, not read cell by cell.
 */
export const arrow: TableFormat = {
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
      const decoded: Record<string, Column> = {};
      for (const name of columns) {
        const vector = batch.getChild(name) as Vector | null;
        if (vector) decoded[name] = columnOf(vector);
      }
      for (let start = 0; start < batch.numRows; start += options.batchSize) {
        const end = Math.min(batch.numRows, start + options.batchSize);
        const batchColumns: Record<string, Column> = {};
        for (const [name, column] of Object.entries(decoded))
          batchColumns[name] =
            column instanceof Float64Array
              ? column.subarray(start, end)
              : { codes: column.codes.subarray(start, end), values: column.values };
        yield { rows: end - start, columns: batchColumns };
      }
    }
  },
};

function columnOf(vector: Vector): Column {
  const type = vector.type as DataType;
  if (DataType.isDictionary(type) && isText(type.dictionary)) return dictionaryText(vector);
  if (
    (DataType.isFloat(type) && type.precision !== Precision.HALF) ||
    (DataType.isInt(type) && type.bitWidth <= 32)
  )
    return numbers(vector);
  const values = new Array<unknown>(vector.length);
  for (let i = 0; i < vector.length; i++) values[i] = vector.get(i);
  return toColumn(values);
}

function isText(type: DataType): boolean {
  return DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isUtf8View(type);
}

function numbers(vector: Vector): Float64Array {
  const column = Float64Array.from(vector.toArray() as ArrayLike<number>);
  if (vector.nullCount > 0) for (let i = 0; i < column.length; i++) if (!vector.isValid(i)) column[i] = NaN;
  return column;
}

/** Codes straight from the dictionary indices; a dictionary entry no row uses is never decoded. */
function dictionaryText(vector: Vector): TextColumn {
  const builder = new TextColumnBuilder(vector.length);
  for (const data of vector.data as Data[]) {
    const dictionary = data.dictionary as Vector;
    const indices = data.values as ArrayLike<number | bigint>;
    const codeOfIndex = new Int32Array(dictionary.length).fill(-1);
    const missing = data.nullCount > 0;
    for (let i = 0; i < data.length; i++) {
      if (missing && !data.getValid(i)) {
        builder.push('');
        continue;
      }
      const index = Number(indices[i]);
      let code = codeOfIndex[index]!;
      if (code < 0) {
        const value = dictionary.get(index) as unknown;
        code = builder.code(value === null || value === undefined ? '' : String(value));
        codeOfIndex[index] = code;
      }
      builder.pushCode(code);
    }
  }
  return builder.finish();
}
