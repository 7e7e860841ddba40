import { setTimeout as sleep } from 'node:timers/promises';

import type { EnergyMethod } from '../../../metrics/index.js';
import type { Reading } from './window.js';

/** One spelling of each method in code (the state's); the status spells them NVML, RAPL, Estimate. */
export type PowerMethod = EnergyMethod;

/**
 * A meter sampling while it runs: `stop` ends the sampling and returns every reading, cumulative
 * joules on the `performance.now()` clock in seconds, the first at the start and the last at the stop.
 */
export interface RunningMeter {
  /**
   * How long one reading lags the power it reports: a reading that is an average over the last
   * second (nvidia-smi's `power.draw`) still carries what came before for that long. The ramp
   * and the settling before the idle window are lengthened by it.
   */
  lagSeconds: number;
  stop(): Promise<{ readings: Reading[]; detail: string }>;
}

/** The clock every reading and window is on, in seconds. */
export function now(): number {
  return performance.now() / 1000;
}

/**
 * Calls `read` every `intervalMs`, one read at a time, until stopped, and once more at the stop.
 * A read that fails is skipped: the readings around it still bound the energy.
 */
export function poll<T>(intervalMs: number, read: () => Promise<T>, onReading: (value: T) => void) {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal: stopping.signal });
        onReading(await read());
      } catch {
        // aborted, or one unreadable sample
      }
    }
  })();
  return {
    async stop(): Promise<void> {
      stopping.abort();
      await loop;
      onReading(await read());
    },
  };
}
