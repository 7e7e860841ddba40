/** A running energy reading; `stop` returns what was used since the meter started. */
export interface RunningMeter {
  stop(): Promise<{ joules: number; detail: string }>;
}

export type PowerMethod = 'nvml' | 'rapl' | 'cpu-estimate';
