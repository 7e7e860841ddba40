import type { ThroughputRun } from './batch.js';
import type { MetricOutcome } from './metric-result.js';
import { readCount, readNonNegative, readObject, requireThat } from './state-checks.js';

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

  /** From `state`, checked: counts, and seconds > 0 once there is a run (each run takes time). */
  constructor(state?: ThroughputState, where = 'throughput') {
    if (state === undefined) return;
    const checked = readObject(state, where);
    this.state = {
      runs: readCount(checked.runs, `${where}.runs`),
      inferences: readCount(checked.inferences, `${where}.inferences`),
      seconds: readNonNegative(checked.seconds, `${where}.seconds`),
    };
    const { runs, inferences, seconds } = this.state;
    requireThat(
      runs > 0 ? seconds > 0 : inferences === 0 && seconds === 0,
      `${where}: ${runs} runs with ${inferences} inferences in ${seconds} s`,
    );
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
