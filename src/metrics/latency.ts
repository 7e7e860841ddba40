import type { LatencySamples } from './batch.js';
import { quantileRankInterval } from './intervals.js';
import type { MetricOutcome } from './metric-result.js';
import { QuantileSketch, type QuantileSketchState } from './quantile-sketch.js';
import { readObject, requireThat, type MemoryBudget } from './state-checks.js';

/**
 * Latency quantiles per model from a DDSketch (relative error α, default 1%). p95LatencyMs is the
 * candidate's p95; its interval is the distribution-free order-statistic interval: the values at
 * the ranks ⌊np − z√(np(1−p))⌋ − 1 and ⌈np + z√(np(1−p))⌉ (0-based, clamped), read from the same
 * sketch.
 */
export interface LatencyState {
  candidate: QuantileSketchState;
  teacher: QuantileSketchState;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export interface LatencyDetails {
  relativeAccuracy: number;
  candidate?: LatencySummary;
  teacher?: LatencySummary;
}

export class LatencyAccumulator {
  readonly candidate: QuantileSketch;
  readonly teacher: QuantileSketch;

  /** From `state`: sketches with `relativeAccuracy`, of samples that are all ≥ 0 (as `record` takes them). */
  constructor(
    relativeAccuracy: number,
    private readonly confidence: number,
    state?: LatencyState,
    where = 'latency',
    budget?: MemoryBudget,
  ) {
    if (state === undefined) {
      this.candidate = new QuantileSketch(relativeAccuracy, budget);
      this.teacher = new QuantileSketch(relativeAccuracy, budget);
      return;
    }
    const checked = readObject(state, where);
    const sketch = (model: 'candidate' | 'teacher') => {
      const at = `${where}.${model}`;
      const read = QuantileSketch.fromJSON(checked[model], at, relativeAccuracy, budget);
      requireThat(
        read.missing === 0,
        `${at} has ${read.missing} missing samples; latency samples are numbers`,
      );
      requireThat(read.count === 0 || read.min >= 0, `${at}.min is ${read.min}; latency samples are ≥ 0`);
      return read;
    };
    this.candidate = sketch('candidate');
    this.teacher = sketch('teacher');
  }

  record({ model, milliseconds }: LatencySamples): void {
    for (let i = 0; i < milliseconds.length; i++) {
      const value = milliseconds[i]!;
      if (!(value >= 0)) throw new Error(`${model} latency sample ${i} is ${value} ms; samples must be ≥ 0`);
    }
    (model === 'candidate' ? this.candidate : this.teacher).addAll(milliseconds);
  }

  merge(other: LatencyAccumulator): void {
    this.candidate.merge(other.candidate);
    this.teacher.merge(other.teacher);
  }

  result(): MetricOutcome {
    const sketch = this.candidate;
    if (sketch.count === 0)
      return { disabled: { name: 'p95LatencyMs', reason: 'no candidate latency samples' } };
    const ranks = quantileRankInterval(0.95, sketch.count, this.confidence);
    return {
      computed: {
        name: 'p95LatencyMs',
        value: sketch.quantile(0.95),
        samples: sketch.count,
        interval: {
          lower: sketch.valueAtRank(ranks.lower),
          upper: sketch.valueAtRank(ranks.upper),
          confidence: this.confidence,
          method: 'order-statistic',
        },
      },
    };
  }

  details(): LatencyDetails {
    const details: LatencyDetails = { relativeAccuracy: this.candidate.relativeAccuracy };
    if (this.candidate.count > 0) details.candidate = summarize(this.candidate);
    if (this.teacher.count > 0) details.teacher = summarize(this.teacher);
    return details;
  }

  toJSON(): LatencyState {
    return { candidate: this.candidate.toJSON(), teacher: this.teacher.toJSON() };
  }
}

function summarize(sketch: QuantileSketch): LatencySummary {
  return {
    samples: sketch.count,
    p50: sketch.quantile(0.5),
    p95: sketch.quantile(0.95),
    p99: sketch.quantile(0.99),
    mean: sketch.sum / sketch.count,
    min: sketch.min,
    max: sketch.max,
  };
}
