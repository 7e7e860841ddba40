/**
 * spec.live at grading time: each metric's canary and baseline series over the window, read from
 * Prometheus and graded (grade.ts). Never throws: a metric whose series cannot be read is
 * Inconclusive with the reason, which holds a rollout and never rolls it back.
 */
import type { Live, LiveMetric } from '../api/v1alpha1/live.js';
import { parseInterval } from '../api/v1alpha1/schedule.js';
import type { LiveMetricResult } from '../api/v1alpha1/status.js';
import type { EgressPolicy } from '../security/egress.js';
import { gradeLive, unreadLive } from './grade.js';
import { PrometheusClient, type PrometheusCredentials, type Range } from './prometheus.js';

export interface EvaluateLiveOptions {
  /** Waits between attempts of one query (prometheus.ts's default: 0.5 s, 1 s). */
  retryDelaysMs?: readonly number[];
}

export async function evaluateLive(
  live: Live,
  credentials: PrometheusCredentials | undefined,
  policy: EgressPolicy,
  now: Date,
  options: EvaluateLiveOptions = {},
): Promise<LiveMetricResult[]> {
  const prometheus = new PrometheusClient(
    {
      ...live.prometheus,
      credentials,
      ...(options.retryDelaysMs && { retryDelaysMs: options.retryDelaysMs }),
    },
    policy,
  );
  const end = now.getTime() / 1000;
  const range: Range = {
    start: end - parseInterval(live.window) / 1000,
    end,
    stepSeconds: parseInterval(live.step) / 1000,
  };
  const settings = { window: live.window, minSamples: live.minSamples, confidence: live.confidence };
  // All at once: when Prometheus is out of reach, the retries of every query wait together.
  return Promise.all(
    live.metrics.map(async (metric: LiveMetric) => {
      // Settled, not raced: no request of this grading is still running once it returns.
      const [canary, baseline] = await Promise.allSettled([
        prometheus.queryRange(metric.canary, range, `${metric.name} canary query`),
        metric.baseline === undefined
          ? undefined
          : prometheus.queryRange(metric.baseline, range, `${metric.name} baseline query`),
      ]);
      const failed = [canary, baseline].find((outcome) => outcome.status === 'rejected');
      if (failed) return unreadLive(metric, (failed.reason as Error).message);
      const points = (outcome: PromiseSettledResult<number[] | undefined>) =>
        (outcome as PromiseFulfilledResult<number[]>).value;
      try {
        return gradeLive(
          metric,
          metric.baseline === undefined
            ? { canary: points(canary) }
            : { canary: points(canary), baseline: points(baseline) },
          settings,
        );
      } catch (error) {
        return unreadLive(metric, `${metric.name}: ${(error as Error).message}`);
      }
    }),
  );
}
