import type { ThroughputRun } from './batch.js';
import type { MetricOutcome } from './metric-result.js';

/**
 * throughputQps = Σ inferences / Σ seconds over all sustained runs (of every shard): the
 * inference-weighted mean rate. Shards run on separate pods, so this is per-pod throughput,
 * not the sum of the pods.
 */
export interface ThroughputState {
  runs: number;
  inferences: number;
  seconds: number;
}

export class ThroughputAccumulator {
  private state: ThroughputState = { runs: 0, inferences: 0, seconds: 0 };

  constructor(state?: ThroughputState) {
    if (state) this.state = { runs: state.runs, inferences: state.inferences, seconds: state.seconds };
  }

  record(run: ThroughputRun): void {
    if (!(run.inferences >= 0) || !(run.seconds > 0))
      throw new Error(
        `throughput run: needs inferences ≥ 0 and seconds > 0, got ${run.inferences} in ${run.seconds} s`,
      );
    this.state.runs++;
    this.state.inferences += run.inferences;
    this.state.seconds += run.seconds;
  }

  merge(other: ThroughputAccumulator): void {
    this.state.runs += other.state.runs;
    this.state.inferences += other.state.inferences;
    this.state.seconds += other.state.seconds;
  }

  result(): MetricOutcome {
    if (this.state.runs === 0) return { disabled: { name: 'throughputQps', reason: 'no throughput runs' } };
    return {
      computed: {
        name: 'throughputQps',
        value: this.state.inferences / this.state.seconds,
        samples: this.state.inferences,
        detail: `${this.state.runs} run(s), ${this.state.seconds.toFixed(1)} s`,
      },
    };
  }

  toJSON(): ThroughputState {
    return { ...this.state };
  }
}
