import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricResult, PrunedModelEvaluationStatus, Verdict } from '../api/v1alpha1/index.js';
import { verdicts } from '../api/v1alpha1/index.js';

type MetricLabels = { namespace: string; evaluation: string; metric: string; slice: string };
type LiveLabels = { namespace: string; evaluation: string; metric: string };

const gradeValue: Record<string, number> = {
  Pass: 0,
  Warning: 1,
  Critical: 2,
  Inconclusive: 3,
  Disabled: -1,
};

/**
 * The operator's Prometheus metrics. Per-evaluation series are rewritten from status on every
 * reconcile and removed when the evaluation goes, so they never outlive what they describe.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly metricValue = new Gauge({
    name: 'pruneguard_metric_value',
    help: 'Value of a graded metric from the last run (slice="" is overall).',
    labelNames: ['namespace', 'evaluation', 'metric', 'slice'],
    registers: [this.registry],
  });
  private readonly metricGrade = new Gauge({
    name: 'pruneguard_metric_grade',
    help: 'Grade of a metric: 0 pass, 1 warning, 2 critical, 3 inconclusive, -1 not graded.',
    labelNames: ['namespace', 'evaluation', 'metric', 'slice'],
    registers: [this.registry],
  });
  private readonly liveValue = new Gauge({
    name: 'pruneguard_live_metric_value',
    help: 'Window value (median) of a spec.live serving metric at the last grading, per variant (canary, baseline).',
    labelNames: ['namespace', 'evaluation', 'metric', 'variant'],
    registers: [this.registry],
  });
  private readonly liveGrade = new Gauge({
    name: 'pruneguard_live_metric_grade',
    help: 'Grade of a spec.live serving metric, canary against baseline: 0 pass, 1 warning, 2 critical, 3 inconclusive, -1 not graded.',
    labelNames: ['namespace', 'evaluation', 'metric'],
    registers: [this.registry],
  });
  private readonly verdict = new Gauge({
    name: 'pruneguard_verdict',
    help: '1 for the evaluation’s current verdict, 0 for the others.',
    labelNames: ['namespace', 'evaluation', 'verdict'],
    registers: [this.registry],
  });
  readonly runs = new Counter({
    name: 'pruneguard_evaluation_runs_total',
    help: 'Finished evaluation runs by result (Pass, Warning, Critical, Inconclusive, Failed).',
    labelNames: ['namespace', 'evaluation', 'result'],
    registers: [this.registry],
  });
  readonly actions = new Counter({
    name: 'pruneguard_actions_total',
    help: 'Actions taken on targets, by type (dry runs included, labelled).',
    labelNames: ['namespace', 'evaluation', 'type', 'dry_run'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'pruneguard_reconcile_duration_seconds',
    help: 'Time spent in one reconcile, by result.',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'pruneguard_workqueue_depth',
    help: 'Evaluations waiting to be reconciled.',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'pruneguard_leader',
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });

  /** The label sets written per evaluation, so they can be removed exactly. */
  private readonly written = new Map<string, MetricLabels[]>();
  private readonly writtenLive = new Map<string, LiveLabels[]>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'pruneguard_process_' });
  }

  /** Replaces an evaluation's series with what its status says now. */
  observe(namespace: string, evaluation: string, status: PrunedModelEvaluationStatus): void {
    this.forget(namespace, evaluation);
    const written: MetricLabels[] = [];
    this.written.set(`${namespace}/${evaluation}`, written);
    const write = (metrics: readonly MetricResult[], slice: string) => {
      for (const m of metrics) {
        const labels = { namespace, evaluation, metric: m.name, slice };
        written.push(labels);
        this.metricValue.set(labels, m.value);
        this.metricGrade.set(labels, gradeValue[m.grade] ?? -1);
      }
    };
    write(status.metrics ?? [], '');
    for (const slice of status.slices ?? []) write(slice.metrics, slice.slice);
    const live: LiveLabels[] = [];
    this.writtenLive.set(`${namespace}/${evaluation}`, live);
    for (const m of status.live ?? []) {
      const labels = { namespace, evaluation, metric: m.name };
      live.push(labels);
      this.liveGrade.set(labels, m.decides ? gradeValue[m.grade]! : -1);
      for (const [variant, value] of [
        ['canary', m.value],
        ['baseline', m.baseline],
      ] as const)
        if (value !== undefined) this.liveValue.set({ ...labels, variant }, value);
    }
    if (status.verdict) {
      for (const v of verdicts)
        this.verdict.set({ namespace, evaluation, verdict: v }, v === status.verdict ? 1 : 0);
    }
  }

  forget(namespace: string, evaluation: string): void {
    const key = `${namespace}/${evaluation}`;
    for (const labels of this.written.get(key) ?? []) {
      this.metricValue.remove(labels);
      this.metricGrade.remove(labels);
    }
    for (const labels of this.writtenLive.get(key) ?? []) {
      this.liveGrade.remove(labels);
      for (const variant of ['canary', 'baseline']) this.liveValue.remove({ ...labels, variant });
    }
    for (const verdict of verdicts) this.verdict.remove({ namespace, evaluation, verdict });
    this.written.delete(key);
    this.writtenLive.delete(key);
  }

  runFinished(namespace: string, evaluation: string, result: Verdict | 'Failed'): void {
    this.runs.inc({ namespace, evaluation, result });
  }
}
