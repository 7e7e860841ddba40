/**
 * Missing and invalid feature values, before the models see a row. A model given NaN still
 * answers (often the class at index 0), and that answer would count in accuracy and fairness
 * like any other; so every feature cell is screened, counted per feature, and handled by
 * spec.data.missingValues.policy:
 *
 * - reject: a row with any missing or invalid feature reaches neither the models nor the row
 *   metrics; the counts reach missingValueIncrease (src/metrics/missing-value-increase.ts);
 * - impute: the value the model declares replaces it, as ONNX metadata_props beside its
 *   categories (encoding.ts): `pruneguard.impute.<feature>`, a JSON number for a numeric feature,
 *   a JSON string (one of its categories) for a categorical one;
 * - fail: the first such cell fails the run, naming the data, the feature and the row.
 *
 * Missing or invalid: for a numeric feature an empty cell, null, NaN, ±Infinity or text that is
 * not a number; for a categorical feature an empty cell or null (the readers give both as '').
 * A value outside a feature's categories is not missing: it is one-hot encoded as all zeros.
 */
import type { MissingValues } from '../api/v1alpha1/index.js';
import type { Screening } from '../metrics/batch.js';
import { TextColumnBuilder, type TextColumn } from '../metrics/text-column.js';
import { asText, featureSpecs, type Column, type RecordBatch } from './data/index.js';
import type { DataEncoding } from './encoding.js';
import type { LoadedModel } from './models.js';
import { takeRows } from './shard.js';

export const imputePrefix = 'pruneguard.impute.';

/** How one evaluation screens its rows: the features by kind, and what replaces a missing value. */
export interface ScreeningPlan {
  policy: MissingValues['policy'];
  /** Features passed to the models as numbers. */
  numeric: string[];
  categorical: string[];
  /** With policy impute: every feature's value. */
  imputations: Map<string, number | string>;
}

/**
 * The plan for `encoding`'s features. With policy impute, every feature must have its value
 * declared by the teacher (or by the candidate where the teacher declares none; they must not
 * contradict each other), whether or not today's data lacks any: a run should not pass or fail by
 * which cells happen to be empty.
 */
export function screeningPlan(
  missingValues: MissingValues,
  encoding: DataEncoding,
  teacher: LoadedModel,
  candidate: LoadedModel,
): ScreeningPlan {
  const specs = featureSpecs(encoding.selection);
  const plan: ScreeningPlan = {
    policy: missingValues.policy,
    numeric: specs.filter((spec) => !encoding.categorical.has(spec.name)).map((spec) => spec.name),
    categorical: specs.filter((spec) => encoding.categorical.has(spec.name)).map((spec) => spec.name),
    imputations: new Map(),
  };
  if (plan.policy !== 'impute') return plan;
  const undeclared: string[] = [];
  for (const spec of specs) {
    const key = imputePrefix + spec.name;
    const teachers = teacher.metadata[key];
    const candidates = candidate.metadata[key];
    if (teachers !== undefined && candidates !== undefined && teachers !== candidates)
      throw new Error(
        `candidate model ${candidate.uri}: metadata ${key} is ${candidates.slice(0, 80)}, the teacher's is ${teachers.slice(0, 80)}; the two models must see the same inputs`,
      );
    const declared = teachers ?? candidates;
    if (declared === undefined) {
      undeclared.push(spec.name);
      continue;
    }
    const model = teachers !== undefined ? teacher : candidate;
    plan.imputations.set(
      spec.name,
      imputedValue(declared, spec.categories, `${model.role} model ${model.uri}: metadata ${key}`),
    );
  }
  if (undeclared.length > 0)
    throw new Error(
      `spec.data.missingValues.policy is impute, but teacher model ${teacher.uri} declares no value for ${undeclared.map((name) => `'${name}'`).join(', ')}: set its metadata_props ${undeclared
        .map(
          (name) =>
            `${imputePrefix}${name} (${encoding.categorical.has(name) ? 'a JSON string, one of its categories' : 'a JSON number'})`,
        )
        .join(', ')}`,
    );
  return plan;
}

function imputedValue(json: string, categories: string[] | undefined, where: string): number | string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  if (categories === undefined) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`${where} is ${json.slice(0, 80)}, expected a JSON number (the feature is numeric)`);
    return value;
  }
  if (typeof value !== 'string')
    throw new Error(
      `${where} is ${json.slice(0, 80)}, expected a JSON string such as ${JSON.stringify(categories[0] ?? 'value')} (the feature is categorical)`,
    );
  if (!categories.includes(value))
    throw new Error(
      `${where} is ${json}, not one of the feature's categories ${JSON.stringify(categories.slice(0, 10))}`,
    );
  return value;
}

/** Where a batch came from, for the message of policy fail. */
export interface BatchOrigin {
  /** `current data file:///…/current.jsonl` */
  data: string;
  /** The row's index in the file (0-based, data rows only) from its index in the batch. */
  rowOf: (row: number) => number;
}

/**
 * The batch as the models may see it (rows with missing values dropped or filled in, numeric
 * features as numbers), and what screening it found.
 */
export function screenBatch(
  batch: RecordBatch,
  plan: ScreeningPlan,
  origin: BatchOrigin,
): { batch: RecordBatch; screening: Screening } {
  const rows = batch.rows;
  const columns = { ...batch.columns };
  const missingByFeature: Record<string, number> = {};
  const flagged = new Uint8Array(rows);
  const found = (feature: string, missing: Uint8Array, describe: (row: number) => string) => {
    let count = 0;
    for (let r = 0; r < rows; r++) {
      if (missing[r] === 0) continue;
      if (plan.policy === 'fail')
        throw new Error(
          `${origin.data}: row ${origin.rowOf(r) + 1} (counting data rows from 1), feature '${feature}' is ${describe(r)} (spec.data.missingValues.policy is fail)`,
        );
      count++;
      flagged[r] = 1;
    }
    missingByFeature[feature] = count;
  };

  for (const feature of plan.numeric) {
    const column = columns[feature];
    const numbers = column && numbersOf(column, rows);
    // No such column, or one of text: encodeBatch's error names the data and the column.
    if (numbers === undefined) continue;
    const { values, missing, original } = numbers;
    found(feature, missing, (r) => describeNumber(values[r]!, original?.(r)));
    if (plan.policy === 'impute') {
      const value = plan.imputations.get(feature) as number;
      for (let r = 0; r < rows; r++) if (missing[r]) values[r] = value;
    }
    columns[feature] = values;
  }
  for (const feature of plan.categorical) {
    const column = columns[feature];
    if (column === undefined) continue;
    const text = asText(column);
    const empty = text.values.indexOf('');
    const missing = new Uint8Array(rows);
    if (empty >= 0) for (let r = 0; r < rows; r++) if (text.codes[r] === empty) missing[r] = 1;
    found(feature, missing, () => 'empty');
    if (plan.policy === 'impute' && empty >= 0)
      columns[feature] = replaceValue(text, empty, plan.imputations.get(feature) as string);
  }

  let rejected = 0;
  for (let r = 0; r < rows; r++) rejected += flagged[r]!;
  const screening = { rowsRead: rows, rowsRejected: 0, missingByFeature };
  const screened = { rows, columns };
  if (plan.policy !== 'reject' || rejected === 0) return { batch: screened, screening };
  const kept: number[] = [];
  for (let r = 0; r < rows; r++) if (flagged[r] === 0) kept.push(r);
  return { batch: takeRows(screened, kept), screening: { ...screening, rowsRejected: rejected } };
}

/**
 * A numeric feature as a fresh array (the reader's may be a view that later batches share), with
 * the rows whose value is missing or invalid. A text column holds some cells that are not
 * numbers (the readers make a column numeric only when every cell of the batch is one): those are
 * invalid, and the rest are read as numbers. A column with no number at all is not a numeric
 * feature, and is left to encodeBatch's error.
 */
function numbersOf(
  column: Column,
  rows: number,
): { values: Float64Array; missing: Uint8Array; original?: (row: number) => string } | undefined {
  const missing = new Uint8Array(rows);
  if (column instanceof Float64Array) {
    const values = Float64Array.from(column);
    for (let r = 0; r < rows; r++) if (!Number.isFinite(values[r]!)) missing[r] = 1;
    return { values, missing };
  }
  const parsed = column.values.map((text) => (text.trim() === '' ? NaN : Number(text)));
  if (!parsed.some((value) => Number.isFinite(value))) return undefined;
  const values = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    values[r] = parsed[column.codes[r]!]!;
    if (!Number.isFinite(values[r]!)) missing[r] = 1;
  }
  return { values, missing, original: (r) => column.values[column.codes[r]!]! };
}

function describeNumber(value: number, text: string | undefined): string {
  if (text !== undefined && text.trim() !== '') return `not a number ('${text.slice(0, 40)}')`;
  if (text !== undefined || Number.isNaN(value)) return 'missing';
  return value > 0 ? 'Infinity' : '-Infinity';
}

/** The column with every row of code `code` reading `value` instead. */
function replaceValue(column: TextColumn, code: number, value: string): TextColumn {
  const builder = new TextColumnBuilder(column.codes.length);
  const codeOf = column.values.map((text, i) => builder.code(i === code ? value : text));
  for (let r = 0; r < column.codes.length; r++) builder.pushCode(codeOf[column.codes[r]!]!);
  return builder.finish();
}

/** Adds `more` into `total`. */
export function addScreening(total: Screening, more: Screening): void {
  total.rowsRead += more.rowsRead;
  total.rowsRejected += more.rowsRejected;
  for (const [feature, missing] of Object.entries(more.missingByFeature))
    total.missingByFeature[feature] = (total.missingByFeature[feature] ?? 0) + missing;
}

export function emptyScreening(): Screening {
  return { rowsRead: 0, rowsRejected: 0, missingByFeature: {} };
}

/** "Flipper Length (mm): 48, Island: 2" for the features with any missing value. */
export function describeMissing(screening: Screening): string {
  return Object.entries(screening.missingByFeature)
    .filter(([, missing]) => missing > 0)
    .map(([feature, missing]) => `${feature}: ${missing}`)
    .join(', ');
}
