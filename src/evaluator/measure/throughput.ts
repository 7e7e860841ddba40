import { checkDeadline } from '../deadline.js';
import { cycleRows, type RunnableModel } from './model.js';

export interface ThroughputOptions {
  /** Rows per request (default 64). */
  batchSize?: number;
  /** Requests in flight at once (default 1). */
  concurrency?: number;
  /** How long to keep the model busy, in milliseconds (default 2000), after the ramp. */
  durationMs?: number;
  /**
   * How long the model runs before counting starts (default 0): the device's clocks and power
   * climb for about a second once it is busy, and what is measured should be the steady state.
   */
  rampMs?: number;
  /** The evaluation's deadline, checked before every request. */
  deadline?: AbortSignal | undefined;
}

export interface ThroughputSamples {
  inferences: number;
  requests: number;
  seconds: number;
  batchSize: number;
  concurrency: number;
  /** When counting started and stopped, in seconds on `performance.now()`'s clock. */
  from: number;
  to: number;
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

  // Counted: the requests sent once the ramp is over, over the time from then to the last one's end.
  let sent = 0;
  const countFrom = performance.now() + (options.rampMs ?? 0);
  const stopAt = countFrom + durationMs;
  await Promise.all(
    requests.map(async (request) => {
      while (performance.now() < stopAt) {
        if (options.deadline)
          checkDeadline(options.deadline, (why) => `${why} while measuring throughput and power`);
        const before = performance.now();
        await model.predict(request, batchSize, batchSize);
        if (before >= countFrom) sent++;
      }
    }),
  );
  const to = performance.now();
  return {
    inferences: sent * batchSize,
    requests: sent,
    seconds: (to - countFrom) / 1000,
    batchSize,
    concurrency,
    from: countFrom / 1000,
    to: to / 1000,
  };
}
