import { checkDeadline } from '../deadline.js';
import { cycleRows, type RunnableModel } from './model.js';

export interface ThroughputOptions {
  /** Rows per request (default 64). */
  batchSize?: number;
  /** Requests in flight at once (default 1). */
  concurrency?: number;
  /** How long to keep the model busy, in milliseconds (default 2000). */
  durationMs?: number;
  /** The evaluation's deadline, checked before every request. */
  deadline?: AbortSignal | undefined;
}

export interface ThroughputSamples {
  inferences: number;
  requests: number;
  seconds: number;
  batchSize: number;
  concurrency: number;
}

/**
 * Sustained throughput: `concurrency` callers each send `batchSize`-row requests back to back
 * until the time budget is spent; the last requests finish past it and are counted, with their time.
 */
export async function measureThroughput(
  model: RunnableModel,
  features: Float32Array,
  rows: number,
  options: ThroughputOptions = {},
): Promise<ThroughputSamples> {
  const batchSize = options.batchSize ?? 64;
  const concurrency = options.concurrency ?? 1;
  const durationMs = options.durationMs ?? 2000;
  if (rows === 0) throw new Error('throughput: no rows to send');
  // Requests are built before the clock starts so copying rows is not measured.
  const requests = Array.from({ length: concurrency }, (_, c) =>
    cycleRows(features, rows, c * batchSize, batchSize),
  );
  await Promise.all(requests.map((request) => model.predict(request, batchSize, batchSize)));

  let sent = 0;
  const start = process.hrtime.bigint();
  const stopAt = start + BigInt(Math.round(durationMs * 1e6));
  await Promise.all(
    requests.map(async (request) => {
      while (process.hrtime.bigint() < stopAt) {
        if (options.deadline)
          checkDeadline(options.deadline, (why) => `${why} while measuring throughput and power`);
        await model.predict(request, batchSize, batchSize);
        sent++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { inferences: sent * batchSize, requests: sent, seconds, batchSize, concurrency };
}
