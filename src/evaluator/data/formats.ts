import { dataFormats, formatOfPath, type DataFormat } from '../../api/v1alpha1/sources.js';
import { arrow } from './arrow.js';
import { csv } from './csv.js';
import { jsonArray } from './json.js';
import { jsonLines } from './jsonl.js';
import { parquet } from './parquet.js';
import type { TableFormat } from './table.js';

/**
 * One reader per data format by the name a spec uses (src/api/v1alpha1/sources.ts, with the file
 * extensions); the Record type keeps the two lists equal. A format is a line there, a file here and
 * a line below.
 */
export const formats: Record<DataFormat, TableFormat> = {
  csv,
  jsonl: jsonLines,
  json: jsonArray,
  parquet,
  arrow,
};

export function formatFor(uri: string, name?: string): TableFormat {
  if (name !== undefined) {
    const format = Object.hasOwn(formats, name) ? formats[name as DataFormat] : undefined;
    if (!format) throw new Error(`${uri}: unknown format '${name}' (use ${dataFormats.join(', ')})`);
    return format;
  }
  const found = formatOfPath(uri);
  if (!found) {
    throw new Error(
      `${uri}: cannot tell the format from the file name; set format to one of ${dataFormats.join(', ')}`,
    );
  }
  return formats[found];
}
