import { arrow } from './arrow.js';
import { csv } from './csv.js';
import { jsonArray } from './json.js';
import { jsonLines } from './jsonl.js';
import { parquet } from './parquet.js';
import type { TableFormat } from './table.js';

/** Every supported data format by the name a spec uses; add a format by adding a file and a line. */
export const formats = {
  csv,
  jsonl: jsonLines,
  json: jsonArray,
  parquet,
  arrow,
} satisfies Record<string, TableFormat>;

export type FormatName = keyof typeof formats;

export function formatFor(uri: string, name?: string): TableFormat {
  if (name !== undefined) {
    const format = (formats as Record<string, TableFormat>)[name];
    if (!format) throw new Error(`${uri}: unknown format '${name}' (use ${Object.keys(formats).join(', ')})`);
    return format;
  }
  const path = uri.replace(/[?#].*$/, '').toLowerCase();
  const found = Object.values(formats).find((format) => format.extensions.some((ext) => path.endsWith(ext)));
  if (!found) {
    throw new Error(
      `${uri}: cannot tell the format from the file name; set format to one of ${Object.keys(formats).join(', ')}`,
    );
  }
  return found;
}
