/**
 * A column of text stored as codes into its distinct values: row i reads `values[codes[i]]`, and
 * a missing cell is the value ''. Text columns in evaluation data (regions, airports, classes,
 * time of day) repeat a few values over millions of rows, so everything done per row (one-hot
 * encoding, category counts, slice and group membership) becomes an integer lookup, and each
 * distinct string is hashed once per batch instead of once per row.
 *
 * `values` holds each string once, but may hold values no row uses (a batch cut from a larger one
 * shares its table): count by code, then skip the codes counted zero times. A table is never
 * changed once its column is built, so it can key a cache.
 */
export interface TextColumn {
  codes: Int32Array;
  values: string[];
}

/** Builds a text column row by row; each distinct value gets the next code. */
export class TextColumnBuilder {
  private readonly codes: Int32Array;
  private readonly values: string[] = [];
  private readonly codeOf = new Map<string, number>();
  private rows = 0;

  constructor(capacity: number) {
    this.codes = new Int32Array(capacity);
  }

  /** The code of `value`, adding it to the table when new. */
  code(value: string): number {
    let code = this.codeOf.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(value);
      this.codeOf.set(value, code);
    }
    return code;
  }

  push(value: string): void {
    this.codes[this.rows++] = this.code(value);
  }

  pushCode(code: number): void {
    this.codes[this.rows++] = code;
  }

  finish(): TextColumn {
    return {
      codes: this.rows === this.codes.length ? this.codes : this.codes.slice(0, this.rows),
      values: this.values,
    };
  }
}

export function textColumn(values: ArrayLike<string>): TextColumn {
  const builder = new TextColumnBuilder(values.length);
  for (let i = 0; i < values.length; i++) builder.push(values[i]!);
  return builder.finish();
}

/** The rows' strings, for code that needs them one by one (tests, error messages). */
export function textValues(column: TextColumn): string[] {
  return Array.from(column.codes, (code) => column.values[code]!);
}

/** How many of the rows (all, or those listed in `indices`) hold each code. */
export function countCodes(column: TextColumn, indices?: Int32Array): Int32Array {
  const counts = new Int32Array(column.values.length);
  const codes = column.codes;
  if (indices === undefined) for (let i = 0; i < codes.length; i++) counts[codes[i]!]!++;
  else for (let j = 0; j < indices.length; j++) counts[codes[indices[j]!]!]!++;
  return counts;
}

/** The rows picked by `rows` (ascending or not), sharing the value table. */
export function pickRows(column: TextColumn, rows: ArrayLike<number>): TextColumn {
  const codes = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) codes[i] = column.codes[rows[i]!]!;
  return { codes, values: column.values };
}
