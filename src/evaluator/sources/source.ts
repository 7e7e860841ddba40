import type { S3Options } from '../../api/v1alpha1/object-storage.js';

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

/**
 * How long a source may keep the evaluator waiting. Without limits an https server that accepts
 * the connection and never answers (or a PVC whose NFS server is gone) hangs an evaluation until
 * something outside kills it, and says nothing about which source it was.
 */
export interface SourceTimeouts {
  /** Until a connection is up (name lookup, TCP and TLS handshake), or a file is opened. */
  connectMs: number;
  /**
   * Each wait for bytes: for the response once connected, for every further chunk of it, for every
   * read of a file. Only time spent waiting counts: while the evaluator is busy with the bytes it
   * has, the source is not on the clock.
   */
  idleMs: number;
}

/**
 * 10 s to connect: a reachable host answers a SYN in milliseconds and a TLS handshake in well under
 * a second even across regions, and 10 s still rides out three lost SYNs (retried after 1, 3 and
 * 7 s); the operating system alone would wait about two minutes. 30 s without a byte: object
 * stores start a response in milliseconds, a busy server or a Range read from cold storage in a
 * few seconds, and a stalled source then fails in under a minute instead of at the end of
 * runtime.timeoutSeconds. The overall deadline of every read is that of the evaluation,
 * runtime.timeoutSeconds (see `../deadline.ts`): a source that keeps bytes trickling is stopped
 * there. Not configurable; docs/evaluator.md, "Timeouts".
 */
export const defaultSourceTimeouts: SourceTimeouts = { connectMs: 10_000, idleMs: 30_000 };

export interface SourceOptions {
  /** The evaluation's deadline: when it aborts, a read in progress fails naming the source. */
  deadline?: AbortSignal;
  /** Shorter limits, for tests; the defaults otherwise. */
  timeouts?: Partial<SourceTimeouts>;
  /** The evaluation's spec.s3: where s3:// sources are fetched from (AWS, anonymous, without it). */
  s3?: S3Options | undefined;
}

export function sourceTimeouts(options: SourceOptions): SourceTimeouts {
  return { ...defaultSourceTimeouts, ...options.timeouts };
}

/** "30 s", "0.2 s": how limits appear in messages. */
export function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/** The whole content at once; for models, which onnxruntime needs in one buffer anyway. */
export async function readAll(source: Source): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source.stream()) chunks.push(chunk);
  return Buffer.concat(chunks);
}
