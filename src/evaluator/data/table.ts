import { TextColumnBuilder, type TextColumn } from '../../metrics/text-column.js';
import type { Source } from '../sources/source.js';

/** A column of a batch: numbers (missing → NaN) or text codes (missing → ''). */
export type Column = Float64Array | TextColumn;

/** A slice of a table, column by column, as every format reader yields it. */
export interface RecordBatch {
  rows: number;
  columns: Record<string, Column>;
}

export interface ReadOptions {
  /** Rows per batch; a batch is shorter at the end of the file or of a Parquet row group / Arrow record batch. */
  batchSize: number;
  /** Only these columns are decoded, where the format allows; all columns when absent. */
  columns?: string[];
}

/**
 * One file format. Each implementation lives in its own file and is listed in `formats.ts` under
 * its name in src/api/v1alpha1/sources.ts, which also holds the file name endings that select it.
 */
export interface TableFormat {
  read(source: Source, options: ReadOptions): AsyncIterable<RecordBatch>;
}

/**
 * Builds a column from parsed values: numeric when every present value is a number, boolean,
 * bigint or Date (as epoch milliseconds), text otherwise. `fromText` also reads numeric strings
 * (CSV cells) as numbers. Missing values: NaN in numeric columns, '' in text columns.
 */
export function toColumn(values: unknown[], fromText = false): Column {
  const numbers = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const number = asNumber(values[i], fromText);
    if (number === undefined) return asTextColumn(values);
    numbers[i] = number;
  }
  return numbers;
}

/** Values as text, missing ones (NaN, null, '') as ''. */
export function asTextColumn(values: ArrayLike<unknown>): TextColumn {
  const builder = new TextColumnBuilder(values.length);
  for (let i = 0; i < values.length; i++) builder.push(isMissing(values[i]) ? '' : String(values[i]));
  return builder.finish();
}

/**
 * Cells that spreadsheets and R/pandas write for a missing number. They read as NaN only while
 * the rest of the column is numeric; in a text column they stay text ("NA" may be a region).
 */
const missingMarkers = new Set(['na', 'nan', 'null', 'n/a', 'none']);

function asNumber(value: unknown, fromText: boolean): number | undefined {
  if (isMissing(value)) return NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  if (fromText && typeof value === 'string') {
    if (missingMarkers.has(value.trim().toLowerCase())) return NaN;
    const number = Number(value);
    return value.trim() !== '' && Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

function isMissing(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    value === '' ||
    (typeof value === 'number' && Number.isNaN(value))
  );
}

/** Collects row objects into columnar batches of `batchSize`. */
export class RowBatcher {
  private rows: Record<string, unknown>[] = [];
  private names = new Set<string>();

  constructor(
    private readonly options: ReadOptions,
    private readonly fromText = false,
  ) {}

  add(row: Record<string, unknown>): RecordBatch | undefined {
    this.rows.push(row);
    for (const name of Object.keys(row)) this.names.add(name);
    return this.rows.length >= this.options.batchSize ? this.flush() : undefined;
  }

  flush(): RecordBatch | undefined {
    if (this.rows.length === 0) return undefined;
    const names = this.options.columns ?? [...this.names];
    const columns: Record<string, Column> = {};
    for (const name of names) {
      if (!this.names.has(name)) continue;
      columns[name] = toColumn(
        this.rows.map((row) => row[name]),
        this.fromText,
      );
    }
    const batch = { rows: this.rows.length, columns };
    this.rows = [];
    return batch;
  }
}
