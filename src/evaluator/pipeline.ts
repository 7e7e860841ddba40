/**
 * One shard of an evaluation: teacher and candidate over the shard's rows of the reference and
 * the current data, in batches of runtime.batchSize, every metric in one pass with bounded memory,
 * then latency, throughput, power and memory on this shard's hardware. The result is a mergeable
 * accumulator: `pruneguard evaluate` grades it directly, the evaluation pod writes it to its
 * EvaluationRun for the controller to merge with the other shards.
 */
import type { PowerMethod, PrunedModelEvaluationSpec } from '../api/v1alpha1/index.js';
import type { EvaluationAccumulator, EvaluationBatch } from '../metrics/index.js';
import type { DatasetRole, Screening } from '../metrics/batch.js';
import type { TextColumn } from '../metrics/text-column.js';
import type { Logger } from '../telemetry/logger.js';
import { checkDeadline, evaluationDeadline } from './deadline.js';
import { asText, encodeBatch, openTable, selectedColumns, type RecordBatch } from './data/index.js';
import { formatOption, inputWidth, resolveEncoding, type DataEncoding } from './encoding.js';
import {
  budgetFromEnvironment,
  recordMemory,
  recordPerformance,
  type MeasurementBudget,
} from './measurements.js';
import { MetricThread } from './metric-thread.js';
import {
  addScreening,
  describeMissing,
  emptyScreening,
  screenBatch,
  screeningPlan,
  type ScreeningPlan,
} from './missing-values.js';
import { shardEvaluationOptions } from './shard-state.js';
import { checkCompatible, openModel, type LoadedModel } from './models.js';
import { checkShard, globalRow, shardRows } from './shard.js';

export interface Progress {
  phase: 'loading' | DatasetRole | 'measuring';
  /** Rows of this shard evaluated so far in the phase's dataset. */
  rows: number;
}

export interface ShardOptions {
  shardIndex: number;
  shardCount: number;
  onProgress?: (progress: Progress) => void;
  log?: Logger;
  /** Latency/throughput budget; PRUNEGUARD_MEASUREMENT=quick or the full one by default. */
  measurement?: MeasurementBudget;
  /**
   * Aborts when the evaluation's time is up (`evaluationDeadline`); by default runtime.timeoutSeconds
   * from this call. Every read, the data loop and the measurements stop on it.
   */
  deadline?: AbortSignal;
}

export interface ShardResult {
  accumulator: EvaluationAccumulator;
  /** The onnxruntime execution provider that ran, as the status names it. */
  executionProvider: 'CPUExecutionProvider' | 'CUDAExecutionProvider';
  powerMethod: PowerMethod;
  /** This shard's rows per dataset. */
  rows: { reference: number; current: number };
}

/** Rows kept for latency and throughput requests: enough variety, bounded memory. */
const measurementRows = 1024;

/**
 * Rows read, encoded and handed to the metrics at a time. Inference runs runtime.batchSize rows
 * per call whatever this is, but the reader's, the encoder's and the metric engine's costs per
 * batch are paid once per read: up to 64k rows, as long as their encoded features stay within
 * 8 MiB (a model with wide inputs reads fewer), and never fewer than runtime.batchSize.
 */
export function rowsPerRead(batchSize: number, width: number): number {
  const withinBudget = Math.floor((8 << 20) / (4 * Math.max(width, 1)));
  return Math.max(batchSize, Math.min(65_536, withinBudget));
}

export async function evaluateShard(
  spec: PrunedModelEvaluationSpec,
  options: ShardOptions,
): Promise<ShardResult> {
  const shard = { index: options.shardIndex, count: options.shardCount };
  checkShard(shard);
  const progress = options.onProgress ?? (() => {});
  const deadline = options.deadline ?? evaluationDeadline(spec.runtime.timeoutSeconds);
  progress({ phase: 'loading', rows: 0 });
  const threads = Number(process.env.PRUNEGUARD_INTRA_OP_THREADS);
  const modelOptions = {
    executionProvider: spec.runtime.accelerator === 'nvidia.com/gpu' ? ('cuda' as const) : ('cpu' as const),
    fallbackToCpu: spec.runtime.executionProviderFallback === 'cpu',
    // onnxruntime sizes its pool by the node's cores, not the pod's CPU limit; this caps it.
    ...(Number.isInteger(threads) && threads > 0 ? { intraOpThreads: threads } : {}),
    deadline,
    s3: spec.s3,
  };
  const teacher = await openModel(spec.teacher.uri, 'teacher', modelOptions);
  let candidate: LoadedModel | undefined;
  try {
    candidate = await openModel(spec.candidate.uri, 'candidate', modelOptions);
    for (const model of [teacher, candidate])
      if (model.fallbackReason)
        options.log?.warn({ model: model.uri }, `running on CPU: ${model.fallbackReason}`);
    checkDeadline(deadline, (why) => `${why} while loading the models`);
    const encoding = await resolveEncoding(spec, teacher, candidate, deadline);
    options.log?.debug(
      { categories: encoding.origins, classes: encoding.classesOrigin },
      'where categories and classes came from',
    );
    checkEncodedWidth(teacher, candidate, encoding);
    const plan = screeningPlan(spec.data.missingValues, encoding, teacher, candidate);

    const metrics = await MetricThread.start(shardEvaluationOptions(spec, encoding.positiveClass));
    let accumulator: EvaluationAccumulator;
    const sample: Sample = { features: new Float32Array(0), rows: 0 };
    const rows = { reference: 0, current: 0 };
    const screened = { reference: emptyScreening(), current: emptyScreening() };
    const models = { teacher, candidate };
    let outputWidth: number | undefined;
    try {
      for (const dataset of ['reference', 'current'] as const) {
        progress({ phase: dataset, rows: 0 });
        // Counts of rows that reached no batch yet (all rejected) ride with the next one.
        let unsent = emptyScreening();
        for await (const read of screenedBatches(spec, dataset, encoding, plan, shard, deadline)) {
          addScreening(screened[dataset], read.screening);
          addScreening(unsent, read.screening);
          const batch = read.batch;
          if (batch.rows > 0) {
            const evaluated = await evaluateBatch(batch, dataset, models, encoding, spec);
            evaluated.batch.screening = unsent;
            unsent = emptyScreening();
            outputWidth = evaluated.batch.outputWidth;
            keepSample(sample, evaluated.features, batch.rows, dataset);
            await metrics.update(evaluated.batch);
            rows[dataset] += batch.rows;
          }
          progress({ phase: dataset, rows: rows[dataset] });
          checkDeadline(
            deadline,
            (why) => `${dataset} data ${spec.data[dataset].uri}: ${why} after ${rows[dataset]} rows`,
          );
        }
        if (unsent.rowsRead > 0) {
          outputWidth ??= await outputWidthOf(teacher, inputWidth(encoding));
          await metrics.update(screeningOnly(dataset, unsent, outputWidth, spec));
        }
        reportMissing(screened[dataset], `${dataset} data ${spec.data[dataset].uri}`, plan, options.log);
      }
      accumulator = await metrics.finish();
    } finally {
      await metrics.close();
    }
    if (sample.rows === 0) {
      const { reference, current } = screened;
      if (reference.rowsRejected + current.rowsRejected > 0)
        throw new Error(
          `shard ${shard.index} of ${shard.count}: every row has a missing or invalid feature value and was rejected (spec.data.missingValues.policy reject): reference data ${spec.data.reference.uri} ${reference.rowsRejected} rows (${describeMissing(reference)}), current data ${spec.data.current.uri} ${current.rowsRejected} rows (${describeMissing(current)})`,
        );
      throw new Error(
        `shard ${shard.index} of ${shard.count} has no rows: ${spec.data.reference.uri} and ${spec.data.current.uri} hold fewer rows than there are shards`,
      );
    }

    progress({ phase: 'measuring', rows: rows.current });
    const memoryBasis = recordMemory(accumulator, teacher, candidate);
    const performance = await recordPerformance(accumulator, models, sample, {
      batchSize: spec.runtime.batchSize,
      budget: options.measurement ?? budgetFromEnvironment(),
      deadline,
    });
    options.log?.info(
      { shard: shard.index, shards: shard.count, rows, memoryBasis, power: performance.powerDetail },
      'shard evaluated',
    );
    return {
      accumulator,
      executionProvider:
        candidate.executionProvider === 'cuda' ? 'CUDAExecutionProvider' : 'CPUExecutionProvider',
      powerMethod: performance.powerMethod,
      rows,
    };
  } finally {
    await Promise.allSettled([teacher.close(), candidate?.close()]);
  }
}

/** checkCompatible, with a hint when the width rests on guessed categories or leaves out declared inputs. */
function checkEncodedWidth(teacher: LoadedModel, candidate: LoadedModel, encoding: DataEncoding): void {
  try {
    checkCompatible(teacher, candidate, inputWidth(encoding));
  } catch (error) {
    const quoted = (names: string[]) => names.map((name) => `'${name}'`).join(', ');
    const learned = Object.entries(encoding.origins)
      .filter(([, origin]) => origin === 'reference')
      .map(([name]) => name);
    const hints = [
      ...(encoding.unlisted.length > 0
        ? [
            `the models declare categorical input(s) ${quoted(encoding.unlisted)} that data.features does not list`,
          ]
        : []),
      ...(learned.length > 0
        ? [
            `the categories of ${quoted(learned)} were learned from the reference data; declare the model's own in its metadata_props pruneguard.categories.<feature>`,
          ]
        : []),
    ];
    if (hints.length === 0) throw error;
    throw new Error(`${(error as Error).message} (${hints.join('; ')})`, { cause: error });
  }
}

/**
 * The shard's rows of one dataset in batches of about rowsPerRead: the file is read in batches
 * `count` times larger, so each shard's share is about that many rows.
 */
async function* screenedBatches(
  spec: PrunedModelEvaluationSpec,
  dataset: DatasetRole,
  encoding: DataEncoding,
  plan: ScreeningPlan,
  shard: { index: number; count: number },
  deadline: AbortSignal,
): AsyncGenerator<{ batch: RecordBatch; screening: Screening }> {
  let offset = 0;
  const uri = spec.data[dataset].uri;
  for await (const batch of openTable(uri, {
    label: `${dataset} data`,
    deadline,
    s3: spec.s3,
    batchSize: rowsPerRead(spec.runtime.batchSize, inputWidth(encoding)) * shard.count,
    columns: selectedColumns(encoding.selection),
    ...formatOption(spec.data.format),
  })) {
    const mine = shardRows(batch, offset, shard);
    const at = offset;
    offset += batch.rows;
    if (mine.rows > 0)
      yield screenBatch(mine, plan, {
        data: `${dataset} data ${uri}`,
        rowOf: (row) => globalRow(row, at, shard),
      });
  }
}

/**
 * A batch of no rows that carries screening counts to the metrics: the rows read since the last
 * batch sent were all rejected. Its slice columns are there (empty) for the slice crosses.
 */
function screeningOnly(
  dataset: DatasetRole,
  screening: Screening,
  outputWidth: number,
  spec: PrunedModelEvaluationSpec,
): EvaluationBatch {
  const empty = (): TextColumn => ({ codes: new Int32Array(0), values: [] });
  return {
    dataset,
    rows: 0,
    numericFeatures: {},
    categoricalFeatures: {},
    teacherScores: new Float32Array(0),
    candidateScores: new Float32Array(0),
    outputWidth,
    slices: Object.fromEntries(spec.data.slices.map((name) => [name, empty()])),
    screening,
  };
}

/** Scores per row: from the model's declared output shape, or from one row of zeros. */
async function outputWidthOf(teacher: LoadedModel, width: number): Promise<number> {
  return teacher.signature.outputWidth ?? (await teacher.predict(new Float32Array(width), 1)).length;
}

/** One warning per dataset with missing values: which features, how many, what was done. */
function reportMissing(
  screening: Screening,
  data: string,
  plan: ScreeningPlan,
  log: Logger | undefined,
): void {
  const missing = describeMissing(screening);
  if (missing === '') return;
  const done =
    plan.policy === 'reject'
      ? `${screening.rowsRejected} of ${screening.rowsRead} rows rejected`
      : `imputed from the models' metadata in ${screening.rowsRead} rows read`;
  log?.warn(
    {
      rowsRead: screening.rowsRead,
      rowsRejected: screening.rowsRejected,
      missing: screening.missingByFeature,
    },
    `${data}: missing or invalid feature values (${missing}); ${done} (spec.data.missingValues.policy ${plan.policy})`,
  );
}

async function evaluateBatch(
  batch: RecordBatch,
  dataset: DatasetRole,
  models: { teacher: LoadedModel; candidate: LoadedModel },
  encoding: DataEncoding,
  spec: PrunedModelEvaluationSpec,
): Promise<{ batch: EvaluationBatch; features: Float32Array }> {
  const uri = spec.data[dataset].uri;
  const encoded = encodeBatch(batch, encoding.selection, uri);
  const [teacherScores, candidateScores] = await Promise.all([
    models.teacher.predict(encoded.features, encoded.rows, spec.runtime.batchSize),
    models.candidate.predict(encoded.features, encoded.rows, spec.runtime.batchSize),
  ]);
  const numericFeatures: Record<string, Float64Array> = {};
  const categoricalFeatures: Record<string, TextColumn> = {};
  for (const name of spec.data.features) {
    const column = batch.columns[name]!;
    if (encoding.categorical.has(name)) categoricalFeatures[name] = asText(column);
    else if (column instanceof Float64Array) numericFeatures[name] = column;
  }
  const evaluation: EvaluationBatch = {
    dataset,
    rows: encoded.rows,
    numericFeatures,
    categoricalFeatures,
    teacherScores,
    candidateScores,
    outputWidth: teacherScores.length / encoded.rows,
    slices: encoded.slices,
  };
  const labels = labelsOf(batch, encoded.labels, spec, uri);
  if (labels) evaluation.labels = labels;
  if (encoded.sensitive) evaluation.sensitive = encoded.sensitive;
  return { batch: evaluation, features: encoded.features };
}

/** Class indices (−1 = missing or unknown) become NaN, the metrics' mark of an unlabelled row; regression reads values. */
function labelsOf(
  batch: RecordBatch,
  classes: Int32Array | undefined,
  spec: PrunedModelEvaluationSpec,
  uri: string,
): Float64Array | undefined {
  const label = spec.data.label;
  if (label === undefined) return undefined;
  if (spec.task === 'regression') {
    const column = batch.columns[label]!;
    if (!(column instanceof Float64Array))
      throw new Error(`${uri}: label '${label}' must be numeric for task regression`);
    return column;
  }
  if (!classes) return undefined;
  const labels = new Float64Array(classes.length);
  for (let i = 0; i < classes.length; i++) labels[i] = classes[i]! < 0 ? NaN : classes[i]!;
  return labels;
}

interface Sample {
  features: Float32Array;
  rows: number;
  fromReference?: boolean;
}

/** The first rows of the current data (reference rows until there are some) drive the measurements. */
function keepSample(sample: Sample, features: Float32Array, rows: number, dataset: DatasetRole): void {
  if (rows === 0) return;
  const fromCurrent = dataset === 'current';
  if (sample.rows > 0 && !(fromCurrent && sample.fromReference)) return;
  const take = Math.min(rows, measurementRows);
  const width = features.length / rows;
  sample.features = features.slice(0, take * width);
  sample.rows = take;
  sample.fromReference = !fromCurrent;
}
