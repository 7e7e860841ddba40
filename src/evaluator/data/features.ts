import type { TextColumn } from '../../metrics/text-column.js';
import { asTextColumn, type Column, type RecordBatch } from './table.js';

/**
 * A model input column. Numeric features pass through as float32. A categorical feature declares
 * its `categories` (the order the model was trained with) and is encoded as
 * - `one-hot` (default): one input per category, 1 where the value equals it, all 0 for a value
 *   outside the list;
 * - `index`: one input holding the category's position in the list, −1 for a value outside it.
 * Numeric cells of a categorical column are matched by their text (`2` matches category "2").
 */
export interface FeatureSpec {
  name: string;
  categories?: string[];
  encoding?: 'one-hot' | 'index';
}

/** The label: class indices as numbers, or class names mapped through `classes` (unknown → −1). */
export interface LabelSpec {
  name: string;
  classes?: string[];
}

export interface ColumnSelection {
  features: (string | FeatureSpec)[];
  label?: string | LabelSpec;
  sensitiveAttribute?: string;
  slices?: string[];
}

/** One batch ready for inference and metrics. */
export interface EncodedBatch {
  rows: number;
  /** Row-major [rows × width] model input. */
  features: Float32Array;
  width: number;
  /** Class index per row, −1 where the label is missing or not a declared class. */
  labels?: Int32Array;
  sensitive?: TextColumn;
  slices: Record<string, TextColumn>;
}

export function featureSpecs(selection: ColumnSelection): FeatureSpec[] {
  return selection.features.map((feature) => (typeof feature === 'string' ? { name: feature } : feature));
}

/** The model input names in order, with one-hot columns named `column=category`. */
export function encodedFeatureNames(selection: ColumnSelection): string[] {
  return featureSpecs(selection).flatMap((spec) =>
    spec.categories && (spec.encoding ?? 'one-hot') === 'one-hot'
      ? spec.categories.map((category) => `${spec.name}=${category}`)
      : [spec.name],
  );
}

/** Every column the selection reads, to pass to `openTable` so nothing else is decoded. */
export function selectedColumns(selection: ColumnSelection): string[] {
  const label = typeof selection.label === 'string' ? selection.label : selection.label?.name;
  const names = [
    ...featureSpecs(selection).map((spec) => spec.name),
    ...(label ? [label] : []),
    ...(selection.sensitiveAttribute ? [selection.sensitiveAttribute] : []),
    ...(selection.slices ?? []),
  ];
  return [...new Set(names)];
}

/** Encodes a batch; `uri` names the data in errors. */
export function encodeBatch(batch: RecordBatch, selection: ColumnSelection, uri: string): EncodedBatch {
  const specs = featureSpecs(selection);
  const width = encodedFeatureNames(selection).length;
  const features = new Float32Array(batch.rows * width);
  let offset = 0;
  for (const spec of specs) {
    const column = columnOf(batch, spec.name, uri);
    if (!spec.categories) {
      if (!(column instanceof Float64Array)) throw wrongType(uri, spec.name, 'numbers', column);
      for (let r = 0; r < batch.rows; r++) features[r * width + offset] = column[r] ?? NaN;
      offset++;
      continue;
    }
    const text = asText(column);
    const position = positionsOfCodes(text, spec.categories);
    const codes = text.codes;
    if (spec.encoding === 'index') {
      for (let r = 0; r < batch.rows; r++) features[r * width + offset] = position[codes[r]!]!;
      offset++;
    } else {
      for (let r = 0; r < batch.rows; r++) {
        const p = position[codes[r]!]!;
        if (p >= 0) features[r * width + offset + p] = 1;
      }
      offset += spec.categories.length;
    }
  }

  const encoded: EncodedBatch = { rows: batch.rows, features, width, slices: {} };
  if (selection.label !== undefined) {
    const label = typeof selection.label === 'string' ? { name: selection.label } : selection.label;
    encoded.labels = encodeLabels(columnOf(batch, label.name, uri), batch.rows, label, uri);
  }
  if (selection.sensitiveAttribute)
    encoded.sensitive = asText(columnOf(batch, selection.sensitiveAttribute, uri));
  for (const name of selection.slices ?? []) encoded.slices[name] = asText(columnOf(batch, name, uri));
  return encoded;
}

/**
 * Each code's position in `names`, −1 for a value not in it. Batches cut from one Arrow record
 * batch share a value table, so the lookup is kept per table and list of names.
 */
const positionsByTable = new WeakMap<string[], WeakMap<string[], Int32Array>>();

function positionsOfCodes(text: TextColumn, names: string[]): Int32Array {
  let byNames = positionsByTable.get(text.values);
  if (byNames === undefined) {
    byNames = new WeakMap();
    positionsByTable.set(text.values, byNames);
  }
  let positions = byNames.get(names);
  if (positions === undefined) {
    const position = new Map(names.map((name, i) => [name, i]));
    positions = Int32Array.from(text.values, (value) => position.get(value) ?? -1);
    byNames.set(names, positions);
  }
  return positions;
}

function encodeLabels(column: Column, rows: number, label: LabelSpec, uri: string): Int32Array {
  const labels = new Int32Array(rows);
  if (label.classes) {
    const text = asText(column);
    const position = positionsOfCodes(text, label.classes);
    for (let r = 0; r < rows; r++) labels[r] = position[text.codes[r]!]!;
    return labels;
  }
  if (!(column instanceof Float64Array))
    throw wrongType(uri, label.name, 'class indices (numbers) or declared classes', column);
  for (let r = 0; r < labels.length; r++) {
    const value = column[r] ?? NaN;
    labels[r] = Number.isInteger(value) && value >= 0 ? value : -1;
  }
  return labels;
}

function columnOf(batch: RecordBatch, name: string, uri: string): Column {
  const column = batch.columns[name];
  if (!column) {
    const present = Object.keys(batch.columns)
      .map((p) => `'${p}'`)
      .join(', ');
    throw new Error(`${uri}: column '${name}' not found; the data has columns ${present}`);
  }
  return column;
}

export function asText(column: Column): TextColumn {
  return column instanceof Float64Array ? asTextColumn(column) : column;
}

function wrongType(uri: string, name: string, expected: string, column: TextColumn): Error {
  const example = column.values.find((value) => value !== '' && Number.isNaN(Number(value)));
  return new Error(
    `${uri}: column '${name}' expected ${expected}, found text${example ? ` (e.g. '${example}')` : ''}`,
  );
}
