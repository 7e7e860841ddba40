import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { maxShardStateBytes, PrunedModelEvaluationSpec, withDefaults } from '../api/v1alpha1/index.js';
import { EvaluationAccumulator } from '../metrics/index.js';
import { byteSize } from '../metrics/memory.js';
import { resolveOptions, type EvaluationOptions } from '../metrics/options.js';
import {
  describeValue,
  maxClasses,
  MemoryBudget,
  quote,
  type StateExpectations,
} from '../metrics/state-checks.js';

/**
 * How an accumulator travels in EvaluationRun.status.shards[].state: gzip-compressed JSON in
 * base64. A full state for 20 features and a dozen slices is ~100 KB of JSON; compressed it lets
 * 32 shards fit in one object well under etcd's 1.5 MiB request limit.
 */
export interface EncodedShardState {
  encoding: 'gzip+base64';
  data: string;
}

/**
 * How much of a shard's state the operator reads at all. A pod writes its state, so a pod decides
 * how much work and memory reading it takes; these caps decide instead.
 */
export interface ShardStateLimits {
  /** The longest `state.data`, in characters of base64. */
  maxEncodedBytes: number;
  /**
   * The most a state may take decompressed, and again as estimated once parsed (see
   * `parsedSize`), and again in sketch bucket arrays; the merged state of all shards too.
   */
  maxDecodedBytes: number;
}

/**
 * Encoded: what the API lets a shard write (the whole EvaluationRun must fit etcd's 1.5 MiB).
 * Decoded: 32 MiB. The largest state the spec's limits allow, measured (256 features; 16 slice
 * columns and 8 crosses of 100 values each, 2,301 of the 2,400 slices possible; 3 classes; a
 * sensitive attribute), is 2.4 MB of JSON, 8 MB as `parsedSize` estimates it (16 MB of heap once
 * read) and 0.52 MB of base64. Only short category names parse into much more than their text:
 * 256 categorical features of 1,000 values each estimate at 41 MB, but take 1.5 MB of base64,
 * past the encoded cap.
 */
export const defaultShardStateLimits: ShardStateLimits = {
  maxEncodedBytes: maxShardStateBytes,
  maxDecodedBytes: 32 * 2 ** 20,
};

/** The operator's flags for the limits; errors name them so that the fix is one flag away. */
export const shardStateLimitFlags = {
  maxEncodedBytes: '--max-shard-state-bytes',
  maxDecodedBytes: '--max-shard-state-decoded-bytes',
} as const satisfies Record<keyof ShardStateLimits, string>;

/** What the API keeps immutable for a shard entry (`digest`), and the operator checks the state against. */
export function stateDigest(data: string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function encodeShardState(accumulator: EvaluationAccumulator): EncodedShardState {
  return { encoding: 'gzip+base64', data: gzipSync(JSON.stringify(accumulator.toJSON())).toString('base64') };
}

/**
 * A shard's accumulator, read within `limits` at every step: the base64 text, what it
 * decompresses to (zlib stops at the cap, so a bomb costs no more), what that would parse into,
 * and the sketch buckets it unpacks. Every accumulator state is then checked, and with `spec`
 * also against what the run's spec asks for: its options, features and slices.
 */
export function decodeShardState(
  state: unknown,
  limits: ShardStateLimits = defaultShardStateLimits,
  spec?: PrunedModelEvaluationSpec,
): EvaluationAccumulator {
  const json = readShardState(state, limits);
  return EvaluationAccumulator.fromJSON(json, {
    ...(spec ? { expected: shardExpectations(spec, json) } : {}),
    budget: new MemoryBudget(limits.maxDecodedBytes, shardStateLimitFlags.maxDecodedBytes),
  });
}

/**
 * The metric options an evaluation pod runs with for `spec`. `positiveClass` is the class index
 * that spec.data.positiveClass names, which only the models' classes resolve (encoding.ts).
 */
export function shardEvaluationOptions(
  spec: PrunedModelEvaluationSpec,
  positiveClass?: number,
): Partial<EvaluationOptions> {
  return {
    task: spec.task,
    sliceCrosses: spec.data.sliceCrosses ?? [],
    maxSliceValues: spec.data.maxSliceValues,
    gridIntensityKgPerKWh: spec.energy.gridIntensityKgPerKWh,
    pue: spec.energy.pue,
    ...(positiveClass === undefined ? {} : { positiveClass }),
  };
}

/** Throws unless `accumulator` as a state stays within what one shard's state may take. */
export function checkStateSize(accumulator: EvaluationAccumulator, limits: ShardStateLimits): void {
  const size = parsedSize(JSON.stringify(accumulator.toJSON()));
  if (size > limits.maxDecodedBytes)
    throw new Error(
      `state would take about ${byteSize(size)}, more than ${byteSize(limits.maxDecodedBytes)} (limit ${shardStateLimitFlags.maxDecodedBytes})`,
    );
}

function readShardState(state: unknown, limits: ShardStateLimits): unknown {
  const encoded = state as Partial<EncodedShardState> | undefined;
  if (encoded?.encoding !== 'gzip+base64' || typeof encoded.data !== 'string')
    throw new Error(`state has encoding ${describeValue(encoded?.encoding)}, expected "gzip+base64"`);
  if (encoded.data.length > limits.maxEncodedBytes)
    throw new Error(
      `state is ${encoded.data.length} characters of base64, more than ${limits.maxEncodedBytes} (limit ${shardStateLimitFlags.maxEncodedBytes})`,
    );
  let decompressed: Buffer;
  try {
    decompressed = gunzipSync(Buffer.from(encoded.data, 'base64'), {
      maxOutputLength: limits.maxDecodedBytes,
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(
        `state decompresses to more than ${byteSize(limits.maxDecodedBytes)} (limit ${shardStateLimitFlags.maxDecodedBytes})`,
      );
    throw new Error(`state is not gzip+base64: ${(error as Error).message}`);
  }
  const text = decompressed.toString('utf8');
  const size = parsedSize(text);
  if (size > limits.maxDecodedBytes)
    throw new Error(
      `state would take about ${byteSize(size)} once parsed, more than ${byteSize(limits.maxDecodedBytes)} (limit ${shardStateLimitFlags.maxDecodedBytes})`,
    );
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`state is not JSON: ${(error as Error).message}`);
  }
}

/**
 * About what JSON.parse allocates for `text`: V8 takes 40–64 bytes per array or object and 8–16
 * per value, so 32 MiB of `[{},{},…]` (a few KB gzipped) would parse into over 700 MB. Brackets
 * and commas inside strings count too; an overestimate is the safe side.
 */
function parsedSize(text: string): number {
  let containers = 0;
  let separators = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x7b || code === 0x5b) containers++;
    else if (code === 0x2c) separators++;
  }
  return text.length + 64 * containers + 16 * separators;
}

/**
 * What `spec` allows a shard's state: the options the pod derives from it, its features and
 * slices. Which class index data.positiveClass names depends on the models' classes, which the
 * operator does not load: the state may name any index then, and must name none otherwise.
 */
function shardExpectations(runSpec: PrunedModelEvaluationSpec, json: unknown): StateExpectations {
  // The pod evaluates the snapshot with its defaults filled in; so does this.
  const spec = withDefaults(PrunedModelEvaluationSpec, runSpec);
  let positiveClass: number | undefined;
  if (spec.data.positiveClass !== undefined) {
    const stated = (json as { options?: { positiveClass?: unknown } } | null)?.options?.positiveClass;
    if (!(typeof stated === 'number' && Number.isInteger(stated) && stated >= 0 && stated < maxClasses))
      throw new Error(
        `options.positiveClass is ${describeValue(stated)}, expected the class index of data.positiveClass ${quote(spec.data.positiveClass)}`,
      );
    positiveClass = stated;
  }
  return {
    options: resolveOptions(shardEvaluationOptions(spec, positiveClass)),
    features: spec.data.features,
    categoricalFeatures: spec.data.categoricalFeatures ?? [],
    sliceColumns: spec.data.slices ?? [],
    sensitiveAttribute: spec.data.sensitiveAttribute !== undefined,
  };
}
