import ort from 'onnxruntime-node';

import {
  decodeModel,
  encodeModel,
  TensorDataType,
  type ModelProto,
  type ValueInfoProto,
} from '../onnx/model.js';
import { countParameters } from '../onnx/parameters.js';
import { openSource, readAll, type SourceOptions } from './sources/index.js';

export type ModelRole = 'teacher' | 'candidate';
export type ExecutionProvider = 'cpu' | 'cuda';

export interface ModelOptions {
  /** Where to run (default cpu). */
  executionProvider?: ExecutionProvider;
  /** When CUDA cannot start: true runs on CPU and says why, false (default) fails. */
  fallbackToCpu?: boolean;
  /** Threads onnxruntime may use inside one operator (default: onnxruntime's choice). */
  intraOpThreads?: number;
  /** The evaluation's deadline, for reading the model (see `SourceOptions`). */
  deadline?: AbortSignal;
  /** The evaluation's spec.s3, for s3:// models. */
  s3?: SourceOptions['s3'];
}

/** A model's single float input [N, width] and its first output [N, outputs]. */
export interface ModelSignature {
  inputName: string;
  outputName: string;
  /** Columns the input expects; undefined when the model leaves it symbolic. */
  inputWidth: number | undefined;
  outputWidth: number | undefined;
}

export interface ModelStats {
  fileBytes: number;
  parameters: number;
  nonZeroParameters: number;
  sparsity: number;
  /**
   * Resident memory the model costs: the growth of the process RSS across session creation and
   * one warm-up inference (after a GC when node runs with --expose-gc). It includes onnxruntime's
   * arena and the model's copy of its weights; it is noisy for models of a few kilobytes.
   */
  memoryBytes: number;
}

export interface LoadedModel {
  role: ModelRole;
  uri: string;
  signature: ModelSignature;
  /** The provider the session actually runs on. */
  executionProvider: ExecutionProvider;
  /** Why CUDA was requested but CPU runs, when that happened. */
  fallbackReason?: string;
  stats: ModelStats;
  /** The model's metadata_props (e.g. the categories of its one-hot inputs, see encoding.ts). */
  metadata: Record<string, string>;
  /** Row-major [rows × outputWidth] outputs for row-major [rows × width] features. */
  predict(features: Float32Array, rows: number, batchSize?: number): Promise<Float32Array>;
  close(): Promise<void>;
}

const defaultBatchSize = 1024;

/**
 * onnxruntime allocates its process-wide state (thread pools, kernel registry) with the first
 * session. Creating a one-node session first keeps that cost out of whichever model loads first,
 * so teacher and candidate memory compare fairly.
 */
const runtimeReady: Promise<void> = (async () => {
  const identity = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'warm-up',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [
        {
          name: 'x',
          type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
        },
      ],
      output: [
        {
          name: 'y',
          type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
        },
      ],
    },
  });
  const session = await ort.InferenceSession.create(identity);
  await session.run({ x: new ort.Tensor('float32', new Float32Array(1), [1]) });
  await session.release();
})();

export async function openModel(
  uri: string,
  role: ModelRole,
  options: ModelOptions = {},
): Promise<LoadedModel> {
  const where = `${role} model ${uri}`;
  const bytes = await readAll(
    openSource(uri, undefined, { deadline: options.deadline, s3: options.s3 }),
  ).catch((error: Error) => {
    throw new Error(`${role} model ${error.message}`, { cause: error });
  });
  const proto = decodeModel(bytes, where);
  const signature = signatureOf(proto, where);
  const parameters = countParameters(proto);

  await runtimeReady;
  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  const requested = options.executionProvider ?? 'cpu';
  let executionProvider: ExecutionProvider = requested;
  let fallbackReason: string | undefined;
  let session: ort.InferenceSession;
  try {
    session = await createSession(bytes, requested, options);
  } catch (error) {
    if (requested !== 'cuda' || !options.fallbackToCpu) {
      throw new Error(`${where}: onnxruntime cannot load it on ${requested} (${(error as Error).message})`, {
        cause: error,
      });
    }
    fallbackReason = `CUDA execution provider unavailable: ${(error as Error).message}`;
    executionProvider = 'cpu';
    session = await createSession(bytes, 'cpu', options).catch((cpuError: Error) => {
      throw new Error(`${where}: onnxruntime cannot load it (${cpuError.message})`, { cause: cpuError });
    });
  }

  const predict = async (
    features: Float32Array,
    rows: number,
    batchSize = defaultBatchSize,
  ): Promise<Float32Array> => {
    const width = rows === 0 ? 0 : features.length / rows;
    if (signature.inputWidth !== undefined && width !== signature.inputWidth) {
      throw new Error(
        `${where}: input '${signature.inputName}' expects ${signature.inputWidth} columns, data has ${width}`,
      );
    }
    let result: Float32Array | undefined;
    let outputWidth = signature.outputWidth ?? 0;
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const input = new ort.Tensor('float32', features.subarray(start * width, (start + n) * width), [
        n,
        width,
      ]);
      const output = (await session.run({ [signature.inputName]: input }))[signature.outputName];
      if (!output) throw new Error(`${where}: output '${signature.outputName}' missing from the results`);
      const data = output.data as Float32Array;
      if (n === rows) return data; // one call: onnxruntime's own array, no copy
      outputWidth = data.length / n;
      result ??= new Float32Array(rows * outputWidth);
      result.set(data, start * outputWidth);
    }
    return result ?? new Float32Array(0);
  };

  // The warm-up makes the memory figure include onnxruntime's first allocations.
  await predict(new Float32Array(signature.inputWidth ?? 1), 1).catch((error: Error) => {
    throw new Error(`${where}: warm-up inference failed (${error.message})`, { cause: error });
  });
  const memoryBytes = Math.max(0, process.memoryUsage.rss() - rssBefore);

  return {
    role,
    uri,
    signature,
    executionProvider,
    ...(fallbackReason ? { fallbackReason } : {}),
    metadata: Object.fromEntries((proto.metadataProps ?? []).map(({ key, value }) => [key, value])),
    stats: {
      fileBytes: bytes.byteLength,
      parameters: parameters.parameters,
      nonZeroParameters: parameters.nonZeroParameters,
      sparsity: parameters.sparsity,
      memoryBytes,
    },
    predict,
    close: () => session.release(),
  };
}

/**
 * Fails, naming the model, the input and both shapes, unless teacher and candidate take the same
 * input and give the same output, and the data has the width they expect.
 */
export function checkCompatible(teacher: LoadedModel, candidate: LoadedModel, dataWidth: number): void {
  for (const model of [teacher, candidate]) {
    const { inputName, inputWidth } = model.signature;
    if (inputWidth !== undefined && inputWidth !== dataWidth) {
      throw new Error(
        `${model.role} model ${model.uri}: input '${inputName}' expects ${inputWidth} columns [N, ${inputWidth}], data has ${dataWidth} [N, ${dataWidth}]`,
      );
    }
  }
  const t = teacher.signature;
  const c = candidate.signature;
  if (t.inputName !== c.inputName || t.inputWidth !== c.inputWidth) {
    throw new Error(
      `candidate model ${candidate.uri}: input '${c.inputName}' [N, ${c.inputWidth ?? '?'}] does not match the teacher's '${t.inputName}' [N, ${t.inputWidth ?? '?'}]`,
    );
  }
  if (t.outputWidth !== c.outputWidth) {
    throw new Error(
      `candidate model ${candidate.uri}: output '${c.outputName}' has ${c.outputWidth ?? '?'} columns, the teacher's '${t.outputName}' has ${t.outputWidth ?? '?'}`,
    );
  }
}

async function createSession(bytes: Uint8Array, provider: ExecutionProvider, options: ModelOptions) {
  return ort.InferenceSession.create(bytes, {
    executionProviders: [provider],
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
  });
}

function signatureOf(model: ModelProto, where: string): ModelSignature {
  const graph = model.graph ?? {};
  const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
  // Models exported by older tools also list their initializers as graph inputs.
  const inputs = (graph.input ?? []).filter((input) => !initializers.has(input.name));
  const [input] = inputs;
  const [output] = graph.output ?? [];
  if (!input || inputs.length !== 1) {
    throw new Error(
      `${where}: expected one input [N, features], found ${inputs.map((i) => `'${i.name}'`).join(', ') || 'none'}`,
    );
  }
  if (!output) throw new Error(`${where}: the graph has no output`);
  const elemType = input.type?.tensorType?.elemType;
  if (elemType !== TensorDataType.FLOAT) {
    throw new Error(
      `${where}: input '${input.name}' must be float32, found ONNX element type ${elemType ?? 'none'}`,
    );
  }
  return {
    inputName: input.name,
    outputName: output.name,
    inputWidth: secondDimension(input),
    outputWidth: secondDimension(output),
  };
}

function secondDimension(value: ValueInfoProto): number | undefined {
  const dim = value.type?.tensorType?.shape?.dim?.[1];
  return dim?.dimValue && dim.dimValue > 0 ? dim.dimValue : undefined;
}
