import type { MemoryMeasurement } from './batch.js';
import type { MetricOutcome } from './metric-result.js';
import { readCount, readObject, readOptionalCount, requireThat } from './state-checks.js';

/**
 * memoryRatio = peak candidate bytes / peak teacher bytes (the evaluator measures resident memory,
 * or counts non-zero parameter bytes for models too small to measure). Peaks (max) merge
 * exactly across measurements and shards; file sizes and non-zero parameter counts are kept as
 * reported (the largest seen) for context.
 */
export type MemoryState = Required<{ [K in keyof MemoryMeasurement]: number | null }> & {
  measurements: number;
};

const fields = [
  'candidateBytes',
  'teacherBytes',
  'candidateFileBytes',
  'teacherFileBytes',
  'candidateNonZeroParameters',
  'teacherNonZeroParameters',
] as const;

export class MemoryAccumulator {
  private state: MemoryState = {
    measurements: 0,
    candidateBytes: null,
    teacherBytes: null,
    candidateFileBytes: null,
    teacherFileBytes: null,
    candidateNonZeroParameters: null,
    teacherNonZeroParameters: null,
  };

  /**
   * From `state`, checked: byte and parameter counts are whole numbers or null, and the two peaks
   * the ratio divides are both measured (> 0) exactly when there are measurements.
   */
  constructor(state?: MemoryState, where = 'memory') {
    if (state === undefined) return;
    const checked = readObject(state, where);
    this.state.measurements = readCount(checked.measurements, `${where}.measurements`);
    for (const field of fields) this.state[field] = readOptionalCount(checked[field], `${where}.${field}`);
    const { measurements, candidateBytes, teacherBytes } = this.state;
    if (measurements === 0) {
      for (const field of fields)
        requireThat(this.state[field] === null, `${where}.${field} is set, but there are no measurements`);
    } else {
      requireThat(
        candidateBytes !== null && candidateBytes > 0 && teacherBytes !== null && teacherBytes > 0,
        `${where}: ${measurements} measurements, but candidateBytes ${candidateBytes} and teacherBytes ${teacherBytes} (both must be > 0)`,
      );
    }
  }

  record(measurement: MemoryMeasurement): void {
    if (!(measurement.candidateBytes > 0) || !(measurement.teacherBytes > 0))
      throw new Error(
        `memory measurement: candidate and teacher bytes must be > 0, got ${measurement.candidateBytes} and ${measurement.teacherBytes}`,
      );
    this.state.measurements++;
    for (const field of fields) this.state[field] = larger(this.state[field], measurement[field] ?? null);
  }

  merge(other: MemoryAccumulator): void {
    this.state.measurements += other.state.measurements;
    for (const field of fields) this.state[field] = larger(this.state[field], other.state[field]);
  }

  result(): MetricOutcome {
    const { candidateBytes, teacherBytes, measurements } = this.state;
    if (candidateBytes === null || teacherBytes === null)
      return { disabled: { name: 'memoryRatio', reason: 'no memory measurements' } };
    return {
      computed: {
        name: 'memoryRatio',
        value: candidateBytes / teacherBytes,
        samples: measurements,
        detail: this.describe(),
      },
    };
  }

  /** The evaluator chooses the byte basis (docs/evaluator.md); the parameter counts say what was pruned. */
  private describe(): string {
    const {
      candidateBytes,
      teacherBytes,
      candidateNonZeroParameters: c,
      teacherNonZeroParameters: t,
    } = this.state;
    const parameters = c !== null && t !== null ? `; non-zero parameters ${c} / ${t}` : '';
    return `candidate ${byteSize(candidateBytes!)} / teacher ${byteSize(teacherBytes!)}${parameters}`;
  }

  details(): MemoryState {
    return { ...this.state };
  }

  toJSON(): MemoryState {
    return { ...this.state };
  }
}

function larger(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

export function byteSize(bytes: number): string {
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}
