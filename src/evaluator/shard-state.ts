import { gunzipSync, gzipSync } from 'node:zlib';
import { EvaluationAccumulator } from '../metrics/index.js';

/**
 * How an accumulator travels in EvaluationRun.status.shards[].state: gzip-compressed JSON in
 * base64. A full state for 20 features and a dozen slices is ~100 KB of JSON; compressed it lets
 * 32 shards fit in one object well under etcd's 1.5 MiB request limit.
 */
export interface EncodedShardState {
  encoding: 'gzip+base64';
  data: string;
}

export function encodeShardState(accumulator: EvaluationAccumulator): EncodedShardState {
  return { encoding: 'gzip+base64', data: gzipSync(JSON.stringify(accumulator.toJSON())).toString('base64') };
}

export function decodeShardState(state: unknown): EvaluationAccumulator {
  const encoded = state as Partial<EncodedShardState> | undefined;
  if (encoded?.encoding !== 'gzip+base64' || typeof encoded.data !== 'string') {
    throw new Error(`shard state has encoding ${JSON.stringify(encoded?.encoding)}, expected "gzip+base64"`);
  }
  return EvaluationAccumulator.fromJSON(
    JSON.parse(gunzipSync(Buffer.from(encoded.data, 'base64')).toString('utf8')),
  );
}
