import { readFile, writeFile } from 'node:fs/promises';

import { ModelProtoType } from './schema.js';

/** onnx.TensorProto.DataType values pruneguard handles. */
export const TensorDataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;

/** onnx.AttributeProto.AttributeType values used by the graphs pruneguard writes. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name?: string;
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int64Data?: number[];
  doubleData?: number[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  t?: TensorProto;
}

export interface NodeProto {
  name?: string;
  opType: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: AttributeProto[];
}

export interface Dimension {
  dimValue?: number;
  dimParam?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: Dimension[] } } };
}

export interface GraphProto {
  name?: string;
  node?: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

export interface ModelProto {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph?: GraphProto;
  opsetImport?: { domain?: string; version: number }[];
  metadataProps?: { key: string; value: string }[];
}

/** Decodes ONNX bytes; `where` names the source in the error (a path or URI). */
export function decodeModel(bytes: Uint8Array, where = 'model'): ModelProto {
  let message;
  try {
    message = ModelProtoType.decode(bytes);
  } catch (error) {
    throw new Error(`${where}: not a valid ONNX model (${(error as Error).message})`, { cause: error });
  }
  const model = ModelProtoType.toObject(message, { longs: Number, defaults: false }) as ModelProto;
  if (!model.graph) throw new Error(`${where}: not a valid ONNX model (no graph)`);
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

export async function loadModel(path: string): Promise<ModelProto> {
  return decodeModel(await readFile(path), path);
}

export async function saveModel(model: ModelProto, path: string): Promise<void> {
  await writeFile(path, encodeModel(model));
}
