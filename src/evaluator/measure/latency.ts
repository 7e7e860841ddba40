import { checkDeadline } from '../deadline.js';
import { cycleRows, type RunnableModel } from './model.js';

export interface LatencyOptions {
  /** Timed requests (default 200). */
  requests?: number;
  /** Untimed requests first, so lazy allocations and caches do not count (default 20). */
  warmup?: number;
  /** The evaluation's deadline, checked before every request. */
  deadline?: AbortSignal | undefined;
}

/**
 * One request of one row at a time, each awaited before the next: the latency a single caller
 * sees. Returns every sample in milliseconds, in request order.
 */
export async function measureLatency(
  model: RunnableModel,
  features: Float32Array,
  rows: number,
  options: LatencyOptions = {},
): Promise<number[]> {
  const requests = options.requests ?? 200;
  const warmup = options.warmup ?? 20;
  if (rows === 0) throw new Error('latency: no rows to send');
  const inTime = () => {
    if (options.deadline) checkDeadline(options.deadline, (why) => `${why} while measuring latency`);
  };
  for (let i = 0; i < warmup; i++) {
    inTime();
    await model.predict(cycleRows(features, rows, i, 1), 1);
  }
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) {
    inTime();
    const request = cycleRows(features, rows, i, 1);
    const start = process.hrtime.bigint();
    await model.predict(request, 1);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}
