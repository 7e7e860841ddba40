/**
 * How the spec's columns become model inputs. A PrunedModelEvaluation names its features and
 * label, but a one-hot input also needs its categories in the order the model was trained with,
 * and a text label needs its class names in the order of the model's outputs. Those belong to
 * the model, so they travel inside it, as ONNX metadata_props:
 *
 *   pruneguard.categories.<feature>  JSON array of the feature's categories, e.g. ["Biscoe","Dream"]
 *   pruneguard.encoding.<feature>    "one-hot" (default) or "index"
 *   pruneguard.classes               JSON array of class names, one per output column
 *
 * When the teacher does not declare them, they are learned from the whole reference file in a
 * first pass (never from one shard's rows, so every shard encodes alike): the distinct values in
 * sorted (code-unit) order, one-hot. docs/evaluator.md describes the rules.
 */
import type { DataFormat, PrunedModelEvaluationSpec } from '../api/v1alpha1/index.js';
import { countCodes } from '../metrics/text-column.js';
import {
  asText,
  encodedFeatureNames,
  openTable,
  type ColumnSelection,
  type FeatureSpec,
  type RecordBatch,
} from './data/index.js';
import type { LoadedModel } from './models.js';

const categoriesPrefix = 'pruneguard.categories.';
const encodingPrefix = 'pruneguard.encoding.';
export const classesKey = 'pruneguard.classes';

/** The metadata_props that declare a selection's categories and classes (written by model exporters). */
export function modelMetadata(selection: ColumnSelection): { key: string; value: string }[] {
  const props: { key: string; value: string }[] = [];
  for (const feature of selection.features) {
    if (typeof feature === 'string' || !feature.categories) continue;
    props.push({ key: categoriesPrefix + feature.name, value: JSON.stringify(feature.categories) });
    if (feature.encoding) props.push({ key: encodingPrefix + feature.name, value: feature.encoding });
  }
  if (typeof selection.label === 'object' && selection.label.classes)
    props.push({ key: classesKey, value: JSON.stringify(selection.label.classes) });
  return props;
}

interface Declared {
  features: Map<string, FeatureSpec>;
  classes?: string[];
}

function declaredBy(model: LoadedModel): Declared {
  const where = `${model.role} model ${model.uri}`;
  const features = new Map<string, FeatureSpec>();
  for (const [key, value] of Object.entries(model.metadata)) {
    if (!key.startsWith(categoriesPrefix)) continue;
    const name = key.slice(categoriesPrefix.length);
    const encoding = model.metadata[encodingPrefix + name] ?? 'one-hot';
    if (encoding !== 'one-hot' && encoding !== 'index')
      throw new Error(
        `${where}: metadata ${encodingPrefix}${name} is '${encoding}', expected one-hot or index`,
      );
    features.set(name, { name, categories: stringList(value, `${where}: metadata ${key}`), encoding });
  }
  const classes = model.metadata[classesKey];
  return {
    features,
    ...(classes === undefined ? {} : { classes: stringList(classes, `${where}: metadata ${classesKey}`) }),
  };
}

function stringList(json: string, where: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(`${where} is not JSON: ${json.slice(0, 80)}`);
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string'))
    throw new Error(`${where} must be a non-empty JSON array of strings, got ${json.slice(0, 80)}`);
  return value;
}

export interface DataEncoding {
  /** What `encodeBatch` reads: features with their categories, the label with its classes when text. */
  selection: ColumnSelection;
  /** Features graded by category (PSI per category) and handed to the metrics as text. */
  categorical: Set<string>;
  /** Class names per output column, when the label is text. */
  classes?: string[];
  /** spec.data.positiveClass as a class index. */
  positiveClass?: number;
  /** Where each categorical feature's categories came from. */
  origins: Record<string, 'model' | 'reference'>;
  /** Where the class names came from, when the label is text. */
  classesOrigin?: 'model' | 'reference';
  /** Categorical inputs the models declare that data.features leaves out (a likely width mismatch). */
  unlisted: string[];
}

/**
 * The encoding every shard of a run uses. The candidate may repeat the teacher's declarations
 * but must not contradict them: the two models are compared on the same inputs.
 */
export async function resolveEncoding(
  spec: PrunedModelEvaluationSpec,
  teacher: LoadedModel,
  candidate: LoadedModel,
  deadline?: AbortSignal,
): Promise<DataEncoding> {
  const declared = declaredBy(teacher);
  const candidateDeclared = declaredBy(candidate);
  for (const [name, feature] of candidateDeclared.features) {
    const teachers = declared.features.get(name);
    if (teachers && JSON.stringify(teachers) !== JSON.stringify(feature))
      throw new Error(
        `candidate model ${candidate.uri}: categories of '${name}' ${JSON.stringify(feature.categories)} differ from the teacher's ${JSON.stringify(teachers.categories)} (input [N, ${candidate.signature.inputWidth ?? '?'}], the teacher's [N, ${teacher.signature.inputWidth ?? '?'}])`,
      );
    if (!teachers) declared.features.set(name, feature);
  }
  if (candidateDeclared.classes) {
    if (declared.classes && JSON.stringify(declared.classes) !== JSON.stringify(candidateDeclared.classes))
      throw new Error(
        `candidate model ${candidate.uri}: classes ${JSON.stringify(candidateDeclared.classes)} differ from the teacher's ${JSON.stringify(declared.classes)}`,
      );
    declared.classes ??= candidateDeclared.classes;
  }

  const { data } = spec;
  const categorical = new Set(data.categoricalFeatures ?? []);
  for (const name of data.features) if (declared.features.has(name)) categorical.add(name);
  const origins: DataEncoding['origins'] = {};
  const toLearn = [...categorical].filter((name) => !declared.features.has(name));
  const reference = (columns: string[]) =>
    openTable(data.reference.uri, {
      columns,
      label: 'reference data',
      deadline,
      s3: spec.s3,
      ...formatOption(data.format),
    });
  const labelIsText =
    data.label !== undefined && spec.task === 'classification' && (await firstIsText(reference, data.label));
  const learnClasses = labelIsText && declared.classes === undefined;
  const learned = await distinctValues(reference, [
    ...toLearn,
    ...(learnClasses && data.label ? [data.label] : []),
  ]);

  const features = data.features.map((name): FeatureSpec | string => {
    if (!categorical.has(name)) return name;
    const model = declared.features.get(name);
    origins[name] = model ? 'model' : 'reference';
    return model ?? { name, categories: learned.get(name) ?? [], encoding: 'one-hot' };
  });
  let classes: string[] | undefined;
  let classesOrigin: DataEncoding['classesOrigin'];
  if (labelIsText && data.label) {
    classes = declared.classes ?? learned.get(data.label) ?? [];
    classesOrigin = declared.classes ? 'model' : 'reference';
    const outputs = teacher.signature.outputWidth;
    if (outputs !== undefined && outputs !== classes.length)
      throw new Error(
        `teacher model ${teacher.uri}: output '${teacher.signature.outputName}' has ${outputs} columns, but label '${data.label}' has ${classes.length} classes ${JSON.stringify(classes.slice(0, 10))}${declared.classes ? ` (metadata ${classesKey})` : ` learned from ${data.reference.uri}; declare them in the model's metadata ${classesKey}`}`,
      );
  }

  const selection: ColumnSelection = {
    features,
    ...(data.label ? { label: classes ? { name: data.label, classes } : data.label } : {}),
    ...(data.sensitiveAttribute ? { sensitiveAttribute: data.sensitiveAttribute } : {}),
    slices: data.slices,
  };
  const unlisted = [...declared.features.keys()].filter((name) => !data.features.includes(name));
  const encoding: DataEncoding = { selection, categorical, origins, unlisted };
  if (classes) encoding.classes = classes;
  if (classesOrigin) encoding.classesOrigin = classesOrigin;
  if (data.positiveClass !== undefined)
    encoding.positiveClass = positiveClassIndex(data.positiveClass, classes, teacher);
  return encoding;
}

function positiveClassIndex(
  positiveClass: string,
  classes: string[] | undefined,
  teacher: LoadedModel,
): number {
  if (classes) {
    const index = classes.indexOf(positiveClass);
    if (index < 0)
      throw new Error(
        `data.positiveClass '${positiveClass}' is not one of the classes ${JSON.stringify(classes)}`,
      );
    return index;
  }
  const index = Number(positiveClass);
  const outputs = teacher.signature.outputWidth;
  if (!Number.isInteger(index) || index < 0 || (outputs !== undefined && outputs > 1 && index >= outputs))
    throw new Error(
      `data.positiveClass '${positiveClass}': the label is numeric, so it must be a class index below ${outputs ?? 'the number of outputs'}`,
    );
  return index;
}

/** Whether the column's first batch is text (labels named by class) rather than numbers. */
async function firstIsText(
  read: (columns: string[]) => AsyncGenerator<RecordBatch>,
  column: string,
): Promise<boolean> {
  for await (const batch of read([column])) return !(batch.columns[column] instanceof Float64Array);
  return false;
}

async function distinctValues(
  read: (columns: string[]) => AsyncGenerator<RecordBatch>,
  columns: string[],
): Promise<Map<string, string[]>> {
  const seen = new Map(columns.map((name) => [name, new Set<string>()]));
  if (columns.length === 0) return new Map();
  for await (const batch of read(columns)) {
    for (const name of columns) {
      const values = seen.get(name)!;
      const text = asText(batch.columns[name]!);
      const counts = countCodes(text);
      text.values.forEach((value, code) => {
        if (value !== '' && counts[code]! > 0) values.add(value);
      });
    }
  }
  return new Map([...seen].map(([name, values]) => [name, [...values].sort()]));
}

export function formatOption(format: DataFormat | undefined): { format?: DataFormat } {
  return format ? { format } : {};
}

/** Model input width of an encoding. */
export function inputWidth(encoding: DataEncoding): number {
  return encodedFeatureNames(encoding.selection).length;
}
