/**
 * Where bytes come from: a model or data URI resolved to something that can be streamed from the
 * start or read at random offsets (Parquet footers and row groups). Every error names `uri`.
 */
export interface Source {
  /** The URI as the user wrote it, for error messages. */
  readonly uri: string;
  size(): Promise<number>;
  /** The whole content, in chunks, without holding it all in memory. */
  stream(): AsyncIterable<Uint8Array>;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** The whole content at once; for models, which onnxruntime needs in one buffer anyway. */
export async function readAll(source: Source): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source.stream()) chunks.push(chunk);
  return Buffer.concat(chunks);
}
